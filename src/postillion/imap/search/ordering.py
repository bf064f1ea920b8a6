"""SORT (RFC 5256 section 3) and THREAD (ORDEREDSUBJECT, REFERENCES) over
the messages a search program selects."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import tzinfo
from typing import Protocol, cast

from postillion.message.threads import (
    ThreadMessage,
    ThreadNode,
    thread_orderedsubject,
    thread_references,
)

from .evaluate import Program, V, compile_program, make_limits, run_search, unnumbered_limits
from .facets import (
    SENT_DATE,
    SORT_FACETS,
    THREAD_HEADERS,
    Facet,
    FacetReader,
    SearchCache,
    ThreadHeaders,
    aware,
)
from .view import MessageView

SORT_KEYS = frozenset({"ARRIVAL", "SIZE", *SORT_FACETS})
THREAD_ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES")


class SortCriterionLike(Protocol):
    """:class:`postillion.imap.protocol.commands.SortCriterion`."""

    @property
    def key(self) -> str: ...
    @property
    def reverse(self) -> bool: ...


class UnknownThreadAlgorithm(ValueError):
    """THREAD named an algorithm we do not implement (the session answers BAD)."""


def _criterion_facets(criteria: Sequence[SortCriterionLike]) -> dict[str, Facet[object]]:
    """The facet of each criterion that has one (not ARRIVAL, SIZE), by key word."""
    words = (c.key.upper() for c in criteria)
    return {word: SORT_FACETS[word] for word in words if word in SORT_FACETS}


def sort_facets(criteria: Sequence[SortCriterionLike], program: Program,
                charset: str | None) -> list[Facet[object]]:
    """The facets a SORT reads (raises BadCharset)."""
    test = compile_program(program, unnumbered_limits(charset))
    return list(dict.fromkeys([*test.facets, *_criterion_facets(criteria).values()]))


def thread_facets(program: Program, charset: str | None) -> list[Facet[object]]:
    """The facets a THREAD reads (raises BadCharset)."""
    test = compile_program(program, unnumbered_limits(charset))
    return list(dict.fromkeys([*test.facets, THREAD_HEADERS, SENT_DATE]))  # type: ignore[list-item]


def sort(criteria: Sequence[SortCriterionLike], program: Program,
         messages: Sequence[V], *, charset: str | None = None,
         max_seq: int | None = None, max_uid: int | None = None,
         cache: SearchCache | None = None, saved_uids: Collection[int] | None = None,
         tz: tzinfo | None = None) -> list[V]:
    """The matching messages in SORT order: each criterion in turn
    (REVERSE flips that criterion only), ties by sequence number.

    Keys follow RFC 5256: SUBJECT the base subject (i;ascii-casemap), DATE
    the Date: header falling back to the internal date, FROM/TO/CC the
    first address's local part, ARRIVAL the internal date, SIZE
    RFC822.SIZE; RFC 5957's DISPLAYFROM/DISPLAYTO the display name.
    """
    for criterion in criteria:
        if criterion.key.upper() not in SORT_KEYS:
            raise ValueError(f"unknown sort key {criterion.key}")
    limits = make_limits(messages, charset=charset, max_seq=max_seq, max_uid=max_uid,
                         saved_uids=saved_uids, tz=tz)
    test = compile_program(program, limits)
    wanted = _criterion_facets(criteria)
    if cache is None:
        cache = SearchCache()
    cache.tidy(messages)
    reader = FacetReader(cache, [*test.facets, *wanted.values()])
    matched = sorted(run_search(test, messages, reader), key=lambda view: view.seq)
    order = list(range(len(matched)))
    facet_values = dict(zip(wanted, reader.values(list(wanted.values()), matched),
                            strict=True))
    for criterion in reversed(criteria):
        word = criterion.key.upper()
        values: list[object]
        if word == "ARRIVAL":
            values = [aware(view.internaldate) for view in matched]
        elif word == "SIZE":
            values = [view.size for view in matched]
        else:
            values = facet_values[word]
        # Python's sort is stable, also with reverse=True: sorting by the last
        # criterion first leaves ties of each earlier one in the later order,
        # and the sequence order underneath breaks the remaining ties.
        order.sort(key=values.__getitem__, reverse=criterion.reverse)  # type: ignore[arg-type]
    return [matched[i] for i in order]


def thread(algorithm: str, program: Program, messages: Sequence[MessageView], *,
           charset: str | None = None, uid: bool = False,
           max_seq: int | None = None, max_uid: int | None = None,
           cache: SearchCache | None = None, saved_uids: Collection[int] | None = None,
           tz: tzinfo | None = None,
           orderedsubject_as_chain: bool = False) -> list[ThreadNode]:
    """THREAD over the matching messages: a forest of
    :class:`~postillion.message.threads.ThreadNode` whose numbers are
    sequence numbers, or UIDs with ``uid`` (UID THREAD).

    ORDEREDSUBJECT gives RFC 5256's shape (every later message a child of
    the thread's first); ``orderedsubject_as_chain`` gives Courier's
    (each message a child of the one before).
    """
    word = algorithm.upper()
    if word not in THREAD_ALGORITHMS:
        raise UnknownThreadAlgorithm(algorithm)
    limits = make_limits(messages, charset=charset, max_seq=max_seq, max_uid=max_uid,
                         saved_uids=saved_uids, tz=tz)
    test = compile_program(program, limits)
    if cache is None:
        cache = SearchCache()
    cache.tidy(messages)
    needed: list[Facet[object]] = [*test.facets, THREAD_HEADERS, SENT_DATE]  # type: ignore[list-item]
    reader = FacetReader(cache, needed)
    matched = sorted(run_search(test, messages, reader), key=lambda view: view.seq)
    headers, dates = reader.values([THREAD_HEADERS, SENT_DATE], matched)  # type: ignore[list-item]
    items = [ThreadMessage(view.uid if uid else view.seq, h.message_id, h.references,
                           h.in_reply_to, h.base_subject, h.is_reply, sent)
             for view, h, sent in zip(matched, cast(list[ThreadHeaders], headers),
                                      cast(list[float], dates), strict=True)]
    if word == "REFERENCES":
        return thread_references(items)
    return thread_orderedsubject(items, as_chain=orderedsubject_as_chain)
