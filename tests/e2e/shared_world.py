"""A host with several accounts on one uid, a Courier shared index and a
loopback IMAP server: the chapter's virtual shared folder scenarios."""

from __future__ import annotations

import contextlib
import imaplib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.session.harness import PollingNotifier, deliver_in_order, loopback_server

from postillion import config as config_module
from postillion.auth import open_backend
from postillion.auth.passwords import make_password
from postillion.imap.session import ServerContext
from postillion.maildir import acl
from postillion.maildir.folders import Maildir
from postillion.maildir.layout import create_maildir

CAPS = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE QUOTA IDLE"

#: login -> options (every account's password is LOGIN + "pw").
ACCOUNTS = {
    "paul": "",
    "tux": "",
    "eve": "group=staff",
    "mallory": "",
    "root2": "group=administrators",
    "hermit": "disableshared=1",
    "ann": "sharedgroup=example.com",
    "bob": "sharedgroup=example.org",
    "john.doe": "",
}


@dataclass
class SharedWorld:
    root: Path
    userdb: Path
    index: Path
    env: dict[str, str]

    def home(self, login: str) -> Path:
        return self.root / "home" / login

    def maildir(self, login: str) -> str:
        return str(self.home(login) / "Maildir")

    def folder(self, login: str, name: str) -> str:
        Maildir(self.maildir(login)).create(name)
        acl.copy_parent_acl(self.maildir(login), name)
        return Maildir(self.maildir(login)).path(name)

    def grant(self, login: str, name: str, identifier: str, rights: str) -> None:
        acl.set_rights(self.maildir(login), name, identifier, rights)

    def deliver(self, login: str, name: str, body: bytes, flags: str | None = None) -> str:
        target = self.maildir(login) if name in ("", "INBOX") else \
            Maildir(self.maildir(login)).path(name)
        return deliver_in_order(target, body, flags=flags)

    def context(self, **overrides: str) -> ServerContext:
        env = dict(self.env)
        env.update(overrides)
        return ServerContext(config=config_module.load("imapd", self.root / "etc", environ=env),
                             auth=open_backend(f"userdb:{self.userdb}"),
                             notifier=PollingNotifier(), hostname="test.example",
                             login_failure_delay=0.0)

    @contextlib.contextmanager
    def server(self, **overrides: str) -> Iterator[int]:
        with loopback_server(self.context(**overrides)) as port:
            yield port


def index_line(name: str, home: Path, maildir: str = "") -> str:
    fields = [name, str(os.getuid() or 1), str(os.getgid() or 1), str(home)]
    if maildir:
        fields.append(maildir)
    return "\t".join(fields) + "\n"


def make_shared_world(tmp_path: Path) -> SharedWorld:
    etc = tmp_path / "etc"
    (etc / "shared").mkdir(parents=True)
    lines = []
    for login, options in ACCOUNTS.items():
        home = tmp_path / "home" / login
        home.mkdir(parents=True)
        create_maildir(str(home / "Maildir"))
        fields = {"uid": str(os.getuid()), "gid": str(os.getgid()), "home": str(home),
                  "mail": str(home / "Maildir"), "systempw": make_password(login + "pw")}
        if options:
            fields["options"] = options
        lines.append(login + "\t" + "|".join(f"{k}={v}" for k, v in fields.items()))
    userdb = etc / "userdb"
    userdb.write_text("\n".join(lines) + "\n")
    index = etc / "shared" / "index"
    main = [login for login in ACCOUNTS if login not in ("ann", "bob")]
    index.write_text("".join(index_line(login, tmp_path / "home" / login) for login in main)
                     + index_line("ghost", tmp_path / "home" / "ghost")   # missing home
                     + "team\t*\tindex.team\n")
    (etc / "shared" / "index.team").write_text(index_line("paul", tmp_path / "home" / "paul"))
    (etc / "shared" / "indexexample.com").write_text(
        index_line("ann", tmp_path / "home" / "ann")
        + index_line("tux", tmp_path / "home" / "tux"))
    (etc / "shared" / "indexexample.org").write_text(index_line("bob", tmp_path / "home" / "bob"))
    env = {"IMAP_CAPABILITY": CAPS, "IMAP_KEYWORDS": "1", "IMAP_ACL": "1",
           "IMAP_IDLE_TIMEOUT": "60", "IMAP_SHAREDINDEXFILE": str(index)}
    return SharedWorld(tmp_path, userdb, index, env)


def login(port: int, user: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login(user, user + "pw")
    return client


def listed(client: imaplib.IMAP4, pattern: str = "#shared.*") -> list[str]:
    typ, data = client.list('""', f'"{pattern}"')
    assert typ == "OK"
    return [line.decode() for line in data if line]


def answer(result: tuple[str, list[bytes | None]]) -> str:
    typ, data = result
    return typ + " " + b" ".join(d for d in data if isinstance(d, bytes)).decode()


def select(client: imaplib.IMAP4, name: str) -> str:
    """SELECT that accepts a READ-ONLY answer (imaplib's select() raises)."""
    typ, data = client._simple_command("SELECT", name)  # type: ignore[attr-defined]
    text = typ + " " + b" ".join(d for d in data if isinstance(d, bytes)).decode()
    if typ == "OK":
        client.state = "SELECTED"
        client.is_readonly = "READ-ONLY" in text  # type: ignore[attr-defined]
    return text
