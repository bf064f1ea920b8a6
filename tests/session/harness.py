"""Test helpers for sessions: a world with two userdb accounts, a polling
folder notifier, an in-memory client for transcript tests and a real
loopback listener for imaplib/imapclient."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postillion import config as config_module
from postillion.auth import Account, open_backend
from postillion.auth.hmacstate import precompute
from postillion.auth.passwords import make_password
from postillion.imap.session import ServerContext, finish_leaving, run_session
from postillion.maildir import delivery
from postillion.maildir.layout import create_maildir

CAPS = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES "
        "SORT QUOTA IDLE")

PASSWORDS = {"paul": "paulpw", "bob": "bobpw"}


class PollingNotifier:
    """A stand-in for postillion.server.notify: polls new/ and cur/ mtimes
    on the event loop every ``interval`` seconds and calls back."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.watches: list[_PollWatch] = []

    def watch(self, folder_dir: str, callback: Callable[[], None]) -> _PollWatch:
        watch = _PollWatch(folder_dir, callback, self.interval)
        self.watches.append(watch)
        return watch

    def close(self) -> None:
        for watch in self.watches:
            watch.close()


class _PollWatch:
    def __init__(self, folder_dir: str, callback: Callable[[], None], interval: float) -> None:
        self.folder_dir = folder_dir
        self.callback = callback
        self.interval = interval
        self.stamp = self._stamp()
        self.task = asyncio.get_running_loop().create_task(self._run())

    def _stamp(self) -> tuple[int, ...]:
        out = []
        for sub in ("new", "cur"):
            try:
                out.append(os.stat(os.path.join(self.folder_dir, sub)).st_mtime_ns)
            except OSError:
                out.append(0)
        out.append(len(os.listdir(os.path.join(self.folder_dir, "new"))))
        out.append(len(os.listdir(os.path.join(self.folder_dir, "cur"))))
        return tuple(out)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            stamp = self._stamp()
            if stamp != self.stamp:
                self.stamp = stamp
                self.callback()

    def close(self) -> None:
        self.task.cancel()


@dataclass
class World:
    root: Path
    userdb: Path
    accounts: dict[str, Account]
    env: dict[str, str]

    def config(self, **overrides: str) -> config_module.Config:
        env = dict(self.env)
        env.update(overrides)
        return config_module.load("imapd", self.root / "etc", environ=env)

    def context(self, **overrides: str) -> ServerContext:
        return ServerContext(config=self.config(**overrides),
                             auth=open_backend(f"userdb:{self.userdb}"),
                             notifier=PollingNotifier(), hostname="test.example",
                             login_failure_delay=0.0)

    def maildir(self, login: str = "paul") -> str:
        return self.accounts[login].maildir

    def deliver(self, body: bytes, *, login: str = "paul", folder: str = "",
                flags: str | None = None) -> str:
        """Deliver as an MDA does (into new/ unless flags are given)."""
        target = os.path.join(self.maildir(login), folder) if folder else self.maildir(login)
        return deliver_in_order(target, body, flags=flags)


_UNPADDED_USEC = re.compile(r"^(\d+)\.M(\d+)P")


def deliver_in_order(folder: str, body: bytes, *, flags: str | None = None) -> str:
    """Deliver as an MDA does, but with the name's microseconds zero-padded
    (``M000123``), so that deliveries within one second get their UIDs in
    delivery order, which tests numbering messages by delivery rely on.  An
    MDA's ``M123`` is compared as bytes in Courier's file-name order
    (``M99999`` sorts after ``M100000``).  Tests mixing deliveries with
    APPEND must not assume any order between the two."""
    path = delivery.deliver(folder, body, flags=flags, durable=False)
    directory, name = os.path.split(path)
    padded = _UNPADDED_USEC.sub(lambda m: f"{m[1]}.M{int(m[2]):06d}P", name, count=1)
    if padded == name:
        return path
    os.rename(path, os.path.join(directory, padded))
    return os.path.join(directory, padded)


