"""IMAP keyword files (postillion.maildir.keywords)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postillion.maildir import keywords as kw
from postillion.maildir.folderlock import folder_lock
from postillion.maildir.layout import create_maildir

NOW = 1_795_597_577.0  # an arbitrary fixed clock: generation 5985325
GEN = int(NOW) // 300

keyword_names = st.from_regex(r"[$A-Za-z][A-Za-z0-9_$+-]{0,10}", fullmatch=True)
basenames = st.from_regex(r"1[0-9]{3}\.M[0-9]{1,4}P[0-9]{1,4}\.host,S=[0-9]{1,3}", fullmatch=True)


def make_maildir(tmp_path: Path) -> str:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    return maildir


def kwdir(maildir: str) -> Path:
    return Path(maildir, kw.KEYWORD_DIR)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(basenames, st.lists(keyword_names, min_size=1, max_size=5), max_size=6))
def test_set_then_read_round_trip(tmp_path_factory: pytest.TempPathFactory,
                                  wanted: dict[str, list[str]]) -> None:
    maildir = make_maildir(tmp_path_factory.mktemp("kw"))
    for base, names in wanted.items():
        kw.set_keywords(maildir, base, names, case_sensitive=True)
    first = kw.read_keywords(maildir, case_sensitive=True, now=NOW)
    assert {b: set(n) for b, n in first.items()} == {b: set(n) for b, n in wanted.items()}
    # A second read (from :list and the renamed .N. files) sees the same.
    assert kw.read_keywords(maildir, case_sensitive=True, now=NOW) == first
    # Much later only :list is left, and it still says the same.
    later = NOW + 3600
    assert kw.read_keywords(maildir, case_sensitive=True, now=later) == first
    assert {p.name for p in kwdir(maildir).iterdir()} == ({":list"} if wanted else set())


def test_list_file_format_and_merge(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1", ["$Label1", "foo"])
    kw.set_keywords(maildir, "m2", ["foo", "Bar"])
    result = kw.read_keywords(maildir, now=NOW)
    assert result == {"m1": ("$Label1", "foo"), "m2": ("Bar", "foo")} or result == {
        "m2": ("Bar", "foo"), "m1": ("$Label1", "foo")}
    data = (kwdir(maildir) / ":list").read_bytes()
    header, _, body = data.partition(b"\n\n")
    # Courier's hash order for these three names (seen on a real Courier).
    assert header.split(b"\n") == [b"Bar", b"$Label1", b"foo"]
    assert sorted(body.splitlines()) == [b"m1:1 2", b"m2:0 2"]
    names = sorted(p.name for p in kwdir(maildir).iterdir())
    assert names == [f".{GEN + 1}.m1", f".{GEN + 1}.m2", ":list"]


def test_case_is_folded_and_first_spelling_wins(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1", ["Foo"])
    kw.read_keywords(maildir, now=NOW)
    kw.set_keywords(maildir, "m2", ["FOO", "foo"])
    assert (kwdir(maildir) / "m2").read_bytes() == b"FOO\n"
    assert kw.read_keywords(maildir, now=NOW)["m2"] == ("Foo",)
    assert kw.read_keywords(maildir, case_sensitive=True, now=NOW)["m2"] == ("FOO",)


def test_add_and_remove_are_atomic_updates(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1", ["a"])
    assert kw.update_keywords(maildir, "m1", add=["b", "B"]) == ("a", "b")
    assert kw.update_keywords(maildir, "m1", remove=["A"]) == ("b",)
    assert kw.read_keywords(maildir)["m1"] == ("b",)
    assert not any(p.name.startswith(".tmp.") for p in kwdir(maildir).iterdir())


def test_plus_is_not_an_operator(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1", ["+Hello"])
    assert kw.read_keywords(maildir)["m1"] == ("+Hello",)


def test_newer_generation_overrides_list_and_old_copies_go(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    directory = kwdir(maildir)
    directory.mkdir()
    (directory / ":list").write_bytes(b"old\n\nm1:0\n")
    (directory / f".{GEN - 5}.m1").write_bytes(b"older\n")
    (directory / f".{GEN - 2}.m1").write_bytes(b"newer\n")
    assert kw.read_keywords(maildir, now=NOW)["m1"] == ("newer",)
    assert not (directory / f".{GEN - 5}.m1").exists()
    # The lone remaining old copy is folded into :list and removed next time.
    assert kw.read_keywords(maildir, now=NOW)["m1"] == ("newer",)
    assert sorted(p.name for p in directory.iterdir()) == [":list"]


def test_absent_messages_cleaned_only_when_old(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "gone", ["x"])
    kw.set_keywords(maildir, "here", ["y"])
    for entry in kwdir(maildir).iterdir():
        os.utime(entry, (NOW - 60, NOW - 60))
    result = kw.read_keywords(maildir, ["here:2,S"], now=NOW)
    assert result == {"here": ("y",)}
    assert (kwdir(maildir) / "gone").exists()  # younger than 15 minutes
    assert kw.read_keywords(maildir, ["here"], now=NOW + 16 * 60) == {"here": ("y",)}
    assert not (kwdir(maildir) / "gone").exists()
    assert b"gone" not in (kwdir(maildir) / ":list").read_bytes()


def test_imap_forbidden_characters_are_replaced_on_read(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1", ["a b", "c(d"])
    assert kw.read_keywords(maildir, forbidden=kw.IMAP_FORBIDDEN)["m1"] == ("a_b", "c_d")


@pytest.mark.parametrize("bad", ["", "a\nb", "a\0b"])
def test_unstorable_keywords_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(kw.InvalidKeyword):
        kw.set_keywords(make_maildir(tmp_path), "m1", [bad])


@pytest.mark.parametrize("bad", ["", "a/b", "../x", ".5.x", ":list", "\0"])
def test_bad_message_names_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(kw.InvalidMessageName):
        kw.set_keywords(make_maildir(tmp_path), bad, ["x"])


def test_flags_suffix_is_ignored(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    kw.set_keywords(maildir, "m1:2,S", ["x"])
    assert (kwdir(maildir) / "m1").exists()


def test_dot_lock_is_taken_and_released(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    lock = Path(maildir, "tmp", "courier.lock")
    with folder_lock(maildir):
        assert lock.read_bytes().startswith(f"{os.getpid()}:".encode())
    assert not lock.exists()


def test_stale_dot_lock_of_dead_process_is_broken(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path)
    lock = Path(maildir, "tmp", "courier.lock")
    lock.write_bytes(f"999999999:{socket.gethostname()}".encode())
    with folder_lock(maildir):
        assert lock.read_bytes().startswith(f"{os.getpid()}:".encode())
