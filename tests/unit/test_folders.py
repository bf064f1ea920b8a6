"""Folders: LIST data, CREATE/DELETE/RENAME as Courier's imapd does them, message files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postillion.maildir import delivery, folders
from postillion.maildir.errors import (
    InvalidMailboxName,
    MailboxExists,
    MailboxNotFound,
    MessageNotFound,
    PermissionDenied,
)
from postillion.maildir.folders import FolderInfo, Maildir, in_file_order, message_file, order_key
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"


@pytest.fixture
def md(tmp_path: Path) -> Maildir:
    root = str(tmp_path / "Maildir")
    create_maildir(root)
    return Maildir(root)


def entries(md: Maildir) -> list[str]:
    return sorted(e for e in os.listdir(md.root) if e.startswith("."))


def test_fresh_maildir_lists_inbox_only(md: Maildir) -> None:
    assert md.list_folders() == [FolderInfo("INBOX", True, False)]


def test_create_makes_only_the_leaf(md: Maildir) -> None:
    md.create("INBOX.A.B")
    assert entries(md) == [".A.B"]
    leaf = Path(md.root, ".A.B")
    assert sorted(os.listdir(leaf)) == ["cur", "maildirfolder", "new", "tmp"]
    assert (leaf / "maildirfolder").stat().st_size == 0
    assert oct((leaf / "maildirfolder").stat().st_mode & 0o777) == "0o600"
    assert oct(leaf.stat().st_mode & 0o777) == "0o700"
    assert md.list_folders() == [
        FolderInfo("INBOX", True, True),
        FolderInfo("INBOX.A", False, True),  # virtual parent: \Noselect \HasChildren
        FolderInfo("INBOX.A.B", True, False),
    ]
    assert os.listdir(Path(md.root, "tmp")) == []


def test_create_refuses_existing_inbox_and_bad_names(md: Maildir) -> None:
    md.create("INBOX.Sent")
    with pytest.raises(MailboxExists):
        md.create("INBOX.Sent")
    with pytest.raises(MailboxExists):
        md.create("inbox")
    for bad in ("INBOX.x/y", "INBOX..", "INBOX.a\0b", "Sent", "INBOX.A..B"):
        with pytest.raises(InvalidMailboxName):
            md.create(bad)
    assert entries(md) == [".Sent"]


def test_listing_ignores_non_maildirs_and_odd_entries(md: Maildir) -> None:
    md.create("INBOX.Real")
    os.mkdir(os.path.join(md.root, ".NotAMaildir"))
    os.mkdir(os.path.join(md.root, "..Odd"))
    Path(md.root, ".afile").write_text("x")
    assert [f.name for f in md.list_folders()] == ["INBOX", "INBOX.Real"]


def test_has_children(md: Maildir) -> None:
    md.create("INBOX.A")
    md.create("INBOX.A.B")
    md.create("INBOX.C")
    assert md.has_children("INBOX")
    assert md.has_children("INBOX.A")
    assert not md.has_children("INBOX.A.B")
    assert not md.has_children("INBOX.C")
    infos = {f.name: f for f in md.list_folders()}
    assert infos["INBOX.A"] == FolderInfo("INBOX.A", True, True)
    assert infos["INBOX.C"] == FolderInfo("INBOX.C", True, False)


def test_delete_keeps_children_as_courier(md: Maildir) -> None:
    md.create("INBOX.A")
    md.create("INBOX.A.B")
    delivery.deliver(md.path("INBOX.A"), MESSAGE)
    md.delete("INBOX.A")
    assert entries(md) == [".A.B"]
    assert FolderInfo("INBOX.A", False, True) in md.list_folders()
    assert os.listdir(os.path.join(md.root, "tmp")) == []


def test_delete_refusals(md: Maildir) -> None:
    md.create("INBOX.C.D")
    with pytest.raises(PermissionDenied):
        md.delete("INBOX")
    with pytest.raises(MailboxNotFound):
        md.delete("INBOX.C")  # a virtual parent: Courier says it does not exist
    with pytest.raises(MailboxNotFound):
        md.delete("INBOX.Nope")
    with pytest.raises(InvalidMailboxName):
        md.delete("INBOX.../x")


def test_rename_moves_children(md: Maildir) -> None:
    for name in ("INBOX.A", "INBOX.A.B", "INBOX.A.B.C", "INBOX.AB"):
        md.create(name)
    delivery.deliver(md.path("INBOX.A.B"), MESSAGE)
    done = md.rename("INBOX.A", "INBOX.Z")
    assert sorted(done) == [("INBOX.A", "INBOX.Z"), ("INBOX.A.B", "INBOX.Z.B"),
                            ("INBOX.A.B.C", "INBOX.Z.B.C")]
    assert entries(md) == [".AB", ".Z", ".Z.B", ".Z.B.C"]
    assert len(os.listdir(os.path.join(md.root, ".Z.B", "new"))) == 1


def test_rename_of_a_virtual_parent_moves_its_children(md: Maildir) -> None:
    md.create("INBOX.C.D")
    md.rename("INBOX.C", "INBOX.Y")
    assert entries(md) == [".Y.D"]


def test_rename_to_a_name_with_only_children_is_allowed(md: Maildir) -> None:
    md.create("INBOX.A")
    md.create("INBOX.E.F")
    md.rename("INBOX.A", "INBOX.E")
    assert entries(md) == [".E", ".E.F"]


def test_rename_checks_every_target_first(md: Maildir) -> None:
    for name in ("INBOX.A", "INBOX.A.B", "INBOX.A.C", "INBOX.X.C"):
        md.create(name)
    with pytest.raises(MailboxExists):
        md.rename("INBOX.A", "INBOX.X")
    assert entries(md) == [".A", ".A.B", ".A.C", ".X.C"]


def test_rename_refusals(md: Maildir) -> None:
    md.create("INBOX.A")
    md.create("INBOX.C")
    with pytest.raises(MailboxExists):
        md.rename("INBOX.A", "INBOX.C")
    with pytest.raises(InvalidMailboxName):
        md.rename("INBOX.A", "INBOX.A.X")
    with pytest.raises(PermissionDenied):
        md.rename("INBOX", "INBOX.Q")  # Courier: "INBOX rename not implemented."
    with pytest.raises(MailboxExists):
        md.rename("INBOX.A", "INBOX")
    with pytest.raises(MailboxNotFound):
        md.rename("INBOX.Nope", "INBOX.Q")
    assert entries(md) == [".A", ".C"]


def test_messages_and_new_to_cur(md: Maildir) -> None:
    first = os.path.basename(delivery.deliver(md.root, MESSAGE))
    second = os.path.basename(delivery.deliver(md.root, MESSAGE, flags="S"))
    listed = md.messages("INBOX")
    assert {(m.subdir, m.filename, m.flags, m.size) for m in listed} == {
        ("new", first, "", len(MESSAGE)), ("cur", second, "S", len(MESSAGE))}
    assert md.move_new_to_cur("INBOX") == [(first, first + ":2,")]
    assert sorted(os.listdir(os.path.join(md.root, "cur"))) == sorted([first + ":2,", second])


def test_set_flags_and_finding_a_renamed_file(md: Maildir) -> None:
    path = delivery.deliver(md.root, MESSAGE, flags="")
    name = os.path.basename(path)
    renamed = md.set_flags("INBOX", name, "S")
    assert renamed.endswith(":2,S")
    # Another process changed the flags meanwhile: our old name is stale.
    os.rename(os.path.join(md.root, "cur", renamed),
              os.path.join(md.root, "cur", renamed[:-1] + "FS"))
    again = md.set_flags("INBOX", renamed, "RS")
    assert again.endswith(":2,RS")
    assert os.listdir(os.path.join(md.root, "cur")) == [again]


def test_set_flags_on_a_message_still_in_new(md: Maildir) -> None:
    name = os.path.basename(delivery.deliver(md.root, MESSAGE))
    done = md.set_flags("INBOX", name, "F")
    assert done == name + ":2,F"
    assert os.listdir(os.path.join(md.root, "new")) == []


def test_set_flags_on_a_vanished_message(md: Maildir) -> None:
    path = delivery.deliver(md.root, MESSAGE, flags="")
    os.unlink(path)
    with pytest.raises(MessageNotFound):
        md.set_flags("INBOX", os.path.basename(path), "S")


def test_messages_of_missing_folder(md: Maildir) -> None:
    with pytest.raises(MailboxNotFound):
        md.messages("INBOX.Nope")


def test_order_key_is_time_then_bytes() -> None:
    names = ["100.b", "99.z", "100.a:2,S", "x"]
    assert sorted(names, key=order_key) == ["x", "99.z", "100.a:2,S", "100.b"]


# Names as they come: delivery times of one width (the fast path), of
# several widths, with leading zeros, none at all, non-ASCII and
# undecodable bytes (surrogate escapes), flags or not.
_heads = st.sampled_from(["1726477593", "999999999", "0001726477", "17", "", "1726477594"])
_tails = st.text(st.sampled_from("._-,=MPVIabcz09\u00e9\udcff"), max_size=6)
_names = st.builds(lambda head, tail, info: head + tail + info, _heads, _tails,
                   st.sampled_from(["", ":2,", ":2,S", ":2,FS"]))


@settings(max_examples=600, deadline=None)
@given(st.lists(_names, max_size=12, unique_by=lambda n: n.split(":")[0]),
       st.booleans(), st.booleans())
def test_in_file_order_is_order_key_order(names: list[str], one_width: bool,
                                          listed_sorted: bool) -> None:
    if one_width:
        names = ["1726477593" + n.lstrip("0123456789") for n in names]
        names = list({n.split(":")[0]: n for n in names}.values())
    if listed_sorted:
        names.sort()  # as a first listing reads cur/
    files = [message_file("cur", n) for n in names]
    assert in_file_order(files) == sorted(files, key=lambda f: order_key(f.filename))


def test_a_listing_resolves_names_seen_twice(md: Maildir) -> None:
    """One record per base name from a listing in which a move from new/
    to cur/ or a flag rename raced the reads: cur/ wins over new/, and of
    two names in cur/ the one still on disk; names starting with a dot
    are not messages."""
    root = md.root
    moved = os.path.basename(delivery.deliver(root, MESSAGE))
    os.rename(os.path.join(root, "new", moved), os.path.join(root, "cur", moved + ":2,S"))
    renamed = os.path.basename(delivery.deliver(root, MESSAGE, flags="F"))
    plain = os.path.basename(delivery.deliver(root, MESSAGE, flags="S"))
    base = renamed.split(":")[0]
    in_both = folders._full_snapshot(root, [moved], [plain, renamed, moved + ":2,S", ".hidden"])
    twice_in_cur = folders._full_snapshot(root, [], [plain, renamed, f"{base}:2,FS",
                                                     moved + ":2,S"])
    plain_listing = folders._full_snapshot(root, [], [plain, renamed, moved + ":2,S"])
    want = {moved: ("cur", moved + ":2,S"), base: ("cur", renamed),
            plain.split(":")[0]: ("cur", plain)}
    for (found, unresolved, _twice) in (in_both, twice_in_cur, plain_listing):
        assert {b: (f.subdir, f.filename) for b, f in found.items()} == want
        assert not unresolved
        assert found[base] == message_file("cur", renamed)
    assert (in_both[2], twice_in_cur[2], plain_listing[2]) == ({moved}, {base}, set())


@pytest.mark.parametrize(("name", "size"), [
    ("1700000000.M1P2.host,S=1234:2,S", 1234), ("1700000000.M1P2.host,S=1234", 1234),
    ("1700000000.M1P2.host,S=5,W=9:2,", 5), ("odd:name,S=5:2,S", 5),
    ("odd,S=12:name:2,S", 12), ("1700000000.M1P2.host:2,F", None)])
def test_the_size_in_a_listed_name(name: str, size: int | None) -> None:
    # Read from ",S=" of the base name (all before the last colon), when asked.
    assert message_file("cur", name).size == size
