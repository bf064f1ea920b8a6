"""Structure, ENVELOPE, BODYSTRUCTURE and sections of tricky messages."""

from __future__ import annotations

from pathlib import Path

from postillion.message import (
    Address,
    MultiPartBody,
    Section,
    SinglePartBody,
    body_structure,
    envelope,
    parse_address_list,
    parse_message,
    rfc822_size,
    section_content,
    to_crlf,
)
from postillion.message.headers import header_block_complete, header_bounds

from .imap_render import body as render_body
from .imap_render import envelope as render_envelope

NESTED = (
    b"From: a@b.test\nSubject: outer\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="XX"\n\npre\n'
    b"--XX\nContent-Type: text/plain; charset=utf-8\n\nhello\nworld\n"
    b"--XX\nContent-Type: message/rfc822\n\nFrom: c@d\nSubject: inner\n\nbody\nline2\n"
    b"--XX--\nepi\n"
)


def fetch(data: bytes, spec: str) -> bytes:
    return section_content(parse_message(data), Section.parse(spec)).to_bytes()


def test_rfc822_size_counts_every_lf_as_crlf() -> None:
    assert rfc822_size(b"a\nb\r\nc") == 7
    assert rfc822_size(NESTED) == len(NESTED.replace(b"\n", b"\r\n"))


def test_nested_bodystructure_matches_rfc_sizes() -> None:
    structure = body_structure(parse_message(NESTED))
    assert isinstance(structure, MultiPartBody)
    text, message = structure.parts
    assert isinstance(text, SinglePartBody) and isinstance(message, SinglePartBody)
    assert (text.size, text.lines, text.params) == (12, 1, ((b"charset", b"utf-8"),))
    assert message.size == len(b"From: c@d\r\nSubject: inner\r\n\r\nbody\r\nline2")
    assert message.envelope is not None and message.envelope.subject == b"inner"
    assert isinstance(message.body, SinglePartBody) and message.body.size == 11
    assert structure.params == ((b"boundary", b"XX"),)


def test_sections_follow_message_rfc822_nesting() -> None:
    assert fetch(NESTED, "1") == b"hello\r\nworld"
    assert fetch(NESTED, "2.HEADER") == b"From: c@d\r\nSubject: inner\r\n\r\n"
    assert fetch(NESTED, "2.TEXT") == b"body\r\nline2"
    assert fetch(NESTED, "2.1") == b"body\r\nline2"
    assert fetch(NESTED, "2.MIME") == b"Content-Type: message/rfc822\r\n\r\n"
    assert fetch(NESTED, "3") == b""
    assert fetch(NESTED, "1.1") == b""
    assert fetch(NESTED, "") == NESTED.replace(b"\n", b"\r\n")
    assert fetch(NESTED, "TEXT").startswith(b"pre\r\n--XX\r\n")


def test_single_part_message_has_part_one() -> None:
    data = b"Subject: x\n\nbody\n"
    assert fetch(data, "1") == b"body\r\n"
    assert fetch(data, "1.MIME") == b"\r\n"
    assert fetch(data, "2") == b""


def test_mime_of_part_one_is_the_messages_mime_fields() -> None:
    # Values probed with Courier's imapd (its n.MIME keeps MIME-Version and
    # Content-* fields, in stored order, then the blank line if stored);
    # found by the differential test, where we gave an empty header.
    mime = (b"From: a@x\nContent-Type: text/plain; charset=us-ascii\nX-Foo: 1\n"
            b"MIME-Version: 1.0\ncontent-transfer-encoding: 7bit\nSubject: s\n\nbody\n")
    assert fetch(mime, "1.MIME") == (
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"MIME-Version: 1.0\r\ncontent-transfer-encoding: 7bit\r\n\r\n")
    no_version = b"From: a@x\nContent-Type: text/html\nSubject: s\n\nbody\n"
    assert fetch(no_version, "1.MIME") == b"Content-Type: text/html\r\n\r\n"
    no_blank_line = b"From: a@x\nContent-Type: text/plain\nMIME-Version: 1.0\n"
    assert fetch(no_blank_line, "1.MIME") == b"Content-Type: text/plain\r\nMIME-Version: 1.0\r\n"
    assert fetch(b"From: a@x\nSubject: s\n", "1.MIME") == b"\r\n"
    # A top-level message/rfc822: part 1 is the encapsulated message's body.
    top_rfc822 = (b"MIME-Version: 1.0\nContent-Type: message/rfc822\nX-Top: 1\n\n"
                  b"From: in@x\nMIME-Version: 1.0\nContent-Type: text/plain\nX-In: 2\n\nbody\n")
    assert fetch(top_rfc822, "1.MIME") == b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"


