"""Folders of a Maildir++ and the message files in them.

A folder ``INBOX.A.B`` is the directory ``.A.B`` in the maildir (see
:mod:`postillion.maildir.names`).  What follows is what Courier-IMAP 5 does,
checked by running its imapd (docs/storage.md has the transcripts' results):

* LIST: every ``.X`` directory that is a maildir is a folder; INBOX always
  exists.  A level that has no directory of its own but has sub-folders
  (``INBOX.A`` when only ``.A.B`` exists) is a *virtual parent*: listed,
  not selectable, with children.
* CREATE makes only the leaf ``.A.B`` (plus the empty ``maildirfolder``
  marker), never ``.A``.  An existing folder and INBOX are refused.
* DELETE removes that folder's directory only.  Its sub-folders stay (their
  parent becomes virtual); a virtual parent cannot be deleted; neither can
  INBOX.
* RENAME moves the folder and every folder below it (``.A`` and ``.A.*``);
  a virtual parent's children move too.  Nothing moves if any target exists.
  INBOX cannot be renamed (Courier answers "INBOX rename not implemented.").

Message files: ``new/`` and ``cur/`` entries not starting with ``.``.  Other
processes (MDAs, Courier's imapd and pop3d, another of our sessions) may at
any moment deliver, rename (flag changes, new/ -> cur/) and delete them; the
listing below never reports one message twice and retries before it
concludes that a message it expected is gone.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import operator
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from postillion.maildir import names
from postillion.maildir.errors import (
    InvalidMailboxName,
    MailboxExists,
    MailboxNotFound,
    MessageNotFound,
    PermissionDenied,
)
from postillion.maildir.filenames import (
    FS_ENCODING,
    FS_ERRORS,
    base_name,
    flags_of,
    is_message_name,
    new_unique_name,
    size_from_name,
    with_flags,
)
from postillion.maildir.layout import FOLDER_MARKER, SUBDIRS, is_maildir

NEW = "new"
CUR = "cur"
# A message we expected but did not see is looked for this many more times
# before it counts as deleted: a rename racing with readdir() can hide it.
RELIST_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class FolderInfo:
    """One line of LIST: the name and what LIST's attributes need."""

    name: str
    selectable: bool
    has_children: bool


class MessageFile(NamedTuple):
    """A message file as found in ``new/`` or ``cur/``.

    A named tuple rather than a dataclass: folders of 100,000 messages make
    one per file on every scan, and tuples are several times cheaper to build.
    """

    subdir: str  # "new" or "cur"
    filename: str
    base: str
    flags: str

    @property
    def size(self) -> int | None:
        """From ",S=" in the name; None when the name has none.  (Worked
        out when asked: a listing of 100,000 names need not make 100,000
        numbers nobody reads.)"""
        return size_from_name(self.filename)

    @property
    def relpath(self) -> str:
        return os.path.join(self.subdir, self.filename)


def message_file(subdir: str, filename: str) -> MessageFile:
    """The record of a message file named ``filename`` in ``subdir``."""
    # filenames.base_name/flags_of, inlined: this runs once per message on
    # every scan.
    colon = filename.rfind(":")
    if colon < 0:
        return _new_tuple(MessageFile, (subdir, filename, filename, ""))
    # tuple.__new__ directly: a NamedTuple's own __new__ is a Python call.
    return _new_tuple(MessageFile, (
        subdir, filename, filename[:colon],
        filename[colon + 3 :] if filename.startswith("2,", colon + 1) else ""))


_new_tuple = tuple.__new__


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


_LEADING_DIGITS = re.compile(r"[0-9]*")


def order_key(filename: str) -> tuple[int, bytes]:
    """Courier's file-name order (imapscanclient's fnamcmp).

    First the leading decimal number (the delivery time), then the bytes of
    the base name: new messages get UIDs roughly in arrival order.  (A
    regex and str.encode rather than a loop and os.fsencode: a first scan
    of 100,000 messages sorts them all by this.)
    """
    leading = _LEADING_DIGITS.match(filename)
    digits = leading.group() if leading else ""
    colon = filename.rfind(":")
    base = filename if colon < 0 else filename[:colon]
    return (int(digits) if digits else 0, base.encode(FS_ENCODING, FS_ERRORS))


_DIGITS = frozenset("0123456789")
_BASE = operator.itemgetter(2)


