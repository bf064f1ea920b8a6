"""Privileges: the root model forks per connection and drops to the account's uid;
an ordinary-user server refuses accounts it cannot serve."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from postillion.auth import Account
from postillion.config import IMAPD_VARIABLES, Config
from postillion.maildir.layout import create_maildir
from postillion.server.privileges import make_become, sanity_problem
from tests.server.harness import LOOPBACK, PASSWORD, write_config

SERVE = """
import sys
from postillion.server.logsetup import configure_logging
from postillion.server.serve import prepare
from tests.server import standin
configure_logging()
service = prepare(sys.argv[1])
service.session = standin.run_session
sockets = service.bind()
print(sockets[0][0].getsockname()[1], flush=True)
service.run(sockets)
"""


def _line(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data.decode()


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    # Under a world-traversable directory (pytest's tmp_path is 0700 root).
    base = Path(tempfile.mkdtemp(prefix="postillion-priv-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="the root model needs root (CI runs as root)")
def test_root_server_forks_and_serves_each_account_as_its_uid(nobody_home: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    home = nobody_home / "nobody"
    config = write_config(nobody_home / "etc",
                          {"nobody": home, "rootuser": nobody_home / "root"},
                          {**LOOPBACK, "POSTILLION_ALLOW_ROOT_LOGIN": "0"},
                          uid=nobody.pw_uid, gid=nobody.pw_gid)
    # rootuser: uid 0 in the userdb, which the server must refuse.
    userdb = (config / "userdb").read_text().splitlines()
    userdb[1] = userdb[1].replace(f"uid={nobody.pw_uid}", "uid=0").replace(
        f"gid={nobody.pw_gid}", "gid=0")
    (config / "userdb").write_text("\n".join(userdb) + "\n")
    for path in (home, home / "Maildir", *(home / "Maildir" / d for d in ("tmp", "new", "cur"))):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)

    server = subprocess.Popen([sys.executable, "-c", SERVE, str(config)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[2])
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            greeting = _line(sock)
            assert greeting.startswith("* OK stand-in")
            child_pid = int(greeting.split("pid=")[1].split()[0])
            assert child_pid != server.pid                 # one process per connection
            sock.sendall(b"w WHOAMI\r\n")
            assert "uid=0" in _line(sock)                  # login stage runs as root
            sock.sendall(f"a LOGIN nobody {PASSWORD}\r\n".encode())
            assert _line(sock) == "a OK LOGIN done\r\n"
            sock.sendall(b"w WHOAMI\r\n")
            assert _line(sock) == (f"* WHOAMI uid={nobody.pw_uid} euid={nobody.pw_uid} "
                                   f"gid={nobody.pw_gid} groups=\r\n")
            sock.sendall(b"t TOUCH\r\n")
            assert _line(sock) == f"* TOUCH owner={nobody.pw_uid}:{nobody.pw_gid}\r\n"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            _line(sock)
            sock.sendall(f"a LOGIN rootuser {PASSWORD}\r\n".encode())
            assert _line(sock).startswith("a NO refused")
        # A maildir not owned by the account: Courier's sanity check refuses it.
        os.chown(home / "Maildir", 0, 0)
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            _line(sock)
            sock.sendall(f"a LOGIN nobody {PASSWORD}\r\n".encode())
            assert _line(sock) == ("a NO refused: Account's mailbox directory is not owned "
                                   "by the correct uid or gid\r\n")
    finally:
        server.send_signal(signal.SIGTERM)
        _out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "refused: user=nobody" in err
    assert PASSWORD not in err                              # never logged


def _config(**values: str) -> Config:
    return Config(IMAPD_VARIABLES, values)


def test_ordinary_user_serves_its_own_uid_and_refuses_others(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    create_maildir(str(maildir))
    become = make_become(_config(POSTILLION_ALLOW_ROOT_LOGIN="1"), as_root=False)
    mine = Account("me", os.getuid(), os.getgid(), str(tmp_path), str(maildir))
    become(mine)                                          # no error, nothing changes
    assert os.getuid() == mine.uid
    stranger = Account("x", os.getuid() + 4242, os.getgid(), "/nonexistent",
                       "/nonexistent/Maildir")
    with pytest.raises(PermissionError):
        become(stranger)


def test_uid_zero_accounts_are_refused_unless_allowed(tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    create_maildir(str(maildir))
    root_account = Account("r", 0, 0, str(tmp_path), str(maildir))
    with pytest.raises(PermissionError, match="uid 0"):
        make_become(_config(), as_root=False)(root_account)


def test_sanity_check_compares_owner_and_group(tmp_path: Path) -> None:
    st = tmp_path.stat()
    assert sanity_problem(str(tmp_path), st.st_uid, st.st_gid) is None
    assert sanity_problem(str(tmp_path), st.st_uid + 1, st.st_gid) is not None
    assert sanity_problem(str(tmp_path / "missing"), 0, 0) is not None
