"""Sequence sets (RFC 3501 ``sequence-set``), with ``*`` and RFC 5182's ``$``.

A set is kept as the client wrote it, so that it serializes back unchanged;
:meth:`SequenceSet.resolve` turns it into sorted, merged ``(first, last)``
ranges once the session knows the largest number in use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

#: The largest value of an RFC 3501 ``number`` (32-bit unsigned).
MAX_NUMBER = 4_294_967_295

#: ``*`` in a sequence range: "the largest number in use".
STAR = None


@dataclass(frozen=True, slots=True)
class SeqRange:
    """``first:last`` as written; ``None`` stands for ``*``.  A single number
    has ``first == last``."""

    first: int | None
    last: int | None

    def to_wire(self) -> str:
        first = "*" if self.first is None else str(self.first)
        if self.first == self.last:
            return first
        return first + ":" + ("*" if self.last is None else str(self.last))


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """A sequence set, or the saved search result ``$`` (``saved=True``)."""

    ranges: tuple[SeqRange, ...] = ()
    saved: bool = False

    @classmethod
    def of(cls, *items: int | tuple[int | None, int | None] | None) -> SequenceSet:
        """``SequenceSet.of(1, (3, 5), (7, None))`` -> ``1,3:5,7:*``."""
        ranges = []
        for item in items:
            if isinstance(item, tuple):
                ranges.append(SeqRange(item[0], item[1]))
            else:
                ranges.append(SeqRange(item, item))
        return cls(tuple(ranges))

    @classmethod
    def from_numbers(cls, numbers: Iterable[int]) -> SequenceSet:
        """The shortest set holding exactly ``numbers`` (for COPYUID, SEARCH
        results and the like)."""
        ranges: list[SeqRange] = []
        start = end = -2
        for n in sorted(set(numbers)):
            if n == end + 1:
                end = n
                continue
            if start >= 0:
                ranges.append(SeqRange(start, end))
            start = end = n
        if start >= 0:
            ranges.append(SeqRange(start, end))
        return cls(tuple(ranges))

    def to_wire(self) -> str:
        if self.saved:
            return "$"
        return ",".join(r.to_wire() for r in self.ranges)

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged, inclusive ranges; ``*`` becomes ``largest``.

        ``largest`` is the number of messages (sequence numbers) or the
        highest UID in use.  ``$`` cannot be resolved here: the session
        holds the saved result.  Ranges are not clipped to ``largest``
        (for UIDs, ``5:7`` with only UID 6 existing is fine); callers clip.
        """
        if self.saved:
            raise ValueError("$ refers to the saved search result, held by the session")
        spans = []
        for r in self.ranges:
            a = largest if r.first is None else r.first
            b = largest if r.last is None else r.last
            spans.append((a, b) if a <= b else (b, a))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1] + 1:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        return merged

    def iter_numbers(self, largest: int) -> Iterator[int]:
        """Every number of the set up to ``largest``, ascending."""
        for a, b in self.resolve(largest):
            yield from range(max(a, 1), min(b, largest) + 1)

    def contains(self, number: int, largest: int) -> bool:
        return any(a <= number <= b for a, b in self.resolve(largest))


def parse_sequence_set(text: bytes, max_items: int = MAX_NUMBER) -> SequenceSet | None:
    """Parse a whole sequence set; None if ``text`` is not one.  (The
    command parser uses its own reader; this is for callers and tests.)"""
    if text == b"$":
        return SequenceSet(saved=True)
    ranges: list[SeqRange] = []
    for part in text.split(b","):
        if len(ranges) >= max_items:
            return None
        ends = part.split(b":")
        if len(ends) > 2:
            return None
        values: list[int | None] = []
        for end in ends:
            if end == b"*":
                values.append(None)
            elif end.isdigit() and end[0:1] != b"0" and len(end) <= 10 and int(end) <= MAX_NUMBER:
                values.append(int(end))
            else:
                return None
        ranges.append(SeqRange(values[0], values[-1]))
    return SequenceSet(tuple(ranges))