def in_file_order(entries: Iterable[MessageFile]) -> list[MessageFile]:
    """``entries`` sorted by :func:`order_key` of their names.

    When every base name is ASCII and starts with a run of digits of one
    same length (maildir names start with the delivery time in seconds:
    ten digits until the year 2286), comparing the base names as strings
    gives that very order, and the sort runs without a Python call per
    message (100,000 names: ~0.06 s instead of ~0.2 s); the
    conditions are checked in bulk first.
    """
    entries = list(entries)
    if not entries:
        return entries
    bases = list(map(_BASE, entries))
    if _ordered_as_strings(bases):
        if all(map(operator.le, bases, itertools.islice(bases, 1, None))):
            return entries  # in order already (a first listing is read sorted)
        return sorted(entries, key=_BASE)
    return sorted(entries, key=lambda entry: order_key(entry[1]))


def _ordered_as_strings(bases: list[str]) -> bool:
    """Whether comparing these (non-empty list of) base names as strings
    gives :func:`order_key`'s order: every one ASCII and starting with a
    run of digits of one same length (see :func:`in_file_order`)."""
    return "".join(bases).isascii() and _digits_first(bases)


def _digits_first(bases: list[str]) -> bool:
    """Whether these (non-empty list of ASCII) base names all start with a
    run of digits of one same length."""
    first = bases[0]
    width = len(first) - len(first.lstrip("0123456789"))
    # Each base's first width + 1 characters, end to end: ``width`` digits
    # and one more that is none (or nothing, for a base of digits alone,
    # which breaks the stride and is sorted the slow way).
    heads = "".join(map(operator.itemgetter(slice(0, width + 1)), bases))
    stride = width + 1
    return (len(heads) == stride * len(bases) and _DIGITS.isdisjoint(heads[width::stride])
            and all(heads[at::stride].isdigit() for at in range(width)))


def _full_snapshot(folder_dir: str, names_new: list[str], names_cur: list[str],
                   ) -> tuple[dict[str, MessageFile], set[str], set[str]]:
    """One listing, new/ before cur/, one entry per base name; also the
    base names seen more than once (see :func:`_snapshot`)."""
    found: dict[str, MessageFile] = {}
    doubtful: dict[str, list[MessageFile]] = {}
    seen_twice: set[str] = set()
    # cur/ in name order: the records are then made, and later read, in
    # the order the folder's messages are numbered (a listing comes in the
    # directory's hash order, and 100,000 records read in that order miss
    # the CPU's caches at every step).  (not name or name[0] == ".":
    # is_message_name(), inlined.)
    for subdir, listed in ((NEW, names_new), (CUR, sorted(names_cur))):
        records = [message_file(subdir, name) for name in listed if name and name[0] != "."]
        by_base = dict(zip(map(_BASE, records), records, strict=True))
        if len(by_base) == len(records) and found.keys().isdisjoint(by_base):
            # The usual listing: each base name once, and not in new/ too
            # (the dict is then the loop's below, made in C).
            if found:
                found.update(by_base)
            else:
                found = by_base
            continue
        for entry in records:
            previous = found.get(entry.base)
            if previous is not None:
                seen_twice.add(entry.base)
            if previous is None or (previous.subdir == NEW and subdir == CUR):
                found[entry.base] = entry
            else:
                doubtful.setdefault(entry.base, [previous]).append(entry)
    unresolved: set[str] = set()
    for base, candidates in doubtful.items():
        existing = [c for c in candidates
                    if os.path.lexists(os.path.join(folder_dir, c.relpath))]
        if existing:
            found[base] = existing[-1]
        else:
            del found[base]  # renamed again meanwhile: look again
            unresolved.add(base)
    return found, unresolved, seen_twice


# ---------------------------------------------------------------- listing memo
#
# A process keeps the last listing of each folder it scanned, so that the
# next scan costs what changed, not what is there: a 100,000-message cur/
# takes ~0.2 s to turn into MessageFile records, but ~0.05 s to list and
# compare with the previous names (set operations in C).  When new/ and
# cur/ have not changed at all (same mtime_ns and inode, and the listing
# started safely after their last change) they are not even listed.
# Nothing here is trusted beyond what the directories' own times and names
# prove; flags still come from the file names listed.

#: A directory's mtime is trusted to reveal later changes only when the
#: listing started at least this long after it (timestamps advance by clock
#: ticks: jiffies on Linux, whole seconds on some file systems).
FINE_MTIME_SLACK = 0.1
COARSE_MTIME_SLACK = 2.0
#: Folders whose listing a process remembers.
LISTING_MEMO_SIZE = 256
#: Beyond this share of changed names a full listing is as cheap.
_INCREMENTAL_LIMIT = 8

