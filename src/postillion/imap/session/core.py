"""One client's session: drives the sans-IO protocol core from asyncio
streams, dispatches commands to the family modules, and ends every
command with the responses the selected mailbox owes.

Courier's policy for client errors: ``NO Error in IMAP command received by
server.`` and, at the tenth consecutive one, ``* BYE [ALERT] Fatal error:
TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS: `` and the end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from postillion.auth import Account
from postillion.imap.foldercache import FolderCache
from postillion.imap.mailstore import MailStore
from postillion.imap.protocol import (
    COMMANDS,
    NEED_DATA,
    CommandError,
    Connection,
    ConnectionClosed,
    IdleDone,
    LiteralRequest,
    SaslResponse,
    SessionState,
    commands,
)
from postillion.imap.protocol import responses as r
from postillion.imap.selected import SelectedMailbox, UidValidityChanged
from postillion.imap.shared import Identity, SharedNamespace
from postillion.imap.sharedfolder import SharedFolder
from postillion.maildir import quota

from . import capabilities
from .context import ServerContext
from .errors import ERROR_TEXT, QUOTA_TEXT, client_error_response, render_error

_P = ParamSpec("_P")
_T = TypeVar("_T")

log = logging.getLogger("postillion.imap")

MAX_CONSECUTIVE_ERRORS = 10
#: Seconds a client may stay silent before login (Courier's imaplogin: 60).
PRELOGIN_TIMEOUT = 60.0
#: RFC 3501 5.4: the autologout timer is at least 30 minutes.
AUTOLOGOUT_TIMEOUT = 30 * 60.0
READ_SIZE = 65536
#: IDLE pushes are written without waiting while the connection's buffer
#: holds less than this; beyond it the session waits for the client.
PUSH_BUFFER_LIMIT = 256 * 1024

Handler = Callable[["Session", Any], Awaitable[r.TaggedResponse | None]]


class SessionEnd(Exception):
    """Raised by a handler to end the session after what it sent."""


def sanitize(data: bytes | str, limit: int = 80) -> str:
    """Client bytes made fit for one log line."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return "".join(ch if ch.isprintable() else "?" for ch in text[:limit])


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 ctx: ServerContext, *, peer: str = "", tls_active: bool = False) -> None:
        self.reader = reader
        self.writer = writer
        self.ctx = ctx
        self.peer = peer
        self.tls_active = tls_active
        self.conn = Connection()
        self.account: Account | None = None
        self.store: MailStore | None = None
        self.selected: SelectedMailbox | None = None
        self.enabled: set[str] = set()
        self.saved_search: list[int] = []
        self._errors = 0
        self._read_task: asyncio.Task[bytes] | None = None
        self._saving: asyncio.Future[None] | None = None
        self._closed = False
        self._frozen = False  # see offload_lasting

    # ------------------------------------------------------------ blocking work

    async def offload(self, func: Callable[_P, _T], /, *args: _P.args,
                      **kwargs: _P.kwargs) -> _T:
        """``func(*args, **kwargs)`` kept off the event loop when other
        clients share it (a worker thread), run at once when this process
        serves this client alone (``ServerContext.one_client``): there a
        thread only adds hand-overs (the GIL passed back and forth with every
        batch of a FETCH 1:* BODY.PEEK[] over 10,000 messages made it 1.4
        times slower).  For work whose thread keeps it running beside
        other work (parallel reads, a pool starting), asyncio.to_thread."""
        if self.ctx.one_client:
            return func(*args, **kwargs)
        return await asyncio.to_thread(func, *args, **kwargs)

    async def offload_lasting(self, func: Callable[_P, _T], /, *args: _P.args,
                              **kwargs: _P.kwargs) -> _T:
        """:meth:`offload` for work that makes objects the session keeps
        while the folder is selected (SELECT's snapshot: a few hundred
        thousand objects for a folder of 100,000 messages).  In a process
        serving one client, the collector's automatic passes are paused
        while they are made and everything then alive is frozen (gc.freeze)
        until the folder is left (:meth:`deselect`): the collector walked
        them about twice more (as they were made and at the next commands'
        first collections) to find no garbage among them, 15-20% of a SELECT
        and of the FETCH after it.  (Cyclic garbage among the frozen objects
        waits for the folder to be left; other garbage is freed at once, as
        always.)  A server of many clients shares its collector between
        them and leaves it alone."""
        if not self.ctx.one_client:
            return await self.offload(func, *args, **kwargs)
        paused = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.freeze()
            self._frozen = True
            if paused:
                gc.enable()

    def _thaw(self) -> None:
        """Give what :meth:`offload_lasting` froze back to the collector."""
        if self._frozen:
            self._frozen = False
            gc.unfreeze()

    # ------------------------------------------------------------ output

    async def send(self, *responses: r.Response) -> None:
        if not self._closed:
            await self.send_wire(b"".join(self.conn.send(resp) for resp in responses))

    async def send_wire(self, data: bytes) -> None:
        """Write responses already rendered (by the protocol's serializer
        or the same bytes made by a faster path, in a worker thread)."""
        if self._closed or not data:
            return
        self.writer.write(data)
        await self.writer.drain()

    def write_now(self, responses: list[r.Response]) -> bool:
        """Write responses without waiting (IDLE pushes from the event loop);
        False when the client is not reading, so the caller must go the
        way that waits for it (``send``)."""
        if self._closed:
            return True
        transport = self.writer.transport if hasattr(self.writer, "transport") else None
        if transport is not None and transport.get_write_buffer_size() > PUSH_BUFFER_LIMIT:
            return False
        if responses:
            self.writer.write(b"".join(self.conn.send(resp) for resp in responses))
        return True

    async def send_raw(self, data: bytes) -> None:
        """Bytes already in wire form (a streamed literal), with backpressure."""
        if self._closed:
            return
        self.writer.write(data)
        await self.writer.drain()

    def capabilities(self) -> tuple[str, ...]:
        return capabilities.advertised(self.ctx, self.conn.state, tls_active=self.tls_active)

    def has_capability(self, name: str) -> bool:
        return capabilities.allows(self.capabilities(), name)

    @property
    def config_keywords(self) -> bool:
        return self.ctx.config.get_int("IMAP_KEYWORDS") != 0

    # ------------------------------------------------------------ input

    async def read(self, timeout: float | None = None) -> bytes | None:
        """Bytes from the client; ``b""`` at EOF; None when ``timeout``
        passed first (the read stays pending for the next call)."""
        if self._read_task is None:
            self._read_task = asyncio.ensure_future(self.reader.read(READ_SIZE))
        done, _pending = await asyncio.wait({self._read_task}, timeout=timeout)
        if not done:
            return None
        task, self._read_task = self._read_task, None
        try:
            return task.result()
        except (ConnectionError, OSError):
            return b""

    def pending_read(self) -> asyncio.Task[bytes]:
        if self._read_task is None:
            self._read_task = asyncio.ensure_future(self.reader.read(READ_SIZE))
        return self._read_task

    async def next_event(self) -> Any:
        """The next protocol event, reading as needed; ConnectionClosed at EOF
        or when the client stayed silent too long."""
        while True:
            event = self.conn.next_event()
            if event is not NEED_DATA:
                return event
            timeout = (PRELOGIN_TIMEOUT if self.conn.state is SessionState.NOT_AUTHENTICATED
                       else AUTOLOGOUT_TIMEOUT)
            data = await self.read(timeout)
            if data is None:
                await self.send(r.UntaggedStatus("BYE", "Disconnected for inactivity."))
                return ConnectionClosed()
            self.conn.receive_data(data)

    # ------------------------------------------------------------ the loop

    async def run(self, preauth: Account | None) -> None:
        from .dispatch import HANDLERS  # the command families import this module

        try:
            if preauth is not None:
                await self.become(preauth)
                await self.send(r.UntaggedStatus("PREAUTH", "Ready."))
            else:
                await self.send(r.UntaggedStatus(
                    "OK", "Postillion IMAP ready.", r.CapabilityCode(self.capabilities())))
            while not self._closed:
                event = await self.next_event()
                if isinstance(event, ConnectionClosed):
                    break
                if isinstance(event, LiteralRequest):
                    await self.on_literal(event)
                    continue
                if isinstance(event, CommandError):
                    await self.on_error(event)
                    continue
                if isinstance(event, IdleDone | SaslResponse):
                    continue  # stray: only IDLE/AUTHENTICATE expect these
                self._errors = 0
                await self.run_command(HANDLERS, event)
        except SessionEnd:
            pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("imap session %s: internal error; closing", self.peer)
            try:
                await self.send(r.UntaggedStatus("BYE", "Internal server error."))
            except Exception:
                pass
        finally:
            await self.close()

    async def run_command(self, handlers: dict[type, Handler], command: Any) -> None:
        handler = handlers.get(type(command))
        info = COMMANDS.get(command.name)
        if handler is None or (info is not None and info.capability is not None
                               and not self.has_capability(info.capability)):
            await self.send(r.TaggedResponse(command.tag, "NO", ERROR_TEXT))
            return
        answer: list[r.Response]
        try:
            tagged = await handler(self, command)
            if tagged is None:
                return
            answer = [tagged]
        except SessionEnd:
            raise
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            answer = render_error(command.tag, command.name, exc)
        if self.selected is not None and self.conn.state is SessionState.SELECTED:
            allowed = info.expunges_allowed if info is not None else False
            try:
                owed = await self.offload(self.selected.sync, expunges_allowed=allowed)
            except UidValidityChanged:
                await self.send(r.UntaggedStatus("BYE", "Mailbox UIDVALIDITY changed; "
                                                 "please reconnect."))
                raise SessionEnd from None
            except Exception as exc:
                log.warning("imap session %s: folder vanished or unreadable: %s",
                            self.peer, exc)
                owed = []
            await self.send(*owed)
        await self.send(*answer)
        self._save_cache_later()

    def _save_cache_later(self) -> None:
        """Write the selected folder's cache file when due, after the answer
        went out and without holding up the next command."""
        selected = self.selected
        if selected is None or selected.shared is None or self._saving is not None:
            return
        cache = selected.cache
        if not cache.due():
            return
        self._saving = asyncio.get_running_loop().run_in_executor(None, _save, cache)
        self._saving.add_done_callback(self._saved)

    def _saved(self, _future: asyncio.Future[None]) -> None:
        self._saving = None

    async def on_literal(self, event: LiteralRequest) -> None:
        if event.command == "APPEND" and self.store is not None and event.index == 0:
            from .access import refuse_append_early  # access imports this module

            refusal = await refuse_append_early(self, event)
            if refusal is not None:
                self.conn.refuse_literal()
                await self.send(refusal)
                return
        if event.command == "APPEND" and self.store is not None:
            try:
                fits = await self.offload(quota.fits, self.store.root, event.size)
            except Exception:
                fits = True
            if not fits:
                self.conn.refuse_literal()
                await self.send(r.UntaggedStatus("NO", QUOTA_TEXT, r.ALERT),
                                r.TaggedResponse(event.tag or b"*", "NO", QUOTA_TEXT,
                                                 r.OVERQUOTA))
                return
        self.conn.accept_literal()
        await self.send(r.ContinuationRequest("OK"))

    async def on_error(self, event: CommandError) -> None:
        self._errors += 1
        log.info("imap session %s: client error %s in %s: %s", self.peer, event.kind.name,
                 sanitize(event.command or ""), sanitize(event.message))
        if self._errors >= MAX_CONSECUTIVE_ERRORS:
            await self.send(r.UntaggedStatus(
                "BYE", "Fatal error: TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS: ", r.ALERT))
            raise SessionEnd
        await self.send(client_error_response(event))

    # ------------------------------------------------------------ helpers

    async def become(self, account: Account) -> None:
        """Switch to the account (privileges first, then the mail store)."""
        await asyncio.to_thread(self.ctx.become, account)
        self.account = account
        config = self.ctx.config
        shared = SharedNamespace(
            index_file=config.get_str("IMAP_SHAREDINDEXFILE"),
            sharedgroup=account.options.sharedgroup,
            disabled=account.options.disableshared,
            complex_munging=config.get_bool("IMAP_SHAREDMUNGENAMES"),
            own_maildir=account.maildir,
            identity=Identity(account.login, str(account.options)))
        self.store = MailStore(account.maildir, account.login, str(account.options),
                               trash_name=config.get_str("IMAP_TRASHFOLDERNAME"),
                               shared=shared)
        self.conn.state = SessionState.AUTHENTICATED
        log.info("imap LOGIN, user=%s, ip=[%s]", sanitize(account.login), self.peer)

    def mail(self) -> MailStore:
        assert self.store is not None, "the protocol state table allows this only after login"
        return self.store

    def name_of(self, raw: bytes) -> str:
        return self.mail().storage_name(raw, "UTF8=ACCEPT" in self.enabled)

    def wire(self, name: str) -> str:
        return self.mail().wire_name(name, "UTF8=ACCEPT" in self.enabled)

    async def deselect(self) -> None:
        selected, self.selected = self.selected, None
        self.saved_search = []
        if selected is not None:
            self._release(selected)
        self._thaw()
        if self.conn.state is SessionState.SELECTED:
            self.conn.state = SessionState.AUTHENTICATED

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._read_task is not None:
            self._read_task.cancel()
        selected, self.selected = self.selected, None
        if selected is not None:
            self._release(selected)
        self._thaw()
        try:
            self.writer.close()
            await self.writer.wait_closed()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass

    @staticmethod
    def _release(selected: SelectedMailbox) -> None:
        """Let go of a folder; the last session of the process to leave it
        saves its cache file and its scan, in the background (neither the
        next command nor a closing session waits for it; see
        :func:`finish_leaving`)."""
        shared = selected.shared
        if shared is None:
            return
        last = shared.users <= 1
        selected.close()
        if last:
            future = _leaving().submit(_leave, shared)
            _pending_leaves.add(future)
            future.add_done_callback(_pending_leaves.discard)


