"""The IMAP session: one client's conversation, from greeting to LOGOUT.

``run_session(reader, writer, ctx)`` is all a server needs; the command
families live one per module (general, login, mailboxes, selection,
append, fetch, store, searching, quota_acl), the shared state in
:mod:`.core`, the folder view in :mod:`postillion.imap.selected`.
"""

from __future__ import annotations

import asyncio

from postillion.auth import Account

from .context import FolderNotifier, ServerContext, Watch
from .core import Session, finish_leaving


async def run_session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      ctx: ServerContext, *, preauth: Account | None = None, peer: str = "",
                      tls_active: bool = False) -> None:
    """Serve one client until LOGOUT, EOF or a timeout; never raises on
    client behaviour (internal errors are logged, answered and end the
    session)."""
    session = Session(reader, writer, ctx, peer=peer, tls_active=tls_active)
    await session.run(preauth)


__all__ = ["FolderNotifier", "ServerContext", "Session", "Watch", "finish_leaving", "run_session"]
