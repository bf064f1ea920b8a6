"""Drive a Connection with byte strings, the way a session would.

``run`` feeds the input in the given pieces, drains events after each
piece, and answers LiteralRequests through ``decide`` (accept by default).
``run_all_splits`` checks that the events do not depend on how TCP cut the
bytes (DESIGN habit 2): one piece, byte by byte, and every two-piece split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from postillion.imap.protocol import (
    NEED_DATA,
    Connection,
    ConnectionClosed,
    Event,
    Limits,
    LiteralRequest,
    SessionState,
)

Decide = Callable[[LiteralRequest], bool]


def run(pieces: Iterable[bytes], state: SessionState = SessionState.SELECTED,
        limits: Limits | None = None, decide: Decide | None = None,
        close: bool = False) -> list[Event]:
    conn = Connection(limits, state)
    events: list[Event] = []
    real_pieces = [p for p in pieces if p]  # b"" would mean "closed"
    for piece in [*real_pieces, *([b""] if close else [])]:
        conn.receive_data(piece)
        while True:
            event = conn.next_event()
            if event is NEED_DATA:
                break
            events.append(event)
            if isinstance(event, LiteralRequest):
                if decide is None or decide(event):
                    conn.accept_literal()
                else:
                    conn.refuse_literal()
            if isinstance(event, ConnectionClosed):
                return events
    return events


def splits(data: bytes) -> Iterable[list[bytes]]:
    yield [data]
    yield [data[i:i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def run_all_splits(data: bytes, **kwargs: object) -> list[Event]:
    """The events of ``data``, asserting every split gives the same."""
    expected = run([data], **kwargs)  # type: ignore[arg-type]
    for pieces in splits(data):
        got = run(pieces, **kwargs)  # type: ignore[arg-type]
        assert got == expected, f"split {[len(p) for p in pieces]} differs"
    return expected


def parse_one(line: bytes, state: SessionState = SessionState.SELECTED,
              limits: Limits | None = None) -> Event:
    """The single non-literal event that ``line`` (CRLF added) produces."""
    events = [e for e in run([line + b"\r\n"], state, limits)
              if not isinstance(e, LiteralRequest)]
    assert len(events) == 1, events
    return events[0]
