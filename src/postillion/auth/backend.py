"""The one interface every authentication backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from postillion.auth.account import Account


@runtime_checkable
class AuthBackend(Protocol):
    """Accounts by login.  Unknown login and wrong secret give the same None."""

    def authenticate(self, service: str, login: str, secret: str) -> Account | None:
        """The account if ``secret`` is its password for ``service`` (imap, pop3, ...)."""
        ...

    def lookup(self, login: str) -> Account | None:
        """The account without a password check (pre-authenticated sessions, ACLs)."""
        ...

    def enumerate(self) -> Iterator[Account]:
        """Every valid account, in the backend's order (for shared-folder indexes)."""
        ...

    def cram_secret(self, service: str, login: str, algorithm: str) -> str | None:
        """Stored HMAC states (hex, outer then inner) for CRAM with ``algorithm``
        (md5, sha1, sha256), or None when the account cannot use CRAM."""
        ...
