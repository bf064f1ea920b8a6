"""SORT keys (RFC 5256 section 2 and 3)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .address import parse_address_list
from .decode import decode_header, decode_raw

_WSP_RUN = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:\s*\(fwd\))+\s*$|\s+$", re.IGNORECASE)
_BLOB = r"\[[^\[\]]*\][ \t]*"
_REFWD = r"(?:re|fwd?)[ \t]*(?:" + _BLOB + r")?:"
_LEADER = re.compile(r"^(?:(?:" + _BLOB + r")*" + _REFWD + r"|[ \t]+)", re.IGNORECASE)
_LEADING_BLOB = re.compile(r"^" + _BLOB)
_FWD_WRAPPER = re.compile(r"^\[fwd:(.*)\]$", re.IGNORECASE | re.DOTALL)


def base_subject_and_reply(subject: bytes | None) -> tuple[str, bool]:
    """RFC 5256 section 2.1 base subject, and whether the subject showed
    a reply or forward (the REFERENCES subject merge needs to know)."""
    text = _WSP_RUN.sub(" ", decode_header(subject))          # step 1
    is_reply = False
    while True:
        # step 2: subj-trailer "(fwd)" and trailing whitespace
        stripped = _TRAILER.sub("", text)
        if stripped != text:
            if stripped.lower() != text.rstrip().lower():
                is_reply = True
            text = stripped
        while True:                                           # steps 3-5
            before = text
            while True:
                match = _LEADER.match(text)
                if match is None or not match.group(0):
                    break
                if match.group(0).strip():
                    is_reply = True
                text = text[match.end():]
            blob = _LEADING_BLOB.match(text)
            if blob is not None and text[blob.end():]:
                text = text[blob.end():]
            if text == before:
                break
        wrapped = _FWD_WRAPPER.match(text)                    # step 6
        if wrapped is None:
            return text, is_reply
        text = wrapped.group(1)
        is_reply = True


def base_subject(subject: bytes | None) -> str:
    return base_subject_and_reply(subject)[0]


def sent_date(date_header: bytes | None, internal_date: datetime) -> datetime:
    """The sent date of RFC 5256: Date: if it parses, else the internal date.

    Dates without a zone are taken as UTC so that all values compare.
    """
    if date_header:
        try:
            parsed = parsedate_to_datetime(decode_raw(date_header))
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return internal_date if internal_date.tzinfo else internal_date.replace(tzinfo=UTC)


def ascii_casemap(text: str) -> str:
    """The i;ascii-casemap comparator's key: ASCII letters upper-cased only."""
    return text.translate(_ASCII_UPPER)


_ASCII_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def address_sort_key(header: bytes | None) -> str:
    """SORT FROM/TO/CC: the local part (addr-mailbox) of the first mailbox,
    or "" when there is none (RFC 5256 section 3)."""
    for address in parse_address_list(header):
        if address.host is not None:
            return ascii_casemap(decode_raw(address.mailbox or b""))
    return ""
