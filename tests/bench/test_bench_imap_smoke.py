"""The IMAP benchmark runs end to end on a small corpus and prints every row.

No timing is asserted: only that each measurement produced a row, and that
Postillion has a figure in every row it can be measured on.  Dovecot,
Courier and pymap take part when installed (bench/install-references.sh)
and are left out otherwise; the test suite does not need them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.imap.measure import COMMANDS
from bench.imap.servers import ALL_SERVERS, RunAs

from bench import bench_imap

pytestmark = pytest.mark.slow

COUNT = 120
IDLE_CLIENTS = 4


@pytest.fixture
def workdir() -> Iterator[Path]:
    # The servers run as `nobody` when the tests run as root: the directory
    # must be reachable for them, which pytest's private tmp_path is not.
    path = Path(tempfile.mkdtemp(prefix="bench-imap-smoke-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def installed() -> list[str]:
    user = bench_imap.bench_user(None)
    names = []
    for cls in ALL_SERVERS:
        try:
            server = cls(user)
        except RuntimeError:
            continue
        if server.missing() is None:
            names.append(cls.name.lower())
    return names


def test_benchmark_prints_every_row(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    servers = installed()
    assert "postillion" in servers
    status = bench_imap.main([
        "--counts", str(COUNT), "--runs", "1", "--servers", ",".join(servers),
        "--appends", "5", "--logins", "5", "--idle-clients", str(IDLE_CLIENTS),
        "--idle-messages", "20", "--deliveries", "1", "--idle-timeout", "15",
        "--timeout", "120", "--workdir", str(workdir),
    ])
    assert status == 0
    out = capsys.readouterr().out
    rows = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| measurement")}
    expected = [f"{COUNT} {label} {phase}" for label in ["SELECT", *(c.label for c in COMMANDS)]
                for phase in ("cold", "warm")]
    expected += [f"{COUNT} APPEND", "LOGIN over TCP",
                 f"IDLE push median ({IDLE_CLIENTS} clients)",
                 f"IDLE push p99 ({IDLE_CLIENTS} clients)",
                 "RSS per idle connection", "PSS per idle connection"]
    assert sorted(rows) == sorted(expected)
    header = next(line for line in out.splitlines() if line.startswith("| measurement"))
    # A column for every server that ran, and for no other.
    columns = [cell.strip().lower() for cell in header.strip("| ").split(" | ")]
    for name in servers:
        assert name in columns, name
    postillion_column = header.split(" | ").index("Postillion")
    for label, line in rows.items():
        cell = line.split(" | ")[postillion_column].strip()
        assert cell != "n/a", label
        float(cell)


def test_bench_user_is_ordinary_when_root() -> None:
    user = bench_imap.bench_user(None)
    assert isinstance(user, RunAs)
    if os.getuid() == 0:
        assert user.uid != 0
