"""courierimapuiddb: format, UID assignment rules, when the file is rewritten."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postillion.maildir import delivery, uiddb
from postillion.maildir.errors import MailboxNotFound
from postillion.maildir.folderlock import LOCK_NAME
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"


@pytest.fixture
def maildir(tmp_path: Path) -> str:
    path = str(tmp_path / "Maildir")
    create_maildir(path)
    return path


def db_file(maildir: str) -> Path:
    return Path(maildir, uiddb.UIDDB)


def test_first_scan_creates_the_file_like_imapd(maildir: str) -> None:
    before = int(time.time()) - uiddb.IMAP_EPOCH
    scan = uiddb.scan_and_assign(maildir)
    after = int(time.time()) - uiddb.IMAP_EPOCH
    assert before <= scan.uidvalidity <= after
    assert scan.messages == [] and scan.nextuid == 1 and scan.rewritten
    assert db_file(maildir).read_bytes() == f"1 {scan.uidvalidity} 1\n".encode()
    assert oct(db_file(maildir).stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
    assert os.listdir(os.path.join(maildir, "tmp")) == []


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_new_messages_get_uids_in_file_name_order(maildir: str) -> None:
    paths = [delivery.deliver(maildir, MESSAGE, durable=False) for _ in range(3)]
    scan = uiddb.scan_and_assign(maildir)
    bases = sorted((os.path.basename(p) for p in paths),
                   key=lambda n: (int(n.split(".")[0]), n.encode()))
    assert [(m.uid, m.base) for m in scan.messages] == list(zip([1, 2, 3], bases, strict=True))
    assert all(m.subdir == "cur" and m.filename.endswith(":2,") for m in scan.messages)
    assert os.listdir(os.path.join(maildir, "new")) == []
    lines = db_file(maildir).read_text().split("\n")
    assert lines[0] == f"1 {scan.uidvalidity} 4"
    assert lines[1:] == [f"{i} {b}" for i, b in enumerate(bases, 1)] + [""]


def test_unchanged_folder_is_not_rewritten(maildir: str) -> None:
    delivery.deliver(maildir, MESSAGE)
    uiddb.scan_and_assign(maildir)
    inode = db_file(maildir).stat().st_ino
    scan = uiddb.scan_and_assign(maildir)
    assert not scan.rewritten
    assert db_file(maildir).stat().st_ino == inode


def test_flag_changes_do_not_touch_the_file(maildir: str) -> None:
    delivery.deliver(maildir, MESSAGE)
    first = uiddb.scan_and_assign(maildir).messages[0]
    inode = db_file(maildir).stat().st_ino
    os.rename(os.path.join(maildir, "cur", first.filename),
              os.path.join(maildir, "cur", first.filename + "S"))
    again = uiddb.scan_and_assign(maildir)
    assert not again.rewritten and db_file(maildir).stat().st_ino == inode
    assert again.messages[0].uid == first.uid and again.messages[0].flags == "S"


def test_expunged_entries_are_dropped_and_uids_never_reused(maildir: str) -> None:
    for _ in range(3):
        delivery.deliver(maildir, MESSAGE, durable=False)
    scan = uiddb.scan_and_assign(maildir)
    os.unlink(os.path.join(maildir, "cur", scan.messages[2].filename))
    after = uiddb.scan_and_assign(maildir)
    assert [m.uid for m in after.messages] == [1, 2]
    assert after.nextuid == 4
    delivery.deliver(maildir, MESSAGE)
    final = uiddb.scan_and_assign(maildir)
    assert [m.uid for m in final.messages] == [1, 2, 4]
    assert db_file(maildir).read_text().startswith(f"1 {scan.uidvalidity} 5\n")


def test_readonly_scan_changes_nothing(maildir: str) -> None:
    delivery.deliver(maildir, MESSAGE)
    scan = uiddb.scan_and_assign(maildir, readonly=True)
    assert not db_file(maildir).exists()
    assert [m.subdir for m in scan.messages] == ["new"]
    assert scan.messages[0].uid == 1 and scan.nextuid == 2
    assert len(os.listdir(os.path.join(maildir, "new"))) == 1


def test_lock_is_released(maildir: str) -> None:
    uiddb.scan_and_assign(maildir)
    assert LOCK_NAME not in os.listdir(os.path.join(maildir, "tmp"))


def test_not_a_maildir(tmp_path: Path) -> None:
    with pytest.raises(MailboxNotFound):
        uiddb.scan_and_assign(str(tmp_path / "nope"))


def test_too_low_nextuid_is_never_trusted(maildir: str) -> None:
    for _ in range(4):
        delivery.deliver(maildir, MESSAGE, durable=False)
    scan = uiddb.scan_and_assign(maildir)
    text = db_file(maildir).read_text().split("\n", 1)[1]
    db_file(maildir).write_text(f"1 {scan.uidvalidity} 2\n{text}")
    delivery.deliver(maildir, MESSAGE)
    again = uiddb.scan_and_assign(maildir)
    assert [m.uid for m in again.messages] == [1, 2, 3, 4, 5]
    assert again.uidvalidity == scan.uidvalidity and again.nextuid == 6


def test_parse_rules() -> None:
    assert uiddb.parse(b"") is None
    assert uiddb.parse(b"garbage\n1 x\n") is None
    assert uiddb.parse(b"2 795597556 5\n") is None
    db = uiddb.parse(b"1 795597556 9\n1 a\nx b\n0 c\n2 d\n2 e\n3 d\n4 f g\n5\n")
    assert db is not None
    assert (db.uidvalidity, db.nextuid) == (795597556, 9)
    # bad uid, uid 0, a repeated uid and a repeated name are dropped;
    # names may contain spaces (everything after the first one).
    assert db.entries == [(1, "a"), (2, "d"), (4, "f g")]
    assert db.safe_nextuid() == 9
    assert uiddb.UidDb(1, 2, [(7, "x")]).safe_nextuid() == 8


names_st = st.text(st.characters(blacklist_characters="\n:/\0", blacklist_categories=("Cs",)),
                   min_size=1, max_size=30).filter(lambda s: s == s.strip(" \t") and s)


@given(st.integers(1, 2**32 - 1), st.integers(1, 2**32),
       st.dictionaries(st.integers(1, 2**31), names_st, max_size=20))
def test_format_parse_round_trip(uidv: int, nextuid: int, entries: dict[int, str]) -> None:
    unique: dict[str, int] = {}
    for uid, name in sorted(entries.items()):
        unique.setdefault(name, uid)
    db = uiddb.UidDb(uidv, nextuid, sorted((u, n) for n, u in unique.items()))
    data = uiddb.format_uiddb(db)
    assert not data.endswith(b"\n\n")
    # Line by line as Courier writes them (names may hold "%", spaces...).
    assert data == f"1 {uidv} {nextuid}\n".encode() + b"".join(
        f"{uid} {name}\n".encode() for uid, name in db.entries)
    parsed = uiddb.parse(data)
    assert parsed is not None
    assert (parsed.uidvalidity, parsed.nextuid, parsed.entries) == (uidv, nextuid, db.entries)
    assert uiddb.format_uiddb(parsed) == data


@given(st.binary(max_size=300))
def test_parse_never_crashes(data: bytes) -> None:
    db = uiddb.parse(data)
    if db is not None:
        uids = [u for u, _n in db.entries]
        assert len(set(uids)) == len(uids) and all(u > 0 for u in uids)
        assert db.safe_nextuid() > max(uids, default=0)


ops = st.lists(st.sampled_from(["deliver", "expunge", "flag", "scan", "damage_nextuid"]),
               min_size=1, max_size=25)


@settings(max_examples=80, deadline=None)
@given(ops)
def test_uid_invariants_over_random_histories(tmp_path_factory: pytest.TempPathFactory,
                                              history: list[str]) -> None:
    """UIDs strictly increase, are never reused, never fall below nextuid."""
    maildir = str(tmp_path_factory.mktemp("h") / "Maildir")
    create_maildir(maildir)
    uid_of: dict[str, int] = {}
    used: set[int] = set()
    high_water = 0
    uidvalidity = None
    for op in [*history, "scan"]:
        if op == "deliver":
            delivery.deliver(maildir, MESSAGE, durable=False)
        elif op in ("expunge", "flag"):
            cur = sorted(os.listdir(os.path.join(maildir, "cur")))
            if cur:
                victim = os.path.join(maildir, "cur", cur[0])
                if op == "expunge":
                    os.unlink(victim)
                else:
                    os.rename(victim, victim.rsplit(":", 1)[0] + ":2,FS")
        elif op == "damage_nextuid" and db_file(maildir).exists():
            # Lower nextuid as imapd would trust it.  We can only protect
            # UIDs the file still shows: damage it only while the highest
            # UID handed out is still listed in it.
            lines = db_file(maildir).read_text().split("\n")
            listed = [int(line.split()[0]) for line in lines[1:] if line]
            if listed and max(listed) == high_water:
                head = lines[0].split()
                lines[0] = f"{head[0]} {head[1]} 1"
                db_file(maildir).write_text("\n".join(lines))
        else:
            scan = uiddb.scan_and_assign(maildir)
            uidvalidity = uidvalidity or scan.uidvalidity
            assert scan.uidvalidity == uidvalidity
            uids = [m.uid for m in scan.messages]
            assert uids == sorted(set(uids))
            for m in scan.messages:
                if m.base in uid_of:
                    assert uid_of[m.base] == m.uid
                else:
                    assert m.uid not in used and m.uid > high_water
                    uid_of[m.base] = m.uid
                    used.add(m.uid)
            high_water = max(used, default=0)
            assert scan.nextuid > high_water
            # The file holds exactly what the scan shows, written as a
            # whole file would be (even when made from the lines of the
            # last one plus the new messages').
            written = db_file(maildir).read_bytes()
            assert written == uiddb.format_uiddb(uiddb.UidDb(
                scan.uidvalidity, scan.nextuid, [(m.uid, m.base) for m in scan.messages]))


def _parse_line_by_line(data: bytes) -> list[tuple[int, str]] | None:
    """The reading rule, one line at a time: the reference the fast parser must equal."""
    lines = os.fsdecode(data).split("\n")
    header = lines[0].split()
    if len(header) < 3 or not all(v.isdigit() and v.isascii() for v in header[:3]):
        return None
    if int(header[0]) != 1:
        return None
    entries: list[tuple[int, str]] = []
    seen_uids: set[int] = set()
    seen_names: set[str] = set()
    for line in lines[1:]:
        uid_text, _sep, rest = line.lstrip(" \t").partition(" ")
        uid = int(uid_text) if uid_text.isdigit() and uid_text.isascii() else None
        name = rest.lstrip(" \t")
        if not uid or not name or uid in seen_uids or name in seen_names:
            continue
        seen_uids.add(uid)
        seen_names.add(name)
        entries.append((uid, name))
    return entries


@settings(max_examples=300)
@given(st.lists(st.one_of(
    st.tuples(st.integers(0, 30), st.sampled_from(["a", "b", " a", "\tb", "c d", "", " "])).map(
        lambda t: f"{t[0]} {t[1]}"),
    st.text(alphabet="0123456789 \tab\r", max_size=12),
), max_size=25))
def test_fast_parse_equals_the_line_by_line_rule(lines: list[str]) -> None:
    data = ("1 795597556 40\n" + "\n".join(lines)).encode()
    db = uiddb.parse(data)
    expected = _parse_line_by_line(data)
    assert (None if db is None else db.entries) == expected


def test_a_delivery_after_a_file_written_out_of_order_writes_it_in_order(
        maildir: str) -> None:
    """A uid database another program wrote with its lines out of UID order
    stays as it is while nothing changes; the scan that numbers the next
    delivery writes every line again, in ascending UIDs."""
    names = [os.path.basename(delivery.deliver(maildir, MESSAGE, durable=False)).split(":")[0]
             for _ in range(3)]
    db_file(maildir).write_text(f"1 1234 10\n7 {names[0]}\n3 {names[1]}\n5 {names[2]}\n")
    first = uiddb.scan_and_assign(maildir)
    assert not first.rewritten and [m.uid for m in first.messages] == [3, 5, 7]
    added = os.path.basename(delivery.deliver(maildir, MESSAGE, durable=False)).split(":")[0]
    scan = uiddb.scan_and_assign(maildir)
    assert scan.rewritten and scan.messages[-1].uid == 10
    assert db_file(maildir).read_text() == (
        f"1 1234 11\n3 {names[1]}\n5 {names[2]}\n7 {names[0]}\n10 {added}\n")
