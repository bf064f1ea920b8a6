"""The in-process scan memo (remembered listings and uid database parses)
never answers otherwise than a fresh scan would.

One process keeps scanning a folder (so its memo is always in use) while
other processes -- our delivery, Courier's deliverquota, Courier's imapd,
a shell renaming and deleting files -- change it.  Whenever the folder is
quiet, the memo's scan must equal a scan with every memo forgotten.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from postillion.maildir import delivery, folders, uiddb
from postillion.maildir.filenames import base_name
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"
ctx = multiprocessing.get_context("fork")


def _view(scan: uiddb.FolderScan) -> list[tuple[int, str, str, str]]:
    return [(m.uid, m.filename, m.subdir, m.flags) for m in scan.messages]


def _fresh(maildir: str, readonly: bool = False) -> uiddb.FolderScan:
    folders.forget_listings()
    uiddb.forget_parses()
    return uiddb.scan_and_assign(maildir, readonly=readonly)


def _assert_agrees(maildir: str) -> None:
    remembered = uiddb.scan_and_assign(maildir, readonly=True)
    again = uiddb.scan_and_assign(maildir)
    fresh = _fresh(maildir)
    assert _view(again) == _view(fresh)
    assert (again.uidvalidity, again.nextuid) == (fresh.uidvalidity, fresh.nextuid)
    assert {base_name(m.filename) for m in remembered.messages} == \
        {base_name(m.filename) for m in fresh.messages}


def _shell_changes(maildir: str, seed: int, rounds: int) -> None:
    rnd = random.Random(seed)
    cur = os.path.join(maildir, "cur")
    for _ in range(rounds):
        names = os.listdir(cur)
        for name in rnd.sample(names, min(len(names), 20)):
            path = os.path.join(cur, name)
            try:
                if rnd.random() < 0.2:
                    os.unlink(path)
                else:
                    flags = "".join(sorted(rnd.sample("DFRST", rnd.randint(0, 3))))
                    os.rename(path, os.path.join(cur, base_name(name) + ":2," + flags))
            except FileNotFoundError:
                pass
        for _ in range(5):
            delivery.deliver(maildir, MESSAGE, durable=False)


def test_memo_agrees_with_fresh_scans_in_one_clock_tick(tmp_path: Path) -> None:
    """Changes right after a scan (within the same mtime tick) are seen."""
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    for _ in range(50):
        delivery.deliver(maildir, MESSAGE, durable=False)
    uiddb.scan_and_assign(maildir)
    for step in range(30):
        scan = uiddb.scan_and_assign(maildir)
        # Change at once, before any tick passes.
        victim = scan.messages[step % len(scan.messages)]
        path = os.path.join(maildir, victim.subdir, victim.filename)
        if step % 3 == 0:
            os.unlink(path)
        elif step % 3 == 1:
            os.rename(path, os.path.join(maildir, "cur", victim.base + ":2,S" + str(step % 2)))
        else:
            delivery.deliver(maildir, MESSAGE, durable=False)
        _assert_agrees(maildir)


def test_unchanged_folder_is_not_listed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    for _ in range(10):
        delivery.deliver(maildir, MESSAGE, durable=False)
    first = uiddb.scan_and_assign(maildir)
    # Old enough directory times: the next scans may skip the listing.
    past = time.time() - 60
    for sub in ("new", "cur"):
        os.utime(os.path.join(maildir, sub), (past, past))
    uiddb.scan_and_assign(maildir)
    listed: list[str] = []
    real = os.listdir

    def listdir(path: str) -> list[str]:
        listed.append(path)
        return real(path)
    monkeypatch.setattr(os, "listdir", listdir)
    again = uiddb.scan_and_assign(maildir)
    assert listed == []
    assert _view(again) == _view(first)


def test_memo_agrees_under_concurrent_changes(tmp_path: Path) -> None:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    for _ in range(300):
        delivery.deliver(maildir, MESSAGE, durable=False)
    uiddb.scan_and_assign(maildir)
    for round_ in range(4):
        workers = [ctx.Process(target=_shell_changes, args=(maildir, round_ * 10 + n, 15))
                   for n in range(2)]
        for w in workers:
            w.start()
        while any(w.is_alive() for w in workers):
            uiddb.scan_and_assign(maildir)
        for w in workers:
            w.join()
            assert w.exitcode == 0
        _assert_agrees(maildir)


@pytest.mark.skipif(shutil.which("deliverquota.courier") is None
                    and shutil.which("deliverquota") is None, reason="Courier absent")
def test_memo_agrees_with_courier_delivering_and_expunging(tmp_path: Path) -> None:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    courier_deliver = shutil.which("deliverquota.courier") or shutil.which("deliverquota")
    assert courier_deliver is not None
    for _ in range(100):
        delivery.deliver(maildir, MESSAGE, durable=False)
    uiddb.scan_and_assign(maildir)
    deliveries = [subprocess.Popen([courier_deliver, maildir], stdin=subprocess.PIPE)
                  for _ in range(10)]
    for proc in deliveries:
        assert proc.stdin is not None
        proc.stdin.write(MESSAGE)
        proc.stdin.close()
        uiddb.scan_and_assign(maildir)
    for proc in deliveries:
        assert proc.wait() == 0
    _assert_agrees(maildir)
    imapd = "/usr/bin/imapd"
    if os.path.exists(imapd):
        # Courier's imapd flags and expunges the first ten messages.
        script = (b"a SELECT INBOX\r\nb STORE 1:10 +FLAGS (\\Deleted)\r\n"
                  b"c STORE 11:20 +FLAGS (\\Seen)\r\nd EXPUNGE\r\ne LOGOUT\r\n")
        env = dict(os.environ, AUTHENTICATED=os.environ.get("USER", "root"))
        subprocess.run([imapd, maildir], input=script, env=env, capture_output=True,
                       check=False, timeout=60)
        _assert_agrees(maildir)
        assert len(_fresh(maildir).messages) == 100
