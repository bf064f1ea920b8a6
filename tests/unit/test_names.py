"""Folder names: validation and the name <-> directory mapping."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postillion.maildir import names
from postillion.maildir.errors import InvalidMailboxName


@pytest.mark.parametrize(("name", "normal"), [
    ("INBOX", "INBOX"),
    ("inbox", "INBOX"),
    ("Inbox.Work", "INBOX.Work"),
    ("INBOX.A.B", "INBOX.A.B"),
    ("INBOX.Über", "INBOX.Über"),
    ("INBOX.work", "INBOX.work"),  # only the INBOX part ignores case
])
def test_normalize(name: str, normal: str) -> None:
    assert names.normalize(name) == normal


@pytest.mark.parametrize("bad", [
    "Work", "", "INBOX.", "INBOX..A", "INBOX.A..B", "INBOX.A.", ".INBOX",
    "INBOX.x/y", "INBOX.a\0b", "INBOX.tab\there", "INBOX.nl\nx", "INBOX.del\x7f",
    "INBOX./..", "INBOX...",
])
def test_bad_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidMailboxName):
        names.normalize(bad)


def test_folder_path_maps_to_one_flat_directory(tmp_path: str) -> None:
    root = str(tmp_path)
    assert names.folder_path(root, "INBOX") == root
    assert names.folder_path(root, "INBOX.A.B") == os.path.join(root, ".A.B")
    assert names.dirname_of("inbox.Sent") == ".Sent"


def test_name_of_dirname() -> None:
    assert names.name_of_dirname(".A.B") == "INBOX.A.B"
    assert names.name_of_dirname("cur") is None
    assert names.name_of_dirname(".") is None
    assert names.name_of_dirname("..") is None
    assert names.name_of_dirname("..A") is None
    assert names.name_of_dirname(".A.") is None


def test_parent_and_components() -> None:
    assert names.parent_of("INBOX.A.B") == "INBOX.A"
    assert names.parent_of("INBOX.A") == "INBOX"
    assert names.parent_of("INBOX") is None
    assert names.components("INBOX.A.B") == ["A", "B"]
    assert names.from_components(["A", "B"]) == "INBOX.A.B"


@pytest.mark.parametrize(("text", "escaped"), [
    ("p/q", "p\\057q"), ("r.s", "r\\056s"), ("a~b:c\\d", "a\\176b\\072c\\134d"),
    ("tab\there", "tab\\011here"), ("Ünï", "Ünï"),
])
def test_escape_component_as_maildirmake_F(text: str, escaped: str) -> None:
    assert names.escape_component(text) == escaped


level = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@given(st.lists(level, min_size=1, max_size=4))
def test_any_name_maps_inside_the_maildir_or_is_refused(parts: list[str]) -> None:
    name = "INBOX." + ".".join(parts)
    root = "/srv/mail/user/Maildir"
    try:
        path = names.folder_path(root, name)
    except InvalidMailboxName:
        return
    assert os.path.dirname(path) == root
    assert os.path.basename(path).startswith(".")
    assert os.path.basename(path) not in (".", "..")
    assert names.name_of_dirname(os.path.basename(path)) == names.normalize(name)


def test_escape_keeps_del_raw_as_courier_does() -> None:
    # maildirmake.courier -F $'a\x7fb' makes ".a\177b" (DEL unescaped);
    # normalize() refuses such a name, so our LIST does not show it.
    assert names.escape_component("a\x7fb") == "a\x7fb"


@given(st.lists(level.filter(lambda s: "\x7f" not in s), min_size=1, max_size=4))
def test_escaped_levels_are_always_valid_single_levels(parts: list[str]) -> None:
    escaped = [names.escape_component(p) for p in parts]
    assert names.components(names.from_components(escaped)) == escaped
