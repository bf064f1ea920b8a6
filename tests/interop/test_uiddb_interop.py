"""courierimapuiddb shared with Courier's imapd.

imapd runs preauthenticated on stdin/stdout (``AUTHENTICATED=root``, with
``IMAP_USELOCKS=1`` as Debian packages it) on the same maildir as our code;
every test compares what a client sees from imapd (UIDVALIDITY, ``FETCH 1:*
(UID)``) with what our scan reports, and the bytes of the file.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.conftest import courier_program

from postillion.maildir import delivery, uiddb
from postillion.maildir.layout import create_maildir

pytestmark = pytest.mark.interop

MESSAGE = b"Subject: t\n\nhello\n"


class Imapd:
    """One preauthenticated imapd session on ``home/Maildir``."""

    def __init__(self, home: Path) -> None:
        env = {"PATH": "/usr/bin:/bin", "AUTHENTICATED": "root", "IMAP_USELOCKS": "1",
               "IMAP_KEYWORDS": "1", "HOME": str(home)}
        self.proc = subprocess.Popen([courier_program("imapd"), "Maildir"], cwd=home, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        assert self.stdout.readline().startswith(b"* PREAUTH")
        self.tag = 0

    @property
    def stdout(self):  # type: ignore[no-untyped-def]
        assert self.proc.stdout is not None
        return self.proc.stdout

    def command(self, text: str, literal: bytes | None = None) -> list[bytes]:
        assert self.proc.stdin is not None
        self.tag += 1
        tag = f"t{self.tag}".encode()
        self.proc.stdin.write(tag + b" " + text.encode() + b"\r\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.stdout.readline()
            assert line, f"imapd ended during {text!r}: {lines!r}"
            lines.append(line)
            if line.startswith(b"+") and literal is not None:
                self.proc.stdin.write(literal + b"\r\n")
                self.proc.stdin.flush()
                literal = None
            elif line.startswith(tag + b" "):
                assert b" OK " in line, lines
                return lines

    def select(self, folder: str = "INBOX") -> int:
        lines = self.command(f"SELECT {folder}")
        match = re.search(rb"UIDVALIDITY (\d+)", b"".join(lines))
        assert match
        return int(match.group(1))

    def uids(self) -> list[int]:
        self.command("NOOP")
        lines = self.command("FETCH 1:* (UID)")
        return [int(m.group(1)) for m in re.finditer(rb"FETCH \(UID (\d+)\)", b"".join(lines))]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.command("LOGOUT")
        self.proc.wait(timeout=30)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    courier_program("imapd")
    create_maildir(str(tmp_path / "Maildir"))
    return tmp_path


def ours(home: Path) -> uiddb.FolderScan:
    return uiddb.scan_and_assign(str(home / "Maildir"))


def test_imapd_assigns_we_read_the_same(home: Path) -> None:
    maildir = str(home / "Maildir")
    for _ in range(3):
        delivery.deliver(maildir, MESSAGE)
    imapd = Imapd(home)
    uidvalidity = imapd.select()
    imapd.command("APPEND INBOX (\\Seen) {8}", b"Hi: x\r\n")
    their_uids = imapd.uids()
    imapd.close()
    before = Path(maildir, uiddb.UIDDB).read_bytes()
    scan = ours(home)
    assert scan.uidvalidity == uidvalidity
    assert [m.uid for m in scan.messages] == their_uids == [1, 2, 3, 4]
    assert scan.messages[3].flags == "S"
    assert not scan.rewritten
    assert Path(maildir, uiddb.UIDDB).read_bytes() == before


def test_we_assign_imapd_reads_the_same(home: Path) -> None:
    maildir = str(home / "Maildir")
    for _ in range(3):
        delivery.deliver(maildir, MESSAGE)
    scan = ours(home)
    inode = Path(maildir, uiddb.UIDDB).stat().st_ino
    imapd = Imapd(home)
    assert imapd.select() == scan.uidvalidity
    assert imapd.uids() == [m.uid for m in scan.messages] == [1, 2, 3]
    imapd.close()
    # imapd found nothing to change in the file we wrote.
    assert Path(maildir, uiddb.UIDDB).stat().st_ino == inode


def test_alternating_writers_keep_one_numbering(home: Path) -> None:
    maildir = str(home / "Maildir")
    expected: list[int] = []
    for round_ in range(3):
        delivery.deliver(maildir, MESSAGE)
        if round_ % 2:
            imapd = Imapd(home)
            imapd.select()
            got = imapd.uids()
            imapd.close()
        else:
            got = [m.uid for m in ours(home).messages]
        expected.append(round_ + 1)
        assert got == expected


def test_both_write_byte_identical_files(tmp_path: Path) -> None:
    courier_program("imapd")
    seed = tmp_path / "seed" / "Maildir"
    seed.parent.mkdir()
    create_maildir(str(seed))
    known = os.path.basename(delivery.deliver(str(seed), MESSAGE, flags="")).split(":")[0]
    for flags in (None, None, "S", None):
        delivery.deliver(str(seed), MESSAGE, flags=flags)
    # A file both will rewrite: one known message, a vanished one, new ones.
    (seed / uiddb.UIDDB).write_bytes(f"1 795000000 7\n3 {known}\n5 gone.msg\n".encode())
    results = {}
    for who in ("courier", "ours"):
        home = tmp_path / who
        shutil.copytree(seed.parent, home, symlinks=True)
        if who == "courier":
            imapd = Imapd(home)
            imapd.select()
            imapd.close()
        else:
            ours(home)
        results[who] = (home / "Maildir" / uiddb.UIDDB).read_bytes()
        assert sorted(os.listdir(home / "Maildir" / "cur")) == sorted(
            os.listdir(tmp_path / "courier" / "Maildir" / "cur"))
    assert results["ours"] == results["courier"]
    assert results["ours"].startswith(b"1 795000000 11\n3 ")


DAMAGE = {
    "last_line_removed": lambda text: text.rsplit("\n", 2)[0] + "\n",
    "cut_mid_line": lambda text: text[: text.rindex(",S=") + 3],
    "garbage": lambda text: "garbage\n" + text.split("\n", 1)[1],
    "empty": lambda text: "",
    "version_2": lambda text: "2" + text[1:],
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_files_handled_like_imapd(tmp_path: Path, damage: str) -> None:
    courier_program("imapd")
    seed = tmp_path / "seed"
    seed.mkdir()
    create_maildir(str(seed / "Maildir"))
    for _ in range(3):
        delivery.deliver(str(seed / "Maildir"), MESSAGE)
    first = ours(seed)
    db = seed / "Maildir" / uiddb.UIDDB
    db.write_text(DAMAGE[damage](db.read_text()))
    results = {}
    for who in ("courier", "ours"):
        home = tmp_path / who
        shutil.copytree(seed, home)
        if who == "courier":
            imapd = Imapd(home)
            uidvalidity = imapd.select()
            uids = imapd.uids()
            imapd.close()
        else:
            scan = ours(home)
            uidvalidity, uids = scan.uidvalidity, [m.uid for m in scan.messages]
        text = (home / "Maildir" / uiddb.UIDDB).read_text()
        results[who] = (uids, text.split("\n", 1)[1])
        if who == "ours":
            # A discarded file always gets a new UIDVALIDITY from us; imapd
            # takes the clock's, which repeats the old one within a second.
            header_lost = damage in ("garbage", "empty", "version_2")
            assert (uidvalidity != first.uidvalidity) == header_lost
    assert results["ours"] == results["courier"]


def test_too_low_nextuid_we_do_not_duplicate(tmp_path: Path) -> None:
    courier_program("imapd")
    seed = tmp_path / "seed"
    seed.mkdir()
    create_maildir(str(seed / "Maildir"))
    for _ in range(4):
        delivery.deliver(str(seed / "Maildir"), MESSAGE)
    first = ours(seed)
    db = seed / "Maildir" / uiddb.UIDDB
    db.write_text(f"1 {first.uidvalidity} 2\n" + db.read_text().split("\n", 1)[1])
    delivery.deliver(str(seed / "Maildir"), MESSAGE)
    shutil.copytree(seed, tmp_path / "courier")
    imapd = Imapd(tmp_path / "courier")
    imapd.select()
    theirs = imapd.uids()
    imapd.close()
    assert len(theirs) == 5 and len(set(theirs)) == 4  # imapd's duplicate UID 2
    scan = ours(seed)
    assert [m.uid for m in scan.messages] == [1, 2, 3, 4, 5]
    # imapd then reads our repaired file without complaint.
    imapd = Imapd(seed)
    imapd.select()
    assert imapd.uids() == [1, 2, 3, 4, 5]
    imapd.close()


def _our_scanner(maildir: str, rounds: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    seen = []
    for _ in range(rounds):
        scan = uiddb.scan_and_assign(maildir)
        seen.append([(m.uid, m.base) for m in scan.messages])
        delivery.deliver(maildir, MESSAGE, durable=False)
    out.put(seen)


def test_imapd_and_ours_at_once_never_disagree(home: Path) -> None:
    """imapd sessions and our scanners on one folder, with deliveries between.

    Both sides take Courier's dot-lock, so the final file has every message
    once, with one UID each, and every UID we ever saw still means the same
    message.
    """
    maildir = str(home / "Maildir")
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [multiprocessing.get_context("fork").Process(
        target=_our_scanner, args=(maildir, 15, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    imapd_counts = []
    for _ in range(8):
        delivery.deliver(maildir, MESSAGE, durable=False)
        imapd = Imapd(home)
        imapd.select()
        uids = imapd.uids()
        imapd.close()
        assert uids == sorted(set(uids))
        imapd_counts.append(len(uids))
    observations = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=120)
    final = ours(home)
    by_base = {m.base: m.uid for m in final.messages}
    assert len(set(by_base.values())) == len(by_base) == 8 + 2 * 15
    for seen in observations:
        for snapshot in seen:
            for uid, base in snapshot:
                assert by_base[base] == uid
    text = Path(maildir, uiddb.UIDDB).read_text().split("\n")[1:-1]
    assert len(text) == len(by_base)
