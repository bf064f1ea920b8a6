"""The README's first command ends in ``postillion demo``: it must work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_once_serves_imap_and_a_client_logs_in(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-m", "postillion", "demo", "--once", "--dir", str(home)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # How to connect is printed: a port, an imaplib one-liner and a mutt line.
    assert "serving on 127.0.0.1 port" in out
    assert "imaplib.IMAP4('127.0.0.1'," in out
    assert "neomutt -f 'imap://paul@127.0.0.1:" in out
    # What imaplib saw after logging in as paul.
    assert "greeting: * OK [CAPABILITY IMAP4rev1" in out
    for folder in ('"INBOX"', '"INBOX.Sent"', '"INBOX.Projects.Postillion"', '"INBOX.Team"'):
        assert folder in out
    assert "INBOX: 24 messages" in out
    unseen = next(line for line in out.splitlines() if line.startswith("unseen:"))
    assert len(unseen.split()) > 1
    # The home holds a Courier configuration directory and Courier-format files.
    assert (home / "etc" / "imapd").is_file()
    assert len((home / "etc" / "userdb").read_text().splitlines()) == 3
    team_acl = (home / "users" / "paul" / "Maildir" / ".Team" / "courierimapacl").read_text()
    assert "user=tux" in team_acl


def test_demo_no_serve_only_builds(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = subprocess.run(
        [sys.executable, "-m", "postillion", "demo", "--no-serve", "--dir", str(home)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"postillion serve --config {home / 'etc'}" in result.stdout
    assert len(list((home / "users" / "eve" / "Maildir" / "cur").iterdir())) == 21
