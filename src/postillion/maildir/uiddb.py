"""``courierimapuiddb``: the IMAP UIDs of a folder, in Courier's format.

One file per folder (INBOX's in the maildir itself)::

    1 <uidvalidity> <nextuid>
    <uid> <base name>
    ...

single spaces, LF line ends, entries in ascending UID order, no blank line
at the end.  The base name is the message file name without its ``:2,``
info, so flag changes do not touch the file.  UIDVALIDITY of a new file is
the modification time of its freshly created temporary file minus 10^9.
The file is replaced by writing ``tmp/<time>.M<usec>P<pid>_imapuid_<n>.<host>``
and renaming it over the old one, and only when something changed.

A scan (:func:`scan_and_assign`) holds Courier's folder dot-lock
(:mod:`postillion.maildir.folderlock`), exactly as imapd does with
``IMAP_USELOCKS=1``, so imapd and we never assign UIDs at the same time.

Damage, as imapd handles it: an unreadable header (garbage, empty file,
version other than 1) discards the file and starts over with a new
UIDVALIDITY; entry lines that name no existing message are dropped and the
messages they should have named get new UIDs.  One deliberate difference:
imapd trusts a ``nextuid`` lower than UIDs in the file and hands out
duplicates; we never assign a UID below ``nextuid`` nor below the highest
UID in the file plus one.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import itertools
import logging
import operator
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from postillion.maildir import scanfile
from postillion.maildir.errors import MailboxNotFound
from postillion.maildir.filenames import (
    FS_ENCODING,
    FS_ERRORS,
    base_name,
    flags_of,
    new_unique_name,
    size_from_name,
)
from postillion.maildir.folderlock import folder_lock
from postillion.maildir.folders import (
    CUR,
    FINE_MTIME_SLACK,
    NEW,
    MessageFile,
    PlainListing,
    dir_stamp,
    forget_listing,
    has_new_messages,
    in_file_order,
    list_message_files,
    list_message_files_from,
    list_plain,
    listed_files,
    listed_new_names,
    listing_changes,
    listing_serial,
    listing_stamps,
    listing_token,
    message_file,
    plain_columns,
    stamps_trusted,
)

UIDDB = "courierimapuiddb"
# An entry line: blanks, the UID, one space, blanks, then the base name (the
# rest of the line).  Possessive blanks, so a line of only blanks after the
# UID has no name, as the line-by-line reading had it.
_ENTRY = re.compile(r"^[ \t]*+([0-9]+) [ \t]*+([^\n]+)$", re.MULTILINE)
VERSION = 1
# Courier's IMAP_EPOCH: UIDVALIDITY = time - IMAP_EPOCH keeps it 32-bit.
IMAP_EPOCH = 1_000_000_000


log = logging.getLogger(__name__)
_tmp_counter = itertools.count()


@dataclass(slots=True)
class UidDb:
    """The parsed file: header values and (uid, base name) entries."""

    uidvalidity: int
    nextuid: int
    entries: list[tuple[int, str]] = field(default_factory=list)

    def safe_nextuid(self) -> int:
        """The next UID we may hand out: never below any UID already used."""
        highest = max(map(_first_of_entry, self.entries), default=0)
        return max(self.nextuid, highest + 1, 1)


_first_of_entry = operator.itemgetter(0)


class ScannedMessage(NamedTuple):
    """A message of a scanned folder, in UID order (a tuple: one per message per scan)."""

    uid: int
    filename: str  # the name in subdir at the time of the scan
    subdir: str  # "cur" (or "new" in a read-only scan)
    flags: str

    @property
    def base(self) -> str:
        return base_name(self.filename)

    @property
    def size(self) -> int | None:
        """From ",S=" in the name; None when the name has none."""
        return size_from_name(self.filename)


@dataclass(frozen=True, slots=True)
class ScanChanges:
    """How a scan differs from an earlier scan of the same folder in this
    process (the one numbered ``since``), when it was made by updating
    that scan with the files that changed: whoever keeps a view of the
    earlier scan can update it the same way, in O(changes), instead of
    comparing 100,000 messages (a delivery to a big folder)."""

    since: int                 # the earlier scan's serial
    removed: frozenset[int]    # UIDs no longer there
    renamed: frozenset[int]    # UIDs whose file name (flags, subdir) changed
    added: int                 # messages numbered since: the last ``added`` of messages


_scan_serials = itertools.count(1)


class ScanColumns:
    """A scan's messages as columns (UIDs, and the names and flag letters
    of a plain listing, all in ``cur/``), their records made when first
    asked for: a first SELECT makes its snapshot from the columns."""

    __slots__ = ("_messages", "letters", "names", "uids")

    def __init__(self, uids: Sequence[int], plain: PlainListing) -> None:
        assert len(uids) == len(plain.names) == len(plain.letters)
        self.uids = uids
        self.names = plain.names
        self.letters = plain.letters
        self._messages: list[ScannedMessage] | None = None

    def messages(self) -> list[ScannedMessage]:
        found = self._messages
        if found is None:
            # (Two threads asking at once make two equal lists: no harm.)
            found = list(map(tuple.__new__, itertools.repeat(ScannedMessage),
                             zip(self.uids, self.names, itertools.repeat(CUR), self.letters)))
            self._messages = found
        return found


@dataclass(frozen=True, slots=True)
class FolderScan:
    """The result of :func:`scan_and_assign`."""

    uidvalidity: int
    nextuid: int  # UIDNEXT
    # The messages (see ``messages``); None when ``columns`` hold them.
    _messages: list[ScannedMessage] | None
    rewritten: bool  # the uid database file was (re)written by this scan
    changes: ScanChanges | None = None
    # Base names this scan moved from new/ to cur/ (\Recent for one session).
    moved: frozenset[str] = frozenset()
    # Equal serials: the same messages (a scan given again).
    serial: int = field(default_factory=_scan_serials.__next__)
    # The messages' base names, parallel to ``messages``, when the scan
    # made them anyway (a first SELECT then does not cut 100,000 names
    # again); never changed.
    bases: list[str] | None = None
    columns: ScanColumns | None = None

    @property
    def messages(self) -> list[ScannedMessage]:
        """In UID order; never changed."""
        found = self._messages
        if found is None:
            assert self.columns is not None
            found = self.columns.messages()
            object.__setattr__(self, "_messages", found)
        return found


def _parse_int(text: str) -> int | None:
    return int(text) if text.isdigit() and text.isascii() else None


def parse(data: bytes) -> UidDb | None:
    """Parse the file; ``None`` when the header is unusable (imapd rebuilds).

    Entry lines whose UID is not a positive number are skipped, as are later
    repeats of a UID or of a base name (damage; those messages get new UIDs).
    """
    text = os.fsdecode(data)
    first, _nl, body = text.partition("\n")
    header = first.split()
    if len(header) < 3:
        return None
    version, uidvalidity, nextuid = (_parse_int(v) for v in header[:3])
    if version != VERSION or uidvalidity is None or nextuid is None:
        return None
    db = UidDb(uidvalidity, nextuid)
    # One regular expression over the whole file instead of Python code per
    # line: 100,000-entry files are read at every SELECT.
    pairs = _ENTRY.findall(body)
    uids = [int(uid) for uid, _name in pairs]
    names = [name for _uid, name in pairs]
    if len(set(uids)) == len(uids) and len(set(names)) == len(names) and 0 not in uids:
        db.entries = list(zip(uids, names, strict=True))
        return db
    seen_uids: set[int] = set()
    seen_names: set[str] = set()
    for uid, name in zip(uids, names, strict=True):
        if not uid or uid in seen_uids or name in seen_names:
            continue
        seen_uids.add(uid)
        seen_names.add(name)
        db.entries.append((uid, name))
    return db


def format_uiddb(db: UidDb) -> bytes:
    """The file's bytes: header, then entries in ascending UID order."""
    return _header(db) + _entry_lines(sorted(db.entries))


