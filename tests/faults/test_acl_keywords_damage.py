"""Damaged ACL and keyword files: a clear outcome, never a crash, never wider access."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postillion.maildir import acl as aclmod
from postillion.maildir import keywords as kw
from postillion.maildir.errors import CorruptControlFile
from postillion.maildir.layout import create_maildir
from postillion.tools import maildiracl

GOOD_ACL = b"owner aceilrstwx\nadministrators aceilrstwx\nuser=bob lr\n-user=eve r\nanyone l\n"


def make_folder(tmp_path: Path) -> str:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    create_maildir(os.path.join(maildir, ".Work"), folder=True)
    return maildir


def write_acl_file(maildir: str, data: bytes) -> None:
    Path(maildir, ".Work", "courierimapacl").write_bytes(data)


@pytest.mark.parametrize("junk", [
    b"user=bob lr\r\n",            # DOS line end: Courier ignores the line
    b"user=mallory\tlrwx\n",       # TAB instead of space
    b"user=mallory lr wx\n",       # space inside the rights
    b"\x00\x01\x02binary\xff\n",   # binary junk
    b" lrwx\n",                    # empty identifier
    b"user=mallory " + b"l" * 9000 + b"\n",  # longer than Courier's buffer
])
def test_bad_positive_line_is_ignored_and_grants_nothing(tmp_path: Path, junk: bytes) -> None:
    maildir = make_folder(tmp_path)
    write_acl_file(maildir, GOOD_ACL + junk)
    acl = aclmod.read_acl(maildir, "INBOX.Work")
    assert aclmod.rights_for(acl, "mallory") == "l"   # only "anyone l"
    assert aclmod.rights_for(acl, "bob") == "lr"
    assert aclmod.rights_for(acl, "eve") == "l"


@pytest.mark.parametrize("junk", [b"-user=eve lr\r\n", b"-user=eve l r\n", b"-user=\x01 r\n",
                                  b"-anyone " + b"r" * 9000 + b"\n"])
def test_bad_negative_line_refuses_the_acl(tmp_path: Path, junk: bytes) -> None:
    maildir = make_folder(tmp_path)
    write_acl_file(maildir, GOOD_ACL + junk)
    with pytest.raises(CorruptControlFile) as corrupt:
        aclmod.read_acl(maildir, "INBOX.Work")
    assert corrupt.value.path.endswith("courierimapacl")
    assert "line 6" in corrupt.value.reason


def test_truncated_acl_file_keeps_complete_lines(tmp_path: Path) -> None:
    maildir = make_folder(tmp_path)
    write_acl_file(maildir, GOOD_ACL[: GOOD_ACL.index(b"-user=eve") + 5])
    # The cut left "-user": a well-formed negative entry with no rights,
    # which Courier reads the same way (nothing revoked).
    acl = aclmod.read_acl(maildir, "INBOX.Work")
    assert acl.lookup("user=bob") == "lr"
    assert acl.lookup("-user") == ""


def test_corrupt_acl_reported_by_maildiracl(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    maildir = make_folder(tmp_path)
    write_acl_file(maildir, GOOD_ACL + b"-user=eve r\r\n")
    assert maildiracl.main(["-list", maildir, "INBOX.Work"]) == 1
    assert "courierimapacl: line 6: unreadable negative entry" in capsys.readouterr().err


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_acl_bytes_never_crash_or_widen(tmp_path_factory: pytest.TempPathFactory,
                                               data: bytes) -> None:
    maildir = make_folder(tmp_path_factory.mktemp("acl"))
    write_acl_file(maildir, data)
    try:
        acl = aclmod.read_acl(maildir, "INBOX.Work")
    except CorruptControlFile:
        return
    # Every entry that survived is one a well-formed line says.
    lines = set(data.split(b"\n"))
    for entry in acl.entries:
        if entry.identifier in ("administrators", "group=administrators"):
            continue
        raw_id = entry.identifier.encode("utf-8", "surrogateescape")
        assert any(line.startswith(raw_id + b" ") or line == raw_id for line in lines)


# -- keywords -----------------------------------------------------------------------


def make_maildir(tmp_path: Path) -> str:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    os.mkdir(os.path.join(maildir, kw.KEYWORD_DIR))
    return maildir


def test_corrupt_list_lines_ignored_others_kept(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    Path(maildir, kw.KEYWORD_DIR, ":list").write_bytes(
        b"foo\nbar\n\nm1:0 1\nno colon here\nm2:7 -3 1\x00junk\nm3:1\n\xff\xfe:0\n")
    result = kw.read_keywords(maildir, ["m1", "m2", "m3"])
    # A NUL ends a line (C strings), index 7 is out of range, -3 is not one.
    assert result == {"m1": ("bar", "foo"), "m2": ("bar",), "m3": ("bar",)}
    # The merge rewrote :list without the junk lines.
    assert Path(maildir, kw.KEYWORD_DIR, ":list").read_bytes() == (
        b"bar\nfoo\n\nm1:0 1\nm2:0\nm3:0\n")


def test_truncated_list_loses_nothing_else(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    Path(maildir, kw.KEYWORD_DIR, ":list").write_bytes(b"foo\nbar\n\nm1:0 1\nm2:")
    kw.set_keywords(maildir, "m3", ["new"])
    result = kw.read_keywords(maildir)
    assert result["m1"] == ("bar", "foo")
    assert result["m3"] == ("new",)
    assert result.get("m2", ()) == ()


def test_list_header_only_is_harmless(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    Path(maildir, kw.KEYWORD_DIR, ":list").write_bytes(b"foo\nbar")
    kw.set_keywords(maildir, "m1", ["x"])
    assert kw.read_keywords(maildir) == {"m1": ("x",)}


def test_binary_update_file_read_as_names_without_crash(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1", ["keep"])
    Path(maildir, kw.KEYWORD_DIR, "m2").write_bytes(b"\xff\xfeok\x00junk\nsecond\n\nignored\n")
    result = kw.read_keywords(maildir)
    assert result["m1"] == ("keep",)
    assert result["m2"] == ("second", "\udcff\udcfeok")


def test_unreadable_update_file_is_skipped(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1", ["keep"])
    kw.read_keywords(maildir)
    os.mkdir(os.path.join(maildir, kw.KEYWORD_DIR, "m2"))  # a directory, not a file
    assert kw.read_keywords(maildir)["m1"] == ("keep",)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_list_bytes_never_crash(tmp_path_factory: pytest.TempPathFactory,
                                       data: bytes) -> None:
    maildir = make_maildir(tmp_path_factory.mktemp("kw"))
    Path(maildir, kw.KEYWORD_DIR, ":list").write_bytes(data)
    kw.set_keywords(maildir, "fresh", ["mine"])
    result = kw.read_keywords(maildir)
    assert result["fresh"] == ("mine",)
    assert kw.read_keywords(maildir)["fresh"] == ("mine",)