def make_world(tmp_path: Path) -> World:
    (tmp_path / "etc").mkdir()
    lines = []
    accounts = {}
    for login, password in PASSWORDS.items():
        home = tmp_path / "home" / login
        home.mkdir(parents=True)
        create_maildir(str(home / "Maildir"))
        fields = {"uid": str(os.getuid()), "gid": str(os.getgid()), "home": str(home),
                  "mail": str(home / "Maildir"), "systempw": make_password(password),
                  "hmac-md5pw": precompute("md5", password.encode()),
                  "hmac-sha1pw": precompute("sha1", password.encode()),
                  "hmac-sha256pw": precompute("sha256", password.encode())}
        lines.append(login + "\t" + "|".join(f"{k}={v}" for k, v in fields.items()))
    paul = tmp_path / "home" / "paul"
    lines.append(f"tux\tuid={os.getuid()}|gid={os.getgid()}|home={paul}|mail={paul}/Maildir"
                 f"|systempw={make_password('tuxpw')}|options=disableimap=1")
    userdb = tmp_path / "etc" / "userdb"
    userdb.write_text("\n".join(lines) + "\n")
    backend = open_backend(f"userdb:{userdb}")
    for login in PASSWORDS:
        found = backend.lookup(login)
        assert found is not None
        accounts[login] = found
    env = {"IMAP_CAPABILITY": CAPS, "IMAP_CAPABILITY_TLS": CAPS + " AUTH=PLAIN",
           "IMAP_KEYWORDS": "1", "IMAP_ACL": "1", "IMAP_IDLE_TIMEOUT": "60"}
    return World(tmp_path, userdb, accounts, env)


# ---------------------------------------------------------------- in memory


class MemoryWriter:
    """The StreamWriter side run_session writes to, collected in memory."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.changed = asyncio.Event()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data
        self.changed.set()

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        self.closed = True
        self.changed.set()

    async def wait_closed(self) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class MemoryClient:
    """Talks to run_session over in-memory streams, line by line."""

    def __init__(self, ctx: ServerContext, preauth: Account | None = None) -> None:
        self.reader = asyncio.StreamReader()
        self.writer = MemoryWriter()
        self.task = asyncio.get_running_loop().create_task(
            run_session(self.reader, self.writer, ctx, preauth=preauth,  # type: ignore[arg-type]
                        peer="memory"))
        self.pos = 0

    async def line(self, timeout: float = 10.0) -> bytes:
        """The next response line (a literal's bytes joined into it)."""
        while True:
            end = self.writer.data.find(b"\r\n", self.pos)
            if end >= 0:
                line = bytes(self.writer.data[self.pos:end + 2])
                self.pos = end + 2
                if line.endswith(b"}\r\n") and b"{" in line:
                    size = int(line[line.rindex(b"{") + 1:-3])
                    while len(self.writer.data) < self.pos + size:
                        await self._wait(timeout)
                    line += bytes(self.writer.data[self.pos:self.pos + size])
                    self.pos += size
                    line += await self.line(timeout)
                return line
            if self.writer.closed:
                raise EOFError("server closed")
            await self._wait(timeout)

    async def _wait(self, timeout: float) -> None:
        self.writer.changed.clear()
        await asyncio.wait_for(self.writer.changed.wait(), timeout)

    def send(self, data: bytes) -> None:
        self.reader.feed_data(data)

    async def command(self, text: bytes | str) -> list[bytes]:
        """Send one command line; every response line up to its tagged one."""
        raw = text.encode() if isinstance(text, str) else text
        tag = raw.split(b" ", 1)[0]
        self.send(raw + b"\r\n")
        return await self.until(tag)

    async def until(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = await self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    async def close(self) -> None:
        self.reader.feed_eof()
        await asyncio.wait_for(self.task, 10)
        # What the session left behind (cache file, scan) is saved in the
        # background; tests look at the files next.
        await asyncio.wait_for(finish_leaving(), 10)


async def selected_clients(ctx: ServerContext, account: Account,
                           count: int) -> list[MemoryClient]:
    """``count`` preauthenticated sessions of one context, each with INBOX
    selected, in order."""
    clients = [MemoryClient(ctx, preauth=account) for _ in range(count)]
    for client in clients:
        await client.line()
    for n, client in enumerate(clients):
        await client.command(f"s{n} SELECT INBOX")
    return clients


def texts(lines: list[bytes]) -> list[str]:
    return [line.decode("utf-8", "replace").rstrip("\r\n") for line in lines]


# ---------------------------------------------------------------- loopback


@contextlib.contextmanager
def loopback_server(ctx: ServerContext) -> Iterator[int]:
    """A real listener on 127.0.0.1 (ephemeral port) in a background thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        if isinstance(ctx.notifier, PollingNotifier):
            pass
        server = await asyncio.start_server(
            lambda r, w: run_session(r, w, ctx, peer="loopback"), "127.0.0.1", 0)
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield int(holder["port"])
    finally:
        async def stop() -> None:
            holder["server"].close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await finish_leaving()   # as the real server does when it stops

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
