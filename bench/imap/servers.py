"""The servers under test: how to start each one preauthenticated on stdio
(command timings) and as a TCP listener on 127.0.0.1 (LOGIN, IDLE, memory).

Every server runs as one ordinary user (``RunAs``: ourselves, or ``nobody``
when the benchmark runs as root) on a home of its own (``homes.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.imap.client import ImapClient

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
DOVECOT_PREFIX = BENCH / ".references" / "dovecot"
DOVECOT_LIBEXEC = Path("/usr/lib/dovecot")
PYMAP_VENV = BENCH / ".venvs" / "pymap"
COURIER_IMAPD = "/usr/bin/imapd"
COURIER_CONFIG = "/etc/courier/imapd"
COURIERTCPD = "/usr/sbin/couriertcpd"
PASSWORD = "bench-pw"
LOGIN_NAME = "bench"


@dataclass(frozen=True)
class RunAs:
    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        if os.getuid() == 0 and self.uid != 0:
            return {"user": self.uid, "group": self.gid, "extra_groups": []}
        return {}


def courier_settings() -> dict[str, str]:
    """The packaged imapd settings, as `set -a; . /etc/courier/imapd` gives them."""
    if not os.path.exists(COURIER_CONFIG):
        return {}
    out = subprocess.run(
        ["sh", "-c", f"set -a; . {COURIER_CONFIG}; env -0"],
        capture_output=True, env={"PATH": "/usr/bin:/bin"}, timeout=10, check=True,
    ).stdout
    env: dict[str, str] = {}
    for item in out.split(b"\0"):
        if b"=" in item:
            name, _, value = item.partition(b"=")
            env[name.decode()] = value.decode()
    for key in ("PATH", "PWD", "SHLVL", "_", "OLDPWD"):
        env.pop(key, None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sha512_crypt(password: str) -> str:
    """``$6$`` with the implicit 5,000 rounds: Dovecot's SHA512-CRYPT and crypt(3)'s default."""
    from passlib.hash import sha512_crypt as scheme  # type: ignore[import-untyped]

    hashed: str = scheme.using(rounds=5000).hash(password)
    return hashed


def base_env(home: Path, user: RunAs) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(home), "USER": user.name,
            "LOGNAME": user.name, "LANG": "C.UTF-8", "TZ": "UTC"}


@dataclass
class Listener:
    """A running TCP server; ``stop()`` ends it and its children."""

    process: subprocess.Popen[bytes]
    port: int
    login: bool                      # clients send LOGIN (else the greeting is PREAUTH)
    log_path: Path
    extra_pids: list[int] = field(default_factory=list)

    def pids(self) -> list[int]:
        """The server's processes: the root and all its descendants."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
        found: list[int] = []
        todo = [self.process.pid]
        while todo and len(found) < 100_000:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def stop(self) -> None:
        pids = self.pids()
        for pid in [self.process.pid, *pids[1:]]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in pids[1:]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path,
                  timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: "
                               + log.read_text(errors="replace")[-2000:])
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


class Server:
    name = ""
    stdio = True            # command timings preauthenticated on stdio (else TCP + LOGIN)
    login_over_tcp = True   # the listener authenticates with LOGIN

    def __init__(self, user: RunAs) -> None:
        self.user = user

    def missing(self) -> str | None:
        """Why this server cannot run here, or None."""
        return None

    def version(self) -> str:
        return ""

    def stdio_command(self, home: Path) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start_listener(self, home: Path, port: int, work: Path) -> Listener:
        raise NotImplementedError

    def tcp_missing(self) -> str | None:
        return None

    async def open_session(self, home: Path, work: Path, timeout: float
                           ) -> tuple[ImapClient, Listener | asyncio.subprocess.Process]:
        """A session on ``home``'s INBOX, authenticated, nothing selected."""
        argv, env = self.stdio_command(home)
        with open(work / f"{self.name.lower()}-stdio.log", "ab") as stderr:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=stderr, cwd=home, env=env, limit=1 << 22,
                **self.user.popen_kwargs(),
            )
        assert process.stdout is not None and process.stdin is not None
        client = ImapClient(process.stdout, process.stdin, timeout=timeout)
        greeting = await client.greeting()
        if not greeting.startswith(b"* PREAUTH"):
            process.kill()
            raise RuntimeError(f"{self.name}: unexpected greeting {greeting!r}")
        return client, process


