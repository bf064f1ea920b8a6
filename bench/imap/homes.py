"""Corpus maildirs and fresh per-server copies of them.

One master maildir per message count is generated with bench/corpus.py and
kept (``corpus-<count>/Maildir``, message files only).  Each measurement
gets a fresh home whose ``Maildir/cur`` and ``new`` hold hard links to the
master's files: the servers measured never write a message file in place
(flag changes and expunges are renames and unlinks inside the copy's own
directories, which leave the master's entries alone), so a link is as good
as a copy and costs no disk.  Everything a server creates (Courier's
courierimapuiddb, Dovecot's index and dovecot-uidlist, Postillion's cache,
pymap's uid list) lives only in the copy: a fresh copy is cold.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.corpus import fill_maildir
from bench.imap.servers import RunAs

AVERAGE_MESSAGE_BYTES = 19_500


def warm_page_cache(master: Path) -> None:
    """Read every message file of the corpus once, so that its pages are in
    the kernel's cache before a cold run: otherwise the server measured
    first pays the disk reads (the kernel may have dropped the pages since
    the corpus was written) and the next ones inherit the pages it read."""
    buffer = bytearray(1 << 20)
    for sub in ("cur", "new"):
        folder = master / sub
        for name in os.listdir(folder):
            with open(folder / name, "rb", buffering=0) as stream:
                while stream.readinto(buffer):
                    pass


def disk_needed(count: int) -> int:
    return count * AVERAGE_MESSAGE_BYTES + (200 << 20)


def check_disk(work: Path, counts: list[int]) -> str | None:
    """A sentence if the disk under ``work`` cannot hold the corpora."""
    work.mkdir(parents=True, exist_ok=True)
    missing = [c for c in counts if not (work / f"corpus-{c}" / "done").exists()]
    needed = sum(disk_needed(c) for c in missing)
    free = shutil.disk_usage(work).free
    if needed > free:
        return (f"need about {needed / 1e9:.1f} GB free under {work} for "
                f"{', '.join(map(str, missing))} messages, have {free / 1e9:.1f} GB")
    return None


def master_maildir(work: Path, count: int, user: RunAs, seed: int = 1) -> Path:
    """The generated corpus of ``count`` messages (made once, then reused)."""
    base = work / f"corpus-{count}"
    maildir = base / "Maildir"
    if (base / "done").exists():
        return maildir
    if base.exists():
        shutil.rmtree(base)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    fill_maildir(str(maildir), count, seed=seed)
    chown_files(maildir, user)
    (base / "done").write_text(f"{count} messages, seed {seed}\n")
    return maildir


def chown_files(maildir: Path, user: RunAs) -> None:
    if os.getuid() != 0:
        return
    for sub in ("cur", "new", "tmp"):
        folder = maildir / sub
        os.chown(folder, user.uid, user.gid)
        for name in os.listdir(folder):
            os.lchown(folder / name, user.uid, user.gid)
    os.chown(maildir, user.uid, user.gid)


def fresh_home(master: Path, home: Path, user: RunAs) -> Path:
    """A new home whose Maildir links the master's messages."""
    if home.exists():
        remove_home(home)
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
        for name in os.listdir(master / sub):
            os.link(master / sub / name, maildir / sub / name)
    if os.getuid() == 0:
        for path in (home, maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
            os.chown(path, user.uid, user.gid)
    return home


def remove_home(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)
    sibling = home.parent / (home.name + "-dovecot")
    shutil.rmtree(sibling, ignore_errors=True)
