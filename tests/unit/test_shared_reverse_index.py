"""The reverse ACL index against a brute-force reading of every ACL file.

Grants and revocations go through our calls (``acl.set_rights`` +
``note_acl_change``, as SETACL and maildiracl do) and, behind the index's
back, straight into ``courierimapacl`` files (as Courier's maildiracl or an
editor would).  After every step:

* a normal lookup never shows a folder the ACL files do not grant (a removed
  grant is never shown), and shows exactly the brute-force result as long as
  every change went through our calls;
* a ``verify_all`` lookup always equals the brute force.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postillion.maildir import acl as aclmod
from postillion.maildir import names
from postillion.maildir.sharedacl_index import SharedAclIndex, note_acl_change
from postillion.maildir.sharedindex import SharedTree, load_tree

OWNERS = ("paul", "anna", "geeko")
FOLDERS = ("INBOX", "INBOX.Proj", "INBOX.Proj.Kid", "INBOX.Private")
USERS = (("tux", ""), ("eve", "group=staff"), ("bob", "group=staff,group=dev"),
         ("adm", "group=administrators"), ("paul", ""))
IDENTIFIERS = ("user=tux", "user=eve", "user=bob", "group=staff", "group=dev", "anyone",
               "-user=tux", "-group=staff", "-anyone", "user=paul")
RIGHTS = ("l", "lr", "r", "lrw", "w", "")


def make_maildir(path: Path) -> None:
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)


def build_world(root: Path) -> tuple[SharedTree, str]:
    lines = []
    for owner in OWNERS:
        maildir = root / owner / "Maildir"
        make_maildir(maildir)
        for folder in FOLDERS[1:]:
            make_maildir(Path(names.folder_path(str(maildir), folder)))
        lines.append(f"{owner}\t1000\t1000\t{root / owner}\tMaildir\n")
    lines.append("team\t*\tindex.team\n")
    (root / "index").write_text("".join(lines[:2]) + lines[-1])
    (root / "index.team").write_text(lines[2] + f"paul2\t1\t1\t{root}/paul\n")
    return load_tree(str(root / "index")), str(root / "reverse.json")


def brute_force(tree: SharedTree, login: str, options: str,
                own: str | None) -> set[tuple[str, str]]:
    """Read every ACL file of every owner, Courier's way (own, hieracl, parents)."""
    own_stat = os.stat(own) if own else None
    found = set()
    for account in tree.accounts:
        if not account.available(own_stat):
            continue
        maildir = account.maildir
        subfolders = sorted("INBOX" + entry for entry in os.listdir(maildir)
                            if entry.startswith(".")
                            and os.path.isdir(os.path.join(maildir, entry)))
        folders = ["INBOX", *subfolders]
        for folder in folders:
            name: str | None = folder
            acl = None
            while name is not None and acl is None:
                for path in ([aclmod.acl_file_path(maildir, name)]
                             + ([aclmod.hieracl_path(maildir, name)] if name != "INBOX" else [])):
                    if os.path.exists(path):
                        acl = aclmod.Acl.parse(Path(path).read_bytes()).with_default_admin()
                        break
                name = names.parent_of(name)
            acl = acl or aclmod.DEFAULT_ACL
            ids = aclmod.identities(login, options)
            if account.owner_identifier == f"user={login}":
                ids = ids | {aclmod.OWNER}
            if "l" in aclmod.compute(acl, ids.__contains__):
                found.add((account.folder_name(folder), folder))
    return found


def as_set(results: list) -> set[tuple[str, str]]:  # type: ignore[type-arg]
    return {(r.name, r.folder) for r in results}


def direct_edit(maildir: str, folder: str, identifier: str, rights: str) -> None:
    """Change the folder's own courierimapacl in place, telling nobody."""
    path = aclmod.acl_file_path(maildir, folder)
    try:
        acl = aclmod.Acl.parse(Path(path).read_bytes())
    except FileNotFoundError:
        acl = aclmod.DEFAULT_ACL
    acl = acl.with_rights(identifier, rights) if rights else acl.without(identifier)
    with open(path, "wb") as handle:  # in place: same inode, the directory untouched
        handle.write(acl.to_bytes())