def _save(cache: FolderCache) -> None:
    try:
        cache.save(force=True)
    except Exception:
        log.exception("imap: folder cache of %s not saved", cache.folder_dir)


_leaving_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pending_leaves: set[concurrent.futures.Future[None]] = set()


async def finish_leaving() -> None:
    """Wait until what sessions left behind is saved (a stdio session
    before its process ends; tests)."""
    pending = list(_pending_leaves)
    if pending:
        await asyncio.wait([asyncio.wrap_future(f) for f in pending])


def _leaving() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that save what a folder's last session leaves behind:
    not the event loop's default executor, whose threads serve the
    commands of every session (a save of a big folder's cache takes a
    while, and saving its scan may wait a clock tick).  Their work is
    finished before the process exits (the executor's threads are joined
    at exit), also after a stdio session's LOGOUT."""
    global _leaving_pool
    if _leaving_pool is None:
        _leaving_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="postillion-leave")
    return _leaving_pool


def _leave(shared: SharedFolder) -> None:
    """What the last session to leave a folder saves: its cache file and
    its scan (for the next process's SELECT)."""
    _save(shared.cache)
    try:
        shared.save_scan()
    except Exception:
        log.exception("imap: scan of %s not saved", shared.folder_dir)


__all__ = ["Session", "SessionEnd", "commands"]
