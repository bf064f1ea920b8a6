"""The encodings of saved SORT and THREAD answers (postillion.imap.savedorders)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from postillion.imap import savedorders
from postillion.imap.protocol.commands import SortCriterion
from postillion.imap.protocol.searchkeys import AllKey, FlagKey
from postillion.message.threads import ThreadNode


def random_forest(rng: random.Random, count: int) -> list[ThreadNode]:
    """Every position 0..count-1 once, in trees of random shape, with
    dummies (never childless) here and there."""
    positions = list(range(count))
    rng.shuffle(positions)

    def grow(budget: list[int], depth: int) -> ThreadNode:
        number: int | None = budget.pop()
        kids: list[ThreadNode] = []
        while budget and depth < 40 and rng.random() < 0.55:
            kids.append(grow(budget, depth + 1))
        if kids and rng.random() < 0.1:
            budget.append(number)  # type: ignore[arg-type]
            number = None
        return ThreadNode(number, tuple(kids))

    forest: list[ThreadNode] = []
    while positions:
        forest.append(grow(positions, 0))
    return forest


def numbers_of(forest: list[ThreadNode]) -> list[int]:
    out, stack = [], list(forest)
    while stack:
        node = stack.pop()
        if node.message is not None:
            out.append(node.message)
        stack.extend(node.children)
    return out


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.integers(0, 2**32 - 1))
def test_a_forest_comes_back_as_it_was_kept(count: int, seed: int) -> None:
    forest = random_forest(random.Random(seed), count)
    assert sorted(numbers_of(forest)) == list(range(count))
    data = savedorders.encode_forest(forest, lambda n: n)
    assert savedorders.decode_forest(data, list(range(count))) == forest
    # Positions answered as other numbers (UIDs): the same shape.
    uids = [10 * p + 7 for p in range(count)]
    as_uids = savedorders.decode_forest(data, uids)
    assert as_uids is not None
    assert sorted(numbers_of(as_uids)) == uids


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(0, 2**32 - 1), st.data())
def test_a_damaged_forest_is_refused_or_still_a_whole_forest(count: int, seed: int,
                                                            data: st.DataObject) -> None:
    forest = random_forest(random.Random(seed), count)
    raw = bytearray(savedorders.encode_forest(forest, lambda n: n))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    decoded = savedorders.decode_forest(bytes(raw[:cut]) if cut % 2 else bytes(raw),
                                        list(range(count)))
    if decoded is not None:
        # Whatever was believed holds every message once, dummies only
        # with children.
        assert sorted(numbers_of(decoded)) == list(range(count))
        stack = list(decoded)
        while stack:
            node = stack.pop()
            assert node.message is not None or node.children
            stack.extend(node.children)


def test_sort_orders_must_be_permutations() -> None:
    assert savedorders.decode_sort(savedorders.encode_sort([2, 0, 1]), 3) == [2, 0, 1]
    assert savedorders.decode_sort(savedorders.encode_sort([]), 0) == []
    for bad in ([0, 0, 1], [0, 1], [0, 1, 3], [0, 1, 2, 3]):
        assert savedorders.decode_sort(savedorders.encode_sort(bad), 3) is None
    assert savedorders.decode_sort(b"\0" * 11, 3) is None


def test_keys_and_digests() -> None:
    assert savedorders.sort_key([SortCriterion("date", True), SortCriterion("SUBJECT")]) \
        == "SORT REVERSE DATE SUBJECT"
    assert savedorders.sort_key([SortCriterion("ARRIVAL")]) is None
    assert savedorders.sort_key([SortCriterion("DATE"), SortCriterion("NOSUCH")]) is None
    assert savedorders.thread_key("references") == "THREAD REFERENCES"
    assert savedorders.is_whole_folder((AllKey(),))
    assert not savedorders.is_whole_folder((FlagKey("\\Seen"),))
    assert not savedorders.is_whole_folder((AllKey(), AllKey()))
    assert savedorders.set_digest([1, 2, 3]) != savedorders.set_digest([1, 2, 4])
    assert len(savedorders.set_digest([])) == 16
