"""maildiracl side by side with Courier's /usr/bin/maildiracl.

Each case runs the same command sequence on two identical maildirs, one with
our tool and one with Courier's, and compares stdout, stderr, exit codes and
the files left behind (names, bytes, modes).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from tests.conftest import Runner, courier_program

Tree = dict[str, tuple[int, bytes]]


def make_home(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    maildir = base / "Maildir"
    subprocess.run([courier_program("maildirmake"), str(maildir)], check=True)
    subprocess.run([courier_program("maildirmake"), "-f", "Shared", str(maildir)], check=True)
    subprocess.run([courier_program("maildirmake"), "-f", "Work.Kid", str(maildir)], check=True)
    return base


def snapshot(root: Path) -> Tree:
    """Every file and directory below root except tmp/ contents: mode and bytes."""
    tree: Tree = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        if os.path.basename(directory) == "tmp":
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            data = Path(path).read_bytes() if stat.S_ISREG(info.st_mode) else b""
            tree[os.path.normpath(os.path.join(rel_dir, name))] = (info.st_mode, data)
    return tree


def normalize(text: bytes) -> bytes:
    # Courier prints argv[0] (its full path) in some messages.
    return text.replace(courier_program("maildiracl").encode(), b"maildiracl")


def side_by_side(tmp_path: Path, run_ours: Runner, run_courier: Runner,
                 steps: list[list[str]]) -> list[tuple[int, bytes, bytes]]:
    ours_home = make_home(tmp_path / "ours")
    theirs_home = tmp_path / "courier"
    shutil.copytree(ours_home, theirs_home, symlinks=True)
    results = []
    for step in steps:
        mine = run_ours("maildiracl", *step, cwd=ours_home)
        real = run_courier("maildiracl", *step, cwd=theirs_home)
        assert (mine.returncode, mine.stdout, normalize(mine.stderr)) == (
            real.returncode, real.stdout, normalize(real.stderr)), step
        assert snapshot(ours_home) == snapshot(theirs_home), step
        results.append((real.returncode, real.stdout, real.stderr))
    return results


REFERENCE_CASES: list[list[list[str]]] = [
    [["-list", "Maildir", "INBOX.Shared"]],
    [["-list", "Maildir", "INBOX"]],
    [["-set", "Maildir", "INBOX.Shared", "user=bob", "lr"],
     ["-set", "Maildir", "INBOX.Shared", "user=bob", "+w"],
     ["-set", "Maildir", "INBOX.Shared", "group=staff", "-w"],
     ["-set", "Maildir", "INBOX.Shared", "-user=eve", "r"],
     ["-set", "Maildir", "INBOX.Shared", "anyone", "l"],
     ["-list", "Maildir", "INBOX.Shared"],
     ["-compute", "Maildir", "INBOX.Shared", "user=bob"],
     ["-compute", "Maildir", "INBOX.Shared", "user=eve", "anyone"],
     ["-compute", "Maildir", "INBOX.Shared", "owner"],
     ["-compute", "Maildir", "INBOX.Shared", "administrators"],
     ["-compute", "Maildir", "INBOX.Shared", "group=administrators"],
     ["-delete", "Maildir", "INBOX.Shared", "user=bob"],
     ["-delete", "Maildir", "INBOX.Shared", "-user=eve"],
     ["-delete", "Maildir", "INBOX.Shared", "user=nobody"],
     ["-list", "Maildir", "INBOX.Shared"]],
    [["-set", "Maildir", "INBOX.Shared", "user=bob", "lr x"]],
    [["-set", "Maildir", "INBOX.Shared", "owner", "-a"]],
    [["-set", "Maildir", "INBOX.Shared", "-owner", "a"]],
    [["-delete", "Maildir", "INBOX.Shared", "owner"]],
    [["-delete", "Maildir", "INBOX.Shared", "administrators"]],
    [["-set", "Maildir", "INBOX.Shared", "administrators", "l"]],
    [["-set", "Maildir", "INBOX.Shared", "-administrators", "l"]],
    [["-set", "Maildir", "INBOX.Shared", "group=administrators", "r"],
     ["-list", "Maildir", "INBOX.Shared"]],
    [["-set", "Maildir", "INBOX.Shared", "user=bob", "rwlxyzq"],
     ["-set", "Maildir", "INBOX.Shared", "user=carol", ""],
     ["-set", "Maildir", "INBOX.Shared", "user=dan", "+"],
     ["-set", "Maildir", "INBOX.Shared", "user=dan2", "-"],
     ["-set", "Maildir", "INBOX.Shared", "authuser", "lr"],
     ["-compute", "Maildir", "INBOX.Shared", "authuser"],
     ["-list", "Maildir", "INBOX.Shared"]],
    [["-set", "Maildir", "INBOX.Shared", "user=a b", "lr"]],
    [["-set", "Maildir", "INBOX.Shared", "", "lr"]],
    [["-set", "Maildir", "INBOX.Shared", "user=é", "lré"],
     ["-list", "Maildir", "INBOX.Shared"]],
    # Hieracl: virtual parent and a name that does not exist.
    [["-set", "Maildir", "INBOX.Work", "user=bob", "r"],
     ["-list", "Maildir", "INBOX.Work.Kid"]],
    [["-set", "Maildir", "INBOX.Nope", "user=bob", "r"],
     ["-list", "Maildir", "INBOX.Nope"]],
    [["-list", "Maildir", "INBOX.X.Y"]],
    [["-set", "Maildir", "INBOX", "user=bob", "lr"], ["-list", "Maildir", "INBOX"],
     ["-list", "Maildir", "INBOX."]],
    [["-list", "Maildir", "INBOX.Résumé"], ["-set", "Maildir", "INBOX.R&AOk-sum&AOk-", "x", "r"]],
    # Errors and usage.
    [[]], [["-list"]], [["-list", "Maildir"]], [["-foo", "Maildir", "INBOX"]],
    [["-set", "Maildir", "INBOX", "user=bob"]], [["-delete", "Maildir", "INBOX.Shared"]],
    [["-compute", "Maildir", "INBOX.Shared"]],
    [["-list", "Maildir", "inbox"]], [["-list", "Maildir", "Work"]],
    [["-list", "Maildir", "INBOX.a/b"]],
    [["-list", "nosuch", "INBOX"]], [["-list", "nosuch", "INBOX.Foo"]],
    [["-set", "nosuch", "INBOX", "user=bob", "r"]],
    [["-reset", "Maildir"]], [["-reset", "nosuch"]],
    [["-list", "Maildir", "INBOX", "extra", "args"]],
]


@pytest.mark.parametrize("steps", REFERENCE_CASES, ids=lambda s: " | ".join(" ".join(x) for x in s))
def test_same_output_and_files_as_courier(tmp_path: Path, run_ours: Runner,
                                          run_courier: Runner, steps: list[list[str]]) -> None:
    side_by_side(tmp_path, run_ours, run_courier, steps)


def test_reference_list_output(tmp_path: Path, run_ours: Runner, run_courier: Runner) -> None:
    results = side_by_side(tmp_path, run_ours, run_courier, [
        ["-set", "Maildir", "INBOX.Shared", "user=bob", "lrw"],
        ["-set", "Maildir", "INBOX.Shared", "-user=eve", "r"],
        ["-list", "Maildir", "INBOX.Shared"],
    ])
    assert results[-1][1] == (b"owner\taceilrstwx\nadministrators\taceilrstwx\n"
                              b"user=bob\tlrw\n-user=eve\tr\n")


@pytest.mark.parametrize("names", [("INBOX..a",), ("INBOX.a.",)])
def test_invalid_names_same_message_no_stray_files(tmp_path: Path, run_ours: Runner,
                                                   run_courier: Runner, names: tuple[str]) -> None:
    """Courier may leave a parent's hieracl file behind here; we touch nothing."""
    home = make_home(tmp_path)
    before = snapshot(home)
    mine = run_ours("maildiracl", "-list", "Maildir", names[0], cwd=home)
    assert snapshot(home) == before
    real = run_courier("maildiracl", "-list", "Maildir", names[0], cwd=home)
    assert (mine.returncode, mine.stdout, mine.stderr) == (real.returncode, real.stdout,
                                                           real.stderr)


