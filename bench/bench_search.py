"""SEARCH/SORT/THREAD benchmark: our engine on a corpus folder, cold and warm,
beside Courier's imapd answering the same commands.

    python bench/bench_search.py [--count 10000] [--max-size N] [--runs 3] [--no-courier]

The folder is filled by bench/corpus.py (realistic sizes, attachments,
threads, encoded words).  For every command:

* cold: a fresh SearchCache, so every header needed is read and parsed
  (the files themselves are probably in the kernel's page cache after the
  first run; dropping it needs root, so "cold" means our cache is cold);
* warm: the same command again with the cache the cold run filled, which
  is what a session sees from its second SORT or SEARCH FROM on;
* Courier: one preauthenticated imapd per command (SELECT, then the
  command); Courier keeps nothing between commands, so this is its only
  speed; its SELECT alone is timed too and subtracted.

The table shows median seconds.  A benchmark, not a test: it asserts
nothing and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Runnable from a checkout without installing the package.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.corpus import fill_maildir  # noqa: E402
from postillion.imap.protocol import Connection, SessionState  # noqa: E402
from postillion.imap.protocol.commands import Search, Sort, Thread  # noqa: E402
from postillion.imap.search import SearchCache, search, sort, thread  # noqa: E402
from postillion.imap.search.maildirview import MaildirMessage, folder_views  # noqa: E402
from postillion.maildir.layout import create_maildir  # noqa: E402
from postillion.maildir.uiddb import scan_and_assign  # noqa: E402

IMAPD = "/usr/bin/imapd"
COMMANDS = [
    "SEARCH FROM user1",
    "SEARCH TEXT invoice",
    "SEARCH UNSEEN LARGER 10000",
    "SORT (DATE) UTF-8 ALL",
    "SORT (SUBJECT) UTF-8 ALL",
    "THREAD REFERENCES UTF-8 ALL",
]


def parse(line: str) -> Search | Sort | Thread:
    conn = Connection(None, SessionState.SELECTED)
    conn.receive_data(b"t " + line.encode() + b"\r\n")
    event = conn.next_event()
    assert isinstance(event, Search | Sort | Thread), event
    return event


def run_ours(command: Search | Sort | Thread, views: Sequence[MaildirMessage],
             cache: SearchCache) -> int:
    if isinstance(command, Search):
        return len(search(command.keys, views, charset=command.charset, cache=cache))
    if isinstance(command, Sort):
        return len(sort(command.criteria, command.keys, views, charset=command.charset,
                        cache=cache))
    return len(thread(command.algorithm, command.keys, views, charset=command.charset,
                      cache=cache))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def courier_seconds(home: Path, line: str | None) -> float:
    script = b"a SELECT INBOX\r\n" + (f"b {line}\r\n".encode() if line else b"") + \
        b"z LOGOUT\r\n"
    start = time.perf_counter()
    subprocess.run([IMAPD, "Maildir"], input=script, cwd=home, capture_output=True,
                   env=dict(os.environ, AUTHENTICATED=os.environ.get("USER", "root")),
                   check=True, timeout=3600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--max-size", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-courier", action="store_true")
    args = parser.parse_args()
    with_courier = not args.no_courier and os.access(IMAPD, os.X_OK)

    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        home = Path(tmp)
        maildir = str(home / "Maildir")
        create_maildir(maildir)
        written = fill_maildir(maildir, args.count, seed=11, max_size=args.max_size)
        print(f"{args.count} messages, {written / 1e6:.0f} MB")
        if with_courier:
            courier_seconds(home, None)        # Courier assigns the UIDs first
        scan = scan_and_assign(maildir)
        start = time.perf_counter()
        views = folder_views(maildir, scan)
        print(f"views built in {time.perf_counter() - start:.3f} s")
        select = statistics.median(courier_seconds(home, None) for _ in range(args.runs)) \
            if with_courier else 0.0

        header = f"{'command':32} {'found':>6} {'cold s':>8} {'warm s':>8}"
        print(header + (f" {'courier s':>10}" if with_courier else ""))
        for line in COMMANDS:
            command = parse(line)
            colds, warms = [], []
            found = 0
            for _ in range(args.runs):
                cache = SearchCache()
                def once(command: Search | Sort | Thread = command,
                         cache: SearchCache = cache) -> int:
                    return run_ours(command, views, cache)
                colds.append(timed(once))
                warms.append(timed(once))
                found = run_ours(command, views, cache)
            row = (f"{line:32} {found:>6} {statistics.median(colds):>8.3f} "
                   f"{statistics.median(warms):>8.3f}")
            if with_courier:
                theirs = statistics.median(courier_seconds(home, line)
                                           for _ in range(args.runs)) - select
                row += f" {theirs:>10.3f}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
