"""Transcript tests: a tiny Courier-flavoured session drives the core, and
the whole exchange is compared in order, every step used (DESIGN habit 11).

``C:`` lines are what the client sends (CRLF added), ``S:`` lines what the
server must answer.  The stub session shows the events carry enough to
answer as Courier does (NO for bad commands, BYE after ten in a row)."""

from __future__ import annotations

from postillion.imap.protocol import (
    NEED_DATA,
    CommandError,
    Connection,
    IdleDone,
    LiteralRequest,
    SessionState,
)
from postillion.imap.protocol import (
    commands as c,
)
from postillion.imap.protocol import responses as r

COURIER_ERROR = "Error in IMAP command received by server."
MAX_VIOLATIONS = 10


class StubSession:
    def __init__(self) -> None:
        self.conn = Connection()
        self.out = bytearray()
        self.violations = 0
        self.idle_tag: bytes | None = None
        self.closed = False

    def send(self, response: r.Response) -> None:
        self.out += self.conn.send(response)

    def feed(self, data: bytes) -> None:
        self.conn.receive_data(data)
        while not self.closed:
            event = self.conn.next_event()
            if event is NEED_DATA:
                return
            self.handle(event)

    def handle(self, event: object) -> None:
        if isinstance(event, LiteralRequest):
            if event.size > 100:
                self.conn.refuse_literal()
                self.send(r.TaggedResponse(event.tag or b"*", "NO", "Message too big",
                                           r.LIMIT))
            else:
                self.conn.accept_literal()
                self.send(r.ContinuationRequest("OK"))
            return
        if isinstance(event, CommandError):
            self.violations += 1
            if self.violations >= MAX_VIOLATIONS:
                self.send(r.UntaggedStatus(
                    "BYE", "Fatal error: TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS: ", r.ALERT))
                self.closed = True
            else:
                self.send(r.TaggedResponse(event.tag or b"*", "NO", COURIER_ERROR))
            return
        self.violations = 0
        if isinstance(event, IdleDone):
            assert self.idle_tag is not None
            self.send(r.TaggedResponse(self.idle_tag, "OK", "IDLE completed"))
        elif isinstance(event, c.Login):
            self.conn.state = SessionState.AUTHENTICATED
            self.send(r.TaggedResponse(event.tag, "OK", "LOGIN Ok."))
        elif isinstance(event, c.Select):
            self.conn.state = SessionState.SELECTED
            self.send(r.Exists(0))
            self.send(r.TaggedResponse(event.tag, "OK", "Ok", r.READ_WRITE))
        elif isinstance(event, c.Idle):
            self.idle_tag = event.tag
            self.conn.start_idle()
            self.send(r.ContinuationRequest("entering idle mode"))
        elif isinstance(event, c.Append):
            self.send(r.TaggedResponse(event.tag, "OK", f"APPEND {len(event.messages[0].data)}",
                                       r.AppendUid(1, r.SequenceSet.of(1))))
        elif isinstance(event, c.Logout):
            self.send(r.UntaggedStatus("BYE", "Courier-IMAP server shutting down"))
            self.send(r.TaggedResponse(event.tag, "OK", "LOGOUT completed"))
            self.conn.state = SessionState.LOGOUT
            self.closed = True
        else:
            assert isinstance(event, c.Noop | c.Capability | c.Fetch), event
            self.send(r.TaggedResponse(event.tag, "OK", f"{event.name} completed"))


def play(script: str) -> None:
    """Run the script strictly in order; fail on a mismatch or on leftover
    output."""
    session = StubSession()
    expected = bytearray()
    for raw in script.strip().splitlines():
        line = raw.strip()
        kind, _, text = line.partition(": ")
        data = text.encode("utf-8").decode("unicode_escape").encode("latin-1") + b"\r\n"
        if kind == "C":
            assert session.out == expected, (bytes(session.out), bytes(expected))
            session.feed(data)
        else:
            assert kind == "S", line
            expected += data
    assert session.out == expected, (bytes(session.out), bytes(expected))


def test_login_select_idle_logout() -> None:
    play("""
        C: a1 LOGIN {3}
        S: + OK
        C: bob "secret"
        S: a1 OK LOGIN Ok.
        C: a2 select inbox
        S: * 0 EXISTS
        S: a2 OK [READ-WRITE] Ok
        C: a3 IDLE
        S: + entering idle mode
        C: done
        S: a3 OK IDLE completed
        C: a4 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])
        S: a4 OK FETCH completed
        C: a5 LOGOUT
        S: * BYE Courier-IMAP server shutting down
        S: a5 OK LOGOUT completed
    """)


def test_literals_refused_and_accepted() -> None:
    play("""
        C: a1 LOGIN bob pw
        S: a1 OK LOGIN Ok.
        C: a2 APPEND INBOX {1000}
        S: a2 NO [LIMIT] Message too big
        C: a3 APPEND INBOX (\\\\Seen) {5}
        S: + OK
        C: hello
        S: a3 OK [APPENDUID 1 1] APPEND 5
        C: a4 NOOP
        S: a4 OK NOOP completed
    """)


def test_courier_counts_consecutive_violations() -> None:
    lines = "\n".join(f"C: x{i} BOGUS\nS: x{i} NO {COURIER_ERROR}" for i in range(1, 10))
    play(lines + """
        C: x10 BOGUS
        S: * BYE [ALERT] Fatal error: TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS:\\x20
    """)


def test_good_command_resets_the_count_and_wrong_state_is_an_error() -> None:
    play(f"""
        C: a1 COPY 1 foo
        S: a1 NO {COURIER_ERROR}
        C: a2 NOOP
        S: a2 OK NOOP completed
        C: a3 FETCH 1 FLAGS
        S: a3 NO {COURIER_ERROR}
    """)
