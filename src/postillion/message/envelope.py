"""ENVELOPE (RFC 3501 section 7.4.2) from a message's header block."""

from __future__ import annotations

from typing import NamedTuple

from .address import Address, parse_address_list
from .headers import Headers, header_bounds


class Envelope(NamedTuple):
    """The ten ENVELOPE fields; strings are raw header bytes, None is NIL.
    (A named tuple: one per message parsed, cheaper to build than a frozen
    dataclass.)

    Address lists are empty tuples when the header is missing or holds no
    address (the serializer writes NIL for an empty list).
    """

    date: bytes | None
    subject: bytes | None
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    in_reply_to: bytes | None
    message_id: bytes | None


def envelope_from_headers(headers: Headers) -> Envelope:
    get = headers.lookup
    from_ = parse_address_list(get(b"from"))
    sender = parse_address_list(get(b"sender")) or from_
    reply_to = parse_address_list(get(b"reply-to")) or from_
    return Envelope(
        date=get(b"date") or None,
        subject=get(b"subject"),
        from_=from_,
        sender=sender,
        reply_to=reply_to,
        to=parse_address_list(get(b"to")),
        cc=parse_address_list(get(b"cc")),
        bcc=parse_address_list(get(b"bcc")),
        in_reply_to=get(b"in-reply-to") or None,
        message_id=get(b"message-id") or None,
    )


def envelope(data: bytes) -> Envelope:
    """ENVELOPE of a message; ``data`` may be just the file's first bytes
    as long as they hold the whole header block."""
    header_end, _body_start = header_bounds(data)
    return envelope_from_headers(Headers.parse(data, 0, header_end))
