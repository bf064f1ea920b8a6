"""SELECT, EXAMINE, CLOSE, UNSELECT, CHECK, EXPUNGE, UID EXPUNGE and IDLE.

IDLE pushes what the selected mailbox owes (EXISTS, EXPUNGE, FETCH FLAGS)
whenever the folder notifier reports a change, and in any case every
``IMAP_IDLE_TIMEOUT`` seconds (the polling Courier does), until DONE.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from postillion.imap.protocol import NEED_DATA, CommandError, IdleDone, SessionState, commands
from postillion.imap.protocol import responses as r
from postillion.imap.selected import SelectedMailbox, UidValidityChanged
from postillion.maildir import acl

from . import access
from .core import SessionEnd
from .errors import ERROR_TEXT, CommandFailed

if TYPE_CHECKING:
    from .core import Handler, Session

log = logging.getLogger("postillion.imap")


async def _open(session: Session, tag: bytes, raw: bytes, readonly: bool) -> r.TaggedResponse:
    await session.deselect()
    name = session.name_of(raw)
    store = session.mail()
    rights = await access.require(session, name, acl.RIGHT_READ, "SELECT/EXAMINE")
    folder_dir = await session.offload(store.require, name)
    # Courier: read-only unless some right lets the session change the folder.
    readonly = readonly or not any(right in rights for right in access.WRITE_RIGHTS)
    selected = SelectedMailbox(name, folder_dir, readonly=readonly,
                               use_keywords=session.config_keywords)
    access.remember(selected, rights)
    try:
        untagged = await session.offload_lasting(selected.open)
    except BaseException:
        selected.close()
        raise
    untagged.append(r.UntaggedStatus("OK", "ACL", r.MyRightsCode(acl.to_list_extension(rights))))
    await session.send(*untagged)
    session.selected = selected
    session.conn.state = SessionState.SELECTED
    return r.TaggedResponse(tag, "OK", "Ok", r.READ_ONLY if readonly else r.READ_WRITE)


async def select(session: Session, cmd: commands.Select) -> r.TaggedResponse:
    return await _open(session, cmd.tag, cmd.mailbox, False)


async def examine(session: Session, cmd: commands.Examine) -> r.TaggedResponse:
    return await _open(session, cmd.tag, cmd.mailbox, True)


async def close(session: Session, cmd: commands.Close) -> r.TaggedResponse:
    selected = session.selected
    await session.deselect()
    if selected is not None and not selected.readonly and \
            acl.RIGHT_EXPUNGE in access.selected_rights(selected):
        await session.offload(selected.expunge)
    return r.TaggedResponse(cmd.tag, "OK", "mailbox closed.")


async def unselect(session: Session, cmd: commands.Unselect) -> r.TaggedResponse:
    await session.deselect()
    return r.TaggedResponse(cmd.tag, "OK", "UNSELECT completed.")


async def check(session: Session, cmd: commands.Check) -> r.TaggedResponse:
    return r.TaggedResponse(cmd.tag, "OK", "CHECK completed")


def _selected(session: Session) -> SelectedMailbox:
    assert session.selected is not None, "the state table allows this only when selected"
    return session.selected


async def expunge(session: Session, cmd: commands.Expunge) -> r.TaggedResponse:
    selected = _selected(session)
    access.require_selected(session, selected, acl.RIGHT_EXPUNGE, "EXPUNGE")
    if selected.readonly:
        raise CommandFailed("Mailbox is read-only.", r.READ_ONLY)
    await session.offload(selected.expunge)
    return r.TaggedResponse(cmd.tag, "OK", "EXPUNGE completed")


async def uid_expunge(session: Session, cmd: commands.UidExpunge) -> r.TaggedResponse:
    selected = _selected(session)
    access.require_selected(session, selected, acl.RIGHT_EXPUNGE, "EXPUNGE")
    if selected.readonly:
        raise CommandFailed("Mailbox is read-only.", r.READ_ONLY)
    uids = {entry.uid for _seq, entry in selected.select(cmd.uids, uid=True)}
    await session.offload(selected.expunge, uids)
    return r.TaggedResponse(cmd.tag, "OK", "EXPUNGE completed")


async def idle(session: Session, cmd: commands.Idle) -> r.TaggedResponse | None:
    news = asyncio.Event()
    selected = session.selected
    stop_listening = None
    syncing = [False]

    def push() -> None:
        """A rescan found news: an up-to-date session's responses are
        written right here (O(changes), no task switch); anything harder
        wakes the IDLE loop below."""
        if selected is None or session.selected is not selected or news.is_set() \
                or syncing[0]:
            news.set()  # the loop below is at it (or must be): not two at once
            return
        try:
            owed = selected.catch_up_if_cheap(expunges_allowed=True)
        except Exception:
            owed = None
        if owed is None or not session.write_now(owed):
            news.set()

    if selected is not None and selected.shared is not None:
        try:
            # The folder's shared state watches it once for every session and
            # calls us only when a rescan found something new.
            stop_listening = selected.shared.listen(session.ctx.notifier, push)
        except Exception:
            log.exception("imap IDLE: cannot watch %s; polling", selected.folder_dir)
    # The watch is there before the client hears it may go on: a delivery
    # right after the continuation line wakes it.  What changed before the
    # watch began (since this session last looked) is looked for once, now.
    watched_at = time.monotonic()
    poll = max(1, session.ctx.config.get_int("IMAP_IDLE_TIMEOUT"))
    try:
        # (Inside the try: a send that fails or is cancelled still ends
        # the listening.)
        await session.send(r.ContinuationRequest("entering idle mode"))
        session.conn.start_idle()
        if selected is not None and selected.shared is not None:
            await session.send(*await _idle_sync(selected, watched_at, syncing))
        while True:
            event = session.conn.next_event()
            if isinstance(event, IdleDone):
                return r.TaggedResponse(cmd.tag, "OK", "IDLE completed")
            if isinstance(event, CommandError):
                return r.TaggedResponse(cmd.tag, "NO", ERROR_TEXT)
            if event is not NEED_DATA:
                # ConnectionClosed: the main loop sees it again and ends.
                return None
            read = session.pending_read()
            waiter = asyncio.ensure_future(news.wait())
            try:
                done, _ = await asyncio.wait({read, waiter}, timeout=poll,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if read in done:
                data = await session.read()
                session.conn.receive_data(data or b"")
                continue
            if selected is None or session.selected is not selected \
                    or selected.shared is None:
                continue
            # News: the rescan that found it began after the notification;
            # a timeout (IMAP_IDLE_TIMEOUT): look at the folder now.
            asked_at = selected.shared.last_fired if news.is_set() else time.monotonic()
            news.clear()
            await session.send(*await _idle_sync(selected, asked_at, syncing))
    except UidValidityChanged:
        await session.send(r.UntaggedStatus(
            "BYE", "Mailbox UIDVALIDITY changed; please reconnect."))
        raise SessionEnd from None
    finally:
        if stop_listening is not None:
            stop_listening()


async def _idle_sync(selected: SelectedMailbox, asked_at: float,
                     syncing: list[bool]) -> list[r.Response]:
    """What IDLE owes the client for the folder as of after ``asked_at``
    (``syncing`` tells the push callback a sync is under way)."""
    syncing[0] = True
    try:
        return await selected.sync_async(expunges_allowed=True, asked_at=asked_at)
    finally:
        syncing[0] = False


HANDLERS: dict[type, Handler] = {
    commands.Select: select,
    commands.Examine: examine,
    commands.Close: close,
    commands.Unselect: unselect,
    commands.Check: check,
    commands.Expunge: expunge,
    commands.UidExpunge: uid_expunge,
    commands.Idle: idle,
}
