"""Folder names: validation, and the mapping between names and directories.

Storage works with folder names as Courier 5 keeps them on disk: UTF-8, with
``.`` as the hierarchy separator, rooted at ``INBOX``.  ``INBOX`` is the
maildir itself; ``INBOX.Work.Kid`` is the directory ``.Work.Kid`` directly in
the maildir (Maildir++ has no nested directories).  Modified UTF-7 is a wire
encoding and is handled by the IMAP layer (:mod:`postillion.maildir.mutf7`
offers the codec so that tools can read legacy names too).

A name is refused when it would not map to exactly one folder directory
inside the maildir: an empty component (``..``, a leading or trailing
``.``), ``/`` (a path separator), NUL or another control character.
"""

from __future__ import annotations

import os

from postillion.maildir.errors import InvalidMailboxName

INBOX = "INBOX"
SEPARATOR = "."

# Characters maildirmake -F (Courier's "x-smap-modutf8" encoding) escapes as a
# backslash and three octal digits, besides control characters.
_ESCAPED = "./~:\\"


def _check_component(component: str, whole: str) -> None:
    if component == "":
        raise InvalidMailboxName(f"{whole!r}: empty hierarchy level")
    for ch in component:
        if ch == "/":
            raise InvalidMailboxName(f"{whole!r}: '/' is not allowed in a folder name")
        if ord(ch) < 0x20 or ch == "\x7f":
            raise InvalidMailboxName(f"{whole!r}: control character in folder name")


def is_inbox(name: str) -> bool:
    """``INBOX`` in any letter case names the inbox."""
    return name.upper() == INBOX


def normalize(name: str) -> str:
    """Validate a full folder name and spell its INBOX part as ``INBOX``.

    ``inbox.Work`` becomes ``INBOX.Work``; ``Work`` (no INBOX prefix) is not a
    name of one's own folder and is refused, as are the names described in the
    module docstring.
    """
    if "\0" in name:
        raise InvalidMailboxName("NUL in folder name")
    head, sep, rest = name.partition(SEPARATOR)
    if not is_inbox(head):
        raise InvalidMailboxName(f"{name!r}: folder names start with INBOX")
    if not sep:
        return INBOX
    for component in rest.split(SEPARATOR):
        _check_component(component, name)
    return f"{INBOX}.{rest}"


def components(name: str) -> list[str]:
    """The hierarchy below INBOX: ``INBOX.A.B`` -> ``["A", "B"]``."""
    normal = normalize(name)
    return [] if normal == INBOX else normal.split(SEPARATOR)[1:]


def from_components(parts: list[str] | tuple[str, ...]) -> str:
    """The inverse of :func:`components`; each part is validated."""
    name = SEPARATOR.join((INBOX, *parts))
    return normalize(name)


def dirname_of(name: str) -> str:
    """The directory entry of a folder inside the maildir: ``INBOX.A.B`` -> ``.A.B``.

    ``INBOX`` itself maps to ``""`` (the maildir).
    """
    normal = normalize(name)
    return "" if normal == INBOX else normal[len(INBOX) :]


def folder_path(maildir: str, name: str) -> str:
    """The absolute directory of a folder; never outside ``maildir``."""
    entry = dirname_of(name)
    if not entry:
        return maildir
    # normalize() guarantees one path component that starts with "." and is
    # neither "." nor ".."; this check is the last line of defence.
    if os.sep in entry or entry in (".", ".."):
        raise InvalidMailboxName(f"{name!r}: escapes the maildir")
    return os.path.join(maildir, entry)


def name_of_dirname(entry: str) -> str | None:
    """The folder name of a directory entry in the maildir, or None.

    Only entries of the form ``.X`` with non-empty components are folders;
    ``.``, ``..`` and names with empty components are not.
    """
    if not entry.startswith(SEPARATOR) or entry in (".", ".."):
        return None
    try:
        return normalize(INBOX + entry)
    except InvalidMailboxName:
        return None


def parent_of(name: str) -> str | None:
    """``INBOX.A.B`` -> ``INBOX.A``; ``INBOX`` -> None."""
    normal = normalize(name)
    if normal == INBOX:
        return None
    return normal.rsplit(SEPARATOR, 1)[0]


def escape_component(text: str) -> str:
    """Encode one folder-name level as ``maildirmake -F`` does.

    Control characters and ``. / ~ : \\`` become ``\\ooo`` (octal), so that a
    user's name with a ``.`` or ``/`` stays one level.  imapd does not decode
    these escapes; they show up over IMAP as they are.
    """
    out = []
    for ch in text:
        if ch in _ESCAPED or ord(ch) < 0x20:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return "".join(out)
