"""FETCH of metadata only (UID, FLAGS, RFC822.SIZE, INTERNALDATE) is
rendered straight to bytes; what the client reads must be what the general
path (FetchItem, FetchData, the serializer) gives, in every case."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from postillion.imap.session import fetch as fetch_module

from .harness import MemoryClient, World
from .test_scale import MESSAGES, fill, forget_memory

COMMANDS = [
    "FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
    "FETCH 1:* (INTERNALDATE RFC822.SIZE FLAGS)",
    "UID FETCH 1:* (FLAGS)",
    "UID FETCH 3:7 (RFC822.SIZE UID)",
    "FETCH 2,5,9:11 FLAGS",
    "FETCH 4 (UID UID FLAGS)",
    "STORE 2 +FLAGS (\\Flagged $Junk custom)",
    "FETCH 1:* (FLAGS UID)",
    "FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",   # mixed: general path
]


async def _session(world: World, gone: str | None) -> list[bytes]:
    client = MemoryClient(world.context(), preauth=world.accounts["paul"])
    await client.line()
    out = await client.command("s SELECT INBOX")
    if gone is not None:
        os.unlink(gone)  # expunged by another program: a ghost in this session
    for n, command in enumerate(COMMANDS):
        out += await client.command(f"c{n} {command}")
    await client.command("z LOGOUT")
    await client.close()
    return out


@pytest.mark.parametrize("with_ghost", [False, True], ids=["plain", "ghost"])
def test_metadata_fetch_answers_as_the_general_path(world: World,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    with_ghost: bool) -> None:
    fill(world, 12)
    for body in MESSAGES:
        world.deliver(body, flags="RS")
    world.deliver(MESSAGES[1])     # in new/: \Recent for the session
    maildir = world.maildir()
    kept = os.path.join(os.path.dirname(maildir), "kept")
    shutil.copytree(maildir, kept, symlinks=True)

    def run() -> list[bytes]:
        """One session on the folder as it was kept."""
        shutil.rmtree(maildir)
        shutil.copytree(kept, maildir, symlinks=True)
        forget_memory()
        cur = os.path.join(maildir, "cur")
        gone = os.path.join(cur, sorted(os.listdir(cur))[6]) if with_ghost else None
        return asyncio.run(_session(world, gone))

    fast = run()
    with monkeypatch.context() as m:
        m.setattr(fetch_module, "_METADATA", frozenset())
        general = run()
    assert fast == general
    assert sum(b" FETCH (UID " in line for line in fast) >= 16
    assert any(b"\\Recent" in line for line in fast)
