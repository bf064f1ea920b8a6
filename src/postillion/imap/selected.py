"""The selected mailbox: message sequence numbers, UIDs, flags, \\Recent,
and the one place that computes what a session still owes its client.

The session's view (:attr:`SelectedMailbox.messages`) is what the client
has been told.  :meth:`SelectedMailbox.sync` compares it with the folder
on disk (other sessions, an MDA, Courier itself may have changed it) and
returns the untagged responses that bring the client up to date: EXPUNGE
(only when the running command allows it, RFC 3501 7.4.1), EXISTS/RECENT,
FLAGS when new keywords appear, FETCH FLAGS for changed messages.  NOOP,
CHECK, IDLE and the end of every command go through it (the pymap
``SelectedMailbox.fork`` idea, DESIGN habit 7).

Messages the disk lost while expunges could not be sent stay in the view
as ghosts (``expunged``): their sequence numbers stay valid until the
next sync that may send EXPUNGE.

Synchronous and file-touching: the session runs :meth:`sync` and
:meth:`open` in a thread.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from postillion.imap.protocol import SequenceSet
from postillion.imap.protocol import responses as r
from postillion.imap.protocol.fetchdata import flags_item
from postillion.maildir import folders, keywords, quota, uiddb
from postillion.maildir.errors import MailboxNotFound, MessageNotFound
from postillion.maildir.filenames import base_name, flags_of, size_from_name
from postillion.message import crlf_length

#: Maildir flag letters and the IMAP system flags they stand for.
LETTER_TO_FLAG = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                  "T": "\\Deleted"}
FLAG_TO_LETTER = {flag: letter for letter, flag in LETTER_TO_FLAG.items()}
#: FLAGS as Courier lists them (keywords go in front).
SYSTEM_FLAGS = ("\\Draft", "\\Answered", "\\Flagged", "\\Deleted", "\\Seen")
RECENT = "\\Recent"

# A folder whose directories have not changed since a scan that started
# this long after their last change needs no new scan (mtime granularity).
_MTIME_SLACK = 1.0


def letters_to_flags(letters: str) -> set[str]:
    return {LETTER_TO_FLAG[ch] for ch in letters if ch in LETTER_TO_FLAG}


def flags_to_letters(flags: Iterable[str]) -> str:
    """Maildir info letters, in ASCII order as the spec wants; keeps
    letters we do not map (lower-case experimental ones) out."""
    return "".join(sorted(FLAG_TO_LETTER[f] for f in set(flags) if f in FLAG_TO_LETTER))


def ordered_flags(flags: Iterable[str], recent: bool = False) -> tuple[str, ...]:
    """System flags in Courier's order, then \\Recent, then keywords."""
    present = set(flags)
    out: list[str] = [f for f in ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
                                  "\\Draft") if f in present]
    if recent:
        out.append(RECENT)
    out += sorted(f for f in present if not f.startswith("\\"))
    return tuple(out)


class UidValidityChanged(Exception):
    """The folder's uid database was rebuilt: every UID the client holds is
    void, and no untagged response can say so; the session must end."""


@dataclass(slots=True)
class MessageEntry:
    """One message as the client knows it."""

    uid: int
    filename: str       # name in cur/ (or new/ in a read-only view) at the last sync
    subdir: str
    flags: frozenset[str]   # system flags and keywords, without \Recent
    recent: bool = False
    expunged: bool = False  # gone on disk, EXPUNGE not sent yet
    size_cache: int | None = None

    @property
    def base(self) -> str:
        return base_name(self.filename)

    @property
    def all_flags(self) -> frozenset[str]:
        return self.flags | {RECENT} if self.recent else self.flags


@dataclass(slots=True)
class DiskState:
    uidvalidity: int
    uidnext: int
    messages: list[uiddb.ScannedMessage]
    keywords: dict[str, tuple[str, ...]]
    claimed_recent: set[str] = field(default_factory=set)


