"""ENVELOPE and BODYSTRUCTURE written straight to their wire form, and
the check that a stored wire form is safe to send.

A first FETCH of ENVELOPE and BODYSTRUCTURE over a big folder writes these
for every message, in worker processes (:mod:`postillion.imap.wireforms`)
that import this module and the message parsers alone; the general
serializer (:mod:`.serializer`) would walk a tree of response values
built just for it.  The output is what ``serializer.value`` gives for
``fetchdata.envelope_value`` / ``fetchdata.body_value``.
"""

from __future__ import annotations

import re
from typing import Any

from postillion.message import Address, Envelope, MultiPartBody, SinglePartBody
from postillion.message.bodystructure import BodyStructure, Disposition, Params

from .wire import nstring


def envelope_wire(env: Envelope, utf8: bool = False) -> bytes:
    """``serializer.value(fetchdata.envelope_value(env), utf8)``, written directly:
    a first FETCH ENVELOPE of a big folder does this for every message,
    and the general serializer walks a tree of tuples built just for it."""
    from_ = _addresses_wire(env.from_, utf8)
    # Sender and Reply-To are most often From itself (see envelope_from_headers).
    sender = from_ if env.sender is env.from_ else _addresses_wire(env.sender, utf8)
    reply_to = from_ if env.reply_to is env.from_ else _addresses_wire(env.reply_to, utf8)
    return b"(" + b" ".join([
        nstring(env.date, utf8), nstring(env.subject, utf8), from_, sender, reply_to,
        _addresses_wire(env.to, utf8), _addresses_wire(env.cc, utf8),
        _addresses_wire(env.bcc, utf8), nstring(env.in_reply_to, utf8),
        nstring(env.message_id, utf8)]) + b")"


def _addresses_wire(values: tuple[Address, ...], utf8: bool) -> bytes:
    if not values:
        return b"NIL"
    known = _ADDRESS_WIRES[utf8]
    wire = known.get(values)
    if wire is None:
        wire = b"(" + b"".join([
            b"(" + b" ".join([nstring(a.name, utf8), nstring(a.adl, utf8),
                              nstring(a.mailbox, utf8), nstring(a.host, utf8)]) + b")"
            for a in values]) + b")"
        _keep(known, values, wire)
    return wire


# Wire forms written lately, by UTF8=ACCEPT or not: each address list
# (a folder's From, To and Cc name its few hundred correspondents again
# and again, and parse_address_list hands out one tuple per value, whose
# hash is then known), and the first six fields of each BODYSTRUCTURE
# leaf (type, subtype, parameters, id, description, encoding: a folder's
# parts share a few of those, their Content-Type parsed once).  Short
# forms only, so that hostile values of megabytes are never kept.
_ADDRESS_WIRES: tuple[dict[tuple[Address, ...], bytes], dict[tuple[Address, ...], bytes]] = ({}, {})
_PART_HEADS: tuple[dict[tuple[object, ...], bytes], dict[tuple[object, ...], bytes]] = ({}, {})
_WIRES_KEPT = 4096
_KEPT_WIRE = 1024


def _keep(known: dict[Any, bytes], key: object, wire: bytes) -> None:
    if len(wire) <= _KEPT_WIRE:
        if len(known) >= _WIRES_KEPT:
            known.clear()
        known[key] = wire


def body_wire(body: BodyStructure, extended: bool = True, utf8: bool = False) -> bytes:
    """``serializer.value(fetchdata.body_value(body, extended), utf8)``, written
    directly (see :func:`envelope_wire`)."""
    if isinstance(body, MultiPartBody):
        # The parts adjacent, then the subtype (see _concat_parts).
        fields = [b"".join([body_wire(p, extended, utf8) for p in body.parts]),
                  nstring(body.subtype, utf8)]
        if extended:
            fields += [_params_wire(body.params, utf8), _disposition_wire(body.disposition, utf8),
                       _language_wire(body.language, utf8), nstring(body.location, utf8)]
        return b"(" + b" ".join(fields) + b")"
    assert isinstance(body, SinglePartBody)
    key = body[:6]  # type, subtype, params, id, description, encoding
    known = _PART_HEADS[utf8]
    head = known.get(key)
    if head is None:
        head = b" ".join([nstring(body.type, utf8), nstring(body.subtype, utf8),
                          _params_wire(body.params, utf8), nstring(body.id, utf8),
                          nstring(body.description, utf8), nstring(body.encoding, utf8)])
        _keep(known, key, head)
    single = [head, b"%d" % body.size]
    if body.envelope is not None and body.body is not None:
        single += [envelope_wire(body.envelope, utf8), body_wire(body.body, extended, utf8)]
    if body.lines is not None:
        single.append(b"%d" % body.lines)
    if extended:
        single += [nstring(body.md5, utf8), _disposition_wire(body.disposition, utf8),
                   _language_wire(body.language, utf8), nstring(body.location, utf8)]
    return b"(" + b" ".join(single) + b")"


def _params_wire(values: Params, utf8: bool) -> bytes:
    if not values:
        return b"NIL"
    return b"(" + b" ".join([nstring(item, utf8) for pair in values for item in pair]) + b")"


def _disposition_wire(value: Disposition | None, utf8: bool) -> bytes:
    if value is None:
        return b"NIL"
    return b"(" + nstring(value.type, utf8) + b" " + _params_wire(value.params, utf8) + b")"


def _language_wire(value: tuple[bytes, ...] | None, utf8: bool) -> bytes:
    if value is None:
        return b"NIL"
    if len(value) == 1:
        return nstring(value[0], utf8)
    return b"(" + b" ".join([nstring(tag, utf8) for tag in value]) + b")"


_LITERAL_HEAD = re.compile(rb"\{([0-9]{1,9})\}\Z")


def wire_cacheable(data: bytes) -> bool:
    """Whether ``data`` may be kept, or trusted from the file, as the wire
    form of a FETCH value: one parenthesized value whose CR LF pairs each
    end a ``{n}`` literal head and are followed by exactly n bytes, with no
    other CR, LF or NUL, and 8-bit bytes only inside literals.  Whatever a
    damaged (or hostile) cache file says, such bytes cannot end a response
    line early or leave a literal open."""
    if data[:1] != b"(" or data[-1:] != b")":
        return False
    if b"\r" not in data and b"\n" not in data and b"\0" not in data:
        return data.isascii()  # no literal: the common case, without copies
    pos = 0
    end = len(data)
    while True:
        crlf = data.find(b"\r\n", pos)
        text = data[pos:end if crlf < 0 else crlf]
        if b"\r" in text or b"\n" in text or b"\0" in text or not text.isascii():
            return False
        if crlf < 0:
            return True
        head = _LITERAL_HEAD.search(text)
        if head is None:
            return False
        pos = crlf + 2 + int(head.group(1))
        if pos >= end or b"\0" in data[crlf + 2:pos]:
            return False  # a literal must end before the closing parenthesis
