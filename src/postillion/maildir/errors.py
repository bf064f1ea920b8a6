"""Typed errors of the storage layer.

The storage layer knows nothing of IMAP; the protocol layer maps these
errors to response codes (``[NONEXISTENT]``, ``[OVERQUOTA]``, ...) and the
tools map them to Courier's exit codes and messages.
"""

from __future__ import annotations


class MaildirError(Exception):
    """Base class of every error raised by :mod:`postillion.maildir`."""


class InvalidMailboxName(MaildirError):
    """A folder name that Courier would refuse (``/``, ``..``, NUL, ...)."""


class MailboxNotFound(MaildirError):
    """The folder (or the maildir itself) does not exist."""


class MailboxExists(MaildirError):
    """The folder to be created or renamed to exists already."""


class MessageNotFound(MaildirError):
    """A message file vanished (expunged or moved by another process)."""


class QuotaExceeded(MaildirError):
    """Storing the message would take the maildir over its Maildir++ quota."""


class PermissionDenied(MaildirError):
    """The ACL, or the file system, does not allow the operation."""


class CorruptControlFile(MaildirError):
    """A control file (uiddb, maildirsize, keywords, ACL) cannot be parsed.

    Readers that can rebuild the file do so and do not raise this; it reaches
    callers only where rebuilding would lose information.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class DeliveryFailed(MaildirError):
    """A temporary failure while storing a message (disk full, I/O error).

    Nothing was stored: the caller may retry later.
    """