class SelectedMailbox:
    """The selected folder of one session."""

    def __init__(self, name: str, folder_dir: str, *, readonly: bool,
                 use_keywords: bool) -> None:
        self.name = name
        self.folder_dir = folder_dir
        self.readonly = readonly
        self.use_keywords = use_keywords
        self.messages: list[MessageEntry] = []
        self.uidvalidity = 0
        self.uidnext = 1
        self.announced_keywords: tuple[str, ...] = ()
        self._stamp: tuple[int | None, ...] | None = None
        self._scan_started = 0.0

    # ------------------------------------------------------------ disk

    def _dir_stamp(self) -> tuple[int | None, ...]:
        out: list[int | None] = []
        for sub in ("new", "cur", keywords.KEYWORD_DIR, uiddb.UIDDB):
            try:
                out.append(os.stat(os.path.join(self.folder_dir, sub)).st_mtime_ns)
            except OSError:
                out.append(None)
        return tuple(out)

    def _unchanged(self) -> bool:
        stamp = self._dir_stamp()
        if stamp != self._stamp:
            return False
        newest = max((s for s in stamp if s is not None), default=0) / 1e9
        return self._scan_started > newest + _MTIME_SLACK

    def _read_disk(self) -> DiskState:
        if not os.path.isdir(os.path.join(self.folder_dir, "cur")):
            raise MailboxNotFound(self.folder_dir)
        self._scan_started = time.time()
        stamp = self._dir_stamp()
        claimed: set[str] = set()
        if not self.readonly:
            # Messages this session moves out of new/ are \Recent for it
            # alone (RFC 3501 2.3.2); rename() lets only one session win.
            for _old, new in folders.move_new_to_cur(self.folder_dir):
                claimed.add(base_name(new))
        scan = uiddb.scan_and_assign(self.folder_dir, readonly=self.readonly)
        kw: dict[str, tuple[str, ...]] = {}
        if self.use_keywords:
            present = [m.base for m in scan.messages]
            try:
                kw = keywords.read_keywords(self.folder_dir, present,
                                            forbidden=keywords.IMAP_FORBIDDEN)
            except OSError:
                kw = {}
        self._stamp = stamp
        return DiskState(scan.uidvalidity, scan.nextuid, scan.messages, kw, claimed)

    def _flags_of(self, disk: DiskState, message: uiddb.ScannedMessage) -> frozenset[str]:
        found = letters_to_flags(message.flags)
        found.update(disk.keywords.get(message.base, ()))
        return frozenset(found)

    # ------------------------------------------------------------ open

    def open(self) -> list[r.Response]:
        """Read the folder and return SELECT/EXAMINE's untagged responses
        (without the MYRIGHTS line and the tagged answer)."""
        disk = self._read_disk()
        self.uidvalidity, self.uidnext = disk.uidvalidity, disk.uidnext
        for m in disk.messages:
            recent = (m.base in disk.claimed_recent) if not self.readonly else m.subdir == "new"
            self.messages.append(MessageEntry(m.uid, m.filename, m.subdir,
                                              self._flags_of(disk, m), recent))
        self.announced_keywords = self._keywords_in_use()
        out: list[r.Response] = [
            r.FlagsData(self.flag_list()),
            r.UntaggedStatus("OK", "Limited", r.PermanentFlags(self.permanent_flags()))
            if not self.readonly else
            r.UntaggedStatus("OK", "No permanent flags permitted", r.PermanentFlags(())),
            r.Exists(len(self.messages)),
            r.Recent(sum(1 for m in self.messages if m.recent)),
            r.UntaggedStatus("OK", "Ok", r.UidValidity(self.uidvalidity)),
            r.UntaggedStatus("OK", "Predicted next UID", r.UidNext(self.uidnext)),
        ]
        first_unseen = next((i for i, m in enumerate(self.messages, 1)
                             if "\\Seen" not in m.flags), None)
        if first_unseen is not None:
            out.append(r.UntaggedStatus("OK", "First unseen message", r.Unseen(first_unseen)))
        return out

    def _keywords_in_use(self) -> tuple[str, ...]:
        found: set[str] = set()
        for m in self.messages:
            found.update(f for f in m.flags if not f.startswith("\\"))
        return tuple(sorted(found))

    def flag_list(self) -> tuple[str, ...]:
        return (*self.announced_keywords, *SYSTEM_FLAGS, RECENT)

    def permanent_flags(self) -> tuple[str, ...]:
        if self.readonly:
            return ()
        extra = ("\\*",) if self.use_keywords else ()
        return (*self.announced_keywords, *extra, *SYSTEM_FLAGS)

    # ------------------------------------------------------------ owed responses

    def sync(self, *, expunges_allowed: bool, force: bool = False) -> list[r.Response]:
        """What the client is owed now: see the module docstring."""
        out: list[r.Response] = []
        if force or not self._unchanged():
            out += self._merge(self._read_disk(), expunges_allowed)
        if expunges_allowed:
            out += self._flush_expunged()
        return out

    def _merge(self, disk: DiskState, expunges_allowed: bool) -> list[r.Response]:
        if disk.uidvalidity != self.uidvalidity:
            raise UidValidityChanged(self.folder_dir)
        by_uid = {m.uid: m for m in disk.messages}
        changed: list[MessageEntry] = []
        for entry in self.messages:
            if entry.expunged:
                continue
            found = by_uid.get(entry.uid)
            if found is None or found.base != entry.base:
                entry.expunged = True
                continue
            entry.filename, entry.subdir = found.filename, found.subdir
            flags = self._flags_of(disk, found)
            if flags != entry.flags:
                entry.flags = flags
                changed.append(entry)
        out: list[r.Response] = []
        if expunges_allowed:
            out += self._flush_expunged()
        top = self.messages[-1].uid if self.messages else 0
        added = 0
        for m in disk.messages:
            if m.uid > top:
                recent = m.base in disk.claimed_recent or (self.readonly and m.subdir == "new")
                self.messages.append(MessageEntry(m.uid, m.filename, m.subdir,
                                                  self._flags_of(disk, m), recent))
                added += 1
        self.uidnext = max(self.uidnext, disk.uidnext)
        keywords_now = self._keywords_in_use()
        if set(keywords_now) - set(self.announced_keywords) or (
                expunges_allowed and keywords_now != self.announced_keywords):
            self.announced_keywords = keywords_now
            out.append(r.FlagsData(self.flag_list()))
            if not self.readonly:
                out.append(r.UntaggedStatus("OK", "Limited",
                                            r.PermanentFlags(self.permanent_flags())))
        if added:
            out.append(r.Exists(len(self.messages)))
            out.append(r.Recent(sum(1 for m in self.messages if m.recent)))
        for entry in changed:
            if not entry.expunged:
                out.append(r.FetchData(self.seq_of(entry),
                                       (flags_item(ordered_flags(entry.flags, entry.recent)),)))
        return out

    def _flush_expunged(self) -> list[r.Response]:
        out: list[r.Response] = []
        # Highest first: each EXPUNGE then names a number still valid.
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index].expunged:
                out.append(r.ExpungeData(index + 1))
                del self.messages[index]
        return out

    # ------------------------------------------------------------ lookups

    def seq_of(self, entry: MessageEntry) -> int:
        # Views are searched by UID with bisection: UIDs ascend.
        lo, hi = 0, len(self.messages)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.messages[mid].uid < entry.uid:
                lo = mid + 1
            else:
                hi = mid
        return lo + 1

    @property
    def max_uid(self) -> int:
        return self.messages[-1].uid if self.messages else 0

    def select(self, sequence: SequenceSet, *, uid: bool,
               saved: list[int] | None = None) -> list[tuple[int, MessageEntry]]:
        """(seq, entry) pairs a set names, in ascending order.  Sequence
        numbers beyond the view raise ValueError (the client's error);
        UIDs that do not exist are ignored (RFC 3501 6.4.8)."""
        out: list[tuple[int, MessageEntry]] = []
        if sequence.saved:
            wanted = set(saved or ())
            for seq, entry in enumerate(self.messages, 1):
                if entry.uid in wanted:
                    out.append((seq, entry))
            return out
        if uid:
            ranges = sequence.resolve(self.max_uid)
            for seq, entry in enumerate(self.messages, 1):
                if any(a <= entry.uid <= b for a, b in ranges):
                    out.append((seq, entry))
            return out
        count = len(self.messages)
        for a, b in sequence.resolve(count):
            if b > count or a < 1:
                raise ValueError(f"Invalid message sequence number: {b if b > count else a}")
            out.extend((seq, self.messages[seq - 1]) for seq in range(a, b + 1))
        return out

    # ------------------------------------------------------------ message files

    def path_of(self, entry: MessageEntry) -> str:
        return os.path.join(self.folder_dir, entry.subdir, entry.filename)

    def read(self, entry: MessageEntry) -> bytes:
        """The stored message; follows a rename by another process."""
        for _attempt in range(3):
            try:
                with open(self.path_of(entry), "rb") as f:
                    return f.read()
            except FileNotFoundError:
                found = folders.find_message(self.folder_dir, entry.base)
                if found is None:
                    break
                entry.filename, entry.subdir = found.filename, found.subdir
        raise MessageNotFound(entry.base)

    def size(self, entry: MessageEntry) -> int:
        """RFC822.SIZE: the message in the CRLF view."""
        if entry.size_cache is None:
            entry.size_cache = crlf_length(self.read(entry))
        return entry.size_cache

    def internaldate(self, entry: MessageEntry) -> datetime.datetime:
        """The file's mtime, as Courier reports INTERNALDATE."""
        for _attempt in range(3):
            try:
                mtime = os.stat(self.path_of(entry)).st_mtime
                return datetime.datetime.fromtimestamp(mtime, datetime.UTC)
            except FileNotFoundError:
                found = folders.find_message(self.folder_dir, entry.base)
                if found is None:
                    break
                entry.filename, entry.subdir = found.filename, found.subdir
        return datetime.datetime.fromtimestamp(0, datetime.UTC)

    # ------------------------------------------------------------ changes

    def store_flags(self, entry: MessageEntry, flags: frozenset[str]) -> None:
        """Write a message's flags: letters into the file name, keywords
        into courierimapkeywords.  The view is updated so that the next
        sync does not report the change back as someone else's."""
        letters = flags_to_letters(flags)
        if letters != flags_of(entry.filename) or entry.subdir != "cur":
            entry.filename = folders.set_flags(self.folder_dir, entry.filename, letters)
            entry.subdir = "cur"
        if self.use_keywords:
            new_kw = sorted(f for f in flags if not f.startswith("\\"))
            old_kw = sorted(f for f in entry.flags if not f.startswith("\\"))
            if new_kw != old_kw:
                keywords.set_keywords(self.folder_dir, entry.base, new_kw)
        entry.flags = frozenset(f for f in flags
                                if f.startswith("\\") or self.use_keywords)

    def expunge(self, uids: set[int] | None = None) -> int:
        """Delete the messages marked \\Deleted (those of ``uids`` only,
        for UID EXPUNGE).  The EXPUNGE responses come from the next
        :meth:`sync`."""
        doomed = [e for e in self.messages
                  if not e.expunged and "\\Deleted" in e.flags
                  and (uids is None or e.uid in uids)]
        return self.remove(doomed)

    def remove(self, doomed: list[MessageEntry]) -> int:
        """Delete messages from disk, mark them expunged in the view and
        record them in maildirsize (one line per call, as Courier)."""
        nbytes = 0
        count = 0
        for entry in doomed:
            size = self._unlink(entry)
            entry.expunged = True
            if size is not None:
                nbytes += size
                count += 1
        if count and quota.counts_folder(self.folder_dir):
            quota.record_change(self.folder_dir, -nbytes, -count)
        return count

    def _unlink(self, entry: MessageEntry) -> int | None:
        """Remove one message file; its size, or None if it was gone."""
        for _attempt in range(3):
            path = self.path_of(entry)
            size = size_from_name(entry.filename)
            try:
                if size is None:
                    size = os.stat(path).st_size
                os.unlink(path)
                return size
            except FileNotFoundError:
                found = folders.find_message(self.folder_dir, entry.base)
                if found is None:
                    return None
                entry.filename, entry.subdir = found.filename, found.subdir
        return None

    def report_removed(self, uids: set[int]) -> list[r.Response]:
        """EXPUNGE responses for just these (removed) messages, as MOVE sends."""
        out: list[r.Response] = []
        for index in range(len(self.messages) - 1, -1, -1):
            entry = self.messages[index]
            if entry.expunged and entry.uid in uids:
                out.append(r.ExpungeData(index + 1))
                del self.messages[index]
        return out
