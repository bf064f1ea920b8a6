"""ENVELOPE and BODYSTRUCTURE computed in worker processes for a big cold
FETCH: the answers are byte for byte those computed in the session, and a
message the workers could not read or parse is still answered."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from postillion.imap import wireforms, workers
from postillion.imap.foldercache import FolderCache

from .harness import MemoryClient, World
from .test_scale import MESSAGES, RAW_UTF8, forget_memory

ODD = [
    b"",                                                     # an empty file
    b"no header at all, just text\n",
    b"Subject: =?x-unknown?B?!!!?=\nContent-Type: multipart/mixed\n\nno boundary\n",
    b"From: <>\nTo: ,,,\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n",
]

FETCH = "FETCH 1:* (UID RFC822.SIZE ENVELOPE BODYSTRUCTURE)"


def fill(world: World) -> None:
    for n in range(30):
        world.deliver(MESSAGES[n % len(MESSAGES)])
    for body in [*ODD, RAW_UTF8]:
        world.deliver(body)


async def _fetch(world: World, *, utf8: bool = False, fetch: str = FETCH) -> list[bytes]:
    client = MemoryClient(world.context(), preauth=world.accounts["paul"])
    await client.line()
    if utf8:
        await client.command("e ENABLE UTF8=ACCEPT")
    await client.command("s SELECT INBOX")
    out = await client.command(f"f {fetch}")
    await client.command("z LOGOUT")
    await client.close()
    return out


def run(world: World, monkeypatch: pytest.MonkeyPatch, count: int, *,
        utf8: bool = False, fetch: str = FETCH) -> list[bytes]:
    """A cold FETCH (no cache file, nothing in memory) with ``count`` workers."""
    forget_memory()
    path = os.path.join(world.maildir(), "postillion.cache")
    if os.path.exists(path):
        os.unlink(path)
    monkeypatch.setenv(workers.ENV_WORKERS, str(count))
    return asyncio.run(_fetch(world, utf8=utf8, fetch=fetch))


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Workers for any FETCH of two or more, in chunks of three; counts the
    messages whose forms came back from a worker."""
    monkeypatch.setattr(wireforms, "MIN_MESSAGES", 2)
    monkeypatch.setattr(wireforms, "CHUNK", 3)
    learned: list[int] = []
    real = FolderCache.learned

    def counting(self: FolderCache, *args: Any) -> None:
        learned.append(1)
        real(self, *args)
    monkeypatch.setattr(FolderCache, "learned", counting)
    return learned


@pytest.mark.parametrize("utf8", [False, True], ids=["plain", "utf8-accept"])
def test_worker_answers_equal_in_process_answers(world: World, monkeypatch: pytest.MonkeyPatch,
                                                 small_chunks: list[int], utf8: bool) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0, utf8=utf8)
    assert small_chunks == []
    pooled = run(world, monkeypatch, 2, utf8=utf8)
    assert len(small_chunks) == 35          # every file was readable
    assert pooled == alone
    # ... and what the workers put in the cache file serves the next process.
    forget_memory()
    assert asyncio.run(_fetch(world, utf8=utf8)) == alone


def test_sizes_counted_by_workers_equal_the_sessions(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int]) -> None:
    fill(world)
    asyncio.run(_fetch(world, fetch="NOOP"))   # \Recent goes to this session
    sizes = "FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"
    alone = run(world, monkeypatch, 0, fetch=sizes)
    pooled = run(world, monkeypatch, 2, fetch=sizes)
    assert len(small_chunks) == 35
    assert pooled == alone
    # The file now holds sizes only: the next process computes ENVELOPE
    # and BODYSTRUCTURE as one without the file would.
    forget_memory()
    monkeypatch.setenv(workers.ENV_WORKERS, "0")
    assert asyncio.run(_fetch(world)) == run(world, monkeypatch, 0)


def test_a_message_renamed_meanwhile_is_answered_by_the_session(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int]) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0)
    real_compute = wireforms.compute

    def compute_after_a_rename(paths: list[str],
                               wire: bool = True) -> list[wireforms.WireForms | None]:
        with flag_set_meanwhile(paths[0]):
            return real_compute(paths, wire)
    monkeypatch.setattr(wireforms, "compute", compute_after_a_rename)
    use_pool(monkeypatch, InlinePool())
    assert run(world, monkeypatch, 2) == alone
    assert len(small_chunks) == 35 - 12     # 12 chunks of 3 (35 messages): one each in the session


@contextlib.contextmanager
def flag_set_meanwhile(path: str) -> Iterator[None]:
    """Another process sets a flag on a message (renames its file) while
    a worker runs, and the test puts it back afterwards."""
    renamed = path.split(":2,")[0] + ":2,D"
    os.rename(path, renamed)
    try:
        yield
    finally:
        os.rename(renamed, path)