def test_mime_of_a_multipart_part_keeps_only_mime_fields() -> None:
    data = (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n--B\n"
            b"X-Attachment-Id: 7\nContent-Type: text/plain\nContent-Disposition: inline\n\n"
            b"hello\n--B--\n")
    assert fetch(data, "1.MIME") == (b"Content-Type: text/plain\r\n"
                                     b"Content-Disposition: inline\r\n\r\n")
    # The part's whole header is still there, as its HEADER.
    assert fetch(data, "1.HEADER").startswith(b"X-Attachment-Id: 7\r\n")


def test_header_fields_selection() -> None:
    data = b"Subject: a\n b\nX-Y: 1\nsubject: again\nTo: t\n\nbody"
    assert fetch(data, "HEADER.FIELDS (SUBJECT)") == b"Subject: a\r\n b\r\nsubject: again\r\n\r\n"
    assert fetch(data, "HEADER.FIELDS.NOT (subject x-y)") == b"To: t\r\n\r\n"
    assert fetch(data, "HEADER.FIELDS (Nope)") == b"\r\n"


def test_partial_is_a_slice_of_the_crlf_view() -> None:
    root = parse_message(NESTED)
    whole = section_content(root, Section()).to_bytes()
    content = section_content(root, Section())
    assert content.to_bytes(5, 10) == whole[5:15]
    assert content.to_bytes(len(whole) - 3, 100) == whole[-3:]
    assert content.to_bytes(len(whole) + 5, 10) == b""


def test_message_without_body_or_blank_line() -> None:
    data = b"To: x@y\nSubject: no body"
    assert header_bounds(data) == (len(data), len(data))
    assert envelope(data).subject == b"no body"
    # Courier's RFC822.HEADER: the header as stored, no line end added.
    assert fetch(data, "HEADER") == b"To: x@y\r\nSubject: no body"
    assert fetch(data, "TEXT") == b""
    structure = body_structure(parse_message(data))
    assert isinstance(structure, SinglePartBody) and (structure.size, structure.lines) == (0, 0)


def test_header_without_blank_line_is_the_stored_header() -> None:
    # Found by the differential test: HEADER was 118 octets for a message of
    # RFC822.SIZE 116.  Courier's RFC822.HEADER is the message's 116 octets.
    data = (b"From: dave@example.net\nTo: alice@example.com\nSubject: no blank line at all\n"
            b"Date: Fri, 5 Jan 2024 13:00:00 +0000\n")
    header = fetch(data, "HEADER")
    assert header == to_crlf(data) and len(header) == rfc822_size(data) == 116
    assert fetch(data, "TEXT") == b""


def test_part_headers_without_blank_line_as_courier() -> None:
    # Probed with Courier's imapd: an encapsulated message's HEADER (and a
    # part's own HEADER) is the stored bytes; a part's MIME header ends
    # with a line break.
    data = (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
            b"--B\nContent-Type: text/plain\n--B\nContent-Type: message/rfc822\n\n"
            b"From: in@x\nSubject: inner\n--B--\n")
    assert fetch(data, "1.MIME") == b"Content-Type: text/plain\r\n"
    assert fetch(data, "1.HEADER") == b"Content-Type: text/plain"
    assert fetch(data, "2.HEADER") == b"From: in@x\r\nSubject: inner"
    assert fetch(data, "2.TEXT") == b""
    assert fetch(data, "2.MIME") == b"Content-Type: message/rfc822\r\n\r\n"


