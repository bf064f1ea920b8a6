"""The disposable per-folder cache: ``<folder>/postillion.cache``.

The maildir is the database; this file only makes repeated work cheap
(format and rules: docs/cache.md).  Per message, keyed by base name, it
keeps what costs a read and a parse of the file: the file's size, inode
and mtime (INTERNALDATE), RFC822.SIZE in the CRLF view, the ENVELOPE and
BODYSTRUCTURE as they go on the wire, and the search engine's facets
(sort keys, thread headers, header search texts).  It never holds flags,
UIDs that decide anything, or message content.

Validity: the header (magic, version, UIDVALIDITY, record count, CRC-32
of the body) must match, else the whole file is ignored and rebuilt; a
record is used only for a message whose base name is in the folder, whose
``,S=`` size (when the name has one) equals the recorded file size, and
is replaced whenever the file, opened for another reason, shows another
inode, size or mtime.  Deleting the file loses nothing.

Writes: a temporary file in the folder's ``tmp/`` renamed over the old
one, from a worker thread, record by record (the event loop keeps the
interpreter between records).  A folder that cannot be written (a
read-only shared folder) simply keeps its cache in memory.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import re
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, ClassVar

from postillion.imap.search import SearchCache
from postillion.imap.search.facets import ThreadHeaders
from postillion.maildir.filenames import new_unique_name, size_from_name

log = logging.getLogger(__name__)

CACHE_NAME = "postillion.cache"
MAGIC = b"PSTLNCACHE\n"
VERSION = 2  # 2: ENVELOPE address lists without spaces (wire values changed)
# magic, version, uidvalidity, count, crc32 of the body, body length
_HEADER = struct.Struct("<11sHIIIQ")
# file size, mtime_ns, inode, RFC822.SIZE (-1 unknown), uid (0 none),
# lengths of envelope, bodystructure, facets (each -1 = absent)
_RECORD = struct.Struct("<QqQqIiiiH")
_ABSENT = -1
#: Unsaved records after which a save is worth its cost.
SAVE_AFTER_CHANGES = 256
#: ...or this many seconds after the first unsaved change.
SAVE_AFTER_SECONDS = 5.0
#: Saves (other than when the last session leaves) at most this often.
SAVE_MIN_INTERVAL = 30.0
#: Folders whose caches a process keeps.
FOLDERS_KEPT = 32
#: Environment switch: POSTILLION_FOLDER_CACHE=0 keeps caches in memory only.
ENV_SWITCH = "POSTILLION_FOLDER_CACHE"


class CachedMessage:
    """What the cache knows of one message file."""

    __slots__ = ("_bodystructure", "_envelope", "_unchecked", "facet_count", "facets",
                 "file_size", "inode", "mtime_ns", "rfc822_size", "uid")

    def __init__(self, file_size: int, mtime_ns: int, inode: int) -> None:
        self.file_size = file_size
        self.mtime_ns = mtime_ns
        self.inode = inode
        self.rfc822_size: int | None = None
        self._envelope: bytes | None = None       # wire form, see wire_cacheable
        self._bodystructure: bytes | None = None
        # Wire forms read from the file are checked when first used, not
        # when the file is loaded: a SEARCH or SORT in a new process then
        # does not pay for checking 100,000 ENVELOPEs it never sends.
        self._unchecked = False
        self.facets: bytes | None = None         # JSON, decoded into the SearchCache
        self.uid = 0                             # the facets' UID
        self.facet_count = 0                     # facets encoded in ``facets``

    def _check(self) -> None:
        self._unchecked = False
        if self._envelope is not None and not wire_cacheable(self._envelope):
            self._envelope = None
        if self._bodystructure is not None and not wire_cacheable(self._bodystructure):
            self._bodystructure = None

    @property
    def envelope(self) -> bytes | None:
        """ENVELOPE's wire form (see :func:`wire_cacheable`), or None."""
        if self._unchecked:
            self._check()
        return self._envelope

    @envelope.setter
    def envelope(self, wire: bytes | None) -> None:
        self._envelope = wire

    @property
    def bodystructure(self) -> bytes | None:
        """BODYSTRUCTURE's wire form (see :func:`wire_cacheable`), or None."""
        if self._unchecked:
            self._check()
        return self._bodystructure

    @bodystructure.setter
    def bodystructure(self, wire: bytes | None) -> None:
        self._bodystructure = wire

    def matches(self, st: os.stat_result) -> bool:
        return (st.st_size == self.file_size and st.st_mtime_ns == self.mtime_ns
                and st.st_ino == self.inode)

    @property
    def internaldate(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.mtime_ns / 1e9, datetime.UTC)


