"""Header blocks: where they end, their fields, and field selection.

Everything works on the stored bytes and on offsets into them, so that a
caller holding only the first few kilobytes of a file can still find the
header block and answer ENVELOPE without reading the body.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, NamedTuple

_BLANK_LINE = re.compile(rb"\n\r?\n")


def header_bounds(data: bytes, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """``(header_end, body_start)`` of the header block that begins at ``start``.

    ``header_end`` is just after the last header line's line end;
    ``body_start`` is just after the blank separator line.  A block that
    starts with a blank line is empty; one with no blank line runs to ``end``
    and the body is empty.
    """
    if end is None:
        end = len(data)
    if data.startswith(b"\n", start) and start < end:
        return start, start + 1
    if data.startswith(b"\r\n", start) and start + 1 < end:
        return start, start + 2
    found = _BLANK_LINE.search(data, start, end)
    if found is None:
        return end, end
    return found.start() + 1, found.end()


def header_block_complete(data: bytes) -> bool:
    """Whether ``data`` (a file's first bytes) holds the whole header block."""
    return data[:1] == b"\n" or data[:2] == b"\r\n" or _BLANK_LINE.search(data) is not None


#: Headers of real mail fit in a few KiB: a header block is read in steps
#: of this until the blank line shows, never a big attachment after it.
HEADER_READ_STEP = 8192


def read_header_block(stream: BinaryIO) -> bytes:
    """A message file's first bytes, up to at least the end of its header
    block (or the whole file when it has no blank line)."""
    return _read_header(stream.read)


def read_header_fd(fd: int) -> bytes:
    """:func:`read_header_block` from a file descriptor: a worker reading
    the headers of thousands of files spares the file object (~10 us a
    file: a buffered reader's set-up and its own system calls)."""
    return _read_header(functools.partial(os.read, fd))


def _read_header(read: Callable[[int], bytes]) -> bytes:
    data = b""
    while True:
        chunk = read(HEADER_READ_STEP)
        data += chunk
        if not chunk or header_block_complete(data):
            return data


class HeaderField(NamedTuple):
    """One header field as stored: its name, and its raw lines.

    A named tuple rather than a frozen dataclass: a header block makes
    one per field, and a tuple is several times cheaper to build."""

    name: bytes          # as written, without the colon; b"" for a line without colon
    raw: bytes           # every line of the field including line ends
    value_start: int     # offset of the value (after the colon) inside ``raw``

    @property
    def lower_name(self) -> bytes:
        return self.name.lower()

    @property
    def value(self) -> bytes:
        """The value unfolded: line ends removed, whitespace kept, ends stripped."""
        # Every CR and LF goes (a CRLF pair, a bare LF, a lone CR alike).
        return self.raw[self.value_start:].translate(None, b"\r\n").strip()


# One field: its first line (whatever it starts with: a block's first line
# starts a field even if it begins with white space), then every
# continuation line, each line with its LF if it has one.
_FIELD = re.compile(rb"[^\n]*\n?(?:[ \t][^\n]*\n?)*")
# The same match as group 1, and as group 2 the first line up to and with
# its first colon (empty for a line without colon): ``findall`` hands out
# both as a tuple per field, without a match object each.
_NAMED_FIELD = re.compile(rb"(([^\n:]*:)?[^\n]*\n?(?:[ \t][^\n]*\n?)*)")
# A HeaderField made by tuple.__new__ directly: the named tuple's own
# __new__ is a Python function, a call per field of every header block.
_new_tuple = tuple.__new__


def iter_fields(data: bytes, start: int = 0, end: int | None = None) -> Iterator[HeaderField]:
    """The fields of the header block ``data[start:end]`` (no blank line in it)."""
    if end is None:
        end = len(data)
    for found in _FIELD.finditer(data, start, end):
        raw = found.group()
        if raw:
            yield _make_field(raw)


def _make_field(raw: bytes) -> HeaderField:
    colon = raw.find(b":")
    newline = raw.find(b"\n")
    if colon < 0 or (0 <= newline < colon):
        return HeaderField(b"", raw, 0)
    return HeaderField(raw[:colon].strip(), raw, colon + 1)


class Headers:
    """The parsed fields of one header block, looked up case-insensitively."""

    __slots__ = ("_by_name", "fields")

    def __init__(self, fields: Iterable[HeaderField]) -> None:
        self.fields = tuple(fields)
        self._by_name: dict[bytes, list[HeaderField]] = {}
        for field in self.fields:
            if field.name:
                self._by_name.setdefault(field.lower_name, []).append(field)

    @classmethod
    def parse(cls, data: bytes, start: int = 0, end: int | None = None) -> Headers:
        """The fields of ``data[start:end]``: what ``Headers(iter_fields(...))``
        gives, in one loop (every message parse starts here)."""
        if end is None:
            end = len(data)
        fields: list[HeaderField] = []
        by_name: dict[bytes, list[HeaderField]] = {}
        for raw, head in _NAMED_FIELD.findall(data, start, end):
            if not head:
                if raw:  # findall's last, empty match is no field
                    fields.append(_new_tuple(HeaderField, (b"", raw, 0)))
                continue
            name = head[:-1].strip()
            field = _new_tuple(HeaderField, (name, raw, len(head)))
            fields.append(field)
            if name:
                lower = name.lower()
                same = by_name.get(lower)
                if same is None:
                    by_name[lower] = [field]
                else:
                    same.append(field)
        headers = cls.__new__(cls)
        headers.fields = tuple(fields)
        headers._by_name = by_name
        return headers

    def get(self, name: bytes) -> bytes | None:
        """Unfolded value of the first field called ``name``, or None."""
        return self.lookup(name.lower())

    def lookup(self, lower_name: bytes) -> bytes | None:
        """:meth:`get` for a name already in lower case: the parsers' own
        lookups (a dozen or more per message parsed), without lowering the
        name or a property call for the value."""
        found = self._by_name.get(lower_name)
        if not found:
            return None
        field = found[0]
        # HeaderField.value, inlined (a test holds the two to each other).
        return field.raw[field.value_start:].translate(None, b"\r\n").strip()

    def has(self, lower_name: bytes) -> bool:
        """``lower_name in self`` for a name already in lower case."""
        return lower_name in self._by_name

    def get_all(self, name: bytes) -> list[bytes]:
        return [field.value for field in self._by_name.get(name.lower(), ())]

    def __contains__(self, name: bytes) -> bool:
        return name.lower() in self._by_name


def select_fields(data: bytes, start: int, end: int, names: Iterable[bytes],
                  *, exclude: bool = False) -> bytes:
    """HEADER.FIELDS (or .NOT with ``exclude``) of a header block, in stored form.

    Continuation lines stay with their field; lines without a colon belong
    to no field, so only .NOT keeps them.  The caller adds the blank line.
    """
    wanted = {name.lower() for name in names}
    kept = [field.raw for field in iter_fields(data, start, end)
            if (field.name.lower() in wanted) != exclude and (field.name or exclude)]
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += b"\n"
    return b"".join(kept)


def mime_fields(headers: Headers) -> bytes:
    """The MIME header fields (RFC 2045: MIME-Version and Content-*) of a
    header block, in stored form and order: what Courier gives for
    ``n.MIME``.  The caller adds the blank line."""
    kept = [field.raw for field in headers.fields
            if field.lower_name == b"mime-version" or field.lower_name.startswith(b"content-")]
    if kept and not kept[-1].endswith(b"\n"):
        kept[-1] += b"\n"
    return b"".join(kept)
