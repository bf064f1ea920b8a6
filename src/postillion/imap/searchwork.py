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

Header-only programs (SEARCH FROM ...) stay in the session: their values
are cached per folder and are cheap the second time.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from postillion.imap import workers
from postillion.imap.search import Program
from postillion.imap.search.evaluate import (
    CONTENT,
    Limits,
    MessageState,
    compile_program,
)
from postillion.imap.search.facets import FacetReader, SearchCache
from postillion.imap.search.maildirview import MaildirMessage

log = logging.getLogger(__name__)

#: Messages for which the pool is worth using.
MIN_MESSAGES = 2000
#: Messages per task sent to a worker.
CHUNK = 500


class Candidate(NamedTuple):
    """One message as the session sees it now."""

    seq: int
    uid: int
    flags: frozenset[str]             # with keywords and \\Recent
    path: str


@dataclass(frozen=True)
class Question:
    """A search program and what its numbers refer to."""

    program: Program
    max_seq: int
    max_uid: int
    saved_uids: frozenset[int]
    charset: str | None

    def limits(self) -> Limits:
        return Limits(self.max_seq, self.max_uid, self.saved_uids, self.charset, None)


def reads_content(question: Question) -> bool:
    """Whether the program may need messages' text (raises BadCharset)."""
    return compile_program(question.program, question.limits()).cost >= CONTENT


def search_chunk(question: Question,
                 candidates: Sequence[Candidate]) -> tuple[list[int], list[int]]:
    """The worker's task: the indexes of the candidates that match, and of
    those whose file could not be read."""
    test = compile_program(question.program, question.limits())
    reader = FacetReader(SearchCache(), test.facets)
    matched: list[int] = []
    failed: list[int] = []
    for index, candidate in enumerate(candidates):
        try:
            # INTERNALDATE is the file's mtime, as the session reports it.
            stamp = os.stat(candidate.path).st_mtime_ns
            view = MaildirMessage(candidate.seq, candidate.uid, candidate.path,
                                  candidate.flags,
                                  datetime.datetime.fromtimestamp(stamp / 1e9, datetime.UTC))
            if test.run(MessageState(view, reader)):
                matched.append(index)
        except OSError:
            failed.append(index)
    return matched, failed


async def search(question: Question, candidates: Sequence[Candidate],
                 pool: workers.Pool) -> tuple[list[int], list[int]] | None:
    """The indexes of the candidates that match and of those the workers
    could not read, in order; None when the pool failed (the caller
    searches in-process)."""
    loop = asyncio.get_running_loop()
    futures = []
    try:
        for at in range(0, len(candidates), CHUNK):
            futures.append(loop.run_in_executor(pool, search_chunk, question,
                                                candidates[at:at + CHUNK]))
        results = await asyncio.gather(*futures)
    except Exception as exc:  # the session searches instead
        log.warning("imap SEARCH: worker processes failed (%r); searching in-process", exc)
        if isinstance(exc, workers.BROKEN):
            workers.drop(pool)
        return None
    finally:
        for future in futures:
            future.cancel()
    matched: list[int] = []
    failed: list[int] = []
    for number, (found, lost) in enumerate(results):
        offset = number * CHUNK
        matched.extend(offset + i for i in found)
        failed.extend(offset + i for i in lost)
    return matched, failed


def question(program: Program, *, max_seq: int, max_uid: int,
             saved_uids: Collection[int] | None, charset: str | None) -> Question:
    return Question(program, max_seq, max_uid, frozenset(saved_uids or ()), charset)
