"""A real server on 127.0.0.1 with ephemeral ports, run in a thread of the test process.

``write_config`` lays out a Courier-style configuration directory (``imapd``,
``userdb``); ``RunningServer`` serves it with :class:`postillion.server.serve.Service`
in a background event loop, as ``postillion serve`` does for an ordinary user,
and tells the tests its ports.  ``make_certificate`` makes a self-signed
certificate with the ``openssl`` command.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from postillion.auth.passwords import make_password
from postillion.maildir.layout import create_maildir
from postillion.server.listener import ImapListener, SessionRunner
from postillion.server.serve import prepare

PASSWORD = "secret-pw"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
                    "-days", "1"], check=True, capture_output=True)
    return cert, key


def write_config(directory: Path, users: Mapping[str, Path], variables: Mapping[str, str],
                 *, uid: int | None = None, gid: int | None = None) -> Path:
    """``directory/imapd`` with ``variables`` and ``directory/userdb`` with one
    account per user (password PASSWORD, maildir created)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"{name}={value!r}" if " " in value else f"{name}={value}"
             for name, value in variables.items()]
    (directory / "imapd").write_text("\n".join(lines) + "\n")
    records = []
    for login, home in users.items():
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "Maildir").exists():
            create_maildir(str(home / "Maildir"))
        fields = {
            "uid": str(os.getuid() if uid is None else uid),
            "gid": str(os.getgid() if gid is None else gid),
            "home": str(home),
            "mail": str(home / "Maildir"),
            "systempw": make_password(PASSWORD, "md5"),
        }
        records.append(login + "\t" + "|".join(f"{k}={v}" for k, v in fields.items()))
    (directory / "userdb").write_text("\n".join(records) + "\n")
    (directory / "userdb").chmod(0o600)
    return directory


# Listen on loopback only, on ports the kernel picks; no TLS unless a test asks.
LOOPBACK = {"ADDRESS": "127.0.0.1", "PORT": "127.0.0.1.0", "SSLPORT": "127.0.0.1.0",
            "IMAPDSSLSTART": "0", "IMAPDSTARTTLS": "0", "IMAP_ENHANCEDIDLE": "1",
            "POSTILLION_LOGIN_FAILURE_DELAY": "0",
            # CI runs as root, and the test accounts have the test's uid.
            "POSTILLION_ALLOW_ROOT_LOGIN": "1"}


class RunningServer:
    """``with RunningServer(config_dir) as server: imaplib.IMAP4("127.0.0.1", server.port)``."""

    def __init__(self, config_dir: Path, *, session: SessionRunner | None = None,
                 overrides: Mapping[str, str] | None = None) -> None:
        self.service = prepare(config_dir, overrides)
        self.service.session = session
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None
        self.addresses: list[tuple[str, int]] = []
        self.tls_port = 0
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced to the test in __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        sockets = self.service.bind()

        def ready(listener: ImapListener) -> None:
            for (_sock, endpoint), address in zip(sockets, listener.addresses(), strict=True):
                if endpoint.tls:
                    self.tls_port = address[1]
                else:
                    self.port = address[1]
            self._ready.set()

        await self.service.serve_async(sockets, self._stop, ready)

    def __enter__(self) -> RunningServer:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._loop.close()
