"""What the search engine needs from a message, and the CHARSET rule.

The session implements :class:`MessageView` over its selected folder; the
engine never touches files or sockets itself.
"""

from __future__ import annotations

import codecs
from datetime import datetime
from typing import Protocol

from postillion.message.decode import decode_raw

#: The charsets SEARCH, SORT and THREAD accept, in the order the
#: ``[BADCHARSET (...)]`` response code lists them.
SUPPORTED_CHARSETS = ("UTF-8", "US-ASCII")


class MessageView(Protocol):
    """One message of the selected folder, as the session sees it now.

    ``internaldate`` should be timezone-aware; a naive value is taken as
    the server's local time.  ``filename`` is the message's name in
    ``cur/``; with ``uid`` it keys the header cache, so that a rebuilt
    uid database (new UIDs for old files) never serves stale headers.
    """

    @property
    def seq(self) -> int: ...
    @property
    def uid(self) -> int: ...
    @property
    def flags(self) -> frozenset[str]: ...          # IMAP flags incl. keywords and \Recent
    @property
    def size(self) -> int: ...                      # RFC822.SIZE (CRLF view)
    @property
    def internaldate(self) -> datetime: ...
    @property
    def filename(self) -> str: ...
    @property
    def cache_key(self) -> tuple[int, str]: ...      # (uid, filename without ":2,...")

    def header_bytes(self) -> bytes:
        """The raw header block (a file's first bytes up to the blank line)."""
        ...

    def full_bytes(self) -> bytes:
        """The whole stored message."""
        ...


class BadCharset(Exception):
    """SEARCH/SORT/THREAD named a charset we do not decode.  The session
    answers ``NO [BADCHARSET (UTF-8 US-ASCII)]``."""

    def __init__(self, charset: str) -> None:
        super().__init__(f"unsupported charset {charset}")
        self.charset = charset
        self.supported = SUPPORTED_CHARSETS

    @property
    def response_code(self) -> str:
        """The text of the response code, e.g. ``BADCHARSET (UTF-8 US-ASCII)``."""
        return "BADCHARSET (" + " ".join(self.supported) + ")"


def check_charset(charset: str | None) -> None:
    """Raise :class:`BadCharset` unless we can decode ``charset``.

    As Courier (which converts any charset iconv knows), every charset
    Python's codecs know is accepted; None (no CHARSET given) is too.  The
    BADCHARSET answer lists the two every client can use.
    """
    if charset is None or charset.upper() in SUPPORTED_CHARSETS:
        return
    try:
        info = codecs.lookup(charset)
    except LookupError:
        raise BadCharset(charset) from None
    if not getattr(info, "_is_text_encoding", True):
        raise BadCharset(charset)  # base64_codec and friends are not charsets


def decode_search_string(value: bytes, charset: str | None) -> str:
    """A search string from the command as text.

    US-ASCII and a missing CHARSET are read as UTF-8 too: with
    UTF8=ACCEPT clients send UTF-8 without saying so, and a stray 8-bit
    byte from an old client is better read than refused.  Bytes that are
    not UTF-8 are taken as Latin-1 (they still match the same bytes in
    8-bit headers, which are decoded the same way).
    """
    check_charset(charset)
    if charset is None or charset.upper() in SUPPORTED_CHARSETS:
        return decode_raw(value)
    return value.decode(charset, errors="replace")
