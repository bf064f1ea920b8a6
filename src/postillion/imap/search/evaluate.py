"""SEARCH: a search program compiled into tests, cheap ones first.

Every key becomes a test with a cost: flags, sizes, sequence numbers,
UIDs and internal dates cost nothing; header keys read (or find cached) a
few header fields; TEXT and BODY read and decode the whole message.  An
AND tries its cheap tests first and stops at the first failure, and an OR
its cheap side first, so a message's file is opened only when the cheap
keys could not decide.  Bodies are read one message at a time and
dropped before the next.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import TypeVar, assert_never

from postillion.imap.protocol.searchkeys import (
    AllKey,
    AndKey,
    DateKey,
    FlagKey,
    HeaderKey,
    NewKey,
    NotKey,
    OldKey,
    OrKey,
    SearchKey,
    SequenceKey,
    SizeKey,
    TextKey,
)
from postillion.message import MimePart, parse_message
from postillion.message.decode import address_search_text, body_texts, decode_header

from .facets import (
    ADDRESS_FIELDS,
    SENT_DAY,
    Facet,
    FacetReader,
    MessageFacets,
    SearchCache,
    address_form_differs,
    aware,
    header_text_facet,
    normalize,
)
from .view import MessageView, check_charset, decode_search_string

T = TypeVar("T")
V = TypeVar("V", bound=MessageView)

# Costs: what evaluating a key may have to read.
FREE = 0        # the message's metadata only
HEADER = 1      # a few header fields (often cached)
CONTENT = 2     # the whole message, decoded


class LazyTexts:
    """Texts produced one by one and kept, so that a second TEXT or BODY
    key in the same program reuses them, and a match in the first one
    spares decoding the rest.

    A needle without a space (most searches) is looked for in the
    casefolded text as it is: an occurrence cannot span white space, so it
    matches there exactly when it matches the normalized text, and joining
    the words of a long body again costs several times the casefold.  The
    normalized form is made only for a needle with a space in it.
    """

    __slots__ = ("_folded", "_normalized", "_source")

    def __init__(self, source: Iterable[str]) -> None:
        self._source = iter(source)
        self._folded: list[str] = []
        self._normalized: list[str] = []

    def _normal(self, index: int) -> str:
        while len(self._normalized) <= index:
            self._normalized.append(" ".join(self._folded[len(self._normalized)].split()))
        return self._normalized[index]

    def contains(self, needle: str) -> bool:
        """Whether ``needle`` (normalized, see :func:`normalize`) is in a text."""
        spaced = " " in needle
        for index, text in enumerate(self._folded):
            if needle in (self._normal(index) if spaced else text):
                return True
        for raw in self._source:
            text = raw.casefold()
            self._folded.append(text)
            if needle in (self._normal(len(self._folded) - 1) if spaced else text):
                return True
        return False


class MessageState:
    """What has been read of one message while its tests run."""

    __slots__ = ("_addresses", "_body", "_facets", "_headers", "_reader", "_root", "view")

    def __init__(self, view: MessageView, reader: FacetReader) -> None:
        self.view = view
        self._reader = reader
        self._facets: MessageFacets | None = None
        self._root: MimePart | None = None
        self._body: LazyTexts | None = None
        self._headers: LazyTexts | None = None
        self._addresses: LazyTexts | None = None

    def facet(self, facet: Facet[T]) -> T:
        if self._facets is None:
            self._facets = self._reader.reader_for(self.view)
        return self._facets.get(facet)

    def _message(self) -> MimePart:
        if self._root is None:
            self._root = parse_message(self.view.full_bytes())
        return self._root

    def body(self) -> LazyTexts:
        """Text of the body's text parts (and nested messages' headers)."""
        if self._body is None:
            self._body = LazyTexts(body_texts(self._message()))
        return self._body

    def header_fields(self) -> LazyTexts:
        """``Name: value`` of every top-level header field, decoded."""
        if self._headers is None:
            self._headers = LazyTexts(
                field.name.decode("latin-1") + ": " + decode_header(field.value)
                for field in self._message().headers.fields if field.name)
        return self._headers

    def address_forms(self) -> LazyTexts:
        """Address fields again in "name <address>" form, where that reads
        differently (tried last: parsing addresses is the dearest step)."""
        if self._addresses is None:
            self._addresses = LazyTexts(
                field.name.decode("latin-1") + ": " + address_search_text(field.value)
                for field in self._message().headers.fields
                if field.lower_name in ADDRESS_FIELDS and address_form_differs(field.value))
        return self._addresses


Predicate = Callable[[MessageState], bool]


@dataclass(frozen=True, slots=True)
class Test:
    cost: int
    run: Predicate
    facets: tuple[Facet[object], ...] = ()
    #: For a test that looks at one facet value and nothing else: the
    #: same test on the value (run_search then reads the facet's column
    #: in one pass instead of building a state per message, each distinct
    #: value tested once: the facet's values must be hashable).
    on_value: Callable[[object], bool] | None = None


def _always(state: MessageState) -> bool:
    return True


#: ALL, and an empty program: every message, without looking at any.
MATCH_ALL = Test(FREE, _always)


@dataclass(frozen=True, slots=True)
class Limits:
    """What the program's numbers refer to."""

    max_seq: int                      # "*" in a sequence set
    max_uid: int                      # "*" in a UID set
    saved_uids: Collection[int]       # "$" (RFC 5182); empty when nothing is saved
    charset: str | None
    tz: tzinfo | None                 # internal dates' calendar; None: the server's zone


