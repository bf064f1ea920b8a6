"""deliverquota runs once per message: what it imports is most of its cost.

A delivery takes about a millisecond; the interpreter's start takes ~8 ms
and, before these modules avoided them, ``dataclasses``, ``typing``,
``socket``, ``re`` and ``contextlib`` added ~20 ms more.  This pins that none
of them comes back on the delivery path (no timing: it looks at which
modules are loaded).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each costs 1-14 ms of start-up (dataclasses imports inspect, ast, dis, ...).
SLOW_MODULES = ("dataclasses", "inspect", "typing", "socket", "re", "contextlib", "collections")


@pytest.mark.parametrize("module", [
    "postillion.tools.deliverquota",
    "postillion.maildir.quota",
    "postillion.maildir.delivery",
])
def test_delivery_path_imports_nothing_slow(module: str) -> None:
    probe = (
        "import sys\n"
        f"before = set(sys.modules)\n"
        f"import {module}\n"
        f"print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    loaded = set(done.stdout.split())
    assert not loaded & set(SLOW_MODULES), (
        f"{module} now imports {sorted(loaded & set(SLOW_MODULES))}: "
        "import them lazily, or only under TYPE_CHECKING"
    )
