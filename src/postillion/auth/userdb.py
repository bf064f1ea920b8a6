"""Courier's userdb text file as an authentication backend.

The file (or every file under a directory, recursively, skipping names that
start with a dot) has one account per line::

    name<TAB>field=value|field=value|...

Fields come in any order; only the first ``=`` of a field splits, so
``options=group=staff`` is the field ``options``.  Lines starting with ``#``
and lines without a TAB are ignored, as ``makeuserdb`` does.  ``home``,
``uid`` and ``gid`` are required: a record without them is not an account.

Courier's servers read ``userdb.dat`` / ``userdbshadow.dat``, which
``makeuserdb`` builds from this text.  We read the text itself and re-read
it whenever a file's mtime, inode or size changes, so edits (by hand or with
the ``userdb`` tool) take effect on the next login with no ``makeuserdb``.
Where ``makeuserdb`` refuses a file with a duplicate name, we keep the first
record and log the duplicate.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from postillion.auth import hmacstate
from postillion.auth.account import DEFAULT_MAILDIR, Account, AccountOptions, resolve_maildir
from postillion.auth.passwords import spend_verify_time, verify_password

log = logging.getLogger(__name__)

DEFAULT_USERDB = "/etc/courier/userdb"


def parse_fields(text: str) -> dict[str, str]:
    """``a=1|b=2|flag`` -> {"a": "1", "b": "2", "flag": ""}; the first of a name wins."""
    fields: dict[str, str] = {}
    for item in text.split("|"):
        if not item:
            continue
        name, _, value = item.partition("=")
        fields.setdefault(name, value)
    return fields


def parse_line(line: str) -> tuple[str, dict[str, str]] | None:
    """One userdb line -> (name, fields), or None for comments and non-records."""
    line = line.rstrip("\n")
    if not line or line.startswith("#") or "\t" not in line:
        return None
    name, _, rest = line.partition("\t")
    if not name:
        return None
    return name, parse_fields(rest)


def _leading_int(text: str) -> int:
    """atol(): the leading decimal digits (after optional blanks and sign), else 0."""
    text = text.lstrip()
    sign = -1 if text.startswith("-") else 1
    text = text[1:] if text[:1] in "+-" else text
    digits = ""
    for char in text:
        if not char.isdigit():
            break
        digits += char
    return sign * int(digits) if digits else 0


@dataclass(frozen=True, slots=True)
class UserdbRecord:
    """One account line: its fields (passwords included) and the file it came from."""

    name: str
    fields: dict[str, str]
    source: str

    def account(self, default_maildir: str = DEFAULT_MAILDIR) -> Account | None:
        """The account, or None when ``home``, ``uid`` or ``gid`` is missing."""
        home = self.fields.get("home")
        if home is None or "uid" not in self.fields or "gid" not in self.fields:
            return None
        return Account(
            login=self.name,
            uid=_leading_int(self.fields["uid"]),
            gid=_leading_int(self.fields["gid"]),
            home=home,
            maildir=resolve_maildir(home, self.fields.get("mail"), default_maildir),
            quota=self.fields.get("quota"),
            options=AccountOptions.parse(self.fields.get("options")),
        )

    def password_for(self, service: str) -> str | None:
        """``<service>pw`` if present, else ``systempw`` (as authuserdb looks them up)."""
        value = self.fields.get(service + "pw")
        if value is None:
            value = self.fields.get("systempw")
        return value

    def hmac_for(self, service: str, algorithm: str) -> str | None:
        """``<service>-hmac-<alg>pw`` if present, else ``hmac-<alg>pw``."""
        value = self.fields.get(f"{service}-hmac-{algorithm}pw")
        if value is None:
            value = self.fields.get(f"hmac-{algorithm}pw")
        return value


def _source_files(path: Path) -> list[Path]:
    """The userdb file itself, or every file under the directory (dot names skipped)."""
    if not path.is_dir():
        return [path]
    found: list[Path] = []
    for directory, subdirs, files in os.walk(path):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found.extend(Path(directory, f) for f in sorted(files) if not f.startswith("."))
    return found


def read_userdb(path: str | os.PathLike[str]) -> dict[str, UserdbRecord]:
    """Every record of a userdb file or directory, by name (first one wins)."""
    root = Path(path)
    records: dict[str, UserdbRecord] = {}
    for file in _source_files(root):
        try:
            text = file.read_text(encoding="utf-8", errors="surrogateescape")
        except FileNotFoundError:
            continue
        source = "" if file == root else str(file.relative_to(root))
        for line in text.splitlines():
            parsed = parse_line(line)
            if parsed is None:
                continue
            name, fields = parsed
            if name in records:
                log.warning("userdb: duplicate record for %r in %s ignored", name, file)
                continue
            records[name] = UserdbRecord(name, fields, source)
    return records


def _signature(path: Path) -> tuple[tuple[str, int, int, int], ...]:
    """What changes when any source file is edited, replaced, added or removed."""
    parts: list[tuple[str, int, int, int]] = []
    for file in [path, *(_source_files(path) if path.is_dir() else [])]:
        try:
            st = file.stat()
        except FileNotFoundError:
            parts.append((str(file), -1, -1, -1))
            continue
        size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
        parts.append((str(file), st.st_mtime_ns, st.st_ino, size))
    return tuple(parts)


class UserdbBackend:
    """Authentication from Courier's userdb text file, re-read when it changes."""

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_USERDB,
                 default_maildir: str = DEFAULT_MAILDIR) -> None:
        self.path = Path(path)
        self.default_maildir = default_maildir
        self._lock = threading.Lock()
        self._signature: tuple[tuple[str, int, int, int], ...] | None = None
        self._records: dict[str, UserdbRecord] = {}

    def records(self) -> dict[str, UserdbRecord]:
        """The current records, re-reading the file(s) if they changed."""
        with self._lock:
            signature = _signature(self.path)
            if signature != self._signature:
                self._records = read_userdb(self.path)
                self._signature = signature
            return self._records

    def _record(self, login: str) -> UserdbRecord | None:
        return self.records().get(login)

    def lookup(self, login: str) -> Account | None:
        record = self._record(login)
        return record.account(self.default_maildir) if record else None

    def authenticate(self, service: str, login: str, secret: str) -> Account | None:
        record = self._record(login)
        account = record.account(self.default_maildir) if record else None
        stored = record.password_for(service) if record else None
        if account is None or stored is None:
            spend_verify_time(secret)
            return None
        return account if verify_password(secret, stored) else None

    def enumerate(self) -> Iterator[Account]:
        for record in list(self.records().values()):
            account = record.account(self.default_maildir)
            if account is not None:
                yield account

    def cram_secret(self, service: str, login: str, algorithm: str) -> str | None:
        """The stored HMAC states for a CRAM login, or None if the account has none."""
        record = self._record(login)
        if record is None or record.account(self.default_maildir) is None:
            return None
        value = record.hmac_for(service, algorithm)
        if value is None or algorithm not in hmacstate.ALGORITHMS:
            return None
        return value
