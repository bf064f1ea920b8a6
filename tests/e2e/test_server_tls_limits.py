"""The real server with the real session: TLS, LOGINDISABLED, limits, login delay,
IDLE pushed by deliveries from another process.  Driven with imaplib."""

from __future__ import annotations

import imaplib
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.server.harness import (
    LOOPBACK,
    PASSWORD,
    RunningServer,
    make_certificate,
    write_config,
)


def _client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.fixture
def tls_config(tmp_path: Path) -> Path:
    cert, key = make_certificate(tmp_path)
    return write_config(tmp_path / "etc", {"paul": tmp_path / "paul"}, {
        **LOOPBACK, "IMAPDSSLSTART": "1", "IMAPDSTARTTLS": "1", "IMAP_TLS_REQUIRED": "1",
        "TLS_CERTFILE": str(cert), "TLS_PRIVATE_KEYFILE": str(key),
        "IMAP_CAPABILITY": "IMAP4rev1 UIDPLUS IDLE",
        "IMAP_CAPABILITY_TLS": "IMAP4rev1 UIDPLUS IDLE AUTH=PLAIN",
    })


def test_starttls_then_login_and_logindisabled_before(tls_config: Path) -> None:
    with RunningServer(tls_config) as server:
        client = imaplib.IMAP4("127.0.0.1", server.port, timeout=60)
        assert "STARTTLS" in client.capabilities
        assert "LOGINDISABLED" in client.capabilities      # IMAP_TLS_REQUIRED=1
        with pytest.raises(imaplib.IMAP4.error):
            client.login("paul", PASSWORD)
        client.starttls(_client_tls())
        _typ, caps = client.capability()
        assert b"LOGINDISABLED" not in caps[0] and b"AUTH=PLAIN" in caps[0]
        assert client.login("paul", PASSWORD)[0] == "OK"
        assert client.select("INBOX")[0] == "OK"
        client.logout()


def test_implicit_tls_port(tls_config: Path) -> None:
    with RunningServer(tls_config) as server:
        assert server.tls_port
        client = imaplib.IMAP4_SSL("127.0.0.1", server.tls_port, ssl_context=_client_tls(),
                                   timeout=60)
        assert "LOGINDISABLED" not in client.capabilities
        assert "STARTTLS" not in client.capabilities
        assert client.login("paul", PASSWORD)[0] == "OK"
        client.logout()


def test_failed_login_waits_the_configured_delay(tmp_path: Path) -> None:
    config = write_config(tmp_path / "etc", {"paul": tmp_path / "paul"},
                          {**LOOPBACK, "POSTILLION_LOGIN_FAILURE_DELAY": "0.5"})
    with RunningServer(config) as server:
        client = imaplib.IMAP4("127.0.0.1", server.port, timeout=60)
        started = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error):
            client.login("paul", "wrong")
        assert time.monotonic() - started >= 0.5          # a lower bound only
        assert client.login("paul", PASSWORD)[0] == "OK"
        client.logout()


def test_maxperip_with_the_real_session(tmp_path: Path) -> None:
    config = write_config(tmp_path / "etc", {"paul": tmp_path / "paul"},
                          {**LOOPBACK, "MAXPERIP": "1"})
    with RunningServer(config) as server:
        first = imaplib.IMAP4("127.0.0.1", server.port, timeout=60)
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as extra:
            assert extra.recv(200) == b"* BYE Too many connections from your IP address.\r\n"
        assert first.noop()[0] == "OK"
        first.logout()


def test_prelogin_timeout_with_the_real_session(tmp_path: Path) -> None:
    config = write_config(tmp_path / "etc", {"paul": tmp_path / "paul"},
                          {**LOOPBACK, "POSTILLION_LOGIN_TIMEOUT": "1"})
    with RunningServer(config) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        assert data.startswith(b"* OK ")
        assert data.endswith(b"* BYE Disconnected for inactivity.\r\n")


DELIVER = ("import sys; from postillion.maildir.delivery import deliver; "
           "deliver(sys.argv[1], b'From: x@example.com\\nSubject: pushed\\n\\nhi\\n')")


def test_idle_hears_a_delivery_by_another_process(tmp_path: Path) -> None:
    home = tmp_path / "paul"
    config = write_config(tmp_path / "etc", {"paul": home},
                          {**LOOPBACK, "IMAP_CAPABILITY": "IMAP4rev1 IDLE"})
    with RunningServer(config) as server:
        client = imaplib.IMAP4("127.0.0.1", server.port, timeout=60)
        client.login("paul", PASSWORD)
        assert client.select("INBOX") == ("OK", [b"0"])
        tag = client._new_tag()
        client.send(tag + b" IDLE\r\n")
        assert client.readline().startswith(b"+")
        subprocess.run([sys.executable, "-c", DELIVER, str(home / "Maildir")], check=True)
        # Pushed while idling: no command from us until it arrives.
        lines = [client.readline()]
        while b"EXISTS" not in lines[-1]:
            lines.append(client.readline())
        assert lines[-1] == b"* 1 EXISTS\r\n"
        client.send(b"DONE\r\n")
        while not (line := client.readline()).startswith(tag):
            pass
        assert b"OK" in line
        client.logout()
