"""SEARCH keys (RFC 3501 section 6.4.4) as typed values, their parser and
their wire form.  A search program is a tuple of keys, all of which must
match (the implicit AND)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from . import wire
from .lexer import Reader, canonical_flag
from .sequence import SequenceSet


@dataclass(frozen=True, slots=True)
class AllKey:
    """ALL."""


@dataclass(frozen=True, slots=True)
class FlagKey:
    """A flag test: ANSWERED/UNANSWERED, DELETED, DRAFT, FLAGGED, SEEN,
    RECENT (``\\Recent``), KEYWORD/UNKEYWORD (any other flag).  ``present``
    is False for the UN- forms."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class NewKey:
    """NEW: RECENT and UNSEEN."""


@dataclass(frozen=True, slots=True)
class OldKey:
    """OLD: NOT RECENT."""


@dataclass(frozen=True, slots=True)
class TextKey:
    """BCC, BODY, CC, FROM, SUBJECT, TEXT or TO with its string (bytes in
    the command's CHARSET)."""

    field: str
    value: bytes


@dataclass(frozen=True, slots=True)
class HeaderKey:
    """HEADER field-name string."""

    name: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class DateKey:
    """BEFORE, ON, SINCE (internal date) or SENTBEFORE, SENTON, SENTSINCE
    (Date: header); dates ignore time and zone."""

    field: str
    date: datetime.date


@dataclass(frozen=True, slots=True)
class SizeKey:
    """LARGER n (``larger=True``) or SMALLER n (RFC822.SIZE)."""

    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class SequenceKey:
    """A sequence set, or UID sequence-set (``uid=True``)."""

    sequence: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class NotKey:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class OrKey:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class AndKey:
    """A parenthesized list of keys."""

    keys: tuple[SearchKey, ...]


SearchKey = (AllKey | FlagKey | NewKey | OldKey | TextKey | HeaderKey | DateKey | SizeKey
             | SequenceKey | NotKey | OrKey | AndKey)

_FLAG_WORDS = {
    "ANSWERED": ("\\Answered", True), "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True), "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True), "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True), "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True), "UNSEEN": ("\\Seen", False),
    "RECENT": ("\\Recent", True),
}
_WORD_OF_FLAG = {value: word for word, value in _FLAG_WORDS.items()}
TEXT_FIELDS = frozenset({"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"})
DATE_FIELDS = frozenset({"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"})


def parse_search_key(r: Reader) -> SearchKey:
    """One search-key at the reader's position."""
    r.count_item()
    if r.peek() == 0x28:
        return AndKey(r.paren_list(lambda: parse_search_key(r), allow_empty=False, count=False))
    if r.looks_like_sequence_set():
        return SequenceKey(r.sequence_set())
    word = r.keyword()
    if word == "ALL":
        return AllKey()
    if word in _FLAG_WORDS:
        flag, present = _FLAG_WORDS[word]
        return FlagKey(flag, present)
    if word == "NEW":
        return NewKey()
    if word == "OLD":
        return OldKey()
    if word in TEXT_FIELDS:
        r.sp()
        return TextKey(word, r.astring())
    if word in DATE_FIELDS:
        r.sp()
        return DateKey(word, r.date())
    if word in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        flag = r.atom().decode("ascii")
        return FlagKey(flag, word == "KEYWORD")
    if word == "HEADER":
        r.sp()
        name = r.astring()
        r.sp()
        return HeaderKey(name, r.astring())
    if word in ("LARGER", "SMALLER"):
        r.sp()
        return SizeKey(word == "LARGER", r.number())
    if word == "UID":
        r.sp()
        return SequenceKey(r.sequence_set(), uid=True)
    if word == "NOT":
        r.sp()
        r.descend()
        key = NotKey(parse_search_key(r))
        r.ascend()
        return key
    if word == "OR":
        r.sp()
        r.descend()
        left = parse_search_key(r)
        r.sp()
        right = parse_search_key(r)
        r.ascend()
        return OrKey(left, right)
    raise r.invalid(f"unknown search key {word}")


def parse_search_program(r: Reader) -> tuple[SearchKey, ...]:
    """``search-key *(SP search-key)`` up to the end of the command."""
    keys = [parse_search_key(r)]
    while r.maybe_sp():
        keys.append(parse_search_key(r))
    return tuple(keys)


def search_key_to_wire(key: SearchKey) -> bytes:
    """The key as a client would send it (strings as atom/quoted/literal)."""
    if isinstance(key, AllKey):
        return b"ALL"
    if isinstance(key, FlagKey):
        flag = canonical_flag(key.flag)
        word = _WORD_OF_FLAG.get((flag, key.present))
        if word is not None:
            return word.encode()
        return (b"KEYWORD " if key.present else b"UNKEYWORD ") + flag.encode()
    if isinstance(key, NewKey):
        return b"NEW"
    if isinstance(key, OldKey):
        return b"OLD"
    if isinstance(key, TextKey):
        return key.field.encode() + b" " + wire.astring(key.value)
    if isinstance(key, HeaderKey):
        return b"HEADER " + wire.astring(key.name) + b" " + wire.astring(key.value)
    if isinstance(key, DateKey):
        return key.field.encode() + b" " + wire.date(key.date)
    if isinstance(key, SizeKey):
        return (b"LARGER " if key.larger else b"SMALLER ") + str(key.size).encode()
    if isinstance(key, SequenceKey):
        return (b"UID " if key.uid else b"") + key.sequence.to_wire().encode()
    if isinstance(key, NotKey):
        return b"NOT " + search_key_to_wire(key.key)
    if isinstance(key, OrKey):
        return b"OR " + search_key_to_wire(key.left) + b" " + search_key_to_wire(key.right)
    return b"(" + b" ".join(search_key_to_wire(k) for k in key.keys) + b")"


def search_program_to_wire(keys: tuple[SearchKey, ...]) -> bytes:
    return b" ".join(search_key_to_wire(k) for k in keys)