def _header(db: UidDb) -> bytes:
    return f"{VERSION} {db.uidvalidity} {db.nextuid}\n".encode()


def _entry_lines(entries: list[tuple[int, str]]) -> bytes:
    # One %-format of a template repeated for every entry: the lines are
    # made in C, not by a Python step per line (100,000 lines: ~18 ms
    # instead of ~27).
    values = tuple(itertools.chain.from_iterable(entries))
    return (("%d %s\n" * len(entries)) % values).encode(FS_ENCODING, FS_ERRORS)


# The last parse of each folder's file, by the file's (inode, size,
# mtime_ns): the file is only ever replaced by rename, so an equal stamp is
# the same content, and a 100,000-line file is not parsed again at every
# scan.  Entries and the reverse map are never changed once remembered.
# A file this process wrote for added messages (assign_added) also keeps
# its entry lines, so that the next addition formats only its own lines.
FileStamp = tuple[int, int, int]
_PARSED_MEMO_SIZE = 256


class _Parsed(NamedTuple):
    stamp: FileStamp
    db: UidDb
    known: dict[str, int]       # base name -> UID
    lines: bytes | None         # the file's entry lines, when kept


_parsed: OrderedDict[str, _Parsed] = OrderedDict()
_parsed_lock = threading.Lock()


def _file_stamp(st: os.stat_result) -> FileStamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _remember_parse(folder_dir: str, stamp: FileStamp, db: UidDb,
                    known: dict[str, int] | None = None,
                    lines: bytes | None = None) -> dict[str, int]:
    if known is None:
        known = {base: uid for uid, base in db.entries}
    with _parsed_lock:
        _parsed[folder_dir] = _Parsed(stamp, db, known, lines)
        _parsed.move_to_end(folder_dir)
        while len(_parsed) > _PARSED_MEMO_SIZE:
            _parsed.popitem(last=False)
    return known


# The last scan of each folder and mode: given again while the uid database
# and the listing are the very same objects, else updated with what changed.
_scans: dict[tuple[str, bool], _LastScan] = {}
_SCAN_MEMO_SIZE = 64


# Scans read from postillion.scan files, by their header: while a folder
# is unchanged, read-only scans of it (STATUS) do not decode the file again.
_saved_scans: dict[str, tuple[scanfile.ScanHeader, FolderScan]] = {}


def forget_parses() -> None:
    """Drop every remembered parse and scan (tests; memory)."""
    with _parsed_lock:
        _parsed.clear()
        _scans.clear()
        _saved_scans.clear()


def _read_known(folder_dir: str) -> tuple[UidDb | None, dict[str, int]]:
    """The parsed file and its base name -> UID map, from the memo when
    the file is the one parsed last."""
    found = _remembered(folder_dir)
    if isinstance(found, _Parsed):
        return found.db, found.known
    db = read_uiddb(folder_dir)
    if db is None:
        return None, {}
    if found is None:
        return db, {base: uid for uid, base in db.entries}
    return db, _remember_parse(folder_dir, found, db)


