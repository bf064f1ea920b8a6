"""Hypothesis: the parser never raises, and sizes agree with the bytes."""

from __future__ import annotations

from hypothesis import given, settings
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
from postillion.message.crlf import crlf_chunks
from postillion.message.decode import body_texts, decode_header
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
