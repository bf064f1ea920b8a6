"""Token-level reading of one framed command (RFC 3501 section 9 grammar).

The framer (:mod:`.framing`) hands over the command's text, every line
joined with the CRLFs removed and each literal marker (``{5}``, ``{5+}``,
``~{5}``) kept in place, plus the literals' bytes and the text offsets where
they belong.  So a command is parsed once, in one pass, however many
literals it carries.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import TypeVar

from .errors import ErrorKind, Missing, ParseFailure
from .limits import Limits
from .sequence import MAX_NUMBER, SeqRange, SequenceSet

T = TypeVar("T")


def _byte_set(chars: bytes) -> frozenset[int]:
    return frozenset(chars)


#: CTL and SP, and the specials that may not appear in an atom.
_CTL = frozenset(range(0x20)) | {0x7F}
ATOM_SPECIALS = _CTL | _byte_set(b'(){ %*"\\]')
#: ATOM-CHAR: any 7-bit CHAR except atom-specials.
ATOM_CHARS = frozenset(range(1, 0x80)) - ATOM_SPECIALS
#: ASTRING-CHAR adds resp-specials ("]").
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
#: list-char adds the LIST wildcards.
LIST_CHARS = ASTRING_CHARS | _byte_set(b"%*")
#: Tags: ASTRING-CHAR except "+".
TAG_CHARS = ASTRING_CHARS - {ord("+")}
_DIGITS = frozenset(b"0123456789")

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {m.upper().encode(): i + 1 for i, m in enumerate(MONTHS)}

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_SYSTEM_FLAG_BY_UPPER = {f.upper(): f for f in (*SYSTEM_FLAGS, "\\Recent")}


def canonical_flag(flag: str) -> str:
    """System flags in their canonical spelling (``\\seen`` -> ``\\Seen``);
    keywords and other extension flags unchanged (keywords are compared
    case-insensitively by the session, but their spelling is kept)."""
    return _SYSTEM_FLAG_BY_UPPER.get(flag.upper(), flag)


class Reader:
    """A cursor over one framed command.  Every method either consumes what
    it names or raises :class:`ParseFailure` (the position is then moot:
    the whole command is rejected)."""

    __slots__ = ("_depth", "_items", "_literal_ends", "_literal_index", "_literals",
                 "limits", "pos", "text")

    def __init__(self, text: bytes, literals: list[bytes], literal_ends: list[int],
                 limits: Limits) -> None:
        self.text = text
        self.pos = 0
        self._literals = literals
        #: Offsets in ``text`` just after each literal marker.
        self._literal_ends = literal_ends
        self._literal_index = 0
        self.limits = limits
        self._depth = 0
        self._items = 0

    # -- plumbing --------------------------------------------------------

    def fail(self, message: str) -> ParseFailure:
        """What the grammar expects next is not here; at the end of the text,
        the command ended too early (``missing`` says so)."""
        return ParseFailure(message, missing=Missing.ARGUMENT if self.at_end() else None)

    def invalid(self, message: str) -> ParseFailure:
        """A value that was read is not allowed (an unknown keyword, a date
        that does not exist): never a missing argument."""
        return ParseFailure(message)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> int:
        """The next byte, or -1 at the end."""
        return self.text[self.pos] if self.pos < len(self.text) else -1

    def peek_is(self, prefix: bytes) -> bool:
        """Does the text continue with ``prefix`` (ASCII, case-insensitive)?"""
        end = self.pos + len(prefix)
        return self.text[self.pos:end].upper() == prefix.upper()

    def expect(self, token: bytes) -> None:
        """Consume ``token`` exactly (case-insensitively for letters)."""
        if not self.peek_is(token):
            raise self.fail(f"expected {token.decode()!r}")
        self.pos += len(token)

    def sp(self) -> None:
        if self.peek() != 0x20:
            raise self.fail("expected a space")
        self.pos += 1

    def maybe_sp(self) -> bool:
        if self.peek() == 0x20:
            self.pos += 1
            return True
        return False

    def end(self) -> None:
        if not self.at_end():
            raise self.fail("unexpected text at the end of the command")
        if self._literal_index != len(self._literals):
            raise self.fail("literal in an unexpected place")

    def count_item(self) -> None:
        self._items += 1
        if self._items > self.limits.max_items:
            raise ParseFailure("too many items in one command", ErrorKind.TOO_MANY_ITEMS)

    def open_paren(self) -> None:
        """Consume "(" and go one level deeper."""
        if self.peek() != 0x28:
            raise self.fail("expected '('")
        self.pos += 1
        self.descend()

    def descend(self) -> None:
        """One level deeper (a list, or a NOT/OR operand)."""
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise ParseFailure("nested too deeply", ErrorKind.TOO_DEEP)

    def ascend(self) -> None:
        self._depth -= 1

    def close_paren(self) -> None:
        if self.peek() != 0x29:
            raise self.fail("expected ')'")
        self.pos += 1
        self.ascend()

    def paren_list(self, item: Callable[[], T], allow_empty: bool = True,
                   count: bool = True) -> tuple[T, ...]:
        """``"(" [item *(SP item)] ")"``; ``count=False`` when ``item``
        counts itself against ``max_items``."""
        self.open_paren()
        values: list[T] = []
        if self.peek() != 0x29:
            while True:
                if count:
                    self.count_item()
                values.append(item())
                if not self.maybe_sp():
                    break
        elif not allow_empty:
            raise self.fail("empty list")
        self.close_paren()
        return tuple(values)

    def _run(self, allowed: frozenset[int]) -> bytes:
        start = pos = self.pos
        text = self.text
        n = len(text)
        while pos < n and text[pos] in allowed:
            pos += 1
        self.pos = pos
        return text[start:pos]

    # -- atoms, numbers, strings ----------------------------------------

    def atom(self) -> bytes:
        value = self._run(ATOM_CHARS)
        if not value:
            raise self.fail("expected an atom")
        return value

    def keyword(self) -> str:
        """An atom, upper-cased, for command names and fixed words."""
        return self.atom().decode("ascii").upper()

    def tag(self) -> bytes:
        value = self._run(TAG_CHARS)
        if not value:
            raise ParseFailure("missing tag", ErrorKind.MISSING_TAG)
        return value

    def number(self) -> int:
        digits = self._run(_DIGITS)
        if not digits:
            raise self.fail("expected a number")
        if len(digits) > 10 or int(digits) > MAX_NUMBER:
            raise self.invalid("number out of range")
        return int(digits)

    def nz_number(self) -> int:
        if self.peek() == 0x30:
            raise self.invalid("expected a non-zero number")
        return self.number()

    def number64(self) -> int:
        """RFC 9051 number64 (quota limits, sizes)."""
        digits = self._run(_DIGITS)
        if not digits or len(digits) > 19 or int(digits) > 2**63 - 1:
            raise self.fail("expected a number")
        return int(digits)

    def quoted(self) -> bytes:
        """A quoted string; backslash escapes only ``"`` and ``\\``.  8-bit
        bytes are accepted (RFC 6855 UTF8=ACCEPT lets clients send UTF-8)."""
        text = self.text
        pos = self.pos + 1
        out = bytearray()
        n = len(text)
        while True:
            if pos >= n:
                raise self.fail("unterminated quoted string")
            c = text[pos]
            if c == 0x22:
                self.pos = pos + 1
                return bytes(out)
            if c == 0x5C:
                pos += 1
                if pos >= n or text[pos] not in (0x22, 0x5C):
                    raise self.fail("bad escape in quoted string")
                c = text[pos]
            elif c == 0 or c == 0x0D or c == 0x0A:
                raise self.fail("forbidden character in quoted string")
            out.append(c)
            pos += 1

    def literal(self) -> tuple[bytes, bool]:
        """``{n}``, ``{n+}`` or ``~{n}`` followed by its data; returns the
        data and whether it was a literal8."""
        binary = False
        if self.peek() == 0x7E:
            binary = True
            self.pos += 1
        self.expect(b"{")
        self.number()
        if self.peek() == 0x2B:
            self.pos += 1
        self.expect(b"}")
        index = self._literal_index
        if index >= len(self._literal_ends) or self._literal_ends[index] != self.pos:
            raise self.fail("literal marker not at the end of a line")
        self._literal_index += 1
        return self._literals[index], binary

    def string(self) -> bytes:
        c = self.peek()
        if c == 0x22:
            return self.quoted()
        if c == 0x7B:
            return self.literal()[0]
        raise self.fail("expected a string")

    def astring(self) -> bytes:
        c = self.peek()
        if c == 0x22 or c == 0x7B:
            return self.string()
        value = self._run(ASTRING_CHARS)
        if not value:
            raise self.fail("expected an atom or a string")
        return value

    def nstring(self) -> bytes | None:
        if self.peek_is(b"NIL") and self._after_word(3):
            self.pos += 3
            return None
        return self.string()

    def nil_or(self, item: Callable[[], T]) -> T | None:
        if self.peek_is(b"NIL") and self._after_word(3):
            self.pos += 3
            return None
        return item()

    def _after_word(self, length: int) -> bool:
        end = self.pos + length
        return end >= len(self.text) or self.text[end] not in ATOM_CHARS

    def mailbox(self) -> bytes:
        """A mailbox name as sent (modified UTF-7 or, after ENABLE
        UTF8=ACCEPT, UTF-8); ``INBOX`` in any case becomes ``INBOX``."""
        return normalize_inbox(self.astring())

    def list_mailbox(self) -> bytes:
        c = self.peek()
        if c == 0x22 or c == 0x7B:
            return self.string()
        value = self._run(LIST_CHARS)
        if not value:
            raise self.fail("expected a mailbox pattern")
        return value

    # -- flags -------------------------------------------------------------

    def flag(self, allow_star: bool = False, allow_recent: bool = False) -> str:
        """A system flag, ``\\`` extension flag, or keyword (an atom).
        ``\\*`` only where PERMANENTFLAGS-like syntax allows it."""
        if self.peek() == 0x5C:
            self.pos += 1
            if allow_star and self.peek() == 0x2A:
                self.pos += 1
                return "\\*"
            flag = canonical_flag("\\" + self.atom().decode("ascii"))
            if flag == "\\Recent" and not allow_recent:
                raise self.invalid("\\Recent cannot be stored")
            return flag
        return self.atom().decode("ascii")

    def flag_list(self) -> tuple[str, ...]:
        return self.paren_list(self.flag)

    # -- dates -------------------------------------------------------------

    def _day_month_year(self, fixed: bool) -> datetime.date:
        if fixed and self.peek() == 0x20:
            self.pos += 1
            day_digits = self._run(_DIGITS)
            if len(day_digits) != 1:
                raise self.fail("bad day")
        else:
            day_digits = self._run(_DIGITS)
            if len(day_digits) not in ((2,) if fixed else (1, 2)):
                raise self.fail("bad day")
        self.expect(b"-")
        month = _MONTH_NUMBER.get(self.text[self.pos:self.pos + 3].upper())
        if month is None:
            raise self.fail("bad month")
        self.pos += 3
        self.expect(b"-")
        year_digits = self._run(_DIGITS)
        if len(year_digits) != 4:
            raise self.fail("bad year")
        try:
            return datetime.date(int(year_digits), month, int(day_digits))
        except ValueError:
            raise self.invalid("no such date") from None

    def date(self) -> datetime.date:
        """``date``: date-text, optionally in double quotes (SEARCH)."""
        if self.peek() == 0x22:
            self.pos += 1
            value = self._day_month_year(fixed=False)
            self.expect(b'"')
            return value
        return self._day_month_year(fixed=False)

    def date_time(self) -> datetime.datetime:
        """``"dd-Mon-yyyy hh:mm:ss +zzzz"`` (APPEND)."""
        self.expect(b'"')
        day = self._day_month_year(fixed=True)
        self.sp()
        clock = self.text[self.pos:self.pos + 8]
        if len(clock) != 8 or clock[2:3] != b":" or clock[5:6] != b":" or not (
                clock[0:2] + clock[3:5] + clock[6:8]).isdigit():
            raise self.fail("bad time")
        self.pos += 8
        self.sp()
        zone = self.text[self.pos:self.pos + 5]
        if len(zone) != 5 or zone[0:1] not in (b"+", b"-") or not zone[1:].isdigit():
            raise self.fail("bad zone")
        self.pos += 5
        self.expect(b'"')
        hours, minutes = int(zone[1:3]), int(zone[3:5])
        if minutes > 59:
            raise self.fail("bad zone")
        offset = datetime.timedelta(hours=hours, minutes=minutes)
        try:
            tz = datetime.timezone(-offset if zone[0:1] == b"-" else offset)
            return datetime.datetime(day.year, day.month, day.day, int(clock[0:2]),
                                     int(clock[3:5]), int(clock[6:8]), tzinfo=tz)
        except ValueError:
            raise self.invalid("no such time") from None

    # -- sequence sets ----------------------------------------------------

    def _seq_number(self) -> int | None:
        if self.peek() == 0x2A:
            self.pos += 1
            return None
        return self.nz_number()

    def sequence_set(self) -> SequenceSet:
        if self.peek() == 0x24:
            self.pos += 1
            return SequenceSet(saved=True)
        ranges = []
        while True:
            self.count_item()
            first = self._seq_number()
            last = first
            if self.peek() == 0x3A:
                self.pos += 1
                last = self._seq_number()
            ranges.append(SeqRange(first, last))
            if self.peek() != 0x2C:
                return SequenceSet(tuple(ranges))
            self.pos += 1

    def looks_like_sequence_set(self) -> bool:
        c = self.peek()
        return c == 0x2A or c == 0x24 or (0x31 <= c <= 0x39)


def normalize_inbox(name: bytes) -> bytes:
    """RFC 3501 section 5.1: ``INBOX`` is case-insensitive; other names
    (``INBOX.Sent`` included) are passed on as sent.  Whether ``inbox.x``
    means ``INBOX.x`` is the session's namespace decision."""
    return b"INBOX" if len(name) == 5 and name.upper() == b"INBOX" else name


def decode_mailbox_name(raw: bytes, utf8_enabled: bool = False) -> str:
    """The hook for the session: a wire mailbox name as text.  Before ENABLE
    UTF8=ACCEPT names are modified UTF-7 (RFC 3501 5.1.3); after it, UTF-8.
    Raises ValueError for a name that is neither."""
    from postillion.maildir import mutf7

    if utf8_enabled:
        return raw.decode("utf-8")
    return mutf7.decode(raw.decode("ascii"))
