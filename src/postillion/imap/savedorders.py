"""SORT and THREAD answers over a whole folder, kept in the folder cache.

A client sorts or threads a big folder the same way in every session, and
the answer over all of a folder's messages depends only on which messages
are there: a UID names one message file's content for as long as the
UIDVALIDITY lasts (the cache is voided with it), and no sort or thread key
reads flags.  So such an answer is saved under its criteria with a digest
of the folder's UID set, and given again while the folder holds exactly
that set; any delivery or expunge changes the digest and the answer is
computed again (from the cached facets) and saved anew.

Not kept: answers over a subset (the search program is not ``ALL``), and
SORT by ARRIVAL (the internal date is a file's mtime, which ``touch`` can
change without changing the message).

An answer is kept as positions in the folder's UID order (so one saved
order serves SORT and UID SORT alike): SORT as the permutation, THREAD as
the forest in preorder, each node a pair (position, or ``DUMMY`` for a
node without a message; number of children).  Both are little-endian u32
arrays, checked when read: a SORT order must be a permutation of the set,
a forest must hold every message exactly once and be well formed, or it is
ignored (and computed again).
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Callable, Sequence

from postillion.message.threads import ThreadNode

from .foldercache import ORDER_DIGEST_SIZE
from .protocol.searchkeys import AllKey
from .search.ordering import SORT_KEYS, SortCriterionLike

#: The position of a forest node that holds no message.
DUMMY = 0xFFFFFFFF
_BIG_ENDIAN = sys.byteorder == "big"


def _u32(values: Sequence[int] = ()) -> array[int]:
    out = array("I", values)
    if out.itemsize != 4:  # pragma: no cover - every platform we run on
        out = array("L", values)
    return out


def _to_bytes(values: array[int]) -> bytes:
    if _BIG_ENDIAN:  # pragma: no cover
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_bytes(data: bytes) -> array[int] | None:
    values = _u32()
    if len(data) % values.itemsize:
        return None
    values.frombytes(data)
    if _BIG_ENDIAN:  # pragma: no cover
        values.byteswap()
    return values


def is_whole_folder(keys: Sequence[object]) -> bool:
    """Whether a search program selects every message (``ALL``)."""
    return len(keys) == 1 and isinstance(keys[0], AllKey)


def set_digest(uids: Sequence[int]) -> bytes:
    """The digest that names a folder's set of messages (its UIDs in order)."""
    return hashlib.blake2b(_to_bytes(_u32(uids)), digest_size=ORDER_DIGEST_SIZE).digest()


def sort_key(criteria: Sequence[SortCriterionLike]) -> str | None:
    """The cache key of a SORT's criteria, or None when its answer is not
    kept (ARRIVAL, or a key SORT does not know: that is an error later)."""
    words = []
    for criterion in criteria:
        word = criterion.key.upper()
        if word not in SORT_KEYS or word == "ARRIVAL":
            return None
        words.append(("REVERSE " if criterion.reverse else "") + word)
    return "SORT " + " ".join(words) if words else None


def thread_key(algorithm: str) -> str:
    return "THREAD " + algorithm.upper()


def encode_sort(positions: Sequence[int]) -> bytes:
    return _to_bytes(_u32(positions))


def decode_sort(data: bytes, count: int) -> list[int] | None:
    """The positions of a saved SORT order over ``count`` messages, or
    None when the data is not a permutation of them."""
    values = _from_bytes(data)
    if values is None or len(values) != count:
        return None
    positions = values.tolist()
    if count and (max(positions) >= count or len(set(positions)) != count):
        return None
    return positions


def encode_forest(forest: Sequence[ThreadNode], position_of: Callable[[int], int]) -> bytes:
    """A THREAD answer, its message numbers turned into positions."""
    out = _u32()
    stack = list(reversed(forest))
    while stack:
        node = stack.pop()
        out.append(DUMMY if node.message is None else position_of(node.message))
        out.append(len(node.children))
        stack.extend(reversed(node.children))
    return _to_bytes(out)


def decode_forest(data: bytes, numbers: Sequence[int]) -> list[ThreadNode] | None:
    """A saved THREAD answer over ``len(numbers)`` messages, each position
    answered as ``numbers[position]``; None when the data is not a forest
    holding each of them exactly once."""
    values = _from_bytes(data)
    count = len(numbers)
    if values is None or len(values) % 2:
        return None
    seen = bytearray(count)
    found = 0
    roots: list[ThreadNode] = []
    # Open nodes: [number, children still to come, children so far].
    stack: list[list[object]] = []
    pairs = iter(values)
    for position, children in zip(pairs, pairs, strict=True):
        number: int | None
        if position == DUMMY:
            if not children:
                return None  # a node without a message holds others together
            number = None
        else:
            if position >= count or seen[position]:
                return None
            seen[position] = 1
            found += 1
            number = numbers[position]
        if children:
            stack.append([number, children, []])
            continue
        node = ThreadNode(number, ())
        while stack:
            top = stack[-1]
            kids: list[ThreadNode] = top[2]  # type: ignore[assignment]
            kids.append(node)
            top[1] = remaining = top[1] - 1  # type: ignore[operator]
            if remaining:
                break
            stack.pop()
            node = ThreadNode(top[0], tuple(kids))  # type: ignore[arg-type]
        else:
            roots.append(node)
    if stack or found != count:
        return None
    return roots
