"""Which handler serves which command: the families' tables, joined."""

from __future__ import annotations

from . import append, fetch, general, login, mailboxes, quota_acl, searching, selection, store
from .core import Handler

HANDLERS: dict[type, Handler] = {
    **general.HANDLERS, **login.HANDLERS, **mailboxes.HANDLERS, **selection.HANDLERS,
    **append.HANDLERS, **fetch.HANDLERS, **store.HANDLERS, **searching.HANDLERS,
    **quota_acl.HANDLERS,
}
