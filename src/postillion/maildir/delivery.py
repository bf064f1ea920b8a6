"""Putting a message into a maildir: ``tmp/``, then one atomic link.

A message is first written completely to ``tmp/`` and flushed to disk
(*staged*).  Only then is it linked under its final name into ``new/`` (or
``cur/`` with flags), which is the single atomic step that makes it visible.
A process killed at any point before the link leaves at most a file in
``tmp/``, which no reader looks at and which maildir readers clean up after
36 hours; a process killed after the link has delivered the message whole.

Between staging and committing, a caller can look at the size and refuse the
message (the quota check of ``deliverquota``) without it ever having been
visible.
"""

from __future__ import annotations

import errno
import os
import time

from postillion.maildir._record import Record
from postillion.maildir.errors import DeliveryFailed, MailboxNotFound
from postillion.maildir.filenames import UniqueName, new_unique_name, with_flags

# Annotations only: typing and collections.abc cost deliverquota, which is
# started once per message, milliseconds of import.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import BinaryIO

_CHUNK = 1 << 16
# A stale file in tmp/ older than this is garbage (the Maildir specification's
# 36 hours, which Courier's maildir_purgetmp uses too).
TMP_MAX_AGE = 36 * 3600


class StagedMessage(Record):
    """A message written whole to ``tmp/`` but not yet visible."""

    __slots__ = __match_args__ = ("folder", "tmp_path", "name", "size", "dev", "ino")
    folder: str
    tmp_path: str
    name: UniqueName
    size: int
    dev: int
    ino: int

    def __init__(self, folder: str, tmp_path: str, name: UniqueName, size: int,
                 dev: int, ino: int) -> None:
        self.folder = folder
        self.tmp_path = tmp_path
        self.name = name
        self.size = size
        self.dev = dev
        self.ino = ino

    def final_name(self) -> str:
        return self.name.final_name(self.dev, self.ino, self.size)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _chunks(source: bytes | BinaryIO | Iterable[bytes]) -> Iterable[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source)
        return
    read = getattr(source, "read", None)
    if read is not None:
        while True:
            chunk = read(_CHUNK)
            if not chunk:
                return
            yield chunk
    else:
        yield from source


def stage(
    folder: str,
    source: bytes | BinaryIO | Iterable[bytes],
    *,
    suffix: str = "",
    counter: bool = False,
    durable: bool = True,
    mode: int = 0o666,
) -> StagedMessage:
    """Write ``source`` to a new file in ``folder/tmp`` and return it staged.

    ``mode`` is filtered by the process umask, as Courier's files are.
    Raises :class:`MailboxNotFound` if ``folder/tmp`` does not exist and
    :class:`DeliveryFailed` (after removing the partial file) on any I/O
    error, such as a full disk.
    """
    tmpdir = os.path.join(folder, "tmp")
    for _attempt in range(50):
        name = new_unique_name(suffix, counter=counter)
        tmp_path = os.path.join(tmpdir, name.tmp_name())
        try:
            fd = os.open(
                tmp_path,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                mode,
            )
        except FileExistsError:
            continue  # same microsecond in this pid: take the next one
        except FileNotFoundError as exc:
            raise MailboxNotFound(f"{folder}: No such file or directory") from exc
        except OSError as exc:
            raise DeliveryFailed(f"{tmp_path}: {exc.strerror}") from exc
        break
    else:  # pragma: no cover - would need 50 clashes in a row
        raise DeliveryFailed(f"{tmpdir}: cannot create a unique file name")

    size = 0
    try:
        with os.fdopen(fd, "wb", closefd=True) as out:
            for chunk in _chunks(source):
                out.write(chunk)
                size += len(chunk)
            out.flush()
            if durable:
                os.fsync(out.fileno())
            st = os.fstat(out.fileno())
    except BaseException as exc:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise DeliveryFailed(f"{tmp_path}: {exc.strerror or exc}") from exc
        raise
    return StagedMessage(folder, tmp_path, name, size, st.st_dev, st.st_ino)


def commit(
    staged: StagedMessage,
    *,
    flags: str | None = None,
    durable: bool = True,
) -> str:
    """Make a staged message visible; return its final path.

    Without ``flags`` the message goes to ``new/`` (a delivery); with flags
    (possibly ``""``) it goes to ``cur/`` with a ``:2,`` info, as an IMAP
    APPEND does.  The link is atomic: readers see the whole file or nothing.
    """
    final = staged.final_name()
    if flags is None:
        target = os.path.join(staged.folder, "new", final)
    else:
        target = os.path.join(staged.folder, "cur", with_flags(final, flags))
    try:
        os.link(staged.tmp_path, target)
    except OSError as exc:
        discard(staged)
        if exc.errno == errno.ENOENT:
            raise MailboxNotFound(f"{staged.folder}: No such file or directory") from exc
        raise DeliveryFailed(f"{target}: {exc.strerror}") from exc
    try:
        os.unlink(staged.tmp_path)
    except OSError:
        pass
    if durable:
        try:
            _fsync_dir(os.path.dirname(target))
        except OSError:
            pass
    return target


def discard(staged: StagedMessage) -> None:
    """Throw a staged message away (refused by quota, or an error)."""
    try:
        os.unlink(staged.tmp_path)
    except OSError:
        pass


def deliver(
    folder: str,
    source: bytes | BinaryIO | Iterable[bytes],
    *,
    flags: str | None = None,
    durable: bool = True,
) -> str:
    """Stage and commit in one call, with no quota check; return the path."""
    return commit(stage(folder, source, durable=durable), flags=flags, durable=durable)


def purge_tmp(folder: str, *, now: float | None = None, max_age: float = TMP_MAX_AGE) -> int:
    """Remove files in ``folder/tmp`` older than ``max_age`` seconds; return how many.

    These are leftovers of deliveries that died before their link; a live
    delivery's file is never that old.  Age is by modification time, as in
    Courier's maildir_purgetmp.
    """
    limit = (time.time() if now is None else now) - max_age
    tmpdir = os.path.join(folder, "tmp")
    removed = 0
    try:
        entries = os.scandir(tmpdir)
    except OSError:
        return 0
    with entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue  # vanished or not ours: leave it
    return removed