DirStamp = tuple[int, int]  # (st_mtime_ns, st_ino)


def dir_stamp(path: str) -> DirStamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino)


def stamps_trusted(stamps: Iterable[tuple[int, ...] | None], listed_at: float) -> bool:
    """Whether a listing that started at ``listed_at`` (``time.time()``)
    after stamps were taken still describes directories that show those
    stamps now: it started a clock tick or more after their last change."""
    newest = 0
    coarse = True
    for stamp in stamps:
        if stamp is None:
            return False
        newest = max(newest, stamp[0])
        coarse = coarse and stamp[0] % 1_000_000_000 == 0
    slack = COARSE_MTIME_SLACK if coarse else FINE_MTIME_SLACK
    return listed_at >= newest / 1e9 + slack


_listing_serials = itertools.count(1)


@dataclass(frozen=True, slots=True)
class _Listing:
    stamps: tuple[DirStamp | None, DirStamp | None]  # new/, cur/ before listing
    listed_at: float
    new_names: frozenset[str]
    # cur/'s names, as a set once a later listing compares with them: a
    # first listing keeps the list it read (a set of 100,000 names costs
    # ~15 ms to build, and a folder whose cur/ never changes never needs it).
    cur_listed: frozenset[str] | list[str]
    # The records by base name (never changed once published); None until
    # asked for in a listing made by list_plain, whose ``plain`` columns
    # they are then made from.
    _found: dict[str, MessageFile] | None
    seen_twice: frozenset[str]
    # The listing this one was made from by applying the names that came
    # and went (its serial; None: read in full), and the base names whose
    # records may differ from that one's: a scan compares the listings of
    # a delivery by those, not by 100,000 records (see listing_changes).
    parent: int | None = None
    changed: frozenset[str] = frozenset()
    serial: int = field(default_factory=lambda: next(_listing_serials))
    plain: PlainListing | None = None

    @property
    def found(self) -> dict[str, MessageFile]:
        found = self._found
        if found is None:
            assert self.plain is not None
            # (Two threads asking at once make two equal dicts: no harm.)
            found = self.plain.records()
            object.__setattr__(self, "_found", found)
        return found

    @property
    def cur_names(self) -> frozenset[str]:
        names = self.cur_listed
        if not isinstance(names, frozenset):
            # (Two threads asking at once make two equal sets: no harm.)
            names = frozenset(names)
            object.__setattr__(self, "cur_listed", names)
        return names


_listings: OrderedDict[str, _Listing] = OrderedDict()
_listings_lock = threading.Lock()


class PlainListing(NamedTuple):
    """A folder's ``cur/`` as columns, when :func:`list_plain` found it
    plain: its names (ASCII) in name order, and each one's base name and
    flag letters, as :func:`message_file` cuts them; the base names are
    in ascending order too (so none is there twice)."""

    names: list[str]
    bases: list[str]
    letters: list[str]

    def in_file_order(self) -> bool:
        """Whether the names are in :func:`order_key`'s order as they are
        (as :func:`in_file_order` would put them); told in bulk."""
        return _digits_first(self.bases)

    def records(self) -> dict[str, MessageFile]:
        """The listing's records by base name, as a full listing makes them."""
        make = _new_tuple
        return dict(zip(self.bases, map(make, itertools.repeat(MessageFile),
                                        zip(itertools.repeat(CUR), self.names, self.bases,
                                            self.letters)), strict=True))


def list_plain(folder_dir: str) -> tuple[PlainListing, object] | None:
    """A folder's first listing in this process, as columns, when it is
    the usual one: ``new/`` empty, and every name in ``cur/`` plain (one
    ``:``, followed by ``2,``; no dot file; no base name twice).  It is
    remembered as :func:`list_message_files_from` remembers its listings
    (the second value: the listing, for :func:`listing_serial` and
    :func:`listed_files`), but its records are made only when something
    asks for them: a first SELECT of 100,000 messages numbers them from
    the columns, and a folder that never changes while the process has it
    never needs them (~0.2 s).  None when the folder was listed before in
    this process or is not plain (then nothing is remembered, and
    :func:`list_message_files_from` lists it as usual)."""
    if _memo(folder_dir) is not None:
        return None
    stamps = (dir_stamp(os.path.join(folder_dir, NEW)), dir_stamp(os.path.join(folder_dir, CUR)))
    started = time.time()
    if _listdir(os.path.join(folder_dir, NEW)):
        return None  # (a dot file too: the usual listing reads it again, a few names)
    names = _listdir(os.path.join(folder_dir, CUR))
    if not names:
        return None
    names.sort()
    plain = plain_columns(names)
    if plain is None:
        return None
    listing = _Listing(stamps, started, frozenset(), names, None, frozenset(), plain=plain)
    _remember(folder_dir, listing)
    return plain, listing


