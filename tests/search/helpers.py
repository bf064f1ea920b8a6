"""Small hand-made messages and a MessageView over them, for search tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from postillion.imap.protocol import Connection, SessionState
from postillion.imap.protocol.commands import Search, Sort, Thread
from postillion.imap.protocol.events import NeedData
from postillion.maildir.filenames import base_name
from postillion.message.crlf import crlf_length
from postillion.message.headers import header_bounds

T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class FakeMessage:
    """A MessageView over bytes in memory that counts its reads."""

    seq: int
    uid: int
    data: bytes
    flags: frozenset[str] = frozenset()
    internaldate: datetime = T0
    filename: str = ""
    header_reads: int = field(default=0, compare=False)
    full_reads: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not self.filename:
            self.filename = f"{self.uid}.M1P1.test:2,"

    @property
    def size(self) -> int:
        return crlf_length(self.data)

    @property
    def cache_key(self) -> tuple[int, str]:
        return (self.uid, base_name(self.filename))

    def header_bytes(self) -> bytes:
        self.header_reads += 1
        return self.data[:header_bounds(self.data)[1]]

    def full_bytes(self) -> bytes:
        self.full_reads += 1
        return self.data


def message(headers: dict[str, str] | None = None, body: str = "body\n") -> bytes:
    """A message from header name -> value (str, UTF-8 encoded) and a body."""
    lines = [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def folder(*datas: bytes, flags: list[frozenset[str]] | None = None,
           first_uid: int = 1) -> list[FakeMessage]:
    return [FakeMessage(i + 1, first_uid + 2 * i, d,
                        flags=(flags[i] if flags else frozenset()))
            for i, d in enumerate(datas)]


def parse_command(line: bytes) -> Search | Sort | Thread:
    """A SEARCH/SORT/THREAD command line as the protocol core parses it."""
    conn = Connection(None, SessionState.SELECTED)
    conn.receive_data(line + b"\r\n")
    event = conn.next_event()
    assert not isinstance(event, NeedData)
    assert isinstance(event, Search | Sort | Thread), event
    return event


def seqs(views: object) -> list[int]:
    return [v.seq for v in views]  # type: ignore[attr-defined]
