"""The MIME structure of a message: a tree of parts located by offsets.

The parser never copies the message: every part records where its header
block and body lie in the stored bytes.  It never raises on bad mail;
missing boundaries, unterminated multiparts and garbage headers give the
best structure that can be read, following what Courier-IMAP reports
where the RFCs leave room (see docs/message.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from .crlf import crlf_length, line_count
from .headers import Headers, header_bounds

# Courier and Dovecot both stop descending somewhere; real mail never
# nests this deep, and the limit keeps hostile mail from exhausting the
# stack.  Deeper parts are reported as opaque leaves.
MAX_NESTING = 40

# A multipart with thousands of parts is an attack, not mail; the rest of
# the body goes into the last part counted.
MAX_PARTS = 5000

# What Courier reports when a part has no Content-Transfer-Encoding
# (RFC 2045 would say 7bit; both mean "no decoding").
DEFAULT_ENCODING = b"8bit"


@dataclass(frozen=True, slots=True)
class ContentType:
    type: bytes                                  # lower case
    subtype: bytes                               # lower case, b"" when missing
    params: tuple[tuple[bytes, bytes], ...]      # names lower case, values as given


def _split_params(text: bytes) -> list[bytes]:
    """Split at semicolons that are not inside quotes."""
    if b"\\" not in text:
        # Without backslashes the quotes simply alternate: every other
        # run between them is inside a quoted string (the usual
        # ``boundary="..."``), and only the runs outside are split.
        # Byte for byte what the loop below gives.
        runs = text.split(b'"')
        pieces = runs[0].split(b";")
        for index in range(1, len(runs)):
            if index % 2:
                pieces[-1] += b'"' + runs[index]
            else:
                first, *rest = runs[index].split(b";")
                pieces[-1] += b'"' + first
                pieces += rest
        return pieces
    return _split_params_escaped(text)


def _split_params_escaped(text: bytes) -> list[bytes]:
    """:func:`_split_params` for text with backslashes, byte by byte."""
    pieces: list[bytes] = []
    current = bytearray()
    quoted = False
    escaped = False
    for byte in text:
        if escaped:
            current.append(byte)
            escaped = False
        elif byte == 0x5C and quoted:
            current.append(byte)
            escaped = True
        elif byte == 0x22:
            quoted = not quoted
            current.append(byte)
        elif byte == 0x3B and not quoted:
            pieces.append(bytes(current))
            current.clear()
        else:
            current.append(byte)
    pieces.append(bytes(current))
    return pieces


def _strip_comments(text: bytes) -> bytes:
    if b"(" not in text:
        return text
    out = bytearray()
    depth = 0
    quoted = False
    for byte in text:
        if byte == 0x22 and depth == 0:
            quoted = not quoted
        if not quoted and byte == 0x28:
            depth += 1
            continue
        if not quoted and byte == 0x29 and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(byte)
    return bytes(out)


def _unquote(value: bytes) -> bytes:
    value = value.strip()
    if len(value) >= 2 and value[:1] == b'"':
        inner = value[1:-1] if value.endswith(b'"') else value[1:]
        if b"\\" not in inner:
            return inner
        out = bytearray()
        escaped = False
        for byte in inner:
            if byte == 0x5C and not escaped:
                escaped = True
                continue
            out.append(byte)
            escaped = False
        return bytes(out)
    return value


def parse_parameters(pieces: list[bytes]) -> tuple[tuple[bytes, bytes], ...]:
    params: list[tuple[bytes, bytes]] = []
    for piece in pieces:
        name, equals, value = piece.partition(b"=")
        name = name.strip().lower()
        if not equals or not name:
            continue
        params.append((name, _unquote(value)))
    return tuple(params)


def parse_value_with_params(value: bytes) -> tuple[bytes, tuple[tuple[bytes, bytes], ...]]:
    """``token; a=b; c="d"`` -> (lower-case token, params)."""
    pieces = _split_params(_strip_comments(value))
    return pieces[0].strip().lower(), parse_parameters(pieces[1:])


def parse_content_type(value: bytes | None, default: ContentType) -> ContentType:
    if value is None:
        return default
    if len(value) <= _CACHED_VALUE_LENGTH:
        return _cached_content_type_value(value) or default
    return _content_type_value(value) or default


# A folder's messages share a few Content-Type values (``text/plain;
# charset=utf-8``, ...): each is parsed once.  ContentType is immutable,
# so sharing one is safe; multipart boundaries differ and just pass through.
# Long (hostile) values are not kept.
_CACHED_VALUE_LENGTH = 256


def _content_type_value(value: bytes) -> ContentType | None:
    """The ContentType of a field value, None when it names no type."""
    head, params = parse_value_with_params(value)
    if not head:
        return None
    main, _slash, sub = head.partition(b"/")
    return ContentType(main.strip(), sub.strip(), params)


_cached_content_type_value = functools.lru_cache(maxsize=512)(_content_type_value)


TEXT_PLAIN = ContentType(b"text", b"plain", ())
MESSAGE_RFC822 = ContentType(b"message", b"rfc822", ())


@dataclass(eq=False, slots=True)
class MimePart:
    """One entity: its header block and body as offsets into the message bytes."""

    data: bytes = field(repr=False)
    start: int                  # first byte of the header block
    header_end: int             # end of the header lines
    body_start: int             # first byte of the body (after the blank line)
    end: int                    # end of the body
    headers: Headers = field(repr=False)
    content_type: ContentType
    is_message: bool            # the header block is a whole message's (RFC 5322) header
    children: tuple[MimePart, ...] = ()       # parts of a multipart
    message: MimePart | None = None           # the message inside a message/rfc822
    # body_size and body_lines once counted: counting is a scan of the
    # body, and BODYSTRUCTURE asks for both (and RFC822.SIZE for the sum).
    _body_size: int = field(default=-1, repr=False)
    _body_lines: int = field(default=-1, repr=False)

    @property
    def is_multipart(self) -> bool:
        return self.content_type.type == b"multipart"

    @property
    def encoding(self) -> bytes:
        # Read with or without MIME-Version, as Courier reads it.
        return encoding_of(self.headers.lookup(b"content-transfer-encoding"))

    def content_lookup(self) -> Callable[[bytes], bytes | None]:
        """The lookup (by lower-case name) of the Content-* fields that
        count only in a MIME entity: Content-Type and Content-Disposition
        (and the Content-Language and -Location Courier never reports),
        none in a message without MIME-Version.  (Content-Transfer-Encoding,
        -ID, -Description and -MD5 count either way, as in Courier: read
        them from ``headers``.)"""
        return self.headers.lookup if _is_mime(self.headers, self.is_message) else _no_field

    def param(self, name: bytes) -> bytes | None:
        for key, value in self.content_type.params:
            if key == name:
                return value
        return None

    # Sizes in the CRLF view, as IMAP reports them.
    @property
    def body_size(self) -> int:
        if self._body_size < 0:
            self._body_size = self._count_body_size()
        return self._body_size

    def _count_body_size(self) -> int:
        """``crlf_length`` of the body, scanning each byte once for the
        whole tree: CRLF lengths add up over ranges cut at line starts or
        line ends, which is where parts begin and end."""
        data, start, end = self.data, self.body_start, self.end
        if end <= start:
            return 0
        if self.children:
            # The parts' own sizes (BODYSTRUCTURE counts them anyway) and
            # the delimiter lines around them.
            size = 0
            pos = start
            for child in self.children:
                size += crlf_length(data, pos, child.start) + child.size
                pos = child.end
            return size + crlf_length(data, pos, end)
        if self.message is not None:
            return self.message.size  # the inner message is the whole body
        if data.find(b"\r", start, end) >= 0:
            return crlf_length(data, start, end)
        # No CR: every line end is a bare LF, one more octet each.
        return end - start + self.body_lines

    @property
    def body_lines(self) -> int:
        if self._body_lines < 0:
            self._body_lines = line_count(self.data, self.body_start, self.end)
        return self._body_lines

    @property
    def header_size(self) -> int:
        return crlf_length(self.data, self.start, self.body_start)

    @property
    def size(self) -> int:
        """``crlf_length`` of the whole entity (RFC822.SIZE of a message)."""
        return self.header_size + self.body_size


def _no_field(lower_name: bytes) -> None:
    return None


def _is_mime(headers: Headers, is_message: bool) -> bool:
    """Whether an entity's MIME fields count: a message's (top level or
    inside message/rfc822) only with MIME-Version, a part's always."""
    return not is_message or headers.has(b"mime-version")


