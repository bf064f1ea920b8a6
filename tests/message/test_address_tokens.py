"""The regular-expression tokenizer of address values without comments
gives exactly the tokens of the byte-by-byte one (kept for comments), and
the one-mailbox fast path of parse_address_list the general path's result."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postillion.message.address import (
    _SIMPLE_MAILBOX,
    _parse_address_list,
    _Token,
    _tokenize_loop,
    _tokenize_plain,
    parse_address_list,
)

_PIECES = [b"a", b"b", b" ", b"\t", b"\r", b"\n", b'"', b"\\", b"<", b">", b"@", b",", b";",
           b":", b".", b"[", b"]", b"\xc3\xa9", b"=?utf-8?q?x?=", b"x.y"]


def _tokens(tokens: list[_Token]) -> list[tuple[str, bytes, bytes, bool]]:
    return [(t.kind, t.text, t.raw, t.space_before) for t in tokens]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24).map(b"".join))
def test_same_tokens_as_the_loop(value: bytes) -> None:
    assert _tokens(_tokenize_plain(value)) == _tokens(_tokenize_loop(value))


def test_examples() -> None:
    value = b'"Doe, \\"J\\"" <d@example.org>, [1.2.3.4] x\\'
    assert _tokens(_tokenize_plain(value)) == _tokens(_tokenize_loop(value))
    assert _tokenize_plain(b'"open')[0].text == b"open"


# Pieces of values that the one-mailbox fast path of parse_address_list
# reads, and of values that just miss it.
_MAILBOX_PIECES = [*_PIECES, b"(", b")", b"(c)", b'"Doe, J"', b'""', b'" "', b"=?utf-8?b?QQ==?=",
                   b"user", b"example.com", b"<u@h>", b"\x00", b"\x0c"]
_mailbox_values = st.one_of(
    st.lists(st.sampled_from(_MAILBOX_PIECES), max_size=16).map(b"".join),
    st.tuples(st.sampled_from([b"", b" ", b'"N a"', b"N  a\t b", b'"a(b"', b"a.b", b'""']),
              st.sampled_from([b"", b" ", b"\t"]),
              st.sampled_from([b"<u@h>", b"<u.v@h.i>", b"u@h", b"<@h>", b"<u@>", b"<u@h",
                               b"u@h@i", b"<u@h> x", b"<.u.@.h.>"]),
              st.sampled_from([b"", b" ", b"\t ", b","])).map(b"".join))


@settings(max_examples=3000, deadline=None)
@given(_mailbox_values)
def test_one_mailbox_fast_path_agrees(value: bytes) -> None:
    assert parse_address_list(value) == _parse_address_list(value)


def test_one_mailbox_examples() -> None:
    assert _SIMPLE_MAILBOX.fullmatch(b'"Paul Smith" <user43@example.com>')
    assert _SIMPLE_MAILBOX.fullmatch(b"=?UTF-8?B?Tm9haCDnjos=?= <user36@mail.example.de>")
    assert _SIMPLE_MAILBOX.fullmatch(b"J\xc3\xbcrgen \t M\xc3\xbcller <a.b@c.d>")
    assert _SIMPLE_MAILBOX.fullmatch(b" user@example.com ")
    for value in (b'"Paul Smith" <user43@example.com>', b"N  a <u@h>", b'"" <u@h>',
                  b" u.v@h ", b"a <u@h>, b <v@h>", b"(c) u@h"):
        assert parse_address_list(value) == _parse_address_list(value)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=24).map(b"".join))
def test_remembered_lists_are_the_lists_read_afresh(value: bytes) -> None:
    """Short values are read once and their addresses handed out again:
    the second answer is the first, and both are what reading gives."""
    first = parse_address_list(value)
    assert parse_address_list(value) == first == _address_list_read(value)


def _address_list_read(value: bytes) -> tuple[object, ...]:
    from postillion.message.address import _address_list

    return _address_list(value) if value else ()


def test_long_values_are_not_remembered() -> None:
    from postillion.message.address import _CACHED_VALUE_LENGTH, _cached_address_list

    _cached_address_list.cache_clear()
    short = b"A <a@example.com>"
    long = b"B <" + b"b" * _CACHED_VALUE_LENGTH + b"@example.com>"
    assert parse_address_list(short) is parse_address_list(short)
    assert parse_address_list(long)[0].mailbox == b"b" * _CACHED_VALUE_LENGTH
    assert _cached_address_list.cache_info().currsize == 1
