"""Which wire forms of ENVELOPE and BODYSTRUCTURE the folder cache keeps,
and trusts when it reads them back from a file anyone could have damaged."""

from __future__ import annotations

import pytest

from postillion.imap.foldercache import wire_plain
from postillion.imap.protocol.bodywire import wire_cacheable


@pytest.mark.parametrize("wire", [
    b'("Mon, 1 Jan 2024" "plain" NIL NIL)',
    b'({6}\r\nGr\xc3\xbc\xc3\x9f NIL)',                 # 8-bit text in a literal
    b'({2}\r\n\r\n {3}\r\n\xff\xfe) NIL)',             # CR LF and ")" inside literals
    b'(({5}\r\nJ\xc3\xb6rg NIL "j" "example.org")) NIL)',
])
def test_kept(wire: bytes) -> None:
    assert wire_cacheable(wire)


@pytest.mark.parametrize("wire", [
    b"",
    b"NIL",
    b'("a"',
    b'(NIL)\r\n* 99 EXISTS\r\nz OK (x)',                 # a line end that is no literal's
    b'(NIL {3}\r\nabc\r\n* 99 EXISTS\r\n(x)',            # a line end after the literal
    b'({40}\r\nshort)',                                  # literal runs past the end
    b'({5}\r\nabcd)',                                    # literal swallows the parenthesis
    b'({3}\r\na\x00b)',                                  # NUL inside a literal
    b'("Gr\xc3\xbc\xc3\x9f")',                           # 8-bit outside a literal
    b'(\x00)',
    b'("a\rb")',
    b'("a\nb")',
    b'({999999999999}\r\nx)',                            # a head too long to be ours
])
def test_refused(wire: bytes) -> None:
    assert not wire_cacheable(wire)


def test_plain_means_the_same_bytes_for_every_client() -> None:
    assert wire_plain(b'("plain" NIL)')
    assert not wire_plain(b'({6}\r\nGr\xc3\xbc\xc3\x9f)')
