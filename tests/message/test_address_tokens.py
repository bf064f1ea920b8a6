"""The regular-expression tokenizer of address values without comments
gives exactly the tokens of the byte-by-byte one (kept for comments)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postillion.message.address import _Token, _tokenize_loop, _tokenize_plain

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
