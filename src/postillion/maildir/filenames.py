"""Message file names as Courier writes and reads them.

A delivered message is named::

    <time>.M<usec>P<pid>V<dev>I<ino>.<host>,S=<size>[:2,<flags>]

where ``dev`` and ``ino`` are those of the file itself, as 16 upper-case hex
digits, and ``size`` is the exact byte size.  Files appended by a long-running
process carry a per-process counter ``_<n>`` after the inode part.  The part
before ``:`` is the *base name*, which is what ``courierimapuiddb`` and the
keyword files record; flags live only in the ``:2,`` info.
"""

from __future__ import annotations

import itertools
import os
import sys
import time

from postillion.maildir._record import FrozenRecord

# The five flags Courier keeps in the file name, and the order it writes them
# in (ASCII order of the letters).
FLAG_LETTERS = "DFRST"
#: How file names become bytes (os.fsencode's codec, for str.encode on
#: 100,000 names at once without a call each).
FS_ENCODING = sys.getfilesystemencoding()
FS_ERRORS = sys.getfilesystemencodeerrors()

_counter = itertools.count()


def hostname() -> str:
    """The host part of a unique name, with ``/`` and ``:`` made harmless.

    Courier writes the name as gethostname() returns it; those two characters
    would break the file name, so they become their octal escapes as
    the Maildir specification asks.  (``os.uname().nodename`` is what
    gethostname() returns, without importing :mod:`socket`.)
    """
    host = os.uname().nodename or "localhost"
    return host.replace("/", "\\057").replace(":", "\\072")


class UniqueName(FrozenRecord):
    """The pieces of a new unique name, before the file exists."""

    __slots__ = __match_args__ = ("seconds", "usec", "pid", "host", "suffix")
    seconds: int
    usec: int
    pid: int
    host: str
    suffix: str  # "_<n>" for per-process counters, "_warn" for warnings

    def __init__(self, seconds: int, usec: int, pid: int, host: str, suffix: str = "") -> None:
        object.__setattr__(self, "seconds", seconds)
        object.__setattr__(self, "usec", usec)
        object.__setattr__(self, "pid", pid)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "suffix", suffix)

    def tmp_name(self, size: int | None = None) -> str:
        """The name in ``tmp/``: as the final name but without V/I."""
        name = f"{self.seconds}.M{self.usec}P{self.pid}{self.suffix}.{self.host}"
        return name if size is None else f"{name},S={size}"

    def final_name(self, dev: int, ino: int, size: int) -> str:
        """The name in ``new/`` or ``cur/`` once the file's inode is known."""
        return (
            f"{self.seconds}.M{self.usec}P{self.pid}V{dev:016X}I{ino:016X}"
            f"{self.suffix}.{self.host},S={size}"
        )


def new_unique_name(suffix: str = "", *, counter: bool = False) -> UniqueName:
    """Pieces for a name nobody else on this host can be using right now.

    ``counter=True`` appends ``_<n>`` with a per-process counter, as imapd does
    for APPENDs, so that one process making several files in one microsecond
    still makes distinct names.
    """
    now = time.time_ns()
    if counter:
        suffix = f"_{next(_counter)}{suffix}"
    return UniqueName(
        seconds=now // 1_000_000_000,
        usec=(now // 1000) % 1_000_000,
        pid=os.getpid(),
        host=hostname(),
        suffix=suffix,
    )


def split_info(filename: str) -> tuple[str, str | None]:
    """Split ``base:2,FLAGS`` into ``(base, "FLAGS")``; ``(name, None)`` if no info.

    Only a ``:2,`` info carries flags; any other ``:`` suffix gives no flags.
    The base is everything up to the last ``:``, as Courier reads it (and as
    :func:`base_name` returns it).
    """
    colon = filename.rfind(":")
    if colon < 0:
        return filename, None
    base, info = filename[:colon], filename[colon + 1 :]
    if info.startswith("2,"):
        return base, info[2:]
    return base, None


def base_name(filename: str) -> str:
    """The name without its ``:`` info: what the uid database records."""
    colon = filename.rfind(":")
    return filename if colon < 0 else filename[:colon]


def flags_of(filename: str) -> str:
    """The flag letters of a file name, ``""`` if it has no ``:2,`` info."""
    return split_info(filename)[1] or ""


def with_flags(filename: str, flags: str) -> str:
    """The name with its ``:2,`` info replaced by ``flags``.

    Letters are written in ASCII order and de-duplicated.  Letters other than
    Courier's five are kept when the caller passes them; imapd drops them when
    it rewrites flags, and the IMAP layer does the same by passing only those.
    """
    ordered = _in_order.get(flags)
    if ordered is None:
        ordered = "".join(sorted(set(flags)))
        if len(_in_order) < 256:
            _in_order[flags] = ordered
    return f"{base_name(filename)}:2,{ordered}"


#: Letter strings in the order they are written: a STORE over 100,000
#: messages asks for the same few.  (A dict, not functools.lru_cache:
#: deliverquota imports this module and nothing slow.)
_in_order: dict[str, str] = {}


def size_from_name(filename: str) -> int | None:
    """The message size recorded as ``,S=<n>`` in the base name, if any."""
    base = base_name(filename)
    pos = base.rfind(",S=")
    if pos < 0:
        return None
    digits = base[pos + 3 :]
    if digits.isdigit() and digits.isascii():  # the usual case: S= ends the base
        return int(digits)
    end = 0
    while end < len(digits) and "0" <= digits[end] <= "9":
        end += 1
    return int(digits[:end]) if end else None


def is_message_name(filename: str) -> bool:
    """Whether a directory entry in ``new/`` or ``cur/`` can be a message.

    Maildir readers skip dot files (temporary and hidden files of other
    programs).
    """
    return bool(filename) and not filename.startswith(".")
