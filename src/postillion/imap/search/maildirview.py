"""A plain :class:`~.view.MessageView` over a scanned Maildir folder.

For tools, benchmarks and tests that search a folder without a session
(the interop test uses the UIDs Courier assigned).  Flags come from the
file name (keywords are left to callers), the internal date is the
file's mtime as in Courier, and RFC822.SIZE is computed on first use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from postillion.maildir.filenames import base_name
from postillion.message.crlf import crlf_length
from postillion.message.headers import read_header_block

if TYPE_CHECKING:
    from postillion.maildir.uiddb import FolderScan

# Maildir info letters -> IMAP system flags (Courier's mapping).
FLAG_LETTERS = {"S": "\\Seen", "R": "\\Answered", "F": "\\Flagged", "T": "\\Deleted",
                "D": "\\Draft"}


class MaildirMessage:
    """One message file; reads it only when asked."""

    __slots__ = ("_size", "cache_key", "filename", "flags", "internaldate", "path", "seq", "uid")

    def __init__(self, seq: int, uid: int, path: str, flags: frozenset[str],
                 internaldate: datetime) -> None:
        self.seq = seq
        self.uid = uid
        self.path = path
        self.filename = os.path.basename(path)
        self.cache_key = (uid, base_name(self.filename))
        self.flags = flags
        self.internaldate = internaldate
        self._size: int | None = None

    @property
    def size(self) -> int:
        if self._size is None:
            self._size = crlf_length(self.full_bytes())
        return self._size

    def header_bytes(self) -> bytes:
        with open(self.path, "rb") as stream:
            return read_header_block(stream)

    def full_bytes(self) -> bytes:
        with open(self.path, "rb") as stream:
            return stream.read()


def flags_from_letters(letters: str) -> frozenset[str]:
    return frozenset(FLAG_LETTERS[c] for c in letters if c in FLAG_LETTERS)


def internaldate_of(mtime_ns: int) -> datetime:
    """INTERNALDATE of a message file: its mtime in whole seconds, as
    Courier reports it (st_mtime).  (mtime_ns / 1e9 as a float could round
    the last microseconds of a second up to the next one.)"""
    return datetime.fromtimestamp(mtime_ns // 1_000_000_000, UTC)


def folder_views(folder_dir: str, scan: FolderScan,
                 keywords: dict[str, frozenset[str]] | None = None) -> Sequence[MaildirMessage]:
    """A view per scanned message, sequence numbers in UID order.
    ``keywords`` maps a file's base name to its keywords."""
    views = []
    for seq, message in enumerate(scan.messages, 1):
        path = os.path.join(folder_dir, message.subdir, message.filename)
        stamp = os.stat(path).st_mtime_ns
        flags = flags_from_letters(message.flags)
        if keywords:
            flags |= keywords.get(message.base, frozenset())
        views.append(MaildirMessage(seq, message.uid, path, flags,
                                    internaldate_of(stamp)))
    return views
