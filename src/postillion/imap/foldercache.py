"""The disposable per-folder cache: ``<folder>/postillion.cache``.

The maildir is the database; this file only makes repeated work cheap
(format and rules: docs/cache.md).  Per message, keyed by base name, it
keeps what costs a read and a parse of the file: the file's size, inode
and mtime (INTERNALDATE), RFC822.SIZE in the CRLF view, the ENVELOPE and
BODYSTRUCTURE as they go on the wire, and the search engine's facets
(sort keys, thread headers, header search texts).  It never holds flags,
UIDs that decide anything, or message content.

The file has two sections, each with its own length and CRC-32 in the
header: the records (sizes, dates, wire forms) and the facets, a column per
facet kind.  Each is read only when first needed, and a column decoded
only when a command first asks for its kind: a SORT (DATE) in a new
process reads one column, not 100,000 records.

Validity: the header (magic, version, UIDVALIDITY, section lengths adding
up to the file's size) and the CRC of a section must match, else what it
holds is ignored and rebuilt; a record is used only for a message whose
base name is in the folder, whose ``,S=`` size (when the name has one)
equals the recorded file size, and is replaced whenever the file, opened
for another reason, shows another inode, size or mtime.  Deleting the file loses nothing.

Writes: a temporary file in the folder's ``tmp/`` renamed over the old
one, from a worker thread, record by record (the event loop keeps the
interpreter between records).  A folder that cannot be written (a
read-only shared folder) simply keeps its cache in memory.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import struct
import sys
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import ClassVar, TypeVar, cast

from postillion.imap.protocol.bodywire import wire_cacheable
from postillion.imap.search import SearchCache
from postillion.imap.search.facets import CacheKey, Column, ThreadHeaders
from postillion.imap.search.maildirview import internaldate_of
from postillion.maildir.filenames import size_from_name
from postillion.maildir.replacefile import replace_file

log = logging.getLogger(__name__)
T = TypeVar("T")

CACHE_NAME = "postillion.cache"
MAGIC = b"PSTLNCACHE\n"
# 2: ENVELOPE address lists without spaces (wire values changed);
# 3: two sections, facets kept by column; 4: a third section, saved orders;
# 5: each record says where its wire forms are (records read one by one);
# 6: the wire forms in a section of their own, read when first sent;
# 7: BODYSTRUCTURE of a message without MIME-Version reports its
# Content-Transfer-Encoding, -ID, -Description and -MD5 (wire values changed);
# 8: no record whose base name's ,S= disagrees with its file size (the reader
# of a file of its own user's then need not check every name).
VERSION = 8
# magic, version, uidvalidity, then per section (records, wire forms,
# facets, orders) its length and CRC-32
_HEADER = struct.Struct("<11sHI" + "QI" * 4)
# a section's entry count and the length of its NUL-separated base names
_SECTION = struct.Struct("<II")
# file size, mtime_ns, inode, RFC822.SIZE (-1 unknown), where its wire
# forms start (from the start of the wire forms), lengths of envelope and
# bodystructure (-1 absent)
_RECORD = struct.Struct("<QqQqQii")
#: A record as 64-bit words (file size, mtime_ns, inode, RFC822.SIZE,
#: start, both lengths), and where two of them are.
_WORDS = _RECORD.size // 8
_MTIME_WORD, _RFC822_WORD = 1, 3
_SIZE_MARK = ",S="
_RFC822_AT = struct.calcsize("<QqQ")        # where RFC822.SIZE is in a record
_LENGTHS_AT = struct.calcsize("<QqQqQ")     # where the two lengths are
_RECORDS, _WIRE, _FACETS, _ORDERS = 0, 1, 2, 3
# What a file is, while it is: it is only ever replaced by rename.
#: (st_ino, st_size, st_mtime_ns, written by this user only): the last is
#: whether the file belongs to the process's user and no one else may write
#: it, so that nothing in it can have been put there by another user.
FileIdentity = tuple[int, int, int, bool]
#: Saved orders (SORT and THREAD answers over a whole folder) kept.
ORDERS_KEPT = 16
#: The digest that names the set of messages an order is of.
ORDER_DIGEST_SIZE = 16
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

    __slots__ = ("_bodystructure", "_envelope", "_source", "_unchecked", "file_size",
                 "inode", "mtime_ns", "rfc822_size")

    def __init__(self, file_size: int, mtime_ns: int, inode: int,
                 rfc822_size: int | None = None) -> None:
        self.file_size = file_size
        self.mtime_ns = mtime_ns
        self.inode = inode
        self.rfc822_size = rfc822_size
        self._envelope: bytes | None = None       # wire form, see wire_cacheable
        self._bodystructure: bytes | None = None
        # Wire forms read from the file are cut out of it and checked when
        # first used, not when the file is loaded: a FETCH FLAGS or a SORT
        # in a new process does not read, copy and check 100,000 ENVELOPEs
        # it never sends.  _source: (the records as read, start in their
        # wire forms section, envelope length, bodystructure length),
        # lengths -1 for absent.
        self._source: tuple[_SavedRecords, int, int, int] | None = None
        self._unchecked = False

    def raw_wire(self) -> tuple[bytes | None, bytes | None]:
        """ENVELOPE and BODYSTRUCTURE as kept, checked or not (for writing
        them back: unchecked forms go back as read)."""
        if self._source is None:
            return self._envelope, self._bodystructure
        saved, start, env_len, bs_len = self._source
        return saved.cut(start, env_len, bs_len)

    def has_wire_forms(self) -> bool:
        """Both wire forms are kept (not yet checked, perhaps)."""
        if self._source is not None:
            return self._source[2] >= 0 and self._source[3] >= 0
        return self._envelope is not None and self._bodystructure is not None

    def _check(self) -> None:
        self._unchecked = False
        if self._source is not None:
            trusted = self._source[0].trusted
            self._envelope, self._bodystructure = self.raw_wire()
            self._source = None
            if trusted:
                # Cut at the wrong place (a bug), they would not be one value.
                if self._envelope is not None and not _one_list(self._envelope):
                    self._envelope = None
                if self._bodystructure is not None and not _one_list(self._bodystructure):
                    self._bodystructure = None
                return
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
        if self._unchecked:
            self._check()  # the other form is cut out of the file first
        self._envelope = wire

    @property
    def bodystructure(self) -> bytes | None:
        """BODYSTRUCTURE's wire form (see :func:`wire_cacheable`), or None."""
        if self._unchecked:
            self._check()
        return self._bodystructure

    @bodystructure.setter
    def bodystructure(self, wire: bytes | None) -> None:
        if self._unchecked:
            self._check()
        self._bodystructure = wire

    def matches(self, st: os.stat_result) -> bool:
        return (st.st_size == self.file_size and st.st_mtime_ns == self.mtime_ns
                and st.st_ino == self.inode)

    @property
    def internaldate(self) -> datetime.datetime:
        return internaldate_of(self.mtime_ns)


