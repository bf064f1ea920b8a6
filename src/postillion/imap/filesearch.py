"""What the worker processes do with message files for
:mod:`postillion.imap.searchwork`: SEARCH of message text, and the header
values (facets) that SORT, THREAD and SEARCH FROM read.

A pool started for a search imports this module in its fork server; one
started by a FETCH (:mod:`postillion.imap.filework` alone, the sooner up)
has each worker import it with its first search task.  Nothing here
imports the session, the folder cache or asyncio.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from postillion.imap.search.evaluate import Limits, MessageState, Program, compile_program
from postillion.imap.search.facets import FacetReader, SearchCache, compute_facets, facet_for_key
from postillion.imap.search.maildirview import MaildirMessage, internaldate_of
from postillion.message.headers import read_header_fd


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


def _view(seq: int, uid: int, path: str, flags: frozenset[str], mtime_ns: int) -> MaildirMessage:
    """A message file as the engine sees it; INTERNALDATE as the session's."""
    return MaildirMessage(seq, uid, path, flags, internaldate_of(mtime_ns))


class FileFacets(NamedTuple):
    """A worker's facet values of one message, with the file's identity."""

    file_size: int
    mtime_ns: int
    inode: int
    values: list[object]


def facet_chunk(keys: Sequence[str],
                items: Sequence[tuple[int, str]]) -> list[FileFacets | None]:
    """The worker's task: the facets named by ``keys`` of each ``(uid,
    path)``, from one read of its header block; None for a file it could
    not read."""
    facets = [facet_for_key(key) for key in keys]
    if any(f is None for f in facets):
        raise ValueError(f"unknown facet in {keys}")
    known = [f for f in facets if f is not None]
    out: list[FileFacets | None] = []
    for uid, path in items:
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                st = os.fstat(fd)
                header = read_header_fd(fd)
            finally:
                os.close(fd)
            view = _view(0, uid, path, frozenset(), st.st_mtime_ns)
            out.append(FileFacets(st.st_size, st.st_mtime_ns, st.st_ino,
                                  compute_facets(known, header, view)))
        except OSError:
            out.append(None)
    return out


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
            view = _view(candidate.seq, candidate.uid, candidate.path, candidate.flags,
                         os.stat(candidate.path).st_mtime_ns)
            if test.run(MessageState(view, reader)):
                matched.append(index)
        except OSError:
            failed.append(index)
    return matched, failed
