"""Where a session's blocking work runs: off the event loop in a server of
many clients (so one client's FETCH 1:* never holds up another's NOOP), on
it in a process that serves one client (imapd on stdio), where a thread
would only add hand-overs."""

from __future__ import annotations

import asyncio
import threading
from typing import cast

import pytest

from postillion.config import Config
from postillion.imap.session import ServerContext, Session
from postillion.imap.session.context import FolderNotifier


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

