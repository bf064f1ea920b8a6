"""A folder's last scan, saved for the next process: ``<folder>/postillion.scan``.

Opening a folder means reading ``courierimapuiddb`` and listing ``cur/``
and ``new/``: at 100,000 messages a 7 MB file parsed and 100,000 names
matched to it, every time a new process SELECTs the folder, although
nothing changed since the last one.  This file holds what that work
produced (each message's UID and file name, UIDNEXT, UIDVALIDITY) with the
stamps of what it was made from: ``new/`` and ``cur/`` as ``(mtime_ns,
inode)`` taken before they were listed, the time the listing started, and
``courierimapuiddb`` as ``(inode, size, mtime_ns)``.  It is believed only
while all three still show those stamps and the listing started a clock
tick after the directories' last change (the rule of the in-process
listing memo, :func:`postillion.maildir.folders.stamps_trusted`): then no
message came, went or changed flags, and the uid database (only ever
replaced by rename) is the same file.  Anything else -- a delivery, a flag
change by any program, a damaged or missing file -- and the folder is read
as before.  Deleting the file loses nothing.

Written by :func:`postillion.maildir.uiddb.save_scan` when a process
leaves a folder; only scans with every message in ``cur/``.

Format (little-endian): the header (:data:`_HEADER`), then the UIDs (u32
each, ascending), then the file names in ``cur/``, NUL-separated (flags
and ``,S=`` sizes are read from the names, as from a listing); the header
carries the message count, the names' length and the body's CRC-32.  The names are
checked as a listing would give them (none empty, no ``/``, no leading
``.``; base names unique, by the reader in :mod:`postillion.maildir.uiddb`).
"""

from __future__ import annotations

import operator
import os
import struct
import sys
import zlib
from array import array
from typing import NamedTuple

from .filenames import FS_ENCODING, FS_ERRORS
from .replacefile import replace_file

NAME = "postillion.scan"
MAGIC = b"PSTLNSCAN\n"
# 2: no sizes kept beside the names (they are in the names).
VERSION = 2
# magic, version, UIDVALIDITY, UIDNEXT, listing start (time.time()),
# new/ mtime_ns and inode, cur/ mtime_ns and inode, uid database inode,
# size and mtime_ns, message count, names length, body CRC-32
_HEADER = struct.Struct("<10sHIIdqQqQQQqIII")

DirStamp = tuple[int, int]          # (st_mtime_ns, st_ino), as folders.dir_stamp
FileStamp = tuple[int, int, int]    # (st_ino, st_size, st_mtime_ns), as uiddb keeps it


class ScanHeader(NamedTuple):
    """What a saved scan was made from, and what it says of the folder."""

    uidvalidity: int
    nextuid: int
    listed_at: float
    new_stamp: DirStamp
    cur_stamp: DirStamp
    uiddb_stamp: FileStamp


class SavedScan(NamedTuple):
    head: ScanHeader
    uids: list[int]          # ascending
    names: list[str]         # file names in cur/, parallel to uids


def _u32(values: list[int] | None = None) -> array[int]:
    out = array("I") if values is None else array("I", values)
    if out.itemsize != 4:  # pragma: no cover - every platform we run on
        out = array("L") if values is None else array("L", values)
    return out


def encode(scan: SavedScan) -> bytes:
    uids = _u32(scan.uids)
    if sys.byteorder == "big":  # pragma: no cover
        uids.byteswap()
    count = len(scan.uids)
    body = uids.tobytes() + "\0".join(scan.names).encode(FS_ENCODING, FS_ERRORS)
    h = scan.head
    head = _HEADER.pack(MAGIC, VERSION, h.uidvalidity, h.nextuid, h.listed_at,
                        *h.new_stamp, *h.cur_stamp, *h.uiddb_stamp,
                        count, len(body) - 4 * count, zlib.crc32(body))
    return head + body


def _header(data: bytes) -> tuple[ScanHeader, int, int, int] | None:
    """The header, message count, names length and body CRC of a file."""
    if len(data) < _HEADER.size:
        return None
    (magic, version, uidvalidity, nextuid, listed_at, new_mtime, new_ino, cur_mtime, cur_ino,
     db_ino, db_size, db_mtime, count, names_len, crc) = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        return None
    head = ScanHeader(uidvalidity, nextuid, listed_at, (new_mtime, new_ino),
                      (cur_mtime, cur_ino), (db_ino, db_size, db_mtime))
    return head, count, names_len, crc


def decode(data: bytes) -> SavedScan | None:
    """The scan in a file's bytes, or None when they are not a whole,
    sane scan of this version."""
    found = _header(data)
    if found is None:
        return None
    head, count, names_len, crc = found
    nextuid = head.nextuid
    body = memoryview(data)[_HEADER.size:]
    if len(body) != 4 * count + names_len or zlib.crc32(body) != crc:
        return None
    uids = _u32()
    uids.frombytes(body[:4 * count])
    if sys.byteorder == "big":  # pragma: no cover
        uids.byteswap()
    uid_list = uids.tolist()
    try:
        text = bytes(body[4 * count:]).decode(FS_ENCODING, FS_ERRORS)
    except UnicodeDecodeError:
        return None
    names = text.split("\0") if count else []
    if len(names) != count or (not count and text):
        return None
    if count and not (uid_list[0] > 0 and uid_list[-1] < nextuid
                      and all(map(operator.lt, uid_list, uid_list[1:]))):  # ascending
        return None
    # Names as a listing gives them: none empty, none starting with ".",
    # none with "/" (checked on the whole text, not name by name).
    if "/" in text or text.startswith((".", "\0")) or "\0." in text or "\0\0" in text \
            or text.endswith("\0"):
        return None
    return SavedScan(head, uid_list, names)


def read_header(folder_dir: str) -> ScanHeader | None:
    """Just the header of the folder's file (whether the body is whole is
    not checked)."""
    try:
        with open(os.path.join(folder_dir, NAME), "rb") as f:
            found = _header(f.read(_HEADER.size))
    except OSError:
        return None
    return None if found is None else found[0]


def read(folder_dir: str) -> SavedScan | None:
    try:
        with open(os.path.join(folder_dir, NAME), "rb") as f:
            data = f.read()
    except OSError:
        return None
    return decode(data)


def write(folder_dir: str, scan: SavedScan) -> bool:
    """Replace the file; False when the folder cannot be written."""
    try:
        replace_file(folder_dir, NAME, (encode(scan),), tag="_postillionscan")
    except OSError:
        return False
    return True
