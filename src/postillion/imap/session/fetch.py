"""FETCH and UID FETCH: every RFC 3501 item, BINARY from RFC 3516.

Messages are read and rendered in a worker thread, a batch at a time, so
a FETCH over a big folder never holds the event loop for long.  Fetching
a body section without .PEEK sets \\Seen (read-write mailboxes only) and
reports the new FLAGS in the same FETCH response.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from postillion.imap.protocol import FetchAtt, commands
from postillion.imap.protocol import responses as r
from postillion.imap.protocol.fetchdata import (
    body_structure_item,
    envelope_item,
    flags_item,
    internaldate_item,
    section_item,
    size_item,
    uid_item,
)
from postillion.imap.selected import MessageEntry, SelectedMailbox, ordered_flags
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
)
from postillion.message.decode import decode_transfer

from . import access

if TYPE_CHECKING:
    from .core import Handler, Session

BATCH = 64

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
    """One message's bytes and parse, made on first use."""

    def __init__(self, selected: SelectedMailbox, entry: MessageEntry) -> None:
        self.selected = selected
        self.entry = entry
        self._data: bytes | None = None
        self._root: MimePart | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = self.selected.read(self.entry)
        return self._data

    @property
    def root(self) -> MimePart:
        if self._root is None:
            self._root = parse_message(self.data)
        return self._root


def _item(message: _Message, att: FetchAtt) -> r.FetchItem:
    selected, entry = message.selected, message.entry
    name = att.name
    if name == "FLAGS":
        return flags_item(ordered_flags(entry.flags, entry.recent))
    if name == "UID":
        return uid_item(entry.uid)
    if name == "INTERNALDATE":
        return internaldate_item(selected.internaldate(entry))
    if name == "RFC822.SIZE":
        if entry.size_cache is None:
            entry.size_cache = crlf_length(message.data)
        return size_item(entry.size_cache)
    if name == "ENVELOPE":
        return envelope_item(envelope(message.data))
    if name == "BODYSTRUCTURE" or (name == "BODY" and att.section is None):
        return body_structure_item(body_structure(message.root), name == "BODYSTRUCTURE")
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


def _fetch_batch(selected: SelectedMailbox, batch: list[tuple[int, MessageEntry]],
                 atts: tuple[FetchAtt, ...], add_uid: bool) -> list[r.Response]:
    sets_seen = (not selected.readonly and any(a.sets_seen for a in atts)
                 and access.flag_allowed("\\Seen", access.selected_rights(selected)))
    wants_flags = any(a.name == "FLAGS" for a in atts)
    out: list[r.Response] = []
    for seq, entry in batch:
        if entry.expunged:
            continue  # RFC 2180 4.1: the client learns of it with the EXPUNGE
        message = _Message(selected, entry)
        try:
            items = [_item(message, att) for att in atts]
        except MessageNotFound:
            entry.expunged = True
            continue
        if sets_seen and "\\Seen" not in entry.flags:
            selected.store_flags(entry, entry.flags | {"\\Seen"})
            flags = flags_item(ordered_flags(entry.flags, entry.recent))
            items = [flags if i.name == b"FLAGS" else i for i in items]
            if not wants_flags:
                items.append(flags)
        if add_uid and not any(a.name == "UID" for a in atts):
            items.insert(0, uid_item(entry.uid))
        out.append(r.FetchData(seq, tuple(items)))
    return out


async def fetch(session: Session, cmd: commands.Fetch) -> r.TaggedResponse:
    selected = session.selected
    assert selected is not None
    try:
        wanted = selected.select(cmd.sequence, uid=cmd.uid, saved=session.saved_search)
    except ValueError as exc:
        await session.send(r.UntaggedStatus("NO", str(exc)))
        return r.TaggedResponse(cmd.tag, "OK", "FETCH completed.")
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start:start + BATCH]
        if any(a.name in _NEEDS_DATA or a.section is not None for a in cmd.attributes) \
                or len(batch) > 8:
            found = await asyncio.to_thread(_fetch_batch, selected, batch, cmd.attributes,
                                            cmd.uid)
        else:
            found = _fetch_batch(selected, batch, cmd.attributes, cmd.uid)
        await session.send(*found)
    return r.TaggedResponse(cmd.tag, "OK", "FETCH completed.")


HANDLERS: dict[type, Handler] = {commands.Fetch: fetch}
