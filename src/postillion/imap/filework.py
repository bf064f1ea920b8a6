"""What the worker processes do with message files: the tasks of
:mod:`postillion.imap.wireforms` (ENVELOPE, BODYSTRUCTURE and
RFC822.SIZE) and of :mod:`postillion.imap.searchwork` (SEARCH of message
text, header values for SORT, THREAD and SEARCH FROM).

The pool's fork server (:mod:`postillion.imap.workers`) imports this
module, and what it imports, before it forks the first worker: the
message parsers, the search engine and the wire forms of ENVELOPE and
BODYSTRUCTURE, nothing of the session, the folder cache or asyncio.  A
first FETCH ENVELOPE over a big folder is parsed by the session alone
until the workers are up, so the fewer modules here, the sooner they help.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from postillion.imap.protocol.bodywire import body_wire, envelope_wire
from postillion.imap.search.evaluate import Limits, MessageState, Program, compile_program
from postillion.imap.search.facets import FacetReader, SearchCache, compute_facets, facet_for_key
from postillion.imap.search.maildirview import MaildirMessage, internaldate_of
from postillion.message import body_structure, envelope_from_headers, parse_message
from postillion.message.crlf import crlf_length
from postillion.message.headers import read_header_block


class WireForms(NamedTuple):
    """What a worker learned of one message file."""

    file_size: int
    mtime_ns: int
    inode: int
    rfc822_size: int
    envelope: bytes | None
    bodystructure: bytes | None


def _cacheable(wire: bytes) -> bytes | None:
    """``wire`` if the folder cache may keep it (see ``wire_cacheable``).
    The writers here put any value with CR, LF, NUL or 8-bit bytes in a
    literal and every other one in quotes, so what they write fails that
    check only for a NUL inside a literal (a test holds them to it): one
    scan, not the literal-by-literal walk a value read from the cache file
    gets (~4 us a message, 5% of a first parse)."""
    return None if b"\0" in wire else wire


def _read(path: str) -> tuple[os.stat_result, bytes]:
    """A file's ``fstat`` and its bytes up to the end.  Plain descriptor
    calls: a file object costs a few microseconds more per message, and
    a worker reads thousands of files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        data = os.read(fd, st.st_size)
        while True:  # to the end, even of a file that grew meanwhile
            more = os.read(fd, 65536)
            if not more:
                return st, data
            data += more
    finally:
        os.close(fd)


def compute(paths: Sequence[str], wire: bool = True) -> list[WireForms | None]:
    """The worker's task: each file's identity, RFC822.SIZE and (with
    ``wire``) wire forms, or None."""
    out: list[WireForms | None] = []
    for path in paths:
        try:
            st, data = _read(path)
            if not wire:
                out.append(WireForms(st.st_size, st.st_mtime_ns, st.st_ino, crlf_length(data),
                                     None, None))
                continue
            # One parse for both: the root entity's header block is the
            # one ENVELOPE reads (envelope() would parse it again).
            root = parse_message(data)
            bodystructure = _cacheable(body_wire(body_structure(root)))
            # After BODYSTRUCTURE, which counted the parts: root.size adds
            # those up instead of scanning the whole file again.
            out.append(WireForms(
                st.st_size, st.st_mtime_ns, st.st_ino, root.size,
                _cacheable(envelope_wire(envelope_from_headers(root.headers))), bodystructure))
        except Exception:  # the session computes it again, and reports what fails
            out.append(None)
    return out


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
            with open(path, "rb") as stream:
                st = os.fstat(stream.fileno())
                header = read_header_block(stream)
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
