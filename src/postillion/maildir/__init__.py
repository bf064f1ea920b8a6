"""Maildir++ storage, byte-compatible with Courier's files.

A plain synchronous library over directories; it knows nothing of IMAP.
"""

from postillion.maildir.errors import (
    CorruptControlFile,
    DeliveryFailed,
    InvalidMailboxName,
    MailboxExists,
    MailboxNotFound,
    MaildirError,
    MessageNotFound,
    PermissionDenied,
    QuotaExceeded,
)

__all__ = [
    "CorruptControlFile",
    "DeliveryFailed",
    "InvalidMailboxName",
    "MailboxExists",
    "MailboxNotFound",
    "MaildirError",
    "MessageNotFound",
    "PermissionDenied",
    "QuotaExceeded",
]