def plain_columns(names: list[str]) -> PlainListing | None:
    """``names`` (of ``cur/``, as a listing or a saved scan gives them) as
    a :class:`PlainListing` when they are plain: ASCII, none a dot file,
    each with one ``:`` followed by ``2,``, and their base names in
    ascending order (in name order, so each there once); else None."""
    count = len(names)
    # Checked on the names end to end, not name by name: ASCII, no name
    # starts with ".", there are as many ":" as names and each is followed
    # by "2," -- and below, no base name is empty, so no name lacks a ":"
    # (which would let another have two): each name has one, where
    # message_file's rfind finds it, and rpartition cuts what it cuts.
    joined = "\0".join(names)
    if not count or not joined.isascii() or joined.startswith(".") or "\0." in joined \
            or joined.count(":") != count or joined.count(":2,") != count:
        return None
    parts = [name.rpartition(":") for name in names]
    bases = [part[0] for part in parts]
    # Base names in ascending order are each there once.  (In a listing
    # sorted by name, the names of one base name would sort next to each
    # other, all starting with it and ":2,"; a base name that begins
    # another may sort after it, "b2" before "b" as "b2:" before "b:", and
    # such a folder is listed the usual way.)
    if "" in bases or not all(map(operator.lt, bases, itertools.islice(bases, 1, None))):
        return None
    return PlainListing(names, bases, [part[2][2:] for part in parts])


def listed_files(listing: object) -> dict[str, MessageFile]:
    """The records of a listing :func:`list_plain` returned (never to be
    changed: copy them to change them)."""
    assert isinstance(listing, _Listing)
    return listing.found


def listing_changes(listing: object, since: int | None) -> frozenset[str] | None:
    """Base names whose records may differ between the listing ``since``
    (a serial from :func:`list_message_files_from`) and ``listing`` (what
    it returned later): none when they are the same listing, those that
    came and went when ``listing`` was made from ``since``'s, None when
    that is not known (then compare them in full)."""
    if not isinstance(listing, _Listing) or since is None:
        return None
    if listing.serial == since:
        return frozenset()
    if listing.parent == since:
        return listing.changed
    return None


def listing_serial(listing: object) -> int | None:
    """The serial of a listing :func:`list_message_files_from` returned."""
    return listing.serial if isinstance(listing, _Listing) else None


def _memo(folder_dir: str) -> _Listing | None:
    with _listings_lock:
        return _listings.get(folder_dir)


def _remember(folder_dir: str, listing: _Listing | None) -> None:
    with _listings_lock:
        if listing is None:
            _listings.pop(folder_dir, None)
            return
        _listings[folder_dir] = listing
        _listings.move_to_end(folder_dir)
        while len(_listings) > LISTING_MEMO_SIZE:
            _listings.popitem(last=False)


def listing_token(folder_dir: str) -> int | None:
    """A value that stays the same while the remembered listing of a
    folder does (a scan built from it may be reused): its serial, not the
    listing, so that whoever keeps the token does not keep the listing's
    100,000 records alive after a newer listing replaced it (the scan that
    dropped the token would pay for freeing them)."""
    memo = _memo(folder_dir)
    return None if memo is None else memo.serial


def listing_stamps(folder_dir: str) -> tuple[DirStamp, DirStamp, float] | None:
    """The ``new/`` and ``cur/`` stamps and start time of the remembered
    listing of a folder, while it still describes the directories (they
    show its stamps, and it started a clock tick after their last change);
    else None."""
    memo = _memo(folder_dir)
    if memo is None:
        return None
    new, cur = (dir_stamp(os.path.join(folder_dir, NEW)),
                dir_stamp(os.path.join(folder_dir, CUR)))
    if (new, cur) != memo.stamps or new is None or cur is None \
            or not stamps_trusted((new, cur), memo.listed_at):
        return None
    return new, cur, memo.listed_at


