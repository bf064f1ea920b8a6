"""The resumable protocol state machine a session drives (the h11 model).

::

    conn = Connection()
    conn.receive_data(bytes_from_socket)       # b"" when the client closed
    while True:
        event = conn.next_event()
        if event is NEED_DATA: break            # read more
        if isinstance(event, LiteralRequest):   # the client waits for "+"
            conn.accept_literal()
            write(conn.send(ContinuationRequest("Ready for literal")))
        elif isinstance(event, CommandError): ...   # answer BAD/NO, carry on
        else: handle(event)                     # a Command, IdleDone, ...
    write(conn.send(TaggedResponse(tag, "OK", text="done")))

No sockets, no files, no clocks: everything is tested with byte strings.
"""

from __future__ import annotations

from .errors import ErrorKind, LocalProtocolError, ParseFailure
from .events import (
    NEED_DATA,
    CommandError,
    ConnectionClosed,
    Event,
    IdleDone,
    LiteralRequest,
    SaslResponse,
)
from .framing import Frame, Framer, command_head
from .lexer import Reader
from .limits import Limits
from .parser import known_command, parse_arguments, read_head
from .responses import Response
from .serializer import serialize
from .states import SessionState, accepts


class Connection:
    """One client connection's protocol state: buffered input, the pending
    literal decision, the line mode (IDLE, SASL) and the session state
    used to reject commands the state does not accept.

    ``state`` belongs to the session: set it after LOGIN/AUTHENTICATE
    succeed, SELECT/EXAMINE succeed or fail, CLOSE, LOGOUT.  ``utf8`` is
    set by the session after ENABLE UTF8=ACCEPT; the serializer then
    sends UTF-8 strings quoted."""

    def __init__(self, limits: Limits | None = None,
                 state: SessionState = SessionState.NOT_AUTHENTICATED) -> None:
        self.limits = limits or Limits()
        self.state = state
        self.utf8 = False
        self._framer = Framer(self.limits)
        self._line_mode: str | None = None   # "idle" or "sasl"
        self._closed = False
        self._pending_literal: LiteralRequest | None = None

    # -- input ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the client; ``b""`` means the client closed."""
        if self._closed:
            if data:
                raise LocalProtocolError("data received after the client closed")
            return
        if not data:
            self._closed = True
            return
        self._framer.feed(data)

    def next_event(self) -> Event:
        """The next event, or :data:`NEED_DATA`.  Never raises for bad
        client input; raises :class:`LocalProtocolError` if a literal
        decision is still pending."""
        if self._pending_literal is not None:
            raise LocalProtocolError("accept_literal() or refuse_literal() first")
        if self._line_mode is not None:
            return self._next_line_event()
        result = self._framer.next_frame()
        if result is None:
            if self._closed:
                return ConnectionClosed(incomplete=not self._framer.idle)
            return NEED_DATA
        if isinstance(result, LiteralRequest):
            self._pending_literal = result
            return result
        if isinstance(result, CommandError):
            return result
        return self._parse(result)

    def _next_line_event(self) -> Event:
        line = self._framer.next_line()
        if line is None:
            if self._closed:
                return ConnectionClosed(incomplete=not self._framer.idle)
            return NEED_DATA
        mode = self._line_mode
        if isinstance(line, CommandError):
            if mode == "idle":
                self._line_mode = None
                return CommandError(None, "IDLE", ErrorKind.EXPECTED_DONE, "line too long")
            self._line_mode = None
            return CommandError(None, "AUTHENTICATE", ErrorKind.LINE_TOO_LONG, line.message)
        self._line_mode = None
        if mode == "idle":
            if line.strip().upper() == b"DONE":
                return IdleDone()
            return CommandError(None, "IDLE", ErrorKind.EXPECTED_DONE, "expected DONE")
        return SaslResponse(line)

    def _parse(self, frame: Frame) -> Event:
        if not frame.text.strip() and not frame.literals:
            return CommandError(None, None, ErrorKind.EMPTY_LINE, "empty command line")
        reader = Reader(frame.text, frame.literals, frame.literal_ends, self.limits)
        tag: bytes | None = None
        name: str | None = None
        try:
            tag, name = read_head(reader)
            if not known_command(name):
                return CommandError(tag, name or None, ErrorKind.UNKNOWN_COMMAND,
                                    "unknown command")
            if not accepts(self.state, name):
                return CommandError(tag, name, ErrorKind.WRONG_STATE,
                                    f"{name} not allowed now")
            return parse_arguments(reader, tag, name)
        except ParseFailure as failure:
            if tag is None:
                tag, guessed = command_head(frame.text)
                name = name or guessed
            return CommandError(tag, name, failure.kind, failure.message, failure.missing)
        except RecursionError:
            return CommandError(tag, name, ErrorKind.TOO_DEEP, "nested too deeply")

    # -- decisions the session takes -------------------------------------------

    def accept_literal(self) -> None:
        """Let the client send the literal announced by the last
        :class:`LiteralRequest` (send a continuation request next)."""
        if self._pending_literal is None:
            raise LocalProtocolError("no literal is waiting for a decision")
        self._pending_literal = None
        self._framer.accept_literal()

    def refuse_literal(self) -> None:
        """Refuse it (send a tagged NO/BAD next): the client sends neither
        the literal nor the rest of the command."""
        if self._pending_literal is None:
            raise LocalProtocolError("no literal is waiting for a decision")
        self._pending_literal = None
        self._framer.refuse_literal()

    def start_idle(self) -> None:
        """After sending ``+ idling``: the next line is expected to be DONE."""
        self._enter_line_mode("idle")

    def expect_sasl_response(self) -> None:
        """After sending a SASL challenge: the next line is the response."""
        self._enter_line_mode("sasl")

    def cancel_line_mode(self) -> None:
        """Stop waiting for DONE / a SASL line (the session ended it)."""
        self._line_mode = None

    def _enter_line_mode(self, mode: str) -> None:
        if self._pending_literal is not None:
            raise LocalProtocolError("a literal decision is pending")
        self._line_mode = mode

    def drop_buffered_input(self) -> int:
        """Discard everything buffered, e.g. right after answering STARTTLS
        (RFC 3501 6.2.1 / CVE-2011-0411-style command injection); returns
        how many bytes were dropped."""
        self._pending_literal = None
        self._line_mode = None
        return self._framer.drop_buffered()

    @property
    def line_mode(self) -> str | None:
        """``"idle"``, ``"sasl"`` or None."""
        return self._line_mode

    # -- output --------------------------------------------------------------

    def send(self, response: Response) -> bytes:
        """The bytes of a response (raises LocalProtocolError for a value
        that cannot be put on the wire)."""
        return serialize(response, utf8=self.utf8)
