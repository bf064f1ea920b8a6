"""maildirkw side by side with Courier's /usr/bin/maildirkw, and with Courier's imapd.

Update files are named after time()/300; both tools run within moments of
each other, and the snapshot replaces that number by ``N`` so that a run
crossing a 5-minute boundary cannot fail spuriously.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from tests.conftest import Runner, courier_program

from postillion.maildir import keywords as kw

Tree = dict[str, tuple[int, bytes]]
GENERATION = re.compile(r"(^|/)\.\d+\.")


def make_home(base: Path, messages: int = 3) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    maildir = base / "Maildir"
    subprocess.run([courier_program("maildirmake"), str(maildir)], check=True)
    for number in range(messages):
        subprocess.run([courier_program("deliverquota"), str(maildir)], check=True,
                       input=f"Subject: m{number}\n\nbody {number}\n".encode())
    return base


def basenames(home: Path) -> list[str]:
    names = []
    for sub in ("new", "cur"):
        names += [n.split(":")[0] for n in os.listdir(home / "Maildir" / sub)]
    return sorted(names)


def snapshot(root: Path) -> Tree:
    tree: Tree = {}
    for directory, dirs, files in os.walk(root):
        if os.path.basename(directory) == "tmp":
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            data = Path(path).read_bytes() if stat.S_ISREG(info.st_mode) else b""
            rel = GENERATION.sub(r"\1.N.", os.path.relpath(path, root))
            tree[rel] = (info.st_mode, data)
    return tree


def normalize(text: bytes) -> bytes:
    return text.replace(courier_program("maildirkw").encode(), b"maildirkw")


def side_by_side(tmp_path: Path, run_ours: Runner, run_courier: Runner,
                 steps: list[list[str]]) -> None:
    ours_home = make_home(tmp_path / "ours")
    theirs_home = tmp_path / "courier"
    shutil.copytree(ours_home, theirs_home, symlinks=True)
    for step in steps:
        mine = run_ours("maildirkw", *step, cwd=ours_home)
        real = run_courier("maildirkw", *step, cwd=theirs_home)
        assert (mine.returncode, mine.stdout, normalize(mine.stderr)) == (
            real.returncode, real.stdout, normalize(real.stderr)), step
        assert snapshot(ours_home) == snapshot(theirs_home), step


CASES: list[list[list[str]]] = [
    [[]], [["-L"]], [["-L", "nosuch"]], [["nosuch", "msg", "foo"]], [["Maildir"]],
    [["-x", "Maildir"]], [["-h", "Maildir"]], [["Maildir", "msg", "-foo"]],
    [["-l", "-L", "nosuch"]], [["-l", "nosuch", "msg", "x"]],
    [["Maildir", "msg1", "foo", "Bar"], ["Maildir", "msg2"],
     ["Maildir", "msg3", "FOO", "bar", "Foo"],
     ["-a", "Maildir", "msg1", "BAR", "baz"], ["-L", "Maildir"],
     ["-r", "Maildir", "msg1", "FOO"], ["-L", "Maildir"],
     ["-c", "-L", "Maildir"], ["-c", "-r", "Maildir", "msg3", "foo"], ["-L", "Maildir"]],
    [["Maildir", "MSG", "+Hello", "+World"], ["Maildir", "msg5", "a b", "c(d"],
     ["Maildir", "msg6", "-a", "x"], ["-L", "Maildir"],
     ["-l", "-L", "Maildir"], ["-l", "Maildir", "msg7", "q"], ["-L", "Maildir"],
     ["Maildir", "msg7", "--", "-dash"], ["-L", "Maildir"]],
    [["Maildir", "nosuchmsg", "x"], ["-L", "Maildir"], ["-ca", "Maildir", "nosuchmsg", "X"],
     ["-L", "Maildir"]],
    # Many names, so that the :list order exercises Courier's hash buckets.
    [["Maildir", "m1", *[f"kw{i}" for i in range(40)]],
     ["Maildir", "m2", "$Label1", "$Junk", "NonJunk", "Work", "later", "ÄÖÜ"],
     ["-L", "Maildir"], ["-a", "Maildir", "m2", "KW3"], ["-L", "Maildir"]],
]


@pytest.mark.parametrize("steps", CASES, ids=lambda s: " | ".join(" ".join(x) for x in s))
def test_same_output_and_files_as_courier(tmp_path: Path, run_ours: Runner,
                                          run_courier: Runner, steps: list[list[str]]) -> None:
    side_by_side(tmp_path, run_ours, run_courier, steps)


def test_each_reads_what_the_other_wrote(tmp_path: Path, run_ours: Runner,
                                         run_courier: Runner) -> None:
    home = make_home(tmp_path)
    first, second, _third = basenames(home)
    assert run_ours("maildirkw", "Maildir", first, "Ours", "shared", cwd=home).returncode == 0
    assert run_courier("maildirkw", "-a", "Maildir", first, "Theirs", cwd=home).returncode == 0
    assert run_ours("maildirkw", "-r", "Maildir", first, "SHARED", cwd=home).returncode == 0
    assert run_courier("maildirkw", "Maildir", second, "x", cwd=home).returncode == 0
    mine = run_ours("maildirkw", "-L", "Maildir", cwd=home)
    real = run_courier("maildirkw", "-L", "Maildir", cwd=home)
    assert mine.stdout == real.stdout
    assert f"{first} Ours Theirs\n".encode() in real.stdout


def imapd(run_courier: Runner, home: Path, *commands: str) -> bytes:
    script = "".join(f"a{n} {c}\r\n" for n, c in enumerate([*commands, "LOGOUT"])).encode()
    done = run_courier("imapd", "Maildir", input=script, cwd=home,
                       env={"AUTHENTICATED": "root", "IMAP_KEYWORDS": "1"})
    return done.stdout


def test_imapd_sees_keywords_set_by_us(tmp_path: Path, run_courier: Runner) -> None:
    home = make_home(tmp_path)
    names = basenames(home)
    maildir = str(home / "Maildir")
    kw.set_keywords(maildir, names[0], ["Alpha", "beta"])
    kw.update_keywords(maildir, names[1], add=["$Label1"])
    output = imapd(run_courier, home, "SELECT INBOX", "FETCH 1:* (FLAGS)")
    fetched = {line for line in output.split(b"\r\n")
               if line.startswith(b"* ") and b" FETCH " in line}
    assert fetched == {b"* 1 FETCH (FLAGS (\\Recent Alpha beta))",
                       b"* 2 FETCH (FLAGS (\\Recent $Label1))",
                       b"* 3 FETCH (FLAGS (\\Recent))"}


def test_we_see_keywords_stored_through_imapd(tmp_path: Path, run_courier: Runner) -> None:
    home = make_home(tmp_path)
    names = basenames(home)
    imapd(run_courier, home, "SELECT INBOX", "STORE 2 +FLAGS (foo $Label1)",
          "STORE 3 +FLAGS (foo Bar)", "STORE 3 -FLAGS (Bar)")
    maildir = str(home / "Maildir")
    present = kw.message_basenames(maildir)
    found = {b: k for b, k in kw.read_keywords(maildir, present).items() if k}
    assert found == {names[1]: ("$Label1", "foo"), names[2]: ("foo",)}