def listed_new_names(folder_dir: str) -> frozenset[str] | None:
    """The names ``new/`` held at the remembered listing of a folder (None
    when none is remembered): where a scan finds the messages to move
    without looking through 100,000 others."""
    memo = _memo(folder_dir)
    return None if memo is None else memo.new_names


def forget_listing(folder_dir: str) -> None:
    """Drop the remembered listing of one folder: the next is read afresh."""
    _remember(folder_dir, None)


def forget_listings() -> None:
    """Drop every remembered listing (tests; memory)."""
    with _listings_lock:
        _listings.clear()


def _incremental(memo: _Listing, set_new: frozenset[str], set_cur: frozenset[str] | None,
                 ) -> tuple[dict[str, MessageFile], frozenset[str], frozenset[str] | None] | None:
    """The previous listing updated with the names that came and went, the
    base names of those names, and (when cur/ was listed again) cur/'s
    names as a set made from the previous listing's; or None when a full
    listing is needed (many changes, or a base name that is or becomes
    present twice).  ``set_cur`` None: cur/ was not listed again (it is
    as the previous listing found it).

    The names of cur/ kept are the previous listing's string objects, not
    those of the new listing: the records hold those, and a listing that
    kept 100,000 new ones would keep two copies of every name alive until
    the next listing replaced it -- and that one, a delivery's in an IDLE
    folder (after the rescan our own move from new/ causes), would then
    pay for freeing them (~5-9 ms at 100,000 messages)."""
    gone = [(NEW, n) for n in memo.new_names - set_new]
    came = [(NEW, n) for n in set_new - memo.new_names]
    cur_names: frozenset[str] | None = None
    if set_cur is not None:
        gone_cur = memo.cur_names - set_cur
        came_cur = set_cur - memo.cur_names
        gone += [(CUR, n) for n in gone_cur]
        came += [(CUR, n) for n in came_cur]
        cur_names = (memo.cur_names - gone_cur) | came_cur if gone_cur or came_cur \
            else memo.cur_names
    if (len(gone) + len(came)) * _INCREMENTAL_LIMIT > len(memo.found) + 64:
        return None
    # copy(), not dict(): dict() of a dict that has had deletions (these
    # have) inserts entry by entry (~7 ms at 100,000), copy() clones the
    # table (~1.5 ms).  The same holds for every copy of the big maps here.
    found = memo.found.copy()
    changed: set[str] = set()
    for subdir, filename in gone:
        if not is_message_name(filename):
            continue
        entry = message_file(subdir, filename)
        if entry.base in memo.seen_twice:
            return None
        changed.add(entry.base)
        current = found.get(entry.base)
        if current is not None and current.filename == filename and current.subdir == subdir:
            del found[entry.base]
    for subdir, filename in came:
        if not is_message_name(filename):
            continue
        entry = message_file(subdir, filename)
        if entry.base in found:
            return None  # two names for one message: let the full listing decide
        changed.add(entry.base)
        found[entry.base] = entry
    return found, frozenset(changed), cur_names


def _snapshot(folder_dir: str) -> tuple[dict[str, MessageFile], set[str], _Listing | None]:
    """One listing, new/ before cur/, one entry per base name.

    new/ is read first: a message another process moves from new/ to cur/
    in between is then seen in both (and kept as its cur/ name) instead of
    in neither.  A base name seen twice in cur/ (a flag rename racing the
    read) is resolved by asking which name still exists.

    The result is the caller's to change.  The previous listing of the
    folder (see the memo above) makes unchanged and slightly changed
    folders cheap.  Also the listing remembered, whose records the result
    holds (None when none is).
    """
    stamps = (dir_stamp(os.path.join(folder_dir, NEW)), dir_stamp(os.path.join(folder_dir, CUR)))
    started = time.time()
    memo = _memo(folder_dir)
    if memo is not None and memo.stamps == stamps and stamps_trusted(stamps, memo.listed_at):
        return memo.found.copy(), set(), memo
    names_new = _listdir(os.path.join(folder_dir, NEW))
    names_cur: list[str] | None = None
    set_cur: frozenset[str] | None = None
    cur_listed: frozenset[str] | list[str]
    if memo is not None and stamps[1] is not None and memo.stamps[1] == stamps[1] \
            and stamps_trusted(stamps[1:], memo.listed_at):
        # Only new/ changed (a delivery): cur/, 100,000 names in a big
        # folder, is as the last listing found it (the rule above, for
        # this one directory).
        cur_listed = memo.cur_listed
    else:
        names_cur = _listdir(os.path.join(folder_dir, CUR))
        # A set of the names only to compare them with the last listing's.
        set_cur = frozenset(names_cur) if memo is not None else None
        cur_listed = set_cur if set_cur is not None else names_cur
    set_new = frozenset(names_new)
    updated = _incremental(memo, set_new, set_cur) if memo is not None else None
    parent: int | None = None
    changed: frozenset[str] = frozenset()
    if updated is not None:
        assert memo is not None
        found, changed, kept_cur = updated
        if kept_cur is not None:
            cur_listed = kept_cur
        parent = memo.serial
        seen_twice = memo.seen_twice
        unresolved: set[str] = set()
    else:
        found, unresolved, twice = _full_snapshot(
            folder_dir, names_new, list(cur_listed) if names_cur is None else names_cur)
        seen_twice = frozenset(twice)
    if unresolved:
        _remember(folder_dir, None)
        return found, unresolved, None
    listing = _Listing(stamps, started, set_new, cur_listed, found, seen_twice, parent, changed)
    _remember(folder_dir, listing)
    return found.copy(), unresolved, listing


