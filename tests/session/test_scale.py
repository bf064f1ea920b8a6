"""The machinery that makes big folders and many clients cheap, checked for
correctness (never for time): the folder cache file, shared folder state,
streamed literals, other sessions served during a long command, and IDLE
with hundreds of sessions on one folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import struct
import threading
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from postillion.imap import foldercache, sharedfolder
from postillion.imap import search as engine
from postillion.imap.foldercache import CACHE_NAME, FolderCache
from postillion.imap.session import run_session
from postillion.maildir import delivery, folders, uiddb
from postillion.message import to_crlf
from postillion.server.notify import make_notifier

from .harness import MemoryClient, World

MESSAGES = [
    b"From: Ann <ann@example.org>\nTo: bob@example.com\nSubject: plain one\n"
    b"Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <1@x>\n\nhello\n",
    b"From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
    b"Date: Tue, 2 Jan 2024 10:00:00 +0000\nMessage-ID: <2@x>\nIn-Reply-To: <1@x>\n\nhi\n",
    b"From: c@example.org\nSubject: Re: plain one\nReferences: <1@x>\nMessage-ID: <3@x>\n"
    b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: text/plain\n\nbody\n--b\nContent-Type: application/pdf\n"
    b"Content-Transfer-Encoding: base64\n\nAAAA\n--b--\n",
    b"Subject: \"quoted\" (comment) \\ back\nFrom: \"Doe, J\" <d@example.org>\n\nx\n",
]
COMMANDS = ["FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)",
            "SORT (SUBJECT DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL",
            "SEARCH FROM example.org", "FETCH 1:* (BODY.PEEK[])"]


def forget_memory() -> None:
    """What a new process would have: nothing but the files."""
    FolderCache.forget_all()
    sharedfolder.forget_all()
    folders.forget_listings()
    uiddb.forget_parses()


def fill(world: World, count: int = 24) -> None:
    for n in range(count):
        world.deliver(MESSAGES[n % len(MESSAGES)], flags="S" if n % 3 else "")


async def _commands(world: World, *commands: str) -> list[bytes]:
    """One session of paul's: SELECT INBOX, the commands, LOGOUT."""
    client = MemoryClient(world.context(), preauth=world.accounts["paul"])
    await client.line()
    out = await client.command("s SELECT INBOX")
    for n, command in enumerate(commands):
        out += await client.command(f"c{n} {command}")
    await client.command("z LOGOUT")
    await client.close()
    return out


def transcript(world: World) -> list[bytes]:
    return asyncio.run(_commands(world, *COMMANDS))


def cache_path(world: World) -> str:
    return os.path.join(world.maildir(), CACHE_NAME)


# ---------------------------------------------------------------- the cache file

def test_cache_file_is_written_and_used(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world)
    first = transcript(world)
    assert os.path.exists(cache_path(world))
    forget_memory()
    fetch_module = __import__("postillion.imap.session.fetch", fromlist=["x"])

    def no_parsing(*args: Any) -> Any:
        raise AssertionError("ENVELOPE computed although cached")
    monkeypatch.setattr(fetch_module, "envelope", no_parsing)
    monkeypatch.setattr(fetch_module, "body_structure", no_parsing)
    assert transcript(world) == first


def _truncate(path: str) -> None:
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _random_bytes(path: str) -> None:
    size = os.path.getsize(path)
    with open(path, "wb") as f:
        f.write(random.Random(5).randbytes(size))


def _flip_a_byte(path: str) -> None:
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) - 3)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x55]))


def _older_version(path: str) -> None:
    with open(path, "r+b") as f:
        f.seek(len(foldercache.MAGIC))
        f.write(struct.pack("<H", 0))


def _other_uidvalidity(path: str) -> None:
    with open(path, "r+b") as f:
        f.seek(len(foldercache.MAGIC) + 2)
        f.write(struct.pack("<I", 12345))


HEADER = struct.Struct("<11sHI" + "QI" * 4)   # docs/cache.md, version 7
RECORDS, WIRE, FACETS, ORDERS = range(4)       # its sections, in order