def known_stamp(folder_dir: str) -> FileStamp | None:
    """``(inode, size, mtime_ns)`` of the folder's uid database as this
    process last read or wrote it (None if it has not)."""
    with _parsed_lock:
        found = _parsed.get(folder_dir)
    return None if found is None else found.stamp


def _remembered(folder_dir: str) -> _Parsed | FileStamp | None:
    """The memo of the folder's file if the file is still the one it
    describes, else the file's stamp (None if it cannot be had)."""
    try:
        stamp = _file_stamp(os.stat(os.path.join(folder_dir, UIDDB)))
    except OSError:
        return None
    with _parsed_lock:
        found = _parsed.get(folder_dir)
    return found if found is not None and found.stamp == stamp else stamp


def read_uiddb(folder_dir: str) -> UidDb | None:
    """The folder's uid database, or ``None`` if missing or unusable."""
    path = os.path.join(folder_dir, UIDDB)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        log.warning("%s is a directory; UIDs cannot be kept", path)
        return None
    except OSError as exc:
        log.warning("%s: %s; rebuilding", path, exc.strerror)
        return None
    db = parse(data)
    if db is None:
        log.warning("%s: unreadable header; new UIDVALIDITY", path)
    return db


def _damaged_uidvalidity(folder_dir: str) -> int | None:
    """The highest UIDVALIDITY an unusable file can have stood for, if it exists.

    Its header may still show one; besides, a UIDVALIDITY is taken from the
    clock when the file is made, so it is at most the file's mtime - 10^9.
    """
    path = os.path.join(folder_dir, UIDDB)
    try:
        highest = int(os.stat(path).st_mtime) - IMAP_EPOCH
    except OSError:
        return None
    try:
        with open(path, "rb") as f:
            fields = f.readline(200).split()
    except OSError:
        return highest
    if len(fields) >= 2 and fields[1].isdigit():
        highest = max(highest, int(fields[1]))
    return highest


