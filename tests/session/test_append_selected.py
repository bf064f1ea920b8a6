"""APPEND into the selected folder, and STORE: the session's snapshot
takes the appended messages and its own flag changes without a scan, and
other processes' changes still reach the client, with sequence numbers,
UIDs and flags that stay consistent.

After every command the client's view (``FETCH 1:* (UID)``) must extend
the previous one (nothing was expunged), ascend, and at the end equal a
fresh scan of the folder; each APPENDUID names the message appended.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable

import pytest

from postillion.imap import sharedfolder
from postillion.maildir import delivery, folders, uiddb

from .harness import MemoryClient, World, selected_clients, texts

_APPENDUID = re.compile(r"\[APPENDUID \d+ (\d+)\]")


def forget_memory() -> None:
    sharedfolder.forget_all()
    folders.forget_listings()
    uiddb.forget_parses()


class Client:
    """A session with INBOX selected that checks its view after each step."""

    def __init__(self, client: MemoryClient) -> None:
        self.client = client
        self.view: list[int] = []
        self.subjects: dict[int, str] = {}
        self.tag = 0

    async def command(self, text: str, literal: bytes | None = None) -> list[str]:
        self.tag += 1
        tag = f"t{self.tag}"
        if literal is None:
            lines = texts(await self.client.command(f"{tag} {text}"))
        else:
            self.client.send(f"{tag} {text} {{{len(literal)}}}\r\n".encode())
            assert await self.client.line() == b"+ OK\r\n"
            self.client.send(literal + b"\r\n")
            lines = texts(await self.client.until(tag.encode()))
        assert lines[-1].startswith(f"{tag} OK"), lines
        return lines

    async def append(self, subject: str, *, check: bool = True) -> tuple[int, list[str]]:
        lines = await self.command("APPEND INBOX (\\Seen)",
                                   f"Subject: {subject}\r\n\r\nbody\r\n".encode())
        match = _APPENDUID.search(lines[-1])
        assert match, lines
        uid = int(match.group(1))
        self.subjects[uid] = subject
        if check:  # (the FETCH's sync scans: the APPEND changed the folder)
            await self.check(lines)
        return uid, lines

    async def check(self, lines: list[str]) -> None:
        """The view after ``lines``: EXISTS as FETCH counts it, the old view
        its prefix, UIDs ascending."""
        exists = [int(line.split()[1]) for line in lines if line.endswith(" EXISTS")]
        fetched = await self.command("FETCH 1:* (UID)")
        view = [int(m.group(1)) for line in fetched
                for m in [re.search(r"FETCH \(UID (\d+)\)", line)] if m]
        if exists:
            assert exists[-1] == len(view)
        assert view[:len(self.view)] == self.view
        assert view == sorted(set(view))
        self.view = view


def _deliver_unnumbered_into_cur(maildir: str, subject: str) -> str:
    """What a POP3 server's or mail reader's move leaves: a message in cur/
    that no uid database names yet."""
    path = delivery.deliver(maildir, f"Subject: {subject}\n\nx\n".encode(), flags="",
                            durable=False)
    return os.path.basename(path).split(":", 1)[0]


@pytest.fixture
def count_scans(monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[str]]:
    """The last scan stays recent enough to build on; calling the result
    starts counting scans (the sync after a command scans only when it
    cannot build on it)."""
    monkeypatch.setattr(sharedfolder, "EXTEND_WITHOUT_SCAN_SECONDS", 600.0)
    real_scan = uiddb.scan_and_assign

    def start() -> list[str]:
        scans: list[str] = []

        def counting(folder_dir: str, *, readonly: bool = False) -> uiddb.FolderScan:
            scans.append(folder_dir)
            return real_scan(folder_dir, readonly=readonly)

        monkeypatch.setattr(uiddb, "scan_and_assign", counting)
        return scans

    return start


def _run(world: World, scenario: object) -> None:
    async def main() -> None:
        client = MemoryClient(world.context(), preauth=world.accounts["paul"])
        await client.line()
        session = Client(client)
        await session.command("SELECT INBOX")
        await session.check([])
        await scenario(session)  # type: ignore[operator]
        await session.command("NOOP")
        await session.check([])
        fetched = await session.command("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        await client.command("z LOGOUT")
        await client.close()
        for uid, subject in session.subjects.items():
            assert any(f"UID {uid} " in line and f"Subject: {subject}" in line
                       for line in fetched), (uid, subject)
        forget_memory()
        fresh = uiddb.scan_and_assign(world.maildir())
        assert [m.uid for m in fresh.messages] == session.view

    asyncio.run(main())


def test_appends_are_reported_without_a_scan(world: World,
                                             count_scans: Callable[[], list[str]]) -> None:
    for n in range(5):
        world.deliver(f"Subject: old{n}\n\nx\n".encode())

    async def scenario(c: Client) -> None:
        scans = count_scans()
        for n in range(4):
            uid, lines = await c.append(f"appended{n}", check=False)
            assert uid == 6 + n
            assert lines[:2] == [f"* {6 + n} EXISTS", "* 5 RECENT"]
        assert scans == []
        await c.check([])
        # Another program's message, in cur/ without a UID: not part of the
        # APPEND's picture, reported by the next command's scan, above.
        _deliver_unnumbered_into_cur(world.maildir(), "moved")
        uid, lines = await c.append("appended4", check=False)
        assert uid == 10 and lines[0] == "* 10 EXISTS"
        lines = await c.command("NOOP")
        assert lines[0] == "* 11 EXISTS" and scans
        await c.check(lines)
        assert c.view[-1] == 11

    _run(world, scenario)


def test_other_processes_changes_between_appends(world: World,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        world.deliver(f"Subject: old{n}\n\nx\n".encode())
    monkeypatch.setattr(sharedfolder, "EXTEND_WITHOUT_SCAN_SECONDS", 600.0)

    async def scenario(c: Client) -> None:
        await c.append("a0")
        # A delivery into new/: numbered before the appended message, and
        # reported with it.
        world.deliver(b"Subject: delivered\n\nx\n")
        uid, lines = await c.append("a1")
        assert uid == 6 and "* 6 EXISTS" in lines
        # Another process numbered a message meanwhile: the snapshot cannot
        # just take the appended one (UIDs would go backwards for the
        # client); the sync after the APPEND scans.
        _deliver_unnumbered_into_cur(world.maildir(), "numbered elsewhere")
        uiddb.forget_parses()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            uiddb.scan_and_assign(world.maildir())
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        uid, lines = await c.append("a2")
        assert uid == 8 and "* 8 EXISTS" in lines
        # Flags changed and a message expunged by another program, then
        # an APPEND whose snapshot does not know it yet: the next command
        # reports both.
        cur = os.path.join(world.maildir(), "cur")
        names = sorted(os.listdir(cur))
        os.rename(os.path.join(cur, names[0]),
                  os.path.join(cur, names[0].split(":")[0] + ":2,F"))
        db = uiddb.read_uiddb(world.maildir())
        assert db is not None
        doomed = {base: uid for uid, base in db.entries}[names[1].split(":")[0]]
        os.unlink(os.path.join(cur, names[1]))
        uid, lines = await c.append("a3", check=False)
        assert uid == 9 and lines[0] == "* 9 EXISTS"
        lines = await c.command("NOOP")
        assert f"* {c.view.index(doomed) + 1} EXPUNGE" in lines
        assert "* 1 FETCH (FLAGS (\\Flagged \\Recent))" in lines
        c.view.remove(doomed)
        await c.check(lines)

    _run(world, scenario)


def test_a_session_that_only_appends_still_hears_of_others(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.deliver(b"Subject: old\n\nx\n")
    monkeypatch.setattr(sharedfolder, "EXTEND_WITHOUT_SCAN_SECONDS", 0.0)
    monkeypatch.setattr(sharedfolder, "EXTEND_WITHOUT_SCAN_FACTOR", 0)

    async def scenario(c: Client) -> None:
        await c.append("a0")
        _deliver_unnumbered_into_cur(world.maildir(), "moved")
        uid, lines = await c.append("a1")
        # The last scan is too old: the APPEND's sync scanned and found it.
        assert uid == 3 and "* 4 EXISTS" in lines

    _run(world, scenario)


def test_a_second_session_sees_the_appended_messages(world: World) -> None:
    world.deliver(b"Subject: old\n\nx\n")

    async def main() -> None:
        a, b = await selected_clients(world.context(), world.accounts["paul"], 2)
        for n in range(3):
            data = f"Subject: {n}\r\n\r\nx\r\n".encode()
            a.send(f"a{n + 2} APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
            assert texts(await a.until(f"a{n + 2}".encode()))[-1].endswith("APPEND Ok.")
        assert texts(await b.command("b2 NOOP"))[0] == "* 4 EXISTS"
        lines = texts(await b.command("b3 UID FETCH 1:* (FLAGS)"))
        assert [re.search(r"UID (\d+)", line)[1] for line in lines[:-1]] == ["1", "2", "3", "4"]  # type: ignore[index]
        for client in (a, b):
            await client.command("z LOGOUT")
            await client.close()

    asyncio.run(main())


def _flags(lines: list[str]) -> dict[int, str]:
    return {int(m[1]): m[2] for line in lines
            for m in [re.search(r"UID (\d+) FLAGS \(([^)]*)\)", line)] if m}


def test_store_is_reported_without_a_scan(world: World,
                                          count_scans: Callable[[], list[str]]) -> None:
    for n in range(6):
        world.deliver(f"Subject: old{n}\n\nx\n".encode(), flags="S")

    async def scenario(c: Client) -> None:
        scans = count_scans()
        lines = await c.command("STORE 1:* +FLAGS (\\Flagged)")
        assert lines[:-1] == [f"* {n} FETCH (FLAGS (\\Flagged \\Seen))" for n in range(1, 7)]
        lines = await c.command("UID STORE 2,4 -FLAGS.SILENT (\\Seen)")
        assert lines[:-1] == [] and scans == []
        # Another program renames one message and delivers another; the
        # next STORE does not scan, the command after it reports both.
        cur = os.path.join(world.maildir(), "cur")
        first = sorted(os.listdir(cur))[0]
        os.rename(os.path.join(cur, first), os.path.join(cur, first.split(":")[0] + ":2,FRS"))
        _deliver_unnumbered_into_cur(world.maildir(), "moved")
        lines = await c.command("STORE 6 +FLAGS (\\Deleted)")
        assert lines[:-1] == ["* 6 FETCH (FLAGS (\\Flagged \\Seen \\Deleted))"]
        assert scans == []
        lines = await c.command("NOOP")
        assert lines[:-1] == ["* 7 EXISTS", "* 0 RECENT",
                              "* 1 FETCH (FLAGS (\\Flagged \\Answered \\Seen))"]
        await c.check(lines)
        flags = _flags(await c.command("UID FETCH 1:* (FLAGS)"))
        forget_memory()
        fresh = uiddb.scan_and_assign(world.maildir())
        on_disk = {m.uid: m.flags for m in fresh.messages}
        assert on_disk == {1: "FRS", 2: "F", 3: "FS", 4: "F", 5: "FS", 6: "FST", 7: ""}
        letters = {"\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
        assert {uid: "".join(sorted(letters[f] for f in text.split() if f in letters))
                for uid, text in flags.items()} == on_disk

    _run(world, scenario)


def test_a_second_session_hears_of_the_store(world: World) -> None:
    for n in range(3):
        world.deliver(f"Subject: {n}\n\nx\n".encode(), flags="S")

    async def main() -> None:
        a, b = await selected_clients(world.context(), world.accounts["paul"], 2)
        await a.command("a2 STORE 2:3 +FLAGS.SILENT (\\Answered)")
        assert texts(await b.command("b2 NOOP")) == [
            "* 2 FETCH (FLAGS (\\Answered \\Seen))", "* 3 FETCH (FLAGS (\\Answered \\Seen))",
            "b2 OK NOOP completed"]
        await a.command("a3 STORE 2 -FLAGS.SILENT (\\Answered)")
        assert texts(await b.command("b3 NOOP")) == [
            "* 2 FETCH (FLAGS (\\Seen))", "b3 OK NOOP completed"]
        for client in (a, b):
            await client.command("z LOGOUT")
            await client.close()

    asyncio.run(main())