def replace_section(path: str, which: int, section: bytes) -> None:
    """Put ``section`` in place of section ``which`` (RECORDS, WIRE,
    FACETS, ORDERS) of a cache file, with its length and CRC right."""
    with open(path, "rb") as f:
        data = f.read()
    magic, version, uidvalidity, *sizes = HEADER.unpack_from(data)
    sections, pos = [], HEADER.size
    for n in range(4):
        length = sizes[2 * n]
        sections.append(data[pos:pos + length])
        pos += length
    sections[which] = section
    head = HEADER.pack(magic, version, uidvalidity,
                       *(v for s in sections for v in (len(s), zlib.crc32(s))))
    with open(path, "wb") as f:
        f.write(head + b"".join(sections))


def read_section(path: str, which: int) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    sizes = HEADER.unpack_from(data)[3:]
    start = HEADER.size + sum(sizes[2 * n] for n in range(which))
    return data[start:start + sizes[2 * which]]


def _hostile_facets(path: str) -> None:
    """Replace the facets section of a cache file with columns of the
    wrong types and shapes, keeping its CRC right."""
    section = read_section(path, FACETS)
    count, names_len = struct.unpack_from("<II", section)
    keys_part = section[8:8 + 4 * count + names_len]
    wrong = {
        "sort:date": ["2024-01-01", "NaN", None, [1], True] * count,
        "sort:subject": [5, None, {"a": 1}, False] * count,
        "thread": [{"th": [1]}, [1, 2, 3, 4, 5], ["a", None, None, 7, False], "x"] * count,
        "sentday": [{"t": "2024-01-01T00:00:00"}, -3, 10**9, "2024-01-01"] * count,
        "text:from": [7, [], True] * count,
        "zzz": [1] * count,
    }
    columns = [(b"text:subject", b"[1,2]")]        # wrong length: the column is ignored
    columns += [(k.encode(), json.dumps(v[:count]).encode()) for k, v in wrong.items()]
    parts = [section[:8], keys_part, struct.pack("<H", len(columns))]
    for name, value in columns:
        parts += [struct.pack("<H", len(name)), name, struct.pack("<I", len(value)), value]
    replace_section(path, FACETS, b"".join(parts))


@pytest.mark.parametrize("mode", [0o664, 0o646], ids=["group-writable", "others-writable"])
def test_hostile_wire_values_are_not_trusted(world: World, mode: int) -> None:
    """A cache file someone else may write (a shared folder's) is checked
    form by form: what it holds cannot end a response early."""
    fill(world, 4)
    first = transcript(world)
    forget_memory()
    cache = FolderCache.for_folder(world.maildir())
    cache.ensure_loaded()
    assert cache.records
    for record in cache.records.values():
        record.envelope = b'(NIL)\r\n* 99 EXISTS\r\nz OK (x)'
        record.bodystructure = b"(\x00)"
    cache._write()
    os.chmod(cache_path(world), mode)
    # Facets of the wrong types must not reach SORT/THREAD's comparisons.
    _hostile_facets(cache_path(world))
    forget_memory()
    assert transcript(world) == first


def test_wire_forms_come_from_the_file_their_records_came_from(world: World) -> None:
    """The wire forms section is read when first needed; if another process
    replaced the file since the records were read, its wire forms (at other
    offsets: here, valid forms of other messages) are not used: the forms
    are computed again."""
    fill(world, 6)
    transcript(world)
    forget_memory()

    def numbered(n: int) -> bytes:   # the same length for every message
        return b'("%02d" NIL NIL NIL NIL NIL NIL NIL NIL NIL)' % n

    one = FolderCache(world.maildir())
    for n, record in enumerate(one.records.values()):
        record.envelope = record.bodystructure = numbered(n)
    one._write()
    forget_memory()
    first = FolderCache.for_folder(world.maildir())
    first.ensure_loaded()                       # records only, wire forms not read
    other = FolderCache(world.maildir())        # another process saves, in another order
    other._records = dict(reversed(other.records.items()))
    other._write()
    bases = list(one.records)
    record = first.record(bases[0], bases[0])
    assert record is not None and record.has_wire_forms()   # as the records say
    assert record.envelope is None and record.bodystructure is None
    forget_memory()
    again = FolderCache.for_folder(world.maildir()).record(bases[0], bases[0])
    assert again is not None and again.envelope == numbered(0)