def python_for(user: RunAs) -> tuple[str, dict[str, str]]:
    """An interpreter ``user`` can run with our package importable.

    The development venv's interpreter may live under a home that other
    users cannot enter; then the system's python3 with the venv's
    site-packages on PYTHONPATH (pure-Python dependencies) is used.
    """
    venv_site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"), None)
    paths = [str(ROOT / "src")] + ([str(venv_site)] if venv_site else [])
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    candidates = [sys.executable, "/usr/bin/python3"]
    for candidate in candidates:
        try:
            probe = subprocess.run(
                [candidate, "-c", "import postillion.cli"], capture_output=True, timeout=60,
                env={**env, "PATH": "/usr/bin:/bin"},
                **user.popen_kwargs(),
            )
        except PermissionError:
            continue
        if probe.returncode == 0:
            return candidate, env
    raise RuntimeError(f"no Python interpreter that {user.name} can run imports postillion")


def compile_sources(python: str) -> None:
    """Byte-compile the source tree with the servers' interpreter, as an
    installed package is (pip compiles on install).  The servers run as
    another user (nobody) who cannot write ``__pycache__`` in a checkout
    owned by root: without this every server process, and every worker
    pool's fork server, compiled each module it imported again, inside the
    timed commands of the cold rows (tens of milliseconds each)."""
    subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "src")],
                   stdout=subprocess.DEVNULL, timeout=300, check=False,
                   env={"PATH": "/usr/bin:/bin"})


class Postillion(Server):
    name = "Postillion"

    def __init__(self, user: RunAs) -> None:
        super().__init__(user)
        self.python, self.python_env = python_for(user)
        # POSTILLION_* settings of the benchmark's own environment (e.g.
        # POSTILLION_WORKER_PROCESSES=0) reach the servers it starts.
        self.python_env.update((k, v) for k, v in os.environ.items()
                               if k.startswith("POSTILLION_"))
        self.settings = courier_settings()
        compile_sources(self.python)

    def version(self) -> str:
        out = subprocess.run([self.python, "-c", "import sys, postillion; print("
                              "getattr(postillion, '__version__', '?'), sys.version.split()[0])"],
                             capture_output=True, text=True, timeout=30,
                             env={**self.python_env, "PATH": "/usr/bin:/bin"})
        version, _, python = out.stdout.strip().partition(" ")
        return f"{version} (git {git_head()}, Python {python} {self.python})"

    def stdio_command(self, home: Path) -> tuple[list[str], dict[str, str]]:
        env = {**self.settings, **base_env(home, self.user), **self.python_env,
               "AUTHENTICATED": self.user.name}
        return [self.python, "-m", "postillion", "imapd", "Maildir"], env

    def start_listener(self, home: Path, port: int, work: Path) -> Listener:
        etc = work / "postillion-etc"
        etc.mkdir(parents=True, exist_ok=True)
        lines = [f"{key}={shell_quote(value)}" for key, value in self.settings.items()
                 if key not in ("PIDFILE", "IMAP_SHAREDINDEXFILE")]
        lines += ["ADDRESS=127.0.0.1", f"PORT={port}", "IMAPDSTART=YES",
                  "MAXDAEMONS=4000", "MAXPERIP=4000", "POSTILLION_LOGIN_FAILURE_DELAY=0",
                  "IMAP_CAPABILITY='IMAP4rev1 UIDPLUS CHILDREN NAMESPACE "
                  "THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE AUTH=PLAIN'"]
        (etc / "imapd").write_text("\n".join(lines) + "\n")
        (etc / "userdb").write_text(
            f"{LOGIN_NAME}\tuid={self.user.uid}|gid={self.user.gid}|home={home}|"
            f"mail={home}/Maildir|systempw={sha512_crypt(PASSWORD)}\n")
        os.chmod(etc / "userdb", 0o600)
        chown_tree(etc, self.user)
        log = work / "postillion.log"
        env = {**base_env(home, self.user), **self.python_env}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [self.python, "-m", "postillion", "serve", "--config", str(etc)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=work,
                **self.user.popen_kwargs(),
            )
        wait_for_port(port, process, log)
        return Listener(process, port, True, log)