def use_pool(monkeypatch: pytest.MonkeyPatch, pool: Any) -> None:
    """The process's worker pool is ``pool``, already up."""
    monkeypatch.setattr(workers, "pool", lambda: pool)
    monkeypatch.setattr(workers, "running", lambda: pool)


class InlinePool:
    """A pool that runs tasks in a thread of this process, so that a test
    can change what a task sees."""

    def submit(self, fn: Any, *args: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


class FailingPool(InlinePool):
    """A pool whose every task fails with ``failure``."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def submit(self, fn: Any, *args: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_exception(self.failure)
        return future


def test_compute_gives_none_for_what_it_cannot_read(tmp_path: Any) -> None:
    readable = tmp_path / "one"
    readable.write_bytes(MESSAGES[0])
    result = wireforms.compute([str(tmp_path / "gone"), str(readable), str(tmp_path)])
    assert result[0] is None and result[2] is None
    forms = result[1]
    assert forms is not None and forms.envelope is not None
    assert forms.envelope.startswith(b'("Mon, 1 Jan 2024 10:00:00 +0000" "plain one"')
    assert forms.rfc822_size == len(MESSAGES[0].replace(b"\n", b"\r\n"))


#: A pool that died, and a task that failed for another reason.
POOL_FAILURES = pytest.mark.parametrize(
    "failure", [BrokenProcessPool("a worker died"), TypeError("cannot pickle")],
    ids=["broken", "error"])


@POOL_FAILURES
def test_a_failing_pool_leaves_the_work_to_the_session(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int],
        failure: Exception) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0)
    use_pool(monkeypatch, FailingPool(failure))
    assert run(world, monkeypatch, 2) == alone
    assert small_chunks == []


@pytest.mark.parametrize("comes_up", [True, False], ids=["pool-comes-up", "no-pool"])
def test_chunks_computed_in_the_session_while_the_pool_starts(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int],
        comes_up: bool) -> None:
    """The first FETCH does not wait for the workers to start: the session
    computes chunks in a thread of its own until they are up (or for good,
    when they never come)."""
    fill(world)
    alone = run(world, monkeypatch, 0)
    real_compute = wireforms.compute
    where: list[str] = []
    two_done = threading.Event()

    def compute(paths: list[str], wire: bool = True) -> list[wireforms.WireForms | None]:
        in_session = threading.current_thread() is not threading.main_thread()
        where.append("session" if in_session else "pool")
        if where.count("session") == 2:
            two_done.set()
        return real_compute(paths, wire)

    def slow_start() -> Any:
        assert two_done.wait(10)
        return InlinePool() if comes_up else None

    monkeypatch.setattr(wireforms, "compute", compute)
    monkeypatch.setattr(workers, "running", lambda: None)
    monkeypatch.setattr(workers, "pool", slow_start)
    assert run(world, monkeypatch, 2) == alone
    assert len(where) == 12 and len(small_chunks) == 35   # 12 chunks, every message
    assert where[:2] == ["session", "session"]
    assert ("pool" in where) == comes_up


def test_a_machine_without_worker_processes_works_in_process(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int]) -> None:
    fill(world)
    alone = run(world, monkeypatch, 0)

    def no_semaphores(method: str) -> Any:
        raise OSError(38, "Function not implemented")
    monkeypatch.setattr(workers, "_pool", None)
    monkeypatch.setattr(workers, "_unavailable", False)
    monkeypatch.setattr(workers.multiprocessing, "get_context", no_semaphores)
    assert run(world, monkeypatch, 2) == alone
    # The first FETCH's chunks were computed in the session's thread while
    # the pool failed to start; the next FETCH does not try again.
    assert workers.count() == 0 and len(small_chunks) == 35
    assert run(world, monkeypatch, 2) == alone
    assert len(small_chunks) == 35


def test_sizes_beside_whole_messages_are_counted_from_them(
        world: World, monkeypatch: pytest.MonkeyPatch, small_chunks: list[int]) -> None:
    """RFC822.SIZE asked with BODY.PEEK[] comes from the messages the answer
    reads anyway: no worker reads every file a second time for its size."""
    fill(world)
    fetch = "FETCH 1:* (RFC822.SIZE BODY.PEEK[])"
    alone = run(world, monkeypatch, 0, fetch=fetch)
    assert run(world, monkeypatch, 2, fetch=fetch) == alone
    assert small_chunks == []
    assert sum(b"RFC822.SIZE " in line for line in alone) == 35
