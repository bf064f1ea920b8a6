"""The hand-written value classes behave as the dataclasses they replaced."""

from __future__ import annotations

import pytest

from postillion.maildir.delivery import StagedMessage
from postillion.maildir.filenames import UniqueName
from postillion.maildir.quota import MaildirSize, QuotaSpec, QuotaState, Usage


def test_frozen_records_compare_hash_and_print_by_field() -> None:
    assert Usage(3, 1) == Usage(bytes=3, messages=1)
    assert Usage(3, 1) != Usage(3, 2)
    assert Usage() == Usage(0, 0)
    assert Usage(3, 1) != QuotaSpec(3, 1)  # same fields, another class
    assert len({Usage(3, 1), Usage(3, 1), Usage(4, 1)}) == 2
    assert repr(QuotaSpec(5000)) == "QuotaSpec(bytes=5000, messages=0)"
    state = QuotaState("/m", QuotaSpec(10, 0), Usage(1, 1))
    assert repr(state) == (
        "QuotaState(root='/m', quota=QuotaSpec(bytes=10, messages=0), "
        "usage=Usage(bytes=1, messages=1))"
    )
    size = MaildirSize("/m/maildirsize", QuotaSpec(1), Usage(), 0, 0.0, True)
    assert size == MaildirSize("/m/maildirsize", QuotaSpec(1), Usage(), 0, 0.0, True)


def test_frozen_records_refuse_changes() -> None:
    name = UniqueName(1, 2, 3, "host")
    assert name.suffix == ""
    with pytest.raises(AttributeError):
        name.pid = 4  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del name.host
    with pytest.raises(AttributeError):
        name.extra = 1
    assert name == UniqueName(seconds=1, usec=2, pid=3, host="host", suffix="")


def test_staged_message_is_mutable_and_unhashable_like_its_dataclass() -> None:
    name = UniqueName(1, 2, 3, "host")
    staged = StagedMessage("/m", "/m/tmp/x", name, 10, 1, 2)
    assert staged == StagedMessage("/m", "/m/tmp/x", name, 10, 1, 2)
    staged.size = 11
    assert staged.size == 11
    with pytest.raises(TypeError):
        hash(staged)


def test_records_match_by_position() -> None:
    match Usage(7, 2):
        case Usage(nbytes, messages):
            assert (nbytes, messages) == (7, 2)
        case _:  # pragma: no cover
            pytest.fail("no match")