class Dovecot(Server):
    name = "Dovecot"

    def missing(self) -> str | None:
        if not (DOVECOT_PREFIX / "usr" / "sbin" / "dovecot").exists():
            return "not installed: run bench/install-references.sh as root"
        if not (DOVECOT_LIBEXEC / "imap").exists():
            return "/usr/lib/dovecot missing: run bench/install-references.sh as root"
        return None

    def version(self) -> str:
        out = subprocess.run([str(DOVECOT_PREFIX / "usr/sbin/dovecot"), "--version"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    def _doveconf(self) -> str:
        # The packaged binaries exec /usr/bin/doveconf to read a configuration
        # file; doveconf -e does the same from the unpacked prefix.
        return str(DOVECOT_PREFIX / "usr/bin/doveconf")

    def _conf(self, home: Path, work: Path, *, port: int | None = None) -> Path:
        work.mkdir(parents=True, exist_ok=True)
        index = home / "dovecot-index"
        lines = [
            f"mail_location = maildir:~/Maildir:INDEX={index}",
            f"base_dir = {work}/dovecot-run",
            f"state_dir = {work}/dovecot-state",
            f"log_path = {work}/dovecot.log",
            "protocols = imap",
            "ssl = no",
            "mail_fsync = optimized",
            f"mail_plugin_dir = {DOVECOT_LIBEXEC}/modules",
            f"login_plugin_dir = {DOVECOT_LIBEXEC}/modules/login",
            # Every process runs as the benchmark user (no dovecot/dovenull users).
            f"default_internal_user = {self.user.name}",
            f"default_internal_group = {group_name(self.user.gid)}",
            f"default_login_user = {self.user.name}",
        ]
        if port is not None:
            passwd = work / "dovecot-passwd"
            passwd.write_text(f"{LOGIN_NAME}:{{SHA512-CRYPT}}{sha512_crypt(PASSWORD)}:"
                              f"{self.user.uid}:{self.user.gid}::{home}::\n")
            os.chmod(passwd, 0o600)
            lines += [
                "listen = 127.0.0.1",
                "disable_plaintext_auth = no",
                "auth_mechanisms = plain login",
                "first_valid_uid = 1",
                "default_process_limit = 4000",
                "default_client_limit = 8000",
                "passdb {", "  driver = passwd-file",
                f"  args = scheme=SHA512-CRYPT {passwd}", "}",
                "userdb {", "  driver = passwd-file", f"  args = {passwd}", "}",
                "protocol imap {", "  mail_max_userip_connections = 4000", "}",
                "service imap-login {", "  chroot =",
                "  inet_listener imap {", "    address = 127.0.0.1", f"    port = {port}", "  }",
                "  inet_listener imaps {", "    port = 0", "  }", "}",
                "service anvil {", "  chroot =", "}",
                "service imap {", "  process_limit = 4000", "}",
            ]
            for directory in ("dovecot-run", "dovecot-state"):
                (work / directory).mkdir(parents=True, exist_ok=True)
        conf = work / ("dovecot-tcp.conf" if port is not None else "dovecot.conf")
        conf.write_text("\n".join(lines) + "\n")
        chown_tree(work, self.user)
        return conf

    def stdio_command(self, home: Path) -> tuple[list[str], dict[str, str]]:
        conf = self._conf(home, home.parent / (home.name + "-dovecot"))
        return ([self._doveconf(), "-c", str(conf), "-e", str(DOVECOT_LIBEXEC / "imap"),
                 "-c", str(conf)], base_env(home, self.user))

    def start_listener(self, home: Path, port: int, work: Path) -> Listener:
        conf = self._conf(home, work, port=port)
        log = work / "dovecot.out"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [self._doveconf(), "-c", str(conf), "-e",
                 str(DOVECOT_PREFIX / "usr/sbin/dovecot"), "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                env=base_env(home, self.user), cwd=work,
                **self.user.popen_kwargs(),
            )
        wait_for_port(port, process, work / "dovecot.log")
        return Listener(process, port, True, work / "dovecot.log")


class Courier(Server):
    name = "Courier"
    login_over_tcp = False

    def __init__(self, user: RunAs) -> None:
        super().__init__(user)
        self.settings = courier_settings()

    def missing(self) -> str | None:
        return None if os.path.exists(COURIER_IMAPD) else f"{COURIER_IMAPD} not installed"

    def version(self) -> str:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "courier-imap"],
                             capture_output=True, text=True, timeout=30)
        return f"courier-imap {out.stdout.strip()}"

    def tcp_missing(self) -> str | None:
        return None if os.path.exists(COURIERTCPD) else "couriertcpd not installed"

    def stdio_command(self, home: Path) -> tuple[list[str], dict[str, str]]:
        env = {**self.settings, **base_env(home, self.user), "AUTHENTICATED": self.user.name}
        return [COURIER_IMAPD, "Maildir"], env

    def start_listener(self, home: Path, port: int, work: Path) -> Listener:
        # couriertcpd runs a preauthenticated imapd per connection: Courier's
        # own login stage needs the system's authdaemond, so no LOGIN here.
        env = {**self.settings, **base_env(home, self.user), "AUTHENTICATED": self.user.name,
               "IMAP_ENHANCEDIDLE": "1"}
        log = work / "courier.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [COURIERTCPD, "-address=127.0.0.1", "-maxprocs=4000", "-maxperip=4000",
                 "-nodnslookup", "-noidentlookup", "-stderr=socket", str(port),
                 COURIER_IMAPD, "Maildir"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=home,
                **self.user.popen_kwargs(),
            )
        wait_for_port(port, process, log)
        return Listener(process, port, False, log)