def encoding_of(value: bytes | None) -> bytes:
    """The Content-Transfer-Encoding a field value names (lower case)."""
    return _strip_comments(value).strip().lower() if value else DEFAULT_ENCODING


def parse_message(data: bytes) -> MimePart:
    """The MIME tree of a whole message (never raises)."""
    return _parse_entity(data, 0, len(data), is_message=True, default=TEXT_PLAIN, depth=0)


def parse_header_only(data: bytes) -> MimePart:
    """The top entity of a message, from as much of the file as is at hand.

    Enough for ENVELOPE and the top Content-Type; children are not parsed.
    """
    header_end, body_start = header_bounds(data)
    headers = Headers.parse(data, 0, header_end)
    content_type = _content_type(headers, True, TEXT_PLAIN)
    return MimePart(data, 0, header_end, body_start, len(data), headers, content_type, True)


def _content_type(headers: Headers, is_message: bool, default: ContentType) -> ContentType:
    if not _is_mime(headers, is_message):
        return TEXT_PLAIN
    return parse_content_type(headers.lookup(b"content-type"), default)


def _parse_entity(data: bytes, start: int, end: int, *, is_message: bool,
                  default: ContentType, depth: int) -> MimePart:
    header_end, body_start = header_bounds(data, start, end)
    headers = Headers.parse(data, start, header_end)
    content_type = _content_type(headers, is_message, default)
    part = MimePart(data, start, header_end, body_start, end, headers, content_type, is_message)
    if depth >= MAX_NESTING:
        return part
    if content_type.type == b"multipart":
        child_default = MESSAGE_RFC822 if content_type.subtype == b"digest" else TEXT_PLAIN
        ranges = _multipart_ranges(data, body_start, end, part.param(b"boundary"))
        if not ranges:
            # No delimiter at all: IMAP needs at least one part, so the
            # whole body becomes one headerless text part.
            ranges = [(body_start, end)]
        part.children = tuple(
            _parse_entity(data, s, e, is_message=False, default=child_default, depth=depth + 1)
            for s, e in ranges)
    elif content_type.type == b"message" and content_type.subtype == b"rfc822":
        part.message = _parse_entity(data, body_start, end, is_message=True,
                                     default=TEXT_PLAIN, depth=depth + 1)
    return part


