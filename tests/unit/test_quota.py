"""Maildir++ quota: spec and line formats, sums vs recounts, the <= boundary."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postillion.maildir import quota
from postillion.maildir.delivery import deliver
from postillion.maildir.errors import QuotaExceeded
from postillion.maildir.layout import create_maildir

limits = st.integers(min_value=0, max_value=10**11)


def make_maildir(path: Path, spec: str | None = None) -> str:
    create_maildir(str(path))
    if spec is not None:
        quota.set_quota(str(path), spec)
    return str(path)


def size_file(maildir: str) -> bytes:
    return Path(maildir, "maildirsize").read_bytes()


# ---------------------------------------------------------------- spec


@given(limits, limits)
def test_spec_round_trips_through_its_written_form(nbytes: int, messages: int) -> None:
    spec = quota.QuotaSpec(nbytes, messages)
    assert quota.parse_spec(spec.format()) == spec


@given(st.integers(1, 10**11), st.integers(1, 10**6))
def test_canonical_spec_is_written_back_unchanged(nbytes: int, messages: int) -> None:
    for text in (f"{nbytes}S", f"{messages}C", f"{nbytes}S,{messages}C"):
        assert quota.parse_spec(text).format() == text


@pytest.mark.parametrize(
    ("given_spec", "written"),
    [
        ("1000C,5000S", "5000S,1000C"),  # Courier rebuilds the line from the numbers
        ("0S,5C", "5C"),
        ("abc 100S, 3C", "100S,3C"),
        ("100X,5S", "5S"),
    ],
)
def test_spec_is_normalised_as_courier_does(given_spec: str, written: str) -> None:
    assert quota.parse_spec(given_spec).format() == written


def test_unparseable_parts_are_reported_like_courier() -> None:
    assert quota.spec_warnings("100X") == ["WARN: quota string '100X' not parseable"]
    assert quota.spec_warnings("100S,2C") == []


def test_spec_without_limit_is_refused(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M")
    with pytest.raises(quota.InvalidQuotaSpec):
        quota.set_quota(maildir, "0S")
    assert not os.path.exists(os.path.join(maildir, "maildirsize"))


# ---------------------------------------------------------------- lines


@given(st.integers(-(10**10), 10**11), st.integers(-(10**10), 10**11))
def test_size_line_is_26_bytes_and_parses_back(nbytes: int, messages: int) -> None:
    line = quota.format_line(nbytes, messages)
    assert len(line) == 26
    info = quota.parse_maildirsize(b"100S\n" + line)
    assert info.usage == quota.Usage(nbytes, messages)
    assert info.needs_recount == (nbytes < 0 or messages < 0)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 5)), max_size=150))
def test_sum_of_lines(deltas: list[tuple[int, int]]) -> None:
    data = b"5000S,10C\n" + b"".join(quota.format_line(b, c) for b, c in deltas)
    info = quota.parse_maildirsize(data)
    if len(data) >= quota.MAX_MAILDIRSIZE:
        assert info.needs_recount  # Courier never trusts a file this long
    else:
        assert info.usage == quota.Usage(sum(b for b, _ in deltas), sum(c for _, c in deltas))
        assert info.needs_recount == (not deltas)
    assert info.quota == quota.QuotaSpec(5000, 10)


@pytest.mark.parametrize(
    "damaged",
    [
        b"100S\n          29            1\ngarbage\n",
        b"100S\n          29            1\n          2",  # cut last line
        b"100S\n         -29           -1\n",  # negative total
        b"100S\n\x00\xff\x10binary\n          29            1\n",
        b"100S\n",  # quota line only: usage unknown
        b"100S",
        b"",
    ],
)
def test_damaged_files_ask_for_a_recount(damaged: bytes) -> None:
    assert quota.parse_maildirsize(damaged).needs_recount


# ---------------------------------------------------------------- what counts


@pytest.mark.parametrize(
    ("name", "counted"),
    [
        ("1.M1P1.h,S=5", True),
        ("1.M1P1.h,S=5:2,S", True),
        ("1.M1P1.h,S=5:2,ST", False),
        ("1.M1P1.h,S=5:2,T", False),
        ("1.M1P1.h,S=5:2,aT", True),  # Courier stops at the first non-capital
    ],
)
def test_deleted_messages_do_not_count(name: str, counted: bool) -> None:
    assert quota.counts_file(name) is counted


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("1.M1P1.h,S=5", 5),
        ("1.M1P1.h,S=5:2,S", 5),
        ("1.M1P1.h,S=12,W=14:2,", 12),
        ("1.M1P1.h", None),
        ("1.M1P1.h,S=:2,", 0),
        ("1.M1P1.h:2,,S=9", None),  # only the part before the first ':' counts
    ],
)
def test_size_in_name(name: str, size: int | None) -> None:
    assert quota.size_in_name(name) == size


def test_counts_folder() -> None:
    assert not quota.counts_folder("Maildir/.Trash")
    assert not quota.counts_folder(".Trash/")
    assert quota.counts_folder("Maildir/.Trash.Old")
    assert quota.counts_folder("Maildir/.Sub")


def test_recount_skips_trash_and_deleted_and_stats_unsized(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M")
    create_maildir(os.path.join(maildir, ".Trash"), folder=True)
    create_maildir(os.path.join(maildir, ".Sub"), folder=True)
    deliver(maildir, b"x" * 10, durable=False)
    deliver(os.path.join(maildir, ".Sub"), b"y" * 20, durable=False)
    deliver(os.path.join(maildir, ".Trash"), b"z" * 40, durable=False)
    Path(maildir, "cur", "1.M2P2.h:2,T").write_bytes(b"deleted")
    Path(maildir, "cur", "1.M3P3.h:2,S").write_bytes(b"12345")  # no S=: stat
    Path(maildir, "cur", ".hidden").write_bytes(b"ignored")
    quota.set_quota(maildir, "1000S")
    assert size_file(maildir) == b"1000S\n" + quota.format_line(35, 3)


# ---------------------------------------------------------------- the boundary


@given(st.integers(1, 500), st.integers(0, 500), st.integers(1, 200))
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_accepted_while_total_after_is_at_most_the_limit(
    limit: int, used: int, size: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        maildir = make_maildir(Path(tmp, "M"))
        if used:
            deliver(maildir, b"u" * used, durable=False)
        quota.set_quota(maildir, f"{limit}S")
        fits = used + size <= limit
        assert quota.fits(maildir, size) is fits
        if fits:
            quota.reserve(maildir, size).commit()
            assert quota.read_maildirsize(maildir) is not None
        else:
            with pytest.raises(QuotaExceeded):
                quota.reserve(maildir, size)


def test_count_limit_boundary(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M", "2C")
    for _ in range(2):
        with quota.reserve(maildir, 10) as room:
            deliver(maildir, b"x" * 10, durable=False)
            room.commit()
    with pytest.raises(QuotaExceeded):
        quota.reserve(maildir, 1)


# ---------------------------------------------------------------- sum == recount

operations = st.lists(
    st.one_of(
        st.tuples(st.just("deliver"), st.integers(1, 3000), st.sampled_from(["", ".Sub"])),
        st.tuples(st.just("expunge"), st.integers(0, 1000), st.just("")),
    ),
    max_size=40,
)


@given(operations)
@settings(max_examples=30, deadline=None)
def test_sum_after_appends_equals_recount(ops: list[tuple[str, int, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        maildir = make_maildir(Path(tmp, "M"), "100000000S,100000C")
        create_maildir(os.path.join(maildir, ".Sub"), folder=True)
        delivered: list[str] = []
        for kind, number, folder in ops:
            target = os.path.join(maildir, folder) if folder else maildir
            if kind == "deliver":
                with quota.reserve(target, number) as room:
                    delivered.append(deliver(target, b"m" * number, durable=False))
                    room.commit()
            elif delivered:
                path = delivered.pop(number % len(delivered))
                size = os.path.getsize(path)
                os.unlink(path)
                quota.record_change(target, -size, -1)
        counted, _stamp = quota.scan_usage(maildir)
        info = quota.read_maildirsize(maildir)
        assert info is not None
        if not info.needs_recount:
            assert info.usage == counted
        state = quota.read_quota(maildir)
        assert state is not None and state.usage == counted


# ---------------------------------------------------------------- recount rules


def test_long_file_is_recounted_and_appends_resume(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M", "100000000S,100000C")
    for _ in range(200):
        with quota.reserve(maildir, 24) as room:
            deliver(maildir, b"x" * 24, durable=False)
            room.commit()
    data = size_file(maildir)
    assert len(data) < quota.MAX_MAILDIRSIZE
    info = quota.parse_maildirsize(data)
    assert info.usage == quota.Usage(24 * 200, 200)


def test_over_quota_recounts_then_trusts_the_fresh_summary(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M", "60S,3C")
    for _ in range(2):
        with quota.reserve(maildir, 24) as room:
            deliver(maildir, b"x" * 24, durable=False)
            room.commit()
    with pytest.raises(QuotaExceeded):
        quota.reserve(maildir, 24)
    assert size_file(maildir) == b"60S,3C\n" + quota.format_line(48, 2)
    # A fresh one-line file that says "over" is believed without a scan...
    before = os.stat(os.path.join(maildir, "maildirsize")).st_ino
    with pytest.raises(QuotaExceeded):
        quota.reserve(maildir, 24)
    assert os.stat(os.path.join(maildir, "maildirsize")).st_ino == before
    # ...for 15 minutes.
    old = time.time() - quota.RECOUNT_GRACE_SECONDS - 5
    os.utime(os.path.join(maildir, "maildirsize"), (old, old))
    with pytest.raises(QuotaExceeded):
        quota.reserve(maildir, 24)
    assert os.stat(os.path.join(maildir, "maildirsize")).st_ino != before


@pytest.mark.parametrize(
    "corruption",
    [
        b"garbage line\n",
        b"          2",
        b"\x00\x01\x02\xff\xfe\n",
        b"   -99999999          -50\n",
    ],
)
def test_corrupt_maildirsize_is_recounted(tmp_path: Path, corruption: bytes) -> None:
    maildir = make_maildir(tmp_path / "M", "5000S,100C")
    for _ in range(3):
        with quota.reserve(maildir, 24) as room:
            deliver(maildir, b"x" * 24, durable=False)
            room.commit()
    with open(os.path.join(maildir, "maildirsize"), "ab") as sizes:
        sizes.write(corruption)
    state = quota.read_quota(maildir)
    assert state is not None
    assert state.usage == quota.Usage(72, 3)
    assert size_file(maildir) == b"5000S,100C\n" + quota.format_line(72, 3)


def test_no_maildirsize_means_no_quota_and_none_is_created(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M")
    assert quota.read_quota(maildir) is None
    assert quota.fits(maildir, 10**12)
    quota.reserve(maildir, 10**12).commit()
    quota.record_change(maildir, -5, -1)
    assert not os.path.exists(os.path.join(maildir, "maildirsize"))


def test_folder_uses_parent_maildirsize(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M", "100S")
    sub = os.path.join(maildir, ".Sub")
    create_maildir(sub, folder=True)
    assert quota.quota_root(sub) == os.path.join(sub, "..")
    quota.reserve(sub, 24).commit()
    assert size_file(maildir).endswith(quota.format_line(24, 1))
    state = quota.read_quota(sub)
    assert state is not None and state.quota == quota.QuotaSpec(100, 0)


def test_set_quota_rewrites_existing_file(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M", "10000000S,1000C")
    assert size_file(maildir) == b"10000000S,1000C\n" + quota.format_line(0, 0)
    deliver(maildir, b"x" * 29, durable=False)
    quota.set_quota(maildir, "20000S")
    assert size_file(maildir) == b"20000S\n" + quota.format_line(29, 1)


def test_symlinked_maildirsize_is_not_followed(tmp_path: Path) -> None:
    maildir = make_maildir(tmp_path / "M")
    target = tmp_path / "elsewhere"
    target.write_bytes(b"1S\n" + quota.format_line(0, 0))
    os.symlink(target, os.path.join(maildir, "maildirsize"))
    assert quota.read_quota(maildir) is None
    quota.reserve(maildir, 100).commit()
    assert target.read_bytes() == b"1S\n" + quota.format_line(0, 0)


@pytest.mark.parametrize(
    ("limit", "used", "percent"),
    [(100, 50, 50), (100, 49, 49), (100, 100, 100), (100, 101, 100),
     (25_000_000, 1_000_107, 3)],  # in KiB above 20,000,000 bytes (4 in bytes)
)
def test_percent(limit: int, used: int, percent: int) -> None:
    assert quota.QuotaSpec(limit, 0).percent(quota.Usage(used, 1)) == percent
