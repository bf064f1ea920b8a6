"""BODY[section]<partial> in the CRLF view (RFC 3501 section 6.4.5).

A section resolves to a list of segments: ranges of the stored bytes
(converted to CRLF on the way out, chunk by chunk) and small literal byte
strings (a selected header, a missing blank line).  Its size is known
without building it, and big bodies stream as chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .crlf import CHUNK_SIZE, crlf_chunks, crlf_length, partial, to_crlf
from .headers import mime_fields, select_fields
from .mimeparse import MimePart

Segment = bytes | tuple[int, int]


@dataclass(frozen=True, slots=True)
class Section:
    """What is inside the brackets of BODY[...]: part numbers, then a text specifier.

    ``text`` is one of "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
    "TEXT", "MIME"; ``fields`` holds the names for HEADER.FIELDS(.NOT).
    """

    part: tuple[int, ...] = ()
    text: str = ""
    fields: tuple[bytes, ...] = ()

    @classmethod
    def parse(cls, spec: str | bytes) -> Section:
        """``1.2.HEADER.FIELDS (From To)`` -> Section.  Raises ValueError if malformed."""
        if isinstance(spec, bytes):
            spec = spec.decode("ascii", "replace")
        match = _SECTION_RE.fullmatch(spec.strip())
        if match is None:
            raise ValueError(f"bad section specifier: {spec!r}")
        numbers, text, fields = match.group(1, 2, 3)
        part = tuple(int(n) for n in numbers.split(".") if n) if numbers else ()
        if any(n < 1 for n in part):
            raise ValueError(f"part numbers start at 1: {spec!r}")
        text = (text or "").upper()
        if text == "MIME" and not part:
            raise ValueError("MIME needs a part number")
        names = tuple(f.strip('"').encode() for f in fields.split()) if fields else ()
        return cls(part, text, names)


_SECTION_RE = re.compile(
    r"((?:\d+\.)*\d+)?\.?"
    r"(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?"
    r"\s*(?:\(([^)]*)\))?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SectionContent:
    """The bytes of one section, lazily, in the CRLF view."""

    data: bytes
    segments: tuple[Segment, ...]

    @property
    def size(self) -> int:
        return sum(len(seg) if isinstance(seg, bytes) else crlf_length(self.data, *seg)
                   for seg in self.segments)

    def chunks(self, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The section (or its ``<offset.length>`` slice) as CRLF chunks."""
        return partial(self._all_chunks(), offset, length) if offset or length is not None \
            else self._all_chunks()

    def to_bytes(self, offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.chunks(offset, length))

    def _all_chunks(self) -> Iterator[bytes]:
        for seg in self.segments:
            if isinstance(seg, bytes):
                if seg:
                    yield seg
            else:
                yield from crlf_chunks(self.data, seg[0], seg[1], CHUNK_SIZE)


def find_part(root: MimePart, numbers: tuple[int, ...]) -> tuple[MimePart, bool] | None:
    """The entity a part number names, and whether it is a single-part
    entity's body reached as its own "part 1" (its MIME header is then the
    message's MIME header fields).

    A message/rfc822 entity's numbers continue inside the encapsulated
    message, the top level included (what Courier does).
    """
    current = root
    as_own_body = False
    for number in numbers:
        if as_own_body:
            return None
        if current.message is not None:
            current = current.message
        if current.is_multipart and current.children:
            if number > len(current.children):
                return None
            current = current.children[number - 1]
        elif number == 1 and current.is_message:
            # A single-part message's only part is its body.
            as_own_body = True
        else:
            return None
    return current, as_own_body


def _mime_header_segments(entity: MimePart) -> tuple[Segment, ...]:
    # The entity's MIME header fields (a single-part message's own, for its
    # part 1), each ending in a line break, then the blank line if one was
    # stored; never empty (a lone CRLF): what Courier gives for n.MIME.
    fields = to_crlf(mime_fields(entity.headers))
    if entity.body_start > entity.header_end or not fields:
        return (fields, b"\r\n")
    return (fields,)


def section_content(root: MimePart, section: Section) -> SectionContent:
    """The content of BODY[section] of the message parsed as ``root``.

    A part that does not exist gives empty content, as Courier answers.
    """
    data = root.data
    empty = SectionContent(data, ())
    if section.part:
        found = find_part(root, section.part)
        if found is None:
            return empty
        entity, as_own_body = found
    else:
        entity, as_own_body = root, False
    text = section.text
    if text == "":
        return SectionContent(data, ((entity.body_start, entity.end),)) if section.part \
            else SectionContent(data, ((root.start, root.end),))
    if text == "MIME":
        return SectionContent(data, _mime_header_segments(entity))
    # HEADER / TEXT of a message/rfc822 part mean the encapsulated message's.
    if section.part and entity.message is not None and not as_own_body:
        entity = entity.message
    if text == "TEXT":
        return SectionContent(data, ((entity.body_start, entity.end),))
    if text == "HEADER":
        # The header as stored, blank line included when there is one and
        # nothing added when there is none (Courier's RFC822.HEADER): HEADER
        # and TEXT together are the entity, never more than RFC822.SIZE.
        return SectionContent(data, ((entity.start, entity.body_start),))
    selected = select_fields(data, entity.start, entity.header_end, section.fields,
                             exclude=text == "HEADER.FIELDS.NOT")
    return SectionContent(data, (to_crlf(selected), b"\r\n"))


def rfc822_size(data: bytes) -> int:
    """RFC822.SIZE: the whole message in the CRLF view."""
    return crlf_length(data)
