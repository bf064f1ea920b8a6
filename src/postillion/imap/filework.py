"""What the worker processes do with message files for
:mod:`postillion.imap.wireforms`: ENVELOPE, BODYSTRUCTURE and RFC822.SIZE.
(The search tasks are :mod:`postillion.imap.filesearch`.)

The pool's fork server (:mod:`postillion.imap.workers`) imports this
module, and what it imports, before it forks the first worker: the
message parsers and the wire forms of ENVELOPE and BODYSTRUCTURE, nothing
of the session, the folder cache, the search engine or asyncio.  A first
FETCH ENVELOPE over a big folder is parsed by the session alone until the
workers are up, so the fewer modules here, the sooner they help.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

from postillion.imap.protocol.bodywire import body_wire, envelope_wire
from postillion.message import body_structure, envelope_from_headers, parse_message
from postillion.message.crlf import crlf_length


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
