"""ENVELOPE, BODYSTRUCTURE and RFC822.SIZE of many messages, computed in
worker processes.

A first ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` over a big folder parses
every message: about 0.07 ms each in Python, under one GIL.  When many
messages lack cached wire forms, the session hands their file paths to a
pool of worker processes (one per CPU) in chunks, in order, and puts what
comes back into the folder cache before the batch that needs it is
answered; the answer itself is built exactly as for a cached message.  A
first ``FETCH 1:* (FLAGS RFC822.SIZE)`` has every file read and its line
ends counted the same way.

What a worker returns is the wire form a client without UTF8=ACCEPT gets
(the form the folder cache keeps), the file's identity (size, mtime,
inode, from ``fstat`` of the file it read) and RFC822.SIZE.  A message the
worker could not read (renamed or expunged meanwhile) or parse comes back
as None and is computed in the session as before, so the worker pool
changes only where the CPU time is spent, never an answer.

The pool is :mod:`postillion.imap.workers`; a broken pool is dropped and
the work done in-process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from postillion.imap import workers
from postillion.imap.filework import WireForms, compute
from postillion.imap.foldercache import FolderCache

if TYPE_CHECKING:
    from postillion.imap.selected import MessageEntry

log = logging.getLogger(__name__)

#: Messages without cached wire forms for which the pool is worth starting.
MIN_MESSAGES = 1000
#: Messages per task sent to a worker.
CHUNK = 200
#: Tasks in flight per worker: results wait for the answer to catch up,
#: so a slow reader holds a few chunks, never the folder.
AHEAD = 3


@dataclass
class _Chunk:
    first: int                          # index in the FETCH's message list
    bases: list[str]
    paths: list[str]
    wire: bool
    future: asyncio.Future[list[WireForms | None]] | None = None


class Precomputed:
    """The chunks of one FETCH, sent to the pool a few ahead of the answer
    and consumed in order.

    A pool still starting (its fork server imports the parsers: ~0.2 s) is
    not waited for: until it is up, chunks are computed one at a time in a
    thread of the session, on the CPU the fork server leaves, and the rest
    go to the workers once they are there (or stay in the session's thread
    if there are to be none)."""

    def __init__(self, cache: FolderCache, pool: workers.Pool | None,
                 chunks: list[_Chunk], ahead: int,
                 starting: asyncio.Future[workers.Pool | None] | None = None) -> None:
        self._cache = cache
        self._pool = pool
        self._chunks = chunks
        self._ahead = ahead
        self._loop = asyncio.get_running_loop()
        self._starting = starting
        self._local: asyncio.Future[list[WireForms | None]] | None = None
        if starting is not None:
            starting.add_done_callback(self._started)
        self._submit()

    def _started(self, starting: asyncio.Future[workers.Pool | None]) -> None:
        self._starting = None
        if not starting.cancelled() and starting.exception() is None:
            self._pool = starting.result()
        self._submit()

    def _launch(self, chunk: _Chunk) -> bool:
        """Start computing a chunk: in the pool if it is up, else in the
        session's thread if that is free.  False: not started."""
        if self._pool is not None:
            try:
                chunk.future = self._loop.run_in_executor(self._pool, compute, chunk.paths,
                                                          chunk.wire)
                return True
            except Exception as exc:  # a pool that died since: on without it
                log.warning("imap FETCH: worker processes failed (%r); parsing in-process",
                            exc)
                workers.drop(self._pool)
                self._pool = None
        if self._local is not None and not self._local.done():
            return False
        chunk.future = self._local = asyncio.ensure_future(
            asyncio.to_thread(compute, chunk.paths, chunk.wire))
        self._local.add_done_callback(lambda _done: self._submit())
        return True

    def _submit(self) -> None:
        for chunk in self._chunks[:self._ahead]:
            if chunk.future is None and not self._launch(chunk):
                break

    async def ready_through(self, end: int) -> None:
        """Every message before index ``end`` is in the cache (or left to
        the session)."""
        while self._chunks and self._chunks[0].first < end:
            chunk = self._chunks.pop(0)
            self._submit()
            while chunk.future is None:
                # The session's thread is busy with the chunk before.
                assert self._local is not None
                await asyncio.wait([self._local])
                self._launch(chunk)
            assert chunk.future is not None
            try:
                results = await chunk.future
            except Exception as exc:  # the session computes what is left
                log.warning("imap FETCH: worker processes failed (%r); parsing in-process",
                            exc)
                if isinstance(exc, workers.BROKEN) and self._pool is not None:
                    workers.drop(self._pool)
                self.cancel()
                return
            learned = 0
            for base, forms in zip(chunk.bases, results, strict=True):
                if forms is not None:
                    self._cache.learned(base, forms.file_size, forms.mtime_ns, forms.inode,
                                        forms.rfc822_size, forms.envelope, forms.bodystructure)
                    learned += 1
            if learned:
                self._cache.changed(learned)

    def cancel(self) -> None:
        for chunk in self._chunks:
            if chunk.future is not None:
                chunk.future.cancel()
        self._chunks.clear()


def missing(cache: FolderCache, entries: Sequence[MessageEntry],
            path_of: Callable[[MessageEntry], str],
            wire: bool) -> list[tuple[int, str, str]]:
    """The messages of a FETCH (in answer order) whose ENVELOPE or
    BODYSTRUCTURE (``wire``), else whose RFC822.SIZE, is not cached: their
    index, base name and path.  For a worker thread (the first call reads
    the cache file's records)."""
    if len(entries) < MIN_MESSAGES or workers.count() == 0:
        return []
    if not wire:
        return [(i, entries[i].base, path_of(entries[i]))
                for i in cache.sizeless([entry.base for entry in entries])]
    known = cache.has_wire_forms
    return [(i, entry.base, path_of(entry)) for i, entry in enumerate(entries)
            if not known(entry.base)]


def _start_pool() -> workers.Pool | None:
    return workers.pool()


async def start(cache: FolderCache, todo: Sequence[tuple[int, str, str]],
                wire: bool) -> Precomputed | None:
    """Send ``todo`` (from :func:`missing`) to the worker pool, starting
    it if need be; None when too few messages are missing to be worth it."""
    if len(todo) < MIN_MESSAGES:
        return None
    chunks = [_Chunk(part[0][0], [base for _i, base, _p in part], [p for _i, _b, p in part],
                     wire)
              for part in (todo[at:at + CHUNK] for at in range(0, len(todo), CHUNK))]
    ahead = AHEAD * max(1, workers.count())
    pool = workers.running()
    if pool is not None:
        return Precomputed(cache, pool, chunks, ahead)
    # The first call starts the workers, in a thread: the session computes
    # the first chunks meanwhile.
    starting = asyncio.ensure_future(asyncio.to_thread(_start_pool))
    return Precomputed(cache, None, chunks, ahead, starting)
