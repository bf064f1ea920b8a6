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
"""

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

__all__ = [
    "SORT_KEYS", "SUPPORTED_CHARSETS", "THREAD_ALGORITHMS", "BadCharset", "Facet",
    "MessageView", "Program", "SearchCache", "UnknownThreadAlgorithm", "check_charset",
    "search", "search_facets", "sort", "sort_facets", "thread", "thread_facets",
]
