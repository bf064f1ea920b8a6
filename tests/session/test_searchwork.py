"""SEARCH of message text in worker processes: the same answers as the
session's own search, whatever the program, and a message the workers
could not read is still searched."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from postillion.imap import searchwork, workers

from .harness import World
from .test_scale import MESSAGES, RAW_UTF8, _commands, forget_memory
from .test_wireforms import (
    ODD,
    POOL_FAILURES,
    FailingPool,
    InlinePool,
    flag_set_meanwhile,
    use_pool,
)

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
        with flag_set_meanwhile(candidates[0].path):
            matched, failed = real_chunk(question, candidates)
        lost.extend(failed)
        return matched, failed
    monkeypatch.setattr(searchwork, "search_chunk", chunk_after_a_rename)
    use_pool(monkeypatch, InlinePool())
    assert run(world, monkeypatch, 2) == alone
    assert lost and set(lost) == {0}


@POOL_FAILURES
def test_a_failing_pool_leaves_the_search_to_the_session(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int],
        failure: Exception) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0)
    use_pool(monkeypatch, FailingPool(failure))
    assert run(world, monkeypatch, 2) == alone


HEADER_COMMANDS = [
    "SORT (DATE) UTF-8 ALL",
    "SORT (REVERSE SUBJECT FROM) UTF-8 ALL",
    "SORT (DISPLAYFROM TO CC ARRIVAL SIZE) UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
    "THREAD ORDEREDSUBJECT UTF-8 SUBJECT plain",
    "SEARCH FROM example.org",
    "SEARCH HEADER Message-ID x SENTSINCE 1-Jan-2024",
    "UID SEARCH OR SUBJECT one TO bob",
]


def run_headers(world: World, monkeypatch: pytest.MonkeyPatch, count: int) -> list[bytes]:
    """Each command in a new process with no cache file: every header value
    is computed (by the workers with ``count``)."""
    out: list[bytes] = []
    monkeypatch.setenv(workers.ENV_WORKERS, str(count))
    for command in HEADER_COMMANDS:
        forget_memory()
        path = os.path.join(world.maildir(), "postillion.cache")
        if os.path.exists(path):
            os.unlink(path)
        out += asyncio.run(_commands(world, command))
    return out


@pytest.fixture
def facet_chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Workers for header values of any folder of two or more, in chunks of
    three; counts the messages whose values a worker computed."""
    monkeypatch.setattr(searchwork, "MIN_MESSAGES", 2)
    monkeypatch.setattr(searchwork, "FACET_CHUNK", 3)
    counted: list[int] = []
    real = searchwork.facets

    async def counting(*args: Any) -> Any:
        result = await real(*args)
        if result is not None:
            counted.append(sum(1 for found in result if found is not None))
        return result
    monkeypatch.setattr(searchwork, "facets", counting)
    return counted


def test_header_values_from_workers_equal_the_sessions(
        world: World, monkeypatch: pytest.MonkeyPatch, facet_chunks: list[int]) -> None:
    fill(world)
    alone = run_headers(world, monkeypatch, 0)
    assert facet_chunks == []
    pooled = run_headers(world, monkeypatch, 2)
    assert pooled == alone
    assert len(facet_chunks) == len(HEADER_COMMANDS) and all(n == 29 for n in facet_chunks)
    assert any(line.startswith(b"* THREAD (") for line in alone)
    assert all(line.startswith(b"c0 OK") for line in alone if line.startswith(b"c0 "))


def test_header_values_from_workers_are_saved(
        world: World, monkeypatch: pytest.MonkeyPatch, facet_chunks: list[int]) -> None:
    fill(world)
    monkeypatch.setenv(workers.ENV_WORKERS, "2")
    forget_memory()
    first = asyncio.run(_commands(world, *HEADER_COMMANDS[:4]))
    assert facet_chunks
    forget_memory()
    facets_module = __import__("postillion.imap.search.facets", fromlist=["x"])

    def no_reading(*args: Any) -> Any:
        raise AssertionError("header read although its values were saved")
    monkeypatch.setattr(facets_module, "extract_fields", no_reading)
    assert asyncio.run(_commands(world, *HEADER_COMMANDS[:4])) == first


