"""FETCH and UID FETCH: every RFC 3501 item, BINARY from RFC 3516.

Messages are read and rendered a batch at a time in a worker thread (on the
event loop in a process serving one client: ``Session.offload``), so a
FETCH over a big folder never holds the event loop for long, and each
batch is written with backpressure (``drain``) before the next is made.
A whole message (``BODY[]``, ``RFC822``) bigger than
:data:`STREAM_THRESHOLD` is never held in memory: its literal is copied
from the file in chunks.  RFC822.SIZE, INTERNALDATE, ENVELOPE and
BODYSTRUCTURE come from the folder cache when it has them.  A FETCH of
cached items only (UID, FLAGS, RFC822.SIZE, INTERNALDATE: a client's sync;
ENVELOPE, BODYSTRUCTURE: its message list), with or without one whole
message (BODY.PEEK[]: its download), is rendered straight to bytes in the
worker thread, without the general path's objects per item, the next batch
while the last is written.  Fetching a
body section without .PEEK sets \\Seen (read-write mailboxes only) and
reports the new FLAGS in the same FETCH response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from postillion.imap import wireforms
from postillion.imap.foldercache import CachedMessage, wire_plain
from postillion.imap.protocol import FetchAtt, commands, serializer, wire
from postillion.imap.protocol import responses as r
from postillion.imap.protocol.bodywire import wire_cacheable
from postillion.imap.protocol.fetchdata import (
    body_structure_item,
    body_value,
    envelope_value,
    flags_item,
    internaldate_item,
    section_item,
    size_item,
    uid_item,
)
from postillion.imap.selected import MessageEntry, SelectedMailbox
from postillion.maildir import folders
from postillion.maildir.errors import MessageNotFound
from postillion.message import (
    MimePart,
    Section,
    body_structure,
    crlf_length,
    envelope,
    find_part,
    parse_message,
    section_content,
    to_crlf,
)
from postillion.message.decode import decode_transfer

from . import access

if TYPE_CHECKING:
    from .core import Handler, Session

log = logging.getLogger("postillion.imap")

BATCH = 64
#: Messages per batch of a FETCH of cached items only (see _cached_batch).
CACHED_BATCH = 1024
#: Items answered from the folder's snapshot and cache (when it has them):
#: what a client asks of every message to synchronize, and to list it.
_CACHED_ITEMS = frozenset({"UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE",
                           "BODYSTRUCTURE"})
#: Items read from a message's cache record.
_RECORD_ITEMS = frozenset({"RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "BODYSTRUCTURE"})
#: Whole-message items (BODY[], BODY.PEEK[], RFC822) the same rendering
#: takes along, one per FETCH: a client's download of new mail.
_WHOLE_ITEMS = frozenset({"BODY", "RFC822"})


class _NotCached(Exception):
    """A message's ENVELOPE or BODYSTRUCTURE is not in the cache (in a form
    for this client): the general path answers for it."""
#: Whole messages at least this big are streamed from the file.
STREAM_THRESHOLD = 256 * 1024
#: Bytes of a streamed message read (and written) at a time.
STREAM_CHUNK = 256 * 1024

_RFC822_SECTIONS = {"RFC822": Section(), "RFC822.HEADER": Section(text="HEADER"),
                    "RFC822.TEXT": Section(text="TEXT")}
_NEEDS_DATA = {"ENVELOPE", "BODY", "BODYSTRUCTURE", "BINARY", "BINARY.SIZE",
               *_RFC822_SECTIONS}


def _binary(root: MimePart, section: Section) -> bytes:
    if not section.part:
        return section_content(root, section).to_bytes()
    found = find_part(root, section.part)
    if found is None:
        return b""
    entity, _own = found
    raw = section_content(root, section).to_bytes()
    return decode_transfer(raw, entity.encoding)


class _Message:
    """One message's bytes, parse and cache record, made on first use."""

    def __init__(self, selected: SelectedMailbox, entry: MessageEntry, utf8: bool) -> None:
        self.selected = selected
        self.entry = entry
        self.utf8 = utf8  # the client enabled UTF8=ACCEPT
        self._data: bytes | None = None
        self._root: MimePart | None = None
        self._record: CachedMessage | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            stream, self._record = self.selected.open_file(self.entry)
            with stream:
                self._data = stream.read()
        return self._data

    @property
    def record(self) -> CachedMessage:
        """The cache record, checked against the file when it was read."""
        if self._record is None:
            _ = self.data
        assert self._record is not None
        return self._record

    def cached(self) -> CachedMessage | None:
        """The record without opening the file, if it may be trusted."""
        if self._record is not None:
            return self._record
        return self.selected.record(self.entry)

    @property
    def root(self) -> MimePart:
        if self._root is None:
            self._root = parse_message(self.data)
        return self._root