class Pymap(Server):
    name = "pymap"
    stdio = False

    def missing(self) -> str | None:
        if not (PYMAP_VENV / "bin" / "pymap").exists():
            return "not installed: run bench/install-references.sh"
        return None

    def version(self) -> str:
        out = subprocess.run([str(PYMAP_VENV / "bin/pymap"), "--version"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip()

    def start_listener(self, home: Path, port: int, work: Path) -> Listener:
        # pymap's maildir backend: base directory with pymap-etc-passwd
        # (name:x:uid:gid:comment:maildir) and pymap-etc-shadow (name:hash).
        # Its password hashes are PBKDF2 (pysasl); 5,000 rounds of SHA-512
        # come closest to SHA512-CRYPT's 5,000 rounds.
        hashed = subprocess.run(
            [str(PYMAP_VENV / "bin/python"), "-c",
             "import sys; from pysasl.hashing import BuiltinHash; "
             "print(BuiltinHash(hash_name='sha512', rounds=5000).hash(sys.argv[1]))", PASSWORD],
            capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        (home / "pymap-etc-passwd").write_text(f"{LOGIN_NAME}:x::::Maildir:\r\n")
        (home / "pymap-etc-shadow").write_text(f"{LOGIN_NAME}:{hashed}\r\n")
        log = work / "pymap.log"
        # Runs as the invoking user: the venv's interpreter may live where
        # the benchmark user cannot read, and pymap's own --set-uid leaves
        # it unable to import the rest of the standard library.
        argv = [str(PYMAP_VENV / "bin/pymap"), "--no-tls", "--host", "127.0.0.1",
                "--port", str(port), "maildir", str(home)]
        with open(log, "wb") as out:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                       env={**base_env(home, self.user), "FQDN": "localhost"},
                                       cwd=work)
        wait_for_port(port, process, log)
        return Listener(process, port, True, log)

    async def open_session(self, home: Path, work: Path, timeout: float
                           ) -> tuple[ImapClient, Listener | asyncio.subprocess.Process]:
        listener = self.start_listener(home, free_port(), work)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", listener.port, limit=1 << 22), timeout)
            client = ImapClient(reader, writer, timeout=timeout)
            await client.greeting()
            reply = await client.command(f"LOGIN {LOGIN_NAME} {PASSWORD}")
            if reply.status != "OK":
                raise RuntimeError(f"pymap LOGIN: {reply.text!r}")
        except BaseException:
            listener.stop()
            raise
        return client, listener


def group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def chown_tree(path: Path, user: RunAs, *, files: bool = True) -> None:
    if os.getuid() != 0:
        return
    os.chown(path, user.uid, user.gid)
    for directory, dirs, names in os.walk(path):
        for name in dirs + (names if files else []):
            os.lchown(os.path.join(directory, name), user.uid, user.gid)


def git_head() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or "?"


ALL_SERVERS: Sequence[type[Server]] = (Postillion, Dovecot, Courier, Pymap)
