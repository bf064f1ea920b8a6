"""Listeners, limits and the pre-login timeout, with a stand-in session.

The stand-in greets, answers ``a LOGIN`` by calling ``ctx.become`` (as the real
session does after a successful login) and echoes other lines, so these tests
exercise only what the server does around a session.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from postillion.auth import Account
from postillion.imap.session.context import ServerContext
from postillion.server.limits import ConnectionLimits
from postillion.server.listener import Endpoint, parse_endpoints
from tests.server.harness import LOOPBACK, RunningServer, write_config


async def stand_in(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   ctx: ServerContext, *, peer: str = "", tls_active: bool = False,
                   preauth: Account | None = None) -> None:
    writer.write(f"* OK stand-in tls={int(tls_active)}\r\n".encode())
    await writer.drain()
    while line := await reader.readline():
        if line.startswith(b"a LOGIN"):
            home = "/nonexistent"
            await asyncio.to_thread(ctx.become, Account("u", 0, 0, home, home))
            writer.write(b"a OK LOGIN done\r\n")
        else:
            writer.write(b"* ECHO " + line)
        await writer.drain()


def permissive(account: Account) -> None:
    """A become that accepts anybody (the stand-in's fake account)."""


def test_endpoints_follow_courier_port_syntax() -> None:
    assert parse_endpoints("0", "143") == [Endpoint(None, 143, False)]
    assert parse_endpoints("10.0.0.1", "143,127.0.0.1.1143, 0.144", tls=True) == [
        Endpoint("10.0.0.1", 143, True), Endpoint("127.0.0.1", 1143, True),
        Endpoint(None, 144, True)]
    assert parse_endpoints("0", "::1.143") == [Endpoint("::1", 143, False)]
    with pytest.raises(ValueError, match="bad port"):
        parse_endpoints("0", "imap")
    with pytest.raises(ValueError, match="bad port"):
        parse_endpoints("0", "70000")


def test_limits_count_per_ip_and_in_total() -> None:
    limits = ConnectionLimits(max_connections=3, max_per_ip=2)
    assert limits.admit("1.1.1.1") is None
    assert limits.admit("1.1.1.1") is None
    assert limits.admit("1.1.1.1") is not None        # third from one address
    assert limits.admit("2.2.2.2") is None
    assert limits.admit("3.3.3.3") is not None        # fourth in total
    limits.release("1.1.1.1")
    assert limits.admit("3.3.3.3") is None
    assert ConnectionLimits(0, 0).admit("x") is None   # 0 = no limit


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock


def _line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def _server(tmp_path: Path, **variables: str) -> RunningServer:
    config = write_config(tmp_path / "etc", {}, {**LOOPBACK, **variables})
    server = RunningServer(config, session=stand_in)
    server.service.make_context = _with_permissive(server.service.make_context)  # type: ignore[method-assign]
    return server


def _with_permissive(make: object) -> object:
    def make_context(*, forked: bool = False) -> ServerContext:
        ctx: ServerContext = make(forked=forked)  # type: ignore[operator]
        ctx.become = permissive
        return ctx
    return make_context


def test_maxperip_refuses_the_extra_connection_with_bye(tmp_path: Path) -> None:
    with _server(tmp_path, MAXPERIP="2") as server:
        first, second = _connect(server.port), _connect(server.port)
        assert _line(first).startswith(b"* OK stand-in")
        assert _line(second).startswith(b"* OK stand-in")
        third = _connect(server.port)
        assert _line(third) == b"* BYE Too many connections from your IP address.\r\n"
        assert third.recv(10) == b""                     # and closed
        first.close()
        # A freed slot is usable again (the server notices the close first).
        for _ in range(100):
            again = _connect(server.port)
            line = _line(again)
            again.close()
            if line.startswith(b"* OK"):
                break
            time.sleep(0.05)
        else:
            pytest.fail("slot never freed")
        second.close()


def test_maxdaemons_refuses_beyond_the_total(tmp_path: Path) -> None:
    with _server(tmp_path, MAXDAEMONS="1", MAXPERIP="0") as server:
        first = _connect(server.port)
        assert _line(first).startswith(b"* OK")
        extra = _connect(server.port)
        assert _line(extra) == b"* BYE Too many connections, try again later.\r\n"
        first.close()
        extra.close()


def test_prelogin_timeout_says_bye_and_closes(tmp_path: Path) -> None:
    with _server(tmp_path, POSTILLION_LOGIN_TIMEOUT="1") as server:
        sock = _connect(server.port)
        assert _line(sock).startswith(b"* OK")
        # Activity does not extend it: the limit is on the time to log in.
        sock.sendall(b"x NOOP\r\n")
        assert _line(sock) == b"* ECHO x NOOP\r\n"
        assert _line(sock) == b"* BYE Disconnected for inactivity.\r\n"
        assert sock.recv(10) == b""


def test_login_stops_the_prelogin_timer(tmp_path: Path) -> None:
    with _server(tmp_path, POSTILLION_LOGIN_TIMEOUT="1") as server:
        sock = _connect(server.port)
        assert _line(sock).startswith(b"* OK")
        sock.sendall(b"a LOGIN u p\r\n")
        assert _line(sock) == b"a OK LOGIN done\r\n"
        time.sleep(1.5)   # past the pre-login limit: the session must still be there
        sock.sendall(b"b NOOP\r\n")
        assert _line(sock) == b"* ECHO b NOOP\r\n"
        sock.close()
