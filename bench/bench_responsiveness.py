"""Does one client stall another?  NOOP latency on one server while a
second client on the same server runs a long command.

    python -m bench.bench_responsiveness [--count 100000]
        [--command "SEARCH TEXT okafor"] [--interval 0.05] [--servers postillion,dovecot]

Each server gets a fresh copy of the generated corpus (bench/imap/homes.py)
and is started as for the LOGIN and IDLE rows of bench_imap (Postillion:
one asyncio process for every connection; Dovecot: a process per
connection, so it is the reference for "not stalled").  Client A logs in,
SELECTs INBOX and sends the command; meanwhile client B, logged in with
INBOX selected, sends NOOP, waits for its tagged OK, sleeps ``interval``
and sends the next, until A's command completes.  Prints the command's
time and B's NOOP latencies (median, 99th percentile, maximum, count).
A benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.bench_imap import bench_user
from bench.imap.client import ImapClient
from bench.imap.homes import fresh_home, master_maildir, remove_home, warm_page_cache
from bench.imap.measure import _connect
from bench.imap.servers import ALL_SERVERS, LOGIN_NAME, PASSWORD, Server, free_port

ROOT = Path(__file__).resolve().parent.parent


async def _logged_in(port: int, timeout: float) -> ImapClient:
    client = await _connect(port, timeout, limit=1 << 24)
    for text in (f"LOGIN {LOGIN_NAME} {PASSWORD}", "SELECT INBOX"):
        reply = await client.command(text)
        if reply.status != "OK":
            raise RuntimeError(f"{text.split()[0]} refused: {reply.text!r}")
    return client


async def measure(server: Server, master: Path, work: Path, command: str,
                  interval: float, timeout: float) -> tuple[float, list[float]]:
    home = work / f"responsive-{server.name}"
    run_dir = work / f"responsive-{server.name}-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    if os.getuid() == 0:
        os.chown(run_dir, server.user.uid, server.user.gid)
    warm_page_cache(master)
    fresh_home(master, home, server.user)
    listener = server.start_listener(home, free_port(), run_dir)
    try:
        busy = await _logged_in(listener.port, timeout)
        probe = await _logged_in(listener.port, timeout)
        latencies: list[float] = []
        started = time.perf_counter()
        task = asyncio.create_task(busy.command(command))
        await asyncio.sleep(interval)
        while not task.done():
            sent = time.perf_counter()
            await probe.command("NOOP")
            latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(interval)
        reply = await task
        took = time.perf_counter() - started
        if reply.status != "OK":
            raise RuntimeError(f"{command!r} answered {reply.text!r}")
        return took, latencies
    finally:
        listener.stop()
        remove_home(home)
        shutil.rmtree(run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_responsiveness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--command", default="SEARCH TEXT okafor")
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--servers", default="postillion,dovecot")
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "results" / "imap-work"))
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args(argv)
    user = bench_user(None)
    work = Path(args.workdir)
    master = master_maildir(work, args.count, user)
    wanted = args.servers.lower().split(",")
    print(f"| server | {args.command} over {args.count} messages (s) | NOOPs | "
          "NOOP median (ms) | NOOP p99 (ms) | NOOP max (ms) |")
    print("|---|---|---|---|---|---|")
    for cls in ALL_SERVERS:
        if cls.name.lower() not in wanted:
            continue
        server = cls(user)
        reason = server.missing() or server.tcp_missing()
        if reason:
            print(f"| {cls.name} | not run: {reason} | | | | |")
            continue
        took, latencies = asyncio.run(measure(server, master, work, args.command,
                                              args.interval, args.timeout))
        ms = sorted(1000 * x for x in latencies)
        if not ms:
            print(f"| {cls.name} | {took:.2f} | 0 | | | |")
            continue
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(f"| {cls.name} | {took:.2f} | {len(ms)} | {statistics.median(ms):.1f} | "
              f"{p99:.1f} | {ms[-1]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
