"""The per-folder dot-lock that Courier's imapd holds while it scans a folder.

With ``IMAP_USELOCKS=1`` (the packaged default) imapd serialises every folder
scan, and with it every rewrite of ``courierimapuiddb``, with a dot-lock
``<folder>/tmp/courier.lock`` (checked by strace on Courier-IMAP 5.0.13 and in
its source, maildir/maildirlock.C and liblock/mail.c):

1. write ``<pid>:<hostname>`` (no newline) to a fresh file
   ``tmp/<time>.M<usec>P<pid>_courierlock.<host>``;
2. ``link()`` it to ``tmp/courier.lock``; the lock is held when the link
   succeeds and the temporary file then has two links; unlink the temporary;
3. if the lock exists: a lock of a process on this host that no longer
   exists is removed, so is a lock of another host older than 120 seconds;
   otherwise wait and try again;
4. release by unlinking ``tmp/courier.lock``.

We take the very same lock, so Courier's imapd and ours never scan one folder
at the same time, and therefore never hand out UIDs concurrently.  Within one
of our processes several sessions may want the same folder; a threading lock
per folder keeps them from contending for the file (Courier would take a lock
carrying its own pid for a stale one).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

from postillion.maildir.errors import MailboxNotFound, MaildirError
from postillion.maildir.filenames import new_unique_name

LOCK_NAME = "courier.lock"
# Courier's LOCK_TIMEOUT: a lock of another host older than this is stale.
STALE_SECONDS = 120
# How long we wait for a live holder before giving up.  Courier waits for
# ever; a scan takes well under a second, so minutes mean a hung process.
DEFAULT_WAIT_SECONDS = 300.0


class FolderBusy(MaildirError):
    """Another live process has held the folder's lock for too long."""


_process_locks: dict[tuple[int, int], threading.Lock] = {}
_process_locks_guard = threading.Lock()


def _lock_id() -> str:
    return f"{os.getpid()}:{socket.gethostname() or 'localhost'}"


def _process_lock(folder: str) -> threading.Lock:
    try:
        st = os.stat(folder)
    except FileNotFoundError as exc:
        raise MailboxNotFound(f"{folder}: No such file or directory") from exc
    key = (st.st_dev, st.st_ino)
    with _process_locks_guard:
        lock = _process_locks.get(key)
        if lock is None:
            lock = _process_locks[key] = threading.Lock()
        return lock


def _holder_is_gone(lock_path: str, my_id: str) -> bool:
    """Whether an existing lock file is stale, by Courier's rules."""
    try:
        with open(lock_path, "rb") as f:
            holder = f.read(512).decode("utf-8", "replace")
            mtime = os.fstat(f.fileno()).st_mtime
    except FileNotFoundError:
        return False  # released meanwhile: just try again
    except OSError:
        return False
    pid_text, sep, host = holder.partition(":")
    my_host = my_id.partition(":")[2]
    if sep and host == my_host and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            # Our pid, but this process does not hold it (the in-process
            # lock is ours): a leftover of a recycled pid.
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another uid
        return False
    return mtime < time.time() - STALE_SECONDS


def _try_link(tmpdir: str, lock_path: str, my_id: str) -> int | None:
    """One attempt; the inode of our lock file on success, None if it exists."""
    name = new_unique_name("_courierlock")
    tmp_path = os.path.join(tmpdir, name.tmp_name())
    try:
        fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o644)
    except FileNotFoundError as exc:
        raise MailboxNotFound(f"{tmpdir}: No such file or directory") from exc
    try:
        try:
            os.write(fd, my_id.encode())
        finally:
            os.close(fd)
        try:
            os.link(tmp_path, lock_path)
        except FileExistsError:
            return None
        st = os.stat(tmp_path)
        if st.st_nlink != 2:  # pragma: no cover - NFS oddities, as liblock checks
            return None
        return st.st_ino
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)


@contextlib.contextmanager
def folder_lock(folder: str, *, wait: float = DEFAULT_WAIT_SECONDS) -> Iterator[None]:
    """Hold Courier's ``tmp/courier.lock`` dot-lock on ``folder``.

    Raises :class:`MailboxNotFound` when the folder has no ``tmp/`` and
    :class:`FolderBusy` when a live holder keeps it longer than ``wait``.
    """
    in_process = _process_lock(folder)
    if not in_process.acquire(timeout=wait if wait > 0 else -1):
        raise FolderBusy(f"{folder}: locked by another session of this process")
    try:
        tmpdir = os.path.join(folder, "tmp")
        lock_path = os.path.join(tmpdir, LOCK_NAME)
        my_id = _lock_id()
        deadline = time.monotonic() + wait
        delay = 0.01
        while True:
            ino = _try_link(tmpdir, lock_path, my_id)
            if ino is not None:
                break
            if _holder_is_gone(lock_path, my_id):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(lock_path)
                continue
            if time.monotonic() > deadline:
                raise FolderBusy(f"{lock_path}: held by another process")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
        try:
            yield
        finally:
            # Remove only the lock we made: if it was broken as stale and
            # taken by someone else, theirs stays.
            with contextlib.suppress(OSError):
                if os.stat(lock_path).st_ino == ino:
                    os.unlink(lock_path)
    finally:
        in_process.release()
