"""The CRLF view of a stored message.

Messages sit on disk with bare LF line ends, but IMAP counts every line end
as CRLF: RFC822.SIZE, section sizes, line counts and <partial> offsets all
refer to the message as if each bare LF were CRLF.  These helpers answer
those questions from the stored bytes without building the CRLF copy
unless the bytes themselves are wanted.  A line end already written as CRLF
stays one CRLF; a lone CR is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# Chunks of converted text handed out for big sections.  64 KiB keeps the
# per-chunk overhead negligible and the peak memory small.
CHUNK_SIZE = 65536


def crlf_length(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Length of ``data[start:end]`` in the CRLF view.

    ``start`` must not split a CRLF pair (part boundaries are line starts).
    """
    if end is None:
        end = len(data)
    if end <= start:
        return 0
    # Line ends counted in place.  (Splitting a copy at them and counting
    # the pieces, or measuring a copy with them replaced away, was tried:
    # faster on ranges alone, slower over the first parse of real mail.)
    length = end - start + data.count(b"\n", start, end)
    if data.find(b"\r", start, end) < 0:
        return length  # the common case: no CR at all, one fast scan
    return length - data.count(b"\r\n", start, end)


def line_count(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Number of line ends in ``data[start:end]`` (what BODYSTRUCTURE calls lines)."""
    if end is None:
        end = len(data)
    return data.count(b"\n", start, end) if end > start else 0


def to_crlf(data: bytes) -> bytes:
    """``data`` with every bare LF turned into CRLF."""
    if b"\r" not in data:
        # The usual stored message (Maildir keeps bare LFs): one pass
        # (memchr) to find no CR, then one replace; the general case below
        # searches for a two-byte pattern, several times slower.
        return data.replace(b"\n", b"\r\n")
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def crlf_chunks(data: bytes, start: int = 0, end: int | None = None,
                chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """``data[start:end]`` in the CRLF view, as chunks cut at line ends."""
    if end is None:
        end = len(data)
    pos = start
    while pos < end:
        stop = min(pos + chunk_size, end)
        if stop < end:
            cut = data.rfind(b"\n", pos, stop)
            # Cut after a LF so that a CRLF pair is never split; a huge
            # line without LF is cut anywhere except between CR and LF.
            if cut >= pos:
                stop = cut + 1
            elif data[stop - 1:stop] == b"\r":
                stop -= 1 if stop - 1 > pos else -1
        yield to_crlf(data[pos:stop])
        pos = stop


def partial(chunks: Iterable[bytes], offset: int, length: int | None = None) -> Iterator[bytes]:
    """The ``<offset.length>`` slice of a stream of chunks (``None``: to the end)."""
    if length is not None and length <= 0:
        return
    pos = 0
    remaining = length
    for chunk in chunks:
        chunk_end = pos + len(chunk)
        if chunk_end <= offset:
            pos = chunk_end
            continue
        piece = chunk[max(0, offset - pos):]
        pos = chunk_end
        if remaining is not None:
            piece = piece[:remaining]
            remaining -= len(piece)
        if piece:
            yield piece
        if remaining is not None and remaining <= 0:
            return


def crlf_slice(data: bytes, start: int, end: int, offset: int = 0,
               length: int | None = None) -> bytes:
    """``<offset.length>`` of ``data[start:end]`` in the CRLF view, as one bytes value."""
    return b"".join(partial(crlf_chunks(data, start, end), offset, length))
