"""One process's shared picture of a folder, for every session that has it
selected.

A thousand IDLE sessions on one INBOX must not scan it a thousand times
per delivery, nor hold a thousand copies of its message list.  So the
sessions of one process that select the same folder (in the same mode)
share a :class:`SharedFolder`:

* :meth:`SharedFolder.refresh` scans at most once per change: a session
  asks for "the folder as of time T" and gets the snapshot of any scan
  that started after T (single flight: concurrent askers wait for the
  scan under way instead of starting their own).
* Each scan produces an immutable :class:`Snapshot` (messages in UID
  order, each an immutable :class:`MessageEntry`; entries that did not
  change are the previous snapshot's objects) and a :class:`Delta` from
  the previous one, so a session that was up to date learns what changed
  in O(changes) instead of comparing 100,000 messages.
* Sessions keep the snapshot's list as their view until they must differ
  from it (a ghost not yet expunged, their own flag change): copy on write.
* Derived per-message data (RFC822.SIZE, INTERNALDATE, parsed ENVELOPE
  and BODYSTRUCTURE, search facets) lives in the folder's
  :class:`~postillion.imap.foldercache.FolderCache`, shared the same way.

Folders stay registered while a session holds them and a little after
(a re-SELECT finds its caches warm).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import operator
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from postillion.maildir import folders, keywords, uiddb
from postillion.maildir.errors import MailboxNotFound
from postillion.maildir.filenames import base_name

from .foldercache import FolderCache

#: Maildir flag letters and the IMAP system flags they stand for.
LETTER_TO_FLAG = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                  "T": "\\Deleted"}

#: Deltas kept per folder; a session further behind compares whole lists.
DELTA_HISTORY = 64
#: Folders kept registered after their last session left.
RELEASED_KEEP = 8
#: Messages a session added, and flags it changed, are put into the
#: snapshot without a scan (:meth:`SharedFolder.extend`,
#: :meth:`SharedFolder.adopt`), but not when the last scan is older than
#: this many seconds, or this many times the time it took: a session that
#: only APPENDs or STOREs still learns of other processes' changes within a second
#: or so, and spends at most a few per cent of its time scanning for them.
EXTEND_WITHOUT_SCAN_SECONDS = 1.0
EXTEND_WITHOUT_SCAN_FACTOR = 20


class MessageEntry:
    """One message as a snapshot shows it.  Never changed once made:
    snapshots and session views share these objects."""

    __slots__ = ("base", "filename", "flags", "subdir", "uid")

    # (base given, not worked out from filename when missing: a first
    # SELECT makes 100,000 of these, and a default with its test made each
    # a third dearer.)
    def __init__(self, uid: int, filename: str, subdir: str, flags: frozenset[str],
                 base: str) -> None:
        self.uid = uid
        self.filename = filename  # name in subdir at the scan
        self.subdir = subdir
        self.flags = flags        # system flags and keywords, without \Recent
        self.base = base

    def __repr__(self) -> str:
        return f"MessageEntry({self.uid}, {self.filename!r}, {sorted(self.flags)})"


_flagsets: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}

# Columns of a scan's records (uiddb.ScannedMessage).
_UID = operator.itemgetter(0)
_FILENAME = operator.itemgetter(1)
_SUBDIR = operator.itemgetter(2)
_LETTERS = operator.itemgetter(3)


def flagset(letters: str, words: tuple[str, ...] = ()) -> frozenset[str]:
    """The flags of maildir info letters plus keywords, one shared object
    per distinct combination (a folder has few)."""
    key = (letters, words)
    found = _flagsets.get(key)
    if found is None:
        found = frozenset({LETTER_TO_FLAG[ch] for ch in letters if ch in LETTER_TO_FLAG}
                          | set(words))
        if len(_flagsets) < 4096:
            _flagsets[key] = found
    return found


@dataclass(slots=True)
class Snapshot:
    """The folder at one scan."""

    generation: int
    uidvalidity: int
    uidnext: int
    messages: list[MessageEntry]          # ascending UIDs; never changed
    keywords_in_use: tuple[str, ...]
    _by_uid: dict[int, MessageEntry] | None = None

    @property
    def by_uid(self) -> dict[int, MessageEntry]:
        if self._by_uid is None:
            self._by_uid = {m.uid: m for m in self.messages}
        return self._by_uid


@dataclass(frozen=True, slots=True)
class Delta:
    """What changed from generation ``generation - 1`` to ``generation``."""

    generation: int
    removed: frozenset[int]      # UIDs gone
    changed: frozenset[int]      # UIDs whose flags changed
    added_from: int              # messages with UIDs >= this are new


#: How long after our own new/ -> cur/ move the rescan it causes starts:
#: a clock tick (see folders.FINE_MTIME_SLACK) and a little.
_ECHO_WAIT = folders.FINE_MTIME_SLACK + 0.005


def _uid_of(entry: MessageEntry) -> int:
    return entry.uid


class _Closable(Protocol):
    def close(self) -> None: ...


class _Notifier(Protocol):
    def watch(self, folder_dir: str, callback: Callable[[], None]) -> _Closable: ...


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)


@dataclass(eq=False)
class SharedFolder:
    folder_dir: str
    readonly: bool
    use_keywords: bool
    snapshot: Snapshot | None = None
    deltas: deque[Delta] = field(default_factory=lambda: deque(maxlen=DELTA_HISTORY))
    cache: FolderCache = field(init=False)
    users: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _scan_started: float = -1.0          # time.monotonic() at the last scan's start
    _scan_took: float = 0.0              # how long it took
    _scan_wall: float = 0.0              # time.time() at the same moment
    _stamps: tuple[tuple[int, int, int] | None, ...] | None = None
    _last_scan: uiddb.FolderScan | None = None
    # The snapshot made from _last_scan (not one extend() or adopt() made
    # since): what that scan's successor may be applied to.
    _built: Snapshot | None = None
    _unclaimed_recent: set[int] = field(default_factory=set)
    _inflight: asyncio.Future[Snapshot] | None = None
    _inflight_started: float = 0.0
    # IDLE: one notifier watch for the folder, one rescan per notification,
    # and the listening sessions woken only when the snapshot changed.
    _listeners: set[Callable[[], None]] = field(default_factory=set)
    _watch: _Closable | None = None
    _announced: int = 0
    _telling: asyncio.Task[None] | None = None
    _fired_again: float | None = None
    last_fired: float = 0.0
    _moved_wall: float = 0.0             # time.time() after the last scan that moved new/
    _preparing: asyncio.Future[None] | None = None   # uiddb.prepare_next_scan, for IDLE

    def __post_init__(self) -> None:
        self.cache = FolderCache.for_folder(self.folder_dir)

    # ------------------------------------------------------------ scanning

    def _dir_stamps(self) -> tuple[tuple[int, int, int] | None, ...]:
        d = self.folder_dir
        return (_stamp(os.path.join(d, "new")), _stamp(os.path.join(d, "cur")),
                _stamp(os.path.join(d, keywords.KEYWORD_DIR)),
                _stamp(os.path.join(d, uiddb.UIDDB)))

    def _fresh(self) -> bool:
        """The directories still show what the last scan saw."""
        if self.snapshot is None or self._stamps is None:
            return False
        stamps = self._dir_stamps()
        if stamps != self._stamps:
            return False
        # The directories' times must be a clock tick older than the scan;
        # the uid database (only ever replaced by rename) is the same file
        # when its stamp is.
        present = [s for s in stamps[:3] if s is not None]
        return folders.stamps_trusted(present, self._scan_wall)

    def refresh(self, asked_at: float | None = None, *, force: bool = False) -> Snapshot:
        """The folder as of a moment after ``asked_at`` (``time.monotonic()``;
        default now): the last scan's snapshot if that scan started later or
        the directories prove nothing changed since (unless ``force``), else
        a new scan's.  Synchronous and file-touching: run it in a thread."""
        if asked_at is None:
            asked_at = time.monotonic()
        with self._lock:
            snap = self.snapshot
            if snap is not None and (self._scan_started >= asked_at
                                     or (not force and self._fresh())):
                return snap
            return self._scan()

    async def refresh_async(self, asked_at: float) -> Snapshot:
        """:meth:`refresh` for the event loop: sessions that ask while a
        scan that began after their question is running wait for it
        rather than queueing scans of their own."""
        inflight = self._inflight
        if inflight is not None and self._inflight_started >= asked_at:
            return await asyncio.shield(inflight)
        snap = self.snapshot
        if snap is not None and self._scan_started >= asked_at:
            return snap
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        future = loop.run_in_executor(None, self.refresh, started)
        self._inflight, self._inflight_started = future, started
        try:
            return await asyncio.shield(future)
        finally:
            if self._inflight is future:
                self._inflight = None

    def _scan(self) -> Snapshot:
        if not os.path.isdir(os.path.join(self.folder_dir, "cur")):
            raise MailboxNotFound(self.folder_dir)
        self._scan_started = time.monotonic()
        self._scan_wall = time.time()
        stamps = self._dir_stamps()
        # The scan moves new/ to cur/ after listing both (a delivery then
        # lists new/ alone).  Messages this process moves out of new/ are
        # \Recent for one of its sessions (RFC 3501 2.3.2).
        scan = uiddb.scan_and_assign(self.folder_dir, readonly=self.readonly)
        claimed = scan.moved
        if claimed:
            self._moved_wall = time.time()
        kw = self._keywords(scan)
        if scan.rewritten:
            # The uid database this scan wrote is no news to anyone.
            written = uiddb.known_stamp(self.folder_dir)
            if written is not None:
                ino, size, mtime_ns = written
                stamps = (*stamps[:3], (mtime_ns, ino, size))
        # The stamps from before the scan: a change during it shows next time.
        self._stamps = stamps
        previous = self.snapshot
        last = self._last_scan
        if (previous is not None and last is not None and scan.serial == last.serial
                and not claimed and kw is None and not previous.keywords_in_use):
            return previous
        built = None
        if (previous is not None and previous is self._built and kw is None
                and not previous.keywords_in_use and last is not None
                and scan.changes is not None and scan.changes.since == last.serial
                and scan.uidvalidity == previous.uidvalidity):
            built = self._updated(previous, scan, scan.changes)
        snap, delta = built if built is not None else self._build(previous, scan, kw)
        self._last_scan = scan
        self._built = snap
        if claimed:
            # Moved messages are usually new ones, numbered at the end.
            tail = snap.messages[-len(claimed):]
            recent = [m.uid for m in tail if m.base in claimed]
            if len(recent) < len(claimed):
                recent = [m.uid for m in snap.messages if m.base in claimed]
            self._unclaimed_recent.update(recent)
        if delta is not None:
            self.deltas.append(delta)
        self.snapshot = snap
        self.cache.tidy((m.base for m in snap.messages), len(snap.messages))
        self._scan_took = time.monotonic() - self._scan_started
        return snap

    def save_scan(self) -> None:
        """Leave the folder's scan for the next process to open it with
        (:func:`postillion.maildir.uiddb.save_scan`).  Synchronous."""
        if not self.readonly:
            uiddb.save_scan(self.folder_dir)

    def extend(self, added: uiddb.Added) -> Snapshot | None:
        """The snapshot with messages this process just added and numbered
        (:func:`uiddb.assign_added`) put at its end, without a scan; None
        when that would not be a true picture (a UID was handed out between
        the snapshot and them, a read-only folder) or the last scan is too
        old (see :data:`EXTEND_WITHOUT_SCAN_SECONDS`).  The messages must
        have no keywords (their flags are their file names' letters).

        Other processes' changes since the last scan are not in it; the
        directories' stamps are left as that scan saw them, so the next
        :meth:`refresh` scans and reports them as usual.
        """
        messages = added.messages
        if self.readonly or not messages:
            return None
        with self._lock:
            snap = self.snapshot
            if snap is None or snap.uidvalidity != added.uidvalidity \
                    or snap.uidnext != added.first_uid or not self._scanned_lately():
                return None
            top = snap.messages[-1].uid if snap.messages else 0
            generation = snap.generation + 1
            entries = [MessageEntry(m[0], m[1], m[2], flagset(m[3]), m.base) for m in messages]
            new = Snapshot(generation, snap.uidvalidity, added.nextuid, snap.messages + entries,
                           snap.keywords_in_use)
            self.deltas.append(Delta(generation, frozenset(), frozenset(), top + 1))
            self.snapshot = new
            return new

    def adopt(self, stored: list[MessageEntry]) -> Snapshot | None:
        """The snapshot with a session's own flag changes (the entries
        :meth:`SelectedMailbox.store_flags` made, in ascending UIDs) in
        place of the old entries, without a scan; None under the same
        conditions as :meth:`extend`, or when keywords are involved.  Other
        sessions learn of the changes from the delta, as after a scan."""
        if self.readonly or not stored:
            return None
        with self._lock:
            snap = self.snapshot
            if snap is None or snap.keywords_in_use or not self._scanned_lately():
                return None
            messages = list(snap.messages)
            changed: list[int] = []
            replaced = False
            at = 0
            keywords_in: dict[frozenset[str], bool] = {}   # per distinct flag set
            for entry in stored:
                if not (at < len(messages) and messages[at].uid == entry.uid):
                    # (A STORE over a range finds the next one right there.)
                    at = bisect.bisect_left(messages, entry.uid, at, key=_uid_of)
                flags = entry.flags
                has_keywords = keywords_in.get(flags)
                if has_keywords is None:
                    has_keywords = keywords_in[flags] = any(not f.startswith("\\")
                                                            for f in flags)
                if at == len(messages) or messages[at].uid != entry.uid \
                        or messages[at].base != entry.base or has_keywords:
                    return None
                old = messages[at]
                if old.filename != entry.filename or old.flags != entry.flags:
                    messages[at] = entry
                    replaced = True
                    if old.flags != entry.flags:
                        changed.append(entry.uid)
                at += 1  # the next UID is further on
            if not replaced:
                return snap
            top = snap.messages[-1].uid if snap.messages else 0
            generation = snap.generation + 1
            new = Snapshot(generation, snap.uidvalidity, snap.uidnext, messages,
                           snap.keywords_in_use)
            self.deltas.append(Delta(generation, frozenset(), frozenset(changed), top + 1))
            self.snapshot = new
            return new

    def _scanned_lately(self) -> bool:
        """The last scan is recent enough to build on (see
        :data:`EXTEND_WITHOUT_SCAN_SECONDS`)."""
        age = time.monotonic() - self._scan_started
        return age <= max(EXTEND_WITHOUT_SCAN_SECONDS, EXTEND_WITHOUT_SCAN_FACTOR * self._scan_took)

    def _keywords(self, scan: uiddb.FolderScan) -> dict[str, tuple[str, ...]] | None:
        """Keywords by base name; None when the folder has no keyword files
        (the common case, checked without listing 100,000 names)."""
        if not self.use_keywords:
            return None
        if not os.path.lexists(os.path.join(self.folder_dir, keywords.KEYWORD_DIR)):
            return None
        present = [base_name(m.filename) for m in scan.messages]
        try:
            return keywords.read_keywords(self.folder_dir, present,
                                          forbidden=keywords.IMAP_FORBIDDEN)
        except OSError:
            return {}

    @staticmethod
    def _first_snapshot(scan: uiddb.FolderScan) -> Snapshot:
        """The snapshot of a first scan without keywords (SELECT in a new
        process): what _build makes of it, without its comparisons, made a
        column at a time (one flag set per distinct letters, the scan's
        base names when it has them)."""
        columns = scan.columns
        if columns is not None and scan.bases is not None:
            # A plain first listing's (uiddb.ScanColumns): its records are
            # not made at all.
            sets = {each: flagset(each) for each in set(columns.letters)}
            entries = list(map(MessageEntry, columns.uids, columns.names,
                               itertools.repeat("cur"), map(sets.__getitem__, columns.letters),
                               scan.bases))
            return Snapshot(1, scan.uidvalidity, scan.nextuid, entries, ())
        messages = scan.messages
        letters = list(map(_LETTERS, messages))
        sets = {each: flagset(each) for each in set(letters)}
        bases = scan.bases
        if bases is None or len(bases) != len(messages):
            bases = [base_name(m[1]) for m in messages]
        entries = list(map(MessageEntry, map(_UID, messages), map(_FILENAME, messages),
                           map(_SUBDIR, messages), map(sets.__getitem__, letters), bases))
        return Snapshot(1, scan.uidvalidity, scan.nextuid, entries, ())

    @staticmethod
    def _updated(previous: Snapshot, scan: uiddb.FolderScan, changes: uiddb.ScanChanges,
                 ) -> tuple[Snapshot, Delta | None] | None:
        """What :meth:`_build` gives for a scan made from the one
        ``previous`` was built from (no keywords then or now), made from
        the scan's changes alone: a delivery into a folder of 100,000
        messages costs its own entries and two list copies, not a
        comparison of every message.  None when the scan and ``previous``
        do not line up as the changes say (then :meth:`_build` decides)."""
        messages = scan.messages
        entries = list(previous.messages)
        if len(entries) - len(changes.removed) + changes.added != len(messages):
            return None
        changed: list[int] = []
        created = 0
        for uid in changes.renamed:
            at = bisect.bisect_left(entries, uid, key=_uid_of)
            now = bisect.bisect_left(messages, uid, key=uiddb.first_of_message)
            if at == len(entries) or entries[at].uid != uid or now == len(messages) \
                    or messages[now][0] != uid:
                return None
            prior, m = entries[at], messages[now]
            if prior.filename == m[1] and prior.subdir == m[2]:
                continue
            entry = MessageEntry(uid, m[1], m[2], flagset(m[3]), prior.base)
            if entry.flags != prior.flags:
                changed.append(uid)
            entries[at] = entry
            created += 1
        gone: list[int] = []
        for uid in changes.removed:
            at = bisect.bisect_left(entries, uid, key=_uid_of)
            if at == len(entries) or entries[at].uid != uid:
                return None
            gone.append(at)
        for at in sorted(gone, reverse=True):
            del entries[at]
        top = previous.messages[-1].uid if previous.messages else 0
        for m in messages[len(messages) - changes.added:] if changes.added else ():
            if m[0] <= top:
                return None
            entries.append(MessageEntry(m[0], m[1], m[2], flagset(m[3]), base_name(m[1])))
        if not created and not gone and not changes.added \
                and scan.nextuid == previous.uidnext:
            return previous, None  # (our own new/ -> cur/ moves)
        generation = previous.generation + 1
        snap = Snapshot(generation, scan.uidvalidity, scan.nextuid, entries,
                        previous.keywords_in_use)
        removed = frozenset(changes.removed)
        return snap, Delta(generation, removed, frozenset(changed), top + 1)

    def _build(self, previous: Snapshot | None, scan: uiddb.FolderScan,
               kw: dict[str, tuple[str, ...]] | None) -> tuple[Snapshot, Delta | None]:
        if previous is None and not kw:
            return self._first_snapshot(scan), None
        old = previous.by_uid if previous is not None else {}
        # Keywords, now or before, mean every message's flags are worked out.
        slow = bool(kw) or (previous is not None and bool(previous.keywords_in_use))
        top = previous.messages[-1].uid if previous is not None and previous.messages else 0
        entries: list[MessageEntry] = []
        changed: list[int] = []
        words: set[str] = set()
        created = 0
        for m in scan.messages:
            uid, filename = m[0], m[1]
            prior = old.get(uid)
            if prior is not None and prior.filename == filename and not slow:
                entries.append(prior)
                continue
            base = base_name(filename)
            found = kw.get(base, ()) if kw else ()
            if found:
                words.update(found)
            flags = flagset(m[3], found)
            if prior is not None and prior.base != base:
                prior = None  # a rebuilt uid database: not the same message
            if prior is not None and prior.flags == flags and prior.filename == filename:
                entries.append(prior)
                continue
            entry = MessageEntry(uid, filename, m[2], flags, base)
            if prior is not None and prior.flags != flags:
                changed.append(uid)
            entries.append(entry)
            created += 1
        keywords_in_use = tuple(sorted(words))
        if (previous is not None and not created and len(entries) == len(previous.messages)
                and keywords_in_use == previous.keywords_in_use
                and scan.uidvalidity == previous.uidvalidity
                and scan.nextuid == previous.uidnext):
            # Every entry is the previous snapshot's (our own new/ -> cur/
            # moves, a rewritten uid database): nothing for anyone to learn.
            return previous, None
        generation = previous.generation + 1 if previous is not None else 1
        snap = Snapshot(generation, scan.uidvalidity, scan.nextuid, entries, keywords_in_use)
        if previous is None or previous.uidvalidity != scan.uidvalidity:
            return snap, None
        removed = frozenset(old.keys() - snap.by_uid.keys())
        return snap, Delta(generation, removed, frozenset(changed), top + 1)

    # ------------------------------------------------------------ IDLE

    def listen(self, notifier: _Notifier, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (on the event loop) whenever a notification
        about the folder produced a new snapshot, or the rescan failed.
        Returns the function that stops it.  However many sessions listen,
        the folder has one notifier watch and each notification one scan,
        and a notification that changed nothing (our own new/ -> cur/
        moves, a uid database rewrite) wakes no session."""
        self._listeners.add(callback)
        if self._watch is None:
            if self.snapshot is not None:
                self._announced = self.snapshot.generation
            self._watch = notifier.watch(self.folder_dir, self._notified)
            if not self.readonly:
                # A delivery is what the listeners wait for: its scan
                # should not be the one that makes what the first scan
                # left to be made when asked for.
                self._preparing = asyncio.get_running_loop().run_in_executor(
                    None, uiddb.prepare_next_scan, self.folder_dir)

        def stop() -> None:
            self._listeners.discard(callback)
            if not self._listeners and self._watch is not None:
                self._watch.close()
                self._watch = None
        return stop

    def _notified(self) -> None:
        fired = time.monotonic()
        if self._telling is not None and not self._telling.done():
            self._fired_again = fired
            return
        self._telling = asyncio.ensure_future(self._rescan_and_tell(fired))

    async def _rescan_and_tell(self, fired: float) -> None:
        while True:
            self.last_fired = fired
            # Our own scan's new/ -> cur/ moves wake the watch too.  A
            # listing of cur/ within a clock tick of them could not be
            # believed later, and the next delivery would list its 100,000
            # names again: rescan once the tick has passed (a change
            # another program made meanwhile is reported then).
            wait = self._moved_wall + _ECHO_WAIT - time.time()
            if 0 < wait <= _ECHO_WAIT:
                await asyncio.sleep(wait)
            try:
                snap = await self.refresh_async(fired)
                news = snap.generation != self._announced
                self._announced = snap.generation
            except Exception:
                news = True  # gone or unreadable: each session finds out by itself
            if news:
                for callback in list(self._listeners):
                    callback()
            again, self._fired_again = self._fired_again, None
            if again is None:
                return
            fired = again

    # ------------------------------------------------------------ for sessions

    def deltas_between(self, start: int, end: int) -> list[Delta] | None:
        """The deltas from generation ``start`` to ``end``, or None when
        they are no longer all kept."""
        if start == end:
            return []
        with self._lock:
            wanted = [d for d in self.deltas if start < d.generation <= end]
        if not wanted or wanted[0].generation != start + 1 or wanted[-1].generation != end:
            return None
        return wanted

    def take_recent(self) -> set[int]:
        """The \\Recent UIDs no session has claimed yet (given out once)."""
        with self._lock:
            taken, self._unclaimed_recent = self._unclaimed_recent, set()
            return taken


_registry: dict[tuple[str, bool, bool], SharedFolder] = {}
_released: OrderedDict[tuple[str, bool, bool], SharedFolder] = OrderedDict()
_registry_lock = threading.Lock()


def acquire(folder_dir: str, *, readonly: bool, use_keywords: bool) -> SharedFolder:
    """The process's shared state of a folder; :func:`release` when done."""
    key = (os.path.abspath(folder_dir), readonly, use_keywords)
    with _registry_lock:
        shared = _registry.get(key) or _released.pop(key, None)
        if shared is None:
            shared = SharedFolder(key[0], readonly, use_keywords)
        _registry[key] = shared
        shared.users += 1
        return shared


def release(shared: SharedFolder) -> None:
    key = (shared.folder_dir, shared.readonly, shared.use_keywords)
    with _registry_lock:
        shared.users -= 1
        if shared.users > 0 or _registry.get(key) is not shared:
            return
        del _registry[key]
        _released[key] = shared
        while len(_released) > RELEASED_KEEP:
            _released.popitem(last=False)


def forget_all() -> None:
    """Drop every released folder (tests)."""
    with _registry_lock:
        _released.clear()

