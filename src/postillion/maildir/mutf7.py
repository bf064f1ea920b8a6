"""Modified UTF-7 (RFC 3501 section 5.1.3), the IMAP wire form of folder names.

Courier 5 stores folder names as UTF-8 on disk and converts each level to and
from modified UTF-7 on the wire (unless the client enabled UTF8=ACCEPT).
"""

from __future__ import annotations

import base64
import binascii


class MUTF7Error(ValueError):
    """The text is not valid modified UTF-7."""


def _b64_encode(chunk: str) -> str:
    raw = chunk.encode("utf-16-be")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode(text: str) -> str:
    """UTF-8 text to modified UTF-7."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            out.append("&" + _b64_encode("".join(pending)) + "-")
            pending.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode(text: str) -> str:
    """Modified UTF-7 to text; raises :class:`MUTF7Error` on malformed input."""
    out: list[str] = []
    i = 0
    n = len(text)
    last_shift_end = -1
    while i < n:
        ch = text[i]
        if ord(ch) < 0x20 or ord(ch) > 0x7E:
            raise MUTF7Error(f"character {ch!r} outside printable US-ASCII")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = text.find("-", i + 1)
        if end < 0:
            raise MUTF7Error("unterminated '&' shift")
        if end == i + 1:
            out.append("&")
            i = end + 1
            continue
        if last_shift_end == i:
            # Two shifted sequences in a row: the encoder makes one, so this
            # spelling would be a second name for the same folder.
            raise MUTF7Error("adjacent shifted sequences")
        b64 = text[i + 1 : end].replace(",", "/")
        if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
               for c in b64):
            raise MUTF7Error("invalid base64 in shifted sequence")
        try:
            raw = base64.b64decode(b64 + "=" * (-len(b64) % 4))
        except binascii.Error as exc:
            raise MUTF7Error("truncated base64 in shifted sequence") from exc
        if len(raw) % 2:
            raise MUTF7Error("odd number of bytes in shifted sequence")
        try:
            decoded = raw.decode("utf-16-be")
        except UnicodeDecodeError as exc:
            raise MUTF7Error("invalid UTF-16 in shifted sequence") from exc
        if encode(decoded) != text[i : end + 1]:
            # RFC 3501: printable ASCII must not be shifted, and the encoding
            # must be the shortest; anything else has two spellings.
            raise MUTF7Error("non-canonical shifted sequence")
        out.append(decoded)
        i = end + 1
        last_shift_end = i
    return "".join(out)