def list_message_files(folder_dir: str,
                       expected: Iterable[str] = ()) -> dict[str, MessageFile]:
    """The messages of a folder directory, keyed by base name.

    ``expected`` are base names the caller believes exist (the uid
    database's); if some are missing the directories are read again, up to
    :data:`RELIST_ATTEMPTS` times, so that a message caught in mid-rename is
    not taken for deleted.
    """
    return list_message_files_from(folder_dir, expected)[0]


def list_message_files_from(folder_dir: str, expected: Iterable[str] = (),
                            ) -> tuple[dict[str, MessageFile], object]:
    """:func:`list_message_files`, and the listing its records are those
    of (for :func:`listing_changes`; None when the directories had to be
    read again and the records come from several listings)."""
    found, unresolved, listing = _snapshot(folder_dir)
    # (A dict's keys are compared as they are: no set of 100,000 names.)
    expected_names = expected.keys() if isinstance(expected, dict) else set(expected)
    for _attempt in range(RELIST_ATTEMPTS):
        if not unresolved and expected_names <= found.keys():
            break  # (the usual case, told without a set of what is missing)
        missing = (expected_names - found.keys()) | (unresolved - found.keys())
        if not missing:
            break
        again, more, _listing = _snapshot(folder_dir)
        listing = None
        unresolved |= more
        for base in missing:
            if base in again:
                found[base] = again[base]
    return found, listing


def has_new_messages(folder_dir: str) -> bool:
    """Whether ``new/`` holds a message (stops at the first one found)."""
    try:
        with os.scandir(os.path.join(folder_dir, NEW)) as entries:
            return any(is_message_name(entry.name) for entry in entries)
    except FileNotFoundError:
        return False


def find_message(folder_dir: str, base: str) -> MessageFile | None:
    """Look a message up by base name (its flags may have changed)."""
    return list_message_files(folder_dir, (base,)).get(base)


def move_new_to_cur(folder_dir: str) -> list[tuple[str, str]]:
    """Move every message in ``new/`` to ``cur/``, as imapd does on SELECT.

    A name without ``:`` gets ``:2,`` appended.  Returns (old, new) file name
    pairs of the moves done; a file that vanished meanwhile (another process
    moved or deleted it) is skipped.
    """
    moved: list[tuple[str, str]] = []
    new_dir = os.path.join(folder_dir, NEW)
    for filename in _listdir(new_dir):
        if not is_message_name(filename):
            continue
        target = filename if ":" in filename else filename + ":2,"
        try:
            os.rename(os.path.join(new_dir, filename),
                      os.path.join(folder_dir, CUR, target))
        except FileNotFoundError:
            continue
        moved.append((filename, target))
    return moved