def test_header_block_complete() -> None:
    assert not header_block_complete(b"Subject: x\nFrom: y")
    assert header_block_complete(b"Subject: x\n\nbo")
    assert header_block_complete(b"\r\nbody")


def test_missing_mime_version_means_text_plain() -> None:
    data = b"Content-Type: multipart/mixed; boundary=X\n\n--X\n\na\n--X--\n"
    structure = body_structure(parse_message(data))
    assert isinstance(structure, SinglePartBody)
    assert (structure.type, structure.subtype, structure.params) == (b"text", b"plain", ())


def test_unterminated_and_bad_boundaries() -> None:
    unterminated = (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
                    b"--XX\n\nabc\n--XX\nContent-Type: text/plain\n\nunterminated\n")
    structure = body_structure(parse_message(unterminated))
    assert isinstance(structure, MultiPartBody)
    assert [p.size for p in structure.parts if isinstance(p, SinglePartBody)] == [3, 12]
    bad = b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=NOPE\n\n--XX\n\nabc\n"
    structure = body_structure(parse_message(bad))
    assert isinstance(structure, MultiPartBody) and len(structure.parts) == 1


def test_extension_data() -> None:
    data = (b"MIME-Version: 1.0\nContent-Type: image/PNG; name=\"a.png\"\n"
            b"Content-Transfer-Encoding: BASE64\nContent-ID: <id1>\n"
            b"Content-Disposition: attachment; filename*=utf-8''%C3%A9.png\n"
            b"Content-Language: en, de\nContent-Location: http://x/y\nContent-MD5: abc==\n\nAAAA\n")
    structure = body_structure(parse_message(data))
    assert render_body(structure) == (
        '("image" "png" ("name" "a.png") "<id1>" NIL "base64" 6 "abc==" '
        '("attachment" ("filename*" "utf-8\'\'%C3%A9.png")) ("en" "de") "http://x/y")')


def test_addresses_groups_routes_and_comments() -> None:
    parsed = parse_address_list(
        b'A Group:Ed <c@a.test>,joe@w.test;, undisclosed-recipients:;, '
        b'x@y (John Doe), <@r1,@r2:j@x.test>, "q l"@x.test, nodomain, Joe <>')
    assert parsed == (
        Address(None, None, b"A Group", None), Address(b"Ed", None, b"c", b"a.test"),
        Address(None, None, b"joe", b"w.test"), Address(None, None, None, None),
        Address(None, None, b"undisclosed-recipients", None), Address(None, None, None, None),
        Address(b"John Doe", None, b"x", b"y"), Address(None, b"@r1,@r2", b"j", b"x.test"),
        Address(None, None, b'"q l"', b"x.test"), Address(None, None, b"nodomain", b""),
        Address(b"Joe", None, b"", b""))


def test_envelope_defaults_and_raw_values() -> None:
    data = (b"From: \"Joe Q. Public\" <jqp@example.com>\nSubject: =?UTF-8?B?w6k=?=\n"
            b" folded\nDate: Tue, 1 Jul 2003 10:52:37 +0200\nMessage-ID: <1@x>\n\nbody")
    assert render_envelope(envelope(data)) == (
        '("Tue, 1 Jul 2003 10:52:37 +0200" "=?UTF-8?B?w6k=?= folded" '
        '(("Joe Q. Public" NIL "jqp" "example.com")) (("Joe Q. Public" NIL "jqp" "example.com")) '
        '(("Joe Q. Public" NIL "jqp" "example.com")) NIL NIL NIL NIL "<1@x>")')


