"""``postillion imapd MAILDIR``: pre-authenticated IMAP on stdin/stdout, like Courier's
``AUTHENTICATED=user imapd Maildir``."""

from __future__ import annotations

import imaplib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import courier_program
from tests.session.harness import deliver_in_order

from postillion.maildir.layout import create_maildir

MESSAGE = b"From: a@example.com\nTo: b@example.com\nSubject: %d\n\nbody %d\n"


def _maildir(home: Path) -> Path:
    maildir = home / "Maildir"
    create_maildir(str(maildir))
    create_maildir(str(maildir / ".Work"), folder=True)
    for n in range(3):
        # In order: FETCH 2 below is the message delivered second.
        deliver_in_order(str(maildir), MESSAGE % (n, n), flags="S" if n == 1 else "")
    return maildir


def _command(home: Path, *extra: str) -> str:
    env = f"HOME={shlex.quote(str(home))} AUTHENTICATED=paul IMAP_KEYWORDS=1"
    return (f"cd {shlex.quote(str(home))} && env {env} {shlex.quote(sys.executable)} "
            f"-m postillion imapd Maildir {' '.join(extra)}")


def test_imaplib_stream_is_preauthenticated(tmp_path: Path) -> None:
    _maildir(tmp_path)
    client = imaplib.IMAP4_stream(_command(tmp_path))
    try:
        assert client.state == "AUTH"                   # * PREAUTH: no login needed
        assert client.welcome.startswith(b"* PREAUTH")
        typ, folders = client.list()
        assert typ == "OK"
        assert any(b'"INBOX.Work"' in f for f in folders if isinstance(f, bytes))
        assert client.select("INBOX") == ("OK", [b"3"])
        typ, data = client.fetch("2", "(FLAGS)")
        assert typ == "OK" and b"\\Seen" in data[0]     # type: ignore[operator]
        assert client.append("INBOX.Work", "(\\Flagged)", None, MESSAGE % (9, 9))[0] == "OK"
    finally:
        client.logout()
    assert len(os.listdir(tmp_path / "Maildir" / ".Work" / "cur")) == 1


def test_missing_maildir_is_a_fatal_bye(tmp_path: Path) -> None:
    result = subprocess.run(["sh", "-c", _command(tmp_path)], input=b"",
                            capture_output=True, check=False)
    assert result.returncode == 1
    assert result.stdout.startswith(b"* BYE [ALERT] Fatal error: ")


def _normalise(transcript: bytes) -> list[str]:
    """What may differ on purpose: human texts after status words, UIDVALIDITY, and
    \\Recent (the session's own business, compared in tests/interop; here we compare
    the stdio mode around it)."""
    lines = []
    for line in transcript.decode().splitlines():
        if line.endswith(" RECENT"):
            continue
        line = re.sub(r"UIDVALIDITY \d+", "UIDVALIDITY N", line)
        line = re.sub(r" ?\\Recent", "", line).replace("( ", "(")
        match = re.match(r"(\S+ (?:OK|NO|BAD|BYE|PREAUTH))( \[[^]]*\])?", line)
        if match:
            line = match.group(0)
        lines.append(line)
    return lines


def test_transcript_matches_courier_imapd(tmp_path: Path) -> None:
    imapd = courier_program("imapd")
    (tmp_path / "orig").mkdir()
    original = _maildir(tmp_path / "orig")
    script = (b"a SELECT INBOX\r\nb FETCH 1:* (FLAGS UID RFC822.SIZE)\r\n"
              b"c STORE 1 +FLAGS (\\Flagged)\r\nd UID FETCH 1:* (FLAGS)\r\n"
              b"e STATUS INBOX.Work (MESSAGES)\r\nf LOGOUT\r\n")
    outputs = {}
    for name, program in (("courier", [imapd]),
                          ("ours", [sys.executable, "-m", "postillion", "imapd"])):
        home = tmp_path / name
        home.mkdir()
        shutil.copytree(original, home / "Maildir", symlinks=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
               "AUTHENTICATED": "paul", "IMAP_KEYWORDS": "1"}
        if name == "ours":
            env["PYTHONPATH"] = os.pathsep.join(sys.path)
        result = subprocess.run([*program, "Maildir"], input=script, cwd=home, env=env,
                                capture_output=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        outputs[name] = _normalise(result.stdout)
    courier = [line for line in outputs["courier"] if not line.startswith("* OK [")]
    ours = [line for line in outputs["ours"] if not line.startswith("* OK [")]
    assert "\n".join(ours) == "\n".join(courier)


def test_pipe_to_the_client_is_widened(tmp_path: Path) -> None:
    # Big answers (FETCH 1:* BODY[]) go out in 1 MiB writes, not 64 KiB
    # ones, when stdout is a pipe the system lets us widen.
    import fcntl
    _maildir(tmp_path)
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb", buffering=0) as out:
        try:
            process = subprocess.Popen(["sh", "-c", _command(tmp_path)],
                                       stdin=subprocess.PIPE, stdout=write_end)
        finally:
            os.close(write_end)
        with process:
            assert out.read(9) == b"* PREAUTH"
            assert fcntl.fcntl(out.fileno(), fcntl.F_GETPIPE_SZ) >= 1 << 20
            assert process.stdin is not None
            process.stdin.write(b"a LOGOUT\r\n")
            process.stdin.close()
            assert b"a OK" in out.read()


def test_idle_push_and_commands_of_a_one_client_process(tmp_path: Path) -> None:
    # imapd serves one client and runs its commands on its event loop
    # (docs/server.md): IDLE still hears another program's delivery, and
    # the commands around it (a STORE, leaving and selecting the folder
    # again, whose snapshot is frozen from the collector meanwhile) answer.
    import select
    import time

    maildir = _maildir(tmp_path)
    process = subprocess.Popen(["sh", "-c", _command(tmp_path)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    received = b""

    def until(pattern: bytes, timeout: float = 20.0) -> bytes:
        nonlocal received
        deadline = time.monotonic() + timeout
        while not re.search(pattern, received):
            left = deadline - time.monotonic()
            assert left > 0, received[-500:]
            ready, _, _ = select.select([process.stdout], [], [], left)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)  # type: ignore[union-attr]
                assert chunk, received[-500:]
                received += chunk
        return received

    def send(line: bytes) -> None:
        process.stdin.write(line + b"\r\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]

    try:
        until(b"\\* PREAUTH")
        send(b"s SELECT INBOX")
        until(b"s OK")
        send(b"i IDLE")
        until(b"\\+ ")
        deliver_in_order(str(maildir), MESSAGE % (7, 7))
        until(b"\\* 4 EXISTS")
        send(b"DONE")
        until(b"i OK")
        send(b"f STORE 4 +FLAGS (\\Flagged)")
        until(b"\\* 4 FETCH \\(FLAGS \\([^)]*\\\\Flagged")
        until(b"f OK")
        send(b"c CLOSE")
        until(b"c OK")
        send(b"t SELECT INBOX")
        until(b"t OK")
        send(b"u UID FETCH 1:* (FLAGS)")
        until(b"u OK")
        send(b"z LOGOUT")
        until(b"z OK")
    finally:
        process.stdin.close()
        process.wait(timeout=30)
    after = received[received.index(b"t OK"):]
    assert after.count(b" FETCH (") == 4 and b"\\Flagged" in after
