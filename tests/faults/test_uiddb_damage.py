"""Damaged courierimapuiddb files: rebuilt or worked around, never a crash or a reused UID."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from postillion.maildir import delivery, uiddb
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"


@pytest.fixture
def maildir(tmp_path: Path) -> str:
    path = str(tmp_path / "Maildir")
    create_maildir(path)
    for _ in range(3):
        delivery.deliver(path, MESSAGE, durable=False)
    return path


def db(maildir: str) -> Path:
    return Path(maildir, uiddb.UIDDB)


def test_truncated_mid_line(maildir: str) -> None:
    first = uiddb.scan_and_assign(maildir)
    text = db(maildir).read_text()
    db(maildir).write_text(text[: text.rindex(",S=") + 3])
    scan = uiddb.scan_and_assign(maildir)
    assert scan.uidvalidity == first.uidvalidity
    # Entries that still match keep their UIDs; the cut one gets a new UID.
    assert [m.uid for m in scan.messages] == [1, 2, 4]
    assert db(maildir).read_text().startswith(f"1 {first.uidvalidity} 5\n")


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\x00\xff\xfe binary", b"2 795 9\n",
                                     b"1 x 3\n", b"1 795597556\n"])
def test_unusable_header_rebuilds_with_new_uidvalidity(maildir: str, content: bytes) -> None:
    first = uiddb.scan_and_assign(maildir)
    db(maildir).write_bytes(content)
    scan = uiddb.scan_and_assign(maildir)
    assert scan.uidvalidity > first.uidvalidity
    assert [m.uid for m in scan.messages] == [1, 2, 3]
    assert uiddb.parse(db(maildir).read_bytes()) is not None
    assert os.listdir(os.path.join(maildir, "tmp")) == []


def test_directory_in_place_of_the_file(maildir: str) -> None:
    os.mkdir(db(maildir))
    scan = uiddb.scan_and_assign(maildir)
    assert [m.uid for m in scan.messages] == [1, 2, 3]
    assert not scan.rewritten
    assert db(maildir).is_dir()  # left alone: it is not ours to remove
    assert os.listdir(os.path.join(maildir, "tmp")) == []  # no temp file left behind


def test_too_low_nextuid(maildir: str) -> None:
    first = uiddb.scan_and_assign(maildir)
    entries = db(maildir).read_text().split("\n", 1)[1]
    db(maildir).write_text(f"1 {first.uidvalidity} 1\n{entries}")
    delivery.deliver(maildir, MESSAGE)
    scan = uiddb.scan_and_assign(maildir)
    assert [m.uid for m in scan.messages] == [1, 2, 3, 4]
    assert db(maildir).read_text().startswith(f"1 {first.uidvalidity} 5\n")


def test_duplicate_uids_and_names_in_the_file(maildir: str) -> None:
    first = uiddb.scan_and_assign(maildir)
    lines = db(maildir).read_text().split("\n")
    bases = [line.split(" ", 1)[1] for line in lines[1:4]]
    db(maildir).write_text(f"1 {first.uidvalidity} 4\n1 {bases[0]}\n1 {bases[1]}\n"
                           f"3 {bases[2]}\n9 {bases[2]}\n")
    scan = uiddb.scan_and_assign(maildir)
    uids = {m.base: m.uid for m in scan.messages}
    assert uids[bases[0]] == 1 and uids[bases[2]] == 3
    assert uids[bases[1]] >= 4  # lost its UID to the duplicate: a fresh one
    assert len(set(uids.values())) == 3


def _as_unprivileged_user(maildir: str) -> tuple[int, int]:
    """Run the scan in a child as ``nobody`` (root reads every file).

    The maildir is copied to a directory ``nobody`` can reach (pytest's
    temporary directories are private to root) and given to ``nobody``.
    """
    nobody = 65534
    home = tempfile.mkdtemp(prefix="postillion-nobody-")
    os.chmod(home, 0o755)
    maildir = shutil.copytree(maildir, os.path.join(home, "Maildir"))
    for dirpath, _dirs, files in os.walk(maildir):
        os.chown(dirpath, nobody, nobody)
        for name in files:
            os.chown(os.path.join(dirpath, name), nobody, nobody)
    try:
        return _scan_in_child(maildir, nobody)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _scan_in_child(maildir: str, nobody: int) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(nobody)
            os.setuid(nobody)
            scan = uiddb.scan_and_assign(maildir)
            os.write(write_end, f"{len(scan.messages)}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        count = int(reader.read() or b"-1")
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), count


def test_unreadable_file_is_not_fatal(maildir: str) -> None:
    uiddb.scan_and_assign(maildir)
    db(maildir).chmod(0)
    if os.geteuid() == 0:
        code, count = _as_unprivileged_user(maildir)
        assert code == 0
        assert count == 3
    else:
        scan = uiddb.scan_and_assign(maildir)
        assert len(scan.messages) == 3


def test_stale_lock_of_a_dead_process_is_broken(maildir: str) -> None:
    import socket
    import subprocess

    # A pid that no longer exists: a child's, after it exited.
    child = subprocess.Popen(["true"])
    child.wait()
    lock = Path(maildir, "tmp", "courier.lock")
    lock.write_text(f"{child.pid}:{socket.gethostname()}")
    scan = uiddb.scan_and_assign(maildir)
    assert len(scan.messages) == 3
    assert not lock.exists()