def _line_break_before(data: bytes, pos: int, floor: int) -> int:
    """Where the line break that ends just before ``pos`` starts."""
    if pos > floor and data[pos - 1] == 0x0A:
        pos -= 1
        if pos > floor and data[pos - 1] == 0x0D:
            pos -= 1
    return pos


def _multipart_ranges(data: bytes, body_start: int, end: int,
                      boundary: bytes | None) -> list[tuple[int, int]]:
    """The (start, end) of each part between the delimiter lines."""
    if not boundary:
        return []
    delimiter = b"--" + boundary
    ranges: list[tuple[int, int]] = []
    part_start = -1
    pos = body_start
    while True:
        found = data.find(delimiter, pos, end)
        if found < 0:
            break
        pos = found + 1
        if found != body_start and data[found - 1] != 0x0A:
            continue
        after = found + len(delimiter)
        closing = data.startswith(b"--", after) and after + 2 <= end
        newline = data.find(b"\n", after, end)
        line_end = end if newline < 0 else newline + 1
        if part_start >= 0:
            ranges.append((part_start, _line_break_before(data, found, part_start)))
        if closing:
            return ranges
        if len(ranges) >= MAX_PARTS:
            break
        part_start = line_end
        pos = line_end
    if part_start >= 0:
        # Unterminated: the last part runs to the end, minus the final
        # line break that its missing delimiter line would have owned.
        ranges.append((part_start, _line_break_before(data, end, part_start)))
    return ranges