def _name_agrees(base: str, file_size: int) -> bool:
    """Whether a record of this file size may describe the message named
    ``base``: a name's ``,S=`` (if any) is the size the file was written
    with.  The usual name (S= at its end) is tested without parsing it."""
    if base.endswith(f",S={file_size}"):
        return True
    named = size_from_name(base)
    return named is None or named == file_size


def _one_list(data: bytes) -> bool:
    return data[:1] == b"(" and data[-1:] == b")"


def wire_plain(data: bytes) -> bool:
    """A cached wire form without literals or 8-bit text: the same bytes
    whether or not the client enabled UTF8=ACCEPT."""
    return b"\r" not in data and data.isascii()


# ---------------------------------------------------------------- facet columns

def _column_kind(key: str) -> str | None:
    """How a facet kind's values are kept, None for a kind this version
    does not know (not saved, and ignored in a file)."""
    if key == "sort:date":
        return "float"                 # seconds since the epoch
    if key == "sentday":
        return "day"                   # a date (ordinal) or None
    if key == "thread":
        return "thread"                # ThreadHeaders as a list of five
    if key.startswith("text:"):
        return "text"                  # str or None
    if key.startswith("sort:"):
        return "str"
    return None


def _thread_list(value: ThreadHeaders) -> list[object]:
    def text(b: bytes | None) -> str | None:
        return None if b is None else b.decode("latin-1")
    return [text(value.message_id), text(value.references), text(value.in_reply_to),
            value.base_subject, value.is_reply]


def _thread_headers(value: object) -> ThreadHeaders | None:
    if type(value) is not list or len(value) != 5:
        return None
    mid, refs, irt, subject, reply = value
    if type(subject) is not str or type(reply) is not bool:
        return None
    raw: list[bytes | None] = []
    for text in (mid, refs, irt):
        if text is not None and type(text) is not str:
            return None
        raw.append(None if text is None else text.encode("latin-1"))
    return ThreadHeaders(raw[0], raw[1], raw[2], subject, reply)


def encode_column(key: str, column: Column, keys: Sequence[CacheKey]) -> bytes | None:
    """One facet kind's values for ``keys``, in order, as a JSON array
    (``false`` where a message's value was not computed: no facet value is
    a bool); None for a kind that is not kept."""
    kind = _column_kind(key)
    if kind is None:
        return None
    get = column.get
    values: list[object] = [get(k, False) for k in keys]
    if kind == "day":
        values = [v.toordinal() if isinstance(v, datetime.date) else v for v in values]
    elif kind == "thread":
        values = [_thread_list(v) if isinstance(v, ThreadHeaders) else v for v in values]
    return json.dumps(values, separators=(",", ":"), allow_nan=False).encode()


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} in a facet column")