def _has_flag(flags: frozenset[str], flag: str) -> bool:
    if flag in flags:
        return True
    # Flags and keywords compare case-insensitively (Courier folds keywords too).
    folded = flag.casefold()
    return any(f.casefold() == folded for f in flags)


def _flag_test(key: FlagKey) -> Test:
    flag, present = key.flag, key.present
    return Test(FREE, lambda s: _has_flag(s.view.flags, flag) == present)


def _text_test(key: TextKey, limits: Limits) -> Test:
    needle = normalize(decode_search_string(key.value, limits.charset)).strip(" ")
    if key.field == "BODY":
        return Test(CONTENT, lambda s: s.body().contains(needle))
    if key.field == "TEXT":
        return Test(CONTENT, lambda s: s.header_fields().contains(needle)
                    or s.body().contains(needle) or s.address_forms().contains(needle))
    return _header_test(header_text_facet(key.field.lower().encode("ascii")), needle)


def _header_test(facet: Facet[str | None], needle: str) -> Test:
    def matches(text: object) -> bool:
        # An empty string matches every message that has the field.
        return text is not None and needle in text  # type: ignore[operator]

    def run(state: MessageState) -> bool:
        return matches(state.facet(facet))
    return Test(HEADER, run, (facet,), matches)  # type: ignore[arg-type]


def _date_test(key: DateKey, limits: Limits) -> Test:
    wanted = key.date
    compare: Callable[[date], bool]
    word = key.field.removeprefix("SENT")
    if word == "BEFORE":
        compare = wanted.__gt__
    elif word == "ON":
        compare = wanted.__eq__
    else:
        compare = wanted.__le__
    if key.field.startswith("SENT"):
        def run_sent(state: MessageState) -> bool:
            day = state.facet(SENT_DAY)
            return day is not None and compare(day)
        return Test(HEADER, run_sent, (SENT_DAY,))  # type: ignore[arg-type]
    zone = limits.tz
    return Test(FREE, lambda s: compare(aware(s.view.internaldate).astimezone(zone).date()))


def _size_test(key: SizeKey) -> Test:
    limit = key.size
    if key.larger:
        return Test(FREE, lambda s: s.view.size > limit)
    return Test(FREE, lambda s: s.view.size < limit)


def _in_ranges(ranges: list[tuple[int, int]]) -> Callable[[int], bool]:
    starts = [a for a, _b in ranges]

    def contains(number: int) -> bool:
        index = bisect.bisect_right(starts, number) - 1
        return index >= 0 and number <= ranges[index][1]
    return contains


def _sequence_test(key: SequenceKey, limits: Limits) -> Test:
    if key.sequence.saved:
        saved = frozenset(limits.saved_uids)
        return Test(FREE, lambda s: s.view.uid in saved)
    if key.uid:
        in_uids = _in_ranges(key.sequence.resolve(limits.max_uid))
        return Test(FREE, lambda s: in_uids(s.view.uid))
    in_seqs = _in_ranges(key.sequence.resolve(limits.max_seq))
    return Test(FREE, lambda s: in_seqs(s.view.seq))