def _temp_file(folder_dir: str) -> tuple[str, int]:
    """Create imapd's kind of temp file, ``tmp/<time>.M<usec>P<pid>_imapuid_<n>.<host>``."""
    while True:
        name = new_unique_name(f"_imapuid_{next(_tmp_counter)}").tmp_name()
        path = os.path.join(folder_dir, "tmp", name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        except FileNotFoundError as exc:
            raise MailboxNotFound(f"{folder_dir}: not a maildir") from exc
        return path, fd


def new_uidvalidity(folder_dir: str) -> int:
    """A UIDVALIDITY as imapd makes one (for a folder without a usable file)."""
    return int(time.time()) - IMAP_EPOCH


def write_uiddb(folder_dir: str, db: UidDb, *, durable: bool = True,
                known: dict[str, int] | None = None, lines: bytes | None = None) -> bool:
    """Replace the folder's uid database atomically; False if it cannot be.

    ``lines``, if given, are the entry lines of ``db`` already formatted
    (ascending UIDs); they are then remembered for the next addition.
    A directory in the file's place (damage) cannot be replaced; that is
    reported by returning False and the UIDs stay in memory only.
    """
    path, fd = _temp_file(folder_dir)
    try:
        try:
            # Header and lines written one after the other: a 100,000-line
            # file is not copied again to put a header before it.
            for part in (format_uiddb(db),) if lines is None else (_header(db), lines):
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
            stamp = _file_stamp(os.fstat(fd))
        finally:
            os.close(fd)
        os.rename(path, os.path.join(folder_dir, UIDDB))
        _remember_parse(folder_dir, stamp, db, known, lines)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(path)
        log.warning("%s: cannot write %s: %s", folder_dir, UIDDB, exc.strerror or exc)
        return False
    return True


def _saved_scan(folder_dir: str) -> FolderScan | None:
    """The scan another process saved (:mod:`postillion.maildir.scanfile`),
    if the folder and its uid database are still exactly what it was made
    from."""
    head = scanfile.read_header(folder_dir)
    if head is None or not _describes(folder_dir, head):
        return None
    with _parsed_lock:
        found = _saved_scans.get(folder_dir)
    if found is not None and found[0] == head:
        return found[1]  # (a STATUS polled again: the file is not decoded again)
    saved = scanfile.read(folder_dir)
    if saved is None or saved.head != head:
        return None
    plain = plain_columns(saved.names)
    if plain is not None:
        # The usual saved scan (the names plain, their base names ascending
        # with the UIDs): its records made when asked for, as a plain
        # listing's (see _assign_plain).
        scan = FolderScan(head.uidvalidity, head.nextuid, None, False, bases=plain.bases,
                          columns=ScanColumns(saved.uids, plain))
    else:
        # Each name read as a listing reads it (flags, size).
        files = [message_file(CUR, name) for name in saved.names]
        if len({f[2] for f in files}) != len(files):
            return None  # a base name twice: not a listing
        make = tuple.__new__
        messages = [make(ScannedMessage, (uid, f[1], CUR, f[3]))
                    for uid, f in zip(saved.uids, files, strict=True)]
        scan = FolderScan(head.uidvalidity, head.nextuid, messages, False)
    with _parsed_lock:
        _saved_scans[folder_dir] = (head, scan)
        while len(_saved_scans) > _SCAN_MEMO_SIZE:
            del _saved_scans[next(iter(_saved_scans))]
    return scan


def _describes(folder_dir: str, head: scanfile.ScanHeader) -> bool:
    """Whether a saved scan was made from the folder as it is now."""
    stamps = (dir_stamp(os.path.join(folder_dir, NEW)), dir_stamp(os.path.join(folder_dir, CUR)))
    if stamps != (head.new_stamp, head.cur_stamp) or not stamps_trusted(stamps, head.listed_at):
        return False
    try:
        return _file_stamp(os.stat(os.path.join(folder_dir, UIDDB))) == head.uiddb_stamp
    except OSError:
        return False


#: How long save_scan waits for a folder's last change to be a clock tick
#: old (a client that STOREs and logs out leaves a folder changed a moment
#: ago; a listing made then would not be believed).
SETTLE_SECONDS = 0.25


def _settle(folder_dir: str) -> None:
    """Wait, up to :data:`SETTLE_SECONDS`, until ``new/`` and ``cur/``
    changed last a clock tick ago (see :func:`stamps_trusted`)."""
    stamps = [dir_stamp(os.path.join(folder_dir, sub)) for sub in (NEW, CUR)]
    newest = max((s[0] for s in stamps if s is not None), default=0)
    wait = newest / 1e9 + FINE_MTIME_SLACK - time.time()
    if 0 < wait <= SETTLE_SECONDS:
        time.sleep(wait + 0.005)


def save_scan(folder_dir: str) -> bool:
    """Save this process's scan of a folder for the next process to open it
    with (:mod:`postillion.maildir.scanfile`), when it still describes the
    folder: made from a listing the directories still show, started a
    clock tick after their last change (else the folder is listed once
    more), and from the uid database file now in place.  Call it when
    leaving a folder; False when nothing was saved."""
    if not os.path.isdir(os.path.join(folder_dir, CUR)) or has_new_messages(folder_dir):
        return False  # new/ is for the next session to take (\Recent)
    _settle(folder_dir)
    with folder_lock(folder_dir):
        head = scanfile.read_header(folder_dir)
        if head is not None and _describes(folder_dir, head):
            return True  # the file holds the folder as it is already
        key = (folder_dir, False)
        for _attempt in range(3):
            scan = _assign(folder_dir, False, move_new=False)
            with _parsed_lock:
                last = _scans.get(key)
            listing = listing_stamps(folder_dir)
            if (last is not None and listing is not None and not last.moved
                    and last.token == listing_token(folder_dir)):
                break
            if listing is None:
                forget_listing(folder_dir)  # too young to be trusted: list again
            # else the scan was made from the listing before this one (a
            # scan that had to list again): once more, from this listing.
        else:
            return False
        parsed = _remembered(folder_dir)
        if not isinstance(parsed, _Parsed) or parsed.db is not last.db \
                or any(m[2] != CUR for m in scan.messages):
            return False
        new_stamp, cur_stamp, listed_at = listing
        head = scanfile.ScanHeader(scan.uidvalidity, scan.nextuid, listed_at, new_stamp,
                                   cur_stamp, parsed.stamp)
        return scanfile.write(folder_dir, scanfile.SavedScan(
            head, [m[0] for m in scan.messages], [m[1] for m in scan.messages]))


def _assign(folder_dir: str, readonly: bool, *, move_new: bool = True) -> FolderScan:
    with _parsed_lock:
        first_here = (folder_dir, readonly) not in _scans
    if first_here:
        # Nothing of this folder in this process yet: another process may
        # have left exactly this scan behind.
        saved = _saved_scan(folder_dir)
        if saved is not None:
            return saved
    old, known = _read_known(folder_dir)
    damaged_in_place = os.path.isdir(os.path.join(folder_dir, UIDDB))
    dirty = old is None
    if old is None:
        db = UidDb(new_uidvalidity(folder_dir), 1)
        if not readonly and not damaged_in_place:
            # The new file's own time gives UIDVALIDITY, as in imapd.
            path, fd = _temp_file(folder_dir)
            try:
                db.uidvalidity = int(os.fstat(fd).st_mtime) - IMAP_EPOCH
            finally:
                os.close(fd)
                os.unlink(path)
        previous = _damaged_uidvalidity(folder_dir)
        if previous is not None and db.uidvalidity <= previous:
            # A file rebuilt in the second it was made must still change
            # UIDVALIDITY, or clients would keep UIDs that now mean others
            # (imapd takes the clock's value and can repeat the old one).
            db.uidvalidity = previous + 1
    else:
        db = old

    memo_key = (folder_dir, readonly)
    with _parsed_lock:
        last = _scans.get(memo_key)
    if last is not None and (dirty or last.db is not db):
        last = None
    token = listing_token(folder_dir)
    if last is None and not readonly:
        plain = _assign_plain(folder_dir, db, known, dirty)
        if plain is not None:
            scan, written, listing = plain
            _remember_scan(memo_key, _LastScan(written, token, None, _given_again(scan), False,
                                               listing_serial(listing), plain_listing=listing))
            return scan
    # Numbered messages the listing misses may be in mid-rename: listed
    # again.  An update of the last scan asks only about those that
    # vanished since it (see _assign_changes), not about 100,000.
    files, listing = list_message_files_from(folder_dir, () if last is not None else known)
    # Base names whose entries in ``files`` this scan changes after the
    # listing (moves out of new/, messages listed again).
    touched: set[str] = set()
    if (last is not None and last.token == token and token == listing_token(folder_dir)
            and not last.moved):
        # Same uid database, same listing (the directories proved unchanged):
        # the same answer, without 100,000 records rebuilt.
        return last.result
    moved = False
    moved_now: list[str] = []
    if not readonly:
        # moved: the listing no longer shows the folder (or, not moved now,
        # its new/ messages must be moved by the next scan): not reusable.
        in_new = _in_new(folder_dir, files)
        moved = bool(in_new)
        if moved and move_new:
            touched.update(entry.base for entry in in_new)
            files, moved_now = _move_new(folder_dir, files, in_new)
    result = None
    if last is not None and not readonly:
        result = _assign_changes(folder_dir, db, known, files, last,
                                 listing_changes(listing, last.listing), touched)
    if result is None:
        if last is not None:
            missing = known.keys() - files.keys()
            touched.update(missing)
            files = _confirm_listed(folder_dir, files, missing)
            # (One found again in new/ is for the next scan to move.)
            moved = moved or any(files[b][0] == NEW for b in missing if b in files)
        result = _assign_all(folder_dir, readonly, db, known, files, dirty)
    scan, written = result
    if moved_now:
        scan = dataclasses.replace(scan, moved=frozenset(moved_now))
    _remember_scan(memo_key, _LastScan(written, token, files, _given_again(scan), moved,
                                       listing_serial(listing), frozenset(touched)))
    return scan


def _given_again(scan: FolderScan) -> FolderScan:
    """A scan as the memo gives it again: reporting no rewrite and no move
    (those are done)."""
    if not (scan.rewritten or scan.moved):
        return scan
    return dataclasses.replace(scan, rewritten=False, moved=frozenset())


def _remember_scan(memo_key: tuple[str, bool], last: _LastScan) -> None:
    """Keep ``last`` as the folder's last scan in this mode (the newest of
    at most _SCAN_MEMO_SIZE folders)."""
    with _parsed_lock:
        _scans.pop(memo_key, None)
        _scans[memo_key] = last
        while len(_scans) > _SCAN_MEMO_SIZE:
            del _scans[next(iter(_scans))]


@dataclass(slots=True)
class _LastScan:
    """The previous scan of a folder in this process, for the next one."""

    db: UidDb              # the uid database the result agrees with
    token: int | None      # the listing it was made from (folders.listing_token)
    # The files it was made from (never changed); None: the records of
    # ``plain_listing`` (a plain listing's, made when first asked for).
    _files: dict[str, MessageFile] | None
    result: FolderScan
    moved: bool            # it moved messages out of new/ (its listing is stale)
    # The listing ``files`` were taken from (folders.listing_serial; None:
    # several), and the base names whose entries differ from that listing's.
    listing: int | None = None
    touched: frozenset[str] = frozenset()
    plain_listing: object = None

    @property
    def files(self) -> dict[str, MessageFile]:
        files = self._files
        if files is None:
            files = self._files = listed_files(self.plain_listing)
        return files

    @property
    def bases(self) -> list[str]:
        """Base names, parallel to ``result.messages``."""
        bases = self.result.bases
        assert bases is not None  # every scan kept here is made with them
        return bases


_Assigned = tuple[FolderScan, UidDb]

#: A listing token no listing has (serials count from 1): a last scan kept
#: with it is updated by the next scan, never given again as it is.
_NO_LISTING = -1


def _rewrite(folder_dir: str, db: UidDb, nextuid: int, messages: list[ScannedMessage],
             bases: list[str]) -> tuple[bool, UidDb]:
    uids = list(map(_first_of_entry, messages))
    new_db = UidDb(db.uidvalidity, nextuid, list(zip(uids, bases, strict=True)))
    # A scan's messages are in ascending UID order: the lines are written
    # without sorting 100,000 entries again (checked in one pass), and
    # remembered for APPEND.
    entries = new_db.entries
    if not all(map(operator.lt, uids, uids[1:])):
        entries = sorted(entries)
    known, lines = _appended(folder_dir, db, entries)
    if known is None or lines is None:
        known, lines = dict(zip(bases, uids, strict=True)), _entry_lines(entries)
    if write_uiddb(folder_dir, new_db, known=known, lines=lines):
        return True, new_db
    return False, db


def _appended(folder_dir: str, db: UidDb, entries: list[tuple[int, str]],
              ) -> tuple[dict[str, int] | None, bytes | None]:
    """The known map and entry lines of ``entries`` (ascending) made from
    those this process keeps for ``db``'s file, when ``entries`` are that
    file's entries and some more after them (deliveries numbered by a
    scan): a new message in a folder of 100,000 does not format 100,000
    lines again.  (None, None) otherwise."""
    with _parsed_lock:
        memo = _parsed.get(folder_dir)
    old = db.entries
    if (memo is None or memo.db is not db or memo.lines is None or len(old) > len(entries)
            or entries[:len(old)] != old):
        return None, None
    added = entries[len(old):]
    return _known_with(memo.known, added), memo.lines + _entry_lines(added)


def _known_with(known: dict[str, int], added: Iterable[tuple[int, str]]) -> dict[str, int]:
    """A base name -> UID map with entries ``added`` (uid, base): a copy,
    the memo's map being never changed.  (copy(), not dict(): see
    folders._incremental; at 100,000 entries the difference is ~6 ms.)"""
    out = known.copy()
    out.update((base, uid) for uid, base in added)
    return out


def _rewrite_added(folder_dir: str, db: UidDb, nextuid: int, added: list[tuple[int, str]],
                   messages: list[ScannedMessage], bases: list[str]) -> tuple[bool, UidDb]:
    """:func:`_rewrite` for a scan that only numbered new messages
    (``added``, above every UID of ``db``, whose entries are the other
    messages'): the file's entries are the old ones with the new after
    them, without building 100,000 entries again, and its lines the old
    lines (when this process wrote them) with the new ones after them."""
    with _parsed_lock:
        memo = _parsed.get(folder_dir)
    if memo is not None and memo.db is not db:
        memo = None
    entries = db.entries + added
    if len(entries) != len(messages):
        # (Fewer entries than messages: the last rewrite failed.)
        return _rewrite(folder_dir, db, nextuid, messages, bases)
    if memo is not None and memo.lines is not None:
        lines = memo.lines + _entry_lines(added)
    else:
        uids = list(map(_first_of_entry, db.entries))
        if not all(map(operator.lt, uids, uids[1:])):
            return _rewrite(folder_dir, db, nextuid, messages, bases)  # a file out of order
        lines = _entry_lines(entries)
    known = (_known_with(memo.known, added) if memo is not None
             else {base: uid for uid, base in entries})
    new_db = UidDb(db.uidvalidity, nextuid, entries)
    if write_uiddb(folder_dir, new_db, known=known, lines=lines):
        return True, new_db
    return False, db


def _assign_all(folder_dir: str, readonly: bool, db: UidDb, known: dict[str, int],
                files: dict[str, MessageFile], dirty: bool) -> _Assigned:
    nextuid = db.safe_nextuid()
    if nextuid != db.nextuid:
        log.warning("%s/%s: nextuid %d below used UIDs; using %d",
                    folder_dir, UIDDB, db.nextuid, nextuid)
        dirty = True
    kept: list[tuple[int, MessageFile]] = []
    fresh: list[MessageFile] = []
    if not known:
        fresh = list(files.values())  # a folder numbered for the first time
    for base, entry in files.items() if known else ():
        uid = known.get(base)
        if uid is None:
            fresh.append(entry)
        else:
            kept.append((uid, entry))
    if len(kept) != len(known):
        dirty = True  # entries of vanished messages are dropped
    kept.sort(key=_first)
    fresh = in_file_order(fresh)
    # tuple.__new__ directly: a NamedTuple's own __new__ is a Python call,
    # and this runs once per message.
    make = tuple.__new__
    messages = [make(ScannedMessage, (uid, e[1], e[0], e[3])) for uid, e in kept]
    bases = [e[2] for _uid, e in kept]
    if fresh:
        # New messages numbered in file-name order (a first SELECT: all).
        messages += [make(ScannedMessage, (uid, e[1], e[0], e[3]))
                     for uid, e in enumerate(fresh, nextuid)]
        bases += [e[2] for e in fresh]
        nextuid += len(fresh)
        dirty = True
    rewritten = False
    if not readonly and dirty:
        rewritten, db = _rewrite(folder_dir, db, nextuid, messages, bases)
    return FolderScan(db.uidvalidity, nextuid, messages, rewritten, bases=bases), db


def _assign_plain(folder_dir: str, db: UidDb, known: dict[str, int], dirty: bool,
                  ) -> tuple[FolderScan, UidDb, object] | None:
    """:func:`_assign_all` for a folder's first listing in this process
    when it is plain (folders.list_plain: nothing in new/, usual names)
    and its numbering simple: a folder nobody numbered (the messages
    numbered in name order, which is file order here) or one whose every
    message the uid database numbers, in name order (a folder Courier
    numbered).  The same answer, made a column at a time: the scan's
    records are made when something asks for them.  Also the uid database
    the scan agrees with and the listing.  None in any other case: then
    the folder is numbered as usual (from the listing remembered here,
    not read again)."""
    listed = list_plain(folder_dir)
    if listed is None:
        return None
    plain, listing = listed
    bases = plain.bases
    count = len(bases)
    nextuid = db.safe_nextuid()
    if nextuid != db.nextuid:
        return None  # (the usual way says so in the log)
    uids: Sequence[int]
    if known:
        if dirty or len(known) != count:
            return None
        found = list(map(known.get, bases))
        if None in found:
            return None
        uids = cast("list[int]", found)
        if not all(map(operator.lt, uids, uids[1:])):
            return None
        return FolderScan(db.uidvalidity, nextuid, None, False, bases=bases,
                          columns=ScanColumns(uids, plain)), db, listing
    if not plain.in_file_order():
        return None
    uids = range(nextuid, nextuid + count)
    entries = list(zip(uids, bases, strict=True))
    new_db = UidDb(db.uidvalidity, nextuid + count, entries)
    rewritten = write_uiddb(folder_dir, new_db, known=dict(zip(bases, uids, strict=True)),
                            lines=_entry_lines(entries))
    return FolderScan(db.uidvalidity, nextuid + count, None, rewritten, bases=bases,
                      columns=ScanColumns(uids, plain)), new_db if rewritten else db, listing


def prepare_next_scan(folder_dir: str) -> None:
    """Make now what the last scan of a folder left to be made when asked
    for (the records of a plain first listing, see :func:`_assign_plain`),
    which the next scan of the folder after a change asks for: a folder
    whose changes are about to be waited for (IDLE) then does not pay for
    them at its first delivery (~0.1 s at 100,000 messages).  Memory
    work only, for a thread."""
    with _parsed_lock:
        last = _scans.get((folder_dir, False))
    if last is not None:
        _ = last.files, last.result.messages


def _assign_changes(folder_dir: str, db: UidDb, known: dict[str, int],
                    files: dict[str, MessageFile], last: _LastScan,
                    listed: frozenset[str] | None, touched: set[str]) -> _Assigned | None:
    """The previous scan updated with the messages whose files changed:
    O(changes) in Python (plus copies and set operations in C), or None
    when a full assignment is simpler (many changes, or a message the
    previous scan and the uid database do not agree on).

    ``listed``: the base names whose records may differ between the
    listing ``files`` came from and the one ``last.files`` did
    (folders.listing_changes; None when not known); ``touched``: those
    this scan changed in ``files`` since (also updated here).  With them
    the files are compared at those names and the ones either scan
    touched, not at 100,000 (~8 ms at 100,000 messages)."""
    if listed is not None:
        suspects = listed | last.touched | touched
        changed = {base for base in suspects if files.get(base) != last.files.get(base)}
        if len(changed) * 8 > len(files) + 64:
            return None
    else:
        diff = files.items() ^ last.files.items()
        if len(diff) * 8 > len(files) + 64:
            return None
        changed = {base for base, _entry in diff}
    vanished = [base for base in changed if base not in files and base in known]
    if vanished:
        touched.update(vanished)
        files = _confirm_listed(folder_dir, files, vanished)
        changed.difference_update(
            [base for base in vanished if files.get(base) == last.files.get(base)])
    if not changed:
        return last.result, db
    messages = list(last.result.messages)
    bases = list(last.bases)
    make = tuple.__new__
    fresh: list[MessageFile] = []
    gone: list[int] = []       # positions in messages
    removed: list[int] = []
    renamed: list[int] = []
    for base in changed:
        entry = files.get(base)
        uid = known.get(base)
        if uid is None:
            if entry is None:
                # Neither listed now nor numbered in the file: a message
                # of a scan whose rewrite failed, gone since.
                return None
            fresh.append(entry)
            continue
        # The previous scan's messages are in UID order, and every one of
        # them is numbered in the file it agreed with (db is that file).
        at = bisect.bisect_left(messages, uid, key=first_of_message)
        if at == len(messages) or messages[at][0] != uid or bases[at] != base:
            return None  # known to the file but not to the last scan
        if entry is None:
            gone.append(at)  # vanished: its entry is dropped
            removed.append(uid)
            continue
        messages[at] = make(ScannedMessage, (uid, entry[1], entry[0], entry[3]))
        renamed.append(uid)
    for at in sorted(gone, reverse=True):
        del messages[at]
        del bases[at]
    nextuid = last.result.nextuid
    added: list[tuple[int, str]] = []
    for entry in in_file_order(fresh):
        messages.append(make(ScannedMessage, (nextuid, entry[1], entry[0], entry[3])))
        bases.append(entry[2])
        added.append((nextuid, entry[2]))
        nextuid += 1
    rewritten = False
    if removed:
        rewritten, db = _rewrite(folder_dir, db, nextuid, messages, bases)
    elif added:
        rewritten, db = _rewrite_added(folder_dir, db, nextuid, added, messages, bases)
    changes = ScanChanges(last.result.serial, frozenset(removed), frozenset(renamed), len(added))
    return FolderScan(db.uidvalidity, nextuid, messages, rewritten, changes,
                      bases=bases), db


def _confirm_listed(folder_dir: str, files: dict[str, MessageFile],
                    missing: Iterable[str]) -> dict[str, MessageFile]:
    """``files`` with those of the ``missing`` messages (numbered, but not
    listed) that a new listing finds: a message renamed while the
    directory was read is not taken for expunged."""
    missing = list(missing)
    if missing:
        again = list_message_files(folder_dir, missing)
        for base in missing:
            found = again.get(base)
            if found is not None:
                files[base] = found
    return files


def first_of_message(message: ScannedMessage) -> int:
    """A scanned message's UID (a sort and bisect key)."""
    return message[0]


def _first(pair: tuple[int, MessageFile]) -> int:
    return pair[0]


def _in_new(folder_dir: str, files: dict[str, MessageFile]) -> list[MessageFile]:
    """The entries of ``files`` in new/, found from the names the listing
    saw there (else by looking at every entry)."""
    names = listed_new_names(folder_dir)
    if names is None:
        return [entry for entry in files.values() if entry[0] == NEW]
    found = [files.get(base_name(name)) for name in names]
    return [entry for entry in found if entry is not None and entry[0] == NEW]


def _move_new(folder_dir: str, files: dict[str, MessageFile], in_new: list[MessageFile],
              ) -> tuple[dict[str, MessageFile], list[str]]:
    """Move the listed new/ messages (``in_new``, entries of ``files``) to
    cur/ (``:2,`` appended, as imapd does); also the base names of those
    this call moved (rename() lets one mover win: another process's moves
    are not among them)."""
    lost: list[str] = []
    moved: list[str] = []
    for entry in in_new:
        base = entry.base
        target = entry.filename if ":" in entry.filename else entry.filename + ":2,"
        try:
            os.rename(os.path.join(folder_dir, NEW, entry.filename),
                      os.path.join(folder_dir, CUR, target))
        except FileNotFoundError:
            lost.append(base)  # moved or deleted by someone else: look again
            continue
        files[base] = MessageFile(CUR, target, base, flags_of(target))
        moved.append(base)
    if lost:
        again = list_message_files(folder_dir, lost)
        for base in lost:
            found = again.get(base)
            if found is None or found.subdir == NEW:
                del files[base]
            else:
                files[base] = found
    return files, moved


def scan_and_assign(folder_dir: str, *, readonly: bool = False) -> FolderScan:
    """List a folder and give every message its UID, as imapd's SELECT does.

    Holding the folder's Courier dot-lock: read the uid database, list
    ``new/`` and ``cur/``, move ``new/`` to ``cur/`` (unless ``readonly``),
    keep the UIDs of known messages, drop entries of vanished ones, number
    unknown messages from ``nextuid`` upward in file-name order, and rewrite
    the file if anything changed.

    ``readonly`` (EXAMINE, STATUS) changes nothing on disk; messages the
    file does not know get provisional UIDs from ``nextuid`` upward.
    """
    if not os.path.isdir(os.path.join(folder_dir, CUR)):
        raise MailboxNotFound(f"{folder_dir}: not a maildir")
    if readonly:
        return _assign(folder_dir, True)
    with folder_lock(folder_dir):
        return _assign(folder_dir, False)


@dataclass(frozen=True, slots=True)
class Added:
    """The UIDs :func:`assign_added` gave to messages just stored."""

    uidvalidity: int
    uids: list[int]  # parallel to the file names given; 0: gone before it was numbered
    # Numbered without a scan: the added messages, whose UIDs run from
    # ``first_uid`` (the UIDNEXT before them; no other UID was handed out
    # in between) to ``nextuid - 1``.  None after a full scan.
    messages: list[ScannedMessage] | None
    first_uid: int
    nextuid: int


def assign_added(folder_dir: str, link: Callable[[], list[str]]) -> Added:
    """Put messages into a folder and give them their UIDs, without
    listing the folder.

    Holding the folder's lock (as :func:`scan_and_assign` does), ``link()``
    makes the messages visible in ``cur/`` and returns their file names
    there, in the order wanted; they are then numbered from the uid
    database's next UID upward and the file is replaced, with their entries
    added and nothing else changed.  Linked and numbered under one lock,
    they are never seen without a UID by another scan, so the UIDs that
    read-only scans (STATUS UIDNEXT, EXAMINE) predict for them come true.
    Messages other processes put into the folder meanwhile get their UIDs
    at the next scan, above these: UIDs ascend in the order they are
    handed out, which is all IMAP asks; entries of messages deleted
    meanwhile are dropped then.

    Without a usable, writable uid database, when a scan already numbered
    one of the messages, or when ``new/`` holds messages (deliveries whose
    provisional UIDs read-only scans have shown: they are numbered first,
    as before), this is a full :func:`scan_and_assign`.  Not covered: a
    message another program put straight into ``cur/`` without a UID (a
    POP3 server's or a mail reader's move, until the next scan).  A
    read-only scan shows it with a provisional UID from the next UID; the
    added messages take that UID and it gets a higher one at the next scan,
    so a STATUS UIDNEXT seen meanwhile was too high for them.  Telling
    would take the listing this function exists to avoid.
    """
    if not os.path.isdir(os.path.join(folder_dir, CUR)):
        raise MailboxNotFound(f"{folder_dir}: not a maildir")
    with folder_lock(folder_dir):
        if has_new_messages(folder_dir):
            # Deliveries waiting in new/ have provisional UIDs in read-only
            # scans (STATUS UIDNEXT, EXAMINE), from the next UID upward:
            # they are numbered before the added messages are even linked,
            # or a full scan would number both in file-name order and an
            # added message could take a UID a STATUS already promised.
            _assign(folder_dir, False)
        files = [message_file(CUR, name) for name in link()]
        added = _add_entries(folder_dir, files)
        if added is not None:
            return added
        scan = _assign(folder_dir, False)
    wanted = {f.base for f in files}
    uid_of = {base: m.uid for m in scan.messages if (base := base_name(m.filename)) in wanted}
    return Added(scan.uidvalidity, [uid_of.get(f.base, 0) for f in files], None,
                 scan.nextuid, scan.nextuid)


def _add_entries(folder_dir: str, files: list[MessageFile]) -> Added | None:
    """:func:`assign_added` without a scan, or None when it needs one."""
    if has_new_messages(folder_dir):
        # Deliveries waiting in new/ have provisional UIDs in read-only
        # scans (STATUS UIDNEXT, EXAMINE) from the next UID upward; a scan
        # numbers them first, so that those UIDs come true.
        return None
    db, known = _read_known(folder_dir)
    if db is None or len({f.base for f in files}) != len(files) \
            or any(f.base in known for f in files):
        return None
    with _parsed_lock:
        memo = _parsed.get(folder_dir)
        key = (folder_dir, False)
        last = _scans.get(key)
    ours = memo is not None and memo.db is db and memo.lines is not None
    # A file this function wrote has its next UID above all its entries.
    first = db.nextuid if ours else db.safe_nextuid()
    if last is not None and last.db is db and last.result.nextuid != first:
        return None  # the last scan numbered messages the file could not keep
    make = tuple.__new__
    messages = [make(ScannedMessage, (uid, f.filename, CUR, f.flags))
                for uid, f in enumerate(files, first)]
    nextuid = first + len(files)
    fresh = [(m[0], f.base) for m, f in zip(messages, files, strict=True)]
    new_db = UidDb(db.uidvalidity, nextuid, db.entries + fresh)
    new_known = _known_with(known, fresh)
    lines = memo.lines if memo is not None and ours else None
    if lines is None:
        lines = _entry_lines(sorted(db.entries))
    if not write_uiddb(folder_dir, new_db, known=new_known, lines=lines + _entry_lines(fresh)):
        return None
    if last is not None and last.db is db:
        # The last scan, with the added messages: the next scan updates it
        # with what the listing shows changed, as after any scan.
        listed = last.files.copy()
        listed.update((f.base, f) for f in files)
        bases = last.bases + [f.base for f in files]
        result = FolderScan(db.uidvalidity, nextuid, last.result.messages + messages, False,
                            bases=bases)
        with _parsed_lock:
            if _scans.get(key) is last:
                _scans[key] = _LastScan(new_db, _NO_LISTING, listed, result, last.moved,
                                        last.listing,
                                        last.touched | {f.base for f in files})
    return Added(db.uidvalidity, [m[0] for m in messages], messages, first, nextuid)
