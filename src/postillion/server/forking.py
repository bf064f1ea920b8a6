"""The root process model: accept in the parent, one child process per connection.

This is couriertcpd's model.  The parent (root) only accepts, counts
connections against ``MAXDAEMONS``/``MAXPERIP`` and reaps children; it never
reads a byte from a client and never runs an event loop, so forking is safe.
Each child closes the listening sockets, starts its own event loop, builds its
own :class:`ServerContext` (its own inotify descriptor) and runs
:class:`ConnectionHandler` on the accepted socket.  The login happens in the
child; ``become`` then drops the child to the account's uid and gid before any
mail is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import selectors
import signal
import socket
import ssl
import time
from collections.abc import Callable

from postillion.imap.session.context import ServerContext
from postillion.server.limits import ConnectionLimits
from postillion.server.listener import ConnectionHandler, Endpoint, SessionRunner

log = logging.getLogger(__name__)

# How long a stopping parent waits for its children after SIGTERM before SIGKILL.
_CHILD_GRACE_SECONDS = 10.0


async def serve_accepted(sock: socket.socket, handler: ConnectionHandler,
                         tls: ssl.SSLContext | None) -> None:
    """Run ``handler`` on an already accepted socket (in the child)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 ** 20)
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        transport, _ = await loop.connect_accepted_socket(
            lambda: protocol, sock, ssl=tls, ssl_handshake_timeout=60 if tls else None)
    except (TimeoutError, OSError, ssl.SSLError) as exc:
        log.info("tls handshake failed: %s", exc)
        sock.close()
        return
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    await handler(reader, writer, tls_active=tls is not None)
    # The connection process ends with os._exit: what the session left
    # behind (cache file, scan of a folder) is saved first.
    from postillion.imap.session import finish_leaving
    await finish_leaving()


def _address(sock: socket.socket, endpoint: Endpoint) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}{' tls' if endpoint.tls else ''}"


class ForkingServer:
    """Accept loop of the root parent."""

    def __init__(self, sockets: list[tuple[socket.socket, Endpoint]],
                 make_context: Callable[[], ServerContext], *,
                 limits: ConnectionLimits, login_timeout: float,
                 implicit_tls: ssl.SSLContext | None,
                 session: SessionRunner | None = None) -> None:
        self.sockets = sockets
        self.make_context = make_context
        self.limits = limits
        self.login_timeout = login_timeout
        self.implicit_tls = implicit_tls
        self.session = session
        self.children: dict[int, str] = {}
        self._stopping = False

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT; then stop the children and return."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        previous_wakeup = signal.set_wakeup_fd(wake_w)
        handlers = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)}
        selector = selectors.DefaultSelector()
        for sock, endpoint in self.sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, endpoint)
            log.info("listening on %s (one process per connection)",
                     _address(sock, endpoint))
        selector.register(wake_r, selectors.EVENT_READ, None)
        try:
            while not self._stopping:
                for key, _ in selector.select():
                    if key.data is None:
                        with contextlib.suppress(OSError):
                            os.read(wake_r, 512)
                        continue
                    self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
                self._reap()
        finally:
            selector.close()
            for sock, _ in self.sockets:
                sock.close()
            self._stop_children()
            signal.set_wakeup_fd(previous_wakeup)
            for sig, old in handlers.items():
                signal.signal(sig, old)
            os.close(wake_r)
            os.close(wake_w)

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._stopping = True

    def _accept(self, listening: socket.socket, endpoint: Endpoint) -> None:
        try:
            conn, address = listening.accept()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("accept failed: %s", exc)
            return
        ip = str(address[0])
        if ip.startswith("::ffff:"):
            ip = ip[7:]
        refusal = self.limits.admit(ip)
        if refusal is not None:
            log.info("refused ip=[%s] reason=%s", ip, refusal.decode().strip()[6:])
            with contextlib.suppress(OSError):
                conn.setblocking(True)
                conn.settimeout(5)
                conn.sendall(refusal)
            conn.close()
            return
        pid = os.fork()
        if pid == 0:
            self._child(conn, endpoint)   # never returns
        self.children[pid] = ip
        conn.close()

    def _child(self, conn: socket.socket, endpoint: Endpoint) -> None:
        status = 0
        try:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            for sock, _ in self.sockets:
                sock.close()
            conn.setblocking(False)
            handler = ConnectionHandler(self.make_context(), limits=None,
                                        login_timeout=self.login_timeout,
                                        session=self.session)
            asyncio.run(serve_accepted(conn, handler,
                                       self.implicit_tls if endpoint.tls else None))
        except BaseException:
            log.exception("connection process failed")
            status = 1
        finally:
            logging.shutdown()
            os._exit(status)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            ip = self.children.pop(pid, None)
            if ip is not None:
                self.limits.release(ip)

    def _stop_children(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + _CHILD_GRACE_SECONDS
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.children.pop(pid, None)