def _cached_wire(message: _Message, wire: bytes | None) -> r.Verbatim | None:
    """A cached ENVELOPE/BODYSTRUCTURE, if its bytes suit this client: the
    cache holds the form for clients without UTF8=ACCEPT (8-bit text in
    literals), so a UTF-8 client gets it only when it is plain ASCII."""
    if wire is None or (message.utf8 and not wire_plain(wire)):
        return None
    return r.Verbatim(wire)


def _computed_wire(message: _Message, name: bytes, value: r.Value, field: str) -> r.FetchItem:
    """Cache the wire form of a freshly computed value; answer with it
    unless the client's mode would write it otherwise."""
    wire = serializer.value(value)
    if not wire_cacheable(wire):
        return r.FetchItem(name, value)
    setattr(message.record, field, wire)
    message.selected.cache.changed()
    if message.utf8 and not wire_plain(wire):
        return r.FetchItem(name, value)  # quoted 8-bit text for this client
    return r.FetchItem(name, r.Verbatim(wire))


def _envelope(message: _Message) -> r.FetchItem:
    cached = message.cached()
    if cached is not None and (verbatim := _cached_wire(message, cached.envelope)):
        return r.FetchItem(b"ENVELOPE", verbatim)
    return _computed_wire(message, b"ENVELOPE", envelope_value(envelope(message.data)),
                          "envelope")


def _bodystructure(message: _Message) -> r.FetchItem:
    cached = message.cached()
    if cached is not None and (verbatim := _cached_wire(message, cached.bodystructure)):
        return r.FetchItem(b"BODYSTRUCTURE", verbatim)
    return _computed_wire(message, b"BODYSTRUCTURE",
                          body_value(body_structure(message.root), True), "bodystructure")


def _size(message: _Message) -> int:
    cached = message.cached()
    if cached is not None and cached.rfc822_size is not None:
        return cached.rfc822_size
    if message._data is None:
        return message.selected.size(message.entry)
    record = message.record
    record.rfc822_size = crlf_length(message.data)
    message.selected.cache.changed()
    return record.rfc822_size


def _item(message: _Message, att: FetchAtt) -> r.FetchItem:
    selected, entry = message.selected, message.entry
    name = att.name
    if name == "FLAGS":
        return flags_item(selected.fetch_flags(entry))
    if name == "UID":
        return uid_item(entry.uid)
    if name == "INTERNALDATE":
        return internaldate_item(selected.internaldate(entry))
    if name == "RFC822.SIZE":
        return size_item(_size(message))
    if name == "ENVELOPE":
        return _envelope(message)
    if name == "BODYSTRUCTURE":
        return _bodystructure(message)
    if name == "BODY" and att.section is None:
        return body_structure_item(body_structure(message.root), False)
    if _whole_message(att):
        return section_item(att, to_crlf(message.data))  # no MIME parse needed
    if name in _RFC822_SECTIONS:
        content = section_content(message.root, _RFC822_SECTIONS[name])
        return section_item(att, content.to_bytes())
    assert att.section is not None
    if name == "BINARY.SIZE":
        return r.FetchItem(att.response_name(), len(_binary(message.root, att.section)))
    if name == "BINARY":
        whole = _binary(message.root, att.section)
        if att.partial is not None:
            start, length = att.partial
            whole = whole[start:start + length]
        return section_item(att, whole)
    content = section_content(message.root, att.section)
    if att.partial is not None:
        start, length = att.partial
        return section_item(att, content.to_bytes(start, length))
    return section_item(att, content.to_bytes())


def _whole_message(att: FetchAtt) -> bool:
    """BODY[] or RFC822: the stored message as it is, a candidate for streaming."""
    if att.partial is not None:
        return False
    return att.name == "RFC822" or (att.name == "BODY" and att.section == Section())


class _Streamed:
    """A FETCH response whose one big literal is copied from the file."""

    def __init__(self, seq: int, before: list[r.FetchItem], name: bytes,
                 entry: MessageEntry, size: int, after: list[r.FetchItem]) -> None:
        self.seq = seq
        self.before = before
        self.name = name
        self.entry = entry
        self.size = size
        self.after = after


