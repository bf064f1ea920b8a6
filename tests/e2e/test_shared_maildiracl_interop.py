"""Our SETACL read by Courier's /usr/bin/maildiracl, and its -set read by
our session, on the same files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.e2e.shared_world import answer, login, make_shared_world

MAILDIRACL = shutil.which("maildiracl") or "/usr/bin/maildiracl"
pytestmark = pytest.mark.skipif(not Path(MAILDIRACL).exists(),
                                reason="Courier's maildiracl (courier-imap) missing")


def test_setacl_and_maildiracl_read_each_other(tmp_path: Path) -> None:
    world = make_shared_world(tmp_path)
    world.folder("paul", "INBOX.Proj")
    with world.server() as port:
        paul = login(port, "paul")
        assert answer(paul.setacl("INBOX.Proj", "tux", "lrd")) == "OK ACLs updated."
        assert answer(paul.setacl("INBOX.Proj", "-eve", "w")) == "OK ACLs updated."
        listing = subprocess.run([MAILDIRACL, "-list", world.maildir("paul"), "INBOX.Proj"],
                                 capture_output=True, text=True, check=True).stdout
        assert "user=tux\telrtx\n" in listing and "-user=eve\tw\n" in listing
        subprocess.run([MAILDIRACL, "-set", world.maildir("paul"), "INBOX.Proj",
                        "group=staff", "lrwi"], check=True)
        eve = login(port, "eve")
        assert answer(eve.myrights('"#shared.paul.Proj"')) == 'OK "#shared.paul.Proj" "ilr"'
        _typ, data = paul.getacl("INBOX.Proj")
        assert b'"group=staff" "ilrw"' in data[0]  # type: ignore[operator]
        paul.logout()
        eve.logout()
