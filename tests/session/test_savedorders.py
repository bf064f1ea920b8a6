"""SORT and THREAD answers kept in the folder cache (docs/cache.md, "Saved
orders"): given again in a new process only while the folder holds the
same messages, never wrong after another process delivered or expunged,
and never believed when the file holds something else."""

from __future__ import annotations

import asyncio
import os
import re
import struct
from collections.abc import Callable
from typing import Any

import pytest

from postillion.imap import foldercache, savedorders
from postillion.imap.session import searching

from .harness import World
from .test_scale import (
    MESSAGES,
    ORDERS,
    _commands,
    cache_path,
    fill,
    forget_memory,
    read_section,
    replace_section,
)

ORDERED = ["SORT (SUBJECT DATE) UTF-8 ALL", "UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL",
           "SORT (FROM) UTF-8 ALL", "SORT (REVERSE SIZE) UTF-8 ALL",
           "THREAD REFERENCES UTF-8 ALL", "UID THREAD REFERENCES UTF-8 ALL",
           "THREAD ORDEREDSUBJECT UTF-8 ALL", "UID THREAD ORDEREDSUBJECT UTF-8 ALL"]


def answers(world: World, *commands: str) -> list[bytes]:
    """The untagged SORT/THREAD lines of one session running ``commands``."""
    lines = asyncio.run(_commands(world, *commands))
    return [line for line in lines if line.startswith((b"* SORT", b"* THREAD"))]


def computed(world: World, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The answers of a new process with no cache file at all."""
    forget_memory()
    with monkeypatch.context() as m:
        m.setenv(foldercache.ENV_SWITCH, "0")
        return answers(world, *ORDERED)


def forbid_computing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("answer computed although saved")
    monkeypatch.setattr(searching.engine, "sort", refuse)
    monkeypatch.setattr(searching.engine, "thread", refuse)


def test_a_new_process_gives_the_saved_answers(world: World,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 30)
    first = answers(world, *ORDERED)
    assert len(first) == len(ORDERED)
    forget_memory()
    with monkeypatch.context() as m:
        forbid_computing(m)
        assert answers(world, *ORDERED) == first
    assert computed(world, monkeypatch) == first


def test_sort_and_uid_sort_share_one_saved_order(world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 12)
    by_seq = answers(world, "SORT (DATE) UTF-8 ALL")
    forget_memory()
    with monkeypatch.context() as m:
        forbid_computing(m)
        by_uid = answers(world, "UID SORT (DATE) UTF-8 ALL")
    # Nothing expunged yet: sequence numbers are the UIDs here.
    assert by_uid == by_seq


def test_answers_follow_deliveries_and_expunges_by_other_processes(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 30)
    answers(world, *ORDERED)
    cur = os.path.join(world.maildir(), "cur")
    names = sorted(os.listdir(cur))
    os.unlink(os.path.join(cur, names[3]))         # expunged by another program
    os.unlink(os.path.join(cur, names[17]))
    world.deliver(MESSAGES[1])                      # delivered by an MDA
    world.deliver(MESSAGES[2])
    forget_memory()
    after = answers(world, *ORDERED)
    assert after == computed(world, monkeypatch)
    # ... and the new answers are the saved ones now.
    forget_memory()
    with monkeypatch.context() as m:
        forbid_computing(m)
        assert answers(world, *ORDERED) == after


def test_a_session_that_saw_a_change_sorts_the_new_folder(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within one session: SORT, a delivery, NOOP, SORT again."""
    fill(world, 10)

    async def one_session() -> list[bytes]:
        from .harness import MemoryClient
        client = MemoryClient(world.context(), preauth=world.accounts["paul"])
        await client.line()
        await client.command("s SELECT INBOX")
        out = await client.command("a SORT (REVERSE DATE) UTF-8 ALL")
        world.deliver(b"Subject: late\nDate: Mon, 1 Jan 2029 10:00:00 +0000\n\nx\n")
        await client.command("n NOOP")
        out += await client.command("b SORT (REVERSE DATE) UTF-8 ALL")
        await client.command("z LOGOUT")
        await client.close()
        return [line for line in out if line.startswith(b"* SORT")]

    before, after = asyncio.run(one_session())
    assert after == b"* SORT 11 " + before[len(b"* SORT "):]


def test_subsets_and_arrival_are_not_saved(world: World) -> None:
    fill(world, 10)
    answers(world, "SORT (DATE) UTF-8 SEEN", "SORT (ARRIVAL) UTF-8 ALL",
            "THREAD REFERENCES UTF-8 UNSEEN")
    forget_memory()
    cache = foldercache.FolderCache.for_folder(world.maildir())
    cache._read_orders()
    assert cache._orders == {}


def _orders_section(entries: list[tuple[str, bytes, bytes]]) -> bytes:
    parts = [struct.pack("<H", len(entries))]
    for key, digest, data in entries:
        parts += [struct.pack("<H", len(key)), key.encode(), digest,
                  struct.pack("<I", len(data)), data]
    return b"".join(parts)


def _u32(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def _hostile(count: int, digest: bytes) -> list[tuple[str, bytes, bytes]]:
    """Saved answers, under the right digest, that are not answers."""
    dummy = savedorders.DUMMY
    forest_missing_one = b"".join(_u32(p, 0) for p in range(count - 1))
    return [
        ("SORT SUBJECT DATE", digest, _u32(*range(count - 1))),            # one short
        ("SORT REVERSE DATE SUBJECT", digest, _u32(*([0] * count))),       # not a permutation
        ("SORT FROM", digest, _u32(*range(1, count + 1))),                  # out of range
        ("SORT REVERSE SIZE", digest, b"\x01\x02\x03"),                     # not u32s
        ("THREAD REFERENCES", digest, forest_missing_one),
        ("THREAD ORDEREDSUBJECT", digest, _u32(dummy, 0) + forest_missing_one
         + _u32(count - 1, 0)),                                             # empty dummy
    ]


def _hostile_forests(count: int, digest: bytes) -> list[tuple[str, bytes, bytes]]:
    whole = b"".join(_u32(p, 0) for p in range(count))
    return [
        ("THREAD REFERENCES", digest, whole[:-8] + _u32(0, 0)),             # one twice, one
                                                                             # missing
        ("THREAD ORDEREDSUBJECT", digest, _u32(0, 50) + whole[8:]),        # children missing
    ]


@pytest.mark.parametrize("make", [_hostile, _hostile_forests], ids=["orders", "forests"])
def test_damaged_saved_answers_are_not_believed(
        world: World, monkeypatch: pytest.MonkeyPatch,
        make: Callable[[int, bytes], list[tuple[str, bytes, bytes]]]) -> None:
    fill(world, 16)
    first = answers(world, *ORDERED)
    digest = savedorders.set_digest(list(range(1, 17)))
    replace_section(cache_path(world), ORDERS, _orders_section(make(16, digest)))
    forget_memory()
    assert answers(world, *ORDERED) == first


@pytest.mark.parametrize("section", [b"", b"\x05\x00", b"\x01\x00\xff\xffSORT",
                                     b"\x01\x00\x09\x00SORT DATE" + b"\0" * 10])
def test_an_unreadable_orders_section_is_ignored(world: World, section: bytes) -> None:
    fill(world, 8)
    first = answers(world, *ORDERED)
    replace_section(cache_path(world), ORDERS, section)
    forget_memory()
    assert answers(world, *ORDERED) == first
    # The next save writes a good section again.
    forget_memory()
    assert re.match(rb"\x06\x00", read_section(cache_path(world), ORDERS))
