"""APPEND (with flags, date and RFC 3502 MULTIAPPEND), COPY, MOVE and their
UID forms, with RFC 4315 APPENDUID/COPYUID.

Messages are stored with bare LF line ends, as Courier stores them, into
``cur/`` with their ``:2,`` flags; keywords go to courierimapkeywords.
The quota is checked for the whole command (``NO [OVERQUOTA]`` after
Courier's ``* NO [ALERT] You exceeded your mail quota.``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from postillion.imap.mailstore import NewMessage, Stored
from postillion.imap.protocol import SequenceSet, commands
from postillion.imap.protocol import responses as r
from postillion.imap.selected import (
    SYSTEM_FLAGS,
    MessageEntry,
    SelectedMailbox,
    flags_to_letters,
    letters_to_flags,
)
from postillion.maildir import acl
from postillion.maildir.errors import MailboxNotFound

from . import access
from .errors import ERROR_TEXT, CommandFailed

if TYPE_CHECKING:
    from .core import Handler, Session


def _keywords(flags: frozenset[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(f for f in flags if not f.startswith("\\")))


async def _target(session: Session, raw: bytes, command: str) -> tuple[str, str]:
    """The destination's name and the session's rights there (``i`` required,
    checked before existence as Courier does)."""
    name = session.name_of(raw)
    rights = await access.require(session, name, acl.RIGHT_INSERT, command)
    if not await session.offload(session.mail().exists, name):
        raise CommandFailed("Mailbox does not exist.", r.TRYCREATE)
    return name, rights


def _permitted(message: NewMessage, rights: str) -> NewMessage:
    """Flags the destination's ACL does not allow are dropped (Courier)."""
    flags = access.permitted_flags(letters_to_flags(message.letters), rights)
    kept = access.permitted_flags(message.keywords, rights)
    return NewMessage(message.data, flags_to_letters(flags), kept, message.mtime)


async def append(session: Session, cmd: commands.Append) -> r.TaggedResponse:
    if any(f.startswith("\\") and f not in SYSTEM_FLAGS for m in cmd.messages for f in m.flags):
        # Courier: a backslash flag it does not know is a client error, nothing stored.
        return r.TaggedResponse(cmd.tag, "NO", ERROR_TEXT)
    name, rights = await _target(session, cmd.mailbox, "APPEND")
    new = [_permitted(NewMessage(m.data.replace(b"\r\n", b"\n"), flags_to_letters(m.flags),
                      _keywords(m.flags),
                      m.internal_date.timestamp() if m.internal_date is not None else None),
                      rights)
           for m in cmd.messages]
    try:
        stored = await _store(session, name, new)
    except MailboxNotFound as exc:
        raise CommandFailed("Mailbox does not exist.", r.TRYCREATE) from exc
    return r.TaggedResponse(cmd.tag, "OK", "APPEND Ok.",
                            r.AppendUid(stored.uidvalidity, SequenceSet.from_numbers(stored.uids))
                            if all(stored.uids) else None)


async def _store(session: Session, name: str, messages: list[NewMessage],
                 *, tell_selected: bool = True) -> Stored:
    """Add messages to a folder; the selected folder's snapshot takes them
    without a scan when they carry no keywords (see
    :meth:`SelectedMailbox.note_added`)."""
    stored = await session.offload(session.mail().add_messages, name, messages,
                                   use_keywords=session.config_keywords)
    selected = session.selected
    if tell_selected and selected is not None and not (
            session.config_keywords and any(m.keywords for m in messages)):
        selected.note_added(stored.folder_dir, stored.added)
    return stored


def ordered_set(numbers: list[int]) -> SequenceSet:
    """A set listing ``numbers`` in their order, runs written ``a:b``
    (COPYUID pairs source and destination UIDs by position)."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return SequenceSet.of(*((a, b) if a != b else a for a, b in runs))


def _copies(selected: SelectedMailbox, entries: list[MessageEntry]) -> list[NewMessage]:
    out: list[NewMessage] = []
    for entry in entries:
        stream, record = selected.open_file(entry)
        with stream:
            data = stream.read()
        mtime: float | None = record.mtime_ns / 1e9
        out.append(NewMessage(data, flags_to_letters(entry.flags), _keywords(entry.flags), mtime))
    return out


async def _copy(session: Session, sequence: SequenceSet, raw: bytes, uid: bool,
                command: str) -> tuple[list[MessageEntry], r.CopyUid | None]:
    selected = session.selected
    assert selected is not None
    name, rights = await _target(session, raw, command)
    try:
        pairs = selected.select(sequence, uid=uid, saved=session.saved_search)
    except ValueError as exc:
        raise CommandFailed(str(exc), r.CLIENTBUG) from exc
    entries = [entry for _seq, entry in pairs if not selected.is_expunged(entry)]
    if not entries:
        return [], None
    copies = [_permitted(c, rights) for c in await session.offload(_copies, selected, entries)]
    stored = await _store(session, name, copies, tell_selected=command != "MOVE")
    code = None
    if all(stored.uids):
        # Both sets list UIDs in the same order: one range form each.
        code = r.CopyUid(stored.uidvalidity, ordered_set([e.uid for e in entries]),
                         ordered_set(stored.uids))
    return entries, code


async def copy(session: Session, cmd: commands.Copy) -> r.TaggedResponse:
    _entries, code = await _copy(session, cmd.sequence, cmd.mailbox, cmd.uid, "COPY")
    return r.TaggedResponse(cmd.tag, "OK", "COPY completed.", code)


async def move(session: Session, cmd: commands.Move) -> r.TaggedResponse:
    selected = session.selected
    assert selected is not None
    # MOVE deletes from the source: "t" (set \Deleted) and "e" (expunge) there.
    access.require_selected(session, selected, acl.RIGHT_DELETEMSGS, "MOVE")
    access.require_selected(session, selected, acl.RIGHT_EXPUNGE, "MOVE")
    if selected.readonly:
        raise CommandFailed("Mailbox is read-only.", r.READ_ONLY)
    entries, code = await _copy(session, cmd.sequence, cmd.mailbox, cmd.uid, "MOVE")
    if code is not None:
        await session.send(r.UntaggedStatus("OK", "Messages copied", code))
    await session.offload(selected.remove, entries)
    await session.send(*selected.report_removed({e.uid for e in entries}))
    return r.TaggedResponse(cmd.tag, "OK", "MOVE completed.")


HANDLERS: dict[type, Handler] = {
    commands.Append: append,
    commands.Copy: copy,
    commands.Move: move,
}
