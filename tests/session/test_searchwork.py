"""SEARCH of message text in worker processes: the same answers as the
session's own search, whatever the program, and a message the workers
could not read is still searched."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from postillion.imap import searchwork, workers

from .harness import World
from .test_scale import MESSAGES, RAW_UTF8, _commands, forget_memory
from .test_wireforms import ODD, POOL_FAILURES, FailingPool, InlinePool

PROGRAMS = [
    "SEARCH TEXT plain",
    "SEARCH BODY body",
    "UID SEARCH NOT TEXT hello",
    "SEARCH OR TEXT hallo FROM example.org",
    "SEARCH 3:20 TEXT a UID 5:*",
    "SEARCH LARGER 200 BODY body",
    "SEARCH SINCE 1-Jan-2000 SENTBEFORE 1-Jan-2030 TEXT example",
    "SEARCH FLAGGED TEXT o",
    "SEARCH UNSEEN NEW BODY hi",
    "SEARCH KEYWORD $Work TEXT plain",
    "SEARCH CHARSET UTF-8 TEXT {7+}\r\nGrüße",
    "SEARCH HEADER Content-Type multipart TEXT body",
]


def fill(world: World) -> None:
    for n in range(24):
        world.deliver(MESSAGES[n % len(MESSAGES)], flags="S" if n % 3 else "")
    for body in [*ODD, RAW_UTF8]:
        world.deliver(body)
    # \Recent goes to this session, the keywords stay for the searches.
    asyncio.run(_commands(world, "STORE 2:9 +FLAGS (\\Flagged $Work)",
                          "STORE 20 +FLAGS (\\Deleted)"))


def run(world: World, monkeypatch: pytest.MonkeyPatch, count: int) -> list[bytes]:
    forget_memory()
    monkeypatch.setenv(workers.ENV_WORKERS, str(count))
    return asyncio.run(_commands(world, *PROGRAMS))


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Workers for any folder of two or more, in chunks of three; counts
    the chunks searched by a worker."""
    monkeypatch.setattr(searchwork, "MIN_MESSAGES", 2)
    monkeypatch.setattr(searchwork, "CHUNK", 3)
    chunks: list[int] = []
    real = searchwork.search

    async def counting(*args: Any) -> Any:
        result = await real(*args)
        chunks.append(1)
        return result
    monkeypatch.setattr(searchwork, "search", counting)
    return chunks


def test_worker_answers_equal_in_process_answers(world: World, monkeypatch: pytest.MonkeyPatch,
                                                 small_chunks: list[int]) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0)
    assert small_chunks == []
    assert run(world, monkeypatch, 2) == alone
    # every program but the header-only ones went to the workers
    assert len(small_chunks) == len(PROGRAMS)
    assert all(b" OK " in line for line in alone if line.startswith(b"c"))
    assert any(line.startswith(b"* SEARCH ") and len(line.split()) > 4 for line in alone)


def test_a_message_renamed_meanwhile_is_searched_by_the_session(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int]) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0)
    real_chunk = searchwork.search_chunk
    lost: list[int] = []

    def chunk_after_a_rename(question: Any, candidates: Any) -> tuple[list[int], list[int]]:
        first = candidates[0].path
        renamed = first.split(":2,")[0] + ":2,D"
        os.rename(first, renamed)
        try:
            matched, failed = real_chunk(question, candidates)
        finally:
            os.rename(renamed, first)
        lost.extend(failed)
        return matched, failed
    monkeypatch.setattr(searchwork, "search_chunk", chunk_after_a_rename)
    monkeypatch.setattr(workers, "pool", lambda: InlinePool())
    assert run(world, monkeypatch, 2) == alone
    assert lost and set(lost) == {0}


@POOL_FAILURES
def test_a_failing_pool_leaves_the_search_to_the_session(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int],
        failure: Exception) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0)
    monkeypatch.setattr(workers, "pool", lambda: FailingPool(failure))
    assert run(world, monkeypatch, 2) == alone
