"""FETCH of cached items only (UID, FLAGS, RFC822.SIZE, INTERNALDATE,
ENVELOPE, BODYSTRUCTURE), with or without one whole message (BODY[],
BODY.PEEK[], RFC822), is rendered straight to bytes; what the client reads
must be what the general path (FetchItem, FetchData, the serializer) gives,
in every case: values not cached yet, 8-bit header text for clients with
and without UTF8=ACCEPT, ghosts, \\Recent, messages big enough to be
streamed, CRLF and lone CR line ends, \\Seen set by fetching."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable

import pytest

from postillion.imap.session import fetch as fetch_module

from .harness import MemoryClient, World
from .test_scale import MESSAGES, RAW_UTF8, _commands, fill, forget_memory

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
    "FETCH 1:5 (ENVELOPE)",                       # computed (and cached) on the way
    "FETCH 1:* (UID ENVELOPE BODYSTRUCTURE)",     # some cached, some not
    "UID FETCH 1:* (BODYSTRUCTURE FLAGS ENVELOPE RFC822.SIZE)",   # all cached
    "UID FETCH 1:* BODY.PEEK[]",                  # the files alone, no cache record
    "FETCH 1:* (FLAGS BODY.PEEK[] RFC822.SIZE INTERNALDATE)",
    "FETCH 1:4 (RFC822)",                         # sets \\Seen on some: general path
    "FETCH 1:* (BODY[] ENVELOPE UID)",
    "UID FETCH 1:* (RFC822.SIZE BODY.PEEK[]<0.10>)",   # a partial: general path
    "FETCH 1:* FLAGS",
]
#: Messages only whole-message fetches tell apart: big enough to be
#: streamed from the file, CRLF line ends, a lone CR, no line end at all.
ODD = [b"Subject: big\n\n" + b"0123456789abcdef line\n" * 15_000,
       b"Subject: crlf\r\nFrom: c@x\r\n\r\nbody\r\nmixed\nend\r\n",
       b"Subject: cr\n\nlone\rcr\n",
       b"Subject: none"]


async def _session(world: World, gone: str | None, utf8: bool) -> list[bytes]:
    client = MemoryClient(world.context(), preauth=world.accounts["paul"])
    await client.line()
    out = await client.command("e ENABLE UTF8=ACCEPT") if utf8 else []
    out += await client.command("s SELECT INBOX")
    if gone is not None:
        os.unlink(gone)  # expunged by another program: a ghost in this session
    for n, command in enumerate(COMMANDS):
        out += await client.command(f"c{n} {command}")
    await client.command("z LOGOUT")
    await client.close()
    return out


@pytest.mark.parametrize(("with_ghost", "utf8"), [(False, False), (True, False), (False, True)],
                         ids=["plain", "ghost", "utf8"])
def test_cached_items_fetch_answers_as_the_general_path(world: World,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        with_ghost: bool, utf8: bool) -> None:
    fill(world, 12)
    for body in [*MESSAGES, RAW_UTF8]:
        world.deliver(body, flags="RS")
    for body in ODD:
        world.deliver(body, flags="")
    asyncio.run(_session(world, None, utf8))   # the uid database: one UIDVALIDITY for all runs
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
        return asyncio.run(_session(world, gone, utf8))

    fast = run()
    with monkeypatch.context() as m:
        m.setattr(fetch_module, "_CACHED_ITEMS", frozenset())
        m.setattr(fetch_module, "_WHOLE_ITEMS", frozenset())
        general = run()
    assert fast == general
    assert sum(b" FETCH (UID " in line for line in fast) >= 16
    assert any(b"\\Recent" in line for line in fast)
    assert sum(b"ENVELOPE (" in line for line in fast) >= 30
    # The whole messages went out, the big one streamed among the others.
    assert sum(b"BODY[] {" in line for line in fast) >= 3 * 21  # a ghost is not sent
    assert sum(b"0123456789abcdef line\r\n" * 100 in line for line in fast) >= 3
    assert any(b"body\r\nmixed\r\nend\r\n" in line for line in fast)


def test_whole_message_read_whole_when_the_file_grows_after_its_fstat(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # The whole-message path with a cached item (here INTERNALDATE: the
    # file checked against its record) reads what the fstat promised plus
    # one byte; a file that grew in between (a writer appending in place)
    # is read to its end, not cut at the size seen.
    path = world.deliver(b"Subject: grows\n\nfirst\n", flags="S")
    grown = b"more\n" * 40_000

    from postillion.imap.selected import SelectedMailbox
    open_fd = SelectedMailbox._open_fd

    def open_then_grow(self: SelectedMailbox, entry: object) -> object:
        opened = open_fd(self, entry)  # type: ignore[arg-type]
        with open(path, "ab") as out:
            out.write(grown)
        return opened

    async def session() -> list[bytes]:
        client = MemoryClient(world.context(), preauth=world.accounts["paul"])
        await client.line()
        await client.command("s SELECT INBOX")
        monkeypatch.setattr(SelectedMailbox, "_open_fd", open_then_grow)
        out = await client.command("f FETCH 1 (INTERNALDATE BODY.PEEK[])")
        await client.command("z LOGOUT")
        await client.close()
        return out

    whole = b"".join(asyncio.run(session()))
    expected = b"Subject: grows\r\n\r\nfirst\r\n" + grown.replace(b"\n", b"\r\n")
    assert b"BODY[] {%d}\r\n" % len(expected) + expected + b")\r\n" in whole


@pytest.mark.parametrize("change", ["grown", "shrunk", "nameless", "renamed"])
def test_whole_message_alone_is_the_file_whatever_its_name_says(
        world: World, change: str) -> None:
    # UID FETCH BODY.PEEK[] and nothing the cache holds reads the file by
    # the size its name gives (,S=), without a record: a file bigger than
    # its name says is read to its end (not cut), a smaller one is what it
    # holds, a name without a size and a file renamed by another program
    # since the SELECT are read the usual way; a file grown past the
    # streaming threshold is streamed.  What the client gets is the file.
    world.deliver(b"Subject: before\n\nfirst\n", flags="S")
    path = world.deliver(b"Subject: changes\n\nsecond line\n", flags="S")
    if change == "nameless":  # as another program may name it: no size
        os.rename(path, os.path.join(os.path.dirname(path), "2000000000.M1P1.host:2,S"))
    body = {"grown": b"Subject: changes\n\n" + b"more\n" * 70_000,
            "shrunk": b"Subject: c\n\n",
            "nameless": b"Subject: changes\n\nsecond line\n",
            "renamed": b"Subject: changes\n\nsecond line\n"}[change]

    async def session() -> list[bytes]:
        client = MemoryClient(world.context(), preauth=world.accounts["paul"])
        await client.line()
        await client.command("s SELECT INBOX")
        if change == "renamed":
            os.rename(path, path[:-len("S")] + "FS")
        elif change != "nameless":
            with open(path, "wb") as out:
                out.write(body)
        out = await client.command("f UID FETCH 1:* BODY.PEEK[]")
        await client.command("z LOGOUT")
        await client.close()
        return out

    whole = b"".join(asyncio.run(session()))
    expected = body.replace(b"\n", b"\r\n")
    assert b"* 2 FETCH (UID 2 BODY[] {%d}\r\n" % len(expected) + expected + b")\r\n" in whole
    assert whole.endswith(b"f OK FETCH completed.\r\n")


def test_metadata_from_a_saved_cache_answers_as_the_general_path(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # A new process's FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE) reads
    # sizes and mtimes from the cache file's rows, a batch at a time; a
    # batch with a message the rows cannot answer for (delivered since)
    # goes message by message.  Either way the bytes are the general
    # path's.
    fill(world, 30)
    world.deliver(ODD[1], flags="FS")
    commands = ["FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)",
                "UID FETCH 1:* (INTERNALDATE FLAGS)", "FETCH 2:9 (RFC822.SIZE UID)"]
    asyncio.run(_commands(world, *commands))            # the cache file, sizes included
    rendered: list[int] = []
    metadata_rows = fetch_module._metadata_rows

    def counted(*args: object) -> list[bytes] | None:
        rows = metadata_rows(*args)  # type: ignore[arg-type]
        if rows is not None:
            rendered.append(len(rows))
        return rows

    def run() -> list[bytes]:
        forget_memory()
        return asyncio.run(_commands(world, *commands))

    with monkeypatch.context() as m:
        m.setattr(fetch_module, "_metadata_rows", counted)
        fast = run()
    assert rendered == [31, 31, 8]                       # every batch from the rows
    with monkeypatch.context() as m:
        m.setattr(fetch_module, "_CACHED_ITEMS", frozenset())
        assert run() == fast
    world.deliver(MESSAGES[2], flags="S")               # no row for it yet
    rendered.clear()
    with monkeypatch.context() as m:
        m.setattr(fetch_module, "_metadata_rows", counted)
        later = run()
    # The first 1:* went message by message (reading the new file gave it
    # a record), the next found every message in the rows or records.
    assert rendered == [32, 8]
    assert len(later) == len(fast) + 2
    with monkeypatch.context() as m:
        m.setattr(fetch_module, "_CACHED_ITEMS", frozenset())
        general = run()
    assert later == general


def test_metadata_of_a_whole_folder_read_at_once_answers_as_the_general_path(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # A FETCH 1:* of sizes and dates over a folder of MIN_MESSAGES or more,
    # in a new process, reads both columns for every message before the
    # batches.  The bytes are the general path's; a message the rows cannot
    # answer for (delivered since the cache was written) sends the command
    # the batch-by-batch way.
    from postillion.imap import wireforms
    from postillion.imap.foldercache import FolderCache
    count = wireforms.MIN_MESSAGES + 30
    fill(world, count)
    commands = ["FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)", "UID FETCH 1:* (INTERNALDATE)",
                "FETCH 3:9 (RFC822.SIZE INTERNALDATE)"]    # a few of many: their words alone
    asyncio.run(_commands(world, "FETCH 1:* (RFC822.SIZE)"))   # sizes into the cache file
    columns = FolderCache.metadata_columns
    read: list[int | None] = []

    def spied(self: FolderCache, bases: list[str]) -> tuple[list[int], list[int]] | None:
        found = columns(self, bases)
        read.append(None if found is None else len(found[0]))
        return found

    def run(*, general: bool = False) -> list[bytes]:
        forget_memory()
        with monkeypatch.context() as m:
            m.setattr(FolderCache, "metadata_columns", spied)
            if general:
                m.setattr(fetch_module, "_CACHED_ITEMS", frozenset())
            return asyncio.run(_commands(world, *commands))

    fast = run()
    assert read == [count, count, 7]
    assert run(general=True) == fast
    world.deliver(MESSAGES[0], flags="S")
    read.clear()
    later = run()
    assert read[0] is None                         # the whole folder: no row for one
    assert len(later) == len(fast) + 2
    assert run(general=True) == later


def _spy_on_metadata_columns(read: list[bool]) -> Callable[..., object]:
    """FolderCache.metadata_columns, noting in ``read`` whether each call
    gave the columns."""
    from postillion.imap.foldercache import FolderCache
    columns = FolderCache.metadata_columns

    def spied(self: FolderCache, bases: list[str]) -> tuple[list[int], list[int]] | None:
        found = columns(self, bases)
        read.append(found is not None)
        return found
    return spied


def test_metadata_of_a_message_named_with_another_size_is_not_read_from_the_rows(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # A name's ,S= is the size its file was written with: a cached row of
    # another file size may describe some other file of that name, so the
    # columns are not believed (the messages go the way that checks each).
    from postillion.imap import wireforms
    from postillion.imap.foldercache import FolderCache
    fill(world, wireforms.MIN_MESSAGES)
    odd = world.deliver(b"Subject: odd\n\nsize\n", flags="S")
    cur = os.path.dirname(odd)
    renamed = os.path.join(cur, os.path.basename(odd).replace(",S=", ",S=9999,X=", 1))
    os.rename(odd, renamed)
    command = "FETCH 1:* (UID RFC822.SIZE INTERNALDATE)"
    asyncio.run(_commands(world, command))
    read: list[bool] = []
    spied = _spy_on_metadata_columns(read)
    forget_memory()
    with monkeypatch.context() as m:
        m.setattr(FolderCache, "metadata_columns", spied)
        fast = asyncio.run(_commands(world, command))
    assert read and not read[0]
    forget_memory()
    with monkeypatch.context() as m:
        m.setattr(fetch_module, "_CACHED_ITEMS", frozenset())
        assert asyncio.run(_commands(world, command)) == fast
    # The cache file holds no row for it: a name that disagrees with its
    # file's size is never written.
    cache = FolderCache(world.maildir())
    cache.ensure_loaded()
    saved = cache._saved
    assert saved is not None and saved.count == wireforms.MIN_MESSAGES
    assert os.path.basename(renamed).partition(":")[0] not in saved.index


def test_the_rows_of_a_cache_its_own_user_wrote_are_believed_without_a_check_of_each_name(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # A file this user wrote holds no row whose name disagrees with its
    # size, so the sizes are read without comparing 100,000 names with
    # them; a file another user could have written is checked name by name.
    from postillion.imap import foldercache, wireforms
    from postillion.imap.foldercache import FolderCache
    fill(world, wireforms.MIN_MESSAGES)
    command = "FETCH 1:* (UID RFC822.SIZE INTERNALDATE)"
    expected = asyncio.run(_commands(world, command))
    read: list[bool] = []
    spied = _spy_on_metadata_columns(read)

    def run() -> list[bytes]:
        forget_memory()
        read.clear()
        with monkeypatch.context() as m:
            m.setattr(FolderCache, "metadata_columns", spied)
            # Every name now "disagrees": only a check would notice.
            m.setattr(foldercache, "_SIZE_MARK", ",no-such-mark=")
            m.setattr(foldercache, "_name_agrees", lambda base, size: False)
            return asyncio.run(_commands(world, command))

    assert run() == expected and read == [True]
    path = os.path.join(world.maildir(), foldercache.CACHE_NAME)
    os.chmod(path, 0o664)            # writable by the group: not this user's alone
    run()
    assert read and not any(read)
