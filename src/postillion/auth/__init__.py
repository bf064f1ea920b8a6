"""Authentication: one interface (:class:`AuthBackend`), several backends.

* :class:`UserdbBackend` - Courier's userdb text file, the embedded default;
* :class:`SQLiteBackend` - a users table in an SQLite database.

Use :func:`open_backend` to get the one the configuration names.
"""

from __future__ import annotations

from postillion.auth.account import Account, AccountOptions
from postillion.auth.backend import AuthBackend
from postillion.auth.sqlite import SQLiteBackend
from postillion.auth.userdb import DEFAULT_USERDB, UserdbBackend

__all__ = [
    "DEFAULT_USERDB",
    "Account",
    "AccountOptions",
    "AuthBackend",
    "SQLiteBackend",
    "UserdbBackend",
    "open_backend",
]


def open_backend(spec: str | None = None, default_maildir: str = "Maildir") -> AuthBackend:
    """The backend a configuration value names.

    ``userdb`` or ``userdb:PATH`` (default ``/etc/courier/userdb``), or
    ``sqlite:PATH`` for an SQLite database.  None means ``userdb``.
    """
    kind, _, path = (spec or "userdb").partition(":")
    if kind == "userdb":
        return UserdbBackend(path or DEFAULT_USERDB, default_maildir)
    if kind == "sqlite" and path:
        return SQLiteBackend(path, default_maildir)
    raise ValueError(f"unknown authentication backend {spec!r} "
                     "(expected userdb, userdb:PATH or sqlite:PATH)")
