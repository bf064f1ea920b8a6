"""Delivery benchmark: our deliverquota against Courier's, on this machine, in one run.

    python bench/bench_delivery.py [--deliveries N] [--runs R] [--sizes 2048,65536]

For every message size, with and without a quota, it delivers N messages
into a fresh maildir with

* our ``deliverquota`` as separate processes (``python -m postillion
  deliverquota``), the message on a pipe, as an MTA runs it;
* Courier's ``deliverquota.courier`` the same way, when installed;
* our library in-process (stage, quota check, link, size line), which is
  what the rate would be without the interpreter's start-up.

Each is repeated R times; the table shows the median deliveries per second
and the ratio ours / Courier.  This is a benchmark, not a test: it asserts
nothing and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from postillion.maildir import quota
from postillion.maildir.delivery import commit, stage
from postillion.maildir.layout import create_maildir

COURIER = "/usr/bin/deliverquota.courier"
# Large enough that no delivery is refused; the maildirsize still grows and
# is recounted every ~196 deliveries, as on a real quota'd mailbox.
QUOTA = "100000000000S,100000000C"


def make_message(size: int) -> bytes:
    header = b"From: bench@example.com\nTo: user@example.com\nSubject: benchmark\n\n"
    line = b"The quick brown fox jumps over the lazy dog, again and again.\n"
    body = (line * (size // len(line) + 1))[: max(0, size - len(header))]
    return header + body


def fresh_maildir(root: Path, with_quota: bool) -> str:
    path = Path(tempfile.mkdtemp(dir=root)) / "Maildir"
    create_maildir(str(path))
    if with_quota:
        quota.set_quota(str(path), QUOTA)
    return str(path)


def run_processes(argv: list[str], maildir: str, message: bytes, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        done = subprocess.run([*argv, maildir], input=message, capture_output=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr!r}")
    return count / (time.perf_counter() - start)


def run_in_process(maildir: str, message: bytes, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        staged = stage(maildir, message)
        with quota.reserve(maildir, staged.size) as room:
            commit(staged)
            room.commit()
    return count / (time.perf_counter() - start)


def median_rate(measure: Callable[[str], float], root: Path, with_quota: bool,
                runs: int) -> float:
    rates = []
    for _ in range(runs):
        maildir = fresh_maildir(root, with_quota)
        rates.append(measure(maildir))
        shutil.rmtree(Path(maildir).parent)
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=100, help="per run (default 100)")
    parser.add_argument("--runs", type=int, default=3, help="runs per cell (default 3)")
    parser.add_argument("--sizes", default="2048,65536", help="message sizes in bytes")
    parser.add_argument("--dir", default=None, help="where to make the maildirs")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    ours = [sys.executable, "-m", "postillion", "deliverquota"]
    courier = [COURIER] if os.access(COURIER, os.X_OK) else None
    env_path = str(Path(__file__).resolve().parent.parent / "src")
    os.environ["PYTHONPATH"] = env_path + os.pathsep + os.environ.get("PYTHONPATH", "")

    print(f"deliveries per second, median of {args.runs} runs of {args.deliveries} "
          f"deliveries each, message on a pipe, one process per delivery")
    if courier is None:
        print(f"({COURIER} not installed: Courier columns left empty)")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Then every process compiles our modules again (~3 ms here); an
        # installed copy has its bytecode compiled once, at install time.
        print("(PYTHONDONTWRITEBYTECODE is set: ours compiles its modules in every process;"
              " unset it to measure as installed, with PYTHONPYCACHEPREFIX=/tmp/... to keep"
              " the bytecode out of the tree)")
    header = (f"{'size':>8} {'quota':>6} | {'ours':>9} {'courier':>9} {'ours/courier':>13}"
              f" | {'in-process':>11}")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        for size in sizes:
            message = make_message(size)
            for with_quota in (False, True):
                count = args.deliveries

                def ours_run(m: str, msg: bytes = message, n: int = count) -> float:
                    return run_processes(ours, m, msg, n)

                def courier_run(m: str, msg: bytes = message, n: int = count) -> float:
                    assert courier is not None
                    return run_processes(courier, m, msg, n)

                def library_run(m: str, msg: bytes = message, n: int = count) -> float:
                    return run_in_process(m, msg, n)

                ours_rate = median_rate(ours_run, root, with_quota, args.runs)
                courier_rate = (median_rate(courier_run, root, with_quota, args.runs)
                                if courier else None)
                library_rate = median_rate(library_run, root, with_quota, args.runs)
                courier_text = f"{courier_rate:9.1f}" if courier_rate else f"{'-':>9}"
                ratio = f"{ours_rate / courier_rate:13.2f}" if courier_rate else f"{'-':>13}"
                print(f"{size:>8} {'yes' if with_quota else 'no':>6} | {ours_rate:9.1f} "
                      f"{courier_text} {ratio} | {library_rate:11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