def _all_of(tests: Sequence[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    ordered = sorted(tests, key=lambda t: t.cost)      # stable: client's order within a cost
    runs = tuple(t.run for t in ordered)
    return Test(max(t.cost for t in ordered), lambda s: all(run(s) for run in runs),
                tuple(f for t in ordered for f in t.facets))


def compile_key(key: SearchKey, limits: Limits) -> Test:
    """One search key as a test (raises BadCharset for a string key in a
    charset we do not accept)."""
    if isinstance(key, AllKey):
        return MATCH_ALL
    if isinstance(key, FlagKey):
        return _flag_test(key)
    if isinstance(key, NewKey):
        return Test(FREE, lambda s: _has_flag(s.view.flags, "\\Recent")
                    and not _has_flag(s.view.flags, "\\Seen"))
    if isinstance(key, OldKey):
        return Test(FREE, lambda s: not _has_flag(s.view.flags, "\\Recent"))
    if isinstance(key, TextKey):
        return _text_test(key, limits)
    if isinstance(key, HeaderKey):
        needle = normalize(decode_search_string(key.value, limits.charset)).strip(" ")
        return _header_test(header_text_facet(key.name), needle)
    if isinstance(key, DateKey):
        return _date_test(key, limits)
    if isinstance(key, SizeKey):
        return _size_test(key)
    if isinstance(key, SequenceKey):
        return _sequence_test(key, limits)
    if isinstance(key, NotKey):
        inner = compile_key(key.key, limits)
        run = inner.run
        return Test(inner.cost, lambda s: not run(s), inner.facets)
    if isinstance(key, OrKey):
        first, second = sorted((compile_key(key.left, limits),
                                compile_key(key.right, limits)), key=lambda t: t.cost)
        a, b = first.run, second.run
        return Test(second.cost, lambda s: a(s) or b(s), first.facets + second.facets)
    if isinstance(key, AndKey):
        return _all_of([compile_key(k, limits) for k in key.keys])
    assert_never(key)


Program = SearchKey | Sequence[SearchKey]


def compile_program(program: Program, limits: Limits) -> Test:
    """A whole program (its keys ANDed) as one test."""
    check_charset(limits.charset)
    keys = [program] if not isinstance(program, Sequence) else list(program)
    if not keys:
        return MATCH_ALL
    return _all_of([compile_key(k, limits) for k in keys])


def make_limits(messages: Sequence[MessageView], *, charset: str | None,
                max_seq: int | None, max_uid: int | None,
                saved_uids: Collection[int] | None, tz: tzinfo | None) -> Limits:
    if max_seq is None:
        max_seq = max((m.seq for m in messages), default=0)
    if max_uid is None:
        max_uid = max((m.uid for m in messages), default=0)
    return Limits(max_seq, max_uid, saved_uids or frozenset(), charset, tz)


def unnumbered_limits(charset: str | None) -> Limits:
    """Limits for compiling a program only to learn what it reads."""
    return Limits(0, 0, frozenset(), charset, None)


def search_facets(program: Program, charset: str | None) -> list[Facet[object]]:
    """The facets a SEARCH reads (raises BadCharset)."""
    return list(dict.fromkeys(compile_program(program, unnumbered_limits(charset)).facets))


def run_search(test: Test, messages: Sequence[V], reader: FacetReader) -> list[V]:
    if test is MATCH_ALL:  # SORT and THREAD over ALL: no state per message
        return list(messages)
    if test.on_value is not None and len(test.facets) == 1:
        # One facet decides (SEARCH FROM x): its values in one pass.
        matches = test.on_value
        (values,) = reader.values(test.facets, messages)
        # A folder's values repeat (its senders, its subjects): each
        # distinct one is tested once.  (Values of a test on one value are
        # a header's text, str or None: see _header_test.)
        verdicts = {value: matches(value) for value in set(values)}
        return list(itertools.compress(messages, map(verdicts.__getitem__, values)))
    run = test.run
    return [view for view in messages if run(MessageState(view, reader))]


def search(program: Program, messages: Sequence[V], *,
           charset: str | None = None, max_seq: int | None = None,
           max_uid: int | None = None, cache: SearchCache | None = None,
           saved_uids: Collection[int] | None = None,
           tz: tzinfo | None = None) -> list[V]:
    """The messages (in the order given, normally sequence order) that
    match every key of ``program``.

    ``max_seq``/``max_uid`` are what ``*`` stands for (default: the largest
    in ``messages``); ``cache`` is the folder's :class:`SearchCache` (a
    throwaway one when None); ``saved_uids`` the RFC 5182 saved result
    that ``$`` refers to; ``tz`` the zone whose calendar BEFORE/ON/SINCE
    use for internal dates (default: the server's, as Courier).  Raises
    :class:`~.view.BadCharset`.
    """
    limits = make_limits(messages, charset=charset, max_seq=max_seq, max_uid=max_uid,
                         saved_uids=saved_uids, tz=tz)
    test = compile_program(program, limits)
    if cache is None:
        cache = SearchCache()
    cache.tidy(messages)
    return run_search(test, messages, FacetReader(cache, test.facets))
