"""What :meth:`Connection.next_event() <.connection.Connection.next_event>`
returns besides a parsed command (a :data:`~.commands.Command`)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from .commands import Command
from .errors import ErrorKind, Missing


class NeedData:
    """More bytes are needed before another event can be produced."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


@dataclass(frozen=True, slots=True)
class LiteralRequest:
    """The client announced a synchronizing literal and waits for ``+``.

    Call :meth:`~.connection.Connection.accept_literal` (then send a
    :class:`~.responses.ContinuationRequest`) or
    :meth:`~.connection.Connection.refuse_literal` (then send a tagged NO or
    BAD; the client will not send the literal nor the rest of the command).
    ``command`` is the upper-case command name when known, ``size`` the
    announced length, ``binary`` true for ``~{n}``, ``index`` which literal
    of the command this is (0 first), ``prefix`` the command's text before
    this literal (lets the session refuse, e.g. an APPEND to a folder the
    user may not insert into, before the client sends the data)."""

    tag: bytes | None
    command: str | None
    size: int
    binary: bool = False
    index: int = 0
    prefix: bytes = field(default=b"", compare=False)


@dataclass(frozen=True, slots=True)
class CommandError:
    """The client sent something we cannot accept; the connection stays
    usable (the core has already resynchronised to the next command).

    ``tag`` and ``command`` are set when they could be read.  The session
    chooses the answer: RFC 3501 says ``tag BAD`` (or ``* BAD`` without a
    tag); Courier answers ``NO Error in IMAP command received by server.``
    and counts consecutive errors (see docs/imap-protocol.md).

    ``missing`` is set when the command ended where an argument was still
    due: :attr:`Missing.MAILBOX <.errors.Missing.MAILBOX>` for a mailbox
    name (Courier answers ``BAD Invalid command``), ``ARGUMENT`` for
    anything else."""

    tag: bytes | None
    command: str | None
    kind: ErrorKind
    message: str
    missing: Missing | None = None


@dataclass(frozen=True, slots=True)
class IdleDone:
    """The client ended IDLE with DONE; answer the IDLE command's tag."""


@dataclass(frozen=True, slots=True)
class SaslResponse:
    """One line of a SASL exchange (after a ``+`` challenge), as sent:
    base64, or ``*`` to cancel (RFC 3501 6.2.2)."""

    line: bytes

    @property
    def cancelled(self) -> bool:
        return self.line.strip() == b"*"

    def decode(self) -> bytes | None:
        """The decoded response, or None if it is not valid base64."""
        try:
            return base64.b64decode(self.line.strip(), validate=True)
        except (binascii.Error, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The client closed its side (``receive_data(b"")``) and every complete
    command has been returned.  ``incomplete`` is true if a partial command
    was left over."""

    incomplete: bool = False


Event = (Command | NeedData | LiteralRequest | CommandError | IdleDone | SaslResponse
         | ConnectionClosed)
