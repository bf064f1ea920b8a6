"""Property tests: NOT is the complement, OR the union, AND the
intersection, and sequence-set keys agree with brute force."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postillion.imap.protocol.searchkeys import (
    AndKey,
    FlagKey,
    NotKey,
    OrKey,
    SearchKey,
    SequenceKey,
    SizeKey,
    TextKey,
)
from postillion.imap.protocol.sequence import SeqRange, SequenceSet
from postillion.imap.search import search

from .helpers import FakeMessage, message

FLAG_NAMES = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent", "$Work"]
WORDS = ["alpha", "beta", "Gamma", "δέλτα", "straße"]


@st.composite
def mailboxes(draw: st.DrawFn) -> list[FakeMessage]:
    count = draw(st.integers(0, 12))
    views = []
    uid = 0
    for seq in range(1, count + 1):
        uid += draw(st.integers(1, 4))
        subject = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=3)))
        body = " ".join(draw(st.lists(st.sampled_from(WORDS), max_size=4))) + "\n"
        headers = {"Subject": subject} if subject else {}
        if draw(st.booleans()):
            headers["From"] = draw(st.sampled_from(["a@x", "Beta <b@y>", "c@z"]))
        views.append(FakeMessage(seq, uid, message(headers, body),
                                 flags=frozenset(draw(st.sets(st.sampled_from(FLAG_NAMES))))))
    return views


def leaf_keys() -> st.SearchStrategy[SearchKey]:
    numbers = st.one_of(st.none(), st.integers(1, 40))
    ranges = st.builds(SeqRange, numbers, numbers)
    sequence = st.builds(SequenceSet, st.lists(ranges, min_size=1, max_size=3).map(tuple))
    return st.one_of(
        st.builds(FlagKey, st.sampled_from(FLAG_NAMES), st.booleans()),
        st.builds(SizeKey, st.booleans(), st.integers(0, 80)),
        st.builds(SequenceKey, sequence, st.booleans()),
        st.builds(TextKey, st.sampled_from(["SUBJECT", "FROM", "BODY", "TEXT"]),
                  st.sampled_from([w.encode() for w in WORDS] + [b"", b"ETA"])),
    )


def keys() -> st.SearchStrategy[SearchKey]:
    return st.recursive(leaf_keys(), lambda inner: st.one_of(
        st.builds(NotKey, inner), st.builds(OrKey, inner, inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda ks: AndKey(tuple(ks)))),
        max_leaves=6)


def uids(views: list[FakeMessage]) -> set[int]:
    return {v.uid for v in views}


@settings(max_examples=150, deadline=None)
@given(mailboxes(), keys(), keys())
def test_boolean_algebra(views: list[FakeMessage], a: SearchKey, b: SearchKey) -> None:
    everything = uids(views)
    found_a = uids(search((a,), views))
    found_b = uids(search((b,), views))
    assert uids(search((NotKey(a),), views)) == everything - found_a
    assert uids(search((OrKey(a, b),), views)) == found_a | found_b
    assert uids(search((a, b), views)) == found_a & found_b
    assert uids(search((AndKey((b, a)),), views)) == found_a & found_b


@settings(max_examples=200, deadline=None)
@given(mailboxes(), st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 50)),
                                       st.one_of(st.none(), st.integers(1, 50))),
                             min_size=1, max_size=4), st.booleans())
def test_sequence_sets_against_brute_force(views: list[FakeMessage],
                                           spans: list[tuple[int | None, int | None]],
                                           by_uid: bool) -> None:
    sequence = SequenceSet(tuple(SeqRange(a, b) for a, b in spans))
    largest = max((v.uid if by_uid else v.seq for v in views), default=0)

    def wanted(number: int) -> bool:
        for a, b in spans:
            low, high = largest if a is None else a, largest if b is None else b
            if min(low, high) <= number <= max(low, high):
                return True
        return False

    expected = [v.seq for v in views if wanted(v.uid if by_uid else v.seq)]
    assert [v.seq for v in search((SequenceKey(sequence, by_uid),), views)] == expected


_TEXT_PIECES = ["ab", "AB", "ß", "SS", " ", "\t", "\n", "\u00a0", "\u212a", "k", "x", "é", "\0"]


@settings(max_examples=400, deadline=None)
@given(texts=st.lists(st.lists(st.sampled_from(_TEXT_PIECES), max_size=12).map("".join),
                      max_size=3),
       raw_needle=st.lists(st.sampled_from(_TEXT_PIECES), max_size=6).map("".join))
def test_text_search_matches_the_normalized_text(texts: list[str], raw_needle: str) -> None:
    """Looking for a needle without a space in the casefolded text (the
    fast path) answers as matching against the normalized text does."""
    from postillion.imap.search.evaluate import LazyTexts
    from postillion.imap.search.facets import normalize

    needle = normalize(raw_needle).strip(" ")
    expected = any(needle in normalize(text) for text in texts)
    lazy = LazyTexts(texts)
    assert lazy.contains(needle) == expected
    assert lazy.contains(needle) == expected  # again, from the kept texts
    assert lazy.contains("ab ab") == any("ab ab" in normalize(t) for t in texts)


@settings(max_examples=150, deadline=None)
@given(mailboxes(), keys())
def test_one_facet_tests_answer_as_the_state_per_message_path(
        views: list[FakeMessage], key: SearchKey) -> None:
    """A program decided by one facet value (SEARCH FROM x) is run over the
    facet's column (Test.on_value); without that shortcut, each message's
    state runs the same test: the same messages."""
    from dataclasses import replace

    from postillion.imap.search import evaluate

    fast = [v.seq for v in search((key,), views)]
    original = evaluate.compile_program

    def without_shortcut(*args: object, **kwargs: object) -> evaluate.Test:
        return replace(original(*args, **kwargs), on_value=None)  # type: ignore[arg-type]

    evaluate.compile_program = without_shortcut  # type: ignore[assignment]
    try:
        slow = [v.seq for v in search((key,), views)]
    finally:
        evaluate.compile_program = original
    assert fast == slow
