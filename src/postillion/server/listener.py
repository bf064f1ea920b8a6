"""Listening sockets from Courier's variables, and what happens to each connection.

``PORT`` (and ``SSLPORT``) are comma lists whose items are ``port`` or
``address.port`` (``127.0.0.1.143``, ``::1.143``); an item without an address
uses ``ADDRESS`` (``SSLADDRESS``), where ``0`` means every address.  The
plain ports are opened when ``IMAPDSTART`` is true, the implicit-TLS ports
when ``IMAPDSSLSTART`` is true and ``TLS_CERTFILE`` loads.

:class:`ConnectionHandler` does for one connection what couriertcpd and
imaplogin do around Courier's imapd: it counts the connection against
``MAXDAEMONS``/``MAXPERIP`` (when this process does the counting), arms the
pre-login timeout (``POSTILLION_LOGIN_TIMEOUT``; Courier's imaplogin allows
60 seconds), gives the session a context whose ``become`` disarms the timer
once a login succeeds, runs the session, and always closes the connection.

:class:`ImapListener` serves every connection in this process with asyncio;
the root model (:mod:`postillion.server.forking`) binds the same sockets and
runs the same handler in one child process per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from postillion.auth import Account
from postillion.config import Config
from postillion.imap.session.context import ServerContext
from postillion.server.limits import BYE_INACTIVITY, ConnectionLimits

log = logging.getLogger(__name__)

SessionRunner = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str | None        # None: every address
    port: int
    tls: bool               # implicit TLS (the SSLPORT listener)

    def __str__(self) -> str:
        host = self.host if self.host is not None else "*"
        return f"{host}:{self.port}{' (tls)' if self.tls else ''}"


def parse_endpoints(address: str, ports: str, *, tls: bool = False) -> list[Endpoint]:
    """Courier's ``ADDRESS`` + ``PORT`` (or SSL variants) as endpoints.

    Raises ``ValueError`` naming the bad item.
    """
    default_host = None if address.strip() in ("", "0") else address.strip()
    endpoints: list[Endpoint] = []
    for raw in ports.split(","):
        item = raw.strip()
        if not item:
            continue
        host, dot, port_text = item.rpartition(".")
        if not dot:
            host, port_text = "", item
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"bad port {item!r}")
        chosen = default_host if not host else (None if host == "0" else host)
        endpoints.append(Endpoint(chosen, int(port_text), tls))
    return endpoints


def configured_endpoints(config: Config, *, tls_available: bool) -> list[Endpoint]:
    endpoints: list[Endpoint] = []
    if config.get_bool("IMAPDSTART"):
        endpoints += parse_endpoints(config.get_str("ADDRESS"), config.get_str("PORT"))
    if config.get_bool("IMAPDSSLSTART"):
        if tls_available:
            endpoints += parse_endpoints(config.get_str("SSLADDRESS"),
                                         config.get_str("SSLPORT"), tls=True)
        else:
            log.warning("listener: IMAPDSSLSTART is set but TLS is off; SSLPORT not opened")
    return endpoints


def bind(endpoint: Endpoint) -> socket.socket:
    """A listening socket for ``endpoint``; every address means IPv6 and IPv4 together
    where the host allows it."""
    if endpoint.host is None:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("", endpoint.port), family=socket.AF_INET6,
                                        dualstack_ipv6=True, reuse_port=False)
        return socket.create_server(("", endpoint.port))
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    return socket.create_server((endpoint.host, endpoint.port), family=family)


def _peer(writer: asyncio.StreamWriter) -> tuple[str, int]:
    info = writer.get_extra_info("peername")
    if isinstance(info, tuple) and len(info) >= 2:
        host = str(info[0])
        if host.startswith("::ffff:"):
            host = host[7:]   # an IPv4 client on a dual-stack socket
        return host, int(info[1])
    return "", 0


def default_session_runner() -> SessionRunner:
    from postillion.imap.session import run_session

    return run_session


class ConnectionHandler:
    """Runs one connection from accept to close; see the module docstring."""

    def __init__(self, ctx: ServerContext, *, limits: ConnectionLimits | None,
                 login_timeout: float, session: SessionRunner | None = None) -> None:
        self.ctx = ctx
        self.limits = limits
        self.login_timeout = login_timeout
        self.session = session
        self.open_tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       *, tls_active: bool) -> None:
        ip, port = _peer(writer)
        peer = f"[{ip}]:{port}"
        if self.limits is not None:
            refusal = self.limits.admit(ip)
            if refusal is not None:
                log.info("refused ip=[%s] reason=%s", ip, refusal.decode().strip()[6:])
                with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
                    writer.write(refusal)
                    await asyncio.wait_for(writer.drain(), 5)
                await _close(writer)
                return
        task = asyncio.current_task()
        if task is not None:
            self.open_tasks.add(task)
        log.info("connect ip=[%s] port=%d tls=%d", ip, port, int(tls_active))
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            log.info("timeout ip=[%s] stage=login", ip)
            with contextlib.suppress(Exception):
                writer.write(BYE_INACTIVITY)
            if task is not None:
                task.cancel()

        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.login_timeout, expire) if self.login_timeout > 0 else None
        base_become = self.ctx.become

        def become(account: Account) -> None:
            base_become(account)   # may refuse: the timer keeps running then
            if timer is not None:
                # The session may call this from a worker thread (setuid blocks).
                loop.call_soon_threadsafe(timer.cancel)

        ctx = dataclasses.replace(self.ctx, become=become)
        runner = self.session or default_session_runner()
        try:
            await runner(reader, writer, ctx, peer=peer, tls_active=tls_active)
        except asyncio.CancelledError:
            if not timed_out:
                raise
        except Exception:
            # The session promises not to raise; if it does, this connection ends
            # and every other one goes on.
            log.exception("session failed ip=[%s]", ip)
        finally:
            if timer is not None:
                timer.cancel()
            if task is not None:
                self.open_tasks.discard(task)
            if self.limits is not None:
                self.limits.release(ip)
            await _close(writer)
            log.info("disconnect ip=[%s]", ip)


async def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 5)


class ImapListener:
    """Every configured endpoint served by this process's event loop."""

    def __init__(self, handler: ConnectionHandler, implicit_tls: ssl.SSLContext | None) -> None:
        self.handler = handler
        self.implicit_tls = implicit_tls
        self.servers: list[asyncio.Server] = []

    async def start(self, sockets: list[tuple[socket.socket, Endpoint]]) -> None:
        for sock, endpoint in sockets:
            tls = endpoint.tls

            async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                 tls: bool = tls) -> None:
                await self.handler(reader, writer, tls_active=tls)

            server = await asyncio.start_server(
                on_connect, sock=sock,
                ssl=self.implicit_tls if tls else None,
                ssl_handshake_timeout=60 if tls else None)
            self.servers.append(server)
            host, port = sock.getsockname()[:2]
            log.info("listening on [%s]:%d%s", host, port, " tls" if tls else "")

    def addresses(self) -> list[tuple[str, int]]:
        """Where we listen (tests bind port 0 and read the port here)."""
        result: list[tuple[str, int]] = []
        for server in self.servers:
            for sock in server.sockets:
                name = sock.getsockname()
                result.append((str(name[0]), int(name[1])))
        return result

    async def close(self) -> None:
        for server in self.servers:
            server.close()
        for task in list(self.handler.open_tasks):
            task.cancel()
        for server in self.servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)