@contextlib.contextmanager
def open_cur(folder_dir: str) -> Iterator[int | None]:
    """A descriptor of the folder's ``cur/`` for a run of :func:`set_flags`
    (None when it cannot be opened: the renames then go by path)."""
    fd: int | None
    try:
        fd = os.open(os.path.join(folder_dir, CUR), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        fd = None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def set_flags(folder_dir: str, filename: str, flags: str, *,
              cur_fd: int | None = None,
              rebase: Callable[[str], str] | None = None) -> str:
    """Give a message new ``:2,`` flags; return its new name in ``cur/``.

    ``filename`` may be out of date: if another process renamed (or moved
    from new/) the file, it is found again by its base name, and with
    ``rebase`` its flags are then ``rebase(the letters its name has now)``
    rather than ``flags`` (which were worked out from ``filename``'s): a
    +FLAGS must not undo a change made meanwhile.  Raises
    :class:`MessageNotFound` when the message is gone.  ``cur_fd``, an open
    descriptor of the folder's ``cur/`` (see :func:`open_cur`), spares the
    kernel walking the whole path twice per rename when many are made.
    """
    if cur_fd is not None:
        # The usual case, without the general loop's paths: the file is in
        # cur/ under the name given.  (STORE 1:* over 100,000 messages.)
        target = with_flags(filename, flags)
        if target != filename and "/" not in filename:
            try:
                os.rename(filename, target, src_dir_fd=cur_fd, dst_dir_fd=cur_fd)
                return target
            except FileNotFoundError:
                pass  # renamed or moved meanwhile: found again below
    base = base_name(filename)
    given = current = os.path.basename(filename)
    subdir = CUR
    for _attempt in range(RELIST_ATTEMPTS + 1):
        letters = flags if rebase is None or current == given else rebase(flags_of(current))
        target = with_flags(current, letters)
        source = os.path.join(folder_dir, subdir, current)
        if subdir == CUR and current == target:
            if os.path.lexists(source):
                return target
        else:
            try:
                if cur_fd is not None and subdir == CUR:
                    os.rename(current, target, src_dir_fd=cur_fd, dst_dir_fd=cur_fd)
                else:
                    os.rename(source, os.path.join(folder_dir, CUR, target))
                return target
            except FileNotFoundError:
                pass
        entry = find_message(folder_dir, base)
        if entry is None:
            break
        current, subdir = entry.filename, entry.subdir
    raise MessageNotFound(f"{base}: no such message in {folder_dir}")


class Maildir:
    """A Maildir++ rooted at ``root``: its folders and their messages."""

    def __init__(self, root: str) -> None:
        self.root = root

    # ------------------------------------------------------------ names

    def path(self, name: str) -> str:
        """The directory of folder ``name`` (validated; never outside root)."""
        return names.folder_path(self.root, name)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is a real (selectable) folder."""
        return is_maildir(self.path(name))

    def _folder_dirs(self) -> list[tuple[str, str]]:
        """(folder name, directory entry) of every folder directory."""
        out: list[tuple[str, str]] = []
        try:
            entries = os.scandir(self.root)
        except FileNotFoundError as exc:
            raise MailboxNotFound(f"{self.root}: No such file or directory") from exc
        with entries:
            for entry in entries:
                name = names.name_of_dirname(entry.name)
                if name is None or name == names.INBOX:
                    continue
                if is_maildir(entry.path):
                    out.append((name, entry.name))
        return out

    def list_folders(self) -> list[FolderInfo]:
        """INBOX, every folder, and the virtual parents, sorted by name."""
        real = {name for name, _entry in self._folder_dirs()}
        every = set(real)
        for name in real:
            parent = names.parent_of(name)
            while parent is not None and parent != names.INBOX:
                every.add(parent)
                parent = names.parent_of(parent)
        parents = {names.parent_of(name) for name in every}
        result = [FolderInfo(names.INBOX, True, bool(every))]
        for name in sorted(every):
            result.append(FolderInfo(name, name in real, name in parents))
        return result

    def has_children(self, name: str) -> bool:
        """Whether any folder lies below ``name``."""
        normal = names.normalize(name)
        if normal == names.INBOX:
            return bool(self._folder_dirs())
        prefix = normal + names.SEPARATOR
        return any(other.startswith(prefix) for other, _e in self._folder_dirs())

    # ------------------------------------------------------------ create/delete

    def create(self, name: str) -> str:
        """Create folder ``name`` (leaf only) and return its directory.

        The folder is assembled in the maildir's ``tmp/`` and renamed into
        place, so nobody sees it half made.
        """
        normal = names.normalize(name)
        if normal == names.INBOX:
            raise MailboxExists("INBOX already exists")
        target = self.path(normal)
        if os.path.lexists(target):
            raise MailboxExists(f"{normal}: folder exists")
        staging = os.path.join(self.root, "tmp", new_unique_name("_newfolder").tmp_name())
        try:
            os.mkdir(staging, 0o700)
        except FileNotFoundError as exc:
            raise MailboxNotFound(f"{self.root}: not a maildir") from exc
        try:
            for sub in SUBDIRS:
                os.mkdir(os.path.join(staging, sub), 0o700)
            fd = os.open(os.path.join(staging, FOLDER_MARKER),
                         os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.close(fd)
            try:
                os.rename(staging, target)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR,
                                 errno.EISDIR):
                    raise MailboxExists(f"{normal}: folder exists") from exc
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def delete(self, name: str) -> None:
        """Delete folder ``name`` and its messages; its sub-folders stay.

        The directory is first renamed into the maildir's ``tmp/`` (one
        atomic step: the folder is gone for every reader at once), then
        removed.  Courier removes it in place.
        """
        normal = names.normalize(name)
        if normal == names.INBOX:
            raise PermissionDenied("INBOX cannot be deleted")
        path = self.path(normal)
        if not os.path.isdir(path) or os.path.islink(path):
            if os.path.islink(path):
                raise PermissionDenied(f"{normal}: a symbolic link, not deleted")
            raise MailboxNotFound(f"{normal}: no such folder")
        graveyard = os.path.join(self.root, "tmp",
                                 new_unique_name("_delfolder").tmp_name())
        try:
            os.rename(path, graveyard)
        except FileNotFoundError as exc:
            raise MailboxNotFound(f"{normal}: no such folder") from exc
        shutil.rmtree(graveyard, ignore_errors=True)

    # ------------------------------------------------------------ rename

    def rename(self, old: str, new: str) -> list[tuple[str, str]]:
        """Rename ``old`` and every folder below it; return the (old, new) names.

        Refused: INBOX on either side (:class:`PermissionDenied` for the
        source, :class:`MailboxExists` for the target), a target inside the
        source (:class:`InvalidMailboxName`), any target that exists
        (:class:`MailboxExists`, nothing renamed), nothing to rename
        (:class:`MailboxNotFound`).  A failure half way undoes the renames done.
        """
        source = names.normalize(old)
        target = names.normalize(new)
        if source == names.INBOX:
            raise PermissionDenied("INBOX rename not implemented")
        if target == names.INBOX:
            raise MailboxExists("INBOX already exists")
        if target == source or target.startswith(source + names.SEPARATOR):
            raise InvalidMailboxName(f"{target}: inside {source}")
        prefix = source + names.SEPARATOR
        moves: list[tuple[str, str]] = []
        try:
            entries = os.listdir(self.root)
        except FileNotFoundError as exc:
            raise MailboxNotFound(f"{self.root}: No such file or directory") from exc
        for entry in sorted(entries):
            name = names.name_of_dirname(entry)
            if name is None or not os.path.isdir(os.path.join(self.root, entry)):
                continue
            if name == source or name.startswith(prefix):
                moves.append((name, target + name[len(source):]))
        if not moves:
            raise MailboxNotFound(f"{source}: no such folder")
        for _from, to in moves:
            if os.path.lexists(self.path(to)):
                raise MailboxExists(f"{to}: folder exists")
        done: list[tuple[str, str]] = []
        try:
            for from_name, to_name in moves:
                try:
                    os.rename(self.path(from_name), self.path(to_name))
                except OSError as exc:
                    if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                        raise MailboxExists(f"{to_name}: folder exists") from exc
                    if exc.errno == errno.ENOENT:
                        continue  # deleted meanwhile by someone else
                    raise
                done.append((from_name, to_name))
        except BaseException:
            for from_name, to_name in reversed(done):
                with contextlib.suppress(OSError):
                    os.rename(self.path(to_name), self.path(from_name))
            raise
        return done

    # ------------------------------------------------------------ messages

    def messages(self, name: str) -> list[MessageFile]:
        """The message files of a folder (new/ and cur/), in file-name order."""
        path = self.path(name)
        if not is_maildir(path):
            raise MailboxNotFound(f"{names.normalize(name)}: no such folder")
        found = list_message_files(path)
        return in_file_order(found.values())

    def move_new_to_cur(self, name: str) -> list[tuple[str, str]]:
        """See :func:`move_new_to_cur`."""
        return move_new_to_cur(self.path(name))

    def set_flags(self, name: str, filename: str, flags: str) -> str:
        """See :func:`set_flags`."""
        return set_flags(self.path(name), filename, flags)