step = st.tuples(st.sampled_from(("api_set", "api_delete", "direct", "direct_unlink")),
                 st.sampled_from(OWNERS), st.sampled_from(FOLDERS),
                 st.sampled_from(IDENTIFIERS), st.sampled_from(RIGHTS))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step, min_size=1, max_size=12))
def test_lookup_matches_brute_force(tmp_path_factory: pytest.TempPathFactory,
                                    steps: list[tuple[str, str, str, str, str]]) -> None:
    root = tmp_path_factory.mktemp("world")
    tree, db_path = build_world(root)
    index = SharedAclIndex(db_path)
    own = str(root / "paul" / "Maildir")
    behind_back = False
    for action, owner, folder, identifier, rights in steps:
        maildir = str(root / owner / "Maildir")
        if action == "api_set":
            try:
                aclmod.set_rights(maildir, folder, identifier, rights)
            except aclmod.AclError:
                continue
            note_acl_change(maildir, db_path)
        elif action == "api_delete":
            try:
                aclmod.delete_entry(maildir, folder, identifier)
            except aclmod.AclError:
                continue
            note_acl_change(maildir, db_path)
        elif action == "direct":
            direct_edit(maildir, folder, identifier, rights)
            behind_back = True
        else:
            path = aclmod.acl_file_path(maildir, folder)
            if os.path.exists(path):
                os.unlink(path)
                behind_back = True
        for login, options in USERS:
            own_maildir = own if login == "paul" else None
            expected = brute_force(tree, login, options, own_maildir)
            fast = as_set(index.lookup(tree, login, options, own_maildir=own_maildir))
            assert fast <= expected, (login, fast - expected)
            if not behind_back:
                assert fast == expected, login
            fresh_instance = SharedAclIndex(db_path)
            assert as_set(fresh_instance.lookup(tree, login, options,
                                                own_maildir=own_maildir)) <= expected
            exact = as_set(index.lookup(tree, login, options, own_maildir=own_maildir,
                                        verify_all=True))
            assert exact == expected, (login, exact ^ expected)


def old(path: str, seconds_ago: int = 3600) -> None:
    """Make a file look untouched for an hour (out of the racy window)."""
    when = os.stat(path).st_mtime - seconds_ago
    os.utime(path, (when, when))


def test_revoked_behind_the_back_never_shown_even_with_same_size(tmp_path: Path) -> None:
    tree, db_path = build_world(tmp_path)
    paul = str(tmp_path / "paul" / "Maildir")
    aclmod.set_rights(paul, "INBOX.Proj", "user=tux", "lr")
    path = aclmod.acl_file_path(paul, "INBOX.Proj")
    old(path)
    index = SharedAclIndex(db_path)
    assert ("#shared.paul.Proj", "INBOX.Proj") in as_set(index.lookup(tree, "tux"))
    # Same length: "user=tux lr" -> "user=tux r " would keep the size; mtime differs.
    data = Path(path).read_bytes().replace(b"user=tux lr\n", b"user=tux rw\n")
    Path(path).write_bytes(data)
    old(path, 1800)
    assert ("#shared.paul.Proj", "INBOX.Proj") not in as_set(index.lookup(tree, "tux"))


def test_index_file_is_versioned_json_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    tree, db_path = build_world(tmp_path)
    paul = str(tmp_path / "paul" / "Maildir")
    aclmod.set_rights(paul, "INBOX.Proj", "anyone", "lr")
    index = SharedAclIndex(db_path)
    assert index.lookup(tree, "tux")
    text = Path(db_path).read_text()
    assert '"format":"postillion-sharedacl"' in text and '"version":1' in text
    Path(db_path).write_text("{garbage")
    again = SharedAclIndex(db_path)
    assert as_set(again.lookup(tree, "tux")) == brute_force(tree, "tux", "", None)
    assert '"version":1' in Path(db_path).read_text()


