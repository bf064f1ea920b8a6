"""The direct ENVELOPE/BODYSTRUCTURE writers and the serializer's list fast
path give exactly the bytes of the general serializer."""

from __future__ import annotations

import datetime

from hypothesis import example, given, settings
from hypothesis import strategies as st

from postillion.imap import filework
from postillion.imap.protocol import responses as r
from postillion.imap.protocol import serializer, wire
from postillion.imap.protocol.bodywire import body_wire, envelope_wire, wire_cacheable
from postillion.imap.protocol.fetchdata import body_value, envelope_value
from postillion.imap.search.maildirview import internaldate_of
from postillion.message import body_structure, envelope_from_headers, parse_message
from tests.message.test_properties import PIECES, mime_mail

# Header fields and values that reach every branch of ENVELOPE and
# BODYSTRUCTURE: groups, routes, comments, 8-bit and long strings (literals),
# quotes and backslashes (escaped), nested messages, dispositions, languages.
_FIELDS = [b"From: \"A \\\"q\\\" B\" (c) <x@y>, @r:u@v\n", b"To: g: a@b, c@d;\n",
           b"Cc: J\xc3\xbcrgen <j@x>\n", b"Sender: s@t\n", b"Reply-To: r@s\n",
           b"Subject: " + b"x" * 1100 + b"\n", b"Subject: a\\b \"c\"\n",
           b"Date: Mon, 1 Jan 2024\n", b"Message-ID: <m@x>\n", b"In-Reply-To: <p@x>\n",
           b"Content-Disposition: attachment; filename=\"a;b\"\n",
           b"Content-Language: en, de\n", b"Content-Language: fr\n", b"Content-ID: <i>\n",
           b"Content-MD5: abc\n", b"Content-Location: loc\n", b"Content-Description: d\xc3\xa9\n",
           b"Content-Type: multipart/digest; boundary=B\n",
           b"Content-Type: text/html; charset=\"us-ascii\"; format=flowed\n"]
mail = st.lists(st.sampled_from([*PIECES, *_FIELDS]) | st.binary(max_size=10),
                max_size=40).map(b"".join) | mime_mail


@settings(max_examples=600, deadline=None)
@given(mail, st.booleans(), st.booleans())
def test_direct_writers_agree_with_the_serializer(data: bytes, extended: bool,
                                                  utf8: bool) -> None:
    root = parse_message(data)
    env = envelope_from_headers(root.headers)
    assert envelope_wire(env, utf8) == serializer.value(envelope_value(env), utf8)
    body = body_structure(root)
    assert body_wire(body, extended, utf8) == serializer.value(body_value(body, extended), utf8)


@settings(max_examples=600, deadline=None)
@given(mail, st.booleans())
@example(b"Subject: a\0b\nFrom: \"N\0\" <a@b>\nContent-Type: text/plain; name=\"x\0\"\n"
         b"MIME-Version: 1.0\n\nbody\n", True)
def test_workers_keep_what_the_full_cache_check_keeps(data: bytes, extended: bool) -> None:
    """The workers check the forms they wrote with one scan for NUL, not
    the cache file's literal-by-literal check: for whatever the writers
    make of any mail, both decide alike."""
    root = parse_message(data)
    for written in (envelope_wire(envelope_from_headers(root.headers)),
                    body_wire(body_structure(root), extended)):
        assert filework._cacheable(written) == (written if wire_cacheable(written) else None)


def _reference(item: r.Value, utf8: bool) -> bytes:
    """The serializer's rules, plainly."""
    if item is None:
        return b"NIL"
    if isinstance(item, bytes | str):
        return wire.string(item, utf8)
    if isinstance(item, int):
        return b"%d" % item
    if isinstance(item, tuple):
        return b"(" + b" ".join(_reference(v, utf8) for v in item) + b")"
    if isinstance(item, r.Adjacent):
        return b"".join(_reference(v, utf8) for v in item.items)
    return serializer.value(item, utf8)


_leaves = (st.none() | st.integers(0, 10**12) | st.binary(max_size=30)
           | st.sampled_from([b"", b"\\", b'"', b"\r\n", b"\x00", b"\xc3\xa9", b"x" * 1025,
                              "t\u00e9", r.Atom("A"), r.Verbatim(b"(V)")]))
_values = st.recursive(_leaves, lambda inner: st.tuples(inner, inner) | st.lists(inner).map(tuple)
                       | st.lists(inner, max_size=3).map(lambda v: r.Adjacent(tuple(v))),
                       max_leaves=20)


@settings(max_examples=500, deadline=None)
@given(_values, st.booleans())
def test_list_fast_path_agrees(item: r.Value, utf8: bool) -> None:
    assert serializer.value(item, utf8) == _reference(item, utf8)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**33) | st.sampled_from([0, 86399, 951782400, 4102444799, 2**31]))
def test_utc_date_time_agrees_with_date_time(seconds: int) -> None:
    """INTERNALDATE of a cached message, formatted without a datetime, is
    what the general path writes for the same whole second."""
    when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    assert wire.utc_date_time(seconds) == wire.date_time(when)
    assert internaldate_of(seconds * 1_000_000_000 + 999_999_999) == when


def test_wire_pieces_kept_only_when_short() -> None:
    """Written address lists and BODYSTRUCTURE leaf heads are kept for the
    next message with the same, never a long one (a hostile header of
    megabytes stays unkept), and what is given again is what is written."""
    from postillion.imap.protocol import bodywire

    for kept in (*bodywire._ADDRESS_WIRES, *bodywire._PART_HEADS):
        kept.clear()
    long = b"b" * bodywire._KEPT_WIRE
    short_mail = (b"From: Ann <ann@example.com>\nMIME-Version: 1.0\n"
                  b"Content-Type: text/plain; charset=utf-8\n\nhi\n")
    long_mail = (b"From: Bob <" + long + b"@example.com>\nMIME-Version: 1.0\n"
                 b"Content-Description: " + long + b"\n\nhi\n")
    for data in (short_mail, long_mail, short_mail):
        root = parse_message(data)
        env = envelope_from_headers(root.headers)
        assert envelope_wire(env) == serializer.value(envelope_value(env), False)
        body = body_structure(root)
        assert body_wire(body) == serializer.value(body_value(body, True), False)
    for kept in (bodywire._ADDRESS_WIRES[False], bodywire._PART_HEADS[False]):
        assert len(kept) == 1 and all(len(wire) < 100 for wire in kept.values())
    assert not bodywire._ADDRESS_WIRES[True] and not bodywire._PART_HEADS[True]
