"""SEARCH of message text over many messages, in worker processes.

``SEARCH TEXT`` (or BODY) over a 100,000-message folder reads and decodes
every message: seconds of Python under the session's one GIL.  When a
program needs message content and the folder is big, the session sends
the candidates (sequence number, UID, flags, file path) in chunks to the
worker pool (:mod:`postillion.imap.workers`); each worker runs the same
compiled program over its chunk with the files read from disk and sends
back which matched.  The engine is the same code either way, so the
answer is too.  A message a worker could not read (renamed or expunged
meanwhile) comes back as such and is searched in the session as before.

The header values that SEARCH FROM, SORT and THREAD read (facets, cached
per folder) are computed the same way the first time, when many messages
lack them: the workers read each header block once and return the
values, which go into the folder's search cache (and so into the cache
file) before the engine runs; it then finds every value cached.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar

from postillion.imap import workers
from postillion.imap.filesearch import Candidate, FileFacets, Question, facet_chunk, search_chunk
from postillion.imap.search import Program
from postillion.imap.search.evaluate import CONTENT, compile_program
from postillion.imap.search.facets import Facet, SearchCache

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The module of the workers' search tasks, for a pool started here to
#: preload (see workers.pool).
_TASKS = (search_chunk.__module__,)

#: Messages for which the pool is worth using.
MIN_MESSAGES = 2000
#: Messages per task sent to a worker.
CHUNK = 500
#: Messages per task when only header values are computed.
FACET_CHUNK = 1000


def reads_content(question: Question) -> bool:
    """Whether the program may need messages' text (raises BadCharset)."""
    return compile_program(question.program, question.limits()).cost >= CONTENT


def _consume(done: asyncio.Future[Any]) -> None:
    if not done.cancelled():
        done.exception()


async def _in_chunks(task: Callable[..., T], calls: Iterable[tuple[object, ...]],
                    what: str) -> list[T] | None:
    """Run ``task`` once per argument tuple in the worker pool; the results
    in order, or None when the pool failed (the caller works in-process).

    A pool not started yet (its fork server imports the parsers: 0.2-0.5
    s) is started in a thread and not waited for: until it is up, chunks
    are computed one at a time in a thread of the session, on the CPU the
    fork server leaves, and the rest go to the workers once they are there
    (as the first FETCH of ENVELOPE does, see wireforms.Precomputed)."""
    loop = asyncio.get_running_loop()
    todo = list(calls)
    results: list[T] = []
    pool = workers.running()
    starting = None if pool is not None else asyncio.ensure_future(
        asyncio.to_thread(workers.pool, _TASKS))
    futures: list[asyncio.Future[T]] = []
    try:
        if starting is not None:
            while len(results) < len(todo) and not starting.done():
                results.append(await asyncio.to_thread(task, *todo[len(results)]))
            if len(results) == len(todo):
                # The pool goes on starting, for the next command; a start
                # that fails is logged by workers.pool(), not left unread.
                starting.add_done_callback(_consume)
                return results
            pool = await starting
        for args in todo[len(results):]:
            futures.append(loop.run_in_executor(pool, task, *args) if pool is not None
                           else asyncio.ensure_future(asyncio.to_thread(task, *args)))
        return results + list(await asyncio.gather(*futures))
    except Exception as exc:  # the session does the work instead
        log.warning("imap %s: worker processes failed (%r); working in-process", what, exc)
        if isinstance(exc, workers.BROKEN) and pool is not None:
            workers.drop(pool)
        return None
    finally:
        for future in futures:
            future.cancel()


async def search(question: Question, candidates: Sequence[Candidate],
                 ) -> tuple[list[int], list[int]] | None:
    """The indexes of the candidates that match and of those the workers
    could not read, in order; None when the pool failed (the caller
    searches in-process)."""
    results = await _in_chunks(
        search_chunk,
        ((question, candidates[at:at + CHUNK]) for at in range(0, len(candidates), CHUNK)),
        "SEARCH")
    if results is None:
        return None
    matched: list[int] = []
    failed: list[int] = []
    for number, (found, lost) in enumerate(results):
        offset = number * CHUNK
        matched.extend(offset + i for i in found)
        failed.extend(offset + i for i in lost)
    return matched, failed


async def facets(keys: Sequence[str], items: Sequence[tuple[int, str]],
                 ) -> list[FileFacets | None] | None:
    """The facets named by ``keys`` of each ``(uid, path)``, in order;
    None when the pool failed (the engine computes them in the session)."""
    results = await _in_chunks(
        facet_chunk,
        ((tuple(keys), items[at:at + FACET_CHUNK]) for at in range(0, len(items), FACET_CHUNK)),
        "SORT/THREAD/SEARCH")
    if results is None:
        return None
    return [found for chunk in results for found in chunk]


def missing_facets(cache: SearchCache, wanted: Sequence[Facet[object]],
                   keys: Sequence[tuple[int, str]]) -> list[int]:
    """Positions of the messages (by cache key) lacking any of ``wanted``."""
    missing: set[int] = set()
    for facet in wanted:
        column = cache.column(facet.key)
        if all(map(column.__contains__, keys)):
            continue  # (told in C: the usual answer once the cache holds them)
        missing.update([i for i, key in enumerate(keys) if key not in column])
    return sorted(missing)


def question(program: Program, *, max_seq: int, max_uid: int,
             saved_uids: Collection[int] | None, charset: str | None) -> Question:
    return Question(program, max_seq, max_uid, frozenset(saved_uids or ()), charset)