def test_records_decoded_at_once_are_those_looked_up_one_by_one(world: World) -> None:
    """FolderCache.prepare (a FETCH 1:*) decodes the saved records in one
    pass: each must be what a lookup of its own gives, for records with
    and without a size and wire forms, and for those looked up before."""
    fill(world, 9)
    transcript(world)
    forget_memory()
    one = FolderCache(world.maildir())
    for n, record in enumerate(one.records.values()):
        if n % 3:
            record.envelope = record.bodystructure = None
            if n % 3 == 1:
                record.rfc822_size = None
        else:
            record.envelope = record.bodystructure = b'("%d" NIL)' % n
    one._write()

    def seen(cache: FolderCache, base: str) -> tuple[object, ...]:
        r = cache.record(base, base)
        assert r is not None
        return (r.file_size, r.mtime_ns, r.inode, r.rfc822_size, r.has_wire_forms(),
                r.envelope, r.bodystructure)

    bases = list(one.records)
    forget_memory()
    single = FolderCache(world.maildir())
    expected = {base: seen(single, base) for base in bases}
    forget_memory()
    bulk = FolderCache(world.maildir())
    looked_up_first = seen(bulk, bases[4])
    bulk.prepare(len(bases))
    assert bulk._saved is None                  # all taken
    assert {base: seen(bulk, base) for base in bases} == expected
    assert looked_up_first == expected[bases[4]]
    assert sum(v[4] for v in expected.values()) == 3
    assert sum(v[3] is None for v in expected.values()) == 3
    forget_memory()
    few = FolderCache(world.maildir())
    few.prepare(2)                              # a few of many: left to their lookups
    assert few._saved is not None
    assert {base: seen(few, base) for base in bases} == expected


def _nine_saved_two_without_size(world: World) -> FolderCache:
    """Nine messages' records saved, the 2nd and 6th without RFC822.SIZE
    (the cache as a process that wrote them has it)."""
    fill(world, 9)
    transcript(world)
    forget_memory()
    one = FolderCache(world.maildir())
    for n, record in enumerate(one.records.values()):
        if n % 4 == 1:
            record.rfc822_size = None
    one._write()
    return one


def test_sizeless_lists_the_messages_without_a_cached_size(world: World) -> None:
    """FolderCache.sizeless (which messages a FETCH of RFC822.SIZE must
    read) answers as has_size does, message by message: from the rows as
    loaded, with some records decoded, and with a name not in the file."""
    one = _nine_saved_two_without_size(world)
    bases = [*one.records, "1700000000.M1P1.elsewhere,S=10"]
    forget_memory()
    fresh = FolderCache(world.maildir())
    expected = [i for i, base in enumerate(bases[:-1]) if not fresh.has_size(base)]
    assert expected == [1, 5]
    assert fresh.sizeless(bases[:-1]) == expected       # the rows only
    assert fresh.sizeless(bases) == [*expected, 9]      # one name the file has not
    fresh.record(bases[0], bases[0])                    # one record decoded
    assert fresh.sizeless(bases) == [*expected, 9]