def test_new_grant_behind_the_back_found_by_verify_all(tmp_path: Path) -> None:
    tree, db_path = build_world(tmp_path)
    index = SharedAclIndex(db_path)
    assert index.lookup(tree, "tux") == []
    anna = str(tmp_path / "anna" / "Maildir")
    direct_edit(anna, "INBOX.Private", "user=tux", "lr")
    found = as_set(index.lookup(tree, "tux", verify_all=True))
    assert found == {("#shared.anna.Private", "INBOX.Private")}
    # Now recorded: a plain lookup shows it too.
    assert as_set(SharedAclIndex(db_path).lookup(tree, "tux")) == found


def test_nested_group_owner_quirk_and_own_maildir(tmp_path: Path) -> None:
    tree, db_path = build_world(tmp_path)
    index = SharedAclIndex(db_path)
    # Courier makes "user=team" the owner of the folders in group "team".
    team = as_set(index.lookup(tree, "team"))
    assert ("#shared.team.geeko", "INBOX") in team
    assert ("#shared.team.paul2.Private", "INBOX.Private") in team
    # paul2 is paul's own maildir: hidden from paul.
    own = str(tmp_path / "paul" / "Maildir")
    aclmod.set_rights(str(tmp_path / "geeko" / "Maildir"), "INBOX", "anyone", "l")
    aclmod.set_rights(own, "INBOX", "anyone", "l")
    note_acl_change(own, db_path)
    note_acl_change(str(tmp_path / "geeko" / "Maildir"), db_path)
    names_seen = {name for name, _ in as_set(index.lookup(tree, "paul", own_maildir=own))}
    # Folders without an ACL file of their own inherit INBOX's "anyone l".
    assert names_seen == {"#shared.team.geeko", "#shared.team.geeko.Proj",
                          "#shared.team.geeko.Proj.Kid", "#shared.team.geeko.Private"}


def test_sharedacl_tool_and_maildiracl_keep_it_current(tmp_path: Path, run_ours) -> None:  # type: ignore[no-untyped-def]
    build_world(tmp_path)
    env = {"POSTILLION_SHAREDACL_INDEX": str(tmp_path / "rev.json"),
           "IMAP_SHAREDINDEXFILE": str(tmp_path / "index")}
    rebuilt = run_ours("sharedacl", "rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert run_ours("sharedacl", "check", env=env).returncode == 0
    paul = tmp_path / "paul" / "Maildir"
    assert run_ours("maildiracl", "-set", paul, "INBOX.Proj", "user=tux", "lr",
                    env=env).returncode == 0
    assert run_ours("sharedacl", "check", env=env).returncode == 0  # maildiracl updated it
    listed = run_ours("sharedacl", "list", "tux", env=env).stdout.decode().splitlines()
    # Proj.Kid has no ACL of its own: it inherits Proj's.
    assert [line.split("\t")[0] for line in listed] == [
        "#shared.paul.Proj", "#shared.paul.Proj.Kid",
        "#shared.team.paul2.Proj", "#shared.team.paul2.Proj.Kid"]
    # Behind the back: check notices, --fix repairs.
    direct_edit(str(paul), "INBOX.Private", "anyone", "l")
    stale = run_ours("sharedacl", "check", env=env)
    assert stale.returncode == 1 and b"stale: " in stale.stdout
    assert run_ours("sharedacl", "check", "--fix", env=env).returncode == 1
    assert run_ours("sharedacl", "check", env=env).returncode == 0


def test_courier_maildiracl_revocation_is_never_shown(tmp_path: Path) -> None:
    from tests.conftest import courier_program

    program = courier_program("maildiracl")
    tree, db_path = build_world(tmp_path)
    paul = str(tmp_path / "paul" / "Maildir")
    subprocess.run([program, "-set", paul, "INBOX.Proj", "user=tux", "lr"], check=True)
    index = SharedAclIndex(db_path)
    assert ("#shared.paul.Proj", "INBOX.Proj") in as_set(index.lookup(tree, "tux"))
    subprocess.run([program, "-delete", paul, "INBOX.Proj", "user=tux"], check=True)
    assert as_set(index.lookup(tree, "tux")) == set()
