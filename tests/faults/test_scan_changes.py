"""A scan made by updating the last one with the files that changed (a
delivery, flag renames, expunges by other programs) says the same as a
fresh scan, tells its consumers exactly what changed, and -- what makes a
delivery into a 100,000-message folder cheap -- lists only ``new/`` when
``cur/`` is as the last listing found it.

A fresh scan is made in a forked child with every memo forgotten: it must
find the very messages and UIDs, and nothing to write (the uid database
the update wrote is the one a full scan would have written).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from postillion.imap import sharedfolder
from postillion.maildir import delivery, folders, uiddb
from postillion.maildir.filenames import base_name
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"
ctx = multiprocessing.get_context("fork")

View = list[tuple[int, str, str, str]]


def _view(scan: uiddb.FolderScan) -> View:
    return [(m.uid, m.filename, m.subdir, m.flags) for m in scan.messages]


def _fresh_in_child(maildir: str, out: multiprocessing.queues.Queue) -> None:  # type: ignore[type-arg]
    folders.forget_listings()
    uiddb.forget_parses()
    scan = uiddb.scan_and_assign(maildir)
    out.put((_view(scan), scan.uidvalidity, scan.nextuid, scan.rewritten))


def _fresh(maildir: str) -> tuple[View, int, int, bool]:
    out = ctx.Queue()
    child = ctx.Process(target=_fresh_in_child, args=(maildir, out))
    child.start()
    found = out.get(timeout=60)
    child.join()
    assert child.exitcode == 0
    return found  # type: ignore[no-any-return]


def _age(maildir: str) -> None:
    """Directory times a minute old: a listing made now is believed later."""
    past = time.time() - 60
    for sub in ("new", "cur"):
        os.utime(os.path.join(maildir, sub), (past, past))


def _record_listings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    listed: list[str] = []
    real = folders._listdir

    def listdir(path: str) -> list[str]:
        listed.append(os.path.basename(path))
        return real(path)
    monkeypatch.setattr(folders, "_listdir", listdir)
    return listed


@pytest.fixture
def maildir(tmp_path: Path) -> str:
    path = str(tmp_path / "Maildir")
    create_maildir(path)
    for _ in range(40):
        delivery.deliver(path, MESSAGE, durable=False)
    return path


def test_a_delivery_lists_new_alone_and_agrees_with_a_fresh_scan(
        maildir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = uiddb.scan_and_assign(maildir)
    _age(maildir)
    uiddb.scan_and_assign(maildir)  # a listing made after cur/'s last change
    delivered = [base_name(os.path.basename(delivery.deliver(maildir, MESSAGE, durable=False)))
                 for _ in range(2)]
    listed = _record_listings(monkeypatch)
    scan = uiddb.scan_and_assign(maildir)
    assert "cur" not in listed and "new" in listed
    assert scan.changes is not None
    assert (scan.changes.removed, scan.changes.renamed, scan.changes.added) == \
        (frozenset(), frozenset(), 2)
    assert scan.moved == frozenset(delivered)
    assert [m.uid for m in scan.messages[-2:]] == [first.nextuid, first.nextuid + 1]
    assert all(m.subdir == "cur" for m in scan.messages)
    assert os.listdir(os.path.join(maildir, "new")) == []
    view, uidvalidity, nextuid, rewritten = _fresh(maildir)
    assert view == _view(scan)
    assert (uidvalidity, nextuid) == (scan.uidvalidity, scan.nextuid)
    assert not rewritten


def _random_changes(maildir: str, rnd: random.Random) -> None:
    cur = os.path.join(maildir, "cur")
    names = sorted(os.listdir(cur))
    for name in rnd.sample(names, min(len(names), rnd.randint(0, 4))):
        path = os.path.join(cur, name)
        if rnd.random() < 0.4:
            os.unlink(path)  # expunged by another program
        else:
            base = name.split(":")[0]
            letters = "".join(sorted(rnd.sample("DFRST", rnd.randint(0, 3))))
            os.rename(path, os.path.join(cur, f"{base}:2,{letters}"))
    for _ in range(rnd.randint(0, 3)):
        delivery.deliver(maildir, MESSAGE, durable=False)
    if rnd.random() < 0.3:
        delivery.deliver(maildir, MESSAGE, flags="S", durable=False)  # straight into cur/


def _count_compared_by_names(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many scans compared their files with the last scan's at the
    names the listings said changed, rather than all of them."""
    compared = [0]
    real = uiddb.listing_changes

    def listing_changes(listing: object, since: int | None) -> frozenset[str] | None:
        found = real(listing, since)
        compared[0] += found is not None
        return found
    monkeypatch.setattr(uiddb, "listing_changes", listing_changes)
    return compared


