"""Our deliverquota side by side with Courier's deliverquota.courier.

Every test runs the same steps against two fresh maildirs (or one shared
maildir) and compares what a user or an MTA sees: exit codes, stdout and
stderr, the bytes of maildirsize, the files in new/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import courier_program

from postillion.maildir import quota
from postillion.maildir.layout import create_maildir

pytestmark = pytest.mark.interop

MESSAGE = b"Subject: t\n\nhello world\n"  # 24 bytes
WARN_TEMPLATE = b"From: Mail Delivery System <postmaster>\nSubject: full\n\nDelete mail.\n"
COURIER_WARNMSG = Path("/etc/courier/quotawarnmsg")


def run_dq(who: str, *args: str | Path, message: bytes = MESSAGE, pipe: bool = False,
           tmp: Path) -> subprocess.CompletedProcess[bytes]:
    """Run one deliverquota with ``message`` on stdin, as a file or a pipe."""
    if who == "courier":
        argv = [courier_program("deliverquota"), *map(str, args)]
    else:
        argv = [sys.executable, "-m", "postillion", "deliverquota", *map(str, args)]
    if pipe:
        return subprocess.run(argv, input=message, capture_output=True, timeout=60, check=False)
    source = tmp / f"msg-{who}"
    source.write_bytes(message)
    with open(source, "rb") as stdin:
        return subprocess.run(argv, stdin=stdin, capture_output=True, timeout=60, check=False)


def courier_make(*args: str | Path) -> None:
    subprocess.run([courier_program("maildirmake"), *map(str, args)], check=True,
                   capture_output=True)


def new_files(maildir: Path) -> list[str]:
    return sorted(os.listdir(maildir / "new"))


def shape(name: str) -> str:
    """A file name with its time, pid, device and inode numbers blanked out."""
    return re.sub(r"^\d+\.M\d+P\d+V[0-9A-F]{16}I[0-9A-F]{16}", "T.MuPpVdIi", name)


def pair(tmp: Path, spec: str | None) -> tuple[Path, Path]:
    ours, courier = tmp / "ours" / "Maildir", tmp / "courier" / "Maildir"
    for maildir in (ours, courier):
        maildir.parent.mkdir()
        if spec is None:
            courier_make(maildir)
        else:
            courier_make("-q", spec, maildir)
    return ours, courier


def normalise_usage(stderr: bytes) -> bytes:
    return re.sub(rb"^Usage: \S+", b"Usage: PROG", stderr)


@pytest.fixture
def warnmsg() -> Iterator[bytes]:
    """Courier reads its template only from /etc/courier/quotawarnmsg."""
    saved = COURIER_WARNMSG.read_bytes() if COURIER_WARNMSG.exists() else None
    COURIER_WARNMSG.parent.mkdir(parents=True, exist_ok=True)
    COURIER_WARNMSG.write_bytes(WARN_TEMPLATE)
    try:
        yield WARN_TEMPLATE
    finally:
        if saved is None:
            COURIER_WARNMSG.unlink(missing_ok=True)
        else:
            COURIER_WARNMSG.write_bytes(saved)


# ---------------------------------------------------------------- usage and errors


@pytest.mark.parametrize(
    "args", [(), ("-c",), ("-w", "101", "X"), ("-w", "-2", "X"), ("-c", "-w", "5")]
)
def test_bad_usage(tmp_path: Path, args: tuple[str, ...]) -> None:
    ours = run_dq("ours", *args, tmp=tmp_path)
    courier = run_dq("courier", *args, tmp=tmp_path)
    assert ours.returncode == courier.returncode == 73
    assert normalise_usage(ours.stderr) == normalise_usage(courier.stderr)
    assert normalise_usage(ours.stderr) == b"Usage: PROG [-c] [-w percent] maildir\n"
    assert ours.stdout == courier.stdout == b""


@pytest.mark.parametrize("pipe", [False, True])
def test_missing_maildir(tmp_path: Path, pipe: bool) -> None:
    target = tmp_path / "nonexistent" / "Maildir"
    ours = run_dq("ours", target, pipe=pipe, tmp=tmp_path)
    courier = run_dq("courier", target, pipe=pipe, tmp=tmp_path)
    assert (ours.returncode, ours.stdout, ours.stderr) == (
        courier.returncode, courier.stdout, courier.stderr)
    assert ours.returncode == 75
    assert ours.stderr == f"{target}: No such file or directory\n".encode()
    assert not target.exists()


@pytest.mark.parametrize("pipe", [False, True])
def test_create_with_c(tmp_path: Path, pipe: bool) -> None:
    results = {}
    for who in ("ours", "courier"):
        target = tmp_path / who / "newdir" / "sub" / "Maildir"
        results[who] = run_dq(who, "-c", target, pipe=pipe, tmp=tmp_path)
        assert results[who].returncode == 0
        for path in (target.parent.parent, target.parent, target, target / "new"):
            assert (path.stat().st_mode & 0o777) == 0o700, path
        assert len(new_files(target)) == 1
        assert not (target / "maildirsize").exists()
    assert results["ours"].stdout == results["courier"].stdout == b""


# ---------------------------------------------------------------- quota and maildirsize


@pytest.mark.parametrize("pipe", [False, True])
@pytest.mark.parametrize("spec", ["60S,3C", "1000000S,2C", "48S", "10000000S,1000C"])
def test_same_exit_codes_and_maildirsize(tmp_path: Path, pipe: bool, spec: str) -> None:
    ours, courier = pair(tmp_path, spec)
    for _step in range(4):
        mine = run_dq("ours", ours, pipe=pipe, tmp=tmp_path)
        theirs = run_dq("courier", courier, pipe=pipe, tmp=tmp_path)
        assert (mine.returncode, mine.stdout, mine.stderr) == (
            theirs.returncode, theirs.stdout, theirs.stderr)
        assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()
        assert sorted(map(shape, new_files(ours))) == sorted(map(shape, new_files(courier)))


@pytest.mark.parametrize("pipe", [False, True])
def test_over_quota_exit_code_depends_on_stdin(tmp_path: Path, pipe: bool) -> None:
    ours, courier = pair(tmp_path, "30S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        assert run_dq(who, maildir, pipe=pipe, tmp=tmp_path).returncode == 0
        over = run_dq(who, maildir, pipe=pipe, tmp=tmp_path)
        assert over.returncode == (75 if pipe else 77)
        assert over.stdout == b"Mail quota exceeded.\n"
        assert len(new_files(maildir)) == 1
        assert os.listdir(maildir / "tmp") == []


def test_folder_and_trash(tmp_path: Path) -> None:
    ours, courier = pair(tmp_path, "10000S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        courier_make("-f", "Sub", maildir)
        courier_make("-f", "Trash", maildir)
        assert run_dq(who, maildir / ".Sub", tmp=tmp_path).returncode == 0
        assert run_dq(who, maildir / ".Trash", pipe=True, tmp=tmp_path).returncode == 0
        assert run_dq(who, maildir / ".Sub", pipe=True, tmp=tmp_path).returncode == 0
    assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()
    assert (ours / "maildirsize").read_bytes() == b"10000S\n" + b"".join(
        quota.format_line(n, c) for n, c in ((0, 0), (24, 1), (24, 1)))


def test_empty_message(tmp_path: Path) -> None:
    ours, courier = pair(tmp_path, "100S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        for pipe in (False, True):
            assert run_dq(who, maildir, message=b"", pipe=pipe, tmp=tmp_path).returncode == 0
    assert sorted(map(shape, new_files(ours))) == sorted(map(shape, new_files(courier)))
    assert all(",S=" not in n for n in new_files(ours))
    assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()


def test_long_maildirsize_is_recounted_alike(tmp_path: Path) -> None:
    ours, courier = pair(tmp_path, "100000000S,100000C")
    for maildir in (ours, courier):
        with open(maildir / "maildirsize", "ab") as sizes:
            for i in range(196):
                (maildir / "cur" / f"1700000000.M{i}P1.host,S=24:2,S").write_bytes(MESSAGE)
                sizes.write(quota.format_line(24, 1))
    for _ in range(2):
        for maildir, who in ((ours, "ours"), (courier, "courier")):
            assert run_dq(who, maildir, tmp=tmp_path).returncode == 0
        assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()
    assert (ours / "maildirsize").read_bytes() == (
        b"100000000S,100000C\n" + quota.format_line(196 * 24, 196) + quota.format_line(24, 1) * 2)


# ---------------------------------------------------------------- obsolete quota argument


@pytest.mark.parametrize("pipe", [False, True])
def test_obsolete_quota_argument(tmp_path: Path, pipe: bool) -> None:
    ours, courier = pair(tmp_path, "10000S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        for _ in range(3):
            assert run_dq(who, maildir, tmp=tmp_path).returncode == 0
        (maildir / "maildirsize").unlink()
        # Without the argument the quota is gone and nothing is recreated.
        assert run_dq(who, maildir, pipe=pipe, tmp=tmp_path).returncode == 0
        assert not (maildir / "maildirsize").exists()
        # With it, maildirsize is recreated from a recount.
        assert run_dq(who, maildir, "5000S", pipe=pipe, tmp=tmp_path).returncode == 0
        # The same quota again changes nothing; a different one is recounted in.
        assert run_dq(who, maildir, "5000S", pipe=pipe, tmp=tmp_path).returncode == 0
        assert run_dq(who, maildir, "100S,9C", pipe=pipe, tmp=tmp_path).returncode == 77 - (
            2 if pipe else 0)
    assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()
    assert (ours / "maildirsize").read_bytes().startswith(b"100S,9C\n")


# ---------------------------------------------------------------- warnings


def warning_files(maildir: Path) -> list[str]:
    return [n for n in new_files(maildir) if "_warn." in n]


def check_warning(maildir: Path, template: bytes) -> None:
    (name,) = warning_files(maildir)
    content = (maildir / "new" / name).read_bytes()
    assert name.endswith(f",S={len(content)}")
    date, msgid, rest = content.split(b"\n", 2)
    assert re.fullmatch(
        rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
        rb"|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}", date)
    assert re.fullmatch(rb"Message-Id: <\d+\.overquota@[^>]+>", msgid)
    assert rest == template
    assert (maildir / "quotawarn").read_bytes() == b"\0"


@pytest.mark.parametrize("pipe", [False, True])
@pytest.mark.parametrize(("spec", "percent"), [("100S", "50"), ("1000S", "1"), ("200S,4C", "60")])
def test_warning_side_by_side(tmp_path: Path, warnmsg: bytes, pipe: bool, spec: str,
                              percent: str) -> None:
    ours, courier = pair(tmp_path, spec)
    for _step in range(5):
        mine = run_dq("ours", "-w", percent, ours, pipe=pipe, tmp=tmp_path)
        theirs = run_dq("courier", "-w", percent, courier, pipe=pipe, tmp=tmp_path)
        assert (mine.returncode, mine.stdout, mine.stderr) == (
            theirs.returncode, theirs.stdout, theirs.stderr)
        assert sorted(map(shape, new_files(ours))) == sorted(map(shape, new_files(courier)))
        assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()
        assert (ours / "quotawarn").exists() == (courier / "quotawarn").exists()
    for maildir in (ours, courier):
        check_warning(maildir, warnmsg)


def test_warning_repeats_after_24_hours_even_on_rejection(tmp_path: Path, warnmsg: bytes) -> None:
    ours, courier = pair(tmp_path, "60S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        for _ in range(3):
            run_dq(who, "-w", "50", maildir, tmp=tmp_path)
        assert len(warning_files(maildir)) == 1
        day_ago = time.time() - 25 * 3600
        os.utime(maildir / "quotawarn", (day_ago, day_ago))
        assert run_dq(who, "-w", "50", maildir, tmp=tmp_path).returncode == 77
        assert len(warning_files(maildir)) == 2
    assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()


def test_warning_for_a_folder_goes_to_the_parent(tmp_path: Path, warnmsg: bytes) -> None:
    ours, courier = pair(tmp_path, "1000S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        courier_make("-f", "Sub", maildir)
        for _ in range(3):
            assert run_dq(who, "-w", "1", maildir / ".Sub", tmp=tmp_path).returncode == 0
        assert len(warning_files(maildir)) == 1
        assert warning_files(maildir / ".Sub") == []
        assert (maildir / "quotawarn").exists()
    assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()


def test_warning_template_option(tmp_path: Path) -> None:
    template = tmp_path / "tmpl"
    template.write_bytes(b"Subject: custom\n\nX\n")
    ours, courier = pair(tmp_path, "1000S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        for _ in range(2):
            run_dq(who, "-w", "1", "-W", template, maildir, tmp=tmp_path)
        check_warning(maildir, template.read_bytes())


def test_no_template_no_warning(tmp_path: Path) -> None:
    if COURIER_WARNMSG.exists():
        pytest.skip("this host has a quotawarnmsg installed")
    ours, courier = pair(tmp_path, "50S")
    for maildir, who in ((ours, "ours"), (courier, "courier")):
        for _ in range(3):
            run_dq(who, "-w", "1", maildir, tmp=tmp_path)
        assert warning_files(maildir) == []
        assert not (maildir / "quotawarn").exists()


# ---------------------------------------------------------------- one maildir, both programs


@pytest.mark.parametrize("pipe", [False, True])
def test_interleaved_deliveries_keep_consistent_totals(tmp_path: Path, pipe: bool) -> None:
    maildir = tmp_path / "Maildir"
    courier_make("-q", "200S,100C", maildir)
    accepted = 0
    for step in range(12):
        who = "ours" if step % 2 else "courier"
        result = run_dq(who, maildir, pipe=pipe, tmp=tmp_path)
        assert result.returncode in (0, 75 if pipe else 77)
        accepted += result.returncode == 0
    assert accepted == 200 // len(MESSAGE)
    assert len(new_files(maildir)) == accepted
    info = quota.read_maildirsize(str(maildir))
    assert info is not None and not info.needs_recount
    assert info.usage == quota.scan_usage(str(maildir))[0] == quota.Usage(24 * accepted, accepted)


def test_quota_set_by_courier_maildirmake_is_honoured_by_ours(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    courier_make("-q", "50S", maildir)
    assert run_dq("ours", maildir, tmp=tmp_path).returncode == 0
    assert run_dq("ours", maildir, tmp=tmp_path).returncode == 0
    assert run_dq("ours", maildir, tmp=tmp_path).returncode == 77


def test_quota_set_by_us_is_honoured_by_courier(tmp_path: Path) -> None:
    ours, courier = tmp_path / "ours", tmp_path / "courier"
    create_maildir(str(ours))
    courier_make(courier)
    for maildir in (ours, courier):
        (maildir / "cur" / "1700000000.M1P1.host,S=20:2,S").write_bytes(b"x" * 20)
    quota.set_quota(str(ours), "1000C,50S")
    courier_make("-q", "1000C,50S", courier)
    assert (ours / "maildirsize").read_bytes() == (courier / "maildirsize").read_bytes()
    assert run_dq("courier", ours, tmp=tmp_path).returncode == 0
    assert run_dq("courier", ours, tmp=tmp_path).returncode == 77


def test_courier_sees_our_expunge_lines(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    courier_make("-q", "48S", maildir)
    for _ in range(2):
        assert run_dq("ours", maildir, tmp=tmp_path).returncode == 0
    victim = maildir / "new" / new_files(maildir)[0]
    victim.unlink()
    quota.record_change(str(maildir), -24, -1)
    assert run_dq("courier", maildir, tmp=tmp_path).returncode == 0
    assert run_dq("courier", maildir, tmp=tmp_path).returncode == 77


def test_usage_text_names_the_program(tmp_path: Path) -> None:
    link = tmp_path / "my-deliverquota"
    link.symlink_to(courier_program("deliverquota"))
    theirs = subprocess.run([str(link)], capture_output=True, check=False)
    assert theirs.stderr.startswith(f"Usage: {link} ".encode())
    ours = subprocess.run([sys.executable, "-m", "postillion", "deliverquota"],
                          capture_output=True, check=False)
    assert ours.stderr.startswith(b"Usage: deliverquota ")
