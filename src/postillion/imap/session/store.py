"""STORE and UID STORE: FLAGS, +FLAGS, -FLAGS and their .SILENT forms.

System flags live in the file name (``:2,`` letters), keywords in
courierimapkeywords (when IMAP_KEYWORDS is on).  On a read-only mailbox
nothing is stored and the current flags are reported, as Courier does, but
a STORE naming \\Deleted is refused there (Courier: "Current box is selected
READ-ONLY.").  Keywords compare case-insensitively, as Courier's do; a
backslash flag that is not a system flag is a client error (Courier's NO).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, cast

from postillion.imap.protocol import commands
from postillion.imap.protocol import responses as r
from postillion.imap.protocol.commands import StoreMode
from postillion.imap.selected import RECENT, SYSTEM_FLAGS, MessageEntry, SelectedMailbox
from postillion.maildir import folders

from . import access
from .errors import ERROR_TEXT

if TYPE_CHECKING:
    from .core import Handler, Session


#: Messages stored (and answered) per worker-thread call: the client
#: reads the FETCH responses of one batch while the next is renamed.
BATCH = 1024

_UID = operator.attrgetter("uid")


def _apply(selected: SelectedMailbox, pairs: list[tuple[int, MessageEntry]],
           cmd: commands.Store, outcome: dict[frozenset[str], frozenset[str] | None],
           stored: list[MessageEntry]) -> bytes:
    """Store the flags (in a worker thread), adding the new entries to
    ``stored``, and render the FETCH responses owed straight to bytes (what
    the serializer writes for FetchData of UID and FLAGS items, at a
    fraction of its cost over 100,000 messages).  ``outcome``: the new
    flags of each distinct old set (None: unchanged), worked out once for
    the whole command (a folder's messages share a few flag sets,
    sharedfolder.flagset, and the sets made here are shared in turn by the
    messages that get them)."""
    given = frozenset(f for f in cmd.flags if f != RECENT
                      and (f.startswith("\\") or selected.use_keywords))
    rights = access.selected_rights(selected)
    ghosts, readonly = selected.ghosts, selected.readonly
    answer = not cmd.silent or readonly
    # The new flags of each message (None: unchanged), then the changes
    # made in one call, then the answers.  ``outcome`` holds None for an
    # old set the command leaves as it is: unchanged is told once per set,
    # not by comparing sets once per message.
    planned: list[tuple[int, MessageEntry, frozenset[str] | None]] = []
    for seq, entry in pairs:
        if ghosts and entry.uid in ghosts:
            continue
        old = entry.flags
        if old in outcome:
            new = outcome[old]
        else:
            worked_out = _new_flags(old, given, cmd.mode, rights)
            new = outcome[old] = None if worked_out == old else worked_out
        planned.append((seq, entry, None if readonly else new))
    todo = cast("list[tuple[int, MessageEntry, frozenset[str]]]",
                [each for each in planned if each[2] is not None])
    results: list[MessageEntry | None] = []
    try:
        with folders.open_cur(selected.folder_dir) as cur_fd:
            selected.store_many(todo, cur_fd, results,
                                lambda old: _new_flags(old, given, cmd.mode, rights))
    finally:
        # Those made before a failure too (see store()).
        stored.extend(entry for entry in results if entry is not None)
    if len(todo) == len(planned) and None not in results:
        # Every message changed and found (STORE 1:* +FLAGS on a folder):
        # the answers a column at a time.
        if not answer:
            return b""
        seqs = [seq for seq, _entry, _new in planned]
        entries = cast("list[MessageEntry]", results)
    else:
        seqs, entries = [], []
        done = iter(results)
        for seq, entry, new in planned:
            if new is not None:
                after = next(done)
                if after is None:
                    selected.mark_expunged(entry)
                    continue
                entry = after
            seqs.append(seq)
            entries.append(entry)
        if not answer:
            return b""
    wires = selected.flags_wires(entries)
    # UID first, as Courier's UID STORE answers.
    if cmd.uid:
        return b"".join(map(b"* %d FETCH (UID %d %s)\r\n".__mod__,
                            zip(seqs, map(_UID, entries), wires, strict=True)))
    return b"".join(map(b"* %d FETCH (%s)\r\n".__mod__, zip(seqs, wires, strict=True)))


def _new_flags(old: frozenset[str], given: frozenset[str], mode: StoreMode,
               rights: str) -> frozenset[str]:
    if mode is StoreMode.REPLACE:
        new = given
    elif mode is StoreMode.ADD:
        have = {f.lower() for f in old}
        new = old | {f for f in given if f.lower() not in have}
    else:
        drop = {f.lower() for f in given}
        new = frozenset(f for f in old if f.lower() not in drop)
    # Courier: a flag the ACL does not allow to change keeps its value, silently.
    return access.permitted_change(old, new, rights)


async def store(session: Session, cmd: commands.Store) -> r.TaggedResponse:
    selected = session.selected
    assert selected is not None
    if any(f.startswith("\\") and f not in SYSTEM_FLAGS for f in cmd.flags):
        return r.TaggedResponse(cmd.tag, "NO", ERROR_TEXT)
    if selected.readonly and "\\Deleted" in cmd.flags:
        return r.TaggedResponse(cmd.tag, "NO", "Current box is selected READ-ONLY.")
    try:
        pairs = selected.select(cmd.sequence, uid=cmd.uid, saved=session.saved_search)
    except ValueError as exc:
        await session.send(r.UntaggedStatus("NO", str(exc)))
        return r.TaggedResponse(cmd.tag, "OK", "STORE completed.")
    if not selected.readonly and selected.use_keywords and cmd.mode is not StoreMode.REMOVE \
            and access.flag_allowed("keyword", access.selected_rights(selected)):
        known = {k.lower() for k in selected.announced_keywords}
        fresh = {f for f in cmd.flags if not f.startswith("\\") and f.lower() not in known}
        if fresh and pairs:
            selected.announced_keywords = tuple(sorted({*selected.announced_keywords, *fresh}))
            await session.send(r.FlagsData(selected.flag_list()),
                               r.UntaggedStatus("OK", "Limited",
                                                r.PermanentFlags(selected.permanent_flags())))
    outcome: dict[frozenset[str], frozenset[str] | None] = {}
    stored: list[MessageEntry] = []
    try:
        for start in range(0, len(pairs), BATCH):
            found = await session.offload(_apply, selected, pairs[start:start + BATCH], cmd,
                                            outcome, stored)
            await session.send_wire(found)
    finally:
        # The shared snapshot takes this session's own renames (those made
        # before a failure too): the sync after the command need not scan
        # the folder to learn them back.
        await session.offload(selected.note_stored, stored)
    return r.TaggedResponse(cmd.tag, "OK", "STORE completed.")


HANDLERS: dict[type, Handler] = {commands.Store: store}
