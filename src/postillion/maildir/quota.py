"""Maildir++ quotas: the ``maildirsize`` file, as Courier reads and writes it.

The file lives in the top maildir (a folder, marked by ``maildirfolder``,
uses its parent's).  Its first line is the quota, ``<n>S`` (bytes) and/or
``<n>C`` (messages), comma separated; every other line is a delta
``printf("%12d %12d\\n", bytes, messages)``, 26 bytes, appended with
``O_APPEND`` in one ``write()``.  The usage is the sum of the deltas.  No file
means no quota.

When the sum cannot be trusted the file is *recounted*: rebuilt from a scan
of ``cur/`` and ``new/`` of INBOX and of every folder but Trash, written to
``tmp/<time>.<pid>_NeWmAiLdIrSiZe.<host>`` and renamed over ``maildirsize``.
Courier recounts when

* the file is 5120 bytes or longer (it reads at most that much),
* a total is negative,
* a new quota is being set,
* a check finds the maildir over quota, unless the file is a single summary
  line younger than 15 minutes (a fresh recount that said "over").

We also recount where Courier would silently skip a line it cannot parse
(garbage, binary junk, a cut last line) or assume a usage of 0 (a file with
a quota line and no size lines): a half-written line must not make the
usage wrong for good.

What counts: every file in ``cur/`` and ``new/`` not starting with ``.``,
except messages flagged deleted (``T`` among the capital letters after the
first ``:2,``) and the folder ``.Trash`` (Courier's default build, without
TRASHQUOTA).  The size comes from ``,S=<n>`` in the name where present
(no ``stat``), from ``stat`` otherwise.

Locking: Courier locks nothing; it relies on ``O_APPEND`` single writes and on
the rename of a complete new file, and detects a delivery racing a recount by
comparing the ``cur/``/``new/`` directory times before and after (retrying
up to 5 times, then giving up and accepting).  We do all of that too, and in
addition hold an exclusive ``flock`` on the quota root *directory* across
check, link and append.  Our own processes therefore never race each other
past the limit; Courier's processes ignore the lock and behave as Courier
always did.  Where ``flock`` is unavailable (some network file systems) we
proceed unlocked, exactly as Courier does.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

from postillion.maildir._record import FrozenRecord
from postillion.maildir.errors import DeliveryFailed, MaildirError, QuotaExceeded

# Annotations only.  deliverquota is started once per message and imports
# this module, so it avoids what costs milliseconds at import: dataclasses,
# typing, contextlib, re, socket.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType
    from typing import Protocol

    class _Closable(Protocol):
        def close(self) -> None: ...

MAILDIRSIZE = "maildirsize"
FOLDER_MARKER = "maildirfolder"
# Courier's default build does not count its Trash folder (no TRASHQUOTA).
TRASH_DIR = ".Trash"

# Courier reads at most this many bytes of maildirsize; a longer file is
# recounted (and thereby shrunk to two lines).
MAX_MAILDIRSIZE = 5120
# A single-line (freshly recounted) file that says "over quota" is believed
# for this long before the maildir is scanned again.
RECOUNT_GRACE_SECONDS = 15 * 60
# A recount that sees cur/ or new/ change under it starts over, this many
# times at most; then the check gives up and lets the delivery through.
RECOUNT_ATTEMPTS = 5
# Quotas above this are compared in KiB for the percentage (Courier avoids
# overflow so; it changes the rounding of -w warnings).
_KIB_PERCENT_THRESHOLD = 20_000_000
_MAX_FOLDER_DEPTH = 16



class InvalidQuotaSpec(MaildirError, ValueError):
    """A quota string that sets neither a byte nor a message limit."""


# ---------------------------------------------------------------- the spec


class QuotaSpec(FrozenRecord):
    """A quota; 0 means "no limit" for that part, as in Courier."""

    __slots__ = __match_args__ = ("bytes", "messages")
    bytes: int
    messages: int

    def __init__(self, bytes: int = 0, messages: int = 0) -> None:
        object.__setattr__(self, "bytes", bytes)
        object.__setattr__(self, "messages", messages)

    @property
    def is_limited(self) -> bool:
        return self.bytes > 0 or self.messages > 0

    def format(self) -> str:
        """The first line of maildirsize, as Courier writes it back.

        Courier rebuilds the line from the parsed numbers: ``1000C,5000S``
        is written ``5000S,1000C`` and ``0S,5C`` is written ``5C``.
        """
        parts = []
        if self.bytes > 0:
            parts.append(f"{self.bytes}S")
        if self.messages > 0:
            parts.append(f"{self.messages}C")
        return ",".join(parts)

    def allows(self, usage: Usage) -> bool:
        """Whether ``usage`` (the total *after* a change) is within the quota.

        A message is accepted while the total after delivery is ``<=`` the
        limit.
        """
        return not (
            (self.bytes > 0 and usage.bytes > self.bytes)
            or (self.messages > 0 and usage.messages > self.messages)
        )

    def percent(self, usage: Usage) -> int:
        """How full, in percent, as Courier computes it (100 when over)."""
        if not self.allows(usage):
            return 100
        return max(_percent(usage.bytes, self.bytes), _percent(usage.messages, self.messages))


def _percent(used: int, limit: int) -> int:
    if limit <= 0:
        return 0
    unit = 1024 if limit > _KIB_PERCENT_THRESHOLD else 1
    # C integer division truncates toward zero.
    return int(int(used / unit) * 100 / (limit // unit)) if limit // unit else 0


def _scan_spec(spec: str) -> tuple[QuotaSpec, int]:
    """Courier's lenient parse: digits followed by ``S`` or ``C``; the rest skipped.

    Returns the spec and how many number groups had another suffix (for
    each, Courier prints a warning).
    """
    nbytes = messages = unparsed = 0
    i, n = 0, len(spec)
    while i < n:
        if not ("0" <= spec[i] <= "9"):
            i += 1
            continue
        value = 0
        while i < n and "0" <= spec[i] <= "9":
            value = value * 10 + ord(spec[i]) - 48
            i += 1
        suffix = spec[i] if i < n else ""
        if suffix == "S":
            nbytes = value
        elif suffix == "C":
            messages = value
        else:
            unparsed += 1
    return QuotaSpec(nbytes, messages), unparsed


def parse_spec(spec: str) -> QuotaSpec:
    """Parse a quota string (``10000000S,1000C``; either part optional)."""
    return _scan_spec(spec)[0]


def spec_warnings(spec: str) -> list[str]:
    """The warnings Courier prints on stderr while parsing ``spec``."""
    return [f"WARN: quota string '{spec}' not parseable"] * _scan_spec(spec)[1]


# ---------------------------------------------------------------- lines


class Usage(FrozenRecord):
    """Bytes and messages used (or a change to them)."""

    __slots__ = __match_args__ = ("bytes", "messages")
    bytes: int
    messages: int

    def __init__(self, bytes: int = 0, messages: int = 0) -> None:
        object.__setattr__(self, "bytes", bytes)
        object.__setattr__(self, "messages", messages)

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.bytes + other.bytes, self.messages + other.messages)


def format_line(nbytes: int, messages: int) -> bytes:
    """One size line: two right-aligned 12-wide fields, 26 bytes."""
    return b"%12d %12d\n" % (nbytes, messages)


class MaildirSize(FrozenRecord):
    """What a read of maildirsize found."""

    __slots__ = __match_args__ = ("path", "quota", "usage", "lines", "mtime", "needs_recount")
    path: str
    quota: QuotaSpec
    usage: Usage
    lines: int  # size lines (after the quota line)
    mtime: float
    needs_recount: bool

    def __init__(self, path: str, quota: QuotaSpec, usage: Usage, lines: int, mtime: float,
                 needs_recount: bool) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "quota", quota)
        object.__setattr__(self, "usage", usage)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "mtime", mtime)
        object.__setattr__(self, "needs_recount", needs_recount)


def _size_line(line: bytes) -> tuple[int, int] | None:
    """The two numbers of a size line: blanks (space, tab), ``-?digits``,
    blanks, ``-?digits``, blanks; ``None`` for anything else."""
    fields = [field for field in line.replace(b"\t", b" ").split(b" ") if field]
    if len(fields) != 2:
        return None
    for field in fields:
        digits = field[1:] if field[:1] == b"-" else field
        if not digits.isdigit():  # bytes.isdigit: ASCII digits only
            return None
    return int(fields[0]), int(fields[1])


def parse_maildirsize(data: bytes, path: str = MAILDIRSIZE, mtime: float = 0.0) -> MaildirSize:
    """Interpret the bytes of a maildirsize file (at most the first 5120 count)."""
    overflow = len(data) >= MAX_MAILDIRSIZE
    if overflow:
        data = data[: MAX_MAILDIRSIZE - 1]
    first, _nl, rest = data.partition(b"\n")
    quota = parse_spec(first.decode("latin-1"))
    if overflow:
        return MaildirSize(path, quota, Usage(), 0, mtime, True)
    nbytes = messages = lines = 0
    damaged = not _nl
    if rest:
        body = rest.split(b"\n")
        if body[-1] == b"":
            body.pop()
        else:
            damaged = True  # a cut last line
        for line in body:
            lines += 1
            numbers = _size_line(line)
            if numbers is None:
                damaged = True
                continue
            nbytes += numbers[0]
            messages += numbers[1]
    needs_recount = damaged or lines == 0 or nbytes < 0 or messages < 0
    return MaildirSize(path, quota, Usage(nbytes, messages), lines, mtime, needs_recount)


# ---------------------------------------------------------------- what counts


def counts_folder(path: str) -> bool:
    """Whether deliveries to this maildir path count (Trash does not)."""
    stripped = path[:-1] if path.endswith("/") else path
    return stripped != TRASH_DIR and not stripped.endswith("/" + TRASH_DIR)


def counts_file(name: str) -> bool:
    """Whether a message file counts: not if flagged deleted (``T``)."""
    name = name.rsplit("/", 1)[-1]
    pos = name.find(":2,")
    if pos < 0:
        return True
    for letter in name[pos + 3 :]:
        if not ("A" <= letter <= "Z"):
            break
        if letter == "T":
            return False
    return True


def size_in_name(name: str) -> int | None:
    """The size recorded as ``,S=<n>`` before the first ``:``, as Courier reads it."""
    head = name.rsplit("/", 1)[-1].split(":", 1)[0]
    pos = head.rfind(",S=")
    if pos < 0:
        return None
    value = 0
    for ch in head[pos + 3 :]:
        if not ("0" <= ch <= "9"):
            break
        value = value * 10 + ord(ch) - 48
    return value


def quota_root(maildir: str) -> str:
    """The maildir whose maildirsize governs ``maildir`` (a folder's parent)."""
    path = maildir
    for _ in range(_MAX_FOLDER_DEPTH):
        if not os.path.exists(os.path.join(path, FOLDER_MARKER)):
            return path
        path = os.path.join(path, "..")
    return path


# ---------------------------------------------------------------- scanning


def _count_dir(path: str, total: list[int]) -> int:
    """Add the messages of one ``new``/``cur`` dir to ``total``; return its mtime_ns."""
    try:
        stamp = os.stat(path).st_mtime_ns
        entries = os.scandir(path)
    except OSError:
        return 0
    with entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not counts_file(name):
                continue
            size = size_in_name(name)
            if size is None:
                try:
                    size = entry.stat().st_size
                except OSError:
                    continue  # vanished meanwhile
            total[0] += size
            total[1] += 1
    return stamp


def _folder_dirs(root: str) -> Iterator[str]:
    """INBOX and every folder that counts (not Trash, not symlinks)."""
    yield root
    try:
        entries = os.scandir(root)
    except OSError:
        return
    with entries:
        for entry in entries:
            name = entry.name
            if not name.startswith(".") or name in (".", "..") or not counts_folder(name):
                continue
            if entry.is_symlink():
                continue
            yield os.path.join(root, name)


def scan_usage(root: str) -> tuple[Usage, int]:
    """Count the maildir from its files; return usage and the newest dir mtime_ns."""
    total = [0, 0]
    newest = 0
    for folder in _folder_dirs(root):
        for sub in ("new", "cur"):
            newest = max(newest, _count_dir(os.path.join(folder, sub), total))
    return Usage(total[0], total[1]), newest


def _dir_stamp(root: str) -> int:
    newest = 0
    for folder in _folder_dirs(root):
        for sub in ("new", "cur"):
            try:
                newest = max(newest, os.stat(os.path.join(folder, sub)).st_mtime_ns)
            except OSError:
                continue
    return newest


# ---------------------------------------------------------------- locking

_held_locks: dict[tuple[int, int], tuple[int, int]] = {}


class _QuotaLock:
    """What :func:`quota_lock` returns; :meth:`close` is its ``__exit__``.

    A class rather than ``contextlib.contextmanager``, so that deliverquota
    does not import contextlib.
    """

    __slots__ = ("_fd", "_key", "_root")

    def __init__(self, root: str) -> None:
        self._root = root
        self._key: tuple[int, int] | None = None  # None: nothing to undo
        self._fd = -1  # -1 with a key: a nested hold of this process's lock

    def acquire(self) -> None:
        try:
            fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            return
        locked = False
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            held = _held_locks.get(key)
            if held is None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    locked = True
                except OSError:
                    pass  # carry on unlocked, as Courier always does
        except BaseException:
            os.close(fd)
            raise
        if not locked:
            os.close(fd)
            if held is not None:  # this process holds it already: count the nesting
                _held_locks[key] = (held[0], held[1] + 1)
                self._key = key
            return
        _held_locks[key] = (fd, 1)
        self._key, self._fd = key, fd

    def close(self) -> None:
        key, fd = self._key, self._fd
        self._key, self._fd = None, -1
        if key is None:
            return
        if fd == -1:
            held = _held_locks.get(key)
            if held is not None and held[1] > 1:
                _held_locks[key] = (held[0], held[1] - 1)
            return
        held = _held_locks.pop(key, None)
        if held is not None and held[1] > 1:  # pragma: no cover - unbalanced use
            _held_locks[key] = (held[0], held[1] - 1)
        else:
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def quota_lock(root: str) -> _QuotaLock:
    """Hold an exclusive flock on the quota root directory (re-entrant per process).

    Use as ``with quota_lock(root):``.  Only our processes take it; it
    serialises check, link and append so that concurrent deliveries cannot
    all pass the same check.  Where the file system refuses the lock we
    carry on unlocked, as Courier always does.
    """
    return _QuotaLock(root)


# ---------------------------------------------------------------- file access


def _open_maildirsize(path: str, flags: int) -> int | None:
    """Open maildirsize; ``None`` when it is absent, a symlink or not a file.

    Courier treats a maildirsize it cannot safely open as "no quota".
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
    except OSError:
        os.close(fd)
        return None
    return fd


def read_maildirsize(maildir: str) -> MaildirSize | None:
    """Read the maildirsize governing ``maildir``; ``None`` if it has no quota."""
    path = os.path.join(quota_root(maildir), MAILDIRSIZE)
    fd = _open_maildirsize(path, os.O_RDONLY)
    if fd is None:
        return None
    try:
        chunks = []
        remaining = MAX_MAILDIRSIZE
        while remaining > 0:
            chunk = os.read(fd, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        mtime = os.fstat(fd).st_mtime
    except OSError:
        return None
    finally:
        os.close(fd)
    return parse_maildirsize(b"".join(chunks), path, mtime)


def append_line(path: str, nbytes: int, messages: int) -> bool:
    """Append one size line in a single O_APPEND write; ``False`` if no file.

    A short write (full disk) leaves a cut line, which the next reader takes
    as damage and repairs by recounting.
    """
    fd = _open_maildirsize(path, os.O_WRONLY | os.O_APPEND)
    if fd is None:
        return False
    try:
        os.write(fd, format_line(nbytes, messages))
    except OSError:
        return False  # as Courier: the count is repaired by a later recount
    finally:
        os.close(fd)
    return True


def _new_size_file(root: str) -> tuple[str, int]:
    host = os.uname().nodename or "localhost"  # gethostname(), without socket
    tmpdir = os.path.join(root, "tmp")
    while True:
        path = os.path.join(tmpdir, f"{int(time.time())}.{os.getpid()}_NeWmAiLdIrSiZe.{host}")
        try:
            fd = os.open(
                path,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
            )
        except FileExistsError:
            time.sleep(0.05)  # same second and pid as an earlier recount: wait
            continue
        except OSError as exc:
            raise DeliveryFailed(f"{path}: {exc.strerror}") from exc
        return path, fd


def write_maildirsize(root: str, quota: QuotaSpec, usage: Usage) -> None:
    """Replace maildirsize atomically with the quota line and one size line."""
    path, fd = _new_size_file(root)
    content = f"{quota.format()}\n".encode("latin-1") + format_line(usage.bytes, usage.messages)
    try:
        try:
            written = os.write(fd, content)
            if written != len(content):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(path, os.path.join(root, MAILDIRSIZE))
    except OSError as exc:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise DeliveryFailed(f"{path}: {exc.strerror or exc}") from exc


class _RecountRace(Exception):
    pass


def _recount_once(root: str, quota: QuotaSpec) -> Usage:
    usage, before = scan_usage(root)
    write_maildirsize(root, quota, usage)
    if _dir_stamp(root) != before:
        raise _RecountRace
    return usage


# ---------------------------------------------------------------- checking


class QuotaState(FrozenRecord):
    """The quota governing a maildir and its usage, for GETQUOTA and -w."""

    __slots__ = __match_args__ = ("root", "quota", "usage")
    root: str
    quota: QuotaSpec
    usage: Usage

    def __init__(self, root: str, quota: QuotaSpec, usage: Usage) -> None:
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "quota", quota)
        object.__setattr__(self, "usage", usage)

    @property
    def percent(self) -> int:
        return self.quota.percent(self.usage)


def _check(
    root: str, info: MaildirSize, quota: QuotaSpec, extra: Usage, force_recount: bool
) -> tuple[bool, Usage, bool]:
    """Courier's check: ``(fits, usage, counted)``; recounts when the rules say so.

    ``counted`` is false when every recount raced with another writer and
    the check gave up (Courier then accepts and appends nothing).
    """
    needs_recount = force_recount or info.needs_recount
    if not needs_recount and quota.allows(info.usage + extra):
        return True, info.usage, True
    if (
        not needs_recount
        and info.lines == 1
        and time.time() < info.mtime + RECOUNT_GRACE_SECONDS
    ):
        return False, info.usage, True
    for _attempt in range(RECOUNT_ATTEMPTS):
        try:
            usage = _recount_once(root, quota)
        except _RecountRace:
            continue
        return quota.allows(usage + extra), usage, True
    usage, _stamp = scan_usage(root)
    return True, usage, False


def read_quota(maildir: str) -> QuotaState | None:
    """The quota and usage governing ``maildir``; ``None`` if no quota is set.

    Like Courier's maildir_readquota this may recount (and rewrite) the file.
    """
    root = quota_root(maildir)
    with quota_lock(root):
        info = read_maildirsize(maildir)
        if info is None:
            return None
        _fits, usage, _counted = _check(root, info, info.quota, Usage(), False)
        return QuotaState(root, info.quota, usage)


def fits(maildir: str, nbytes: int, messages: int = 1) -> bool:
    """Whether adding ``nbytes``/``messages`` would stay within the quota."""
    root = quota_root(maildir)
    with quota_lock(root):
        info = read_maildirsize(maildir)
        if info is None:
            return True
        return _check(root, info, info.quota, Usage(nbytes, messages), False)[0]


def recalculate(maildir: str) -> Usage | None:
    """Force a recount of the maildir's usage; ``None`` if it has no quota."""
    root = quota_root(maildir)
    with quota_lock(root):
        info = read_maildirsize(maildir)
        if info is None:
            return None
        return _check(root, info, info.quota, Usage(), True)[1]


def set_quota(maildir: str, spec: str) -> None:
    """What ``maildirmake -q SPEC`` does: write the quota line and a recount.

    An existing maildirsize is replaced.  A folder's quota is its parent's.
    Raises :class:`InvalidQuotaSpec` when ``spec`` sets no limit (Courier then
    writes nothing).
    """
    quota = parse_spec(spec)
    if not quota.is_limited:
        raise InvalidQuotaSpec(f"quota string {spec!r} sets no limit")
    root = quota_root(maildir)
    with quota_lock(root):
        for _attempt in range(RECOUNT_ATTEMPTS):
            try:
                _recount_once(root, quota)
            except _RecountRace:
                continue
            return


def record_change(maildir: str, nbytes: int, messages: int) -> None:
    """Append a delta without a quota check (expunge: ``-size, -1``).

    Like Courier's maildir_quota_deleted, a damaged or oversized file is
    recounted first.  Without a maildirsize nothing happens.
    """
    root = quota_root(maildir)
    with quota_lock(root):
        info = read_maildirsize(maildir)
        if info is None:
            return
        _check(root, info, info.quota, Usage(nbytes, messages), False)
        append_line(info.path, nbytes, messages)


class QuotaReservation:
    """Room checked for one addition; :meth:`commit` appends its size line.

    Holds the quota lock until committed or released, so that the caller's
    link into ``new/``/``cur/`` and the append happen with no other of our
    deliveries in between.  Use as a context manager.

    The line goes to the maildirsize that was open when the room was
    checked, as in Courier: if a recount replaces the file between the
    caller's link and :meth:`commit`, that recount already counted the
    message and the line lands in the replaced file, not twice.
    """

    def __init__(self, root: str, path: str | None, usage: Usage, extra: Usage,
                 quota: QuotaSpec | None, lock: _Closable) -> None:
        self.root = root
        self.path = path  # None: no quota (or Courier's give-up after races)
        self.usage_before = usage
        self.extra = extra
        self.quota = quota
        self._lock = lock
        self._fd = (
            _open_maildirsize(path, os.O_WRONLY | os.O_APPEND) if path is not None else None
        )

    def commit(self) -> None:
        """Append the reserved delta (if there is a quota) and release the lock."""
        try:
            if self._fd is not None:
                try:
                    os.write(self._fd, format_line(self.extra.bytes, self.extra.messages))
                except OSError:
                    pass  # repaired by a later recount
        finally:
            self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._lock.close()

    def __enter__(self) -> QuotaReservation:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def reserve(maildir: str, nbytes: int, messages: int = 1, *,
            new_quota: str | None = None) -> QuotaReservation:
    """Check that ``nbytes``/``messages`` fit and hold the quota lock.

    Raises :class:`QuotaExceeded` (lock released) when they do not.
    ``new_quota`` is deliverquota's obsolete second argument: with no
    maildirsize it creates one; with a different quota it replaces the quota
    line (by a recount).
    """
    root = quota_root(maildir)
    extra = Usage(nbytes, messages)
    lock = quota_lock(root)
    lock.acquire()
    try:
        info = read_maildirsize(maildir)
        force = False
        quota = info.quota if info is not None else None
        if new_quota is not None:
            wanted = parse_spec(new_quota)
            if wanted.is_limited and (info is None or info.quota != wanted):
                if info is None:
                    set_quota(maildir, new_quota)
                    info = read_maildirsize(maildir)
                    quota = info.quota if info is not None else None
                else:
                    quota, force = wanted, True
        if info is None or quota is None:
            return QuotaReservation(root, None, Usage(), extra, None, lock)
        fits_now, usage, counted = _check(root, info, quota, extra, force)
        if not fits_now:
            raise QuotaExceeded(f"{maildir}: mail quota exceeded")
        return QuotaReservation(root, info.path if counted else None, usage, extra, quota, lock)
    except BaseException:
        lock.close()
        raise
