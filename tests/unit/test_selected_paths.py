"""A selected message's path: what os.path.join gives, written out.

``SelectedMailbox.path_of`` runs once per message of a FETCH, SEARCH or
SORT over a whole folder, so it joins by hand; it must name the same file
whatever form the folder's directory came in.
"""

from __future__ import annotations

import os

import pytest

from postillion.imap.selected import SelectedMailbox
from postillion.imap.sharedfolder import MessageEntry
from postillion.maildir.filenames import base_name


@pytest.mark.parametrize("folder_dir", [
    "/home/u/Maildir", "/home/u/Maildir/", "/home/u/Maildir/.Sent", "Maildir/.a.b", ".", "/",
])
@pytest.mark.parametrize(("subdir", "filename"), [
    ("cur", "1733456789.M1P2.host,S=120:2,S"), ("new", "1733456789.M1P2.host"),
    ("cur", "odd name:2,"),
])
def test_path_of_is_os_path_join(folder_dir: str, subdir: str, filename: str) -> None:
    selected = SelectedMailbox("INBOX", folder_dir, readonly=True, use_keywords=False)
    entry = MessageEntry(1, filename, subdir, frozenset(), base_name(filename))
    assert selected.path_of(entry) == os.path.join(folder_dir, subdir, filename)
