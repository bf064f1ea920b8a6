"""The scan a process leaves behind (``postillion.scan``, see
postillion.maildir.scanfile): a new process's SELECT believes it only while
the folder is exactly what it was made from, and anything else -- mail
delivered, flags changed or messages removed by other programs, Courier
rewriting its uid database, a damaged or hostile file -- gives what a full
scan gives."""

from __future__ import annotations

import asyncio
import os
import random
import re
import struct
import time
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from postillion.maildir import scanfile, uiddb

from .harness import World
from .test_scale import MESSAGES, _commands, _flip_a_byte, fill, forget_memory

SESSION = ["FETCH 1:* (UID FLAGS)", "UID SEARCH ALL", "STATUS INBOX (MESSAGES UIDNEXT)"]


def age(world: World, seconds: float = 30) -> None:
    """Move the folder's directory times into the past, as if its last
    change were ``seconds`` ago (a save needs its listing to start a clock
    tick after the last change; tests run faster than that)."""
    then = time.time() - seconds
    for sub in ("new", "cur"):
        os.utime(os.path.join(world.maildir(), sub), (then, then))


def scan_path(world: World) -> str:
    return os.path.join(world.maildir(), scanfile.NAME)


def session(world: World) -> list[bytes]:
    return asyncio.run(_commands(world, *SESSION))


def without_scan_file(world: World) -> list[bytes]:
    """What a new process answers when it must read the folder itself."""
    forget_memory()
    with open(scan_path(world), "rb") as f:
        kept = f.read()
    os.unlink(scan_path(world))
    try:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(uiddb, "save_scan", lambda folder_dir: False)
            return session(world)
    finally:
        with open(scan_path(world), "wb") as f:
            f.write(kept)


def forbid_reading_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> Any:
        raise AssertionError("folder listed although its scan was saved")
    monkeypatch.setattr(uiddb, "list_message_files", refuse)
    monkeypatch.setattr(uiddb, "_read_known", refuse)


def saved_world(world: World, count: int = 20) -> list[bytes]:
    fill(world, count)
    session(world)           # moves new/ to cur/, writes the uid database
    age(world)
    forget_memory()
    first = session(world)   # lists again a tick later: the scan is saved
    assert os.path.exists(scan_path(world))
    return first


