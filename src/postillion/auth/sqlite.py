"""Accounts in an SQLite database (schema in docs/auth.md and SCHEMA below).

The columns mirror the userdb fields.  ``crypt`` holds a stored password in
any format :mod:`postillion.auth.passwords` reads; ``clear`` an optional
plain one (as Courier's authsqlite allows; it also enables every CRAM
mechanism); ``hmac_md5`` ... hold ``userdbpw -hmac-*`` output for CRAM
without a clear password.  ``service_passwords`` plays the part of
userdb's ``imappw`` / ``pop3pw``: a row there wins for its service.

Each call opens the database read-only, so edits by other programs are
seen at once and the backend is safe to share between threads.
"""

from __future__ import annotations

import hmac
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from postillion.auth import hmacstate
from postillion.auth.account import DEFAULT_MAILDIR, Account, AccountOptions, resolve_maildir
from postillion.auth.passwords import spend_verify_time, verify_password

SCHEMA = """\
CREATE TABLE IF NOT EXISTS users (
    login       TEXT PRIMARY KEY NOT NULL,
    uid         INTEGER NOT NULL,
    gid         INTEGER NOT NULL,
    home        TEXT NOT NULL,
    maildir     TEXT,      -- absolute, or relative to home; NULL: home/Maildir
    quota       TEXT,      -- Courier quota string, e.g. 1000000S,1000C
    options     TEXT,      -- Courier options, e.g. group=staff,disableimap=1
    crypt       TEXT,      -- stored password: $6$..., $1$..., {SSHA}..., DES ...
    clear       TEXT,      -- plain password (discouraged; enables CRAM)
    hmac_md5    TEXT,      -- userdbpw -hmac-md5 output, for CRAM-MD5
    hmac_sha1   TEXT,      -- userdbpw -hmac-sha1 output, for CRAM-SHA1
    hmac_sha256 TEXT       -- userdbpw -hmac-sha256 output, for CRAM-SHA256
);
CREATE TABLE IF NOT EXISTS service_passwords (
    login    TEXT NOT NULL REFERENCES users(login) ON DELETE CASCADE,
    service  TEXT NOT NULL,   -- imap, pop3, ...
    crypt    TEXT NOT NULL,   -- stored password for that service only
    PRIMARY KEY (login, service)
);
"""

_ACCOUNT_COLUMNS = "login, uid, gid, home, maildir, quota, options"


def create_schema(path: str | os.PathLike[str]) -> None:
    """Create the tables (if missing) in the database at ``path``."""
    with sqlite3.connect(path) as connection:
        connection.executescript(SCHEMA)
    connection.close()


class SQLiteBackend:
    """Authentication from the ``users`` table of an SQLite database."""

    def __init__(self, path: str | os.PathLike[str],
                 default_maildir: str = DEFAULT_MAILDIR) -> None:
        self.path = Path(path)
        self.default_maildir = default_maildir

    def _connect(self) -> sqlite3.Connection:
        uri = "file:" + str(self.path.absolute()).replace("?", "%3F").replace("#", "%23")
        return sqlite3.connect(uri + "?mode=ro", uri=True)

    def _account(self, row: tuple[object, ...]) -> Account:
        login, uid, gid, home, maildir, quota, options = row
        return Account(
            login=str(login), uid=int(str(uid)), gid=int(str(gid)), home=str(home),
            maildir=resolve_maildir(str(home), str(maildir) if maildir else None,
                                    self.default_maildir),
            quota=str(quota) if quota else None,
            options=AccountOptions.parse(str(options) if options else None),
        )

    def lookup(self, login: str) -> Account | None:
        connection = self._connect()
        try:
            row = connection.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM users WHERE login = ?", (login,)).fetchone()
        finally:
            connection.close()
        return self._account(row) if row else None

    def authenticate(self, service: str, login: str, secret: str) -> Account | None:
        connection = self._connect()
        try:
            row = connection.execute(
                f"SELECT {_ACCOUNT_COLUMNS}, crypt, clear FROM users WHERE login = ?",
                (login,)).fetchone()
            service_row = None
            if row is not None:
                try:
                    service_row = connection.execute(
                        "SELECT crypt FROM service_passwords WHERE login = ? AND service = ?",
                        (login, service)).fetchone()
                except sqlite3.OperationalError:
                    service_row = None  # an older database without the table
        finally:
            connection.close()
        if row is None:
            spend_verify_time(secret)
            return None
        stored = service_row[0] if service_row else row[7]
        clear = row[8]
        if stored:
            matches = verify_password(secret, str(stored))
        elif clear:
            spend_verify_time(secret)
            matches = hmac.compare_digest(str(clear).encode(), secret.encode())
        else:
            spend_verify_time(secret)
            matches = False
        return self._account(row[:7]) if matches else None

    def enumerate(self) -> Iterator[Account]:
        connection = self._connect()
        try:
            rows = connection.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM users ORDER BY rowid").fetchall()
        finally:
            connection.close()
        for row in rows:
            yield self._account(row)

    def cram_secret(self, service: str, login: str, algorithm: str) -> str | None:
        if algorithm not in hmacstate.ALGORITHMS:
            return None
        connection = self._connect()
        try:
            row = connection.execute(
                f"SELECT hmac_{algorithm}, clear FROM users WHERE login = ?",
                (login,)).fetchone()
        finally:
            connection.close()
        if row is None:
            return None
        stored, clear = row
        if stored:
            return str(stored)
        if clear:
            return hmacstate.precompute(algorithm, str(clear).encode())
        return None
