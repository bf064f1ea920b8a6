"""Our maildirmake side by side with Courier's maildirmake.courier.

Each case runs the same command lines in two scratch directories, one per
implementation, and compares what an administrator sees: exit code, stdout,
stderr, and the resulting tree (names, types, modes, file contents).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import courier_program

pytestmark = pytest.mark.interop

Step = tuple[str, ...]


def run(who: str, args: Step, cwd: Path,
        env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run one maildirmake; ``env`` values of None unset that variable."""
    if who == "courier":
        argv = [courier_program("maildirmake"), *args]
    else:
        argv = [sys.executable, "-m", "postillion", "maildirmake", *args]
    full_env = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run(argv, cwd=cwd, env=full_env, capture_output=True, timeout=60,
                          check=False)


def tree(root: Path) -> list[tuple[str, str, bytes]]:
    """(relative path, mode, content) of everything below root."""
    out: list[tuple[str, str, bytes]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = os.fsencode(path.relative_to(root)).decode("utf-8", "backslashreplace")
            st = path.lstat()
            content = path.read_bytes() if stat.S_ISREG(st.st_mode) else b""
            content = content.replace(os.fsencode(str(root)), b"BASE")
            out.append((rel, oct(stat.S_IMODE(st.st_mode)) + stat.filemode(st.st_mode)[0],
                        content))
    return sorted(out)


def compare(tmp_path: Path, steps: list[Step], setup: list[Step] | None = None,
            env: dict[str, str | None] | None = None) -> None:
    results: dict[str, list[tuple[int, bytes, bytes]]] = {}
    trees = {}
    for who in ("courier", "ours"):
        base = tmp_path / who
        base.mkdir()
        (base / "target").mkdir()  # an absolute path for --add
        for step in setup or []:
            assert run("courier", step, base).returncode == 0
        results[who] = []
        for step in steps:
            args = tuple(a.replace("@TARGET@", str(base / "target")) for a in step)
            done = run(who, args, base, env)
            stderr = done.stderr.replace(os.fsencode(str(base)), b"BASE")
            results[who].append((done.returncode, done.stdout, stderr))
        trees[who] = tree(base)
    assert results["ours"] == results["courier"]
    assert trees["ours"] == trees["courier"]


@pytest.mark.parametrize("steps", [
    [()],
    [("--help",)],
    [("-h",)],
    [("-z", "Maildir")],
    [("Maildir",)],
    [("Maildir",), ("Maildir",)],
    [("Maildir", "extra")],
    [("-", "Maildir")],
    [("-f",)],
    [("-F", "Maildir")],
    [("nosuch/Maildir",)],
    [("",)],
], ids=repr)
def test_plain_and_usage(tmp_path: Path, steps: list[Step]) -> None:
    compare(tmp_path, steps)


@pytest.mark.parametrize("steps", [
    [("-f", "Sent", "Maildir")],
    [("-f", "Sent", "Maildir"), ("-f", "Sent", "Maildir")],
    [("-fSent", "Maildir")],
    [("-f", "A.B", "Maildir")],
    [("-f", ".Bad", "Maildir")],
    [("-f", "x/y", "Maildir")],
    [("-f", "", "Maildir")],
    [("-f", "Über", "Maildir")],
    [("-f", "tab\there", "Maildir")],
    [("-f", "Q", "nosuch")],
    [("-f", "X", "Maildir/")],
    [("-F", "p/q", "Maildir")],
    [("-F", "r.s", "Maildir")],
    [("-F", "Ünï", "Maildir")],
    [("-F", "a~b:c\\d", "Maildir")],
    [("-F", "tab\there", "Maildir")],
    [("-F", "", "Maildir")],
    [("-F", "-x", "Maildir")],
    [("-FSent", "Maildir")],
], ids=repr)
def test_folders(tmp_path: Path, steps: list[Step]) -> None:
    compare(tmp_path, steps, setup=[("Maildir",)])


@pytest.mark.parametrize("env", [
    {"LC_ALL": "C"},
    {"LANG": "C", "LC_ALL": None, "LC_CTYPE": None},
    {"LANG": None, "LC_ALL": None, "LC_CTYPE": None},
    {"LC_ALL": "C.UTF-8"},
    {"LANG": "C.UTF-8", "LC_ALL": None, "LC_CTYPE": None},
], ids=repr)
def test_F_follows_the_locale(tmp_path: Path, env: dict[str, str | None]) -> None:
    compare(tmp_path, [("-F", "Öx", "Maildir"), ("-F", "plain", "Maildir")],
            setup=[("Maildir",)], env=env)


def test_F_rejects_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    bad = os.fsdecode(b"\xff\xfe")
    compare(tmp_path, [("-F", bad, "Maildir")], setup=[("Maildir",)],
            env={"LC_ALL": "C.UTF-8"})


@pytest.mark.parametrize("steps", [
    [("-S", "pub")],
    [("-S", "pub"), ("-s", "write,group", "-f", "Pub", "pub")],
    [("-S", "pub"), ("-s", "read", "-f", "Ro", "pub")],
    [("-S", "pub"), ("-s", "write", "-f", "Rw", "pub")],
    [("-S", "pub"), ("-s", "group", "-f", "G", "pub")],
    [("-S", "pub"), ("-s", "write group", "-f", "G2", "pub")],
    [("-S", "pub"), ("-s", "xyz", "-f", "G3", "pub")],
    [("-S", "pub"), ("-swrite", "-fW", "pub")],
    [("-S", "pub"), ("-s", "read", "pub")],
    [("-S", "pub"), ("-S", "-f", "SS", "pub")],
    [("-S", "pub"), ("-S", "pub")],
], ids=repr)
def test_sharable_modes(tmp_path: Path, steps: list[Step]) -> None:
    compare(tmp_path, steps)


@pytest.mark.parametrize("steps", [
    [("--add", "pubshare=@TARGET@", "Maildir")],
    [("--add", "two=@TARGET@", "Maildir"), ("--add", "two=@TARGET@", "Maildir")],
    [("--add", "bad.name=@TARGET@", "Maildir")],
    [("--add", "sl/x=@TARGET@", "Maildir")],
    [("--add", "rel=target", "Maildir")],
    [("--add", "nopath", "Maildir")],
    [("--add", "y=/nonexistent/path", "Maildir")],
    [("--add", "z=@TARGET@", "nosuchdir")],
    [("--add", "=@TARGET@", "Maildir"), ("--add", "=@TARGET@", "Maildir")],
    [("--add",)],
    [("--del",)],
    [("--add", "x=@TARGET@", "Maildir"), ("--del", "x", "Maildir")],
    [("--add", "x=@TARGET@", "Maildir"), ("--del", "x", "Maildir"), ("--del", "x", "Maildir")],
    [("--add", "x=@TARGET@", "Maildir"), ("--add", "y=@TARGET@", "Maildir"),
     ("--del", "x", "Maildir")],
    [("--del", "x", "Maildir")],
    [("--del", "x", "nosuchdir")],
    [("--add", "a=@TARGET@", "--del", "a", "Maildir")],
    [("--del", "a", "--add", "b=@TARGET@", "Maildir")],
], ids=repr)
def test_shared_maildirs(tmp_path: Path, steps: list[Step]) -> None:
    compare(tmp_path, steps, setup=[("Maildir",)])


def test_del_keeps_comments_and_other_lines(tmp_path: Path) -> None:
    results = {}
    for who in ("courier", "ours"):
        base = tmp_path / who
        base.mkdir()
        assert run("courier", ("Maildir",), base).returncode == 0
        (base / "Maildir" / "shared-maildirs").write_bytes(
            b"# a comment\nkeep /x\ngone\t/y # tail\nhalfline\n\n")
        done = run(who, ("--del", "gone", "Maildir"), base)
        results[who] = (done.returncode, done.stderr,
                        (base / "Maildir" / "shared-maildirs").read_bytes())
    assert results["ours"] == results["courier"]


@pytest.mark.parametrize("steps", [
    [("-q", "100S", "qq")],
    [("-q", "10000000S,1000C", "qq")],
    [("-q100S", "qq")],
    [("-q", "100S", "qq"), ("-q", "20000S", "qq")],
    [("-q", "bogus", "qq")],
    [("-q", "", "qq")],
    [("-q", "100S", "-f", "F", "qq")],
    [("-q", "100S", "new/sub")],
    [("qq",), ("-f", "Sent", "qq"), ("-f", "Sent", "-q", "5S", "qq")],
    [("-S", "-q", "100S", "shq")],
], ids=repr)
def test_quota(tmp_path: Path, steps: list[Step]) -> None:
    compare(tmp_path, steps)


ODD_LINES = b"  lead\t/x\nsp /y\ntabs\t\t/z\nnodir\nhash#c\t/h\n\t/empty\n"


@pytest.mark.parametrize("name", ["lead", "sp", "tabs", "nodir", "hash", "", "  lead"])
def test_odd_lines_read_as_courier_reads_them(tmp_path: Path, name: str) -> None:
    results = {}
    for who in ("courier", "ours"):
        base = tmp_path / who
        base.mkdir()
        assert run("courier", ("Maildir",), base).returncode == 0
        listing = base / "Maildir" / "shared-maildirs"
        listing.write_bytes(ODD_LINES)
        added = run(who, ("--add", f"{name}=/tmp", "Maildir"), base)
        after_add = listing.read_bytes()
        listing.write_bytes(ODD_LINES)
        deleted = run(who, ("--del", name, "Maildir"), base)
        results[who] = (added.returncode, added.stderr, after_add,
                        deleted.returncode, deleted.stderr, listing.read_bytes())
    assert results["ours"] == results["courier"]