def decode_column(key: str, data: bytes, keys: Sequence[CacheKey]) -> Column:
    """A column from the file.  Values of the wrong type are left out (and
    so computed again): a damaged or hostile file must not make SORT
    compare a string with a number."""
    kind = _column_kind(key)
    if kind is None:
        return {}
    values = json.loads(data, parse_constant=_no_constants)
    if type(values) is not list or len(values) != len(keys):
        raise ValueError(f"facet column {key} does not fit its keys")
    if kind in ("str", "text") and set(map(type, values)) <= (
            _STR_ONLY if kind == "str" else _STR_OR_NONE):
        return dict(zip(keys, values, strict=True))  # (every value fits: no test each)
    pairs = zip(keys, values, strict=True)
    if kind == "str":
        return {k: v for k, v in pairs if type(v) is str}
    if kind == "text":
        return {k: v for k, v in pairs if v is None or type(v) is str}
    if kind == "float":
        return {k: float(v) for k, v in pairs if type(v) is float or type(v) is int}
    if kind == "day":
        return {k: None if v is None else datetime.date.fromordinal(v) for k, v in pairs
                if v is None or (type(v) is int and 0 < v <= _MAX_ORDINAL)}
    return {k: h for k, v in pairs if (h := _thread_headers(v)) is not None}


_MAX_ORDINAL = datetime.date.max.toordinal()
_STR_ONLY = frozenset({str})
_STR_OR_NONE = frozenset({str, type(None)})
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


def _encode_names(names: Iterable[str]) -> bytes:
    # A file name never holds NUL.
    return "\0".join(names).encode(_FS_ENCODING, _FS_ERRORS)


def _decode_names(data: bytes, count: int) -> list[str]:
    if count == 0:
        if data:
            raise ValueError("names without entries")
        return []
    names = data.decode(_FS_ENCODING, _FS_ERRORS).split("\0")
    if len(names) != count:
        raise ValueError("names do not match the entry count")
    return names


