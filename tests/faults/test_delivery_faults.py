"""deliverquota under faults: killed mid-delivery, full disk, damaged maildirsize."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import courier_program

from postillion.maildir import quota
from postillion.maildir.layout import create_maildir
from postillion.tools import deliverquota

MESSAGE = b"Subject: t\n\nhello world\n"  # 24 bytes
OURS = [sys.executable, "-m", "postillion", "deliverquota"]


def make_maildir(path: Path, spec: str | None = "10000S,100C") -> Path:
    create_maildir(str(path))
    if spec is not None:
        quota.set_quota(str(path), spec)
    return path


def run(argv: list[str], message: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, input=message, capture_output=True, timeout=60, check=False)


# ---------------------------------------------------------------- killed mid-delivery


def test_sigkill_while_reading_stdin_leaves_nothing_visible(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M")
    before = (maildir / "maildirsize").read_bytes()
    proc = subprocess.Popen([*OURS, str(maildir)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(b"Subject: half\n\n" + b"x" * 100_000)
    proc.stdin.flush()
    # Wait (bounded) until the message is being staged: a file in tmp/.
    for _ in range(600):
        if os.listdir(maildir / "tmp"):
            break
        time.sleep(0.05)
    assert os.listdir(maildir / "tmp"), "deliverquota never started staging"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    assert proc.returncode == -signal.SIGKILL
    assert os.listdir(maildir / "new") == []
    assert os.listdir(maildir / "cur") == []
    assert (maildir / "maildirsize").read_bytes() == before
    # The next delivery is unaffected and the totals stay right.
    assert run([*OURS, str(maildir)], MESSAGE).returncode == 0
    state = quota.read_quota(str(maildir))
    assert state is not None and state.usage == quota.Usage(24, 1)


@contextlib.contextmanager
def stdin_bytes(data: bytes) -> Iterator[None]:
    """Feed ``deliverquota.main`` from a pipe-like stdin, in-process."""
    saved = sys.stdin
    wrapper = io.TextIOWrapper(io.BytesIO(data))
    sys.stdin = wrapper
    try:
        yield
    finally:
        sys.stdin = saved


def test_crash_between_link_and_append_undercounts_until_recount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our order is link, then append: a crash between them loses a count, never mail."""
    maildir = make_maildir(tmp_path / "M")
    before = (maildir / "maildirsize").read_bytes()

    class Crash(BaseException):
        pass

    def crash(self: quota.QuotaReservation) -> None:
        raise Crash

    monkeypatch.setattr(quota.QuotaReservation, "commit", crash)
    with stdin_bytes(MESSAGE), pytest.raises(Crash):
        deliverquota.main([str(maildir)])
    monkeypatch.undo()
    assert len(os.listdir(maildir / "new")) == 1  # delivered whole
    assert (maildir / "maildirsize").read_bytes() == before  # not counted
    assert quota.recalculate(str(maildir)) == quota.Usage(24, 1)


# ---------------------------------------------------------------- disk full


