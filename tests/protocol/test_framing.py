"""Literals, limits and resynchronisation, line modes, end of input."""

from __future__ import annotations

import pytest

from postillion.imap.protocol import (
    NEED_DATA,
    CommandError,
    Connection,
    ConnectionClosed,
    ErrorKind,
    IdleDone,
    Limits,
    LiteralRequest,
    LocalProtocolError,
    SaslResponse,
    SessionState,
)
from postillion.imap.protocol import (
    commands as c,
)
from postillion.imap.protocol import responses as r

from .helpers import run, run_all_splits

SMALL = Limits(max_line_length=40, max_literal_size=100, max_string_literal_size=10,
               max_depth=4, max_items=10)


def kinds(events: list[object]) -> list[object]:
    return [e.kind if isinstance(e, CommandError) else type(e).__name__ for e in events]


def test_literal_request_carries_context() -> None:
    events = run_all_splits(b"a1 APPEND INBOX ~{5}\r\nhello\r\n", state=SessionState.AUTHENTICATED)
    assert events[0] == LiteralRequest(b"a1", "APPEND", 5, binary=True, index=0)
    assert events[1] == c.Append(b"a1", b"INBOX", (c.AppendMessage(b"hello", binary=True),))


def test_literal_may_hold_crlf_and_braces() -> None:
    data = b"a LOGIN {7}\r\nx\r\n{3}\r {4+}\r\n\"\r\n\\\r\n"
    events = run_all_splits(data, state=SessionState.NOT_AUTHENTICATED)
    assert events[-1] == c.Login(b"a", b"x\r\n{3}\r", b'"\r\n\\')


def test_refused_literal_skips_command_and_keeps_going() -> None:
    # The client never sends a refused literal nor the rest of its command.
    data = b"a1 APPEND INBOX {50}\r\na2 NOOP\r\n"
    events = run_all_splits(data, state=SessionState.AUTHENTICATED, decide=lambda req: False)
    assert events == [LiteralRequest(b"a1", "APPEND", 50), c.Noop(b"a2")]


def test_sync_literal_over_limit_is_refused_by_the_core() -> None:
    data = b"a1 LOGIN {11}\r\na2 NOOP\r\n"
    events = run_all_splits(data, state=SessionState.NOT_AUTHENTICATED, limits=SMALL)
    assert events == [CommandError(b"a1", "LOGIN", ErrorKind.LITERAL_TOO_LARGE,
                                   "literal too large"), c.Noop(b"a2")]


def test_message_literals_have_their_own_limit() -> None:
    ok = run([b"a APPEND x {100}\r\n" + b"m" * 100 + b"\r\n"],
             SessionState.AUTHENTICATED, SMALL)
    assert isinstance(ok[-1], c.Append)
    too_big = run([b"a APPEND x {101}\r\n"], SessionState.AUTHENTICATED, SMALL)
    assert kinds(too_big) == [ErrorKind.LITERAL_TOO_LARGE]


def test_non_sync_literal_over_limit_is_skipped_with_its_command() -> None:
    # The bytes come anyway: skip them, the rest of the line and any further
    # non-synchronizing literal of the same command.
    data = (b"a1 LOGIN {11+}\r\n" + b"x" * 11 + b" {3+}\r\nabc\r\n"
            b"a2 NOOP\r\n")
    events = run_all_splits(data, state=SessionState.NOT_AUTHENTICATED, limits=SMALL)
    assert events == [CommandError(b"a1", "LOGIN", ErrorKind.LITERAL_TOO_LARGE,
                                   "literal too large"), c.Noop(b"a2")]


def test_huge_literal_counts() -> None:
    events = run_all_splits(b"a LOGIN {99999999999999999999999999}\r\nb NOOP\r\n",
                            state=SessionState.NOT_AUTHENTICATED)
    assert kinds(events) == [ErrorKind.LITERAL_TOO_LARGE, "Noop"]


def test_overlong_line_skipped_to_lf() -> None:
    data = b"a1 NOOP " + b"x" * 60 + b"\r\na2 NOOP\r\n"
    events = run_all_splits(data, limits=SMALL)
    assert events == [CommandError(b"a1", "NOOP", ErrorKind.LINE_TOO_LONG, "line too long"),
                      c.Noop(b"a2")]


def test_line_length_counts_every_line_of_a_command() -> None:
    data = b"a1 LOGIN {3}\r\nabc " + b"p" * 40 + b"\r\na2 NOOP\r\n"
    events = run([data], SessionState.NOT_AUTHENTICATED, SMALL)
    assert kinds(events) == ["LiteralRequest", ErrorKind.LINE_TOO_LONG, "Noop"]


