"""courierimapsubscribed: one UTF-8 name per line, in subscribe order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from postillion.maildir import subscribed
from postillion.maildir.errors import InvalidMailboxName
from postillion.maildir.layout import create_maildir


@pytest.fixture
def maildir(tmp_path: Path) -> str:
    path = str(tmp_path / "Maildir")
    create_maildir(path)
    return path


def content(maildir: str) -> bytes:
    return Path(maildir, subscribed.SUBSCRIBED).read_bytes()


def test_file_as_imapd_writes_it(maildir: str) -> None:
    assert subscribed.read_subscriptions(maildir) == []
    for name in ("INBOX", "INBOX.Sub", "INBOX.Nonexist", "INBOX.Résumé"):
        assert subscribed.subscribe(maildir, name)
    assert content(maildir) == "INBOX\nINBOX.Sub\nINBOX.Nonexist\nINBOX.Résumé\n".encode()
    assert os.listdir(os.path.join(maildir, "tmp")) == []


def test_subscribe_twice_and_inbox_case(maildir: str) -> None:
    assert subscribed.subscribe(maildir, "INBOX.X")
    assert not subscribed.subscribe(maildir, "inbox.X")
    assert subscribed.subscribe(maildir, "INBOX.x")  # below INBOX, case matters
    assert subscribed.read_subscriptions(maildir) == ["INBOX.X", "INBOX.x"]


def test_unsubscribe(maildir: str) -> None:
    for name in ("INBOX.A", "INBOX.B", "INBOX.C"):
        subscribed.subscribe(maildir, name)
    assert subscribed.unsubscribe(maildir, "Inbox.B")
    assert not subscribed.unsubscribe(maildir, "INBOX.Nope")
    assert content(maildir) == b"INBOX.A\nINBOX.C\n"
    subscribed.subscribe(maildir, "INBOX.B")
    assert subscribed.read_subscriptions(maildir) == ["INBOX.A", "INBOX.C", "INBOX.B"]


def test_lines_written_by_imapd_in_lower_case_match(maildir: str) -> None:
    Path(maildir, subscribed.SUBSCRIBED).write_bytes(b"inbox\ninbox.Y\n")
    assert not subscribed.subscribe(maildir, "INBOX")
    assert subscribed.unsubscribe(maildir, "INBOX.Y")
    assert content(maildir) == b"inbox\n"


def test_shared_namespace_names_are_kept(maildir: str) -> None:
    assert subscribed.subscribe(maildir, "#shared.courref2.Proj")
    assert content(maildir) == b"#shared.courref2.Proj\n"


@pytest.mark.parametrize("bad", ["INBOX.a\nb", "INBOX.x/y", "INBOX..", "", "#shared.\x01"])
def test_names_that_would_corrupt_the_file_are_refused(maildir: str, bad: str) -> None:
    with pytest.raises(InvalidMailboxName):
        subscribed.subscribe(maildir, bad)
    assert not Path(maildir, subscribed.SUBSCRIBED).exists()