def test_envelope_needs_only_the_header_block() -> None:
    head = b"Subject: big\nFrom: a@b\n\n"
    assert envelope(head).subject == envelope(head + b"x" * 1_000_000).subject


def test_digest_parts_default_to_message_rfc822() -> None:
    data = (b"MIME-Version: 1.0\nContent-Type: multipart/digest; boundary=D\n\n"
            b"--D\n\nSubject: one\n\nhi\n--D--\n")
    structure = body_structure(parse_message(data))
    assert isinstance(structure, MultiPartBody)
    part = structure.parts[0]
    assert isinstance(part, SinglePartBody) and (part.type, part.subtype) == (b"message", b"rfc822")
    assert part.envelope is not None and part.envelope.subject == b"one"


def test_header_read_from_a_descriptor_is_the_streams(tmp_path: Path) -> None:
    """read_header_fd (the workers' read, no file object) gives the bytes
    read_header_block gives: up to the blank line's step, several steps
    for a long header block, the whole file without a blank line."""
    import os

    from postillion.message.headers import HEADER_READ_STEP, read_header_block, read_header_fd

    long_block = b"".join(b"X-Long-%d: %s\n" % (i, b"v" * 60) for i in range(400))
    cases = [b"", b"Subject: x\n\nbody\n", b"\r\nbody", b"Subject: no blank line\n",
             long_block + b"\n" + b"b" * (3 * HEADER_READ_STEP),
             b"A: b\n" + b"c" * (HEADER_READ_STEP - 5) + b"\n\nrest"]
    for number, data in enumerate(cases):
        path = tmp_path / f"m{number}"
        path.write_bytes(data)
        with open(path, "rb") as stream:
            expected = read_header_block(stream)
        fd = os.open(path, os.O_RDONLY)
        try:
            assert read_header_fd(fd) == expected
        finally:
            os.close(fd)
    assert len(long_block) > 2 * HEADER_READ_STEP


_CONTENT_FIELDS = (b"Content-Transfer-Encoding: base64\nContent-ID: <i@x>\n"
                   b"Content-Description: d\nContent-Disposition: inline\n"
                   b"Content-Language: en\nContent-Location: loc\nContent-MD5: m\n")


def test_which_content_fields_need_mime_version() -> None:
    """Courier's rule (checked against its imapd in
    tests/interop/test_message_courier.py): a message's (top level or
    inside message/rfc822) Content-Type and Content-Disposition count only
    with MIME-Version; its transfer encoding, id, description and MD5
    count either way."""
    without = body_structure(parse_message(b"Subject: s\n" + _CONTENT_FIELDS + b"\nYQ==\n"))
    assert isinstance(without, SinglePartBody)
    assert (without.encoding, without.id, without.description, without.disposition,
            without.language, without.location, without.md5) == (
        b"base64", b"<i@x>", b"d", None, None, None, b"m")
    with_ = body_structure(parse_message(b"MIME-Version: 1.0\n" + _CONTENT_FIELDS
                                         + b"\nYQ==\n"))
    assert isinstance(with_, SinglePartBody)
    assert (with_.encoding, with_.id, with_.description, with_.disposition, with_.language,
            with_.location, with_.md5) == (
        b"base64", b"<i@x>", b"d", (b"inline", ()), (b"en",), b"loc", b"m")
    # Inside a message/rfc822 part, the inner message's own MIME-Version decides.
    outer = (b"MIME-Version: 1.0\nContent-Type: message/rfc822\n\nSubject: inner\n"
             + _CONTENT_FIELDS + b"\nYQ==\n")
    wrapped = body_structure(parse_message(outer))
    assert isinstance(wrapped, SinglePartBody) and isinstance(wrapped.body, SinglePartBody)
    assert (wrapped.body.encoding, wrapped.body.id, wrapped.body.disposition) == (
        b"base64", b"<i@x>", None)
