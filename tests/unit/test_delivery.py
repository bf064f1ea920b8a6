"""Staging in tmp/ and the atomic commit into new/ or cur/."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from postillion.maildir import delivery
from postillion.maildir.errors import MailboxNotFound
from postillion.maildir.filenames import base_name, size_from_name
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: hi\n\nbody\n"


@pytest.fixture
def maildir(tmp_path: Path) -> str:
    path = str(tmp_path / "Maildir")
    create_maildir(path)
    return path


def test_deliver_to_new_names_the_file_after_its_inode(maildir: str) -> None:
    path = delivery.deliver(maildir, MESSAGE)
    assert os.path.dirname(path) == os.path.join(maildir, "new")
    st = os.stat(path)
    name = os.path.basename(path)
    assert f"V{st.st_dev:016X}I{st.st_ino:016X}" in name
    assert size_from_name(name) == len(MESSAGE) == st.st_size
    assert Path(path).read_bytes() == MESSAGE
    assert os.listdir(os.path.join(maildir, "tmp")) == []


def test_deliver_with_flags_goes_to_cur(maildir: str) -> None:
    path = delivery.deliver(maildir, MESSAGE, flags="SF")
    assert os.path.dirname(path) == os.path.join(maildir, "cur")
    assert path.endswith(":2,FS")


@pytest.mark.parametrize("source", [MESSAGE, io.BytesIO(MESSAGE), [b"Subject: hi\n", b"\nbody\n"]],
                         ids=["bytes", "file", "chunks"])
def test_sources(maildir: str, source: object) -> None:
    path = delivery.deliver(maildir, source)  # type: ignore[arg-type]
    assert Path(path).read_bytes() == MESSAGE


def test_staged_message_is_invisible_until_commit(maildir: str) -> None:
    staged = delivery.stage(maildir, MESSAGE)
    assert os.listdir(os.path.join(maildir, "new")) == []
    assert staged.size == len(MESSAGE)
    final = delivery.commit(staged)
    assert os.listdir(os.path.join(maildir, "new")) == [os.path.basename(final)]
    assert not os.path.exists(staged.tmp_path)


def test_discard_leaves_nothing(maildir: str) -> None:
    staged = delivery.stage(maildir, MESSAGE)
    delivery.discard(staged)
    for sub in ("tmp", "new", "cur"):
        assert os.listdir(os.path.join(maildir, sub)) == []


def test_a_failing_source_leaves_no_partial_file(maildir: str) -> None:
    def broken() -> object:
        yield b"partial"
        raise RuntimeError("reader died")

    with pytest.raises(RuntimeError):
        delivery.stage(maildir, broken())  # type: ignore[arg-type]
    assert os.listdir(os.path.join(maildir, "tmp")) == []


def test_missing_maildir(tmp_path: Path) -> None:
    with pytest.raises(MailboxNotFound):
        delivery.deliver(str(tmp_path / "nope"), MESSAGE)


def test_many_deliveries_get_distinct_names(maildir: str) -> None:
    paths = {delivery.deliver(maildir, MESSAGE, durable=False) for _ in range(200)}
    assert len(paths) == 200
    assert len({base_name(os.path.basename(p)) for p in paths}) == 200


def test_purge_tmp_removes_only_old_files(maildir: str) -> None:
    tmp = Path(maildir, "tmp")
    old, young = tmp / "old", tmp / "young"
    old.write_bytes(b"x")
    young.write_bytes(b"x")
    long_ago = time.time() - delivery.TMP_MAX_AGE - 60
    os.utime(old, (long_ago, long_ago))
    assert delivery.purge_tmp(maildir) == 1
    assert sorted(os.listdir(tmp)) == ["young"]
