"""Folder change notification for IDLE and for sessions that watch their folder.

A session calls ``notifier.watch(folder_dir, callback)``; the callback runs on
the event loop thread whenever something another process may have changed
happens to the folder: a delivery into ``new/``, a flag rename or expunge in
``cur/``, a rewrite of ``courierimapuiddb`` or of the keyword files.  The
callback carries no detail on purpose: the session rescans the folder and
computes what it owes its client (one code path, whatever the cause).

Two implementations behind one interface:

* :class:`InotifyNotifier` - the kernel's inotify through ``inotify_simple``
  (a maintained, tiny ctypes wrapper; we only need its file descriptor, which
  the event loop reads).  Each folder gets one set of kernel watches (the
  folder directory, ``new/``, ``cur/`` and ``courierimapkeywords/`` when it
  exists), shared by every session watching it, so a hundred IDLE sessions on
  one INBOX cost four watch descriptors, not four hundred.
* :class:`PollingNotifier` - compares the modification times of the same
  directories every ``poll_interval`` seconds; used where inotify is missing
  (another OS, exhausted ``max_user_instances``) or with ``IMAP_ENHANCEDIDLE=0``,
  where Courier also polls every ``IMAP_IDLE_TIMEOUT`` seconds.

Bursts are coalesced: the callbacks of a folder run as soon as the event
loop has read the events at hand, then at most once per 10 ms while more
follow (a copy by another process is a link and a uiddb rewrite a few
milliseconds apart; a burst of deliveries, many links).

A folder that is deleted or renamed away gives each of its watchers one final
callback (the session then finds the folder gone) and its watches end; a later
``watch()`` of the same path starts afresh.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from postillion.config import Config

log = logging.getLogger(__name__)

# The least time between two rounds of callbacks of one folder.  The first
# event after a quiet spell is not held back: a delivery by deliverquota is
# one link into new/ (tmp/ and maildirsize are not watched) and an imapd flag
# change one rename, and any wait before the first callback is added to the
# IDLE push latency of every client (a 10 ms timer armed by the first event
# was ~12% of the push to 1,000 idle clients on a 100,000-message folder).
# Events that follow within 10 ms (a copy's uiddb rewrite after its link, a
# burst of deliveries) wait for the rest of the 10 ms and are told as one;
# sessions share one rescan per callback round, and one that comes while a
# rescan runs is folded into a single rescan after it.
COALESCE_SECONDS = 0.01

# Names in the folder directory itself whose change means "rescan".  The rest
# (maildirsize, courierimapacl, subfolders' own files) do not change what a
# session shows, and tmp/ (where locks and temporary files live) is not watched
# at all, so a session's own scan never wakes itself.
_FOLDER_FILES = frozenset({"courierimapuiddb", "courierimapkeywords"})
_WATCHED_SUBDIRS = ("new", "cur", "courierimapkeywords")

Callback = Callable[[], None]


class Watch:
    """One session's interest in one folder; :meth:`close` ends it (idempotent)."""

    __slots__ = ("_callback", "_closed", "_folder")

    def __init__(self, folder: _Folder, callback: Callback) -> None:
        self._folder: _Folder | None = folder
        self._callback = callback
        self._closed = False

    @property
    def active(self) -> bool:
        return not self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        folder, self._folder = self._folder, None
        if folder is not None:
            folder.remove(self)

    def _fire(self) -> None:
        if self._closed:
            return
        try:
            self._callback()
        except Exception:
            # A broken watcher must not stop the others from hearing of the change.
            log.exception("notify: watcher callback failed")


