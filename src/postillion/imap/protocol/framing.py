"""Cutting the client's byte stream into commands, before any parsing.

A command is one or more lines; a line ending in a literal marker
(``{n}``, ``{n+}``, ``~{n}``) is followed by n bytes of literal and then
the rest of the command.  The framer buffers only what the current command
needs, checks every limit before buffering more, and resynchronises after
each error:

* an over-long line is skipped up to its LF;
* a refused synchronizing literal is never sent, so the command just ends;
* a too-large non-synchronizing literal still arrives: its bytes are
  skipped, and so is the rest of that command (including further
  non-synchronizing literals).

Lines may end in CRLF or a bare LF (lenient, as Dovecot and Courier are).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .errors import ErrorKind
from .events import CommandError, LiteralRequest
from .lexer import TAG_CHARS
from .limits import Limits
from .states import COMMANDS

_LITERAL_MARKER = re.compile(rb"(~?)\{([0-9]+)(\+?)\}\Z")


@dataclass(frozen=True, slots=True)
class Frame:
    """One complete command: its lines joined (CRLFs removed, literal
    markers kept), the literals, and the text offsets just after each
    literal marker."""

    text: bytes
    literals: list[bytes]
    literal_ends: list[int]


class _Continue:
    """Internal: the framer made progress and should look again."""


_CONTINUE = _Continue()


class _Mode(enum.Enum):
    LINE = 1            # reading a line of the current command
    DECIDE = 2          # a synchronizing literal awaits accept/refuse
    LITERAL = 3         # reading literal bytes
    SKIP_LINE = 4       # dropping an over-long line up to its LF
    DISCARD = 5         # dropping a too-large non-synchronizing literal


def command_head(text: bytes) -> tuple[bytes | None, str | None]:
    """Best-effort tag and command name from a command's first bytes, for
    error events (the full parser has not run, or failed)."""
    words = text[:200].split(b" ", 3)
    tag: bytes | None = words[0]
    if not tag or not all(ch in TAG_CHARS for ch in tag):
        return None, None
    if len(words) < 2 or not words[1].isalpha():
        return tag, None
    name = words[1].decode("ascii").upper()
    if name == "UID" and len(words) > 2 and words[2].isalpha():
        name = "UID " + words[2].decode("ascii").upper()
    return tag, name


class Framer:
    """Bytes in, :class:`Frame` / :class:`LiteralRequest` /
    :class:`CommandError` / raw lines out."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._buf = bytearray()
        self._scan_from = 0
        self._mode = _Mode.LINE
        self._remaining = 0            # bytes of literal to read or discard
        self._discard_command = False  # drop the rest of the current command
        self._reset_command()

    def _reset_command(self) -> None:
        self._text = bytearray()
        self._literals: list[bytes] = []
        self._literal_ends: list[int] = []
        self._discard_command = False

    # -- input -------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def idle(self) -> bool:
        """No partial command is buffered or in progress."""
        return (not self._buf and not self._text and self._mode == _Mode.LINE
                and not self._discard_command)

    def drop_buffered(self) -> int:
        """Forget every buffered byte (after STARTTLS, so that plaintext
        pipelined behind it cannot be injected into the TLS session)."""
        dropped = len(self._buf)
        self._buf = bytearray()
        self._scan_from = 0
        self._mode = _Mode.LINE
        self._reset_command()
        return dropped

    @property
    def awaiting_decision(self) -> bool:
        return self._mode == _Mode.DECIDE

    def accept_literal(self) -> None:
        self._mode = _Mode.LITERAL

    def refuse_literal(self) -> None:
        self._mode = _Mode.LINE
        self._reset_command()

    # -- lines ---------------------------------------------------------------

    def _take_line(self) -> bytes | CommandError | None:
        """The next line without its line end; None if incomplete; a
        CommandError when the line is too long (the rest is skipped)."""
        buf = self._buf
        index = buf.find(b"\n", self._scan_from)
        limit = self.limits.max_line_length
        if index < 0:
            if len(buf) > limit + 1:
                tag, name = command_head(bytes(self._text[:200] or buf[:200]))
                self._mode = _Mode.SKIP_LINE
                self._buf = bytearray()
                self._scan_from = 0
                self._reset_command()
                return CommandError(tag, name, ErrorKind.LINE_TOO_LONG, "line too long")
            self._scan_from = len(buf)
            return None
        end = index - 1 if index > 0 and buf[index - 1] == 0x0D else index
        line = bytes(buf[:end])
        del buf[:index + 1]
        self._scan_from = 0
        return line

    def next_line(self) -> bytes | CommandError | None:
        """A raw line (SASL response, IDLE's DONE), or None if incomplete."""
        while True:
            if self._mode == _Mode.SKIP_LINE:
                if not self._skip_line():
                    return None
                continue
            line = self._take_line()
            if isinstance(line, bytes) and len(line) > self.limits.max_line_length:
                return CommandError(None, None, ErrorKind.LINE_TOO_LONG, "line too long")
            return line

    def _skip_line(self) -> bool:
        index = self._buf.find(b"\n")
        if index < 0:
            self._buf = bytearray()
            return False
        del self._buf[:index + 1]
        self._mode = _Mode.LINE
        return True

    # -- commands ------------------------------------------------------------

    def next_frame(self) -> Frame | LiteralRequest | CommandError | None:
        """The next complete command or decision, or None for "need data"."""
        while True:
            mode = self._mode
            if mode == _Mode.DECIDE:
                return None
            if mode == _Mode.SKIP_LINE:
                if not self._skip_line():
                    return None
                continue
            if mode == _Mode.DISCARD:
                take = min(self._remaining, len(self._buf))
                del self._buf[:take]
                self._remaining -= take
                if self._remaining:
                    return None
                self._mode = _Mode.LINE
                continue
            if mode == _Mode.LITERAL:
                if len(self._buf) < self._remaining:
                    return None
                self._literals.append(bytes(self._buf[:self._remaining]))
                del self._buf[:self._remaining]
                self._remaining = 0
                self._mode = _Mode.LINE
                continue
            result = self._line_of_command()
            if not isinstance(result, _Continue):
                return result

    def _line_of_command(self) -> Frame | LiteralRequest | CommandError | _Continue | None:
        line = self._take_line()
        if line is None or isinstance(line, CommandError):
            return line
        if self._discard_command:
            marker = _LITERAL_MARKER.search(line)
            if marker is not None and marker.group(3):
                self._remaining = int(marker.group(2))
                self._mode = _Mode.DISCARD
            else:
                self._reset_command()
            return _CONTINUE
        self._text += line
        if len(self._text) > self.limits.max_line_length:
            tag, name = command_head(bytes(self._text))
            self._reset_command()
            return CommandError(tag, name, ErrorKind.LINE_TOO_LONG, "line too long")
        marker = _LITERAL_MARKER.search(line)
        if marker is None:
            frame = Frame(bytes(self._text), self._literals, self._literal_ends)
            self._reset_command()
            return frame
        binary, digits, plus = marker.group(1, 2, 3)
        size = int(digits) if len(digits) <= 20 else 1 << 70
        tag, name = command_head(bytes(self._text))
        info = COMMANDS.get(name) if name is not None else None
        limit = (self.limits.max_literal_size if info is not None and info.message_literals
                 else self.limits.max_string_literal_size)
        if len(self._literals) >= self.limits.max_items:
            error = CommandError(tag, name, ErrorKind.TOO_MANY_ITEMS, "too many literals")
        elif size > limit:
            error = CommandError(tag, name, ErrorKind.LITERAL_TOO_LARGE, "literal too large")
        else:
            self._literal_ends.append(len(self._text))
            self._remaining = size
            if plus:
                self._mode = _Mode.LITERAL
                return _CONTINUE
            self._mode = _Mode.DECIDE
            return LiteralRequest(tag, name, size, bool(binary), len(self._literals),
                                  bytes(self._text[:marker.start() - len(line)]))
        # Refused: a synchronizing literal will not come; a
        # non-synchronizing one will, and is skipped with its command.
        self._reset_command()
        if plus:
            self._remaining = size
            self._mode = _Mode.DISCARD
            self._discard_command = True
        return error
