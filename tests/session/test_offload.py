"""Where a session's blocking work runs: off the event loop in a server of
many clients (so one client's FETCH 1:* never holds up another's NOOP), on
it in a process that serves one client (imapd on stdio), where a thread
would only add hand-overs."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import threading
import weakref
from collections.abc import Iterator
from typing import cast

import pytest

from postillion.config import Config
from postillion.imap.selected import SelectedMailbox
from postillion.imap.session import ServerContext, Session
from postillion.imap.session.context import FolderNotifier

from .harness import MemoryClient, World
from .test_scale import fill


def _session(one_client: bool) -> Session:
    ctx = ServerContext(config=cast(Config, None), auth=None,
                        notifier=cast(FolderNotifier, None), one_client=one_client)
    reader = asyncio.StreamReader()
    return Session(reader, cast(asyncio.StreamWriter, None), ctx)


@pytest.mark.parametrize("one_client", [False, True])
def test_blocking_work_leaves_the_loop_only_when_other_clients_share_it(
        one_client: bool) -> None:
    async def run() -> tuple[int, int, tuple[object, ...]]:
        session = _session(one_client)
        loop_thread = threading.get_ident()

        def work(a: int, *, b: str) -> tuple[object, ...]:
            return (threading.get_ident(), a, b)

        ran_in, *answer = await session.offload(work, 7, b="x")
        return loop_thread, cast(int, ran_in), tuple(answer)

    loop_thread, ran_in, answer = asyncio.run(run())
    assert answer == (7, "x")
    assert (ran_in == loop_thread) is one_client


def test_an_error_of_the_work_reaches_the_caller_either_way() -> None:
    def fail() -> None:
        raise OSError("disk gone")

    async def run(one_client: bool) -> None:
        await _session(one_client).offload(fail)

    for one_client in (False, True):
        with pytest.raises(OSError, match="disk gone"):
            asyncio.run(run(one_client))



def _gc_states_of_session(world: World, one_client: bool, *commands: str) -> list[tuple[int, bool]]:
    """Run a session's commands; after each, the objects the collector
    holds frozen and whether its automatic passes are on."""
    async def run() -> list[tuple[int, bool]]:
        ctx = dataclasses.replace(world.context(), one_client=one_client)
        client = MemoryClient(ctx, preauth=world.accounts["paul"])
        await client.line()
        seen = [(gc.get_freeze_count(), gc.isenabled())]
        for n, command in enumerate(commands):
            await client.command(f"c{n} {command}")
            seen.append((gc.get_freeze_count(), gc.isenabled()))
        await client.close()
        seen.append((gc.get_freeze_count(), gc.isenabled()))
        return seen

    return asyncio.run(run())


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_one_client_process_keeps_a_selected_folder_out_of_the_collectors_walks(
        world: World, thawed: None) -> None:
    fill(world, 30)
    seen = _gc_states_of_session(world, True, "SELECT INBOX", "FETCH 1:* FLAGS", "CLOSE",
                               "EXAMINE INBOX", "UNSELECT", "SELECT INBOX")
    start, select, fetch, close, examine, unselect, select_again, closed = seen
    assert start[0] == 0
    # Frozen while the folder is selected, given back when it is left (and
    # when the session ends); the automatic passes are on throughout.
    assert select[0] > 0 and fetch[0] > 0 and examine[0] > 0 and select_again[0] > 0
    assert close[0] == unselect[0] == closed[0] == 0
    assert all(enabled for _count, enabled in seen)


def test_a_server_of_many_clients_leaves_its_collector_alone(
        world: World, thawed: None) -> None:
    fill(world, 30)
    seen = _gc_states_of_session(world, False, "SELECT INBOX", "FETCH 1:* FLAGS", "CLOSE")
    assert seen == [(0, True)] * len(seen)


def test_a_select_that_fails_leaves_the_collector_running(
        world: World, thawed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 3)

    def unreadable(self: SelectedMailbox) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(SelectedMailbox, "open", unreadable)
    seen = _gc_states_of_session(world, True, "SELECT INBOX", "NOOP")
    assert all(enabled for _count, enabled in seen)
    assert seen[-1][0] == 0  # and nothing stays frozen once the session ends


def test_garbage_cycles_made_while_a_folder_is_selected_are_collected(
        world: World, thawed: None) -> None:
    fill(world, 3)

    class Node:
        def __init__(self) -> None:
            self.me = self

    async def run() -> bool:
        ctx = dataclasses.replace(world.context(), one_client=True)
        client = MemoryClient(ctx, preauth=world.accounts["paul"])
        await client.line()
        await client.command("s SELECT INBOX")
        probe = weakref.ref(Node())   # a cycle, garbage at once
        # No gc.collect() (it works even with the automatic passes off):
        # enough new objects for the collector to run by itself.
        keep = []
        for _ in range(gc.get_threshold()[0] * 3):
            keep.append([])
            if probe() is None:
                break
        collected = probe() is None
        await client.close()
        return collected

    assert asyncio.run(run())