def _big(selected: SelectedMailbox, entry: MessageEntry) -> bool:
    record = selected.record(entry)
    if record is not None:
        return record.file_size >= STREAM_THRESHOLD
    try:
        stream, record = selected.open_file(entry)
    except MessageNotFound:
        return False
    stream.close()
    return record.file_size >= STREAM_THRESHOLD


def _fetch_batch(selected: SelectedMailbox, batch: list[tuple[int, MessageEntry]],
                 atts: tuple[FetchAtt, ...], add_uid: bool,
                 utf8: bool) -> list[r.Response | _Streamed]:
    sets_seen = (not selected.readonly and any(a.sets_seen for a in atts)
                 and access.flag_allowed("\\Seen", access.selected_rights(selected)))
    wants_flags = any(a.name == "FLAGS" for a in atts)
    whole = [a for a in atts if _whole_message(a)]
    out: list[r.Response | _Streamed] = []
    for seq, entry in batch:
        if selected.is_expunged(entry):
            continue  # RFC 2180 4.1: the client learns of it with the EXPUNGE
        message = _Message(selected, entry, utf8)
        streamed = len(whole) == 1 and _big(selected, entry)
        try:
            items = [r.FetchItem(b"", None) if streamed and att is whole[0]
                     else _item(message, att) for att in atts]
            size = selected.size(entry) if streamed else 0
        except MessageNotFound:
            selected.mark_expunged(entry)
            continue
        if sets_seen and "\\Seen" not in entry.flags:
            try:
                entry = selected.store_flags(seq, entry, _with_seen(entry.flags),
                                             rebase=_with_seen)
            except MessageNotFound:
                selected.mark_expunged(entry)
                continue
            flags = flags_item(selected.fetch_flags(entry))
            items = [flags if i.name == b"FLAGS" else i for i in items]
            if not wants_flags:
                items.append(flags)
        if add_uid and not any(a.name == "UID" for a in atts):
            items.insert(0, uid_item(entry.uid))
        if streamed:
            at = next(i for i, item in enumerate(items) if item.name == b"")
            out.append(_Streamed(seq, items[:at], whole[0].response_name(), entry, size,
                                 items[at + 1:]))
        else:
            out.append(r.FetchData(seq, tuple(items)))
    return out


def _with_seen(flags: frozenset[str]) -> frozenset[str]:
    """A message's flags once fetching its body has set \\Seen."""
    return flags | {"\\Seen"}


#: Each cached item's place in a FETCH response, filled by one %-format
#: per message (see _cached_batch).
_ITEM_TEMPLATES = {"UID": b"UID %d", "FLAGS": b"%s", "RFC822.SIZE": b"RFC822.SIZE %d",
                   "INTERNALDATE": b"INTERNALDATE %s", "ENVELOPE": b"ENVELOPE %s",
                   "BODYSTRUCTURE": b"BODYSTRUCTURE %s"}


#: Items _metadata_rows renders column by column.
_COLUMN_ITEMS = frozenset({"UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE"})
_NS = 1_000_000_000


#: RFC822.SIZE and mtime_ns columns of a batch's messages, read before.
Metadata = tuple[list[int], list[int]]


def _metadata_rows(selected: SelectedMailbox, batch: list[tuple[int, MessageEntry]],
                   names: list[str], template: bytes,
                   metadata: Metadata | None = None) -> list[bytes | _Streamed] | None:
    """The responses of a batch asking for :data:`_COLUMN_ITEMS` only,
    each item computed for the whole batch by one comprehension and the
    template filled by map: the usual synchronization FETCH 1:* (UID FLAGS
    RFC822.SIZE INTERNALDATE), without a Python loop body per message.
    None when a message needs the per-message way (expunged meanwhile, no
    cache record or no size cached): the batch is then rendered that way."""
    entries = [entry for _seq, entry in batch]
    ghosts = selected.ghosts
    if ghosts and any(entry.uid in ghosts for entry in entries):
        return None
    columns: list[Sequence[object]] = [[seq for seq, _entry in batch]]
    sizes: list[object] = []
    mtimes: list[int] = []
    if "RFC822.SIZE" in names or "INTERNALDATE" in names:
        bases = [entry.base for entry in entries]
        read = metadata if metadata is not None else selected.cache.metadata_columns(bases)
        if read is not None:
            sizes, mtimes = read  # type: ignore[assignment]
        else:
            found = selected.cache.sizes_and_mtimes(bases)
            if None in found:
                return None
            sizes = [size for size, _mtime in found]  # type: ignore[misc]
            if None in sizes and "RFC822.SIZE" in names:
                return None
            mtimes = [mtime for _size, mtime in found]  # type: ignore[misc]
    for name in names:
        if name == "UID":
            columns.append([entry.uid for entry in entries])
        elif name == "FLAGS":
            columns.append(selected.flags_wires(entries))
        elif name == "RFC822.SIZE":
            columns.append(sizes)
        else:
            columns.append(list(map(wire.utc_date_time, map(_NS.__rfloordiv__, mtimes))))
    rows: list[bytes | _Streamed] = list(map(template.__mod__, zip(*columns, strict=True)))
    return rows


