"""LOGIN + LIST "#shared." "*" on a shared index of 10,000 accounts of which
1% share a folder, Postillion beside Courier's imapd on the same files.

    python bench/bench_shared.py [--accounts 10000] [--runs 5] [--no-courier]

Setup (in a temporary directory): 10,000 maildirs (INBOX, Drafts, Proj
each), a tab-separated shared index listing all of them, and 100 owners
whose ``Proj`` grants ``user=u00000 lr`` (u00000 is "the user with
grants"; u09999 has none).

* Postillion: the real session (``run_session``) on a loopback TCP
  listener in this process, as ``postillion serve`` runs it as an ordinary
  user; a fresh connection per run: LOGIN (userdb, SHA-512 crypt), then
  ``LIST "" "#shared.*"``, then LOGOUT.  Also timed: ``LIST "" "*"`` (one's
  own folders) on the same kind of connection.  The reverse ACL index is
  built by the first query (not timed) and then stays.
* Courier: ``AUTHENTICATED=user IMAP_SHAREDINDEXFILE=... /usr/bin/imapd
  Maildir`` preauthenticated on pipes, one process per run, timed from
  spawn to the LIST's tagged OK: exactly what imapd costs after a login
  (couriertcpd + imaplogin + authdaemond add their own, not measured here).

Both must list the same folders (checked).  Median milliseconds.  A
benchmark, not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from postillion import config as config_module  # noqa: E402
from postillion.auth import open_backend  # noqa: E402
from postillion.auth.passwords import make_password  # noqa: E402
from postillion.imap.session import ServerContext, run_session  # noqa: E402
from postillion.maildir import acl  # noqa: E402
from postillion.maildir.folders import Maildir  # noqa: E402
from postillion.maildir.layout import create_maildir  # noqa: E402
from postillion.server.notify import make_notifier  # noqa: E402

IMAPD = "/usr/bin/imapd"
WITH_GRANTS = "u00000"
NO_GRANTS_FMT = "u{:05d}"


def build(base: Path, accounts: int) -> tuple[Path, Path]:
    etc = base / "etc"
    (etc / "shared").mkdir(parents=True)
    uid, gid = os.getuid() or 1, os.getgid() or 1
    index_lines, userdb_lines = [], []
    sharers = set(range(1, accounts, 100))  # 1% of the accounts
    for n in range(accounts):
        login = NO_GRANTS_FMT.format(n)
        home = base / "home" / login
        maildir = home / "Maildir"
        home.mkdir(parents=True)
        create_maildir(str(maildir))
        box = Maildir(str(maildir))
        for name in ("INBOX.Drafts", "INBOX.Proj"):
            box.create(name)
        if n in sharers:
            acl.set_rights(str(maildir), "INBOX.Proj", "user=" + WITH_GRANTS, "lr")
        index_lines.append(f"{login}\t{uid}\t{gid}\t{home}\n")
        fields = f"uid={os.getuid()}|gid={os.getgid()}|home={home}|mail={maildir}"
        if n in (0, accounts - 1):
            fields += "|systempw=" + make_password(login + "pw")
        userdb_lines.append(f"{login}\t{fields}\n")
    (etc / "shared" / "index").write_text("".join(index_lines))
    (etc / "userdb").write_text("".join(userdb_lines))
    return etc, etc / "shared" / "index"


class Server:
    def __init__(self, etc: Path, index: Path) -> None:
        env = {"IMAP_SHAREDINDEXFILE": str(index), "IMAP_ACL": "1",
               "IMAP_CAPABILITY": "IMAP4rev1 NAMESPACE"}
        self.ctx = ServerContext(config=config_module.load("imapd", etc, environ=env),
                                 auth=open_backend(f"userdb:{etc / 'userdb'}"),
                                 notifier=make_notifier(), login_failure_delay=0.0)
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        async def start() -> None:
            server = await asyncio.start_server(
                lambda r, w: run_session(r, w, self.ctx, peer="bench"), "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)


def _exchange(sock: socket.socket, buf: bytearray, line: bytes, tag: bytes) -> list[bytes]:
    sock.sendall(line)
    while True:
        end = buf.find(b"\r\n" + tag + b" ")
        if end >= 0 and buf.find(b"\r\n", end + 2) >= 0:
            out = bytes(buf[:buf.find(b"\r\n", end + 2) + 2])
            del buf[:len(out)]
            return out.split(b"\r\n")
        if buf.startswith(tag + b" ") and buf.find(b"\r\n") >= 0:
            out = bytes(buf[:buf.find(b"\r\n") + 2])
            del buf[:len(out)]
            return out.split(b"\r\n")
        data = sock.recv(65536)
        if not data:
            raise EOFError
        buf += data


def postillion_run(port: int, login: str, pattern: str) -> tuple[float, list[str]]:
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    buf = bytearray()
    while b"\r\n" not in buf:
        buf += sock.recv(4096)
    del buf[:buf.index(b"\r\n") + 2]
    _exchange(sock, buf, f"a LOGIN {login} {login}pw\r\n".encode(), b"a")
    lines = _exchange(sock, buf, f'b LIST "" "{pattern}"\r\n'.encode(), b"b")
    elapsed = time.perf_counter() - start
    _exchange(sock, buf, b"c LOGOUT\r\n", b"c")
    sock.close()
    return elapsed, sorted(x.decode() for x in lines if x.startswith(b"* LIST"))


def courier_run(index: Path, base: Path, login: str) -> tuple[float, list[str]]:
    env = {"PATH": "/usr/bin:/bin", "AUTHENTICATED": login, "IMAP_ACL": "1",
           "IMAP_SHAREDINDEXFILE": str(index), "HOME": str(base / "home" / login)}
    start = time.perf_counter()
    proc = subprocess.run([IMAPD, "Maildir"], input=b'b LIST "" "#shared.*"\r\nc LOGOUT\r\n',
                          capture_output=True, env=env, cwd=env["HOME"], check=False)
    elapsed = time.perf_counter() - start
    lines = proc.stdout.split(b"\r\n")
    return elapsed, sorted(x.decode() for x in lines if x.startswith(b"* LIST"))


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-courier", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        etc, index = build(base, args.accounts)
        print(f"built {args.accounts} accounts in {time.perf_counter() - t0:.1f} s")
        # ACL files written less than 2 s before a scan are re-read at every
        # query (coarse timestamps); a real host's are older than that.
        time.sleep(2.5)
        server = Server(etc, index)
        users = {"with grants": WITH_GRANTS,
                 "no grants": NO_GRANTS_FMT.format(args.accounts - 1)}
        postillion_run(server.port, WITH_GRANTS, "#shared.*")  # builds the reverse index
        rows = []
        for label, login in users.items():
            shared = [postillion_run(server.port, login, "#shared.*") for _ in range(args.runs)]
            own = [postillion_run(server.port, login, "*") for _ in range(args.runs)]
            ours = shared[-1][1]
            row = [label, len(ours), median_ms([t for t, _ in shared]),
                   median_ms([t for t, _ in own])]
            if not args.no_courier and os.path.exists(IMAPD):
                courier = [courier_run(index, base, login) for _ in range(args.runs)]
                theirs = courier[-1][1]
                row.append(median_ms([t for t, _ in courier]))
                row.append("same" if ours == theirs else f"DIFFERENT: {theirs[:3]}")
            rows.append(row)
        print(f"{'user':12} {'folders':>7} {'ours LOGIN+LIST #shared':>24} "
              f"{'ours LOGIN+LIST own':>20} {'Courier imapd':>14}  listing")
        for row in rows:
            extra = f"{row[4]:14.1f}  {row[5]}" if len(row) > 4 else ""
            print(f"{row[0]:12} {row[1]:7d} {row[2]:24.1f} {row[3]:20.1f} {extra}")


if __name__ == "__main__":
    main()
