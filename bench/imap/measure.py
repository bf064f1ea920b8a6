"""The measurements: command timings (cold and warm), APPEND rate, LOGIN
rate, IDLE push latency and memory per idle connection.

Every function returns a number or raises ``NotApplicable`` with the reason
(a command the server refuses, a listener it does not have).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.corpus import messages
from bench.imap.client import ImapClient, ImapClosed, ImapTimeout
from bench.imap.homes import fresh_home, remove_home, warm_page_cache
from bench.imap.servers import LOGIN_NAME, PASSWORD, Listener, Server, free_port

EXISTS = re.compile(rb"^\* \d+ EXISTS")


class NotApplicable(Exception):
    """The server cannot be measured on this row; the message says why."""


@dataclass(frozen=True)
class Command:
    label: str
    text: str


COMMANDS = [
    Command("FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
            "FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)"),
    Command("FETCH 1:* (ENVELOPE BODYSTRUCTURE)", "FETCH 1:* (ENVELOPE BODYSTRUCTURE)"),
    Command("UID FETCH 1:* BODY.PEEK[]", "UID FETCH 1:* BODY.PEEK[]"),
    Command("SEARCH TEXT okafor", "SEARCH TEXT okafor"),
    Command("SEARCH FROM user1", "SEARCH FROM user1"),
    Command("SORT (DATE)", "SORT (DATE) UTF-8 ALL"),
    Command("SORT (SUBJECT)", "SORT (SUBJECT) UTF-8 ALL"),
    Command("THREAD REFERENCES", "THREAD REFERENCES UTF-8 ALL"),
    Command("STORE 1:* +FLAGS (\\Flagged)", "STORE 1:* +FLAGS (\\Flagged)"),
    Command("STORE 1:* -FLAGS (\\Flagged)", "STORE 1:* -FLAGS (\\Flagged)"),
]


async def _close(client: ImapClient, handle: Listener | asyncio.subprocess.Process) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.command("LOGOUT"), 10)
    client.close()
    if isinstance(handle, Listener):
        handle.stop()
        return
    try:
        await asyncio.wait_for(handle.wait(), 10)
    except TimeoutError:
        handle.kill()
        await handle.wait()


class TooSlow(Exception):
    """A command did not finish within the command limit."""


async def _timed(client: ImapClient, text: str, limit: float | None = None) -> float:
    start = time.perf_counter()
    saved = client.timeout
    if limit is not None:
        client.timeout = min(saved, limit)
    try:
        reply = await client.command(text)
    except ImapTimeout as exc:
        raise TooSlow(f"> {client.timeout:.0f} s") from exc
    finally:
        client.timeout = saved
    elapsed = time.perf_counter() - start
    if limit is not None and elapsed > limit:
        raise TooSlow(f"> {limit:.0f} s")
    if reply.status == "BAD":
        raise NotApplicable(reply.text.decode(errors="replace")[:80])
    if reply.status != "OK":
        raise Failed(reply.text.decode(errors="replace")[:80])
    return elapsed


class SelectTooSlow(TooSlow):
    """SELECT alone took longer than the limit: no command can be timed."""


class Failed(NotApplicable):
    """The server answered NO (a bug or a limit), not "unknown command"."""


async def session_times(server: Server, home: Path, work: Path, command: Command,
                        timeout: float, *, prelude: str | None = None,
                        limit: float | None = None) -> tuple[float, float]:
    """One session: SELECT INBOX, then the command; both times."""
    client, handle = await server.open_session(home, work, timeout)
    try:
        try:
            select = await _timed(client, "SELECT INBOX", limit)
        except TooSlow as exc:
            raise SelectTooSlow(f"SELECT {exc}") from exc
        if prelude is not None:
            await _timed(client, prelude)
        return select, await _timed(client, command.text, limit)
    finally:
        await _close(client, handle)


@dataclass
class CommandResult:
    cold: dict[str, float]
    warm: dict[str, float]
    failures: dict[str, str]


async def command_timings(servers: Sequence[Server], master: Path, work: Path, runs: int,
                          timeout: float, limit: float,
                          log: Callable[[str], None],
                          commands: list[Command] | None = None) -> dict[str, CommandResult]:
    """Cold: a fresh copy (no uiddb, index or cache) and a new server process,
    SELECT, then the command.  Warm: a new process on that same copy (its
    indexes and caches now exist), SELECT, the command.  Medians over runs,
    by server name.

    The servers take turns run by run (each command's first run on every
    server, then its second...), so that a machine that slows down or
    speeds up during the benchmark (a shared virtual machine does, by tens
    of per cent over minutes) shifts every server's figures alike, not the
    ratios between them."""
    cold: dict[str, dict[str, list[float]]] = {s.name: {"SELECT": []} for s in servers}
    warm: dict[str, dict[str, list[float]]] = {s.name: {"SELECT": []} for s in servers}
    failures: dict[str, dict[str, str]] = {s.name: {} for s in servers}
    dead: set[str] = set()          # SELECT alone too slow: nothing more to time
    for command in COMMANDS if commands is None else commands:
        # -FLAGS has something to remove only after +FLAGS; before the warm
        # run, each STORE gets back the state its cold run started from.
        prelude = "STORE 1:* +FLAGS.SILENT (\\Flagged)" if "-FLAGS" in command.text else None
        reset = None
        if "+FLAGS" in command.text:
            reset = "STORE 1:* -FLAGS.SILENT (\\Flagged)"
        elif "-FLAGS" in command.text:
            reset = "STORE 1:* +FLAGS.SILENT (\\Flagged)"
        for run in range(runs):
            for server in servers:
                if server.name in dead or command.label in failures[server.name]:
                    continue
                timed = await _command_run(server, master, work, command, timeout, limit,
                                           prelude, reset, log)
                if isinstance(timed, SelectTooSlow):
                    for every in ["SELECT", *(c.label for c in COMMANDS)]:
                        failures[server.name].setdefault(every, str(timed))
                    dead.add(server.name)
                elif isinstance(timed, str):
                    failures[server.name][command.label] = timed
                else:
                    cold[server.name]["SELECT"].append(timed[0])
                    cold[server.name].setdefault(command.label, []).append(timed[1])
                    warm[server.name]["SELECT"].append(timed[2])
                    warm[server.name].setdefault(command.label, []).append(timed[3])
                    log(f"  {server.name}: {command.label} run {run + 1}: "
                        f"cold {timed[1]:.3f} s, warm {timed[3]:.3f} s")
    results: dict[str, CommandResult] = {}
    for server in servers:
        name = server.name
        if name in dead:  # as if nothing was timed (a SELECT slower than the limit)
            results[name] = CommandResult({}, {}, failures[name])
            continue
        results[name] = CommandResult(
            {k: statistics.median(v) for k, v in cold[name].items() if v},
            {k: statistics.median(v) for k, v in warm[name].items() if v}, failures[name])
    return results


async def _command_run(server: Server, master: Path, work: Path, command: Command,
                       timeout: float, limit: float, prelude: str | None, reset: str | None,
                       log: Callable[[str], None],
                       ) -> tuple[float, float, float, float] | SelectTooSlow | str:
    """One cold and one warm session of ``command`` on a fresh copy: the
    SELECT and command times of each, or why there are none (a reason
    shown in the table, or SelectTooSlow)."""
    home = work / f"home-{server.name}"
    warm_page_cache(master)
    fresh_home(master, home, server.user)
    try:
        cold_select, cold_took = await session_times(server, home, work, command, timeout,
                                                     prelude=prelude, limit=limit)
        if reset is not None:
            await session_times(server, home, work, Command("", "NOOP"), timeout,
                                prelude=reset)
        warm_select, warm_took = await session_times(server, home, work, command, timeout,
                                                     limit=limit)
        return cold_select, cold_took, warm_select, warm_took
    except Failed as exc:
        return f"failed: {exc}"
    except NotApplicable as exc:
        log(f"  {server.name}: {command.label}: n/a ({exc})")
        return "n/a"
    except SelectTooSlow as exc:
        return exc
    except TooSlow as exc:
        return str(exc)
    finally:
        remove_home(home)


async def append_rate(server: Server, master: Path, work: Path, count: int,
                      timeout: float, limit: float) -> float:
    """Messages per second APPENDed (synchronizing literals) to INBOX of a fresh corpus copy."""
    home = work / f"home-{server.name}-append"
    fresh_home(master, home, server.user)
    bodies = [m.data.replace(b"\n", b"\r\n") for m in messages(count, seed=77)]
    try:
        client, handle = await server.open_session(home, work, timeout)
        try:
            start = time.perf_counter()
            client.timeout = min(timeout, limit)
            for done, body in enumerate(bodies):
                try:
                    reply = await client.command("APPEND INBOX (\\Seen)", literal=body)
                except ImapTimeout as exc:
                    raise TooSlow(f"{done} in > {limit:.0f} s") from exc
                if reply.status != "OK":
                    raise Failed(reply.text.decode(errors="replace")[:80])
                if time.perf_counter() - start > limit:
                    raise TooSlow(f"{done + 1} in > {limit:.0f} s")
            return count / (time.perf_counter() - start)
        finally:
            await _close(client, handle)
    finally:
        remove_home(home)


async def _connect(port: int, timeout: float, *, limit: int = 1 << 16) -> ImapClient:
    """A client on 127.0.0.1:``port`` past the greeting; ``limit`` is the
    longest response line it reads (a SEARCH answer over 100,000 messages
    is one line of several hundred KB)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, limit=limit), timeout)
    client = ImapClient(reader, writer, timeout=timeout)
    await client.greeting()
    return client