class _SavedRecords:
    """The records section as read from the file: a record is decoded when
    first asked for (:meth:`take`), so a command in a new process that
    needs some of 100,000 records, or one field of each, does not build
    them all.  Not even the base names are decoded at once: the index of
    rows by name is made when first asked for, and a command that asks
    about every message of the folder in the rows' own order (a warm
    FETCH 1:* of sizes and dates) is answered without it (:meth:`in_order`:
    100,000 names decoded and hashed into a dict cost ~35 ms).  The wire
    forms section is read when a first wire form is wanted (:meth:`wire`),
    from the very file the records came from."""

    __slots__ = ("_index", "_lock", "_names_at", "_read_wire", "_wire", "_wire_read", "count",
                 "data", "rows_at", "trusted", "words")

    def __init__(self, data: bytes, read_wire: Callable[[], bytes], *,
                 trusted: bool = False) -> None:
        count, names_len = _SECTION.unpack_from(data, 0)
        self.rows_at = _SECTION.size
        names_at = self.rows_at + count * _RECORD.size
        if names_at + names_len != len(data):
            raise ValueError("records section does not add up")
        # (A file name never holds NUL: count names, count - 1 NULs.)
        if (data.count(b"\0", names_at) != count - 1) if count else names_len:
            raise ValueError("names do not match the entry count")
        self._names_at = names_at
        self._index: dict[str, int] | None = None
        self.count = count
        # The rows as 64-bit words (_WORDS a row), for reading a field of
        # many rows without unpacking them (on little-endian machines).
        rows = memoryview(data)[self.rows_at:self.rows_at + count * _RECORD.size]
        self.words = rows.cast("q") if sys.byteorder == "little" else None
        self.data = data
        self._read_wire = read_wire
        self._wire: bytes | None = None
        self._wire_read = False
        self._lock = threading.Lock()
        # Written by this user only (see FileIdentity): its wire forms are
        # what this user's sessions wrote, with only damage to fear, which
        # the sections' CRCs catch.  Any other file's forms are checked one
        # by one before they are sent: a shared folder's cache must not put
        # responses of its writer's choosing into another user's session.
        self.trusted = trusted

    @property
    def index(self) -> dict[str, int]:
        """Row number by base name of the records not taken yet (made when
        first asked for; a name twice makes the rows unusable: none is
        served, and the next save writes them afresh)."""
        index = self._index
        if index is None:
            with self._lock:
                index = self._index
                if index is None:
                    names = _decode_names(self.data[self._names_at:], self.count)
                    index = dict(zip(names, range(self.count), strict=True))
                    if len(index) != self.count:
                        log.info("folder cache: a base name twice in the records; not used")
                        index = {}
                    self._index = index
        return index

    def in_order(self, bases: Sequence[str]) -> bool:
        """Whether row i is the record of ``bases[i]``, for every row and
        every one of ``bases``: told from the names as stored (one join
        and one comparison), while no record has been taken or dropped
        (the index not made yet).  A folder's messages are in the order
        their records were first saved (a FETCH 1:* makes them in that
        order) until the folder changes."""
        if self._index is not None or len(bases) != self.count:
            return False
        try:
            stored_as = _encode_names(bases)
        except UnicodeEncodeError:
            return False  # (a name no listing gives: then not the file's)
        return memoryview(self.data)[self._names_at:] == stored_as

    def wire(self) -> bytes | None:
        """The wire forms section (None when it cannot be had: the file was
        replaced or damaged meanwhile; the forms are computed again)."""
        if self._wire_read:  # read once; no lock for each of 200,000 cuts
            return self._wire
        with self._lock:
            if not self._wire_read:
                try:
                    self._wire = self._read_wire()
                except (OSError, ValueError, struct.error) as exc:
                    log.info("folder cache: wire forms unusable (%s)", exc)
                self._wire_read = True  # last: a reader without the lock sees _wire set
            return self._wire

    def cut(self, start: int, env_len: int, bs_len: int) -> tuple[bytes | None, bytes | None]:
        """ENVELOPE and BODYSTRUCTURE of one record, as read (None for a
        form it has not, or one out of the section's bounds)."""
        wire = self.wire()
        env_end = start + max(env_len, 0)
        end = env_end + max(bs_len, 0)
        if wire is None or start < 0 or end > len(wire):
            return None, None
        return (wire[start:env_end] if env_len >= 0 else None,
                wire[env_end:end] if bs_len >= 0 else None)

    def take(self, base: str) -> CachedMessage | None:
        """The record of ``base``, decoded (and no longer in the index)."""
        i = self.index.pop(base, None)
        if i is None:
            return None
        file_size, mtime_ns, inode, rfc822, at, env_len, bs_len = _RECORD.unpack_from(
            self.data, self.rows_at + i * _RECORD.size)
        rec = CachedMessage(file_size, mtime_ns, inode, rfc822 if rfc822 >= 0 else None)
        if env_len >= 0 or bs_len >= 0:
            rec._source = (self, at, env_len, bs_len)
            rec._unchecked = True
        return rec

    def take_all(self) -> Iterator[tuple[str, CachedMessage]]:
        """Every record not taken yet, decoded: what :meth:`take` gives one
        by one, with the rows unpacked in one pass."""
        rows = list(_RECORD.iter_unpack(
            memoryview(self.data)[self.rows_at:self.rows_at + self.count * _RECORD.size]))
        index = self.index
        self._index = {}
        for base, i in index.items():
            file_size, mtime_ns, inode, rfc822, at, env_len, bs_len = rows[i]
            rec = CachedMessage(file_size, mtime_ns, inode, rfc822 if rfc822 >= 0 else None)
            if env_len >= 0 or bs_len >= 0:
                rec._source = (self, at, env_len, bs_len)
                rec._unchecked = True
            yield base, rec

    def _field(self, base: str, offset: int, layout: str) -> tuple[int, ...] | None:
        i = self.index.get(base)
        if i is None:
            return None
        return struct.unpack_from(layout, self.data, self.rows_at + i * _RECORD.size + offset)

    def has_size(self, base: str) -> bool:
        words = self.words
        if words is not None:
            i = self.index.get(base)
            return i is not None and words[i * _WORDS + _RFC822_WORD] >= 0
        found = self._field(base, _RFC822_AT, "<q")
        return found is not None and found[0] >= 0

    def has_wire_forms(self, base: str) -> bool:
        found = self._field(base, _LENGTHS_AT, "<ii")
        return found is not None and found[0] >= 0 and found[1] >= 0

    def rows(self) -> Iterator[tuple[str, tuple[int, int, int, int], bytes | None,
                                     bytes | None]]:
        """Each record not taken: base name, (file size, mtime_ns, inode,
        RFC822.SIZE or -1), envelope and bodystructure as read."""
        data, rows_at = self.data, self.rows_at
        unpack = _RECORD.unpack_from
        for base, i in self.index.items():
            file_size, mtime_ns, inode, rfc822, at, env_len, bs_len = unpack(
                data, rows_at + i * _RECORD.size)
            yield (base, (file_size, mtime_ns, inode, rfc822), *self.cut(at, env_len, bs_len))


def _records_sections(records: dict[str, CachedMessage],
                      saved: _SavedRecords | None) -> tuple[bytes, bytes]:
    """The records section and the wire forms section."""
    rows: list[bytes] = []
    wire: list[bytes] = []
    names: list[str] = []
    pack = _RECORD.pack
    at = 0

    def add(base: str, fields: tuple[int, int, int, int], env: bytes | None,
            bs: bytes | None) -> None:
        nonlocal at
        rows.append(pack(*fields, at, _ABSENT if env is None else len(env),
                         _ABSENT if bs is None else len(bs)))
        for form in (env, bs):
            if form is not None:
                wire.append(form)
                at += len(form)
        names.append(base)

    # A record whose name's ,S= is not its file size is never written (it
    # could not be served without a look at the file anyway): a file of
    # this format holds none, so FolderCache.metadata_columns believes the
    # sizes of one its own user wrote without checking 100,000 names.
    for base, rec in records.items():
        if not _name_agrees(base, rec.file_size):
            continue
        # Unchecked wire forms go back as read: checked when used.
        add(base, (rec.file_size, rec.mtime_ns, rec.inode,
                   -1 if rec.rfc822_size is None else rec.rfc822_size), *rec.raw_wire())
    if saved is not None:
        for row in saved.rows():
            # (Rows of a file another user wrote are checked like records.)
            if saved.trusted or _name_agrees(row[0], row[1][0]):
                add(*row)
    encoded = _encode_names(names)
    return (b"".join([_SECTION.pack(len(names), len(encoded)), *rows, encoded]),
            b"".join(wire))