def _cached_batch(selected: SelectedMailbox, batch: list[tuple[int, MessageEntry]],
                  atts: tuple[FetchAtt, ...], add_uid: bool, utf8: bool,
                  whole: FetchAtt | None = None,
                  metadata: Metadata | None = None) -> list[bytes | _Streamed]:
    """The FETCH responses of a batch that asks only for
    :data:`_CACHED_ITEMS` and at most one whole message (``whole``:
    ``BODY[]``, ``BODY.PEEK[]``, ``RFC822``), rendered straight to bytes:
    the same bytes the general path gives (FetchItem, FetchData, the
    serializer), at a fraction of the cost per message of a FETCH 1:* over
    100,000 (one %-format of the command's template per message) and with
    one copy of each message instead of several.  A message whose ENVELOPE
    or BODYSTRUCTURE is not cached, a message big enough to be streamed,
    and one that fetching marks \\Seen go the general way."""
    names: list[str | None] = [None if a is whole else a.name for a in atts]
    if add_uid and "UID" not in names:
        names.insert(0, "UID")
    with_record = not _RECORD_ITEMS.isdisjoint(names)
    sets_seen = (whole is not None and not selected.readonly and whole.sets_seen
                 and access.flag_allowed("\\Seen", access.selected_rights(selected)))
    at = names.index(None) if whole is not None else len(names)
    before = [n for n in names[:at] if n is not None]
    after = [n for n in names[at + 1:] if n is not None]
    if whole is None:
        head = b"* %d FETCH (" + b" ".join(_ITEM_TEMPLATES[n] for n in before) + b")\r\n"
        tail = b""
    else:
        head = (b"* %d FETCH (" + b"".join(_ITEM_TEMPLATES[n] + b" " for n in before)
                + whole.response_name().replace(b"%", b"%%") + b" {%d}\r\n")
        tail = b"".join(b" " + _ITEM_TEMPLATES[n] for n in after) + b")\r\n"
    flags_wire_of = selected.flags_wire_of()
    ghosts = selected.ghosts
    if whole is None and _COLUMN_ITEMS.issuperset(before):
        rows = _metadata_rows(selected, batch, before, head, metadata)
        if rows is not None:
            return rows
    out: list[bytes | _Streamed] = []

    def values(entry: MessageEntry, record: CachedMessage | None,
               wanted: list[str]) -> list[object]:
        found: list[object] = []
        for name in wanted:
            if name == "UID":
                found.append(entry.uid)
            elif name == "FLAGS":
                found.append(flags_wire_of(entry))
            elif name == "RFC822.SIZE":
                size = record.rfc822_size if record is not None else None
                found.append(selected.size(entry) if size is None else size)
            elif name == "INTERNALDATE":
                found.append(wire.utc_date_time(record.mtime_ns // 1_000_000_000)
                             if record is not None
                             else wire.date_time(selected.internaldate(entry)))
            else:
                form = None if record is None else (
                    record.envelope if name == "ENVELOPE" else record.bodystructure)
                if form is None or (utf8 and not wire_plain(form)):
                    raise _NotCached
                found.append(form)
        return found

    # cur/ opened once for the batch: each message opened by its name
    # in it, not by a path the kernel walks from the root.
    with (folders.open_cur(selected.folder_dir) if whole is not None and not with_record
          else contextlib.nullcontext()) as cur_fd:
        for seq, entry in batch:
            if entry.uid in ghosts:
                continue  # RFC 2180 4.1: the client learns of it with the EXPUNGE
            try:
                if whole is None:
                    # The cache record, looked up once for every item (what
                    # selected.size() and .internaldate() consult first).
                    record = selected.record(entry) if with_record else None
                    out.append(head % (seq, *values(entry, record, before)))
                    continue
                if sets_seen and "\\Seen" not in entry.flags:
                    raise _NotCached
                checked: CachedMessage | None
                if with_record:
                    # The record checked against the open file, as the general
                    # path has it; the CRLF view's length is RFC822.SIZE.
                    data, checked = selected.read_whole(entry, STREAM_THRESHOLD)
                else:
                    # Nothing asked that the record holds: the file alone.
                    data, checked = selected.read_unchecked(entry, STREAM_THRESHOLD,
                                                            cur_fd), None
                if data is None:
                    raise _NotCached
                body = to_crlf(data)
                if checked is not None and checked.rfc822_size is None:
                    checked.rfc822_size = len(body)
                    selected.cache.changed()
                first = head % (seq, *values(entry, checked, before), len(body))
                last = tail % tuple(values(entry, checked, after)) if after else tail
            except MessageNotFound:
                selected.mark_expunged(entry)
                continue
            except _NotCached:
                out.extend(response if isinstance(response, _Streamed)
                           else serializer.serialize(response, utf8)
                           for response in _fetch_batch(selected, [(seq, entry)], atts, add_uid,
                                                        utf8))
                continue
            # The literal is not copied into a response of its own: the
            # batch is joined once, by the caller.
            out += (first, body, last)
    return out


def _crlf_chunk(stream: BinaryIO) -> bytes:
    """About STREAM_CHUNK bytes of the file in the CRLF view (b"" at the end)."""
    chunk = stream.read(STREAM_CHUNK)
    while chunk.endswith(b"\r"):
        # Keep a CR with the LF that may follow, or that LF would gain another CR.
        more = stream.read(1)
        if not more:
            break
        chunk += more
    return to_crlf(chunk)


async def _send_streamed(session: Session, item: _Streamed) -> None:
    """Write one FETCH response, its big literal read from the file chunk
    by chunk; exactly ``size`` bytes go out whatever happened to the file."""
    selected = session.selected
    assert selected is not None
    utf8 = session.conn.utf8
    parts = [i.name + b" " + serializer.value(i.value, utf8) for i in item.before]
    parts.append(item.name + b" {%d}\r\n" % item.size)
    head = b"* %d FETCH (" % item.seq + b" ".join(parts)
    await session.send_raw(head)
    try:
        stream, _record = await session.offload(selected.open_file, item.entry)
    except MessageNotFound:
        stream = None
    left = item.size
    try:
        while left > 0 and stream is not None:
            chunk = await session.offload(_crlf_chunk, stream)
            if not chunk:
                break
            data = chunk[:left]
            left -= len(data)
            await session.send_raw(data)
    finally:
        if stream is not None:
            stream.close()
    if left > 0:
        # The file shrank under us (rewritten in place): the literal's size
        # was promised, so pad it rather than break the protocol.
        log.warning("imap FETCH: %s changed while being sent", item.entry.base)
        await session.send_raw(b" " * left)
    tail = b"".join(b" " + i.name + b" " + serializer.value(i.value, utf8) for i in item.after)
    await session.send_raw(tail + b")\r\n")


async def _send_cached(session: Session, wanted: list[tuple[int, MessageEntry]],
                       cmd: commands.Fetch, whole: FetchAtt | None,
                       precomputed: wireforms.Precomputed | None, threaded: bool,
                       metadata: Metadata | None = None) -> None:
    """Send what :func:`_cached_batch` renders, batch by batch.  The next
    batch is rendered in a worker thread while the last one is written:
    the client reads one while the server makes the next, instead of each
    waiting for the other."""
    selected = session.selected
    assert selected is not None
    utf8 = session.conn.utf8
    size = CACHED_BATCH if whole is None else BATCH

    async def render(start: int) -> list[bytes | _Streamed]:
        assert selected is not None
        batch = wanted[start:start + size]
        if precomputed is not None:
            await precomputed.ready_through(start + len(batch))
        part = None if metadata is None else (metadata[0][start:start + size],
                                              metadata[1][start:start + size])
        if len(batch) > 8 or threaded:
            return await session.offload(_cached_batch, selected, batch, cmd.attributes,
                                           cmd.uid, utf8, whole, part)
        return _cached_batch(selected, batch, cmd.attributes, cmd.uid, utf8, whole, part)

    upcoming: asyncio.Future[list[bytes | _Streamed]] | None = None
    try:
        for start in range(0, len(wanted), size):
            rendered = await (upcoming if upcoming is not None else render(start))
            upcoming = None
            if start + size < len(wanted):
                upcoming = asyncio.ensure_future(render(start + size))
            pending: list[bytes] = []
            for piece in rendered:
                if isinstance(piece, bytes):
                    pending.append(piece)
                    continue
                await session.send_wire(b"".join(pending))
                pending = []
                await _send_streamed(session, piece)
            await session.send_wire(b"".join(pending))
    finally:
        if upcoming is not None:
            upcoming.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upcoming


async def fetch(session: Session, cmd: commands.Fetch) -> r.TaggedResponse:
    selected = session.selected
    assert selected is not None
    try:
        wanted = selected.select(cmd.sequence, uid=cmd.uid, saved=session.saved_search)
    except ValueError as exc:
        await session.send(r.UntaggedStatus("NO", str(exc)))
        return r.TaggedResponse(cmd.tag, "OK", "FETCH completed.")
    heavy = any(a.name in _NEEDS_DATA or a.section is not None for a in cmd.attributes)
    precomputed = None
    wire = any(a.name in ("ENVELOPE", "BODYSTRUCTURE") for a in cmd.attributes)
    whole = [a for a in cmd.attributes if a.name in _WHOLE_ITEMS and _whole_message(a)]
    cached = len(whole) <= 1 and all(a.name in _CACHED_ITEMS or a in whole
                                     for a in cmd.attributes)
    # RFC822.SIZE beside a whole message the cached path reads anyway is
    # counted from it: no worker reads the files a second time for sizes.
    sizes = any(a.name == "RFC822.SIZE" for a in cmd.attributes) and not (cached and whole)
    columns = cached and not whole and all(a.name in _COLUMN_ITEMS for a in cmd.attributes)
    if len(wanted) >= wireforms.MIN_MESSAGES and not columns and (
            whole or any(a.name in _RECORD_ITEMS for a in cmd.attributes)):
        # The cache records of a FETCH 1:*, decoded from the file as read
        # all at once rather than one lookup at a time (a FETCH of
        # _COLUMN_ITEMS reads the rows without records).
        await session.offload(selected.cache.prepare, len(wanted))
    metadata = None
    if columns and len(wanted) >= wireforms.MIN_MESSAGES and any(
            a.name in ("RFC822.SIZE", "INTERNALDATE") for a in cmd.attributes):
        # Sizes and dates of every message read at once, before the batches
        # (when every size is cached, no message lacks one: none to compute).
        metadata = await session.offload(selected.cache.metadata_columns,
                                           [entry.base for _seq, entry in wanted])
    if len(wanted) >= wireforms.MIN_MESSAGES and (wire or sizes) and metadata is None:
        todo = await session.offload(wireforms.missing, selected.cache,
                                       [entry for _seq, entry in wanted], selected.path_of,
                                       wire)
        precomputed = await wireforms.start(selected.cache, todo, wire)
    if cached:
        try:
            await _send_cached(session, wanted, cmd, whole[0] if whole else None, precomputed,
                               threaded=wire or bool(whole), metadata=metadata)
        finally:
            if precomputed is not None:
                precomputed.cancel()
        return r.TaggedResponse(cmd.tag, "OK", "FETCH completed.")
    try:
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start:start + BATCH]
            if precomputed is not None:
                await precomputed.ready_through(start + len(batch))
            if heavy or len(batch) > 8:
                found = await session.offload(_fetch_batch, selected, batch, cmd.attributes,
                                                cmd.uid, session.conn.utf8)
            else:
                found = _fetch_batch(selected, batch, cmd.attributes, cmd.uid,
                                     session.conn.utf8)
            plain: list[r.Response] = []
            for response in found:
                if isinstance(response, _Streamed):
                    await session.send(*plain)
                    plain = []
                    await _send_streamed(session, response)
                else:
                    plain.append(response)
            await session.send(*plain)
    finally:
        if precomputed is not None:
            precomputed.cancel()
    return r.TaggedResponse(cmd.tag, "OK", "FETCH completed.")


HANDLERS: dict[type, Handler] = {commands.Fetch: fetch}
