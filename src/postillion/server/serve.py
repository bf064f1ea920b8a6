"""``postillion serve --config DIR``: the IMAP server for real use.

DIR has the layout of Courier's ``/etc/courier``: ``imapd`` then ``imapd-ssl``
(the settings), ``userdb`` (the accounts, unless ``POSTILLION_AUTH`` names
another backend), ``shared/index``, ``imapd.pem``, ``quotawarnmsg``.  Every
default that names a file under ``/etc/courier`` is taken from DIR instead,
so a copy of a Courier configuration directory works where it is.

Started as root, the server forks one process per connection and each
drops to its account's uid after login (:mod:`postillion.server.forking`);
started as an ordinary user, one asyncio process serves everyone.  SIGTERM
or SIGINT stops it cleanly: listeners close, sessions end, children are
stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from postillion.auth import AuthBackend, open_backend
from postillion.config import COURIER_CONFIG_DIR, Config, load
from postillion.imap.session.context import ServerContext
from postillion.server.forking import ForkingServer
from postillion.server.gctune import tune_for_server
from postillion.server.limits import ConnectionLimits, login_failure_delay, login_timeout
from postillion.server.listener import (
    ConnectionHandler,
    Endpoint,
    ImapListener,
    SessionRunner,
    bind,
    configured_endpoints,
)
from postillion.server.logsetup import configure_logging
from postillion.server.notify import FolderNotifier, notifier_for
from postillion.server.privileges import make_become
from postillion.server.tls import make_tls_context

log = logging.getLogger(__name__)


def _relocate_defaults(config: Config, directory: str) -> None:
    """Defaults naming ``/etc/courier/...`` point into ``directory`` instead."""
    prefix = COURIER_CONFIG_DIR + "/"
    for name, variable in config.table.items():
        if config.raw(name) is None and variable.default.startswith(prefix):
            config.values[name] = os.path.join(directory, variable.default[len(prefix):])


def open_auth(config: Config, directory: str) -> AuthBackend:
    spec = config.get_str("POSTILLION_AUTH").strip() or "userdb"
    kind, _, path = spec.partition(":")
    if kind == "userdb" and not path:
        path = os.path.join(directory, "userdb")
    elif path and not os.path.isabs(path):
        path = os.path.join(directory, path)
    return open_backend(f"{kind}:{path}", config.get_str("MAILDIRPATH") or "Maildir")


@dataclass
class Service:
    """Everything a configuration directory describes, ready to serve."""

    directory: str
    config: Config
    auth: AuthBackend
    starttls: ssl.SSLContext | None
    implicit_tls: ssl.SSLContext | None
    session: SessionRunner | None = None

    def make_context(self, *, forked: bool = False) -> ServerContext:
        """One per serving process: the notifier's kernel descriptor is not shared.

        Only a forked connection process (root model) may change its uid; a
        process serving many connections keeps its identity whoever it is."""
        notifier = notifier_for(self.config)
        return ServerContext(
            config=self.config, auth=self.auth, notifier=notifier,
            tls_context=self.starttls if self.config.get_bool("IMAPDSTARTTLS") else None,
            login_failure_delay=login_failure_delay(self.config),
            become=make_become(self.config, as_root=forked and os.geteuid() == 0))

    def endpoints(self) -> list[Endpoint]:
        return configured_endpoints(self.config, tls_available=self.implicit_tls is not None)

    def bind(self) -> list[tuple[socket.socket, Endpoint]]:
        bound: list[tuple[socket.socket, Endpoint]] = []
        try:
            for endpoint in self.endpoints():
                bound.append((bind(endpoint), endpoint))
        except OSError:
            for sock, _ in bound:
                sock.close()
            raise
        return bound

    async def serve_async(self, sockets: list[tuple[socket.socket, Endpoint]],
                          stop: asyncio.Event,
                          ready: Callable[[ImapListener], None] | None = None) -> None:
        """Serve in this process until ``stop`` is set."""
        ctx = self.make_context()
        handler = ConnectionHandler(ctx, limits=ConnectionLimits.from_config(self.config),
                                    login_timeout=login_timeout(self.config),
                                    session=self.session)
        listener = ImapListener(handler, self.implicit_tls)
        await listener.start(sockets)
        if ready is not None:
            ready(listener)
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            await listener.close()
            if isinstance(ctx.notifier, FolderNotifier):
                ctx.notifier.close()
            # What the sessions left behind (cache files, scans) is saved
            # before the server is gone.
            from postillion.imap.session import finish_leaving
            await finish_leaving()

    def run(self, sockets: list[tuple[socket.socket, Endpoint]]) -> None:
        """Serve until SIGTERM/SIGINT, forking per connection when root."""
        if os.geteuid() == 0:
            ForkingServer(sockets, lambda: self.make_context(forked=True),
                          limits=ConnectionLimits.from_config(self.config),
                          login_timeout=login_timeout(self.config),
                          implicit_tls=self.implicit_tls, session=self.session).run()
            return

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await self.serve_async(sockets, stop)

        asyncio.run(main())


def prepare(directory: str | os.PathLike[str] = COURIER_CONFIG_DIR,
            overrides: Mapping[str, str] | None = None) -> Service:
    """Read DIR's configuration (``overrides`` win over the files, for the demo
    and tests) and report unknown variables once."""
    directory = os.path.abspath(directory)
    config = load("imapd", directory)
    if overrides:
        config.values.update(overrides)
    _relocate_defaults(config, directory)
    for problem in config.problems:
        log.warning("config: %s", problem)
    config.report_unknown(log)
    auth = open_auth(config, directory)
    implicit = starttls = None
    if config.get_bool("IMAPDSSLSTART") or config.get_bool("IMAPDSTARTTLS"):
        implicit = make_tls_context(config)
        starttls = make_tls_context(config, starttls=True) if implicit else None
    return Service(directory, config, auth, starttls, implicit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="postillion serve",
        description="Serve IMAP with a Courier-style configuration directory.")
    parser.add_argument("--config", default=COURIER_CONFIG_DIR, metavar="DIR",
                        help="directory laid out as /etc/courier (default %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="debug log lines")
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    tune_for_server()
    if not Path(args.config).is_dir():
        log.error("config: %s is not a directory", args.config)
        return 1
    service = prepare(args.config)
    try:
        sockets = service.bind()
    except (OSError, ValueError) as exc:
        log.error("listen failed: %s", exc)
        return 1
    if not sockets:
        log.error("nothing to listen on (IMAPDSTART and IMAPDSSLSTART are off)")
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        service.run(sockets)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
