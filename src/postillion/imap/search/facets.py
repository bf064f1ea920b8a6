"""Per-message values that SEARCH, SORT and THREAD derive from headers,
and the cache that keeps them between commands.

A *facet* is one such value (the search text of From:, the sent date, the
base subject, ...).  Facets are computed from a single read of the header
block that extracts only the fields the current command needs, and kept
per message, keyed by UID and base file name, so that a second SORT or
SEARCH FROM over a 100,000-message folder reads no file at all.  Only
small values are cached, never header blocks or bodies.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Generic, NamedTuple, TypeVar, cast

from postillion.message.address import parse_address_list
from postillion.message.decode import address_search_text, decode_header, decode_raw
from postillion.message.headers import header_bounds
from postillion.message.sortkeys import (
    address_sort_key,
    ascii_casemap,
    base_subject_and_reply,
    sent_date,
)

from .view import MessageView

T = TypeVar("T")

#: Lower-cased field name -> unfolded values, in the order they appear.
Fields = dict[bytes, list[bytes]]

#: Fields whose values are address lists: searched both as written
#: (decoded) and as "display name <address>" so that either form matches.
ADDRESS_FIELDS = frozenset({b"from", b"to", b"cc", b"bcc", b"sender", b"reply-to",
                            b"resent-from", b"resent-to", b"resent-cc", b"resent-bcc"})


#: Separates several occurrences of a field in one search text; IMAP
#: strings cannot hold NUL, so no search string can match across it.
OCCURRENCE_SEPARATOR = "\0"


def normalize(text: str) -> str:
    """The matching form of a text: Unicode casefold (``ß`` matches ``ss``),
    whitespace runs as one space, none at either end.

    Courier's matcher folds runs of space, tab, CR and LF the same way; we
    fold every Unicode space (a no-break space in HTML mail matches a
    typed space), and ``str.split`` does it several times faster than a
    regular expression on a long body.
    """
    return " ".join(text.casefold().split())


def aware(moment: datetime) -> datetime:
    """A naive internal date is the server's local time."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def address_form_differs(value: bytes) -> bool:
    """Whether an address field's "name <address>" form may read otherwise
    than its decoded text: only quotes, comments and escapes change it."""
    return b'"' in value or b"(" in value or b"\\" in value


def field_search_text(name: bytes, value: bytes) -> str:
    """What a search string is matched against for one header field."""
    decoded = decode_header(value)
    if name.lower() in ADDRESS_FIELDS and address_form_differs(value):
        return decoded + OCCURRENCE_SEPARATOR + address_search_text(value)
    return decoded


@functools.lru_cache(maxsize=512)
def _field_pattern(names: tuple[bytes, ...]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(name) for name in names)
    return re.compile(rb"^(" + alternatives + rb")[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)",
                      re.MULTILINE | re.IGNORECASE)


def extract_fields(header: bytes, names: Iterable[bytes]) -> Fields:
    """The wanted fields of a header block, unfolded as
    :class:`postillion.message.headers.HeaderField` unfolds them."""
    wanted = tuple(sorted({name.lower() for name in names}))
    found: Fields = {name: [] for name in wanted}
    if not wanted:
        return found
    end = header_bounds(header)[0]
    for match in _field_pattern(wanted).finditer(header, 0, end):
        value = match.group(2).replace(b"\r", b"").replace(b"\n", b"").strip()
        found[match.group(1).lower()].append(value)
    return found


def _first(fields: Fields, name: bytes) -> bytes | None:
    values = fields.get(name)
    return values[0] if values else None


@dataclass(frozen=True, slots=True)
class Facet(Generic[T]):
    """One cached per-message value: its cache key, the header fields it
    is computed from, and how."""

    key: str
    fields: tuple[bytes, ...]
    compute: Callable[[Fields, MessageView], T]


# ---------------------------------------------------------------- search texts

def _search_text(name: bytes) -> Callable[[Fields, MessageView], str | None]:
    def compute(fields: Fields, view: MessageView) -> str | None:
        values = fields.get(name)
        if not values:
            return None                       # absent: even "" does not match
        return OCCURRENCE_SEPARATOR.join(normalize(field_search_text(name, v)) for v in values)
    return compute


@functools.lru_cache(maxsize=512)
def header_text_facet(name: bytes) -> Facet[str | None]:
    """The normalized search text of every ``name:`` field, or None when
    the message has none (FROM, TO, CC, BCC, SUBJECT and HEADER)."""
    lower = name.lower()
    return Facet("text:" + lower.decode("latin-1"), (lower,), _search_text(lower))


