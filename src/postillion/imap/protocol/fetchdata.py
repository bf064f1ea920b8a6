"""Building FETCH response items from the message layer's typed values
(ENVELOPE, BODY/BODYSTRUCTURE) and from plain data (flags, dates, bodies)."""

from __future__ import annotations

import datetime
import functools

from postillion.message import Address, Envelope, MultiPartBody, SinglePartBody
from postillion.message.bodystructure import BodyStructure, Disposition, Params

from . import wire
from .errors import LocalProtocolError
from .fetchatts import FetchAtt
from .responses import Adjacent, Atom, FetchItem, Literal, Value, Verbatim
from .serializer import flag_list


def flags_item(flags: tuple[str, ...] | list[str]) -> FetchItem:
    if type(flags) is tuple:
        return _flags_item(flags)
    return FetchItem(b"FLAGS", tuple(Atom(f) for f in flags))


@functools.lru_cache(maxsize=1024)
def _flags_item(flags: tuple[str, ...]) -> FetchItem:
    # A folder's messages share a few flag sets: each is put on the wire
    # (and its atoms checked) once, not once per message of a FETCH 1:*.
    try:
        return FetchItem(b"FLAGS", Verbatim(flag_list(flags)))
    except LocalProtocolError:
        return FetchItem(b"FLAGS", tuple(Atom(f) for f in flags))  # fails when sent


@functools.lru_cache(maxsize=1024)
def flags_wire(flags: tuple[str, ...]) -> bytes:
    """``FLAGS (...)`` as it goes on the wire in a FETCH response (raises
    LocalProtocolError for a flag that is not an atom).  Kept per flag
    tuple: a folder's messages share a few (a FETCH FLAGS or STORE over
    100,000 writes one per message)."""
    return b"FLAGS " + flag_list(flags)


def uid_item(uid: int) -> FetchItem:
    return FetchItem(b"UID", uid)


def size_item(size: int) -> FetchItem:
    return FetchItem(b"RFC822.SIZE", size)


def internaldate_item(when: datetime.datetime) -> FetchItem:
    # date_time is already a quoted string of digits, letters and signs.
    return FetchItem(b"INTERNALDATE", Verbatim(wire.date_time(when)))


def envelope_item(env: Envelope) -> FetchItem:
    return FetchItem(b"ENVELOPE", envelope_value(env))


def body_structure_item(body: BodyStructure, extended: bool) -> FetchItem:
    """BODYSTRUCTURE (``extended``) or BODY (without extension data)."""
    return FetchItem(b"BODYSTRUCTURE" if extended else b"BODY", body_value(body, extended))


def section_item(att: FetchAtt, data: bytes | None) -> FetchItem:
    """``BODY[...]``/``BINARY[...]``/``RFC822*`` data as a literal (NIL for
    None, e.g. a part that does not exist); BINARY uses literal8 when the
    data holds a NUL."""
    if data is None:
        return FetchItem(att.response_name(), None)
    binary = att.name == "BINARY" and b"\0" in data
    return FetchItem(att.response_name(), Literal(data, binary))


def _addresses(values: tuple[Address, ...]) -> Value:
    # RFC 3501: env-from = "(" 1*address ")": the addresses are adjacent,
    # "((...)(...))", as Courier writes them.
    if not values:
        return None
    return (Adjacent(tuple((a.name, a.adl, a.mailbox, a.host) for a in values)),)


def envelope_value(env: Envelope) -> Value:
    return (env.date, env.subject, _addresses(env.from_), _addresses(env.sender),
            _addresses(env.reply_to), _addresses(env.to), _addresses(env.cc),
            _addresses(env.bcc), env.in_reply_to, env.message_id)


def _params(values: Params) -> Value:
    if not values:
        return None
    out: list[Value] = []
    for key, val in values:
        out += [key, val]
    return tuple(out)


def _disposition(value: Disposition | None) -> Value:
    return None if value is None else (value.type, _params(value.params))


def _language(value: tuple[bytes, ...] | None) -> Value:
    if value is None:
        return None
    return value[0] if len(value) == 1 else tuple(value)


def body_value(body: BodyStructure, extended: bool = True) -> Value:
    if isinstance(body, MultiPartBody):
        fields: list[Value] = [body_value(p, extended) for p in body.parts]
        fields.append(body.subtype)
        if extended:
            fields += [_params(body.params), _disposition(body.disposition),
                       _language(body.language), body.location]
        return _concat_parts(fields, len(body.parts))
    assert isinstance(body, SinglePartBody)
    single: list[Value] = [body.type, body.subtype, _params(body.params), body.id,
                           body.description, body.encoding, body.size]
    if body.envelope is not None and body.body is not None:
        single += [envelope_value(body.envelope), body_value(body.body, extended)]
    if body.lines is not None:
        single.append(body.lines)
    if extended:
        single += [body.md5, _disposition(body.disposition), _language(body.language),
                   body.location]
    return tuple(single)


def _concat_parts(fields: list[Value], nparts: int) -> Value:
    # RFC 3501: body-type-mpart = 1*body SP media-subtype: the parts are
    # adjacent, "((...)(...) "MIXED" ...)".
    return (Adjacent(tuple(fields[:nparts])), *fields[nparts:])