@dataclass(eq=False)
class _Folder:
    """The shared state of one watched folder."""

    path: str
    owner: FolderNotifier
    watchers: list[Watch] = field(default_factory=list)
    pending: asyncio.Handle | None = None
    gone: bool = False
    last_fired: float = float("-inf")   # loop.time() of the last callback round

    def remove(self, watch: Watch) -> None:
        if watch in self.watchers:
            self.watchers.remove(watch)
        if not self.watchers and not self.gone:
            self.owner._release(self)

    def changed(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.pending is not None or self.gone:
            return
        wait = self.last_fired + COALESCE_SECONDS - loop.time()
        # call_soon: the other events of the same read are folded in.
        self.pending = loop.call_later(wait, self.fire) if wait > 0 else loop.call_soon(self.fire)

    def fire(self) -> None:
        self.pending = None
        if self.owner._loop is not None:
            self.last_fired = self.owner._loop.time()
        for watch in list(self.watchers):
            watch._fire()

    def vanish(self) -> None:
        """The folder was deleted or renamed: one final callback, then no more."""
        if self.gone:
            return
        self.gone = True
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        watchers, self.watchers = self.watchers, []
        for watch in watchers:
            watch._fire()
            watch._closed = True
            watch._folder = None


class FolderNotifier:
    """The interface sessions use; see the module docstring."""

    #: "inotify" or "polling", for logs and tests.
    mode = "none"

    def __init__(self) -> None:
        self._folders: dict[str, _Folder] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def watch(self, folder_dir: str, callback: Callback) -> Watch:
        """Call ``callback`` (on the running event loop) when ``folder_dir`` changes."""
        if self._closed:
            raise RuntimeError("notifier is closed")
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        key = os.path.abspath(folder_dir)
        folder = self._folders.get(key)
        if folder is None:
            folder = _Folder(key, self)
            self._folders[key] = folder
            try:
                self._start(folder)
            except OSError as exc:
                # The folder is not there (or not ours): the watch stays quiet;
                # the session reports the real error when it opens the folder.
                log.info("notify: cannot watch %s: %s", key, exc.strerror or exc)
        watch = Watch(folder, callback)
        folder.watchers.append(watch)
        return watch

    def close(self) -> None:
        self._closed = True
        for folder in list(self._folders.values()):
            if folder.pending is not None:
                folder.pending.cancel()
            folder.gone = True
            self._stop(folder)
        self._folders.clear()

    @property
    def watched_folders(self) -> int:
        return len(self._folders)

    # -- for the implementations
    def _release(self, folder: _Folder) -> None:
        if self._folders.get(folder.path) is folder:
            del self._folders[folder.path]
        if folder.pending is not None:
            folder.pending.cancel()
            folder.pending = None
        self._stop(folder)

    def _vanished(self, folder: _Folder) -> None:
        if self._folders.get(folder.path) is folder:
            del self._folders[folder.path]
        self._stop(folder)
        folder.vanish()

    def _start(self, folder: _Folder) -> None:
        raise NotImplementedError

    def _stop(self, folder: _Folder) -> None:
        raise NotImplementedError


# --- inotify ---------------------------------------------------------------------

class InotifyNotifier(FolderNotifier):
    """Kernel notifications; one inotify descriptor read by the event loop."""

    mode = "inotify"

    def __init__(self) -> None:
        super().__init__()
        import inotify_simple

        self._flags = inotify_simple.flags
        self._inotify = inotify_simple.INotify(nonblocking=True)
        self._by_wd: dict[int, _Folder] = {}
        self._wds: dict[int, list[int]] = {}   # id(folder) -> its watch descriptors
        self._reading = False
        f = self._flags
        self._entry_mask = int(f.CREATE | f.DELETE | f.MOVED_FROM | f.MOVED_TO
                               | f.CLOSE_WRITE | f.ATTRIB)
        self._self_mask = int(f.DELETE_SELF | f.MOVE_SELF)
        self._ignored = int(f.IGNORED)

    @property
    def kernel_watch_count(self) -> int:
        """Watch descriptors held now (tests check that sessions share them)."""
        return len(self._by_wd)

    def _ensure_reader(self) -> None:
        if not self._reading and self._loop is not None:
            self._loop.add_reader(self._inotify.fileno(), self._on_readable)
            self._reading = True

    def _start(self, folder: _Folder) -> None:
        self._ensure_reader()
        wds: list[int] = []
        self._wds[id(folder)] = wds
        # The folder directory first: if it is missing, nothing is watched.
        for index, path in enumerate((folder.path, *(os.path.join(folder.path, d)
                                                     for d in _WATCHED_SUBDIRS))):
            try:
                wd = self._inotify.add_watch(path, self._entry_mask | self._self_mask)
            except (FileNotFoundError, NotADirectoryError):
                if index == 0:
                    raise
                continue
            self._by_wd[wd] = folder
            wds.append(wd)

    def _stop(self, folder: _Folder) -> None:
        for wd in self._wds.pop(id(folder), []):
            if self._by_wd.get(wd) is folder:
                del self._by_wd[wd]
                try:
                    self._inotify.rm_watch(wd)
                except OSError:
                    pass  # already gone with its directory

    def _on_readable(self) -> None:
        try:
            events = self._inotify.read(timeout=0)
        except BlockingIOError:
            return
        except OSError:
            log.exception("notify: reading inotify failed")
            return
        assert self._loop is not None
        for event in events:
            folder = self._by_wd.get(event.wd)
            if folder is None or folder.gone:
                continue
            if event.mask & (self._self_mask | self._ignored):
                if event.mask & self._ignored:
                    self._by_wd.pop(event.wd, None)
                if event.wd == self._first_wd(folder) or not os.path.isdir(folder.path):
                    self._vanished(folder)
                else:
                    folder.changed(self._loop)   # new/ or cur/ went away: let the session see
                continue
            if event.wd == self._first_wd(folder) and event.name not in _FOLDER_FILES:
                continue
            folder.changed(self._loop)

    def _first_wd(self, folder: _Folder) -> int | None:
        wds = self._wds.get(id(folder))
        return wds[0] if wds else None

    def close(self) -> None:
        super().close()
        if self._reading and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._inotify.fileno())
        self._reading = False
        self._inotify.close()


