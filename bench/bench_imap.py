"""IMAP benchmark: Postillion beside Dovecot 2.3, Courier-IMAP and pymap on
the same generated maildirs, printed as one table.

    python -m bench.bench_imap [--counts 10000 100000] [--runs 3]
                               [--servers postillion,dovecot,courier,pymap]
                               [--idle-clients 1000] [--only commands,append,login,idle]

Dovecot and pymap come from bench/install-references.sh (run it once as
root; the benchmark says so when they are missing and measures the rest).
Each row is one measurement; "÷ Dovecot" is Postillion's figure divided by
Dovecot's (for times below 1 is better, for rates above 1 is better).  What
is measured, and how, is in docs/benchmarks.md.  A benchmark, not a test:
it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import pwd
import resource
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.imap.homes import check_disk, fresh_home, master_maildir, remove_home
from bench.imap.measure import (
    COMMANDS,
    NotApplicable,
    TooSlow,
    append_rate,
    command_timings,
    idle_clients,
    login_rate,
)
from bench.imap.servers import (
    ALL_SERVERS,
    Listener,
    RunAs,
    Server,
    free_port,
)

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("commands", "append", "login", "idle")


@dataclass
class Row:
    label: str
    unit: str            # "s", "msg/s", "login/s", "ms", "KiB"
    higher_is_better: bool = False
    values: dict[str, float | str] = field(default_factory=dict)


class Table:
    def __init__(self, servers: Sequence[str]) -> None:
        self.servers = list(servers)
        self.rows: dict[str, Row] = {}

    def row(self, label: str, unit: str, higher_is_better: bool = False) -> Row:
        if label not in self.rows:
            self.rows[label] = Row(label, unit, higher_is_better)
        return self.rows[label]

    def set(self, label: str, unit: str, server: str, value: float | str,
            higher_is_better: bool = False) -> None:
        self.row(label, unit, higher_is_better).values[server] = value

    def render(self) -> str:
        head = ["measurement", "unit", *self.servers]
        refs = [s for s in ("Dovecot", "Courier") if s in self.servers]
        head += [f"÷ {ref}" for ref in refs]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.rows.values():
            cells = [row.label, row.unit + (" ↑" if row.higher_is_better else " ↓")]
            for server in self.servers:
                cells.append(format_value(row.values.get(server, "n/a")))
            ours = row.values.get("Postillion")
            for ref in refs:
                theirs = row.values.get(ref)
                if isinstance(ours, float) and isinstance(theirs, float) and theirs > 0:
                    cells.append(f"{ours / theirs:.2f}")
                else:
                    cells.append("-")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def format_value(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def bench_user(name: str | None) -> RunAs:
    if name is None:
        if os.getuid() != 0:
            entry = pwd.getpwuid(os.getuid())
            return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)
        name = "nobody"
    entry = pwd.getpwnam(name)
    return RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def short(count: int) -> str:
    return f"{count // 1000}k" if count % 1000 == 0 and count >= 1000 else str(count)


async def run(args: argparse.Namespace) -> Table:
    user = bench_user(args.user)
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        os.chown(work, user.uid, user.gid)
    wanted = [s.strip().lower() for s in args.servers.split(",") if s.strip()]
    servers: list[Server] = []
    skipped: dict[str, str] = {}
    for cls in ALL_SERVERS:
        if cls.name.lower() not in wanted:
            continue
        server = cls(user)
        reason = server.missing()
        if reason is None:
            servers.append(server)
        else:
            skipped[cls.name] = reason
            log(f"{cls.name}: {reason}")
    table = Table([cls.name for cls in ALL_SERVERS if cls.name.lower() in wanted])
    for name, reason in skipped.items():
        table.set("(not run)", "", name, reason)
    groups = set(args.only.split(",")) if args.only else set(GROUPS)
    words = [w.strip().upper() for w in args.commands.split(",") if w.strip()]
    chosen = [c for c in COMMANDS if not words or any(w in c.label.upper() for w in words)]
    if not chosen:
        raise SystemExit(f"bench_imap: no command row matches {args.commands!r}")

    log(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"servers run as {user.name}")
    for server in servers:
        log(f"{server.name}: {server.version()}")
    shortage = check_disk(work, [*args.counts, args.idle_messages])
    if shortage:
        raise SystemExit(f"bench_imap: {shortage}; use --workdir elsewhere or smaller --counts")

    for count in args.counts:
        log(f"corpus of {count} messages ...")
        started = time.monotonic()
        master = master_maildir(work, count, user)
        log(f"  ready in {time.monotonic() - started:.0f} s")
        tag = short(count)
        if "commands" in groups:
            results = await command_timings(servers, master, work, args.runs, args.timeout,
                                            args.command_limit, log, chosen)
            for server in servers:
                result = results[server.name]
                for label in ["SELECT", *(c.label for c in chosen)]:
                    for phase, values in (("cold", result.cold), ("warm", result.warm)):
                        key = f"{tag} {label} {phase}"
                        if label in values:
                            table.set(key, "s", server.name, values[label])
                        elif label in result.failures:
                            table.set(key, "s", server.name, result.failures[label])
                        else:
                            table.set(key, "s", server.name, "n/a")
                for label, reason in result.failures.items():
                    log(f"  {server.name}: {label}: {reason}")
        for server in servers:
            if "append" in groups:
                try:
                    rate = await append_rate(server, master, work, args.appends, args.timeout,
                                             args.command_limit)
                    table.set(f"{tag} APPEND", "msg/s", server.name, rate, True)
                    log(f"  {server.name}: APPEND {rate:.0f}/s")
                except TooSlow as exc:
                    table.set(f"{tag} APPEND", "msg/s", server.name, str(exc), True)
                    log(f"  {server.name}: APPEND {exc}")
                except NotApplicable as exc:
                    table.set(f"{tag} APPEND", "msg/s", server.name, "n/a")
                    log(f"  {server.name}: APPEND n/a ({exc})")

    if groups & {"login", "idle"}:
        idle_master = master_maildir(work, args.idle_messages, user)
        for server in servers:
            reason = server.tcp_missing()
            if reason:
                for label in ("LOGIN", "IDLE"):
                    table.set(label, "", server.name, "n/a")
                continue
            home = work / f"tcp-{server.name}"
            fresh_home(idle_master, home, server.user)
            tcp_work = work / f"tcp-{server.name}-run"
            shutil.rmtree(tcp_work, ignore_errors=True)
            tcp_work.mkdir()
            if os.getuid() == 0:
                os.chown(tcp_work, user.uid, user.gid)
            listener: Listener | None = None
            try:
                listener = server.start_listener(home, free_port(), tcp_work)
                if "login" in groups:
                    try:
                        rate = await login_rate(listener, args.logins, args.login_concurrency,
                                                args.timeout)
                        table.set("LOGIN over TCP", "login/s", server.name, rate, True)
                        log(f"  {server.name}: LOGIN {rate:.0f}/s")
                    except Exception as exc:
                        shown = "n/a" if isinstance(exc, NotApplicable) else "failed"
                        table.set("LOGIN over TCP", "login/s", server.name, shown, True)
                        log(f"  {server.name}: LOGIN {shown} ({type(exc).__name__}: {exc})")
                if "idle" in groups:
                    log(f"  {server.name}: {args.idle_clients} idle clients ...")
                    python = getattr(server, "python", None) or deliver_python(user)
                    try:
                        with inotify_instances_at_least(args.idle_clients + 256):
                            idle = await idle_clients(
                                listener, args.idle_clients, args.deliveries,
                                home / "Maildir", python, args.idle_timeout, log,
                                user.popen_kwargs())
                        n = args.idle_clients
                        table.set(f"IDLE push median ({n} clients)", "ms", server.name,
                                  idle.median_ms)
                        table.set(f"IDLE push p99 ({n} clients)", "ms", server.name,
                                  idle.p99_ms if not idle.missed else f"{idle.missed} missed")
                        table.set("RSS per idle connection", "KiB", server.name,
                                  idle.rss_per_connection)
                        table.set("PSS per idle connection", "KiB", server.name,
                                  idle.pss_per_connection)
                    except Exception as exc:  # one server's failure must not lose the table
                        shown = "n/a" if isinstance(exc, NotApplicable) else "failed"
                        for label in (f"IDLE push median ({args.idle_clients} clients)",
                                      f"IDLE push p99 ({args.idle_clients} clients)",
                                      "RSS per idle connection", "PSS per idle connection"):
                            table.set(label, "", server.name, shown)
                        log(f"  {server.name}: IDLE {shown} ({type(exc).__name__}: {exc})")
            finally:
                if listener is not None:
                    listener.stop()
                remove_home(home)
    return table


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")


@contextlib.contextmanager
def inotify_instances_at_least(wanted: int) -> Iterator[None]:
    """Raise the per-uid inotify instance limit for the IDLE measurement.

    Dovecot opens one inotify instance per imap process, all under one uid
    here (a virtual-mail host's case too); past the kernel's default of 128
    it logs "Inotify instance limit ... exceeded, disabling. Increase
    /proc/sys/fs/inotify/max_user_instances" and falls back to checking every
    mailbox_idle_check_interval (30 s).  Its documentation tells the
    administrator to raise the limit, so the benchmark does, and puts the old
    value back afterwards.
    """
    try:
        old = int(INOTIFY_INSTANCES.read_text())
    except (OSError, ValueError):
        yield
        return
    if old >= wanted:
        yield
        return
    try:
        INOTIFY_INSTANCES.write_text(f"{wanted}\n")
    except OSError:
        log(f"fs.inotify.max_user_instances is {old} (< {wanted}) and cannot be raised: "
            "Dovecot's IDLE falls back to 30 s polling past that many processes")
        yield
        return
    log(f"fs.inotify.max_user_instances raised from {old} to {wanted} for the IDLE clients")
    try:
        yield
    finally:
        INOTIFY_INSTANCES.write_text(f"{old}\n")


def deliver_python(user: RunAs) -> str:
    """An interpreter the server's user can run, for the delivering process."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        if os.access(candidate, os.X_OK) and (user.uid == os.getuid()
                                              or candidate.startswith("/usr/")):
            return candidate
    return "/usr/bin/python3"


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_imap",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000],
                        help="messages per corpus folder (default: 10000 100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per command (median)")
    parser.add_argument("--servers", default="postillion,dovecot,courier,pymap")
    parser.add_argument("--only", default="", help=f"comma list of {', '.join(GROUPS)}")
    parser.add_argument("--commands", default="",
                        help="only the command rows whose label contains one of these "
                             "comma-separated words (e.g. SORT,THREAD)")
    parser.add_argument("--appends", type=int, default=200, help="messages APPENDed")
    parser.add_argument("--logins", type=int, default=300, help="LOGINs over TCP")
    parser.add_argument("--login-concurrency", type=int, default=4)
    parser.add_argument("--idle-clients", type=int, default=1000)
    parser.add_argument("--idle-messages", type=int, default=1000,
                        help="messages in the folder the idle clients select")
    parser.add_argument("--deliveries", type=int, default=5)
    parser.add_argument("--idle-timeout", type=float, default=90.0,
                        help="seconds to wait for every EXISTS of one delivery")
    parser.add_argument("--command-limit", type=float, default=120.0,
                        help="a timed command slower than this is shown as '> N s' "
                             "and not repeated")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds any one response may take")
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "results" / "imap-work"),
                        help="corpora and copies (kept corpora are reused)")
    parser.add_argument("--user", default=None,
                        help="run the servers as this user (default: nobody when root)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    raise_fd_limit()
    install = ROOT / "bench" / "install-references.sh"
    if not (ROOT / "bench" / ".references" / "dovecot").exists() and "dovecot" in args.servers:
        log(f"Dovecot is not installed: run `bash {install.relative_to(ROOT)}` as root first")
    started = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        # Unwind through every finally: the servers started are stopped.
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    table = asyncio.run(run(args))
    print(table.render())
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
