"""Decoding for search and sort: RFC 2047 encoded words, transfer
encodings and charsets.  Never raises: undecodable text stays as close to
the raw bytes as possible.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from collections.abc import Iterator

from .address import parse_address_list
from .mimeparse import MimePart

_ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(rb"\?=[ \t\r\n]+=\?")


def _charset_codec(charset: bytes) -> str | None:
    name = charset.split(b"*", 1)[0].decode("ascii", "replace").strip()  # RFC 2231 language
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_raw(data: bytes) -> str:
    """Unencoded header or body bytes: UTF-8 if valid, else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _decode_word(match: re.Match[bytes]) -> str | None:
    charset, kind, text = match.group(1, 2, 3)
    codec = _charset_codec(charset)
    if codec is None:
        return None
    try:
        if kind in b"bB":
            raw = base64.b64decode(text + b"=" * (-len(text) % 4))
        else:
            raw = quopri.decodestring(text.replace(b"_", b" "), header=True)
    except (binascii.Error, ValueError):
        return None
    return raw.decode(codec, "replace")


def decode_header(value: bytes | None) -> str:
    """A header value with its RFC 2047 encoded words decoded.

    Whitespace between two encoded words is dropped (RFC 2047 section 6.2);
    a word with an unknown charset or broken encoding stays as written.
    """
    if not value:
        return ""
    if b"=?" not in value:
        return decode_raw(value)
    out: list[str] = []
    pos = 0
    previous_end = -1
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos:match.start()]
        decoded = _decode_word(match)
        if decoded is None:
            out.append(decode_raw(value[pos:match.end()]))
            previous_end = -1
        else:
            if not (previous_end == pos and between.strip(b" \t\r\n") == b""):
                out.append(decode_raw(between))
            out.append(decoded)
            previous_end = match.end()
        pos = match.end()
    out.append(decode_raw(value[pos:]))
    return "".join(out)


def decode_transfer(data: bytes, encoding: bytes) -> bytes:
    """A body with its Content-Transfer-Encoding undone (bad input: best effort)."""
    if encoding == b"base64":
        cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        if len(cleaned) % 4 == 1:          # a stray character cannot be decoded
            cleaned = cleaned[:-1]
        cleaned += b"=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return b""
    if encoding == b"quoted-printable":
        return quopri.decodestring(data)
    return data


def part_text(part: MimePart) -> str:
    """The decoded text of a text/* part (transfer encoding and charset)."""
    raw = decode_transfer(part.data[part.body_start:part.end], part.encoding)
    charset = part.param(b"charset")
    codec = _charset_codec(charset) if charset else None
    if codec is None:
        return decode_raw(raw)
    return raw.decode(codec, "replace")


def header_text(part: MimePart) -> str:
    """All header fields of an entity, decoded, one per line."""
    return "\n".join(f"{field.name.decode('latin-1')}: {decode_header(field.value)}"
                     for field in part.headers.fields if field.name)


def body_texts(root: MimePart) -> Iterator[str]:
    """Decoded text of every text/* part, and the headers of nested
    messages (SEARCH BODY looks inside them too), in message order."""
    stack = [root]
    while stack:
        part = stack.pop()
        if part.children:
            stack.extend(reversed(part.children))
        elif part.message is not None:
            yield header_text(part.message)
            stack.append(part.message)
        elif part.content_type.type == b"text":
            yield part_text(part)


def address_search_text(value: bytes | None) -> str:
    """What FROM/TO/CC/BCC search in: each address as its decoded display
    name and its address, so both "Müller" and "user@example.com" match."""
    if not value:
        return ""
    pieces: list[str] = []
    for address in parse_address_list(value):
        if address.host is None:
            if address.mailbox:
                pieces.append(decode_header(address.mailbox) + ":")
            continue
        name = decode_header(address.name) if address.name else ""
        pieces.append(f"{name} <{decode_raw(address.addr_spec)}>".strip())
    return ", ".join(pieces) if pieces else decode_header(value)


def search_key(text: str) -> str:
    """Case-insensitive matching form (Unicode casefold)."""
    return text.casefold()


def contains(haystack: str, needle: str) -> bool:
    """SEARCH substring match, case-insensitive on decoded Unicode."""
    return search_key(needle) in search_key(haystack)