def _parse_facets(data: bytes) -> tuple[list[CacheKey], dict[str, bytes]]:
    """The keys and the still encoded columns of a facets section."""
    count, names_len = _SECTION.unpack_from(data, 0)
    uids = struct.unpack_from(f"<{count}I", data, _SECTION.size)
    pos = _SECTION.size + 4 * count
    names = _decode_names(data[pos:pos + names_len], count)
    pos += names_len
    keys = list(zip(uids, names, strict=True))
    (columns,) = struct.unpack_from("<H", data, pos)
    pos += 2
    raw: dict[str, bytes] = {}
    for _n in range(columns):
        (key_len,) = struct.unpack_from("<H", data, pos)
        key = data[pos + 2:pos + 2 + key_len].decode("ascii")
        pos += 2 + key_len
        (data_len,) = struct.unpack_from("<I", data, pos)
        raw[key] = data[pos + 4:pos + 4 + data_len]
        pos += 4 + data_len
    if pos != len(data):
        raise ValueError("facets section length does not add up")
    return keys, raw


def _facets_section(keys: Sequence[CacheKey], columns: dict[str, bytes]) -> bytes:
    names = _encode_names(base for _uid, base in keys)
    parts = [_SECTION.pack(len(keys), len(names)),
             struct.pack(f"<{len(keys)}I", *(uid for uid, _base in keys)), names,
             struct.pack("<H", len(columns))]
    for key, data in columns.items():
        name = key.encode("ascii")
        parts += [struct.pack("<H", len(name)), name, struct.pack("<I", len(data)), data]
    return b"".join(parts)


def _parse_orders(data: bytes) -> OrderedDict[str, tuple[bytes, bytes]]:
    """The saved orders of an orders section: key -> (digest, data)."""
    (count,) = struct.unpack_from("<H", data, 0)
    pos = 2
    orders: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
    for _n in range(count):
        (key_len,) = struct.unpack_from("<H", data, pos)
        key = data[pos + 2:pos + 2 + key_len].decode("ascii")
        pos += 2 + key_len
        digest = data[pos:pos + ORDER_DIGEST_SIZE]
        pos += ORDER_DIGEST_SIZE
        (data_len,) = struct.unpack_from("<I", data, pos)
        payload = data[pos + 4:pos + 4 + data_len]
        pos += 4 + data_len
        if len(digest) != ORDER_DIGEST_SIZE or len(payload) != data_len:
            raise ValueError("orders section too short")
        orders[key] = (digest, payload)
    if pos != len(data):
        raise ValueError("orders section length does not add up")
    return orders


def _orders_section(orders: OrderedDict[str, tuple[bytes, bytes]]) -> bytes:
    parts = [struct.pack("<H", len(orders))]
    for key, (digest, payload) in orders.items():
        name = key.encode("ascii")
        parts += [struct.pack("<H", len(name)), name, digest,
                  struct.pack("<I", len(payload)), payload]
    return b"".join(parts)


# ---------------------------------------------------------------- the cache

