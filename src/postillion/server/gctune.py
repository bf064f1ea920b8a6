"""The garbage collector's thresholds for a long-running server process.

CPython starts a young-generation collection every 700 new container
objects and, every tenth and hundredth of those, older ones that walk
everything long-lived.  A server holding the folder cache, message lists
and search facets of a 100,000-message folder has millions of long-lived
objects, and one SORT or THREAD over it makes a million short-lived ones:
with the default thresholds the collector's walks cost more than the
command (measured: THREAD REFERENCES over 100,000 messages 3.3 s with the
defaults, 1.2 s with these; SELECT 1.4 s -> 0.8 s).  Collections still
happen, only less often; reference counting frees everything that is not
in a cycle at once, as always.
"""

from __future__ import annotations

import gc

#: New container objects between young collections, then how many young
#: (and middle) collections between collections of the next generation.
#: The middle one stays small: a middle collection walks everything made
#: since the last, and pauses the whole process while it does (20 made
#: pauses of 0.14 s; 4 keeps them near 0.03 s).
SERVER_THRESHOLDS = (50_000, 4, 500)


def tune_for_server() -> None:
    """Set :data:`SERVER_THRESHOLDS` (call once, at start-up)."""
    gc.set_threshold(*SERVER_THRESHOLDS)
