"""A folder's first scan in a process from a plain listing
(:func:`postillion.maildir.folders.list_plain`: the names as columns, the
records made only when asked for) answers exactly as the usual listing and
numbering do: the same messages and UIDs, the same ``courierimapuiddb``,
the same snapshot, and later scans built on what it left in the memo the
same as fresh scans.  Folders that are not plain, or not simply numbered,
go the usual way; each case says which way it must take, so a check that
stops catching them fails here.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from postillion.imap.sharedfolder import SharedFolder
from postillion.maildir import delivery, folders, uiddb
from postillion.maildir.filenames import base_name
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"


def _names(count: int, start: int = 1_700_000_000) -> list[str]:
    letters = ["", "S", "RS", "FS", "DFRST", "T"]
    return [f"{start + 7 * i}.M{i}P{100 + i}.host,S=18:2,{letters[i % len(letters)]}"
            for i in range(count)]


def _uiddb(pairs: list[tuple[int, str]], nextuid: int) -> str:
    return f"1 123456 {nextuid}\n" + "".join(f"{uid} {base_name(name)}\n" for uid, name in pairs)


PLAIN = _names(40)

# name: (cur/ names, new/ names, courierimapuiddb or None, takes the plain way)
CASES: dict[str, tuple[list[str], list[str], str | None, bool]] = {
    "numbered for the first time": (PLAIN, [], None, True),
    "one message": (PLAIN[:1], [], None, True),
    "numbered by Courier in name order": (
        PLAIN, [], _uiddb([(3 + 2 * i, n) for i, n in enumerate(PLAIN)], 500), True),
    "a uid database with no entries": (PLAIN, [], "1 123456 77\n", True),
    "numbered out of name order": (
        PLAIN, [], _uiddb([(100 - i, n) for i, n in enumerate(PLAIN)], 101), False),
    "one message not numbered yet": (
        PLAIN, [], _uiddb([(i + 1, n) for i, n in enumerate(PLAIN[:-1])], 50), False),
    "entries of vanished messages": (
        PLAIN[:30], [], _uiddb([(i + 1, n) for i, n in enumerate(PLAIN)], 50), False),
    "nextuid below a used UID": (
        PLAIN, [], _uiddb([(i + 1, n) for i, n in enumerate(PLAIN)], 3), False),
    "a base name that begins another": (
        ["1700000000.a:2,S", "1700000000.a2:2,S", "1700000001.b:2,"], [], None, False),
    "a name without flags info": ([*PLAIN[:5], "1700000999.M9P9.host"], [], None, False),
    "an info that is not 2,": ([*PLAIN[:5], "1700000999.M9P9.host:1,xyz"], [], None, False),
    "two colons in a name": ([*PLAIN[:5], "1700000999.M9P9:host:2,S"], [], None, False),
    # As many ":" and ":2," as names, but one name has none and one two.
    "colons as many as names": (
        ["1600000000.x", *PLAIN[:4], "1700000999.M9:2,x:2,S"], [], None, False),
    "a dot file": ([*PLAIN[:5], ".1700000999.tmp:2,S"], [], None, False),
    "a dot file after another name": (["+1700000000.a:2,S", ".hidden:2,S", *PLAIN[:3]], [],
                                      None, False),
    "a message in new/": (PLAIN[:5], ["1700000999.M9P9.host"], None, False),
    "one base name twice": ([*PLAIN[:5], PLAIN[3].replace(":2,", ":2,F") + "Z"], [], None,
                            False),
    "names without a leading number": (["abc:2,S", "abd:2,", "zz:2,T"], [], None, True),
    "names with and without one": (["1700000000.a:2,S", "abd:2,"], [], None, False),
    "leading numbers of two widths": (
        ["999999999.x:2,S", "1000000000.y:2,", "1000000001.z:2,R"], [], None, False),
    "a name not in ASCII": ([*PLAIN[:5], "1700000999.M9P9.h\u00f6st:2,S"], [], None, False),
}


def _make(root: Path, cur: list[str], new: list[str], db: str | None) -> str:
    maildir = str(root)
    create_maildir(maildir)
    for sub, names in (("cur", cur), ("new", new)):
        for name in names:
            Path(maildir, sub, name).write_bytes(MESSAGE)
    if db is not None:
        Path(maildir, uiddb.UIDDB).write_text(db)
    return maildir


def _forget() -> None:
    folders.forget_listings()
    uiddb.forget_parses()


def _view(scan: uiddb.FolderScan) -> list[tuple[int, str, str, str]]:
    return [(m.uid, m.filename, m.subdir, m.flags) for m in scan.messages]


def _db_lines(maildir: str) -> tuple[str, list[str]]:
    """The file's nextuid and entry lines (UIDVALIDITY, from the clock
    when the file is new, left out)."""
    header, *lines = Path(maildir, uiddb.UIDDB).read_text().splitlines()
    return header.split()[2], lines


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_scan_as_the_usual_way(case: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cur, new, db, plain = CASES[case]
    fast_dir = _make(tmp_path / "a", cur, new, db)
    usual_dir = _make(tmp_path / "b", cur, new, db)
    _forget()
    fast = uiddb.scan_and_assign(fast_dir)
    assert (fast.columns is not None) == plain
    with monkeypatch.context() as patch:
        patch.setattr(uiddb, "list_plain", lambda _folder: None)
        _forget()
        usual = uiddb.scan_and_assign(usual_dir)
    assert usual.columns is None
    assert _view(fast) == _view(usual)
    assert fast.nextuid == usual.nextuid
    assert fast.rewritten == usual.rewritten
    if db is not None and db.split()[1] == "123456":
        assert fast.uidvalidity == usual.uidvalidity == 123456
    assert _db_lines(fast_dir) == _db_lines(usual_dir)
    if db is not None and not usual.rewritten:
        assert Path(fast_dir, uiddb.UIDDB).read_text() == db  # left as it was
    # The snapshot a first SELECT makes from the scan, whichever way it came.
    from_scan = SharedFolder._first_snapshot(fast)
    from_records = SharedFolder._first_snapshot(uiddb.FolderScan(
        usual.uidvalidity, usual.nextuid, usual.messages, usual.rewritten))
    assert [(e.uid, e.filename, e.subdir, e.flags, e.base) for e in from_scan.messages] == \
        [(e.uid, e.filename, e.subdir, e.flags, e.base) for e in from_records.messages]
    assert (from_scan.uidnext, len(from_scan.messages)) == (usual.nextuid, len(usual.messages))


def test_plain_records_are_a_listings_records(tmp_path: Path) -> None:
    """The records a plain listing makes when asked are those the usual
    listing makes of the same names."""
    maildir = _make(tmp_path / "m", PLAIN, [], None)
    _forget()
    listed = folders.list_plain(maildir)
    assert listed is not None
    plain, listing = listed
    assert plain.names == sorted(PLAIN)
    expected = {base_name(n): folders.message_file("cur", n) for n in PLAIN}
    assert folders.listed_files(listing) == expected
    assert list(folders.listed_files(listing)) == sorted(expected)  # in name order
    # A second listing in the process is not a first one.
    assert folders.list_plain(maildir) is None
    _forget()
    assert folders.list_message_files(maildir) == expected


def _fresh_view(maildir: str) -> tuple[list[tuple[int, str, str, str]], int]:
    """A read-only scan with every memo forgotten (run in a child process,
    so this one's memo stays as it is)."""
    _forget()
    scan = uiddb.scan_and_assign(maildir, readonly=True)
    return _view(scan), scan.nextuid


def test_later_scans_build_on_a_plain_first_scan(tmp_path: Path) -> None:
    """Deliveries, flag renames and deletions after a plain first scan:
    each later scan (made from the memo it left, its records made then)
    equals a fresh scan, and no UID changes."""
    maildir = _make(tmp_path / "m", PLAIN, [], None)
    _forget()
    first = uiddb.scan_and_assign(maildir)
    assert first.columns is not None
    uids = {base_name(m.filename): m.uid for m in first.messages}
    cur = os.path.join(maildir, "cur")
    steps = [
        lambda: delivery.deliver(maildir, MESSAGE, durable=False),
        lambda: os.rename(os.path.join(cur, PLAIN[4]),
                          os.path.join(cur, base_name(PLAIN[4]) + ":2,FRS")),
        lambda: os.unlink(os.path.join(cur, PLAIN[9])),
        lambda: [delivery.deliver(maildir, MESSAGE, durable=False) for _ in range(3)],
    ]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        for step in steps:
            step()
            again = uiddb.scan_and_assign(maildir)
            assert again.columns is None  # (built on the memo, not a first listing)
            for m in again.messages:
                assert uids.setdefault(base_name(m.filename), m.uid) == m.uid
            assert pool.apply(_fresh_view, (maildir,)) == (_view(again), again.nextuid)
    assert len(uids) == len(PLAIN) + 4


def _age(maildir: str) -> None:
    then = time.time() - 30
    for sub in ("new", "cur"):
        os.utime(os.path.join(maildir, sub), (then, then))


# name: (cur/ names, courierimapuiddb or None, the saved scan read as columns)
SAVED: dict[str, tuple[list[str], str | None, bool]] = {
    "plain": (PLAIN, None, True),
    "numbered by Courier in name order": (
        PLAIN, _uiddb([(3 + 2 * i, n) for i, n in enumerate(PLAIN)], 500), True),
    "numbered out of name order": (
        PLAIN, _uiddb([(100 - i, n) for i, n in enumerate(PLAIN)], 101), False),
    "a name without flags info": ([*PLAIN[:5], "1700000999.M9P9.host"], None, False),
    "names without a leading number": (["abc:2,S", "abd:2,", "zz:2,T"], None, True),
}


@pytest.mark.parametrize("case", sorted(SAVED))
def test_a_saved_scan_reads_as_the_folder(case: str, tmp_path: Path) -> None:
    """The scan a process saves (postillion.scan) is read back, as columns
    when its names are plain and their base names ascend with the UIDs,
    as the scan it was made from."""
    cur, db, plain = SAVED[case]
    maildir = _make(tmp_path / "m", cur, [], db)
    _age(maildir)
    _forget()
    made = uiddb.scan_and_assign(maildir)
    _age(maildir)
    assert uiddb.save_scan(maildir)
    _forget()
    saved = uiddb._saved_scan(maildir)
    assert saved is not None
    assert (saved.columns is not None) == plain
    assert _view(saved) == _view(made)
    assert (saved.uidvalidity, saved.nextuid) == (made.uidvalidity, made.nextuid)
    snapshot = SharedFolder._first_snapshot(saved)
    assert [(e.uid, e.filename, e.subdir, e.flags, e.base) for e in snapshot.messages] == \
        [(m.uid, m.filename, m.subdir, SharedFolder._first_snapshot(made).messages[i].flags,
          base_name(m.filename)) for i, m in enumerate(made.messages)]


def test_idle_has_the_next_scan_prepared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder whose first scan was plain leaves its records to be made
    when asked for; once a session listens for changes (IDLE), they are
    made in the background, and the scan after a delivery makes none."""

    class Watch:
        def close(self) -> None:
            pass

    class Notifier:
        def watch(self, folder_dir: str, callback: object) -> Watch:
            return Watch()

    maildir = _make(tmp_path / "m", PLAIN, [], None)
    _forget()
    folder = SharedFolder(maildir, False, False)
    assert len(folder.refresh().messages) == len(PLAIN)

    async def listen() -> None:
        stop = folder.listen(Notifier(), lambda: None)
        assert folder._preparing is not None
        await folder._preparing
        stop()

    asyncio.run(listen())

    def not_now(*_args: object) -> object:
        raise AssertionError("made at the delivery's scan")

    monkeypatch.setattr(folders.PlainListing, "records", not_now)
    monkeypatch.setattr(uiddb.ScanColumns, "messages", not_now)
    delivery.deliver(maildir, MESSAGE, durable=False)
    after = folder.refresh(force=True)
    assert len(after.messages) == len(PLAIN) + 1
    assert after.messages[-1].uid == len(PLAIN) + 1
