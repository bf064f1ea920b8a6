"""Courier's userdb text file as the account backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from postillion.auth import open_backend
from postillion.auth.hmacstate import precompute
from postillion.auth.passwords import make_password
from postillion.auth.userdb import UserdbBackend, parse_fields, read_userdb

# The lines Courier's userdb tool wrote in the reference run (section 1).
REFERENCE = (
    "paul\tsystempw=$1$Bxl.6aXq$okRYFiXT2f4XWi7.9wGHV0|mail=/P/home/paul/Maildir|gid=995|"
    "hmac-md5pw=5d5be0f5df1a3f29496a71c2e9f54366cd0d4d68f0721a6dbcf066c6b9394bde|"
    "home=/P/home/paul|uid=999\n"
    "tux\tmail=/P/home/tux/Maildir|gid=995|systempw=lGw8eQ0hff7QQ|uid=999|home=/P/home/tux\n"
    "eve\thome=/P/home/eve|uid=999|options=group=staff|systempw=$1$dgj.6r2E$lKl01sKiqQOod7cTl"
    "oSej1|gid=995|mail=/P/home/eve/Maildir\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_reference_file_accounts(tmp_path: Path) -> None:
    backend = UserdbBackend(write(tmp_path / "userdb", REFERENCE))
    eve = backend.lookup("eve")
    assert eve is not None
    assert (eve.uid, eve.gid, eve.home, eve.maildir) == (999, 995, "/P/home/eve",
                                                         "/P/home/eve/Maildir")
    assert eve.options.groups == ("staff",)
    assert str(eve.options) == "group=staff"
    assert [a.login for a in backend.enumerate()] == ["paul", "tux", "eve"]
    assert backend.cram_secret("imap", "paul", "md5") == \
        "5d5be0f5df1a3f29496a71c2e9f54366cd0d4d68f0721a6dbcf066c6b9394bde"
    assert backend.cram_secret("imap", "tux", "md5") is None
    assert backend.lookup("nosuch") is None


def test_fields_split_at_the_first_equals_sign_in_any_order() -> None:
    assert parse_fields("options=group=a,group=b|uid=1|flag") == {
        "options": "group=a,group=b", "uid": "1", "flag": ""}
    assert parse_fields("uid=1|uid=2") == {"uid": "1"}


def test_passwords_and_service_passwords(tmp_path: Path) -> None:
    system = make_password("syspw", "md5")
    imap = make_password("imappw", "sha512")
    path = write(tmp_path / "userdb",
                 f"u\tuid=1|gid=2|home=/h|systempw={system}|imappw={imap}\n")
    backend = UserdbBackend(path)
    assert backend.authenticate("imap", "u", "imappw") is not None
    assert backend.authenticate("imap", "u", "syspw") is None
    assert backend.authenticate("pop3", "u", "syspw") is not None
    assert backend.authenticate("pop3", "u", "imappw") is None
    assert backend.authenticate("imap", "nosuch", "imappw") is None


def test_required_fields_and_default_maildir(tmp_path: Path) -> None:
    path = write(tmp_path / "userdb",
                 "# comment\n"
                 "nohome\tuid=1|gid=1|systempw=x\n"
                 "nogid\tuid=1|home=/h\n"
                 "notab uid=1|gid=1|home=/h\n"
                 "\n"
                 "rel\tuid=7x|gid=8|home=/home/rel|mail=Mail/box|quota=1000S\n"
                 "plain\tuid=1|gid=1|home=/home/plain\n")
    backend = UserdbBackend(path)
    assert [a.login for a in backend.enumerate()] == ["rel", "plain"]
    rel = backend.lookup("rel")
    assert rel is not None and rel.maildir == "/home/rel/Mail/box"
    assert (rel.uid, rel.quota) == (7, "1000S")
    plain = backend.lookup("plain")
    assert plain is not None and plain.maildir == "/home/plain/Maildir" and plain.quota is None
    assert UserdbBackend(path, default_maildir="Mail").lookup("plain").maildir == \
        "/home/plain/Mail"  # type: ignore[union-attr]
    # An account without a password cannot log in.
    assert backend.authenticate("imap", "plain", "") is None


def test_edits_take_effect_without_restart(tmp_path: Path) -> None:
    path = write(tmp_path / "userdb", "a\tuid=1|gid=1|home=/a\n")
    backend = UserdbBackend(path)
    assert backend.lookup("b") is None
    write(path, "a\tuid=1|gid=1|home=/a\nb\tuid=2|gid=2|home=/bb\n")
    os.utime(path, ns=(1, 1))  # a different mtime even within one clock tick
    b = backend.lookup("b")
    assert b is not None and b.home == "/bb"
    path.unlink()
    assert backend.lookup("a") is None


def test_directory_of_files(tmp_path: Path) -> None:
    root = tmp_path / "userdb"
    (root / "example.com").mkdir(parents=True)
    write(root / "local", "a\tuid=1|gid=1|home=/a\n")
    write(root / "example.com" / "users", "b@example.com\tuid=2|gid=2|home=/b\n")
    write(root / ".hidden", "c\tuid=3|gid=3|home=/c\n")
    write(root / "zz-dup", "a\tuid=9|gid=9|home=/other\n")
    records = read_userdb(root)
    assert sorted(records) == ["a", "b@example.com"]
    assert records["b@example.com"].source == "example.com/users"
    backend = UserdbBackend(root)
    assert backend.lookup("a").home == "/a"  # type: ignore[union-attr]
    write(root / "example.com" / "more", "d\tuid=4|gid=4|home=/d\n")
    assert backend.lookup("d") is not None


def test_service_specific_cram_secret(tmp_path: Path) -> None:
    general, imap = precompute("sha256", b"general"), precompute("sha256", b"imap")
    path = write(tmp_path / "userdb",
                 f"u\tuid=1|gid=1|home=/u|hmac-sha256pw={general}|imap-hmac-sha256pw={imap}\n")
    backend = UserdbBackend(path)
    assert backend.cram_secret("imap", "u", "sha256") == imap
    assert backend.cram_secret("pop3", "u", "sha256") == general
    assert backend.cram_secret("pop3", "u", "md5") is None


def test_options_and_disabled_services(tmp_path: Path) -> None:
    path = write(tmp_path / "userdb",
                 "u\tuid=1|gid=1|home=/u|options=group=dev,group=staff,sharedgroup=example.com,"
                 "disableimap=1,disablepop3=0,disableinsecurepop3,mailhost=mx2,custom=a=b\n")
    account = UserdbBackend(path).lookup("u")
    assert account is not None
    assert account.options.groups == ("dev", "staff")
    assert account.options.sharedgroup == "example.com"
    assert account.options.mailhost == "mx2"
    assert not account.options.disableshared
    assert account.options.as_dict()["custom"] == "a=b"
    assert account.disabled_for("imap")
    assert not account.disabled_for("pop3")
    assert account.disabled_for("pop3", secure=False)


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("0", False), ("", True), ("yes", True), ("true", True), ("no", False),
    ("2", True), ("x", False),
])
def test_numeric_options_read_as_courier_reads_them(value: str, expected: bool) -> None:
    from postillion.auth.account import AccountOptions
    text = "disableshared" if value == "" else f"disableshared={value}"
    assert AccountOptions.parse(text).disableshared is expected


def test_open_backend(tmp_path: Path) -> None:
    path = write(tmp_path / "userdb", "a\tuid=1|gid=1|home=/a\n")
    assert open_backend(f"userdb:{path}").lookup("a") is not None
    with pytest.raises(ValueError):
        open_backend("ldap:whatever")


def test_secrets_never_appear_in_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    stored = make_password("hunter2", "md5")
    path = write(tmp_path / "userdb",
                 f"a\tuid=1|gid=1|home=/a|systempw={stored}\na\tuid=2|gid=1|home=/b\n")
    backend = UserdbBackend(path)
    with caplog.at_level("DEBUG"):
        backend.authenticate("imap", "a", "hunter3")
        backend.authenticate("imap", "zz", "hunter3")
    assert "hunter" not in caplog.text
    assert stored not in caplog.text