async def login_rate(listener: Listener, total: int, concurrency: int, timeout: float) -> float:
    """Logins per second: ``concurrency`` clients each connecting, LOGIN, LOGOUT in turn."""
    if not listener.login:
        raise NotApplicable("no LOGIN")
    todo = list(range(total))

    async def worker() -> None:
        while todo:
            todo.pop()
            client = await _connect(listener.port, timeout)
            reply = await client.command(f"LOGIN {LOGIN_NAME} {PASSWORD}")
            if reply.status != "OK":
                raise RuntimeError(f"LOGIN refused: {reply.text!r}")
            await client.command("LOGOUT")
            client.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - start)


def memory_kib(listener: Listener) -> tuple[int, int]:
    """RSS and PSS (KiB) summed over the server's processes."""
    rss = pss = 0
    for pid in listener.pids():
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return rss, pss


@dataclass
class IdleResult:
    rss_per_connection: float
    pss_per_connection: float
    median_ms: float
    p99_ms: float
    missed: int


DELIVER = r"""
import os, sys, time
folder, name, data = sys.argv[1], sys.argv[2], sys.argv[3].encode()
tmp = os.path.join(folder, "tmp", name)
with open(tmp, "wb") as out:
    out.write(data)
started = time.monotonic()
os.link(tmp, os.path.join(folder, "new", name))
os.unlink(tmp)
print(started)
"""


