"""A minimal IMAP client for the benchmark: one command at a time, every
response read to its end (literals included, counted and discarded).

It pipelines nothing: ``command`` sends one line, waits for ``+`` before
each synchronizing literal, and returns when the tagged reply arrives.
Every read has a deadline, so a server that stops answering ends the
measurement with ``ImapTimeout`` instead of hanging the benchmark.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")
READ_CHUNK = 1 << 20


class ImapTimeout(Exception):
    """The server did not finish a response in time."""


class ImapClosed(Exception):
    """The server closed the connection."""


@dataclass
class Reply:
    status: str          # OK, NO, BAD (or BYE for a closed session)
    text: bytes          # the tagged line
    untagged: int        # untagged lines seen
    literal_bytes: int   # bytes of literals read
    lines: list[bytes]   # untagged lines (first line only of each), if kept


class ImapClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None,
                 *, timeout: float, send: asyncio.StreamWriter | None = None) -> None:
        self.reader = reader
        self.writer = writer
        self.timeout = timeout
        self._tag = 0
        # What has been read from the server and not yet parsed: lines and
        # literals are cut from this buffer, which is refilled a chunk at a
        # time (one await per chunk, not per line: over a 100,000-line
        # answer a per-line read with its own deadline cost the client
        # more time than the servers it measures).
        self._buffer = b""
        self._pos = 0

    async def _fill(self) -> None:
        """Append what the server has sent (up to READ_CHUNK) to the buffer."""
        try:
            chunk = await asyncio.wait_for(self.reader.read(READ_CHUNK), self.timeout)
        except TimeoutError as exc:
            raise ImapTimeout("no data in time") from exc
        if not chunk:
            raise ImapClosed(self._buffer[self._pos:][-200:].decode(errors="replace"))
        self._buffer = self._buffer[self._pos:] + chunk
        self._pos = 0

    async def _readline(self) -> bytes:
        searched = self._pos
        while True:
            end = self._buffer.find(b"\n", searched)
            if end >= 0:
                line = self._buffer[self._pos:end + 1]
                self._pos = end + 1
                return line
            searched = len(self._buffer) - self._pos
            await self._fill()

    async def _skip(self, size: int) -> None:
        left = size
        while True:
            available = len(self._buffer) - self._pos
            if left <= available:
                self._pos += left
                return
            left -= available
            self._buffer, self._pos = b"", 0
            await self._fill()

    async def read_response(self) -> tuple[bytes, int]:
        """One whole response (a line and its literals); its first line and literal bytes."""
        first = line = await self._readline()
        literal_total = 0
        while True:
            match = LITERAL_AT_END.search(line) if line.endswith(b"}\r\n") else None
            if match is None:
                return first, literal_total
            size = int(match.group(1))
            await self._skip(size)
            literal_total += size
            line = await self._readline()

    async def greeting(self) -> bytes:
        first, _ = await self.read_response()
        return first

    def _send(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    async def command(self, text: str, *, literal: bytes | None = None,
                      keep: bool = False) -> Reply:
        self._tag += 1
        tag = f"b{self._tag}".encode()
        line = tag + b" " + text.encode()
        if literal is not None:
            line += b" {%d}\r\n" % len(literal)
            self._send(line)
            assert self.writer is not None
            await self.writer.drain()
            while True:
                first, _ = await self.read_response()
                if first.startswith(b"+"):
                    break
                if first.startswith(tag + b" "):
                    return Reply(first.split(b" ", 2)[1].decode(), first, 0, 0, [])
            self._send(literal + b"\r\n")
        else:
            self._send(line + b"\r\n")
        assert self.writer is not None
        await self.writer.drain()
        untagged = literal_bytes = 0
        kept: list[bytes] = []
        while True:
            first, size = await self.read_response()
            literal_bytes += size
            if first.startswith(tag + b" "):
                status = first.split(b" ", 2)[1].decode(errors="replace").upper()
                return Reply(status, first.rstrip(b"\r\n"), untagged, literal_bytes, kept)
            if first.startswith(b"* BYE") and not text.upper().startswith("LOGOUT"):
                raise ImapClosed(first.decode(errors="replace"))
            untagged += 1
            if keep:
                kept.append(first)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