def test_a_new_process_opens_the_folder_from_the_saved_scan(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    first = saved_world(world)
    forget_memory()
    with monkeypatch.context() as m:
        forbid_reading_the_folder(m)
        assert session(world) == first
    assert without_scan_file(world) == first


def _deliver(world: World) -> None:
    world.deliver(MESSAGES[0])


def _flag_elsewhere(world: World) -> None:
    cur = os.path.join(world.maildir(), "cur")
    name = sorted(os.listdir(cur))[4]
    os.rename(os.path.join(cur, name), os.path.join(cur, name.split(":")[0] + ":2,FS"))


def _expunge_elsewhere(world: World) -> None:
    cur = os.path.join(world.maildir(), "cur")
    os.unlink(os.path.join(cur, sorted(os.listdir(cur))[7]))


def _uiddb_rewritten(world: World) -> None:
    """Courier renumbered the folder (a new uid database, same messages)."""
    path = os.path.join(world.maildir(), uiddb.UIDDB)
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    version, _validity, nextuid = lines[0].split()
    renumbered = [b"%s %d %s" % (version, 1234567, nextuid)]
    renumbered += [line for line in lines[1:] if line]
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(b"\n".join(renumbered) + b"\n")
    os.rename(tmp, path)


@pytest.mark.parametrize("change", [_deliver, _flag_elsewhere, _expunge_elsewhere,
                                    _uiddb_rewritten],
                         ids=["delivered", "flagged", "expunged", "uiddb-rewritten"])
def test_changes_by_other_programs_are_seen(world: World,
                                            change: Callable[[World], None]) -> None:
    saved_world(world)
    change(world)
    forget_memory()
    # The first session after a delivery has it \Recent; the second not.
    assert unrecent(session(world)) == unrecent(without_scan_file(world))


def unrecent(lines: list[bytes]) -> list[bytes]:
    return [re.sub(rb" ?\\Recent ?", b"", line)
            for line in lines if not line.endswith(b" RECENT\r\n")]


def test_a_change_within_the_same_clock_tick_is_not_missed(world: World) -> None:
    """A file made from a listing that started less than a tick after the
    directories' last change is not believed (such a change could hide
    behind an equal mtime)."""
    first = saved_world(world)
    with open(scan_path(world), "rb") as f:
        data = bytearray(f.read())
    # listed_at (a double after magic, version, UIDVALIDITY, UIDNEXT): the
    # very time of cur/'s last change.
    cur_mtime_ns = os.stat(os.path.join(world.maildir(), "cur")).st_mtime_ns
    struct.pack_into("<d", data, 10 + 2 + 4 + 4, cur_mtime_ns / 1e9)
    with open(scan_path(world), "wb") as f:
        f.write(data)
    _flag_elsewhere(world)
    # ... and the flag change kept cur/'s mtime (a coarse clock): only the
    # file's listing time could tell.
    os.utime(os.path.join(world.maildir(), "cur"), ns=(cur_mtime_ns, cur_mtime_ns))
    forget_memory()
    after = session(world)
    assert after != first
    assert after == without_scan_file(world)


def _rewrite_body(path: str, edit: Callable[[list[int], list[str]], None]) -> None:
    """Change the scan's content, keeping its header and CRC right."""
    with open(path, "rb") as f:
        saved = scanfile.decode(f.read())
    assert saved is not None
    uids, names = list(saved.uids), list(saved.names)
    edit(uids, names)
    with open(path, "wb") as f:
        f.write(scanfile.encode(scanfile.SavedScan(saved.head, uids, names)))


def _hostile(edit: Callable[[list[int], list[str]], None]
             ) -> Callable[[str], None]:
    return lambda path: _rewrite_body(path, edit)


def _names_escape(uids: list[int], names: list[str]) -> None:
    names[4] = "../../../etc/passwd"


def _dot_name(uids: list[int], names: list[str]) -> None:
    names[4] = ".hidden"


def _base_twice(uids: list[int], names: list[str]) -> None:
    names[3] = names[4].split(":")[0] + ":2,S"


def _uids_unordered(uids: list[int], names: list[str]) -> None:
    uids[3], uids[4] = uids[4], uids[3]


def _uid_beyond_uidnext(uids: list[int], names: list[str]) -> None:
    uids[-1] = 10_000


def _random(path: str) -> None:
    with open(path, "wb") as f:
        f.write(random.Random(3).randbytes(4000))


def _counts_lie(path: str) -> None:
    with open(path, "rb") as f:
        data = bytearray(f.read())
    count_at = scanfile._HEADER.size - 12
    (count,) = struct.unpack_from("<I", data, count_at)
    struct.pack_into("<I", data, count_at, count - 1)
    struct.pack_into("<I", data, scanfile._HEADER.size - 4,
                     zlib.crc32(data[scanfile._HEADER.size:]))
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("damage", [
    _hostile(_names_escape), _hostile(_dot_name), _hostile(_base_twice),
    _hostile(_uids_unordered), _hostile(_uid_beyond_uidnext), _flip_a_byte, _random,
    _counts_lie, lambda p: open(p, "wb").close(),
    lambda p: os.truncate(p, os.path.getsize(p) - 7)],
    ids=["escaping-name", "dot-name", "base-twice", "unordered", "beyond-uidnext", "flipped",
         "random", "counts", "empty", "truncated"])
def test_a_damaged_or_hostile_file_is_not_believed(world: World,
                                                   damage: Callable[[str], None]) -> None:
    first = saved_world(world)
    damage(scan_path(world))
    forget_memory()
    assert session(world) == first


def test_new_mail_is_left_for_the_next_session_to_see_as_recent(world: World) -> None:
    saved_world(world)
    # Delivered while a session had the folder, which saw nothing of it
    # (no command after the delivery): leaving must not move it to cur/.
    async def deliver_then_leave() -> None:
        from .harness import MemoryClient
        client = MemoryClient(world.context(), preauth=world.accounts["paul"])
        await client.line()
        await client.command("s SELECT INBOX")
        world.deliver(MESSAGES[1])
        await client.close()

    asyncio.run(deliver_then_leave())
    assert len(os.listdir(os.path.join(world.maildir(), "new"))) == 1
    forget_memory()
    lines = asyncio.run(_commands(world))
    assert b"* 1 RECENT\r\n" in lines


def test_a_session_that_changes_flags_and_leaves_at_once_leaves_its_scan(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """STORE then LOGOUT: the folder changed a moment ago, so leaving waits
    for a clock tick (uiddb.SETTLE_SECONDS) and lists it once more."""
    monkeypatch.setattr(uiddb, "SETTLE_SECONDS", 0.25)
    fill(world, 20)
    asyncio.run(_commands(world, "STORE 1:* +FLAGS (\\Flagged)"))
    assert os.path.exists(scan_path(world))
    forget_memory()
    with monkeypatch.context() as m:
        forbid_reading_the_folder(m)
        with_file = session(world)
    assert with_file == without_scan_file(world)
    assert sum(b" FETCH " in line and b"\\Flagged" in line for line in with_file) == 20