def test_rows_in_the_folder_s_order_are_read_without_the_index(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process asked about every message in the order the rows were
    saved (a warm FETCH 1:* of sizes and dates) reads the columns without
    decoding a name; in any other order, after a record was taken, or for
    some of the messages, the index answers -- the same values each way."""
    one = _nine_saved_two_without_size(world)
    bases = list(one.records)
    sizes_mtimes = {base: (rec.rfc822_size, rec.mtime_ns) for base, rec in one.records.items()}

    def fresh() -> FolderCache:
        cache = FolderCache(world.maildir())
        cache.ensure_loaded()
        return cache

    cache = fresh()
    assert cache._saved is not None and cache._saved.in_order(bases)
    assert cache.sizeless(bases) == [1, 5]
    assert cache._saved._index is None           # no name decoded
    assert cache.metadata_columns(bases) is None  # a size not cached
    for base in (bases[1], bases[5]):
        sizes_mtimes[base] = (7, sizes_mtimes[base][1])
        one.records[base].rfc822_size = 7
    one._write()
    cache = fresh()
    in_order = cache.metadata_columns(bases)
    assert cache._saved is not None and cache._saved._index is None
    assert in_order == ([sizes_mtimes[b][0] for b in bases], [sizes_mtimes[b][1] for b in bases])
    reordered = bases[::-1]
    assert not cache._saved.in_order(reordered)
    assert cache.metadata_columns(reordered) == (in_order[0][::-1], in_order[1][::-1])
    assert cache.sizeless(reordered) == []
    assert cache.metadata_columns(bases[:3]) is not None        # some: by the index
    cache = fresh()
    cache.record(bases[0], bases[0])             # a record taken: the rows no longer all there
    assert cache._saved is not None and not cache._saved.in_order(bases)
    with monkeypatch.context() as m:             # the index way gives what the rows way gave
        m.setattr(foldercache._SavedRecords, "in_order", lambda self, b: False)
        assert fresh().metadata_columns(bases) == in_order


def _garbage_wire(path: str) -> None:
    replace_section(path, WIRE, random.Random(9).randbytes(len(read_section(path, WIRE))))


def _short_wire(path: str) -> None:
    replace_section(path, WIRE, read_section(path, WIRE)[:100])


def _a_name_twice(path: str) -> None:
    """The records section whole (its CRC right), one base name in it twice."""
    data = read_section(path, RECORDS)
    count, _names_len = struct.unpack_from("<II", data, 0)
    names_at = 8 + count * foldercache._RECORD.size
    names = data[names_at:].split(b"\0")
    names[1] = names[0]
    blob = b"\0".join(names)
    replace_section(path, RECORDS, struct.pack("<II", count, len(blob)) + data[8:names_at] + blob)


@pytest.mark.parametrize("damage", [os.unlink, _truncate, _random_bytes, _flip_a_byte,
                                    _older_version, _other_uidvalidity,
                                    lambda p: open(p, "wb").close(), _garbage_wire,
                                    _short_wire, _a_name_twice],
                         ids=["deleted", "truncated", "random", "flipped", "old-version",
                              "uidvalidity", "empty", "wire-garbage", "wire-short",
                              "name-twice"])
def test_damaged_cache_is_rebuilt_silently(world: World,
                                           damage: Callable[[str], None]) -> None:
    fill(world)
    first = transcript(world)
    damage(cache_path(world))
    forget_memory()
    assert transcript(world) == first
    # ... and the rewritten file is whole again.
    forget_memory()
    cache = FolderCache.for_folder(world.maildir())
    cache.ensure_loaded()
    assert len(cache.records) == 24


RAW_UTF8 = ("From: Jörg Müller <j@example.org>\nSubject: Grüße aus Köln\n"
            "Content-Type: text/plain; name=\"Grüße.txt\"\n\nhallo\n").encode()


async def _fetch_lines(world: World, utf8: bool) -> list[bytes]:
    client = MemoryClient(world.context(), preauth=world.accounts["paul"])
    await client.line()
    if utf8:
        await client.command("e ENABLE UTF8=ACCEPT")
    await client.command("s SELECT INBOX")
    out = await client.command("f FETCH 1 (ENVELOPE BODYSTRUCTURE)")
    await client.command("z LOGOUT")
    await client.close()
    return out


def test_eight_bit_header_values_are_cached_for_both_kinds_of_client(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.deliver(RAW_UTF8)
    plain_first = asyncio.run(_fetch_lines(world, utf8=False))
    utf8_first = asyncio.run(_fetch_lines(world, utf8=True))
    assert b"{" in plain_first[0] and "Grüße".encode() in b"".join(plain_first)
    assert b'"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln"' in utf8_first[0]
    forget_memory()
    fetch_module = __import__("postillion.imap.session.fetch", fromlist=["x"])
    computed: list[str] = []
    real_envelope = fetch_module.envelope

    def counting(*args: Any) -> Any:
        computed.append("envelope")
        return real_envelope(*args)
    monkeypatch.setattr(fetch_module, "envelope", counting)
    # A new process: the client without UTF8=ACCEPT is served from the file
    # (literals and all), the UTF-8 client gets its quoted form recomputed.
    assert asyncio.run(_fetch_lines(world, utf8=False)) == plain_first
    assert computed == []
    assert asyncio.run(_fetch_lines(world, utf8=True)) == utf8_first
    assert computed == ["envelope"]


def test_facets_of_a_header_only_search_are_saved(world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """SEARCH FROM reads only headers, never a whole file: what it learned
    must still reach the cache file for the next process."""
    fill(world, 8)
    first = asyncio.run(_commands(world, "SEARCH FROM example.org"))
    forget_memory()
    cache = FolderCache.for_folder(world.maildir())
    cache.ensure_loaded()
    assert len(cache.records) == 8
    assert len(cache.search.column("text:from")) == 8
    forget_memory()
    facets_module = __import__("postillion.imap.search.facets", fromlist=["x"])

    def no_reading(*args: Any) -> Any:
        raise AssertionError("header read although its facet was saved")
    monkeypatch.setattr(facets_module, "extract_fields", no_reading)
    assert asyncio.run(_commands(world, "SEARCH FROM example.org")) == first


def test_each_process_adds_its_facet_kinds_to_the_file(world: World,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 12)
    commands = ["SORT (DATE) UTF-8 ALL", "SORT (SUBJECT) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL",
                "SEARCH FROM example.org", "SEARCH SENTSINCE 1-Jan-2024"]
    answers = []
    for command in commands:                # one new process per kind
        forget_memory()
        answers.append(asyncio.run(_commands(world, command)))
    forget_memory()
    asyncio.run(_commands(world, "FETCH 1:* (RFC822.SIZE)", commands[0]))
    facets_module = __import__("postillion.imap.search.facets", fromlist=["x"])

    def no_reading(*args: Any) -> Any:
        raise AssertionError("header read although its facet was saved")
    monkeypatch.setattr(facets_module, "extract_fields", no_reading)
    for command, answer in zip(commands, answers, strict=True):
        forget_memory()
        assert asyncio.run(_commands(world, command)) == answer


def test_a_command_using_only_saved_facets_writes_nothing(world: World) -> None:
    fill(world, 8)
    asyncio.run(_commands(world, "SORT (DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL"))
    stamp = os.stat(cache_path(world)).st_mtime_ns, os.stat(cache_path(world)).st_ino
    forget_memory()
    asyncio.run(_commands(world, "SORT (DATE) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL"))
    assert (os.stat(cache_path(world)).st_mtime_ns, os.stat(cache_path(world)).st_ino) == stamp


def test_facets_survive_a_save_by_a_process_that_never_used_them(world: World) -> None:
    """A later process that only FETCHes (records change, no facet kind
    asked for) writes the facets it read back unchanged."""
    fill(world, 8)
    sorted_first = asyncio.run(_commands(world, "SORT (SUBJECT) UTF-8 ALL"))
    forget_memory()
    asyncio.run(_commands(world, "FETCH 1:* (ENVELOPE)"))
    forget_memory()
    cache = FolderCache.for_folder(world.maildir())
    assert len(cache.search.column("sort:subject")) == 8
    cache.ensure_loaded()
    assert cache.records and all(r.envelope is not None for r in cache.records.values())
    forget_memory()
    assert asyncio.run(_commands(world, "SORT (SUBJECT) UTF-8 ALL")) == sorted_first


def test_cache_agrees_with_a_fresh_scan_after_other_processes(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 40)
    transcript(world)
    maildir = world.maildir()
    cur = os.path.join(maildir, "cur")
    names = sorted(os.listdir(cur))
    os.unlink(os.path.join(cur, names[0]))                     # expunged elsewhere
    os.rename(os.path.join(cur, names[1]),                     # flags changed elsewhere
              os.path.join(cur, names[1].split(":")[0] + ":2,FT"))
    world.deliver(MESSAGES[2])                                   # a new message
    with_cache = transcript(world)
    forget_memory()
    monkeypatch.setenv(foldercache.ENV_SWITCH, "0")
    os.unlink(cache_path(world))
    without = transcript(world)
    # Only \Recent differs: the first session after the delivery took it.
    def unrecent(lines: list[bytes]) -> list[bytes]:
        return [re.sub(rb" ?\\Recent ?", b"", line)
                for line in lines if not line.endswith(b" RECENT\r\n")]
    assert unrecent(with_cache) == unrecent(without)


# ---------------------------------------------------------------- sessions share

def test_sessions_share_one_message_list_and_see_each_other(world: World) -> None:
    fill(world, 10)

    async def main() -> None:
        ctx = world.context()
        a = MemoryClient(ctx, preauth=world.accounts["paul"])
        b = MemoryClient(ctx, preauth=world.accounts["paul"])
        await a.line()
        await b.line()
        await a.command("a1 SELECT INBOX")
        await b.command("b1 SELECT INBOX")
        key = (os.path.abspath(world.maildir()), False, True)
        shared = sharedfolder._registry[key]
        assert shared.users == 2
        out = await a.command("a2 STORE 2 +FLAGS (\\Flagged)")
        assert out[0].startswith(b"* 2 FETCH (FLAGS (")
        noop = await b.command("b2 NOOP")
        assert any(line.startswith(b"* 2 FETCH (FLAGS (") and b"\\Flagged" in line
                   for line in noop)
        await a.command("a3 STORE 3 +FLAGS (\\Deleted)")
        await a.command("a4 EXPUNGE")
        # FETCH may not send EXPUNGE: message 3 stays a ghost for b.
        fetched = await b.command("b3 FETCH 3:4 (UID)")
        assert not any(b"EXPUNGE" in line for line in fetched)
        noop = await b.command("b4 NOOP")
        assert b"* 3 EXPUNGE\r\n" in noop
        for client in (a, b):
            await client.command("z LOGOUT")
            await client.close()
        assert shared.users == 0

    asyncio.run(main())


# ---------------------------------------------------------------- no client stalls another

def test_noop_is_answered_while_another_session_searches(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 10)
    searching_started = threading.Event()
    noop_answered = threading.Event()
    real_search = engine.search

    def slow_search(*args: Any, **kwargs: Any) -> Any:
        searching_started.set()
        # The search goes on until the other session has been served.
        assert noop_answered.wait(30), "NOOP was not answered during SEARCH"
        return real_search(*args, **kwargs)
    monkeypatch.setattr(engine, "search", slow_search)

    async def main() -> None:
        ctx = world.context()
        a = MemoryClient(ctx, preauth=world.accounts["paul"])
        b = MemoryClient(ctx, preauth=world.accounts["paul"])
        await a.line()
        await b.line()
        await a.command("a1 SELECT INBOX")
        await b.command("b1 SELECT INBOX")
        a.send(b"a2 SEARCH TEXT hello\r\n")
        while not searching_started.is_set():
            await asyncio.sleep(0.01)
        noop = await b.command("b2 NOOP")
        assert noop[-1].startswith(b"b2 OK")
        assert b"a2 OK" not in a.writer.data   # the SEARCH is still running
        noop_answered.set()
        found = await a.until(b"a2")
        assert found[-1].startswith(b"a2 OK")
        for client in (a, b):
            await client.command("z LOGOUT")
            await client.close()

    asyncio.run(main())


class HashingWriter:
    """A StreamWriter that keeps nothing: it hashes what it is given."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.tail = bytearray()   # the last bytes, to find tagged answers
        self.changed = asyncio.Event()
        self.largest_write = 0

    def write(self, data: bytes) -> None:
        self.largest_write = max(self.largest_write, len(data))
        self.digest.update(data)
        self.tail = (self.tail + data)[-4096:]
        self.changed.set()

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def close(self) -> None:
        self.changed.set()

    async def wait_closed(self) -> None:
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def test_fetch_of_a_big_message_streams_it(world: World) -> None:
    rng = random.Random(1)
    line = b"".join(bytes([rng.randrange(97, 123)]) for _ in range(75)) + b"\n"
    body = b"Subject: big\n\n" + line * (24 * 1024 * 1024 // len(line)) + b"end\r\nlast\r"
    world.deliver(body, flags="S")
    expected_literal = to_crlf(body)

    async def until(writer: HashingWriter, marker: bytes) -> None:
        while marker not in writer.tail:
            writer.changed.clear()
            await asyncio.wait_for(writer.changed.wait(), 30)

    async def main() -> tuple[str, int, int]:
        reader = asyncio.StreamReader()
        writer = HashingWriter()
        task = asyncio.get_running_loop().create_task(run_session(
            reader, writer, world.context(), preauth=world.accounts["paul"]))  # type: ignore[arg-type]
        reader.feed_data(b"a SELECT INBOX\r\n")
        await until(writer, b"a OK")
        writer.digest = hashlib.sha256()
        tracemalloc.start()
        reader.feed_data(b"b FETCH 1 (BODY.PEEK[])\r\n")
        await until(writer, b"b OK FETCH completed.\r\n")
        _now, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        reader.feed_eof()
        await asyncio.wait_for(task, 10)
        return writer.digest.hexdigest(), peak, writer.largest_write

    digest, peak, largest = asyncio.run(main())
    wanted = hashlib.sha256(b"* 1 FETCH (BODY[] {%d}\r\n" % len(expected_literal)
                            + expected_literal + b")\r\nb OK FETCH completed.\r\n")
    assert digest == wanted.hexdigest()
    assert largest < 1024 * 1024
    assert peak < 8 * 1024 * 1024 < len(expected_literal)


# ---------------------------------------------------------------- IDLE at scale

def test_two_hundred_idle_sessions_all_hear_one_delivery_from_one_scan(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, 20)
    scans: list[str] = []
    real_scan = uiddb.scan_and_assign

    def counting_scan(folder_dir: str, **kwargs: Any) -> uiddb.FolderScan:
        scans.append(folder_dir)
        return real_scan(folder_dir, **kwargs)
    monkeypatch.setattr(uiddb, "scan_and_assign", counting_scan)

    async def main() -> None:
        notifier = make_notifier()
        ctx = replace(world.context(), notifier=notifier)
        clients = [MemoryClient(ctx, preauth=world.accounts["paul"]) for _ in range(200)]
        for client in clients:
            await client.line()
        await asyncio.gather(*(c.command("s SELECT INBOX") for c in clients))

        async def enter_idle(c: MemoryClient) -> None:
            c.send(b"i IDLE\r\n")
            assert (await c.line()).startswith(b"+ ")
        await asyncio.gather(*(enter_idle(c) for c in clients))
        # The sessions' own rescans are over; count only what the delivery causes.
        await asyncio.sleep(0.2)
        scans.clear()
        await asyncio.to_thread(delivery.deliver, world.maildir(), b"Subject: new\n\nx\n",
                                durable=False)

        async def hears_exists(c: MemoryClient) -> bytes:
            return await c.line(timeout=20)
        heard = await asyncio.gather(*(hears_exists(c) for c in clients))
        assert all(line == b"* 21 EXISTS\r\n" for line in heard)
        assert len(scans) <= 3, f"{len(scans)} scans for one delivery"

        async def leave(c: MemoryClient) -> None:
            c.send(b"d DONE\r\n")
            await c.until(b"i")
            await c.command("z LOGOUT")
            await c.close()
        await asyncio.gather(*(leave(c) for c in clients))
        notifier.close()

    asyncio.run(main())

