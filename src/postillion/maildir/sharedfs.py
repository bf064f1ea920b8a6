"""``shared-maildirs``: the sharable maildirs a maildir subscribes to.

Filesystem-based shared folders (Courier's ``shared.`` namespace): a
sharable maildir (``maildirmake -S``) is offered to users by listing it in
their maildir's ``shared-maildirs`` file, one ``<name>\\t<absolute path>``
line each (``maildirmake --add name=path`` / ``--del name``).  Access is by
Unix permissions alone.

Reading follows Courier (:func:`parse_line`): ``#`` starts a comment, name
and path are separated by blanks, a line without a path is ignored.
A name may not contain ``.`` or ``/``; it must not be defined already, here
or in the system-wide list ``/etc/courier/maildirshared``.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from postillion.maildir.errors import InvalidMailboxName, MailboxExists, MailboxNotFound
from postillion.maildir.filenames import new_unique_name

SHARED_MAILDIRS = "shared-maildirs"
SYSTEM_SHARED = "/etc/courier/maildirshared"
_BLANKS = " \t\r\n"


@dataclass(frozen=True, slots=True)
class SharedMaildir:
    name: str
    path: str


class AlreadyShared(MailboxExists):
    """The name is defined already; ``where`` is the system file, or None."""

    def __init__(self, name: str, where: str | None) -> None:
        super().__init__(f"{name}: already defined as a sharable maildir")
        self.name = name
        self.where = where


def parse_line(line: str) -> SharedMaildir | None:
    """A line of a shared-maildirs file, or None (comment, blank, no path).

    As Courier 5.0 reads it (checked by running maildirmake --add/--del on
    odd lines): the name is everything before the first blank, possibly
    empty (``"  x /p"`` has name ``""`` and path ``x``); the path is the next
    word; ``#`` ends the line.
    """
    text = line.partition("#")[0]
    cut = next((i for i, ch in enumerate(text) if ch in _BLANKS), -1)
    if cut < 0:
        return None
    rest = text[cut:].split()
    if not rest:
        return None
    return SharedMaildir(text[:cut], rest[0])


def _read_lines(path: str) -> list[str]:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "surrogateescape").splitlines()


def read_shared_maildirs(maildir: str) -> list[SharedMaildir]:
    """The entries of ``maildir``'s shared-maildirs (no file: none)."""
    try:
        lines = _read_lines(os.path.join(maildir, SHARED_MAILDIRS))
    except FileNotFoundError:
        return []
    return [entry for line in lines if (entry := parse_line(line)) is not None]


def check_name(name: str) -> None:
    """Refuse a name with ``.`` or ``/`` (maildirmake: ``NAME: invalid name``)."""
    if "." in name or "/" in name:
        raise InvalidMailboxName(f"{name}: invalid name")


def add_shared(maildir: str, name: str, path: str, *,
               system_file: str = SYSTEM_SHARED) -> None:
    """Append ``name<TAB>path`` to ``maildir``'s shared-maildirs.

    The caller (maildirmake) has checked that ``path`` is absolute and
    readable.  Raises :class:`InvalidMailboxName`, :class:`AlreadyShared`,
    or :class:`OSError` for file system errors.
    """
    check_name(name)
    if not os.path.isdir(maildir):
        raise FileNotFoundError(2, os.strerror(2), maildir)
    with contextlib.suppress(OSError):
        for line in _read_lines(system_file):
            entry = parse_line(line)
            if entry is not None and entry.name == name:
                raise AlreadyShared(name, system_file)
    target = os.path.join(maildir, SHARED_MAILDIRS)
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
    with os.fdopen(fd, "r+b") as f:
        existing = f.read().decode("utf-8", "surrogateescape").splitlines()
        for line in existing:
            entry = parse_line(line)
            if entry is not None and entry.name == name:
                raise AlreadyShared(name, None)
        f.write(f"{name}\t{path}\n".encode("utf-8", "surrogateescape"))


def del_shared(maildir: str, name: str) -> None:
    """Remove ``name``'s lines from shared-maildirs (atomic rewrite).

    Like Courier the file is rewritten even when the name is absent, and
    then :class:`MailboxNotFound` is raised.  A missing file raises
    :class:`FileNotFoundError`.  The ``shared-folders/<name>`` mirror is not
    removed (Courier does not either).
    """
    source = os.path.join(maildir, SHARED_MAILDIRS)
    lines = _read_lines(source)
    kept: list[str] = []
    found = False
    for line in lines:
        entry = parse_line(line)
        if entry is not None and entry.name == name:
            found = True
            continue
        kept.append(line)
    tmp_path = os.path.join(maildir, "tmp", new_unique_name("_shared").tmp_name())
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write("".join(f"{line}\n" for line in kept).encode("utf-8", "surrogateescape"))
        os.rename(tmp_path, source)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_path)
        raise
    if not found:
        raise MailboxNotFound(f"{name}: not found.")