def test_files_written_by_each_are_read_by_the_other(tmp_path: Path, run_ours: Runner,
                                                     run_courier: Runner) -> None:
    home = make_home(tmp_path)
    assert run_ours("maildiracl", "-set", "Maildir", "INBOX.Shared", "user=bob", "lrw",
                    cwd=home).returncode == 0
    assert run_courier("maildiracl", "-set", "Maildir", "INBOX.Shared", "-user=bob", "w",
                       cwd=home).returncode == 0
    assert run_ours("maildiracl", "-set", "Maildir", "INBOX.Work", "anyone", "l",
                    cwd=home).returncode == 0
    for identifiers in (["user=bob"], ["anyone"], ["owner"]):
        mine = run_ours("maildiracl", "-compute", "Maildir", "INBOX.Shared", *identifiers, cwd=home)
        real = run_courier("maildiracl", "-compute", "Maildir", "INBOX.Shared", *identifiers,
                           cwd=home)
        assert mine.stdout == real.stdout
    assert run_courier("maildiracl", "-list", "Maildir", "INBOX.Work",
                       cwd=home).stdout.endswith(b"anyone\tl\n")
    assert run_ours("maildiracl", "-compute", "Maildir", "INBOX.Shared", "user=bob",
                    cwd=home).stdout == b"lr\n"


def test_imapd_sees_acl_set_by_us(tmp_path: Path, run_ours: Runner, run_courier: Runner) -> None:
    home = make_home(tmp_path)
    assert run_ours("maildiracl", "-set", "Maildir", "INBOX.Shared", "user=bob", "lrdc",
                    cwd=home).returncode == 0
    script = b"a1 GETACL INBOX.Shared\r\na2 LOGOUT\r\n"
    real = run_courier("imapd", "Maildir", input=script, cwd=home,
                       env={"AUTHENTICATED": "root", "IMAP_ACL": "1"})
    assert b'"user=bob" "cdlr"' in real.stdout or b'"bob" "cdlr"' in real.stdout, real.stdout
