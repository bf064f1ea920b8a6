"""Two imapd processes on one folder: a STORE in one of them after the
other changed the same message's flags.  Courier's imapd applies +FLAGS and
-FLAGS to the flags the message's file name has at that moment, so the
other process's change is kept (and told in the FETCH it answers with);
``postillion imapd`` must do the same, with the same answers and the same
file name left behind.  Each scenario runs through both servers, two
processes each, on fresh copies of one maildir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import courier_program
from tests.interop.differential.runner import environment, packaged_settings

pytestmark = pytest.mark.interop

MESSAGE = b"From: ann@example.org\nSubject: hello\n\nbody\n"
NAME = "1700000000.M1P1.host,S=44"


class Imapd:
    """One preauthenticated imapd on stdio."""

    def __init__(self, argv: list[str], home: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(argv, cwd=home, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.process.stdout.readline()  # type: ignore[union-attr]

    def command(self, tag: str, text: str) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{tag} {text}\r\n".encode())
        self.process.stdin.flush()
        lines = []
        while True:
            line = self.process.stdout.readline().decode().rstrip("\r\n")
            if not line:
                raise AssertionError(f"{tag}: the server closed the connection: {lines}")
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def close(self) -> None:
        self.command("z", "LOGOUT")
        self.process.wait(timeout=30)


SCENARIOS = {
    # the message's flag letters, the other process's change, then the
    # command of the process that has not seen it
    "add": ("S", "STORE 1 +FLAGS (\\Flagged)", "STORE 1 +FLAGS (\\Answered)"),
    "remove": ("S", "STORE 1 +FLAGS (\\Flagged)", "STORE 1 -FLAGS (\\Seen)"),
    "replace": ("S", "STORE 1 +FLAGS (\\Flagged)", "STORE 1 FLAGS (\\Answered)"),
    "removed-meanwhile": ("S", "STORE 1 -FLAGS (\\Seen)", "STORE 1 +FLAGS (\\Draft)"),
    "uid-silent": ("S", "STORE 1 +FLAGS (\\Deleted)", "UID STORE 1 +FLAGS.SILENT (\\Flagged)"),
    "fetch-sets-seen": ("", "STORE 1 +FLAGS (\\Flagged)", "FETCH 1 BODY[TEXT]"),
}


def _run(argv: list[str], home: Path, first: str, second: str,
         ) -> tuple[list[str], list[str], list[str]]:
    env = environment(home, packaged_settings())
    one, two = Imapd(argv, home, env), Imapd(argv, home, env)
    try:
        one.command("a1", "SELECT INBOX")
        two.command("b1", "SELECT INBOX")
        one.command("a2", first)
        answer = two.command("b2", second)
        after = two.command("b3", "FETCH 1 FLAGS")
    finally:
        one.close()
        two.close()
    names = os.listdir(home / "Maildir" / "cur")
    # (\Recent goes to whichever process claimed it: not compared.)
    return ([line.replace(" \\Recent", "") for line in answer],
            [line.replace(" \\Recent", "") for line in after], names)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_store_keeps_what_another_process_changed_meanwhile(
        tmp_path: Path, scenario: str) -> None:
    imapd = courier_program("imapd")  # (skipped when missing; a failure in CI)
    letters, first, second = SCENARIOS[scenario]
    results = {}
    for side, argv in {"courier": [imapd, "Maildir"],
                       "ours": [sys.executable, "-m", "postillion", "imapd", "Maildir"]}.items():
        home = tmp_path / side
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
        (home / "Maildir" / "cur" / f"{NAME}:2,{letters}").write_bytes(MESSAGE)
        results[side] = _run(argv, home, first, second)
    (answer, after, names), (courier_answer, courier_after, courier_names) = \
        results["ours"], results["courier"]
    assert names == courier_names              # the flags left in the file name
    assert after == courier_after              # what the process now says they are
    if "STORE" in second:
        # (A FETCH that sets \Seen reports the flags in its own response,
        # Courier in an untagged FETCH after it: a difference of form the
        # differential test lists.)
        assert answer == courier_answer