def test_depth_and_item_limits() -> None:
    deep = run([b"a SEARCH " + b"(" * 5 + b"ALL" + b")" * 5 + b"\r\n"], limits=SMALL)
    assert kinds(deep) == [ErrorKind.TOO_DEEP]
    many = run([b"a FETCH 1,2,3,4,5,6,7,8,9,10,11 FLAGS\r\nb NOOP\r\n"], limits=SMALL)
    assert kinds(many) == [ErrorKind.TOO_MANY_ITEMS, "Noop"]
    deep_default = run([b"a SEARCH " + b"NOT " * 5000 + b"ALL\r\n"],
                       limits=Limits(max_line_length=1 << 20))
    assert kinds(deep_default) == [ErrorKind.TOO_DEEP]
    ors = run([b"a SEARCH " + b"OR ALL " * 51 + b"ALL\r\n"])
    assert kinds(ors) == [ErrorKind.TOO_DEEP]
    assert kinds(run([b"a SEARCH " + b"OR ALL " * 49 + b"ALL\r\n"])) == ["Search"]


def test_bare_lf_and_pipelining() -> None:
    events = run_all_splits(b"a NOOP\nb CHECK\r\nc LOGOUT\n")
    assert events == [c.Noop(b"a"), c.Check(b"b"), c.Logout(b"c")]


def test_pending_literal_decision_is_enforced() -> None:
    conn = Connection(state=SessionState.NOT_AUTHENTICATED)
    conn.receive_data(b"a LOGIN {3}\r\n")
    assert isinstance(conn.next_event(), LiteralRequest)
    with pytest.raises(LocalProtocolError):
        conn.next_event()
    conn.accept_literal()
    assert conn.next_event() is NEED_DATA
    with pytest.raises(LocalProtocolError):
        conn.accept_literal()
    conn.receive_data(b"bob pw\r\n")
    assert conn.next_event() == c.Login(b"a", b"bob", b"pw")


def test_idle_done() -> None:
    conn = Connection(state=SessionState.SELECTED)
    conn.receive_data(b"a IDLE\r\nDO")
    assert conn.next_event() == c.Idle(b"a")
    conn.start_idle()
    assert conn.send(r.ContinuationRequest("idling")) == b"+ idling\r\n"
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"ne\r\nb NOOP\r\n")
    assert conn.next_event() == IdleDone()
    assert conn.next_event() == c.Noop(b"b")


def test_idle_other_line_ends_idle() -> None:
    conn = Connection(state=SessionState.SELECTED)
    conn.receive_data(b"a IDLE\r\nb NOOP\r\nc NOOP\r\n")
    assert conn.next_event() == c.Idle(b"a")
    conn.start_idle()
    event = conn.next_event()
    assert isinstance(event, CommandError) and event.kind is ErrorKind.EXPECTED_DONE
    assert conn.next_event() == c.Noop(b"c")


def test_sasl_exchange() -> None:
    conn = Connection()
    conn.receive_data(b"a AUTHENTICATE PLAIN\r\nAGJvYgBwdw==\r\nb AUTHENTICATE PLAIN\r\n*\r\n")
    assert conn.next_event() == c.Authenticate(b"a", "PLAIN")
    assert conn.send(r.ContinuationRequest(data=b"")) == b"+ \r\n"
    conn.expect_sasl_response()
    event = conn.next_event()
    assert isinstance(event, SaslResponse) and event.decode() == b"\0bob\0pw"
    assert conn.next_event() == c.Authenticate(b"b", "PLAIN")
    conn.expect_sasl_response()
    event = conn.next_event()
    assert isinstance(event, SaslResponse) and event.cancelled


def test_starttls_drops_pipelined_plaintext() -> None:
    conn = Connection()
    conn.receive_data(b"a STARTTLS\r\nb LOGIN bob pw\r\n")
    assert conn.next_event() == c.StartTLS(b"a")
    assert conn.drop_buffered_input() == len(b"b LOGIN bob pw\r\n")
    assert conn.next_event() is NEED_DATA


def test_end_of_input() -> None:
    assert run([b"a NOOP\r\nb NO"], close=True) == [c.Noop(b"a"), ConnectionClosed(True)]
    assert run([b"a NOOP\r\n"], close=True) == [c.Noop(b"a"), ConnectionClosed(False)]
    conn = Connection()
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"more")


def test_courier_style_counting_is_possible() -> None:
    # The events say enough for a session to answer like Courier: tag,
    # command name and kind for every bad line; the tenth in a row gets BYE.
    lines = b"".join(b"x%d BOGUS\r\n" % i for i in range(1, 13))
    events = run([lines], SessionState.AUTHENTICATED)
    assert [e.tag for e in events] == [b"x%d" % i for i in range(1, 13)]  # type: ignore[union-attr]
    assert all(isinstance(e, CommandError) and e.kind is ErrorKind.UNKNOWN_COMMAND
               for e in events)
