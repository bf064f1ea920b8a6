"""Scanners assigning UIDs while other processes deliver, rename and delete.

Several processes run scan_and_assign in a loop on one folder while others
deliver new mail, change flags (renames in cur/), move new/ to cur/ without
any lock (as an MDA or pop3d may) and delete some messages.  Afterwards:

* every base name had one UID in every scan, and no UID named two messages;
* no scan listed a message twice;
* every message that existed for the whole run was in every scan.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from pathlib import Path

from postillion.maildir import delivery, uiddb
from postillion.maildir.filenames import base_name
from postillion.maildir.layout import create_maildir

MESSAGE = b"Subject: x\n\nbody\n"
INITIAL = 1500
ctx = multiprocessing.get_context("fork")


def scanner(maildir: str, rounds: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    seen = []
    for _ in range(rounds):
        scan = uiddb.scan_and_assign(maildir)
        seen.append([(m.uid, m.base) for m in scan.messages])
    out.put(seen)


def deliverer(maildir: str, count: int) -> None:
    for _ in range(count):
        delivery.deliver(maildir, MESSAGE, durable=False)


def flagger(maildir: str, rounds: int, seed: int) -> None:
    rnd = random.Random(seed)
    cur = os.path.join(maildir, "cur")
    for _ in range(rounds):
        for name in os.listdir(cur):
            flags = "".join(sorted(rnd.sample("DFRST", rnd.randint(0, 3))))
            try:
                os.rename(os.path.join(cur, name),
                          os.path.join(cur, base_name(name) + ":2," + flags))
            except FileNotFoundError:
                pass


def unlocked_new_to_cur(maildir: str, rounds: int) -> None:
    for _ in range(rounds):
        for name in os.listdir(os.path.join(maildir, "new")):
            try:
                os.rename(os.path.join(maildir, "new", name),
                          os.path.join(maildir, "cur", name + ":2,"))
            except FileNotFoundError:
                pass


def deleter(maildir: str, doomed: list[str]) -> None:
    cur = os.path.join(maildir, "cur")
    remaining = set(doomed)
    while remaining:
        for name in os.listdir(cur):
            if base_name(name) in remaining:
                try:
                    os.unlink(os.path.join(cur, name))
                    remaining.discard(base_name(name))
                except FileNotFoundError:
                    pass
        for name in os.listdir(os.path.join(maildir, "new")):
            if name in remaining:
                try:
                    os.unlink(os.path.join(maildir, "new", name))
                    remaining.discard(name)
                except FileNotFoundError:
                    pass


def test_concurrent_scans_renames_deliveries_and_deletes(tmp_path: Path) -> None:
    maildir = str(tmp_path / "Maildir")
    create_maildir(maildir)
    # Enough messages that readdir() needs several getdents() calls: only
    # then can a rename racing the listing hide a file or show it twice.
    initial = [os.path.basename(delivery.deliver(maildir, MESSAGE, durable=False))
               for _ in range(INITIAL)]
    uiddb.scan_and_assign(maildir)  # these get UIDs and move to cur/
    initial += [os.path.basename(delivery.deliver(maildir, MESSAGE, durable=False))
                for _ in range(20)]
    doomed, stable = initial[::50], [b for i, b in enumerate(initial) if i % 50]

    queue: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    scanners = [ctx.Process(target=scanner, args=(maildir, 15, queue)) for _ in range(4)]
    others = [
        ctx.Process(target=deliverer, args=(maildir, 60)),
        ctx.Process(target=deliverer, args=(maildir, 60)),
        ctx.Process(target=flagger, args=(maildir, 6, 1)),
        ctx.Process(target=flagger, args=(maildir, 6, 2)),
        ctx.Process(target=unlocked_new_to_cur, args=(maildir, 200)),
        ctx.Process(target=deleter, args=(maildir, doomed)),
    ]
    for proc in scanners + others:
        proc.start()
    results = [queue.get(timeout=300) for _ in scanners]
    for proc in scanners + others:
        proc.join(timeout=300)
        assert proc.exitcode == 0

    uid_of: dict[str, int] = {}
    base_of: dict[int, str] = {}
    for seen in results:
        for snapshot in seen:
            bases = [base for _uid, base in snapshot]
            assert len(bases) == len(set(bases)), "a message listed twice"
            uids = [uid for uid, _base in snapshot]
            assert uids == sorted(set(uids))
            missing = set(stable).difference(bases)
            assert not missing, f"messages lost from a scan: {missing}"
            for uid, base in snapshot:
                assert uid_of.setdefault(base, uid) == uid, f"{base} changed UID"
                assert base_of.setdefault(uid, base) == base, f"UID {uid} reused"

    final = uiddb.scan_and_assign(maildir)
    assert len(final.messages) == len(initial) - len(doomed) + 120
    for m in final.messages:
        assert uid_of.get(m.base, m.uid) == m.uid
    assert final.nextuid > max(base_of, default=0)
    assert Path(maildir, "tmp").exists() and os.listdir(Path(maildir, "tmp")) == []