def test_updated_scans_say_what_changed_and_agree_with_fresh_scans(
        maildir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = _count_compared_by_names(monkeypatch)
    rnd = random.Random(5)
    previous = uiddb.scan_and_assign(maildir)
    updates = 0
    for _round in range(25):
        _random_changes(maildir, rnd)
        if rnd.random() < 0.5:
            _age(maildir)
        scan = uiddb.scan_and_assign(maildir)
        view, uidvalidity, nextuid, rewritten = _fresh(maildir)
        assert view == _view(scan)
        assert (uidvalidity, nextuid) == (scan.uidvalidity, scan.nextuid)
        assert not rewritten
        changes = scan.changes
        if changes is not None and changes.since == previous.serial:
            updates += 1
            before = {m.uid: m for m in previous.messages}
            now = {m.uid: m for m in scan.messages}
            assert changes.removed == before.keys() - now.keys()
            assert {uid for uid in before.keys() & now.keys()
                    if before[uid].filename != now[uid].filename} <= changes.renamed
            assert changes.added == len(now.keys() - before.keys())
            if changes.added:
                assert all(m.uid >= previous.nextuid for m in scan.messages[-changes.added:])
        previous = scan
    assert updates >= 10  # the update path was the one tested
    assert compared[0] >= 10  # ... mostly from the names the listings said changed


def test_the_snapshot_made_from_changes_equals_a_full_build(
        maildir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = sharedfolder.SharedFolder._updated
    used: list[bool] = []

    def checked(previous: sharedfolder.Snapshot, scan: uiddb.FolderScan,
                changes: uiddb.ScanChanges) -> tuple[sharedfolder.Snapshot,
                                                     sharedfolder.Delta | None] | None:
        made = real(previous, scan, changes)
        used.append(made is not None)
        if made is not None:
            full = sharedfolder.SharedFolder(maildir, False, False)._build(previous, scan, None)
            snap, delta = made
            want_snap, want_delta = full

            def entries(s: sharedfolder.Snapshot) -> list[tuple[int, str, str, frozenset[str],
                                                                str]]:
                return [(m.uid, m.filename, m.subdir, m.flags, m.base) for m in s.messages]
            assert entries(snap) == entries(want_snap)
            assert (snap.uidnext, snap.uidvalidity) == (want_snap.uidnext, want_snap.uidvalidity)
            if want_delta is None:
                assert snap is previous and delta is None
            else:
                assert delta is not None
                assert (delta.removed, delta.changed, delta.added_from) == \
                    (want_delta.removed, want_delta.changed, want_delta.added_from)
        return made
    monkeypatch.setattr(sharedfolder.SharedFolder, "_updated", staticmethod(checked))
    folder = sharedfolder.SharedFolder(maildir, False, False)
    folder.refresh()
    rnd = random.Random(11)
    for _round in range(25):
        _random_changes(maildir, rnd)
        if rnd.random() < 0.5:
            _age(maildir)
        snap = folder.refresh(force=True)
        view, _uidvalidity, nextuid, _rewritten = _fresh(maildir)
        assert [(m.uid, m.filename) for m in snap.messages] == [(v[0], v[1]) for v in view]
        assert snap.uidnext == nextuid
    assert sum(used) >= 10


def test_a_delivery_after_the_echo_of_our_own_move_lists_new_alone(
        maildir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """IDLE: our scan's new/ -> cur/ move wakes the watch again; that rescan
    waits for a clock tick, so that its listing of cur/ is believed and the
    next delivery's scan lists new/ alone."""

    class Watch:
        def close(self) -> None:
            pass

    class Notifier:
        callback: Callable[[], None] | None = None

        def watch(self, folder_dir: str, callback: Callable[[], None]) -> Watch:
            self.callback = callback
            return Watch()

    async def notified(folder: sharedfolder.SharedFolder, notifier: Notifier) -> None:
        assert notifier.callback is not None
        notifier.callback()
        while folder._telling is not None and not folder._telling.done():
            await folder._telling

    async def run() -> tuple[list[str], list[int]]:
        folder = sharedfolder.SharedFolder(maildir, False, False)
        notifier = Notifier()
        told: list[int] = []
        folder.refresh()
        stop = folder.listen(notifier, lambda: told.append(len(folder.snapshot.messages)
                                                           if folder.snapshot else 0))
        delivery.deliver(maildir, MESSAGE, durable=False)
        await notified(folder, notifier)      # the delivery: moved to cur/
        await notified(folder, notifier)      # the echo of that move
        delivery.deliver(maildir, MESSAGE, durable=False)
        listed = _record_listings(monkeypatch)
        await notified(folder, notifier)      # the next delivery
        stop()
        return listed, told

    listed, told = asyncio.run(run())
    assert told == [41, 42]
    assert "cur" not in listed


def test_a_message_renamed_while_cur_is_read_is_not_taken_for_expunged(
        maildir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """readdir() may miss a file renamed while it reads (a flag change by
    another program): the update of the last scan lists the folder again
    before it drops a numbered message."""
    first = uiddb.scan_and_assign(maildir)
    cur = os.path.join(maildir, "cur")
    victim, other = first.messages[5], first.messages[9]
    os.rename(os.path.join(cur, other.filename), os.path.join(cur, other.filename + "S"))
    real = folders._listdir
    raced: list[bool] = []

    def listdir(path: str) -> list[str]:
        names = real(path)
        if os.path.basename(path) == "cur" and not raced:
            raced.append(True)
            os.rename(os.path.join(cur, victim.filename),
                      os.path.join(cur, victim.filename + "F"))
            names.remove(victim.filename)  # read before its old name, after its new one
        return names
    monkeypatch.setattr(folders, "_listdir", listdir)
    scan = uiddb.scan_and_assign(maildir)
    assert raced
    by_uid = {m.uid: m for m in scan.messages}
    assert by_uid[victim.uid].flags == "F" and by_uid[other.uid].flags == "S"
    assert len(scan.messages) == len(first.messages)
    view, _uidvalidity, nextuid, rewritten = _fresh(maildir)
    assert view == _view(scan) and nextuid == scan.nextuid and not rewritten


def _bases_agree(scan: uiddb.FolderScan) -> bool:
    return scan.bases is None or scan.bases == [m.base for m in scan.messages]


def test_a_scan_s_base_names_are_its_messages(maildir: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan that carries its messages' base names (a first SELECT's
    snapshot takes them instead of cutting every name again) carries the
    right ones, in order, however it was made: a first numbering, an
    update after other programs' changes, a scan given again, one that
    includes messages this process added (APPEND)."""
    compared = _count_compared_by_names(monkeypatch)
    rnd = random.Random(11)
    scans = [uiddb.scan_and_assign(maildir)]
    assert scans[0].bases is not None
    for _round in range(12):
        _random_changes(maildir, rnd)
        _age(maildir)
        scans.append(uiddb.scan_and_assign(maildir))
        scans.append(uiddb.scan_and_assign(maildir))  # nothing changed: given again
        name = os.path.basename(delivery.deliver(maildir, MESSAGE, flags="S", durable=False))
        added = uiddb.assign_added(maildir, lambda name=name: [name])  # type: ignore[misc]
        assert added.messages
        scans.append(uiddb.scan_and_assign(maildir))
    assert sum(s.changes is not None for s in scans) >= 5  # updates were made
    assert all(_bases_agree(scan) for scan in scans)
    assert compared[0] >= 5
    snap = sharedfolder.SharedFolder._first_snapshot(scans[-1])
    assert [(e.uid, e.base) for e in snap.messages] == \
        [(m.uid, base_name(m.filename)) for m in scans[-1].messages]


def test_a_listing_made_from_the_last_keeps_its_names_of_cur(
        maildir: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """cur/ listed again after other programs' renames, deletions and
    deliveries: each listing remembered holds cur/'s names as they were
    read, and for the names that did not change since the listing it was
    made from, that listing's own strings, not those just read (a big
    folder would otherwise keep two copies of every name until the next
    listing, which would pay for freeing them)."""
    read: list[list[str]] = []
    real_listdir = folders._listdir

    def listdir(path: str) -> list[str]:
        names = real_listdir(path)
        if os.path.basename(path) == "cur":
            read.append(list(names))
        return names
    monkeypatch.setattr(folders, "_listdir", listdir)
    remembered: dict[int, dict[str, str]] = {}
    real_remember = folders._remember
    checked = [0, 0]

    def remember(folder_dir: str, listing: folders._Listing | None) -> None:
        if listing is not None:
            names = listing.cur_names
            if read:
                assert sorted(names) == sorted(read[-1])  # as last read
                checked[0] += 1
            parent = remembered.get(listing.parent) if listing.parent is not None else None
            if parent is not None and read:
                kept = [name for name in names if name in parent]
                assert kept and all(name is parent[name] for name in kept)
                checked[1] += 1
            remembered[listing.serial] = {name: name for name in names}
        real_remember(folder_dir, listing)
    monkeypatch.setattr(folders, "_remember", remember)
    rnd = random.Random(17)
    uiddb.scan_and_assign(maildir)
    for _round in range(8):
        _age(maildir)
        uiddb.scan_and_assign(maildir)
        _random_changes(maildir, rnd)
        read.clear()
    assert checked[0] >= 8 and checked[1] >= 4
