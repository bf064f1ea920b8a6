"""The directories and marker files that make a maildir or a folder."""

from __future__ import annotations

import os

from postillion.maildir.errors import MailboxExists

SUBDIRS = ("tmp", "new", "cur")
FOLDER_MARKER = "maildirfolder"


def is_maildir(path: str) -> bool:
    """A directory with ``tmp``, ``new`` and ``cur`` in it."""
    return all(os.path.isdir(os.path.join(path, sub)) for sub in SUBDIRS)


def is_folder(path: str) -> bool:
    """A maildir that is a folder of a parent (has the ``maildirfolder`` marker).

    Its quota is counted in the parent's ``maildirsize``.
    """
    return os.path.exists(os.path.join(path, FOLDER_MARKER))


def create_maildir(
    path: str,
    *,
    folder: bool = False,
    mode: int = 0o700,
    subdir_mode: int | None = None,
    exist_ok: bool = False,
) -> None:
    """Make ``path`` with ``tmp``, ``new`` and ``cur``, as ``maildirmake`` does.

    ``folder=True`` also writes the empty ``maildirfolder`` marker (0600).
    Modes are applied exactly (not filtered by the umask), because
    ``maildirmake -S``/``-s`` rely on them for sharing.  Raises
    :class:`MailboxExists` if ``path`` exists and ``exist_ok`` is false; the
    parent directory must exist.
    """
    sub_mode = mode if subdir_mode is None else subdir_mode
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        if not exist_ok:
            raise MailboxExists(f"{path}: File exists") from None
    else:
        os.chmod(path, mode)
    for sub in SUBDIRS:
        sub_path = os.path.join(path, sub)
        try:
            os.mkdir(sub_path, 0o700)
        except FileExistsError:
            continue
        os.chmod(sub_path, sub_mode)
    if folder:
        marker = os.path.join(path, FOLDER_MARKER)
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)