@pytest.fixture
def tiny_tmpfs() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = Path(tempfile.mkdtemp(prefix="postillion-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                              str(mountpoint)], capture_output=True, check=False)
    if mounted.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)
        mountpoint.rmdir()


@pytest.mark.parametrize("pipe", [False, True])
def test_disk_full_like_courier(tiny_tmpfs: Path, tmp_path: Path, pipe: bool) -> None:
    big = os.urandom(200_000)
    results = {}
    for who, argv in (("ours", OURS), ("courier", [courier_program("deliverquota")])):
        maildir = make_maildir(tiny_tmpfs / who, "1000000S")
        before = (maildir / "maildirsize").read_bytes()
        if pipe:
            result = run([*argv, str(maildir)], big)
        else:
            source = tmp_path / "big"
            source.write_bytes(big)
            with open(source, "rb") as stdin:
                result = subprocess.run([*argv, str(maildir)], stdin=stdin,
                                        capture_output=True, check=False)
        results[who] = result
        assert os.listdir(maildir / "new") == []
        assert os.listdir(maildir / "tmp") == []
        assert (maildir / "maildirsize").read_bytes() == before
        # Room again: the next small delivery works and is counted once.
        assert run([*argv, str(maildir)], MESSAGE).returncode == 0
        state = quota.read_quota(str(maildir))
        assert state is not None and state.usage == quota.Usage(24, 1)
    ours, courier = results["ours"], results["courier"]
    # Courier exits EX_IOERR (74) with "<tmp file>: No space left on device".
    assert ours.returncode == courier.returncode == 74
    assert ours.stdout == courier.stdout == b""
    for result in (ours, courier):
        assert result.stderr.endswith(b": No space left on device\n")
        assert b"/tmp/" in result.stderr


def test_disk_full_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """Where no tmpfs can be mounted: ENOSPC from the kernel on flush, in-process."""
    maildir = make_maildir(tmp_path / "M")
    before = (maildir / "maildirsize").read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with stdin_bytes(MESSAGE):
        code = deliverquota.main([str(maildir)])
    monkeypatch.undo()
    assert code == 74
    assert capsys.readouterr().err.endswith(": No space left on device\n")
    assert os.listdir(maildir / "new") == []
    assert os.listdir(maildir / "tmp") == []
    assert (maildir / "maildirsize").read_bytes() == before


# ---------------------------------------------------------------- damaged maildirsize


DAMAGE = {
    "garbage line": b"this is not a size line\n",
    "cut last line": b"          2",
    "negative total": b"     -100000        -1000\n",
    "binary junk": bytes(range(256)),
    "huge file": b"           1            1\n" * 300,
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=list(DAMAGE))
def test_damaged_maildirsize_is_recounted(tmp_path: Path, damage: bytes) -> None:
    maildir = make_maildir(tmp_path / "M", "1000S,100C")
    for _ in range(3):
        assert run([*OURS, str(maildir)], MESSAGE).returncode == 0
    with open(maildir / "maildirsize", "ab") as sizes:
        sizes.write(damage)
    result = run([*OURS, str(maildir)], MESSAGE)
    assert result.returncode == 0, result.stderr
    assert len(os.listdir(maildir / "new")) == 4
    info = quota.read_maildirsize(str(maildir))
    assert info is not None and not info.needs_recount
    assert info.quota == quota.QuotaSpec(1000, 100)
    assert info.usage == quota.Usage(96, 4)


@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00", b"garbage\n"])
def test_maildirsize_without_a_quota_line(tmp_path: Path, content: bytes) -> None:
    """No parseable limit: nothing is refused, and the file is repaired."""
    maildir = make_maildir(tmp_path / "M", None)
    (maildir / "maildirsize").write_bytes(content)
    for _ in range(2):
        assert run([*OURS, str(maildir)], MESSAGE).returncode == 0
    info = quota.read_maildirsize(str(maildir))
    assert info is not None and info.usage == quota.Usage(48, 2)


def test_maildirsize_that_is_a_directory_means_no_quota(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M", None)
    (maildir / "maildirsize").mkdir()
    assert run([*OURS, str(maildir)], MESSAGE).returncode == 0
    assert len(os.listdir(maildir / "new")) == 1


def test_failed_link_is_not_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    maildir = make_maildir(tmp_path / "M")
    before = (maildir / "maildirsize").read_bytes()

    def broken_link(src: str, dst: str) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "link", broken_link)
    with stdin_bytes(MESSAGE):
        code = deliverquota.main([str(maildir)])
    monkeypatch.undo()
    assert code == 74
    assert capsys.readouterr().err.endswith(": Input/output error\n")
    assert os.listdir(maildir / "new") == []
    assert os.listdir(maildir / "tmp") == []
    assert (maildir / "maildirsize").read_bytes() == before


def test_recount_that_cannot_be_written_is_a_temporary_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    maildir = make_maildir(tmp_path / "M", "10S")
    (maildir / "cur" / "1700000000.M1P1.host,S=5:2,S").write_bytes(b"12345")
    with open(maildir / "maildirsize", "ab") as sizes:
        sizes.write(b"damaged\n")  # forces a recount
    real_open = os.open

    def refuse_size_file(path: str, flags: int, mode: int = 0o777) -> int:
        if "_NeWmAiLdIrSiZe." in str(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refuse_size_file)
    with stdin_bytes(MESSAGE):
        code = deliverquota.main([str(maildir)])
    monkeypatch.undo()
    assert code == 75
    assert "No space left on device" in capsys.readouterr().err
    assert os.listdir(maildir / "new") == []
    assert os.listdir(maildir / "tmp") == []
