"""Courier's message file names: unique names, base names, :2, flags, S= sizes."""

from __future__ import annotations

import os
import re
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postillion.maildir import filenames

DELIVERED = "1795597549.M566915P18890V000000000000FE00I000000000020C721.vm,S=33"


def test_names_have_courier_shape() -> None:
    name = filenames.new_unique_name()
    assert re.fullmatch(r"\d+\.M\d+P\d+\.[^/:]+", name.tmp_name())
    final = name.final_name(0xFE00, 0x20C721, 33)
    assert re.fullmatch(r"\d+\.M\d+P\d+V000000000000FE00I000000000020C721\.[^/:]+,S=33", final)
    assert name.tmp_name(33).endswith(",S=33")


def test_counter_suffix_as_imapd_append() -> None:
    first = filenames.new_unique_name(counter=True)
    second = filenames.new_unique_name(counter=True)
    n1 = int(first.suffix[1:])
    assert second.suffix == f"_{n1 + 1}"
    assert "_" + str(n1) + "." in first.tmp_name()


def test_hostname_never_breaks_a_file_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # The host name is the kernel's node name (what gethostname() returns).
    real = os.uname()
    named = os.uname_result((*real[:1], "a/b:c", *real[2:]))
    monkeypatch.setattr(os, "uname", lambda: named)
    assert filenames.hostname() == "a\\057b\\072c"


def test_hostname_is_gethostname() -> None:
    assert filenames.hostname() == socket.gethostname().replace("/", "\\057").replace(
        ":", "\\072")


@pytest.mark.parametrize(("name", "flags"), [
    (DELIVERED, None),
    (DELIVERED + ":2,", ""),
    (DELIVERED + ":2,FS", "FS"),
    (DELIVERED + ":1,xyz", None),  # not a :2, info: no flags, same base as imapd's
])
def test_split_info(name: str, flags: str | None) -> None:
    assert filenames.split_info(name) == (DELIVERED, flags)
    assert filenames.base_name(name) == DELIVERED


def test_base_name_is_up_to_the_last_colon() -> None:
    # What courierimapuiddb records, as imapd computes it.
    assert filenames.base_name(DELIVERED + ":2,S") == DELIVERED
    assert filenames.base_name("a:b:2,S") == "a:b"
    assert filenames.base_name(DELIVERED) == DELIVERED


def test_with_flags_sorts_and_dedupes() -> None:
    assert filenames.with_flags(DELIVERED, "SFS") == DELIVERED + ":2,FS"
    assert filenames.with_flags(DELIVERED + ":2,T", "") == DELIVERED + ":2,"
    assert filenames.flags_of(DELIVERED + ":2,DFRST") == "DFRST"
    assert filenames.flags_of(DELIVERED) == ""


@pytest.mark.parametrize(("name", "size"), [
    (DELIVERED, 33), (DELIVERED + ":2,S", 33), ("x,S=12,W=14:2,", 12),
    ("noSize.vm", None), ("x,S=:2,", None), ("x,S=7abc", 7),
])
def test_size_from_name(name: str, size: int | None) -> None:
    assert filenames.size_from_name(name) == size


def test_dot_files_are_not_messages() -> None:
    assert filenames.is_message_name(DELIVERED)
    assert not filenames.is_message_name(".hidden")
    assert not filenames.is_message_name("")


@given(st.text(alphabet=st.characters(blacklist_characters=":/\0",
                                      blacklist_categories=("Cs",)), min_size=1),
       st.text(alphabet="DFRST", max_size=8))
def test_flags_round_trip(base: str, flags: str) -> None:
    name = filenames.with_flags(base, flags)
    assert filenames.base_name(name) == base
    assert filenames.flags_of(name) == "".join(sorted(set(flags)))
    assert filenames.with_flags(name, filenames.flags_of(name)) == name
    assert os.sep not in name
