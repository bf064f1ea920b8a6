"""UIDs for appended messages, given without listing the folder.

``uiddb.assign_added`` numbers the messages an APPEND (or COPY) just
linked into ``cur/`` from the uid database's next UID, under Courier's
folder lock, and leaves other processes' new messages to the next scan.
Asserted here, alone and with other processes delivering, scanning and
appending at the same time: every message gets exactly one UID, no UID
names two messages, appended UIDs are above the UIDNEXT before them, the
UID answered names the appended message, and the file stays what a full
scan (ours, or Courier's imapd) agrees with.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from pathlib import Path

import pytest
from tests.conftest import courier_program
from tests.faults.test_uiddb_concurrency import scanner
from tests.interop.test_uiddb_interop import Imapd

from postillion.imap.mailstore import MailStore, NewMessage
from postillion.maildir import delivery, folders, uiddb
from postillion.maildir.filenames import base_name
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"
ctx = multiprocessing.get_context("fork")


@pytest.fixture
def maildir(tmp_path: Path) -> str:
    path = str(tmp_path / "Maildir")
    create_maildir(path)
    return path


def _fresh(maildir: str) -> uiddb.FolderScan:
    folders.forget_listings()
    uiddb.forget_parses()
    return uiddb.scan_and_assign(maildir)


def _link(maildir: str, body: bytes = MESSAGE, flags: str = "S") -> str:
    return os.path.basename(delivery.deliver(maildir, body, flags=flags, durable=False))


def test_added_messages_are_numbered_without_listing(maildir: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(5):
        delivery.deliver(maildir, MESSAGE, durable=False)
    before = uiddb.scan_and_assign(maildir)
    assert before.nextuid == 6
    # A delivery waiting in new/ is numbered first, by a scan, as before:
    # read-only scans (STATUS) have shown it as UIDNEXT.
    waiting = os.path.basename(delivery.deliver(maildir, MESSAGE, durable=False))
    assert uiddb.scan_and_assign(maildir, readonly=True).nextuid == 7
    first = _link(maildir)
    added = uiddb.assign_added(maildir, lambda: [first])
    assert added.uids == [7] and added.messages is None
    assert {m.base: m.uid for m in uiddb.scan_and_assign(maildir).messages}[waiting] == 6
    # A message another program put into cur/ without a UID (a POP3
    # server's move) is left to the next scan.
    moved = _link(maildir, flags="")
    names = [_link(maildir), _link(maildir, flags="FS")]

    def no_listing(path: str) -> list[str]:
        raise AssertionError(f"listed {path}")

    monkeypatch.setattr(folders, "_listdir", no_listing)
    added = uiddb.assign_added(maildir, lambda: names)
    monkeypatch.undo()
    assert added.uids == [8, 9] and added.first_uid == 8 and added.nextuid == 10
    assert added.messages is not None
    assert [(m.uid, m.filename, m.flags) for m in added.messages] == [
        (8, names[0], "S"), (9, names[1], "FS")]
    after = uiddb.scan_and_assign(maildir)
    by_base = {m.base: m.uid for m in after.messages}
    assert by_base[base_name(names[0])] == 8 and by_base[base_name(names[1])] == 9
    assert by_base[base_name(moved)] == 10 and after.nextuid == 11
    assert sorted(by_base.values()) == list(range(1, 11))
    fresh = _fresh(maildir)
    assert [(m.uid, m.filename) for m in fresh.messages] == \
        [(m.uid, m.filename) for m in after.messages]
    assert not fresh.rewritten
    text = Path(maildir, uiddb.UIDDB).read_bytes()
    parsed = uiddb.parse(text)
    assert parsed is not None and uiddb.format_uiddb(parsed) == text


def test_many_additions_keep_the_file_exactly_as_a_scan_writes_it(maildir: str) -> None:
    for _ in range(3):
        delivery.deliver(maildir, MESSAGE, durable=False)
    uiddb.scan_and_assign(maildir)
    for round_ in range(6):
        added = uiddb.assign_added(maildir, lambda: [_link(maildir)])
        assert added.uids == [4 + round_] and added.messages is not None
        if round_ == 2:  # an expunge by someone else
            os.unlink(os.path.join(maildir, "cur", added.messages[0].filename))
    text = Path(maildir, uiddb.UIDDB).read_bytes()
    lines = text.decode().split("\n")
    assert lines[0].split()[2] == "10" and len(lines) == 1 + 9 + 1 and lines[-1] == ""
    fresh = _fresh(maildir)
    assert [m.uid for m in fresh.messages] == [1, 2, 3, 4, 5, 7, 8, 9]
    assert fresh.nextuid == 10 and fresh.rewritten  # the vanished entry dropped


def test_without_a_usable_file_a_full_scan_numbers_them(maildir: str) -> None:
    delivered = os.path.basename(delivery.deliver(maildir, MESSAGE, durable=False))
    name = _link(maildir)
    added = uiddb.assign_added(maildir, lambda: [name])  # no file yet: a scan makes it
    assert added.messages is None
    scan = _fresh(maildir)
    by_base = {m.base: m.uid for m in scan.messages}
    assert added.uids == [by_base[base_name(name)]]
    assert sorted(by_base.values()) == [1, 2] and by_base[delivered] != added.uids[0]
    Path(maildir, uiddb.UIDDB).write_bytes(b"garbage\n")
    name = _link(maildir)
    added = uiddb.assign_added(maildir, lambda: [name])
    assert added.messages is None and added.uidvalidity != scan.uidvalidity
    assert added.uids[0] in {m.uid for m in _fresh(maildir).messages}


def test_a_message_already_numbered_keeps_its_uid(maildir: str) -> None:
    uiddb.scan_and_assign(maildir)
    name = _link(maildir)
    other = _link(maildir)
    scan = uiddb.scan_and_assign(maildir)  # another process got there first
    uid = {m.base: m.uid for m in scan.messages}[base_name(name)]
    added = uiddb.assign_added(maildir, lambda: [name])
    assert added.uids == [uid] and added.messages is None
    assert uiddb.assign_added(maildir, lambda: [_link(maildir)]).uids == [3]
    assert {m.base: m.uid for m in _fresh(maildir).messages}[base_name(other)] != uid


# ---------------------------------------------------------------- concurrency


def _appender(home: str, tag: str, count: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    store = MailStore(os.path.join(home, "Maildir"), "paul")
    got = []
    for i in range(count):
        subject = f"{tag}-{i}"
        before = uiddb.scan_and_assign(os.path.join(home, "Maildir"), readonly=True).nextuid
        stored = store.add_messages("INBOX", [NewMessage(f"Subject: {subject}\n\nx\n".encode(),
                                                         "S")], use_keywords=False)
        got.append((subject, before, stored.uids[0]))
    out.put(got)


def _deliverer(maildir: str, count: int) -> None:
    for i in range(count):
        delivery.deliver(maildir, f"Subject: delivered-{i}\n\nx\n".encode(), durable=False)


def _subjects(maildir: str, scan: uiddb.FolderScan) -> dict[int, str]:
    out = {}
    for m in scan.messages:
        with open(os.path.join(maildir, m.subdir, m.filename), "rb") as f:
            match = re.match(rb"Subject: (\S+)", f.read())
        assert match
        out[m.uid] = match.group(1).decode()
    return out


def _run_concurrently(home: Path) -> tuple[uiddb.FolderScan, list[tuple[str, int, int]]]:
    maildir = str(home / "Maildir")
    for i in range(200):
        delivery.deliver(maildir, f"Subject: old-{i}\n\nx\n".encode(), durable=False)
    old = uiddb.scan_and_assign(maildir)
    appended: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    scanned: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    workers = [ctx.Process(target=_appender, args=(str(home), f"a{n}", 40, appended))
               for n in range(3)]
    workers += [ctx.Process(target=_deliverer, args=(maildir, 60)) for _ in range(2)]
    workers += [ctx.Process(target=scanner, args=(maildir, 15, scanned)) for _ in range(2)]
    for worker in workers:
        worker.start()
    records = [rec for _ in range(3) for rec in appended.get(timeout=120)]
    observations = [scanned.get(timeout=120) for _ in range(2)]
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    final = _fresh(maildir)
    by_base = {m.base: m.uid for m in final.messages}
    # Every message once, one UID each, no UID twice.
    assert len(final.messages) == 200 + 3 * 40 + 2 * 60
    assert len(set(by_base.values())) == len(by_base) == len(final.messages)
    # UIDs above the old UIDNEXT for everything new; the old ones kept.
    assert all(m.uid >= old.nextuid for m in final.messages[200:])
    assert [(m.uid, m.base) for m in final.messages[:200]] == \
        [(m.uid, m.base) for m in old.messages]
    # Every UID any scanner saw still names the same message.
    for seen in observations:
        for snapshot in seen:
            for uid, base in snapshot:
                assert by_base[base] == uid
    # The UID each APPEND answered names the message it appended, above
    # the UIDNEXT the appender saw before it.
    subjects = _subjects(maildir, final)
    for subject, before, uid in records:
        assert uid >= before and subjects[uid] == subject
    return final, records


def test_appends_deliveries_and_scans_at_once(tmp_path: Path) -> None:
    create_maildir(str(tmp_path / "Maildir"))
    _run_concurrently(tmp_path)


@pytest.mark.interop
def test_courier_reads_the_uids_appends_gave(tmp_path: Path) -> None:
    courier_program("imapd")
    create_maildir(str(tmp_path / "Maildir"))
    final, records = _run_concurrently(tmp_path)
    inode = Path(tmp_path, "Maildir", uiddb.UIDDB).stat().st_ino
    imapd = Imapd(tmp_path)
    assert imapd.select() == final.uidvalidity
    assert imapd.uids() == [m.uid for m in final.messages]
    for subject, _before, uid in records[::17]:
        lines = imapd.command(f"UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert f"Subject: {subject}".encode() in b"".join(lines)
    imapd.close()
    # imapd found nothing to change in the file.
    assert Path(tmp_path, "Maildir", uiddb.UIDDB).stat().st_ino == inode