class FolderCache:
    """One folder's cache, shared by the sessions of a process."""

    def __init__(self, folder_dir: str, *, persistent: bool = True) -> None:
        self.folder_dir = folder_dir
        self.path = os.path.join(folder_dir, CACHE_NAME)
        self.persistent = persistent
        # Records decoded or made in this process; the rest of those read
        # from the file wait in _saved, decoded when first asked for.
        self._records: dict[str, CachedMessage] = {}
        self._saved: _SavedRecords | None = None
        self.uidvalidity = 0
        self._search = SearchCache(loader=self._saved_column)
        self._loaded = False                      # the records section read
        self._facets_read = False                 # the facets section read
        self._read_any = False                    # either: self.uidvalidity is the file's
        # The facets section as read: its keys, and the columns no command
        # has asked for yet, still encoded.
        self._facet_keys: list[CacheKey] = []
        self._facet_raw: dict[str, bytes] = {}
        # Saved orders: key -> (digest of the message set, encoded order);
        # see :mod:`postillion.imap.savedorders`.
        self._orders: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self._orders_read = False
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
            if self._read_any and uidvalidity != self.uidvalidity:
                self._records.clear()
                self._saved = None
                self._search.clear()
                self._facet_keys, self._facet_raw = [], {}
                self._orders.clear()
                # The file is of the old folder.
                self._loaded = self._facets_read = self._orders_read = True
                self.uidvalidity = uidvalidity
                self._touch(1)

    @property
    def records(self) -> dict[str, CachedMessage]:
        """Every record, all decoded (for inspection; commands look records
        up one by one)."""
        if not self._loaded:
            self.ensure_loaded()
        self._take_saved()
        return self._records

    def _take_saved(self) -> None:
        with self._lock:
            saved, self._saved = self._saved, None
            if saved is not None:
                setdefault = self._records.setdefault
                for base, rec in saved.take_all():
                    setdefault(base, rec)

    def prepare(self, count: int) -> None:
        """A command is about to look up ``count`` records (a FETCH 1:*):
        when that is most of those still in the file as read, all are
        decoded at once (100,000 in ~0.16 s, against ~0.39 s one lookup at
        a time); a few lookups in a big folder still decode only theirs."""
        if not self._loaded:
            self.ensure_loaded()
        saved = self._saved
        if saved is not None and count * 2 >= len(saved.index):
            self._take_saved()

    def _lookup(self, base: str) -> CachedMessage | None:
        found = self._records.get(base)
        if found is None and self._saved is not None:
            with self._lock:
                found = self._records.get(base)
                if found is None and self._saved is not None:
                    found = self._saved.take(base)
                    if found is not None:
                        self._records[base] = found
        return found

    def _known(self, base: str) -> bool:
        return base in self._records or (self._saved is not None and base in self._saved.index)

    def record(self, base: str, filename: str) -> CachedMessage | None:
        """The record of a message, if it may still describe its file."""
        if not self._loaded:
            self.ensure_loaded()
        found = self._lookup(base)
        if found is None or not _name_agrees(base, found.file_size):
            return None
        return found

    def sizeless(self, bases: Sequence[str]) -> list[int]:
        """The positions in ``bases`` of the messages whose RFC822.SIZE is
        not cached (:meth:`has_size` of each, in bulk: a FETCH 1:* asking
        for sizes checks every message of a 100,000-message folder)."""
        if not self._loaded:
            self.ensure_loaded()
        records, saved = self._records, self._saved
        words = saved.words if saved is not None else None
        if saved is not None and words is not None and not records:
            # A new process, nothing decoded yet: the rows answer for all.
            if saved.in_order(bases):
                sizes = words[_RFC822_WORD::_WORDS].tolist()
                return [i for i, size in enumerate(sizes) if size < 0]
            rows = list(map(saved.index.get, bases))
            if None not in rows:
                return [i for i, row in enumerate(rows)
                        if words[row * _WORDS + _RFC822_WORD] < 0]  # type: ignore[operator]
        return [i for i, base in enumerate(bases) if not self.has_size(base)]

    def metadata_columns(self, bases: list[str]) -> tuple[list[int], list[int]] | None:
        """RFC822.SIZE and mtime_ns of every message, as two columns read
        from the rows as loaded, when a new process has decoded no record
        yet and every message has a row, a cached size and a name that
        agrees with its file size (what :meth:`sizes_and_mtimes` tells one
        message at a time); else None.  A column of the rows is read at
        once and picked from: the first FETCH 1:* (UID FLAGS RFC822.SIZE
        INTERNALDATE) of a client's synchronization, 100,000 messages in a
        new process, in ~0.04 s instead of ~0.08 s; a few messages of a
        big folder have their words read alone."""
        if not self._loaded:
            self.ensure_loaded()
        saved = self._saved
        if self._records or saved is None or saved.words is None:
            return None
        words = saved.words
        column: Callable[[int], list[int]]
        if saved.in_order(bases):
            # The rows are the messages, in order (no name decoded).
            def column(word: int) -> list[int]:
                return words[word::_WORDS].tolist()
        else:
            looked = list(map(saved.index.get, bases))
            if None in looked:
                return None
            rows = cast("list[int]", looked)
            if len(rows) * 4 >= saved.count:
                # Most of the folder: each column of the rows read at once.
                def column(word: int) -> list[int]:
                    return list(map(words[word::_WORDS].tolist().__getitem__, rows))
            else:
                # A few messages of a big folder: their words alone.
                at = [row * _WORDS for row in rows]

                def column(word: int) -> list[int]:
                    return list(map(words.__getitem__, map(word.__add__, at)))
        sizes = column(_RFC822_WORD)
        if sizes and min(sizes) < 0:
            return None  # some size not cached
        if not saved.trusted:
            # Another user's file may hold rows whose names disagree with
            # their sizes (this user's never does: see _records_sections).
            # The usual name ends in its file's size; any other is asked.
            file_sizes = column(0)
            if not all(map(str.endswith, bases,
                           map(_SIZE_MARK.__add__, map(str, file_sizes)))) \
                    and not all(map(_name_agrees, bases, file_sizes)):
                return None
        return sizes, column(_MTIME_WORD)

    def sizes_and_mtimes(self, bases: list[str]) -> list[tuple[int | None, int] | None]:
        """RFC822.SIZE (None when not cached) and mtime_ns of each message
        whose record :meth:`record` would give (None for the others),
        read from the rows as loaded without decoding them into records:
        a FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE), the first
        command of a client's synchronization, in a new process."""
        if not self._loaded:
            self.ensure_loaded()
        records = self._records
        saved = self._saved
        index = saved.index if saved is not None else {}
        words = saved.words if saved is not None else None
        out: list[tuple[int | None, int] | None] = []
        for base in bases:
            found = records.get(base)
            if found is not None:
                file_size, mtime_ns, size = found.file_size, found.mtime_ns, found.rfc822_size
            else:
                # A record taken meanwhile (by another thread) is neither
                # here nor there: None, and that message goes the long way.
                i = index.get(base)
                if i is None or saved is None:
                    out.append(None)
                    continue
                if words is not None:
                    at = i * _WORDS
                    file_size, mtime_ns = words[at], words[at + _MTIME_WORD]
                    rfc822 = words[at + _RFC822_WORD]
                else:
                    file_size, mtime_ns, _inode, rfc822 = _RECORD.unpack_from(
                        saved.data, saved.rows_at + i * _RECORD.size)[:4]
                size = rfc822 if rfc822 >= 0 else None
            out.append((size, mtime_ns) if _name_agrees(base, file_size) else None)
        return out

    def checked(self, base: str, st: os.stat_result) -> CachedMessage:
        """The record of a message whose file was just opened (``st`` its
        fstat): a fresh one when the file is not the one recorded."""
        if not self._loaded:
            self.ensure_loaded()
        found = self._lookup(base)
        if found is None or not found.matches(st):
            found = CachedMessage(st.st_size, st.st_mtime_ns, st.st_ino)
            self._records[base] = found
            self._touch(1)
        return found

    def has_wire_forms(self, base: str) -> bool:
        """Whether ENVELOPE and BODYSTRUCTURE of a message are cached (not
        yet checked: see :func:`wire_cacheable`; nor the record against the
        name's size, which :meth:`record` does when they are used)."""
        if not self._loaded:
            self.ensure_loaded()
        found = self._records.get(base)
        if found is not None:
            return found.has_wire_forms()
        saved = self._saved
        return saved is not None and saved.has_wire_forms(base)

    def has_size(self, base: str) -> bool:
        """Whether RFC822.SIZE of a message is cached."""
        if not self._loaded:
            self.ensure_loaded()
        found = self._records.get(base)
        if found is not None:
            return found.rfc822_size is not None
        saved = self._saved
        return saved is not None and saved.has_size(base)

    def learned(self, base: str, file_size: int, mtime_ns: int, inode: int,
                rfc822_size: int | None = None, envelope: bytes | None = None,
                bodystructure: bytes | None = None) -> None:
        """What another process computed from a message file with this
        identity (see :mod:`postillion.imap.wireforms`); the caller calls
        :meth:`changed`.  The record also keeps the message's facets in
        the file (only messages with a record keep theirs)."""
        if not self._loaded:
            self.ensure_loaded()
        with self._lock:
            found = self._lookup(base)
            if (found is None or found.file_size != file_size or found.mtime_ns != mtime_ns
                    or found.inode != inode):
                found = self._records[base] = CachedMessage(file_size, mtime_ns, inode)
            if rfc822_size is not None:
                found.rfc822_size = rfc822_size
            if envelope is not None:
                found.envelope = envelope
            if bodystructure is not None:
                found.bodystructure = bodystructure

    def changed(self, count: int = 1) -> None:
        """Records or facets got new values (size, envelope, ...)."""
        self._touch(count)

    def _touch(self, n: int) -> None:
        if not self._unsaved:
            self._first_unsaved = time.monotonic()
        self._unsaved += n

    def tidy(self, live: Iterable[str], count: int | None = None) -> None:
        """Forget messages no longer in the folder, once many have gone."""
        saved = self._saved
        held = len(self._records) + (len(saved.index) if saved is not None else 0)
        if count is not None and held <= count + 64:
            return
        keep = set(live)
        with self._lock:
            gone = [b for b in self._records if b not in keep]
            for base in gone:
                del self._records[base]
            if saved is not None:
                dropped = [b for b in saved.index if b not in keep]
                for base in dropped:
                    del saved.index[base]
                gone += dropped
            if gone:
                self._touch(len(gone))

    # ------------------------------------------------------------ search facets

    @property
    def search(self) -> SearchCache:
        """The search engine's cache of this folder; a facet kind saved in
        the file is decoded when a command first needs it."""
        return self._search

    def _saved_column(self, key: str) -> Column | None:
        with self._lock:
            self._read_facets()
            raw = self._facet_raw.pop(key, None)
            keys = self._facet_keys
        if raw is None:
            return None
        try:
            return decode_column(key, raw, keys)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            log.info("folder cache %s: facet column %s unusable (%s)", self.path, key, exc)
            return None

    def _read_facets(self) -> None:
        if self._facets_read:
            return
        self._facets_read = True
        found = self._parsed_section(_FACETS, lambda data, _file: _parse_facets(data), "facets")
        if found is not None:
            self._facet_keys, self._facet_raw = found

    def _facet_columns(self) -> tuple[list[CacheKey], dict[str, bytes]]:
        """What the facets section is to hold now: the keys of messages
        that have a record and any facet, and each kind's column over
        them.  A column no command asked for goes back as it was read,
        unless the keys changed."""
        self._read_facets()
        raw = self._facet_raw
        candidates = dict.fromkeys(self._facet_keys) if raw else {}
        for column in list(self._search.columns.values()):
            candidates.update(dict.fromkeys(column))
        keys = [k for k in candidates if self._known(k[1])]
        encoded: dict[str, bytes] = {}
        if raw and keys == self._facet_keys:
            encoded.update(raw)
        else:
            for key in list(raw):
                self._search.column(key)      # decoded, to be written over the new keys
        for key, column in list(self._search.columns.items()):
            if column and key not in encoded:
                data = encode_column(key, column, keys)
                if data is not None:
                    encoded[key] = data
        return keys, encoded

    # ------------------------------------------------------------ saved orders

    def saved_order(self, key: str, digest: bytes) -> bytes | None:
        """The order saved under ``key`` for the message set named by
        ``digest`` (see :mod:`postillion.imap.savedorders`), or None."""
        with self._lock:
            self._read_orders()
            found = self._orders.get(key)
            if found is None or found[0] != digest:
                return None
            self._orders.move_to_end(key)
            return found[1]

    def keep_order(self, key: str, digest: bytes, data: bytes) -> None:
        """Save an order (the least recently used beyond
        :data:`ORDERS_KEPT` are dropped)."""
        if len(digest) != ORDER_DIGEST_SIZE:
            raise ValueError("bad order digest")
        key.encode("ascii")
        with self._lock:
            self._read_orders()
            self._orders[key] = (digest, data)
            self._orders.move_to_end(key)
            while len(self._orders) > ORDERS_KEPT:
                self._orders.popitem(last=False)
            self._touch(1)

    def _read_orders(self) -> None:
        if self._orders_read:
            return
        self._orders_read = True
        found = self._parsed_section(_ORDERS, lambda data, _file: _parse_orders(data),
                                     "saved orders")
        if found is not None:
            self._orders = found

    # ------------------------------------------------------------ file

    def ensure_loaded(self) -> None:
        """Read the records section, if not done yet."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            if self._expected is not None:
                self.uidvalidity = self._expected
            self._saved = self._parsed_section(
                _RECORDS, lambda data, file: _SavedRecords(
                    data, lambda: self._read_section(_WIRE, file)[0], trusted=file[3]),
                "records")

    def _parsed_section(self, which: int, parse: Callable[[bytes, FileIdentity], T],
                        what: str) -> T | None:
        """A section of the file, parsed (``parse`` gets its bytes and the
        file's identity); None when the file is missing, the cache is kept
        in memory only, or the section is not to be believed (it is rebuilt
        at the next save)."""
        if not self.persistent:
            return None
        try:
            return parse(*self._read_section(which))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
            log.info("folder cache %s: %s unusable (%s); rebuilding", self.path, what, exc)
            return None

    def _read_section(self, which: int,
                      identity: FileIdentity | None = None) -> tuple[bytes, FileIdentity]:
        """One section of the file, checked, and the file's identity (raises
        ValueError when the file or the section is not to be believed, or
        is not the file of ``identity``)."""
        with open(self.path, "rb") as f:
            st = os.fstat(f.fileno())
            found = (st.st_ino, st.st_size, st.st_mtime_ns,
                     st.st_uid == os.geteuid() and not st.st_mode & 0o022)
            if identity is not None and found != identity:
                raise ValueError("the file was replaced meanwhile")
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size:
                raise ValueError("short header")
            magic, version, file_uidvalidity, *sections = _HEADER.unpack(head)
            if magic != MAGIC or version != VERSION:
                raise ValueError("another format or version")
            wanted = self._expected if self._expected is not None else (
                self.uidvalidity if self._read_any else None)
            if wanted is not None and file_uidvalidity != wanted:
                raise ValueError("UIDVALIDITY changed")
            lengths = sections[0::2]
            if st.st_size != _HEADER.size + sum(lengths):
                raise ValueError("sections do not add up to the file")
            f.seek(_HEADER.size + sum(lengths[:which]))
            length, crc = sections[2 * which], sections[2 * which + 1]
            data = f.read(length)
        if len(data) != length or zlib.crc32(data) != crc:
            raise ValueError("section damaged")
        self.uidvalidity = file_uidvalidity
        self._read_any = True
        return data, found

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
        self.ensure_loaded()
        records, wire = _records_sections(self._records, self._saved)
        keys, columns = self._facet_columns()
        facets = _facets_section(keys, columns)
        self._read_orders()
        orders = _orders_section(self._orders)
        sections = (records, wire, facets, orders)
        head = _HEADER.pack(MAGIC, VERSION, self.uidvalidity,
                            *(v for data in sections for v in (len(data), zlib.crc32(data))))
        replace_file(self.folder_dir, CACHE_NAME, (head, *sections), tag="_postillioncache")
        self._facet_keys = keys  # the columns still undecoded were written as read