_LITERAL_HEAD = re.compile(rb"\{([0-9]{1,9})\}\Z")


def wire_cacheable(data: bytes) -> bool:
    """Whether ``data`` may be kept, or trusted from the file, as the wire
    form of a FETCH value: one parenthesized value whose CR LF pairs each
    end a ``{n}`` literal head and are followed by exactly n bytes, with no
    other CR, LF or NUL, and 8-bit bytes only inside literals.  Whatever a
    damaged (or hostile) cache file says, such bytes cannot end a response
    line early or leave a literal open."""
    if data[:1] != b"(" or data[-1:] != b")":
        return False
    if b"\r" not in data and b"\n" not in data and b"\0" not in data:
        return data.isascii()  # no literal: the common case, without copies
    pos = 0
    end = len(data)
    while True:
        crlf = data.find(b"\r\n", pos)
        text = data[pos:end if crlf < 0 else crlf]
        if b"\r" in text or b"\n" in text or b"\0" in text or not text.isascii():
            return False
        if crlf < 0:
            return True
        head = _LITERAL_HEAD.search(text)
        if head is None:
            return False
        pos = crlf + 2 + int(head.group(1))
        if pos >= end or b"\0" in data[crlf + 2:pos]:
            return False  # a literal must end before the closing parenthesis


def wire_plain(data: bytes) -> bool:
    """A cached wire form without literals or 8-bit text: the same bytes
    whether or not the client enabled UTF8=ACCEPT."""
    return b"\r" not in data and data.isascii()


# ---------------------------------------------------------------- facets

def _encode_facet(value: object) -> object:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, datetime.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"d": value.isoformat()}
    if isinstance(value, ThreadHeaders):
        def text(b: bytes | None) -> str | None:
            return None if b is None else b.decode("latin-1")
        return {"th": [text(value.message_id), text(value.references),
                       text(value.in_reply_to), value.base_subject, value.is_reply]}
    raise TypeError(type(value).__name__)


def _decode_facet(value: Any) -> object:
    if not isinstance(value, dict):
        return value
    if "t" in value:
        return datetime.datetime.fromisoformat(value["t"])
    if "d" in value:
        return datetime.date.fromisoformat(value["d"])
    mid, refs, irt, subject, reply = value["th"]

    def raw(s: str | None) -> bytes | None:
        return None if s is None else s.encode("latin-1")
    return ThreadHeaders(raw(mid), raw(refs), raw(irt), str(subject), bool(reply))


def encode_facets(facets: dict[str, object]) -> bytes | None:
    out: dict[str, object] = {}
    for key, value in facets.items():
        try:
            out[key] = _encode_facet(value)
        except TypeError:
            continue  # a facet kind this version does not keep
    return json.dumps(out, separators=(",", ":")).encode() if out else None


def _facet_fits(key: str, value: object) -> bool:
    """Whether a decoded value has the type the engine computes for that
    facet: a damaged (or hostile) file must not make SORT compare a string
    with a date."""
    if key == "sort:date":  # compared with other aware datetimes
        return isinstance(value, datetime.datetime) and value.tzinfo is not None
    if key == "sentday":
        return value is None or (isinstance(value, datetime.date)
                                 and not isinstance(value, datetime.datetime))
    if key == "thread":
        return isinstance(value, ThreadHeaders)
    if key.startswith("text:"):
        return value is None or isinstance(value, str)
    if key.startswith("sort:"):
        return isinstance(value, str)
    return False  # a facet this version does not know: computed afresh


def decode_facets(data: bytes) -> dict[str, object]:
    """Facets from the file; values of the wrong type are left out (and so
    computed again)."""
    loaded = json.loads(data)
    if not isinstance(loaded, dict):
        raise ValueError("facets are not an object")
    out: dict[str, object] = {}
    for key, raw in loaded.items():
        try:
            value = _decode_facet(raw)
        except (ValueError, KeyError, TypeError, IndexError):
            continue
        if _facet_fits(str(key), value):
            out[str(key)] = value
    return out


# ---------------------------------------------------------------- the cache

