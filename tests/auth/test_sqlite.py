"""The SQLite account backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from postillion.auth import SQLiteBackend, open_backend
from postillion.auth import cram as cram_sasl
from postillion.auth.hmacstate import precompute
from postillion.auth.passwords import make_password
from postillion.auth.sqlite import create_schema


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "users.db"
    create_schema(path)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO users (login, uid, gid, home, maildir, quota, options, crypt,"
                   " hmac_md5) VALUES (?,?,?,?,?,?,?,?,?)",
                   ("paul", 999, 995, "/h/paul", None, "100000S", "group=staff",
                    make_password("paulpw", "sha512"), precompute("md5", b"paulpw")))
        db.execute("INSERT INTO users (login, uid, gid, home, maildir, clear)"
                   " VALUES (?,?,?,?,?,?)", ("tux", 999, 995, "/h/tux", "/srv/tux", "tuxpw"))
        db.execute("INSERT INTO users (login, uid, gid, home) VALUES (?,?,?,?)",
                   ("nopw", 1, 1, "/h/nopw"))
        db.execute("INSERT INTO service_passwords VALUES (?,?,?)",
                   ("paul", "pop3", make_password("poppw", "md5")))
    db.close()
    return path


def test_lookup_and_enumerate(database: Path) -> None:
    backend = SQLiteBackend(database)
    paul = backend.lookup("paul")
    assert paul is not None
    assert (paul.uid, paul.gid, paul.maildir, paul.quota) == (999, 995, "/h/paul/Maildir",
                                                              "100000S")
    assert paul.options.groups == ("staff",)
    assert backend.lookup("tux").maildir == "/srv/tux"  # type: ignore[union-attr]
    assert backend.lookup("nosuch") is None
    assert [a.login for a in backend.enumerate()] == ["paul", "tux", "nopw"]


def test_authenticate(database: Path) -> None:
    backend = SQLiteBackend(database)
    assert backend.authenticate("imap", "paul", "paulpw") is not None
    assert backend.authenticate("imap", "paul", "poppw") is None
    assert backend.authenticate("pop3", "paul", "poppw") is not None
    assert backend.authenticate("pop3", "paul", "paulpw") is None
    assert backend.authenticate("imap", "tux", "tuxpw") is not None
    assert backend.authenticate("imap", "tux", "tuxpw ") is None
    assert backend.authenticate("imap", "nopw", "") is None
    assert backend.authenticate("imap", "nosuch", "x") is None


def test_cram(database: Path) -> None:
    backend = open_backend(f"sqlite:{database}")
    challenge = b"<ABC@host>"
    import hmac
    for login, password in (("paul", b"paulpw"), ("tux", b"tuxpw")):
        digest = hmac.new(password, challenge, "md5").hexdigest()
        assert cram_sasl.authenticate(backend, "imap", "CRAM-MD5", challenge,
                                      f"{login} {digest}".encode()) is not None
    # tux has a clear password, so every CRAM mechanism works; paul only MD5.
    digest = hmac.new(b"tuxpw", challenge, "sha256").hexdigest()
    assert cram_sasl.authenticate(backend, "imap", "CRAM-SHA256", challenge,
                                  f"tux {digest}".encode()) is not None
    assert backend.cram_secret("imap", "paul", "sha1") is None


def test_changes_are_seen_at_once(database: Path) -> None:
    backend = SQLiteBackend(database)
    assert backend.lookup("new") is None
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO users (login, uid, gid, home) VALUES ('new', 5, 5, '/n')")
    db.close()
    assert backend.lookup("new") is not None


def test_missing_database_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError):
        SQLiteBackend(tmp_path / "nope.db").lookup("x")