def available_kib() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


async def idle_clients(listener: Listener, clients: int, deliveries: int, maildir: Path,
                       python: str, timeout: float, log: Callable[[str], None],
                       popen_kwargs: dict[str, Any]) -> IdleResult:
    """``clients`` sessions LOGIN, SELECT INBOX and IDLE; memory with them
    minus memory with none, per connection; then another process delivers
    ``deliveries`` messages into new/ and every client's EXISTS is timed
    from the moment just before the link()."""
    # One session first, so that processes started on first use (Dovecot's
    # auth, stats) are in the baseline rather than charged to the clients.
    warmup = await _connect(listener.port, timeout)
    if listener.login:
        await warmup.command(f"LOGIN {LOGIN_NAME} {PASSWORD}")
    await warmup.command("SELECT INBOX")
    await warmup.command("LOGOUT")
    warmup.close()
    await asyncio.sleep(1.0)
    base_rss, base_pss = memory_kib(listener)

    sessions: list[ImapClient] = []
    semaphore = asyncio.Semaphore(32)

    async def open_one() -> ImapClient:
        async with semaphore:
            client = await _connect(listener.port, timeout)
            if listener.login:
                reply = await client.command(f"LOGIN {LOGIN_NAME} {PASSWORD}")
                if reply.status != "OK":
                    raise RuntimeError(f"LOGIN refused: {reply.text!r}")
            reply = await client.command("SELECT INBOX")
            if reply.status != "OK":
                raise RuntimeError(f"SELECT refused: {reply.text!r}")
            assert client.writer is not None
            client.writer.write(b"idle IDLE\r\n")
            await client.writer.drain()
            line, _ = await client.read_response()
            if not line.startswith(b"+"):
                raise NotApplicable(f"IDLE refused: {line[:60]!r}")
            return client

    try:
        batch = 100
        for first in range(0, clients, batch):
            if available_kib() < 1_000_000:
                raise RuntimeError("less than 1 GB of memory left; stopping the IDLE clients")
            sessions += await asyncio.gather(
                *(open_one() for _ in range(min(batch, clients - first))))
        await asyncio.sleep(2.0)
        rss, pss = memory_kib(listener)
        log(f"    {len(sessions)} idle: RSS {rss - base_rss} KiB, PSS {pss - base_pss} KiB more")

        latencies: list[float] = []
        missed = 0
        for number in range(deliveries):
            arrivals: list[float] = []

            async def wait_exists(client: ImapClient, into: list[float]) -> None:
                with contextlib.suppress(ImapTimeout, ImapClosed):  # counted as missed
                    while True:
                        line, _ = await client.read_response()
                        if EXISTS.match(line):
                            into.append(time.monotonic())
                            return

            waiters = [asyncio.ensure_future(wait_exists(c, arrivals)) for c in sessions]
            await asyncio.sleep(0.2)
            data = f"From: a@example.com\nSubject: idle {number}\n\nhello\n"
            name = f"{int(time.time())}.bench{number}.{os.getpid()}"
            out = subprocess.run(
                [python, "-c", DELIVER, str(maildir), name, data],
                capture_output=True, text=True, timeout=30, check=True,
                **popen_kwargs,
            )
            linked = float(out.stdout.strip())
            _done, pending = await asyncio.wait(waiters, timeout=timeout)
            for task in pending:
                task.cancel()
            missed += len(sessions) - len(arrivals)
            latencies += [(arrival - linked) * 1000 for arrival in arrivals]
            log(f"    delivery {number + 1}: {len(arrivals)} EXISTS, "
                f"max {max(arrivals, default=linked) - linked:.3f} s")
            await asyncio.sleep(0.5)
        if not latencies:
            raise NotApplicable(f"no EXISTS within {timeout:.0f} s")
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        return IdleResult((rss - base_rss) / len(sessions), (pss - base_pss) / len(sessions),
                          statistics.median(latencies), p99, missed)
    finally:
        for client in sessions:
            client.close()


def deliver_python(server_python: str | None) -> str:
    return server_python or sys.executable


__all__ = ["COMMANDS", "NotApplicable", "append_rate", "command_timings", "free_port",
           "idle_clients", "login_rate"]
