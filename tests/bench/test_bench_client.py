"""The benchmark's IMAP client reads responses whole however the server's
bytes are cut: lines and literals split across reads, a literal ending
exactly at a read's end, a tagged line arriving with the last chunk, a
connection closed inside a literal."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest
from bench.imap.client import ImapClient, ImapClosed


def _answer() -> tuple[bytes, int, int]:
    """A FETCH answer with literals (some empty, some with '}' line ends
    in them), its untagged response count and literal byte total."""
    parts = []
    literal_bytes = 0
    for seq in range(1, 200):
        body = b"x}\r\n" * (seq % 7) + b"line\r\n" * (seq % 5)
        literal_bytes += len(body)
        parts.append(b"* %d FETCH (UID %d BODY[] {%d}\r\n%s FLAGS (\\Seen))\r\n"
                     % (seq, seq, len(body), body))
    parts.append(b"* 200 FETCH (BODY[HEADER] {3}\r\nabc BODY[TEXT] {0}\r\n)\r\n")
    literal_bytes += 3
    return b"".join(parts), 200, literal_bytes


class _CutReader:
    """Gives the data back in the pieces it was cut into, one per read."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        bounds = [0, *cuts, len(data)]
        self.pieces = [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]

    async def read(self, n: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > n:
            piece, rest = piece[:n], piece[n:]
            self.pieces.insert(0, rest)
        return piece


async def _client_over(data: bytes, cuts: list[int]) -> ImapClient:
    return ImapClient(_CutReader(data, cuts), None, timeout=5)  # type: ignore[arg-type]


class _Writer:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


@pytest.mark.parametrize("seed", range(20))
def test_reply_is_the_same_however_the_bytes_are_cut(seed: int) -> None:
    answer, untagged, literal_bytes = _answer()
    data = b"* PREAUTH ready\r\n" + answer + b"b1 OK FETCH done\r\n" + answer + b"b2 OK again\r\n"
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), rng.choice([1, 5, 50, 500])))

    async def run() -> None:
        client = await _client_over(data, cuts)
        client.writer = _Writer()  # type: ignore[assignment]
        assert await client.greeting() == b"* PREAUTH ready\r\n"
        for tag, text in ((b"b1", b"b1 OK FETCH done"), (b"b2", b"b2 OK again")):
            reply = await client.command("FETCH 1:* BODY[]")
            assert (reply.status, reply.text) == ("OK", text), tag
            assert reply.untagged == untagged
            assert reply.literal_bytes == literal_bytes

    asyncio.run(run())


def test_literal_ending_at_a_read_boundary_and_closed_inside_one() -> None:
    data = b"* 1 FETCH (BODY[] {4}\r\nabcd)\r\nb1 OK done\r\n"
    boundary = data.index(b"abcd") + 4

    async def run() -> None:
        client = await _client_over(data, [boundary])
        client.writer = _Writer()  # type: ignore[assignment]
        reply = await client.command("FETCH 1 BODY[]")
        assert (reply.status, reply.untagged, reply.literal_bytes) == ("OK", 1, 4)

        cut = await _client_over(b"* 1 FETCH (BODY[] {40}\r\nabcd", [])
        cut.writer = _Writer()  # type: ignore[assignment]
        with pytest.raises(ImapClosed):
            await cut.command("FETCH 1 BODY[]")

    asyncio.run(run())
