"""Storage errors rendered as IMAP answers: one mapping (DESIGN habit 8)."""

from __future__ import annotations

import logging

from postillion.imap.protocol import CommandError, Missing
from postillion.imap.protocol import responses as r
from postillion.maildir import acl
from postillion.maildir.errors import (
    InvalidMailboxName,
    MailboxExists,
    MailboxNotFound,
    MessageNotFound,
    PermissionDenied,
    QuotaExceeded,
)
from postillion.maildir.folderlock import FolderBusy

log = logging.getLogger("postillion.imap")

#: Courier's answer to every client error (NO, not BAD).
ERROR_TEXT = "Error in IMAP command received by server."
NOT_FOUND_TEXT = "Mailbox does not exist, or must be subscribed to."
QUOTA_TEXT = "You exceeded your mail quota."
#: Courier's answer to a command that ended where a mailbox name was due.
INVALID_COMMAND_TEXT = "Invalid command"


def client_error_response(event: CommandError) -> r.Response:
    """Courier's answer to a command it could not accept: ``BAD Invalid
    command`` when the command ended before a mailbox name (``SELECT``,
    ``LIST ""``, ``RENAME x``), else ``NO Error in IMAP command received by
    server.`` (``* BAD`` without a tag).  Both count as consecutive errors."""
    if event.tag is None:
        return r.UntaggedStatus("BAD", ERROR_TEXT)
    if event.missing is Missing.MAILBOX:
        return r.TaggedResponse(event.tag, "BAD", INVALID_COMMAND_TEXT)
    return r.TaggedResponse(event.tag, "NO", ERROR_TEXT)


class CommandFailed(Exception):
    """A handler's refusal with a text (and code) of its own."""

    def __init__(self, text: str, code: r.ResponseCode | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def render_error(tag: bytes, command: str, exc: Exception) -> list[r.Response]:
    """The responses for an exception raised by a command handler; the
    last one is tagged.  Anything unexpected is logged as our bug."""
    def no(text: str, code: r.ResponseCode | None = None) -> list[r.Response]:
        return [r.TaggedResponse(tag, "NO", text, code)]

    if isinstance(exc, CommandFailed):
        return no(exc.text, exc.code)
    if isinstance(exc, QuotaExceeded):
        # One code per response: the ALERT for the user, OVERQUOTA for the program.
        return [r.UntaggedStatus("NO", QUOTA_TEXT, r.ALERT), *no(QUOTA_TEXT, r.OVERQUOTA)]
    if isinstance(exc, InvalidMailboxName):
        return no("Invalid mailbox name.", r.CANNOT)
    if isinstance(exc, MailboxNotFound):
        return no(NOT_FOUND_TEXT, r.NONEXISTENT)
    if isinstance(exc, MailboxExists):
        return no("Cannot create this folder.", r.ALREADYEXISTS)
    if isinstance(exc, acl.InvalidAclEntry):
        return no("Invalid ACL identifier.")
    if isinstance(exc, acl.AclChangeRefused):
        return no("Cannot modify ACLs as requested.")
    if isinstance(exc, PermissionDenied):
        return no(str(exc) or "Permission denied.", r.NOPERM)
    if isinstance(exc, MessageNotFound):
        return no("Message was expunged meanwhile.", r.EXPUNGEISSUED)
    if isinstance(exc, FolderBusy):
        return no("Folder is locked by another process; try again.", r.INUSE)
    log.exception("imap %s failed (our bug or a damaged maildir)", command)
    return no(f"{command} failed: internal error, logged.", r.SERVERBUG)
