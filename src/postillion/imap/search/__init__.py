"""SEARCH, SORT and THREAD over a folder's messages (RFC 3501, RFC 5256).

Pure: the session hands in :class:`MessageView` objects for the selected
folder and gets messages (or a thread forest) back; nothing here touches
a socket.  Files are read only through ``MessageView.header_bytes`` and
``full_bytes``, and only when a key needs them.  Keep one
:class:`SearchCache` per selected folder and pass it to every call: header
derived values (search texts, sort keys, threading ids) are then read
once per message, not once per command.

The engine is synchronous and may take seconds on a big folder (SEARCH
TEXT reads every message); an asyncio session runs it in a worker thread.

The names below are imported from their modules on first use (PEP 562),
so that a worker process importing one module of the package (see
:mod:`postillion.imap.filework`) does not import them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .evaluate import Program, search, search_facets
    from .facets import Facet, SearchCache
    from .ordering import (
        SORT_KEYS,
        THREAD_ALGORITHMS,
        UnknownThreadAlgorithm,
        sort,
        sort_facets,
        thread,
        thread_facets,
    )
    from .view import SUPPORTED_CHARSETS, BadCharset, MessageView, check_charset

#: Each public name and the module (of this package) that defines it.
_HOMES = {
    "Program": "evaluate", "search": "evaluate", "search_facets": "evaluate",
    "Facet": "facets", "SearchCache": "facets",
    "SORT_KEYS": "ordering", "THREAD_ALGORITHMS": "ordering",
    "UnknownThreadAlgorithm": "ordering", "sort": "ordering", "sort_facets": "ordering",
    "thread": "ordering", "thread_facets": "ordering",
    "SUPPORTED_CHARSETS": "view", "BadCharset": "view", "MessageView": "view",
    "check_charset": "view",
}

__all__ = [
    "SORT_KEYS", "SUPPORTED_CHARSETS", "THREAD_ALGORITHMS", "BadCharset", "Facet",
    "MessageView", "Program", "SearchCache", "UnknownThreadAlgorithm", "check_charset",
    "search", "search_facets", "sort", "sort_facets", "thread", "thread_facets",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups find it without this call
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
