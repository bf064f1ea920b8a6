"""ACL enforcement for the command families: one place that turns a
missing right into Courier's refusal, and the flag filter Courier applies
to STORE, APPEND and COPY.  The table of what each command needs is
docs/acl.md.

A refusal on a folder the user can look up (``l``) is ``[NOPERM]``; on one
they cannot, ``[NONEXISTENT]`` -- the same answer a folder that does not
exist gets (its rights are inherited from its parent, so the decision
depends on the rights alone and never reveals existence).
"""

from __future__ import annotations

import datetime
import re
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from postillion.imap.protocol import responses as r
from postillion.imap.selected import SelectedMailbox
from postillion.maildir import acl

from .errors import ERROR_TEXT, CommandFailed

if TYPE_CHECKING:
    from postillion.imap.protocol import LiteralRequest

    from .core import Session

#: Rights any one of which makes a SELECT read-write (Courier's rule).
WRITE_RIGHTS = "iestw"
#: Rights any one of which lets MYRIGHTS answer (else Courier refuses it as GETACL).
ANY_RIGHT = "lricxea"

_selected_rights: weakref.WeakKeyDictionary[SelectedMailbox, str] = \
    weakref.WeakKeyDictionary()


def denied(session: Session, command: str, name: str | None, right: str,
           rights: str) -> CommandFailed:
    """Courier's ``Access denied for CMD on NAME (ACL "x" required)``."""
    where = "current mailbox" if name is None else session.wire(name)
    code = r.NOPERM if acl.RIGHT_LOOKUP in rights else r.NONEXISTENT
    return CommandFailed(f'Access denied for {command} on {where} (ACL "{right}" required)',
                         code)


async def rights_on(session: Session, name: str) -> str:
    return await session.offload(session.mail().rights, name)


async def require(session: Session, name: str, right: str, command: str) -> str:
    """The session's rights on ``name``; CommandFailed without ``right``."""
    rights = await rights_on(session, name)
    if right not in rights:
        raise denied(session, command, name, right, rights)
    return rights


def remember(selected: SelectedMailbox, rights: str) -> None:
    _selected_rights[selected] = rights


def selected_rights(selected: SelectedMailbox) -> str:
    """The rights taken at SELECT (Courier also keeps them for the session)."""
    return _selected_rights.get(selected, acl.ALL_RIGHTS)


def require_selected(session: Session, selected: SelectedMailbox, right: str,
                     command: str) -> None:
    rights = selected_rights(selected)
    if right not in rights:
        raise denied(session, command, None, right, rights)


def flag_allowed(flag: str, rights: str) -> bool:
    """\\Seen needs ``s``, \\Deleted ``t``, every other flag and keyword ``w``."""
    if flag == "\\Seen":
        return acl.RIGHT_SEEN in rights
    if flag == "\\Deleted":
        return acl.RIGHT_DELETEMSGS in rights
    return acl.RIGHT_WRITE in rights


def permitted_change(old: frozenset[str], new: frozenset[str], rights: str) -> frozenset[str]:
    """``new`` with every change the rights do not allow undone (Courier
    drops such flags silently and answers OK)."""
    result = set(new)
    for flag in old ^ new:
        if not flag_allowed(flag, rights):
            if flag in old:
                result.add(flag)
            else:
                result.discard(flag)
    return frozenset(result)


def permitted_flags(flags: Iterable[str], rights: str) -> tuple[str, ...]:
    """Flags a new message (APPEND, COPY, MOVE) may carry into a folder."""
    return tuple(f for f in flags if flag_allowed(f, rights))


_APPEND_HEAD = re.compile(rb'\S+ +APPEND +("(?:[^"\\]|\\.)*"|[^\s(){]+) ', re.IGNORECASE)


_APPEND_REST = re.compile(rb'(?:\(([^()]*)\) *)?(?:"([^"]*)" *)?')
_STORABLE = frozenset({"\\seen", "\\answered", "\\flagged", "\\deleted", "\\draft"})


def _bad_append_arguments(rest: bytes) -> bool:
    """A flag list or date after APPEND's mailbox that Courier refuses before
    ``+``: a backslash flag other than the five storable ones (``\\Recent``
    too), or a date-time that is no date.  Unusual forms are left to the parser."""
    match = _APPEND_REST.fullmatch(rest)
    if match is None:
        return False
    flags, date = match.groups()
    if flags and any(f.startswith(b"\\") and f.decode("ascii", "replace").lower()
                     not in _STORABLE for f in flags.split()):
        return True
    if date is not None:
        try:
            datetime.datetime.strptime(date.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
        except ValueError:
            return True
    return False


def _unquote(token: bytes) -> bytes:
    if token.startswith(b'"'):
        return re.sub(rb"\\(.)", rb"\1", token[1:-1])
    return token


async def refuse_append_early(session: Session, event: LiteralRequest,
                              ) -> r.TaggedResponse | None:
    """APPEND without ``i`` on its folder, to a folder that does not exist,
    or with flags or a date Courier refuses, is refused before ``+``, as
    Courier does, so the client never sends the message (None: go on)."""
    match = _APPEND_HEAD.match(event.prefix)
    if match is None or event.tag is None:
        return None
    if _bad_append_arguments(event.prefix[match.end():]):
        return r.TaggedResponse(event.tag, "NO", ERROR_TEXT)
    try:
        name = session.name_of(_unquote(match.group(1)))
        await require(session, name, acl.RIGHT_INSERT, "APPEND")
        exists = await session.offload(session.mail().exists, name)
    except CommandFailed as refusal:
        return r.TaggedResponse(event.tag, "NO", refusal.text, refusal.code)
    except Exception:
        return None  # the command itself will answer
    if not exists:
        return r.TaggedResponse(event.tag, "NO", "Mailbox does not exist.", r.TRYCREATE)
    return None