def test_a_header_renamed_meanwhile_is_read_by_the_session(
        world: World, monkeypatch: pytest.MonkeyPatch, facet_chunks: list[int]) -> None:
    fill(world)
    alone = run_headers(world, monkeypatch, 0)
    real_chunk = searchwork.facet_chunk
    lost: list[int] = []

    def chunk_after_a_rename(keys: Any, items: Any) -> Any:
        with flag_set_meanwhile(items[0][1]):
            result = real_chunk(keys, items)
        lost.extend(i for i, found in enumerate(result) if found is None)
        return result
    monkeypatch.setattr(searchwork, "facet_chunk", chunk_after_a_rename)
    use_pool(monkeypatch, InlinePool())
    assert run_headers(world, monkeypatch, 2) == alone
    assert lost and set(lost) == {0}


@POOL_FAILURES
def test_a_failing_pool_leaves_the_headers_to_the_session(
        world: World, monkeypatch: pytest.MonkeyPatch, facet_chunks: list[int],
        failure: Exception) -> None:
    fill(world)
    alone = run_headers(world, monkeypatch, 0)
    use_pool(monkeypatch, FailingPool(failure))
    assert run_headers(world, monkeypatch, 2) == alone
    assert facet_chunks == []


@pytest.mark.parametrize("comes_up", [True, False], ids=["pool", "no-pool"])
def test_while_the_pool_starts_the_session_searches_and_reads_headers(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int],
        facet_chunks: list[int], comes_up: bool) -> None:
    """A pool not up yet is not waited for: the session computes chunks in
    a thread of its own until it is (or for good, when it never comes),
    the workers the rest; the answers are the session's alone."""
    fill(world)
    alone = run(world, monkeypatch, 0) + run_headers(world, monkeypatch, 0)
    where: list[str] = []
    two_done = threading.Event()

    def counted(real: Any) -> Any:
        def chunk(*args: Any) -> Any:
            in_session = threading.current_thread() is not threading.main_thread()
            where.append("session" if in_session else "pool")
            if where.count("session") == 2:
                two_done.set()
            return real(*args)
        return chunk

    def slow_start(preload: Sequence[str] = ()) -> Any:
        assert list(preload) == ["postillion.imap.filesearch"]  # the search tasks' module
        two_done.wait(10)
        return InlinePool() if comes_up else None

    monkeypatch.setattr(searchwork, "search_chunk", counted(searchwork.search_chunk))
    monkeypatch.setattr(searchwork, "facet_chunk", counted(searchwork.facet_chunk))
    monkeypatch.setattr(workers, "running", lambda: None)
    monkeypatch.setattr(workers, "pool", slow_start)
    assert run(world, monkeypatch, 2) + run_headers(world, monkeypatch, 2) == alone
    assert where[:2] == ["session", "session"]
    assert ("pool" in where) == comes_up


def test_a_pool_that_fails_to_start_after_the_session_did_the_work_is_not_left_unread(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int],
        caplog: pytest.LogCaptureFixture) -> None:
    """The session searched every chunk itself while the pool was starting;
    the start then fails: its error is taken, not left to asyncio's
    "exception was never retrieved" when the task is collected."""
    fill(world)
    alone = run(world, monkeypatch, 0)
    release = threading.Event()

    def failing_start(preload: Sequence[str] = ()) -> Any:
        release.wait(10)
        raise RuntimeError("no pool today")

    real_search = searchwork.search

    async def releasing(*args: Any) -> Any:
        try:
            return await real_search(*args)
        finally:
            release.set()  # the first search is done: now the start fails

    monkeypatch.setattr(searchwork, "search", releasing)
    monkeypatch.setattr(workers, "running", lambda: None)
    monkeypatch.setattr(workers, "pool", failing_start)
    with caplog.at_level("ERROR", logger="asyncio"):
        assert run(world, monkeypatch, 2) == alone
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