class FolderCache:
    """One folder's cache, shared by the sessions of a process."""

    def __init__(self, folder_dir: str, *, persistent: bool = True) -> None:
        self.folder_dir = folder_dir
        self.path = os.path.join(folder_dir, CACHE_NAME)
        self.persistent = persistent
        self.records: dict[str, CachedMessage] = {}
        self.uidvalidity = 0
        self._search = SearchCache()
        self._pending_facets: list[tuple[str, CachedMessage]] = []
        self._loaded = False
        self._unsaved = 0
        self._first_unsaved = 0.0
        self._last_save = -SAVE_MIN_INTERVAL
        self._expected: int | None = None
        self._lock = threading.RLock()

    _folders: ClassVar[OrderedDict[str, FolderCache]] = OrderedDict()
    _folders_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def for_folder(cls, folder_dir: str) -> FolderCache:
        key = os.path.abspath(folder_dir)
        with cls._folders_lock:
            found = cls._folders.get(key)
            if found is None:
                persistent = os.environ.get(ENV_SWITCH, "1") != "0"
                found = cls._folders[key] = FolderCache(key, persistent=persistent)
            cls._folders.move_to_end(key)
            while len(cls._folders) > FOLDERS_KEPT:
                cls._folders.popitem(last=False)
            return found

    @classmethod
    def forget_all(cls) -> None:
        with cls._folders_lock:
            cls._folders.clear()

    # ------------------------------------------------------------ validity

    def expect_uidvalidity(self, uidvalidity: int) -> None:
        """The folder's UIDVALIDITY now; another one voids the cache (the
        file is read later, when a record is first wanted)."""
        with self._lock:
            self._expected = uidvalidity
            if self._loaded and uidvalidity != self.uidvalidity:
                self.records.clear()
                self._search.clear()
                self._pending_facets.clear()
                self.uidvalidity = uidvalidity
                self._touch(1)

    def record(self, base: str, filename: str) -> CachedMessage | None:
        """The record of a message, if it may still describe its file."""
        if not self._loaded:
            self.ensure_loaded()
        found = self.records.get(base)
        if found is None:
            return None
        named = size_from_name(base)
        if named is not None and named != found.file_size:
            return None
        return found

    def checked(self, base: str, st: os.stat_result) -> CachedMessage:
        """The record of a message whose file was just opened (``st`` its
        fstat): a fresh one when the file is not the one recorded."""
        if not self._loaded:
            self.ensure_loaded()
        found = self.records.get(base)
        if found is None or not found.matches(st):
            found = CachedMessage(st.st_size, st.st_mtime_ns, st.st_ino)
            self.records[base] = found
            self._touch(1)
        return found

    def changed(self) -> None:
        """A record got a new value (size, envelope, ...)."""
        self._touch(1)

    def _touch(self, n: int) -> None:
        if not self._unsaved:
            self._first_unsaved = time.monotonic()
        self._unsaved += n

    def tidy(self, live: Iterable[str], count: int | None = None) -> None:
        """Forget messages no longer in the folder, once many have gone."""
        if count is not None and len(self.records) <= count + 64:
            return
        keep = set(live)
        with self._lock:
            gone = [b for b in self.records if b not in keep]
            for base in gone:
                del self.records[base]
            if gone:
                self._touch(len(gone))

    # ------------------------------------------------------------ search facets

    @property
    def search(self) -> SearchCache:
        """The search engine's cache of this folder, with the facets saved
        in the file put back (decoded on first use)."""
        if not self._loaded:
            self.ensure_loaded()
        if self._pending_facets:
            with self._lock:
                pending, self._pending_facets = self._pending_facets, []
                for base, rec in pending:
                    if rec.facets is None or not rec.uid or self.records.get(base) is not rec:
                        continue
                    try:
                        decoded = decode_facets(rec.facets)
                        self._search.entries[(rec.uid, base)] = decoded
                        rec.facet_count = len(decoded)
                    except (ValueError, KeyError, TypeError, IndexError):
                        rec.facets = None
        return self._search

    def _collect_facets(self) -> None:
        # A message's facets never change, they only grow (a new kind asked
        # for): only entries with more facets than last encoded are encoded.
        for (uid, base), facets in list(self._search.entries.items()):
            rec = self.records.get(base)
            if rec is None or not facets:
                continue
            if rec.uid == uid and rec.facet_count == len(facets) and rec.facets is not None:
                continue
            rec.uid = uid
            rec.facet_count = len(facets)
            rec.facets = encode_facets(facets)

    # ------------------------------------------------------------ file

    def ensure_loaded(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            if self._expected is not None:
                self.uidvalidity = self._expected
            if not self.persistent:
                return
            try:
                self._load(self._expected)
            except FileNotFoundError:
                pass
            except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
                log.info("folder cache %s unusable (%s); rebuilding", self.path, exc)
                self.records.clear()

    def _load(self, uidvalidity: int | None) -> None:
        with open(self.path, "rb") as f:
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size:
                raise ValueError("short header")
            magic, version, file_uidvalidity, count, crc, length = _HEADER.unpack(head)
            if magic != MAGIC or version != VERSION:
                raise ValueError("another format or version")
            if uidvalidity is not None and file_uidvalidity != uidvalidity:
                raise ValueError("UIDVALIDITY changed")
            body = f.read(length + 1)
        if len(body) != length or zlib.crc32(body) != crc:
            raise ValueError("body damaged")
        records: dict[str, CachedMessage] = {}
        pos = 0
        unpack = _RECORD.unpack_from
        size = _RECORD.size
        for _n in range(count):
            (file_size, mtime_ns, inode, rfc822, uid, env_len, bs_len, fac_len,
             base_len) = unpack(body, pos)
            pos += size
            base = os.fsdecode(body[pos:pos + base_len])
            pos += base_len
            rec = CachedMessage(file_size, mtime_ns, inode)
            rec.rfc822_size = rfc822 if rfc822 >= 0 else None
            rec.uid = uid
            if env_len >= 0:
                rec._envelope = body[pos:pos + env_len]
                pos += env_len
                rec._unchecked = True
            if bs_len >= 0:
                rec._bodystructure = body[pos:pos + bs_len]
                pos += bs_len
                rec._unchecked = True
            if fac_len >= 0:
                rec.facets = body[pos:pos + fac_len]
                pos += fac_len
            records[base] = rec
        if pos != len(body):
            raise ValueError("trailing bytes")
        self.records = records
        self.uidvalidity = file_uidvalidity
        self._pending_facets = [(b, r) for b, r in records.items() if r.facets is not None]

    def due(self) -> bool:
        """Whether enough changed for a save to be worth it (and the last
        save is long enough ago: a save of a big folder costs the
        interpreter a while, and a long command keeps adding records)."""
        now = time.monotonic()
        return bool(self._unsaved) and now - self._last_save >= SAVE_MIN_INTERVAL and (
            self._unsaved >= SAVE_AFTER_CHANGES
            or now - self._first_unsaved >= SAVE_AFTER_SECONDS)

    def save(self, *, force: bool = False) -> bool:
        """Write the file if anything changed (``force``: even if not due).
        Synchronous: run it in a worker thread."""
        if not self.persistent or not self._unsaved or not (force or self.due()):
            return False
        with self._lock:
            self._collect_facets()
            unsaved, self._unsaved = self._unsaved, 0
            self._last_save = time.monotonic()
            try:
                self._write()
            except OSError as exc:
                log.debug("folder cache %s not written: %s", self.path, exc)
                # A folder we cannot write keeps its cache in memory; do
                # not try again at every command.
                self.persistent = exc.errno not in (13, 30, 1)  # EACCES, EROFS, EPERM
                self._unsaved = unsaved if self.persistent else 0
                return False
        return True

    def _write(self) -> None:
        parts: list[bytes] = []
        pack = _RECORD.pack
        count = 0
        for base, rec in list(self.records.items()):
            name = os.fsencode(base)
            # Unchecked wire forms go back as read: checked when used.
            env, bs, fac = rec._envelope, rec._bodystructure, rec.facets
            parts.append(pack(rec.file_size, rec.mtime_ns, rec.inode,
                              -1 if rec.rfc822_size is None else rec.rfc822_size,
                              rec.uid if fac is not None else 0,
                              _ABSENT if env is None else len(env),
                              _ABSENT if bs is None else len(bs),
                              _ABSENT if fac is None else len(fac), len(name)))
            parts.append(name)
            if env is not None:
                parts.append(env)
            if bs is not None:
                parts.append(bs)
            if fac is not None:
                parts.append(fac)
            count += 1
        body = b"".join(parts)
        head = _HEADER.pack(MAGIC, VERSION, self.uidvalidity, count, zlib.crc32(body),
                            len(body))
        tmp = os.path.join(self.folder_dir, "tmp",
                           new_unique_name("_postillioncache").tmp_name())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            try:
                for chunk in (head, body):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.rename(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
