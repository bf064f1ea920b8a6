"""RFC 5322 address lists as the IMAP ENVELOPE sees them.

Values stay raw header bytes (no RFC 2047 decoding): the client decodes.
Broken lists never raise; whatever cannot be read as an address is read as
well as can be, the way mail readers do.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NamedTuple

_SPECIALS = frozenset(b"<>@,;:.")
_WHITESPACE = frozenset(b" \t\r\n")

# The tokens of a value without comments, by one regular expression (the
# byte-by-byte loop below is kept for comments, which nest).  Groups:
# white space, quoted string (its inside), domain literal, special, atom.
# A quoted string or domain literal left open runs to the end; a
# backslash escapes the next byte inside quotes, except a last one.
_TOKEN = re.compile(rb"""
    ([ \t\r\n]+)
  | "((?:\\[\s\S]|[^"\\]|\\\Z)*)"?
  | (\[[^\]]*\]?)
  | ([<>@,;:.])
  | ([^ \t\r\n<>@,;:."(\[]+)
""", re.VERBOSE)
_ESCAPED = re.compile(rb"\\([\s\S])")

# One mailbox in the shape nearly every From, To and Cc has: an optional
# display name (one quoted string, or atoms between spaces) and an address
# in angle brackets, or a bare address; no comment, group, route, escape
# or line break.  Such a value is read by one match instead of a token list
# (parse_address_list is a good part of a first ENVELOPE's cost), with the
# same result as the general path: test_address_tokens checks that.
# Groups: quoted name, atom name, mailbox, host; then mailbox, host of a
# bare address.  The mailbox and host are atoms and dots, kept as written.
_SIMPLE_ATOM = rb'[^ \t\r\n<>@,;:."(\[\]\\]+'
_SIMPLE_DOTTED = rb'[^ \t\r\n<>@,;:"(\[\]\\]+'
_SIMPLE_MAILBOX = re.compile(
    rb'[ \t]*(?:(?:"([^"\\\r\n(]*)"|(%(atom)s(?:[ \t]+%(atom)s)*))[ \t]*)?'
    rb'<(%(dotted)s)@(%(dotted)s)>[ \t]*'
    rb'|[ \t]*(%(dotted)s)@(%(dotted)s)[ \t]*'
    % {b"atom": _SIMPLE_ATOM, b"dotted": _SIMPLE_DOTTED})
_SPACES = re.compile(rb"[ \t]+")


class Address(NamedTuple):
    """One ENVELOPE address: (name, adl, mailbox, host).

    A group is a start marker (mailbox = group name, host None) and an end
    marker (all None) around its members, as RFC 3501 section 7.4.2 says.

    A named tuple rather than a frozen dataclass: the first parse of every
    message makes several, and a tuple is a few times cheaper to build.
    """

    name: bytes | None
    adl: bytes | None
    mailbox: bytes | None
    host: bytes | None

    @property
    def is_group_start(self) -> bool:
        return self.host is None and self.mailbox is not None

    @property
    def is_group_end(self) -> bool:
        return self.host is None and self.mailbox is None

    @property
    def addr_spec(self) -> bytes:
        """``mailbox@host`` (just the mailbox when there is no host)."""
        if not self.host:
            return self.mailbox or b""
        return (self.mailbox or b"") + b"@" + self.host


@dataclass(slots=True)
class _Token:
    kind: str        # "atom", "quoted", "comment", "literal", or the special itself
    text: bytes      # unquoted text (quoted, comment) or the raw text
    raw: bytes       # as written
    space_before: bool


def _tokenize(value: bytes) -> list[_Token]:
    return _tokenize_plain(value) if b"(" not in value else _tokenize_loop(value)


def _tokenize_loop(value: bytes) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(value)
    space = False
    while i < n:
        c = value[i]
        if c in _WHITESPACE:
            space = True
            i += 1
            continue
        start = i
        if c == 0x22:  # quoted string
            i += 1
            out = bytearray()
            while i < n and value[i] != 0x22:
                if value[i] == 0x5C and i + 1 < n:
                    i += 1
                if value[i] not in (0x0D, 0x0A):
                    out.append(value[i])
                i += 1
            i += 1
            tokens.append(_Token("quoted", bytes(out), value[start:i], space))
        elif c == 0x28:  # comment, nested
            depth = 0
            out = bytearray()
            while i < n:
                ch = value[i]
                if ch == 0x5C and i + 1 < n:
                    out.append(value[i + 1])
                    i += 2
                    continue
                if ch == 0x28:
                    depth += 1
                    if depth > 1:
                        out.append(ch)
                elif ch == 0x29:
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                    out.append(ch)
                else:
                    out.append(ch)
                i += 1
            tokens.append(_Token("comment", bytes(out).strip(), value[start:i], space))
        elif c == 0x5B:  # domain literal
            close = value.find(b"]", i)
            i = n if close < 0 else close + 1
            tokens.append(_Token("literal", value[start:i], value[start:i], space))
        elif c in _SPECIALS:
            i += 1
            tokens.append(_Token(chr(c), value[start:i], value[start:i], space))
        else:
            while i < n and value[i] not in _WHITESPACE and value[i] not in _SPECIALS \
                    and value[i] not in (0x22, 0x28, 0x5B):
                i += 1
            tokens.append(_Token("atom", value[start:i], value[start:i], space))
        space = False
    return tokens


def _tokenize_plain(value: bytes) -> list[_Token]:
    """:func:`_tokenize` for a value without comments, the common case."""
    tokens: list[_Token] = []
    space = False
    for found in _TOKEN.finditer(value):
        kind = found.lastindex
        raw = found.group()
        if kind == 1:
            space = True
            continue
        if kind == 2:
            inside = found.group(2)
            if b"\\" in inside:
                inside = _ESCAPED.sub(rb"\1", inside)
            if b"\r" in inside or b"\n" in inside:
                inside = inside.replace(b"\r", b"").replace(b"\n", b"")
            tokens.append(_Token("quoted", inside, raw, space))
        elif kind == 3:
            tokens.append(_Token("literal", raw, raw, space))
        elif kind == 4:
            tokens.append(_Token(raw.decode("ascii"), raw, raw, space))
        else:
            tokens.append(_Token("atom", raw, raw, space))
        space = False
    return tokens


def _phrase(tokens: list[_Token]) -> bytes | None:
    words = [t for t in tokens if t.kind != "comment"]
    if not words:
        return None
    out = bytearray()
    for index, token in enumerate(words):
        if index and token.space_before:
            out += b" "
        out += token.text
    return bytes(out)


def _raw_join(tokens: list[_Token]) -> bytes:
    return b"".join(t.raw for t in tokens if t.kind != "comment")


def _first_comment(tokens: list[_Token]) -> bytes | None:
    for token in tokens:
        if token.kind == "comment" and token.text:
            return token.text
    return None


def _addr_spec(tokens: list[_Token]) -> tuple[bytes, bytes]:
    words = [t for t in tokens if t.kind != "comment"]
    at = max((i for i, t in enumerate(words) if t.kind == "@"), default=-1)
    if at < 0:
        return _raw_join(words), b""
    return _raw_join(words[:at]), _raw_join(words[at + 1:])


def _address(tokens: list[_Token]) -> Address | None:
    if not any(t.kind != "comment" for t in tokens):
        return None
    open_at = next((i for i, t in enumerate(tokens) if t.kind == "<"), -1)
    if open_at < 0:
        mailbox, host = _addr_spec(tokens)
        return Address(_first_comment(tokens), None, mailbox, host)
    close_at = next((i for i in range(open_at + 1, len(tokens)) if tokens[i].kind == ">"),
                    len(tokens))
    inside = tokens[open_at + 1:close_at]
    name = _phrase(tokens[:open_at]) or _first_comment(tokens[:open_at] + tokens[close_at:])
    adl: bytes | None = None
    if inside and inside[0].kind == "@":
        colon = next((i for i, t in enumerate(inside) if t.kind == ":"), -1)
        if colon >= 0:
            adl = _raw_join(inside[:colon])
            inside = inside[colon + 1:]
    mailbox, host = _addr_spec(inside)
    return Address(name, adl, mailbox, host)


def parse_address_list(value: bytes | None) -> tuple[Address, ...]:
    """The addresses of one header value, groups as start/end markers."""
    if not value:
        return ()
    if len(value) <= _CACHED_VALUE_LENGTH:
        return _cached_address_list(value)
    return _address_list(value)


# A folder's From, To and Cc values come from its few hundred
# correspondents (10,000 messages of the benchmark's corpus: 333 distinct
# From values): each is read once.  The result is a tuple of immutable
# Addresses, safe to share; long (hostile) values are not kept.
_CACHED_VALUE_LENGTH = 256


def _address_list(value: bytes) -> tuple[Address, ...]:
    """:func:`parse_address_list` of a non-empty value."""
    simple = _SIMPLE_MAILBOX.fullmatch(value)
    if simple is None:
        return _parse_address_list(value)
    quoted, atoms, mailbox, host, bare_mailbox, bare_host = simple.groups()
    if bare_mailbox is not None:
        return (Address(None, None, bare_mailbox, bare_host),)
    # The general path drops an empty quoted name (NIL) and writes the
    # white space between atoms as one space.
    name = quoted or None if atoms is None else _SPACES.sub(b" ", atoms)
    return (Address(name, None, mailbox, host),)


_cached_address_list = functools.lru_cache(maxsize=2048)(_address_list)


def _parse_address_list(value: bytes) -> tuple[Address, ...]:
    """:func:`parse_address_list` for any value, token by token."""
    result: list[Address] = []
    current: list[_Token] = []
    in_angle = False
    in_group = False

    def flush() -> None:
        address = _address(current)
        if address is not None:
            result.append(address)
        current.clear()

    for token in _tokenize(value):
        kind = token.kind
        if in_angle:
            current.append(token)
            if kind == ">":
                in_angle = False
            continue
        if kind == "<":
            in_angle = True
            current.append(token)
        elif kind == ",":
            flush()
        elif kind == ":" and not in_group:
            name = _phrase(current) or b""
            current.clear()
            result.append(Address(None, None, name, None))
            in_group = True
        elif kind == ";" and in_group:
            flush()
            result.append(Address(None, None, None, None))
            in_group = False
        else:
            current.append(token)
    flush()
    if in_group:
        result.append(Address(None, None, None, None))
    return tuple(result)
