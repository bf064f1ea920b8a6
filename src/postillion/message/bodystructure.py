"""BODYSTRUCTURE / BODY (RFC 3501 section 7.4.2) as typed values.

BODY is the same value without the extension data; the serializer leaves
those fields out.  Strings are raw header bytes, None is NIL.
"""

from __future__ import annotations

from typing import NamedTuple

from .envelope import Envelope, envelope_from_headers
from .mimeparse import MimePart, parse_value_with_params

Params = tuple[tuple[bytes, bytes], ...]


class Disposition(NamedTuple):
    type: bytes            # lower case, e.g. b"attachment"
    params: Params


class SinglePartBody(NamedTuple):
    """One leaf of BODYSTRUCTURE.  (The classes of this module are named
    tuples: the first parse of every message makes one or more, and they
    are cheaper to build than frozen dataclasses.)"""

    type: bytes
    subtype: bytes
    params: Params
    id: bytes | None
    description: bytes | None
    encoding: bytes
    size: int                                   # octets of the body, CRLF view
    lines: int | None                           # text/* and message/rfc822 only
    envelope: Envelope | None                   # message/rfc822 only
    body: BodyStructure | None                  # message/rfc822 only
    # Extension data (BODYSTRUCTURE only)
    md5: bytes | None
    disposition: Disposition | None
    language: tuple[bytes, ...] | None
    location: bytes | None


class MultiPartBody(NamedTuple):
    parts: tuple[BodyStructure, ...]            # never empty
    subtype: bytes
    # Extension data (BODYSTRUCTURE only)
    params: Params
    disposition: Disposition | None
    language: tuple[bytes, ...] | None
    location: bytes | None


BodyStructure = SinglePartBody | MultiPartBody


def _disposition(value: bytes | None) -> Disposition | None:
    if not value:
        return None
    kind, params = parse_value_with_params(value)
    return Disposition(kind, params) if kind else None


def _language(value: bytes | None) -> tuple[bytes, ...] | None:
    if not value:
        return None
    tags = tuple(tag.strip() for tag in value.split(b",") if tag.strip())
    return tags or None


def body_structure(part: MimePart) -> BodyStructure:
    """The BODYSTRUCTURE of a parsed entity (usually ``parse_message(data)``)."""
    field = part.content_lookup()
    if part.is_multipart and part.children:
        return MultiPartBody(
            parts=tuple(body_structure(child) for child in part.children),
            subtype=part.content_type.subtype,
            params=part.content_type.params,
            disposition=_disposition(field(b"content-disposition")),
            language=_language(field(b"content-language")),
            location=field(b"content-location") or None,
        )
    content_type = part.content_type
    lines: int | None = None
    envelope: Envelope | None = None
    inner: BodyStructure | None = None
    if part.message is not None:
        envelope = envelope_from_headers(part.message.headers)
        inner = body_structure(part.message)
        lines = part.body_lines
    elif content_type.type == b"text":
        lines = part.body_lines
    # These (and the encoding) count with or without MIME-Version, as in
    # Courier.
    always = part.headers.lookup
    return SinglePartBody(
        type=content_type.type,
        subtype=content_type.subtype,
        params=content_type.params,
        id=always(b"content-id") or None,
        description=always(b"content-description") or None,
        encoding=part.encoding,
        size=part.body_size,
        lines=lines,
        envelope=envelope,
        body=inner,
        md5=always(b"content-md5") or None,
        disposition=_disposition(field(b"content-disposition")),
        language=_language(field(b"content-language")),
        location=field(b"content-location") or None,
    )
