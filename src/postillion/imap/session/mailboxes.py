"""Folder commands: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST,
LSUB, STATUS (texts as Courier's imapd answers them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from postillion.imap.mailstore import MailStore, canonical_pattern, wildcard_regex
from postillion.imap.protocol import commands, decode_mailbox_name
from postillion.imap.protocol import responses as r
from postillion.imap.shared import is_shared_name
from postillion.maildir import acl, names
from postillion.maildir.errors import InvalidMailboxName, MailboxNotFound
from postillion.maildir.folders import FolderInfo

from . import access, listing_shared
from .errors import CommandFailed

if TYPE_CHECKING:
    from .core import Handler, Session


def _is_open(session: Session, name: str) -> bool:
    return session.selected is not None and session.selected.name == name


async def _require_parent_create(session: Session, name: str, command: str) -> None:
    """Courier: creating a folder needs "c" on its parent."""
    parent = name.rpartition(names.SEPARATOR)[0]
    if not parent:
        raise access.denied(session, command, name, acl.RIGHT_CREATE, "")
    try:
        rights = await access.rights_on(session, parent)
    except MailboxNotFound:
        rights = ""  # a share group or nothing at all: nobody creates there
    if acl.RIGHT_CREATE not in rights:
        raise access.denied(session, command, parent, acl.RIGHT_CREATE, rights)


async def create(session: Session, cmd: commands.Create) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    await _require_parent_create(session, name, "CREATE")
    await session.offload(session.mail().create, name)
    return r.TaggedResponse(cmd.tag, "OK", f'"{session.wire(name)}" created.')


async def delete(session: Session, cmd: commands.Delete) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    if _is_open(session, name):
        raise CommandFailed("Cannot delete currently-open folder.", r.INUSE)
    if name == names.INBOX:
        raise CommandFailed("INBOX cannot be deleted.", r.CANNOT)
    await access.require(session, name, acl.RIGHT_DELETEFOLDER, "DELETE")
    if session.mail().place(name).folder == names.INBOX:
        raise CommandFailed("INBOX cannot be deleted.", r.CANNOT)
    await session.offload(session.mail().delete, name)
    return r.TaggedResponse(cmd.tag, "OK", "Folder deleted.")


async def rename(session: Session, cmd: commands.Rename) -> r.TaggedResponse:
    old = session.name_of(cmd.mailbox)
    new = session.name_of(cmd.new_name)
    if _is_open(session, old) or (session.selected is not None
                                  and session.selected.name.startswith(old + ".")):
        raise CommandFailed("Can't RENAME the currently-open folder", r.INUSE)
    if old == names.INBOX:
        raise CommandFailed("INBOX rename not implemented.", r.CANNOT)
    await access.require(session, old, acl.RIGHT_DELETEFOLDER, "RENAME")
    if session.mail().place(old).folder == names.INBOX:
        raise CommandFailed("INBOX rename not implemented.", r.CANNOT)
    await _require_parent_create(session, new, "RENAME")
    await session.offload(session.mail().rename, old, new)
    return r.TaggedResponse(cmd.tag, "OK", "Folder renamed.")


async def subscribe(session: Session, cmd: commands.Subscribe) -> r.TaggedResponse:
    await session.offload(session.mail().subscribe, session.name_of(cmd.mailbox))
    return r.TaggedResponse(cmd.tag, "OK", "Folder subscribed.")


async def unsubscribe(session: Session, cmd: commands.Unsubscribe) -> r.TaggedResponse:
    await session.offload(session.mail().unsubscribe, session.name_of(cmd.mailbox))
    return r.TaggedResponse(cmd.tag, "OK", "Folder unsubscribed.")


def _pattern_text(session: Session, reference: bytes, pattern: bytes) -> str:
    utf8 = "UTF8=ACCEPT" in session.enabled
    try:
        ref = decode_mailbox_name(reference, utf8) if reference else ""
        pat = decode_mailbox_name(pattern, utf8)
    except ValueError as exc:
        raise InvalidMailboxName("Invalid mailbox name.") from exc
    return canonical_pattern(ref + pat)


def _attributes(store: MailStore, info: FolderInfo, marked: bool) -> list[str]:
    attrs: list[str] = []
    if info.name == names.INBOX:
        attrs.append("\\Marked" if marked else "\\Unmarked")
    elif not info.selectable:
        attrs.append("\\Noselect")
    attrs.append("\\HasChildren" if info.has_children else "\\HasNoChildren")
    if info.selectable:
        special = store.special_use(info.name)
        if special:
            attrs.append(special)
    return attrs


def _list_responses(session: Session, cmd: commands.List) -> list[r.Response]:
    store = session.mail()
    patterns = [_pattern_text(session, cmd.reference, p) for p in cmd.patterns]
    if patterns == [""]:
        return [r.ListData(("\\Noselect",), ".", "")]
    subscribed_only = "SUBSCRIBED" in cmd.selection
    special_only = "SPECIAL-USE" in cmd.selection
    want_subscribed = subscribed_only or "SUBSCRIBED" in cmd.return_options
    subs = {canonical_pattern(s) for s in store.subscriptions()} if want_subscribed else set()
    regexes = [wildcard_regex(p) for p in patterns]
    folders = store.folders()
    marked = store.inbox_marked()
    out: list[r.Response] = []
    for info in folders:
        if not any(rx.fullmatch(info.name) for rx in regexes):
            continue
        if subscribed_only and info.name not in subs:
            continue
        attrs = _attributes(store, info, marked)
        if special_only and store.special_use(info.name) is None:
            continue
        if want_subscribed and info.name in subs:
            attrs.append("\\Subscribed")
        out.append(r.ListData(tuple(attrs), ".", session.wire(info.name)))
    if not special_only:
        out += listing_shared.list_shared(session, patterns, subs if want_subscribed else None,
                                          subscribed_only)
    return out


async def list_command(session: Session, cmd: commands.List) -> r.TaggedResponse:
    found = await session.offload(_list_responses, session, cmd)
    await session.send(*found)
    return r.TaggedResponse(cmd.tag, "OK", "LIST completed")


def _lsub_responses(session: Session, cmd: commands.Lsub) -> list[r.Response]:
    store = session.mail()
    pattern = _pattern_text(session, cmd.reference, cmd.pattern)
    regex = wildcard_regex(pattern)
    infos = {info.name: info for info in store.folders()}
    out: list[r.Response] = []
    shown: set[str] = set()
    for sub in store.subscriptions():
        if is_shared_name(sub):
            continue  # listed by listing_shared, as Courier lists them
        name = canonical_pattern(sub)
        candidates = [name]
        if "%" in pattern:
            # A subscribed folder below a level '%' stops at: its parent is
            # shown \Noselect (RFC 3501 6.3.9).
            parts = name.split(".")
            candidates += [".".join(parts[:i]) for i in range(1, len(parts))]
        for candidate in candidates:
            if candidate in shown or not regex.fullmatch(candidate):
                continue
            shown.add(candidate)
            info = infos.get(candidate)
            attrs: list[str] = []
            if info is None or not info.selectable or candidate != name:
                attrs.append("\\Noselect")
            if info is not None:
                attrs.append("\\HasChildren" if info.has_children else "\\HasNoChildren")
            out.append(r.ListData(tuple(attrs), ".", session.wire(candidate), kind="LSUB"))
    out += listing_shared.lsub_shared(session, pattern, store.subscriptions())
    return out


async def lsub(session: Session, cmd: commands.Lsub) -> r.TaggedResponse:
    found = await session.offload(_lsub_responses, session, cmd)
    await session.send(*found)
    return r.TaggedResponse(cmd.tag, "OK", "LSUB completed")


async def status(session: Session, cmd: commands.Status) -> r.TaggedResponse:
    name = session.name_of(cmd.mailbox)
    await access.require(session, name, acl.RIGHT_READ, "STATUS")
    counts = await session.offload(session.mail().status, name)
    values = {"MESSAGES": counts.messages, "RECENT": counts.recent, "UIDNEXT": counts.uidnext,
              "UIDVALIDITY": counts.uidvalidity, "UNSEEN": counts.unseen}
    selected = session.selected
    if selected is not None and selected.name == name:
        # Our own view is what the client knows; the scan cannot see our \Recent.
        values["RECENT"] = selected.recent_count()
        values["UIDVALIDITY"] = selected.uidvalidity
    items: list[tuple[str, int]] = []
    for item in cmd.items:
        if item not in values:
            raise CommandFailed(f"Unknown STATUS item {item}.", r.CLIENTBUG)
        items.append((item, values[item]))
    await session.send(r.StatusData(session.wire(name), tuple(items)))
    return r.TaggedResponse(cmd.tag, "OK", "STATUS Completed.")


HANDLERS: dict[type, Handler] = {
    commands.Create: create,
    commands.Delete: delete,
    commands.Rename: rename,
    commands.Subscribe: subscribe,
    commands.Unsubscribe: unsubscribe,
    commands.List: list_command,
    commands.Lsub: lsub,
    commands.Status: status,
}
