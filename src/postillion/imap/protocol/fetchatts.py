"""FETCH attributes (RFC 3501 section 6.4.5, BINARY from RFC 3516) as
typed values, their parser and their wire form.

Sections reuse :class:`postillion.message.Section`, so what the parser
produces is what the message layer resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

from postillion.message import Section

from . import wire
from .lexer import Reader

#: Attributes that are a bare name.
SIMPLE_ATTRIBUTES = frozenset({
    "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
    "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID",
})

#: The macros and what they stand for (RFC 3501 section 6.4.5).
MACROS: dict[str, tuple[str, ...]] = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}

_SECTION_TEXTS = ("HEADER.FIELDS.NOT", "HEADER.FIELDS", "HEADER", "TEXT", "MIME")
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.")


@dataclass(frozen=True, slots=True)
class FetchAtt:
    """One attribute.  ``name`` is upper case: a member of
    :data:`SIMPLE_ATTRIBUTES`, or ``BODY``/``BINARY``/``BINARY.SIZE`` with a
    ``section`` (``BODY`` with ``section=None`` is the BODY structure).
    ``partial`` is ``(start, length)``; ``peek`` is BODY.PEEK / BINARY.PEEK
    (do not set ``\\Seen``)."""

    name: str
    section: Section | None = None
    partial: tuple[int, int] | None = None
    peek: bool = False

    @property
    def sets_seen(self) -> bool:
        """Does fetching this set ``\\Seen`` on a read-write mailbox?"""
        if self.name in ("RFC822", "RFC822.TEXT"):
            return True
        return self.section is not None and not self.peek and self.name != "BINARY.SIZE"

    def to_wire(self) -> bytes:
        """As the client writes it (``BODY.PEEK[1.HEADER.FIELDS (From)]<0.100>``)."""
        if self.section is None:
            return self.name.encode()
        name = self.name + (".PEEK" if self.peek else "")
        out = name.encode() + b"[" + section_to_wire(self.section) + b"]"
        if self.partial is not None:
            out += f"<{self.partial[0]}.{self.partial[1]}>".encode()
        return out

    def response_name(self) -> bytes:
        """The item name in the FETCH response: no ``.PEEK``, and a partial
        shows only its origin (``BODY[]<0>``)."""
        if self.section is None:
            return self.name.encode()
        out = self.name.encode() + b"[" + section_to_wire(self.section) + b"]"
        if self.partial is not None:
            out += f"<{self.partial[0]}>".encode()
        return out


def section_to_wire(section: Section) -> bytes:
    parts = [".".join(str(n) for n in section.part)] if section.part else []
    if section.text:
        parts.append(section.text)
    out = ".".join(parts).encode()
    if section.text.startswith("HEADER.FIELDS"):
        out += b" (" + b" ".join(wire.astring(f) for f in section.fields) + b")"
    return out


def _section(r: Reader, binary: bool) -> Section:
    r.expect(b"[")
    numbers: list[int] = []
    text = ""
    fields: tuple[bytes, ...] = ()
    if r.peek() != 0x5D:
        while 0x30 <= r.peek() <= 0x39:
            numbers.append(r.nz_number())
            if r.peek() != 0x2E:
                break
            r.pos += 1
        if not binary and (not numbers or r.text[r.pos - 1] == 0x2E):
            for candidate in _SECTION_TEXTS:
                if r.peek_is(candidate.encode()):
                    text = candidate
                    r.pos += len(candidate)
                    break
            else:
                raise r.invalid("bad section")
            if text == "MIME" and not numbers:
                raise r.invalid("MIME needs a part number")
            if text.startswith("HEADER.FIELDS"):
                r.sp()
                fields = r.paren_list(r.astring, allow_empty=False)
        elif numbers and r.text[r.pos - 1] == 0x2E:
            raise r.invalid("bad section")
    r.expect(b"]")
    return Section(tuple(numbers), text, fields)


def _partial(r: Reader) -> tuple[int, int] | None:
    if r.peek() != 0x3C:
        return None
    r.pos += 1
    start = r.number()
    r.expect(b".")
    length = r.nz_number()
    r.expect(b">")
    return (start, length)


def parse_fetch_att(r: Reader) -> FetchAtt:
    r.count_item()
    start = r.pos
    while r.peek() in _NAME_CHARS:
        r.pos += 1
    name = r.text[start:r.pos].decode("ascii").upper()
    if r.peek() == 0x5B:
        if name in ("BODY", "BODY.PEEK"):
            return FetchAtt("BODY", _section(r, False), _partial(r), name == "BODY.PEEK")
        if name in ("BINARY", "BINARY.PEEK"):
            return FetchAtt("BINARY", _section(r, True), _partial(r), name == "BINARY.PEEK")
        if name == "BINARY.SIZE":
            return FetchAtt("BINARY.SIZE", _section(r, True))
    elif name in SIMPLE_ATTRIBUTES:
        return FetchAtt(name)
    if not name:
        raise r.fail("expected a fetch attribute")
    raise r.invalid(f"unknown fetch attribute {name}")


def parse_fetch_atts(r: Reader) -> tuple[tuple[FetchAtt, ...], str | None]:
    """The attribute part of FETCH: a macro, one attribute, or a list.
    Returns the attributes (a macro expanded) and the macro's name."""
    if r.peek() == 0x28:
        return r.paren_list(lambda: parse_fetch_att(r), allow_empty=False, count=False), None
    for macro, names in MACROS.items():
        if r.peek_is(macro.encode()) and r.text[r.pos + len(macro):r.pos + len(macro) + 1] in (
                b"", b" ", b")"):
            r.pos += len(macro)
            return tuple(FetchAtt(n) for n in names), macro
    return (parse_fetch_att(r),), None


def fetch_atts_to_wire(atts: tuple[FetchAtt, ...], macro: str | None = None) -> bytes:
    if macro is not None:
        return macro.encode()
    if len(atts) == 1:
        return atts[0].to_wire()
    return b"(" + b" ".join(a.to_wire() for a in atts) + b")"
