"""ACL files and rights evaluation (postillion.maildir.acl)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postillion.maildir import acl as aclmod
from postillion.maildir.acl import Acl, AclEntry
from postillion.maildir.errors import InvalidMailboxName
from postillion.maildir.layout import create_maildir

RIGHT_LETTERS = "acdeiklmnpqrstwxyz"

identifiers = st.one_of(
    st.sampled_from(["owner", "anyone", "anonymous", "authuser", "administrators",
                     "group=administrators", "user=bob", "user=eve", "group=staff"]),
    st.from_regex(r"(user|group)=[a-z0-9.]{1,8}", fullmatch=True),
)
signed_identifiers = st.builds(lambda neg, ident: ("-" if neg else "") + ident,
                               st.booleans(), identifiers)
rights = st.text(alphabet=RIGHT_LETTERS, max_size=8)


def make_maildir(tmp_path: Path, *folders: str) -> str:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    for folder in folders:
        create_maildir(os.path.join(maildir, "." + folder), folder=True)
    return maildir


# -- file format ------------------------------------------------------------


@given(st.lists(st.tuples(signed_identifiers, rights), max_size=12))
def test_parse_of_written_bytes_gives_the_same_acl(pairs: list[tuple[str, str]]) -> None:
    acl = Acl()
    for identifier, letters in pairs:
        acl = acl.with_rights(identifier, letters)
    assert Acl.parse(acl.to_bytes()) == acl


@given(rights)
def test_rights_are_stored_sorted_without_duplicates(letters: str) -> None:
    stored = aclmod.normalize_rights(letters)
    assert list(stored) == sorted(set(letters))


def test_file_format_single_space_and_empty_rights_kept() -> None:
    acl = Acl().with_rights("owner", "xwtsrlieca").with_rights("group=staff", "")
    assert acl.to_bytes() == b"owner aceilrstwx\ngroup=staff \n"
    assert Acl.parse(b"group=staff \n").lookup("group=staff") == ""


def test_later_line_replaces_earlier_in_place() -> None:
    acl = Acl.parse(b"user=bob r\nanyone l\nuser=bob w\n")
    assert acl.entries == (AclEntry("user=bob", "w"), AclEntry("anyone", "l"))


def test_default_acl_and_admin_fixup() -> None:
    assert aclmod.DEFAULT_ACL.to_bytes() == b"owner aceilrstwx\nadministrators aceilrstwx\n"
    fixed = Acl.parse(b"owner aceilrstwx\ngroup=administrators r\n-administrators l\n")
    fixed = fixed.with_default_admin()
    assert fixed.lookup("group=administrators") == "aceilrstwx"
    assert fixed.lookup("administrators") is None
    assert fixed.lookup("-administrators") is None


@pytest.mark.parametrize("bad", ["", "user=a b", "user=\tx", "user=\x01"])
def test_invalid_identifiers_refused(bad: str) -> None:
    with pytest.raises(aclmod.InvalidAclEntry):
        Acl().with_rights(bad, "l")


@pytest.mark.parametrize("bad", ["lr x", "l\r", "l\n"])
def test_invalid_rights_refused(bad: str) -> None:
    with pytest.raises(aclmod.InvalidAclEntry):
        aclmod.set_entry(Acl(), "user=bob", bad)


# -- evaluation ---------------------------------------------------------------


def naive_rights(data: bytes, ids: set[str], owner: bool) -> str:
    """An independent reading of the rules: union of positives minus negatives."""
    entries = [line.split(" ", 1) for line in data.decode().splitlines()]
    table = dict(entries)
    admin = {"administrators", "group=administrators"}

    def applies(ident: str) -> bool:
        if ident in ("anyone", "anonymous"):
            return True
        if ident in admin:
            return bool(ids & admin)
        return ident in ids

    plus = {c for ident, r in table.items() if not ident.startswith("-") and applies(ident)
            for c in r}
    minus = {c for ident, r in table.items() if ident.startswith("-") and applies(ident[1:])
             for c in r}
    result = plus - minus
    if owner:
        result.add("a")
    return "".join(sorted(result))


operations = st.lists(
    st.tuples(st.sampled_from(["set", "delete"]), signed_identifiers,
              st.one_of(rights, rights.map(lambda r: "+" + r), rights.map(lambda r: "-" + r))),
    max_size=15)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations, st.sampled_from(["INBOX", "INBOX.Work", "INBOX.Virtual.Kid"]))
def test_set_and_delete_sequences_match_direct_evaluation(
        tmp_path_factory: pytest.TempPathFactory,
        ops: list[tuple[str, str, str]], folder: str) -> None:
    maildir = make_maildir(tmp_path_factory.mktemp("acl"), "Work")
    for action, identifier, letters in ops:
        try:
            if action == "set":
                aclmod.set_rights(maildir, folder, identifier, letters)
            else:
                aclmod.delete_entry(maildir, folder, identifier)
        except aclmod.AclChangeRefused:
            continue
    acl = aclmod.read_acl(maildir, folder)
    path = aclmod.acl_file_path(maildir, folder)
    if not os.path.exists(path) and folder != "INBOX":
        path = aclmod.hieracl_path(maildir, folder)
    data = Path(path).read_bytes() if os.path.exists(path) else aclmod.DEFAULT_ACL.to_bytes()
    assert Acl.parse(data).with_default_admin() == acl
    accounts = [("bob", "", False), ("eve", "group=staff", False), ("paul", "", True),
                ("root", "group=dev,group=administrators", False)]
    for login, options, is_owner in accounts:
        ids = set(aclmod.identities(login, options, owner_login=login if is_owner else None))
        got = aclmod.rights_for(acl, login, options, owner_login=login if is_owner else None)
        assert got == naive_rights(acl.to_bytes(), ids, is_owner)


@given(st.lists(st.tuples(signed_identifiers, rights), max_size=10), st.randoms())
def test_entry_order_does_not_change_rights(pairs: list[tuple[str, str]],
                                            rnd: random.Random) -> None:
    acl = Acl()
    for identifier, letters in pairs:
        acl = acl.with_rights(identifier, letters)
    shuffled = list(acl.entries)
    rnd.shuffle(shuffled)
    other = Acl(tuple(shuffled))
    for ids in ({"user=bob"}, {"user=eve", "group=staff"}, {"owner"}, {"administrators"}):
        assert aclmod.compute(acl, ids.__contains__) == aclmod.compute(other, ids.__contains__)


def test_negative_entries_win_over_positive_ones() -> None:
    acl = Acl.parse(b"-user=eve r\nanyone lr\nuser=eve w\n")
    assert aclmod.rights_for(acl, "eve") == "lw"
    assert aclmod.rights_for(acl, "bob") == "lr"


def test_groups_come_from_options_every_one_of_them() -> None:
    acl = Acl.parse(b"owner aceilrstwx\ngroup=staff ilrw\ngroup=vmail lr\n")
    assert aclmod.rights_for(acl, "eve", "group=dev,group=staff") == "ilrw"
    assert aclmod.rights_for(acl, "eve", "sharedgroup=staff") == ""
    assert aclmod.rights_for(acl, "eve", ["group=staff"]) == "ilrw"


def test_administrators_and_group_administrators_are_one() -> None:
    acl = Acl.parse(b"owner aceilrstwx\n").with_default_admin()
    assert aclmod.rights_for(acl, "root", "group=administrators") == "aceilrstwx"
    assert aclmod.compute(acl, {"administrators"}.__contains__) == "aceilrstwx"


def test_authuser_is_stored_but_never_matched() -> None:
    acl = Acl.parse(b"authuser lr\n-authuser l\n")
    assert aclmod.rights_for(acl, "bob") == ""


def test_owner_always_gets_administer() -> None:
    acl = Acl.parse(b"owner lr\n")
    assert aclmod.rights_for(acl, "paul", owner_login="paul") == "alr"
    assert aclmod.rights_for(acl, "bob", owner_login="paul") == ""


# -- checks before writing ----------------------------------------------------


def test_owner_must_keep_lookup_and_administer(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path, "Work")
    with pytest.raises(aclmod.AclChangeRefused) as refused:
        aclmod.set_rights(maildir, "INBOX.Work", "owner", "-a")
    assert refused.value.identifier == "owner"
    with pytest.raises(aclmod.AclChangeRefused):
        aclmod.set_rights(maildir, "INBOX.Work", "-owner", "l")
    with pytest.raises(aclmod.AclChangeRefused) as admin:
        aclmod.set_rights(maildir, "INBOX.Work", "-administrators", "l")
    assert admin.value.identifier is None


# -- locations ----------------------------------------------------------------


def test_folder_inherits_parent_and_saves_the_copy(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path, "Work", "Work.Kid")
    aclmod.set_rights(maildir, "INBOX.Work", "anyone", "l")
    kid = aclmod.copy_parent_acl(maildir, "INBOX.Work.Kid")
    assert kid.lookup("anyone") == "l"
    assert Path(maildir, ".Work.Kid", "courierimapacl").read_bytes() == (
        b"owner aceilrstwx\nadministrators aceilrstwx\nanyone l\n")


def test_virtual_parent_goes_to_hieracl(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path, "A.B")
    aclmod.set_rights(maildir, "INBOX.A", "user=bob", "lr")
    path = Path(maildir, "courierimaphieracl", "A")
    assert path.read_bytes().endswith(b"user=bob lr\n")
    assert oct(os.stat(path.parent).st_mode & 0o777) == oct(0o755 & ~_umask())
    aclmod.delete_acl_files(maildir, "INBOX.A")
    assert not path.exists()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_inbox_default_is_not_written(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    assert aclmod.read_acl(maildir, "INBOX") == aclmod.DEFAULT_ACL
    assert not Path(maildir, "courierimapacl").exists()


@pytest.mark.parametrize("name", ["INBOX..a", "INBOX.a.", "INBOX.a/b", "INBOX.", "Work",
                                  "INBOX.../x"])
def test_names_that_would_escape_are_refused_without_side_effects(tmp_path: Path,
                                                                  name: str) -> None:
    maildir = make_maildir(tmp_path)
    before = sorted(os.listdir(maildir))
    with pytest.raises(InvalidMailboxName):
        aclmod.read_acl(maildir, name)
    assert sorted(os.listdir(maildir)) == before


def test_reset_keeps_parents_of_existing_folders(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path, "A.B")
    for entry in ("A", "Gone"):
        aclmod.write_acl(maildir, "INBOX." + entry, aclmod.DEFAULT_ACL)
    old = 1_000_000.0
    for entry in os.listdir(os.path.join(maildir, "courierimaphieracl")):
        os.utime(os.path.join(maildir, "courierimaphieracl", entry), (old, old))
    assert aclmod.reset_hieracl(maildir) == ["Gone"]
    assert os.listdir(os.path.join(maildir, "courierimaphieracl")) == ["A"]


def test_reset_leaves_young_entries(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    aclmod.write_acl(maildir, "INBOX.Gone", aclmod.DEFAULT_ACL)
    assert aclmod.reset_hieracl(maildir) == []


# -- IMAP presentation ---------------------------------------------------------


@pytest.mark.parametrize(("disk", "shown"), [
    ("aceilrstwx", "acdilrsw"), ("lr", "lr"), ("elrt", "lr"), ("celrtx", "cdlr"),
    ("lqr", "lqr"), ("", ""),
])
def test_rfc4314_presentation(disk: str, shown: str) -> None:
    assert aclmod.to_rfc4314(disk) == shown


def test_list_extension_shows_partial_delete_letters() -> None:
    assert aclmod.to_list_extension("elrt") == "elrt"
    assert aclmod.to_list_extension("aceilrstwx") == "acdilrsw"


@pytest.mark.parametrize(("given", "stored"), [("lrdc", "celrtx"), ("lr", "lr"), ("d", "etx")])
def test_setacl_d_is_stored_as_etx(given: str, stored: str) -> None:
    assert aclmod.from_rfc4314(given) == stored


def test_setacl_semantics() -> None:
    acl = aclmod.DEFAULT_ACL
    acl = aclmod.apply_setacl(acl, "user=bob", "lrdc")
    assert acl.lookup("user=bob") == "celrtx"
    acl = aclmod.apply_setacl(acl, "user=bob", "+w")
    acl = aclmod.apply_setacl(acl, "user=bob", "-l")
    assert aclmod.to_rfc4314(acl.lookup("user=bob") or "") == "cdrw"
    acl = aclmod.apply_setacl(acl, "user=bob", "-cdrw")
    assert acl.lookup("user=bob") is None


@pytest.mark.parametrize(("imap", "disk"), [
    ("bob", "user=bob"), ("-eve", "-user=eve"), ("anyone", "anyone"),
    ("authuser", "authuser"), ("-owner", "-owner"),
])
def test_identifier_mapping(imap: str, disk: str) -> None:
    assert aclmod.imap_identifier_to_disk(imap) == disk
    assert aclmod.disk_identifier_to_imap(disk) == imap


def test_identifier_with_equals_is_refused() -> None:
    with pytest.raises(aclmod.InvalidAclEntry):
        aclmod.imap_identifier_to_disk("user=bob")
