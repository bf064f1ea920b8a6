"""Modified UTF-7 (RFC 3501 5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postillion.maildir import mutf7


@pytest.mark.parametrize(("text", "wire"), [
    ("Résumé", "R&AOk-sum&AOk-"),
    ("Über", "&ANw-ber"),
    ("a&b", "a&-b"),
    ("&", "&-"),
    ("plain", "plain"),
    ("日本語", "&ZeVnLIqe-"),
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501's example
    ("😀", "&2D3eAA-"),
])
def test_known_encodings(text: str, wire: str) -> None:
    assert mutf7.encode(text) == wire
    assert mutf7.decode(wire) == text


@pytest.mark.parametrize("bad", [
    "&", "&AOk", "&A-", "&AGE-",  # unterminated, odd bytes, shifted ASCII
    "a\u00e9", "\x01", "&AOk-&AOk-",  # raw non-ASCII, control, two shifts in a row
    "&ZeVnLIqe!-",
])
def test_malformed_input_is_refused(bad: str) -> None:
    with pytest.raises(mutf7.MUTF7Error):
        mutf7.decode(bad)


@given(st.text(st.characters(blacklist_categories=("Cs",))))
def test_round_trip(text: str) -> None:
    wire = mutf7.encode(text)
    assert all(0x20 <= ord(ch) <= 0x7E for ch in wire)
    assert mutf7.decode(wire) == text


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_decode_is_inverse_where_it_accepts(wire: str) -> None:
    try:
        text = mutf7.decode(wire)
    except mutf7.MUTF7Error:
        return
    assert mutf7.encode(text) == wire
