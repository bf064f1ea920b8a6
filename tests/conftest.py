"""Shared fixtures: running our tools and Courier's reference programs.

Courier's programs come from Debian's ``maildrop`` and ``courier-imap``
packages.  Where they are missing a reference test is skipped, unless
``POSTILLION_REQUIRE_REFERENCE=1`` (set by CI), which turns the skip into a
failure so that a broken install can never pass as green.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Courier's own builds; Debian's plain maildirmake/deliverquota are maildrop's.
COURIER_PROGRAMS = {
    "maildirmake": "/usr/bin/maildirmake.courier",
    "deliverquota": "/usr/bin/deliverquota.courier",
    "maildiracl": "/usr/bin/maildiracl",
    "maildirkw": "/usr/bin/maildirkw",
    "imapd": "/usr/bin/imapd",
    "maildirmake.maildrop": "/usr/bin/maildirmake.maildrop",
    "deliverquota.maildrop": "/usr/sbin/deliverquota.maildrop",
}

REQUIRE_REFERENCE = os.environ.get("POSTILLION_REQUIRE_REFERENCE") == "1"


def courier_program(name: str) -> str:
    """The path of a Courier program, or skip (fail in CI) if it is missing."""
    path = COURIER_PROGRAMS.get(name) or shutil.which(name) or ""
    if not path or not os.access(path, os.X_OK):
        message = f"Courier's {name} is not installed (Debian packages maildrop, courier-imap)"
        if REQUIRE_REFERENCE:
            pytest.fail(message + "; POSTILLION_REQUIRE_REFERENCE=1 makes this a failure")
        pytest.skip(message)
    return path


Runner = Callable[..., subprocess.CompletedProcess[bytes]]


def _run(argv: list[str], input: bytes | None, cwd: str | Path | None,
         env: dict[str, str] | None) -> subprocess.CompletedProcess[bytes]:
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(argv, input=input, cwd=cwd, env=full_env,
                          capture_output=True, timeout=120, check=False)


@pytest.fixture
def run_ours() -> Runner:
    """Run one of our tools as ``python -m postillion NAME ARGS``."""

    def run(name: str, *args: str | Path, input: bytes | None = None,
            cwd: str | Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "postillion", name, *map(str, args)]
        return _run(argv, input, cwd, env)

    return run


@pytest.fixture
def run_courier() -> Runner:
    """Run one of Courier's programs (skips, or fails in CI, if missing)."""

    def run(name: str, *args: str | Path, input: bytes | None = None,
            cwd: str | Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return _run([courier_program(name), *map(str, args)], input, cwd, env)

    return run


@pytest.fixture(autouse=True)
def _no_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process leaving a folder waits up to a quarter second for its last
    change to be a clock tick old before saving its scan (see
    postillion.maildir.uiddb.save_scan).  Tests change folders and leave
    within milliseconds, thousands of times: they do not wait, unless a
    test asks for it (tests/session/test_scanfile.py).  In-process only:
    servers started as subprocesses wait as in production."""
    from postillion.maildir import uiddb
    monkeypatch.setattr(uiddb, "SETTLE_SECONDS", 0.0)
