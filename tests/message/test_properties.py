"""Hypothesis: the parser never raises, and sizes agree with the bytes."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from postillion.message import (
    MimePart,
    Section,
    body_structure,
    envelope,
    parse_message,
    rfc822_size,
    section_content,
    to_crlf,
)
from postillion.message.crlf import crlf_chunks, crlf_length, line_count
from postillion.message.decode import body_texts, decode_header
from postillion.message.headers import Headers, header_bounds, iter_fields
from postillion.message.mimeparse import _split_params, _split_params_escaped
from postillion.message.sortkeys import base_subject_and_reply

# Pieces that make the parser take its interesting paths.
PIECES = [b"\n", b"\r\n", b"\r", b"--B", b"--B--", b"--C", b": ", b"Subject: x", b"\n\n",
          b"MIME-Version: 1.0\n", b"Content-Type: multipart/mixed; boundary=B\n",
          b"Content-Type: multipart/alternative; boundary=C\n",
          b"Content-Type: message/rfc822\n", b"Content-Transfer-Encoding: base64\n",
          b"Content-Transfer-Encoding: quoted-printable\n", b"=?utf-8?q?a=C3?=",
          b"=?x?b?###?=", b"\xff\xfe", b"From: <a@b>, g:;\n", b" folded", b"AAAA=="]
mail = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=20)),
                max_size=40).map(b"".join)


def all_parts(part: MimePart, prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    numbers: list[tuple[int, ...]] = []
    target = part.message if part.message is not None else part
    for index, child in enumerate(target.children, 1):
        numbers.append((*prefix, index))
        numbers.extend(all_parts(child, (*prefix, index)))
    return numbers


@settings(max_examples=400, deadline=None)
@given(mail)
def test_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    root = parse_message(data)
    body_structure(root)
    envelope(data)
    list(body_texts(root))
    for field in root.headers.fields:
        decode_header(field.value)
        base_subject_and_reply(field.value)
    for numbers in [(1,), (2, 1), *all_parts(root)]:
        for text in ("", "MIME", "HEADER", "TEXT"):
            section_content(root, Section(numbers, text)).to_bytes()


@settings(max_examples=300, deadline=None)
@given(mail, st.integers(0, 300), st.integers(0, 300))
def test_sizes_and_partials_agree(data: bytes, offset: int, length: int) -> None:
    root = parse_message(data)
    whole = section_content(root, Section())
    as_bytes = whole.to_bytes()
    assert as_bytes == to_crlf(data)
    assert whole.size == rfc822_size(data) == len(as_bytes)
    assert whole.to_bytes(offset, length) == as_bytes[offset:offset + length]
    header = section_content(root, Section(text="HEADER")).to_bytes()
    text = section_content(root, Section(text="TEXT")).to_bytes()
    # BODY[] is HEADER followed by TEXT, blank line or not (nothing supplied).
    assert header + text == as_bytes
    for numbers in all_parts(root):
        content = section_content(root, Section(numbers))
        assert content.size == len(content.to_bytes())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b"\r\r\n", b"\n\r"]),
                max_size=20).map(b"".join) | st.binary(max_size=200))
def test_crlf_view_turns_every_bare_lf_into_crlf(data: bytes) -> None:
    # With or without a CR anywhere (two code paths): each LF gains a CR
    # unless it has one; CRs elsewhere stay as they are.
    assert to_crlf(data) == re.sub(rb"(?<!\r)\n", b"\r\n", data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"\n", b"\r", b"\r\n", b"a", b"\n\n"]),
                max_size=30).map(b"".join) | st.binary(max_size=200),
       st.integers(0, 60), st.integers(0, 60))
def test_line_counts_and_crlf_lengths_of_ranges(data: bytes, start: int, end: int) -> None:
    start, end = min(start, len(data)), min(end, len(data))
    if 0 < start < len(data) and data[start - 1:start + 1] == b"\r\n":
        return  # (a range may not start inside a CRLF pair)
    want_lines = data[start:end].count(b"\n")
    want_length = len(to_crlf(data[start:end]))
    assert line_count(data, start, end) == (want_lines if end > start else 0)
    assert crlf_length(data, start, end) == (want_length if end > start else 0)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 17))
def test_chunks_never_split_crlf(data: bytes, chunk_size: int) -> None:
    assert b"".join(crlf_chunks(data, 0, len(data), chunk_size)) == to_crlf(data)


@settings(max_examples=200, deadline=None)
@given(mail)
def test_structure_sizes_match_sections(data: bytes) -> None:
    root = parse_message(data)
    for numbers in all_parts(root):
        body = section_content(root, Section(numbers)).to_bytes()
        entity = root
        for n in numbers:
            target = entity.message if entity.message is not None else entity
            if not target.children:
                break
            entity = target.children[n - 1]
        else:
            assert entity.body_size == len(body)


def _entities(part: MimePart) -> list[MimePart]:
    found = [part]
    for child in part.children:
        found += _entities(child)
    if part.message is not None:
        found += _entities(part.message)
    return found


# Messages that are MIME from the start, so that most are multiparts.
_MIME_STARTS = [b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n",
                b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=C\r\n",
                b"MIME-Version: 1.0\nContent-Type: message/rfc822\n\n", b""]
_MIME_LINES = [b"--B\n", b"--B--\n", b"--C\r\n", b"--C--", b"\n", b"\r\n", b"\r", b"text",
               b"Content-Type: multipart/alternative; boundary=C\n",
               b"Content-Type: message/rfc822\n", b"MIME-Version: 1.0\n", b"Subject: x\n"]
mime_mail = st.tuples(st.sampled_from(_MIME_STARTS),
                      st.lists(st.sampled_from(_MIME_LINES), max_size=40).map(b"".join)
                      ).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(mime_mail, st.booleans())
def test_sizes_added_up_from_parts_are_the_scanned_sizes(data: bytes, lines_first: bool) -> None:
    # A multipart's size is its parts' sizes plus what lies between them;
    # counted lines and sizes are kept: all as if each range were scanned.
    root = parse_message(data)
    entities = _entities(root)
    for part in entities if lines_first else ():
        assert part.body_lines == line_count(data, part.body_start, part.end)
    assert root.size == rfc822_size(data) == crlf_length(data)
    for part in entities:
        assert part.size == crlf_length(data, part.start, part.end)
        assert part.body_size == crlf_length(data, part.body_start, part.end)
        assert part.body_lines == line_count(data, part.body_start, part.end)


@settings(max_examples=400, deadline=None)
@given(mail, st.integers(0, 50))
def test_header_parse_gives_the_fields_of_iter_fields(data: bytes, start: int) -> None:
    end = header_bounds(data, min(start, len(data)))[0]
    headers = Headers.parse(data, start, end)
    reference = Headers(iter_fields(data, start, end))
    assert headers.fields == reference.fields
    for field in reference.fields:
        assert headers.get(field.name) == reference.get(field.name)
        assert headers.get_all(field.name) == reference.get_all(field.name)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b";", b'"', b"=", b"a", b" ", b"(", b"\xff"]), max_size=20)
       .map(b"".join))
def test_parameter_split_without_backslash_agrees(text: bytes) -> None:
    assert _split_params(text) == _split_params_escaped(text)


_NAMES = [b"from", b"FROM", b"Subject", b"content-type", b"Content-Type", b"mime-version",
          b"x", b"", b"received"]


_FOLDING = [b" ", b"\t", b"\n ", b"\r\n\t", b"Subject:", b"FROM :", b"To: a\n b\n"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES + _FOLDING) | st.binary(max_size=8),
                max_size=30).map(b"".join))
@example(b"Subject: a\n b\r\n\tc\nFrom: x\n\n")
def test_lower_case_lookups_agree_with_get(data: bytes) -> None:
    """The lookups by lower-case name (which ``get`` and the parsers use)
    give the first field of that name, whatever its case, unfolded."""
    header_end, _body = header_bounds(data)
    headers = Headers.parse(data, 0, header_end)
    names = [field.name for field in headers.fields] + _NAMES
    for name in names:
        first = next((f for f in headers.fields if f.name and f.name.lower() == name.lower()),
                     None)
        expected = None if first is None else first.value
        assert headers.lookup(name.lower()) == headers.get(name) == expected
        assert headers.has(name.lower()) == (name in headers) == (first is not None)
