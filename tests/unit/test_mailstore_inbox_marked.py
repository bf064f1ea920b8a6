"""INBOX's \\Marked in LIST, as Courier's imapd computes it (mailboxlist.C
hasnewmsgs): a message in new/, or one in cur/ that is not \\Seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from postillion.imap.mailstore import MailStore


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    for sub in ("tmp", "new", "cur"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    return tmp_path / "Maildir"


def marked(maildir: Path) -> bool:
    return MailStore(str(maildir), "paul").inbox_marked()


def test_empty_or_all_seen_is_unmarked(maildir: Path) -> None:
    assert not marked(maildir)
    (maildir / "cur" / "1.M1P1.host:2,S").write_bytes(b"x\n")
    (maildir / "cur" / "2.M2P1.host:2,FRS").write_bytes(b"x\n")
    (maildir / "cur" / ".hidden:2,").write_bytes(b"x\n")
    assert not marked(maildir)


@pytest.mark.parametrize("name", ["3.M3P1.host:2,", "3.M3P1.host:2,FR", "3.M3P1.host"])
def test_an_unseen_message_in_cur_marks_inbox(maildir: Path, name: str) -> None:
    (maildir / "cur" / "1.M1P1.host:2,S").write_bytes(b"x\n")
    (maildir / "cur" / name).write_bytes(b"x\n")
    assert marked(maildir)


def test_mail_waiting_in_new_marks_inbox(maildir: Path) -> None:
    (maildir / "new" / "4.M4P1.host").write_bytes(b"x\n")
    assert marked(maildir)
