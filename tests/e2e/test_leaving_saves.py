"""A real ``postillion serve``: what a session leaves behind when it logs
out (the folder's cache file and its scan, postillion.scan) is saved by
the process that served it -- a forked connection process when the
server runs as root, as in CI, the server process otherwise -- and no
folder lock is left behind."""

from __future__ import annotations

import imaplib
import os
import time
from pathlib import Path

from tests.e2e.test_mbsync import (
    LOGIN,
    PASSWORD,
    free_port,
    message,
    running_server,
    write_serve_config,
)

from postillion.imap.foldercache import CACHE_NAME
from postillion.maildir import scanfile
from postillion.maildir.delivery import deliver
from postillion.maildir.layout import create_maildir


def _wait_for(path: Path, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


def test_a_logout_leaves_the_scan_and_cache_saved(tmp_path: Path) -> None:
    home = tmp_path / "home"
    maildir = home / "Maildir"
    home.mkdir()
    create_maildir(str(maildir))
    for n in range(30):
        deliver(str(maildir), message(f"m{n}"), flags="S", durable=False)
    port = free_port()
    config = write_serve_config(tmp_path / "config", home, maildir, port)
    with running_server(config, port, tmp_path / "server.log"):
        client = imaplib.IMAP4("127.0.0.1", port)
        client.login(LOGIN, PASSWORD)
        client.select("INBOX")
        client.store("1:*", "+FLAGS", "(\\Flagged)")     # the folder changed just now
        client.sort("(DATE)", "UTF-8", "ALL")
        client.logout()
        assert _wait_for(maildir / scanfile.NAME)
        assert _wait_for(maildir / CACHE_NAME)
        # Saved with the lock released (Courier's dot-lock in tmp/).
        deadline = time.monotonic() + 20
        while "courier.lock" in os.listdir(maildir / "tmp") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.listdir(maildir / "tmp") == []
        # The next session opens the folder from the saved scan and sees
        # what the first one stored.
        client = imaplib.IMAP4("127.0.0.1", port)
        client.login(LOGIN, PASSWORD)
        typ, data = client.select("INBOX")
        assert (typ, data) == ("OK", [b"30"])
        typ, found = client.search(None, "FLAGGED")
        assert typ == "OK" and len(found[0].split()) == 30
        client.logout()