# --- polling ------------------------------------------------------------------

def _folder_stamp(path: str) -> tuple[int, ...] | None:
    """What changes when the folder's content does; None when the folder is gone."""
    stamp: list[int] = []
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp += [st.st_ino]
    for name in ("new", "cur", "courierimapkeywords", "courierimapuiddb"):
        try:
            st = os.stat(os.path.join(path, name))
        except OSError:
            stamp += [-1, -1, -1]
            continue
        stamp += [st.st_mtime_ns, st.st_ctime_ns, st.st_size]
    return tuple(stamp)


class PollingNotifier(FolderNotifier):
    """Compares directory times every ``poll_interval`` seconds (Courier's IDLE without FAM)."""

    mode = "polling"

    def __init__(self, poll_interval: float = 60.0) -> None:
        super().__init__()
        self.poll_interval = max(0.01, poll_interval)
        self._stamps: dict[int, tuple[int, ...] | None] = {}
        self._timer: asyncio.TimerHandle | None = None

    def _start(self, folder: _Folder) -> None:
        self._stamps[id(folder)] = _folder_stamp(folder.path)
        if self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(self.poll_interval, self._poll)

    def _stop(self, folder: _Folder) -> None:
        self._stamps.pop(id(folder), None)

    def _poll(self) -> None:
        self._timer = None
        assert self._loop is not None
        for folder in list(self._folders.values()):
            stamp = _folder_stamp(folder.path)
            before = self._stamps.get(id(folder))
            if stamp is None:
                if before is not None:
                    self._vanished(folder)
                continue
            if stamp != before:
                self._stamps[id(folder)] = stamp
                folder.fire()
        if self._folders and not self._closed:
            self._timer = self._loop.call_later(self.poll_interval, self._poll)

    def close(self) -> None:
        super().close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def make_notifier(enhanced: bool = True, poll_interval: float = 60.0) -> FolderNotifier:
    """inotify when ``enhanced`` and the kernel allows it, else polling every
    ``poll_interval`` seconds (pass ``IMAP_IDLE_TIMEOUT``)."""
    if enhanced:
        try:
            return InotifyNotifier()
        except (ImportError, OSError, AttributeError) as exc:
            log.warning("notify: inotify unavailable (%s); polling every %ss",
                        exc, poll_interval)
    return PollingNotifier(poll_interval)


def notifier_for(config: Config) -> FolderNotifier:
    """The notifier a server uses: kernel notifications whenever the kernel has them.

    Courier pushes changes only with ``IMAP_ENHANCEDIDLE=1``, because its
    push needed the FAM or Gamin daemon; Debian ships it off, which leaves
    IDLE clients waiting up to ``IMAP_IDLE_TIMEOUT`` seconds.  inotify needs
    no daemon and costs one watch per folder, so we always use it and read
    ``IMAP_ENHANCEDIDLE`` as a wish Courier could not always grant.  The
    session's IDLE still re-checks every ``IMAP_IDLE_TIMEOUT`` seconds, which
    catches what inotify cannot see (another host writing over NFS), and
    without inotify that re-check is the polling fallback.
    """
    return make_notifier(enhanced=True,
                         poll_interval=float(max(1, config.get_int("IMAP_IDLE_TIMEOUT"))))
