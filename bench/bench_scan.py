"""Scanning a large folder and assigning UIDs: Postillion vs Courier's imapd.

Run: ``python -m bench.bench_scan [--messages 100000] [--runs 3]``

Courier has no tool that only scans a folder; the like operation is imapd's
SELECT, which moves ``new/`` to ``cur/``, assigns UIDs and writes
``courierimapuiddb``.  Each side gets its own copy of the same generated
maildir, in two shapes:

* **fresh**: every message in ``new/`` and no uid database (first login
  after delivery of the whole folder): renames plus UID assignment;
* **cur**: every message already in ``cur/``, no uid database: assignment
  only;
* **rescan**: the same folder again with nothing changed (every later login).

Courier is timed as a whole process (``imapd`` preauthenticated on stdin,
``SELECT INBOX`` then ``LOGOUT``), which includes its start-up of a few
milliseconds; ours is ``uiddb.scan_and_assign`` in-process, as the server
calls it.  Medians of ``--runs`` runs, each on a fresh copy where the shape
needs one.  This is a benchmark, not a test: it asserts nothing about time,
only that both sides assigned the same number of UIDs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable

from bench.corpus import fill_maildir
from postillion.maildir import uiddb
from postillion.maildir.layout import create_maildir

COURIER_IMAPD = "/usr/bin/imapd"


def build_master(root: str, count: int) -> str:
    """One maildir with ``count`` small messages, all in ``new/``."""
    master = os.path.join(root, "master", "Maildir")
    os.makedirs(os.path.dirname(master))
    create_maildir(master)
    fill_maildir(master, count, seed=7, new_share=1.0, max_size=600)
    return master


def copy_of(master: str, root: str, label: str, *, into_cur: bool) -> str:
    home = tempfile.mkdtemp(prefix=f"{label}-", dir=root)
    target = os.path.join(home, "Maildir")
    shutil.copytree(master, target, copy_function=os.link)
    if into_cur:
        new, cur = os.path.join(target, "new"), os.path.join(target, "cur")
        for name in os.listdir(new):
            os.rename(os.path.join(new, name), os.path.join(cur, name + ":2,"))
    return target


def courier_select(maildir: str) -> float:
    """Wall time of one imapd process doing SELECT INBOX and LOGOUT."""
    env = {
        "PATH": "/usr/bin:/bin",
        "AUTHENTICATED": "bench",
        "IMAP_USELOCKS": "1",
        "IMAP_KEYWORDS": "1",
        "IMAP_ACL": "1",
        "HOME": os.path.dirname(maildir),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [COURIER_IMAPD, "Maildir"],
        input=b"a1 SELECT INBOX\r\na2 LOGOUT\r\n",
        cwd=os.path.dirname(maildir), env=env, capture_output=True, check=False,
    )
    elapsed = time.perf_counter() - start
    if b"a1 OK" not in done.stdout:
        raise RuntimeError(f"imapd SELECT failed: {done.stdout[-300:]!r} {done.stderr[-300:]!r}")
    return elapsed


def ours_scan(maildir: str) -> float:
    start = time.perf_counter()
    uiddb.scan_and_assign(maildir)
    return time.perf_counter() - start


def uid_count(maildir: str) -> int:
    db = uiddb.read_uiddb(maildir)
    return 0 if db is None else len(db.entries)


def measure(label: str, master: str, root: str, runs: int, *, into_cur: bool,
            action: Callable[[str], float]) -> tuple[float, float, int]:
    """(median first scan, median rescan, UIDs assigned)."""
    first, again = [], []
    assigned = 0
    for _ in range(runs):
        maildir = copy_of(master, root, label, into_cur=into_cur)
        first.append(action(maildir))
        again.append(action(maildir))
        assigned = uid_count(maildir)
        shutil.rmtree(os.path.dirname(maildir))
    return statistics.median(first), statistics.median(again), assigned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", help="where to build the maildirs (default: a temp dir)")
    args = parser.parse_args(argv)

    root = tempfile.mkdtemp(prefix="postillion-bench-scan-", dir=args.dir)
    try:
        print(f"building a {args.messages}-message maildir ...", flush=True)
        master = build_master(root, args.messages)
        have_courier = os.access(COURIER_IMAPD, os.X_OK)
        rows = []
        for shape, into_cur in (("fresh (all in new/)", False), ("cur (no uid db)", True)):
            ours = measure("ours", master, root, args.runs, into_cur=into_cur, action=ours_scan)
            if have_courier:
                theirs = measure("courier", master, root, args.runs, into_cur=into_cur,
                                 action=courier_select)
            else:
                theirs = (float("nan"), float("nan"), 0)
            rows.append((f"{shape}: first scan", ours[0], theirs[0], ours[2], theirs[2]))
            rows.append((f"{shape}: rescan, no change", ours[1], theirs[1], ours[2], theirs[2]))

        print(f"\nScan + UID assignment, {args.messages} messages, median of {args.runs} runs")
        print(f"{'operation':<36} {'Postillion':>12} {'Courier':>12} {'ratio':>7}  UIDs")
        for name, ours_s, courier_s, ours_n, courier_n in rows:
            ratio = ours_s / courier_s if courier_s == courier_s and courier_s else float("nan")
            print(f"{name:<36} {ours_s * 1000:>10.1f}ms {courier_s * 1000:>10.1f}ms "
                  f"{ratio:>7.2f}  {ours_n}/{courier_n}")
        if not have_courier:
            print("(Courier's imapd is not installed: Debian package courier-imap)")
        print("ratio = Postillion time / Courier time; below 1.0 means Postillion is faster")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