def _sent_day(fields: Fields, view: MessageView) -> date | None:
    value = _first(fields, b"date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(decode_raw(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # RFC 3501: "disregarding time and timezone" -- the date as written.
    return parsed.date()


SENT_DAY: Facet[date | None] = Facet("sentday", (b"date",), _sent_day)


# ---------------------------------------------------------------- sort keys

def _sort_subject(fields: Fields, view: MessageView) -> str:
    return ascii_casemap(base_subject_and_reply(_first(fields, b"subject"))[0])


def _sort_date(fields: Fields, view: MessageView) -> float:
    # Seconds since the epoch: orders as the aware datetimes do, and a
    # float is what the cache file keeps and loads cheapest.
    return sent_date(_first(fields, b"date"), aware(view.internaldate)).timestamp()


def _address_key(name: bytes) -> Callable[[Fields, MessageView], str]:
    def compute(fields: Fields, view: MessageView) -> str:
        return address_sort_key(_first(fields, name))
    return compute


def _display_key(name: bytes) -> Callable[[Fields, MessageView], str]:
    """RFC 5957 DISPLAYFROM/DISPLAYTO: the first mailbox's display name,
    else its address, compared case-insensitively."""
    def compute(fields: Fields, view: MessageView) -> str:
        for address in parse_address_list(_first(fields, name)):
            if address.host is None:
                continue
            if address.name:
                shown = decode_header(address.name).strip()
                if shown:
                    return shown.casefold()
            return decode_raw(address.addr_spec).casefold()
        return ""
    return compute


SORT_FACETS: dict[str, Facet[object]] = {
    "SUBJECT": Facet("sort:subject", (b"subject",), _sort_subject),
    "DATE": Facet("sort:date", (b"date",), _sort_date),
    "FROM": Facet("sort:from", (b"from",), _address_key(b"from")),
    "TO": Facet("sort:to", (b"to",), _address_key(b"to")),
    "CC": Facet("sort:cc", (b"cc",), _address_key(b"cc")),
    "DISPLAYFROM": Facet("sort:displayfrom", (b"from",), _display_key(b"from")),
    "DISPLAYTO": Facet("sort:displayto", (b"to",), _display_key(b"to")),
}
SENT_DATE = cast(Facet[float], SORT_FACETS["DATE"])


# ---------------------------------------------------------------- threading

class ThreadHeaders(NamedTuple):
    """What THREAD needs of a message's header (a tuple: cheap to make
    100,000 times from a saved column)."""

    message_id: bytes | None
    references: bytes | None
    in_reply_to: bytes | None
    base_subject: str
    is_reply: bool


def _thread_headers(fields: Fields, view: MessageView) -> ThreadHeaders:
    subject, is_reply = base_subject_and_reply(_first(fields, b"subject"))
    return ThreadHeaders(_first(fields, b"message-id"), _first(fields, b"references"),
                         _first(fields, b"in-reply-to"), subject, is_reply)


THREAD_HEADERS = Facet("thread", (b"message-id", b"references", b"in-reply-to", b"subject"),
                       _thread_headers)


def facet_for_key(key: str) -> Facet[object] | None:
    """The facet a cache key names (a facet's functions cannot be sent to
    another process; its key can)."""
    if key.startswith("text:"):
        return header_text_facet(key[5:].encode("latin-1"))  # type: ignore[return-value]
    known: list[Facet[object]] = [*SORT_FACETS.values(), THREAD_HEADERS, SENT_DAY]  # type: ignore[list-item]
    for facet in known:
        if facet.key == key:
            return facet
    return None


def compute_facets(facets: Sequence[Facet[object]], header: bytes,
                   view: MessageView) -> list[object]:
    """Several facets of one message from its header block, read once."""
    fields = extract_fields(header, {name for f in facets for name in f.fields})
    return [facet.compute(fields, view) for facet in facets]


# ---------------------------------------------------------------- the cache

CacheKey = tuple[int, str]
#: One facet kind's values, by message.
Column = dict[CacheKey, object]
#: Gives the values of a facet kind saved elsewhere (the folder cache
#: file), or None; called once per kind, when a command first needs it.
ColumnLoader = Callable[[str], Column | None]

_MISSING = object()
_CACHE_KEY = operator.attrgetter("cache_key")


class SearchCache:
    """Facets of one folder's messages, kept across commands: a column per
    facet kind, keyed by UID and base file name.

    Kept per column, not per message, so that a command needing one kind
    (SORT (DATE)) takes one column, and a column saved in the folder cache
    file is decoded in one piece, only when a command first asks for its
    kind (``loader``).  Shared by the sessions of a process that have the
    folder open, from worker threads: every change is one dict operation.
    """

    __slots__ = ("_computed", "columns", "loader")

    def __init__(self, loader: ColumnLoader | None = None) -> None:
        self.columns: dict[str, Column] = {}
        self.loader = loader
        self._computed = 0

    def __len__(self) -> int:
        """Messages of the fullest column."""
        return max((len(c) for c in list(self.columns.values())), default=0)

    def column(self, key: str) -> Column:
        """The values of facet kind ``key`` (loaded on first use)."""
        found = self.columns.get(key)
        if found is not None:
            return found
        loaded = self.loader(key) if self.loader is not None else None
        found = self.columns.setdefault(key, loaded if loaded is not None else {})
        if loaded and found is not loaded:  # another thread was first
            for k, v in loaded.items():
                found.setdefault(k, v)
        return found

    def note_computed(self, count: int = 1) -> None:
        self._computed += count

    def take_computed(self) -> int:
        """Values computed (not loaded) since the last call: whether there
        is anything new to save."""
        count, self._computed = self._computed, 0
        return count

    def prune(self, live: Sequence[MessageView]) -> None:
        """Forget messages that are not in ``live``."""
        keep = {view.cache_key for view in live}
        for column in list(self.columns.values()):
            for key in [k for k in list(column) if k not in keep]:
                column.pop(key, None)

    def tidy(self, live: Sequence[MessageView]) -> None:
        """Prune when expunged messages may have left many entries behind."""
        if len(self) > 2 * len(live) + 1024:
            self.prune(live)

    def clear(self) -> None:
        self.columns.clear()


class FacetReader:
    """Reads facets for one command: the header block of a message is read
    at most once, extracting the fields that every facet the command may
    need is computed from."""

    __slots__ = ("_cache", "_columns", "field_names")

    def __init__(self, cache: SearchCache, facets: Iterable[Facet[object]]) -> None:
        wanted = list(facets)
        self._cache = cache
        self.field_names = tuple(sorted({name for f in wanted for name in f.fields}))
        self._columns = {f.key: cache.column(f.key) for f in wanted}

    def column(self, facet: Facet[object]) -> Column:
        found = self._columns.get(facet.key)
        if found is None:
            found = self._columns[facet.key] = self._cache.column(facet.key)
        return found

    def computed(self) -> None:
        self._cache.note_computed()

    def reader_for(self, view: MessageView) -> MessageFacets:
        return MessageFacets(view, view.cache_key, self)

    def values(self, facets: Sequence[Facet[object]],
               views: Sequence[MessageView]) -> list[list[object]]:
        """Each facet's value for each view, in order: cached values in
        one pass per facet, then the missing ones computed, a message's
        header read once for all its missing facets."""
        keys = list(map(_CACHE_KEY, views))
        out: list[list[object]] = []
        missing: set[int] = set()
        for facet in facets:
            values = list(map(self.column(facet).get, keys, itertools.repeat(_MISSING)))
            if _MISSING in values:  # (told in C; the usual answer: none)
                missing.update(i for i, value in enumerate(values) if value is _MISSING)
            out.append(values)
        for i in sorted(missing):
            message = MessageFacets(views[i], keys[i], self)
            for facet, values in zip(facets, out, strict=True):
                if values[i] is _MISSING:
                    values[i] = message.get(facet)
        return out


class MessageFacets:
    """Facets of one message during one command."""

    __slots__ = ("_fields", "_key", "_reader", "view")

    def __init__(self, view: MessageView, key: CacheKey, reader: FacetReader) -> None:
        self.view = view
        self._key = key
        self._reader = reader
        self._fields: Fields | None = None

    def get(self, facet: Facet[T]) -> T:
        column = self._reader.column(facet)  # type: ignore[arg-type]
        try:
            return cast(T, column[self._key])
        except KeyError:
            pass
        if self._fields is None or any(n not in self._fields for n in facet.fields):
            names = set(self._reader.field_names) | set(facet.fields)
            self._fields = extract_fields(self.view.header_bytes(), names)
        value = facet.compute(self._fields, self.view)
        column[self._key] = value
        self._reader.computed()
        return value
