"""Search text decoding, RFC 5256 sort keys and threading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postillion.message import parse_message
from postillion.message.decode import (
    address_search_text,
    body_texts,
    contains,
    decode_header,
)
from postillion.message.sortkeys import (
    address_sort_key,
    base_subject,
    base_subject_and_reply,
    sent_date,
)
from postillion.message.threads import (
    ThreadMessage,
    thread_orderedsubject,
    thread_references,
)

from .imap_render import threads as render


@pytest.mark.parametrize(("raw", "text"), [
    (b"=?UTF-8?B?w6lsw6k=?= test", "élé test"),
    (b"=?iso-8859-1?q?caf=E9_au_lait?=", "café au lait"),
    (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),            # whitespace between words dropped
    (b"=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"),
    (b"=?x-unknown?q?abc?= tail", "=?x-unknown?q?abc?= tail"),
    (b"caf\xc3\xa9", "café"),
    (b"caf\xe9", "café"),                              # 8-bit, not UTF-8: Latin-1
])
def test_decode_header(raw: bytes, text: str) -> None:
    assert decode_header(raw) == text


def test_body_texts_decode_transfer_and_charset() -> None:
    data = (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
            b"--B\nContent-Type: text/plain; charset=iso-8859-1\n"
            b"Content-Transfer-Encoding: quoted-printable\n\nGr=FC=DFe=\n aus K=F6ln\n"
            b"--B\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
            b"PGI+U3RyYcOfZTwvYj4=\n"
            b"--B\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\nAAAA\n"
            b"--B\nContent-Type: message/rfc822\n\n"
            b"Subject: =?utf-8?q?Inn=C3=A9r?=\n\ndeep\n--B--\n")
    texts = list(body_texts(parse_message(data)))
    assert texts[0] == "Grüße aus Köln"
    assert texts[1] == "<b>Straße</b>"
    assert "Subject: Innér" in texts[2]
    assert texts[3] == "deep"
    assert contains(texts[0], "GRÜSSE")                # casefold: ß == ss
    assert contains(texts[1], "strasse")


def test_address_search_text() -> None:
    text = address_search_text(b"=?utf-8?q?J=C3=BCrgen?= <jm@example.com>, g: x@y;")
    assert contains(text, "jürgen") and contains(text, "JM@EXAMPLE.COM")
    assert contains(text, "x@y")


@pytest.mark.parametrize(("subject", "base", "reply"), [
    (b"Re: Fwd: [list] hello (fwd)", "hello", True),
    (b"[fwd: Re: x]", "x", True),
    (b"RE:  re: [a] [b] re: Test", "Test", True),
    (b"[blob]", "[blob]", False),                       # blob kept if nothing else is left
    (b"hello  \t world ", "hello world", False),
    (b"=?utf-8?q?Re:_caf=C3=A9?=", "café", True),
    (b"Re[2]: x", "x", True),                            # a blob before the colon
    (b"Fwd:", "", True),
])
def test_base_subject(subject: bytes, base: str, reply: bool) -> None:
    assert base_subject_and_reply(subject) == (base, reply)


def test_sent_date_falls_back_to_internal_date() -> None:
    internal = datetime(2024, 5, 1, tzinfo=UTC)
    assert sent_date(b"garbage", internal) == internal
    assert sent_date(None, internal) == internal
    assert sent_date(b"Tue, 1 Jul 2003 10:52:37 +0200", internal) == \
        datetime(2003, 7, 1, 8, 52, 37, tzinfo=UTC)


def test_address_sort_key_is_first_local_part() -> None:
    assert address_sort_key(b"\"Zed\" <alice@x>, bob@y") == "ALICE"
    assert address_sort_key(b"undisclosed-recipients:;") == ""
    assert address_sort_key(None) == ""


T0 = datetime(2024, 1, 1, tzinfo=UTC)


def msg(number: int, msgid: str | None, refs: str = "", subject: str = "s",
        minutes: int | None = None, in_reply_to: str = "") -> ThreadMessage:
    base, reply = base_subject_and_reply(subject.encode())
    return ThreadMessage(number, msgid.encode() if msgid else None, refs.encode() or None,
                         in_reply_to.encode() or None, base, reply,
                         T0 + timedelta(minutes=number if minutes is None else minutes))


def test_references_basic_tree_and_in_reply_to() -> None:
    messages = [
        msg(1, "<a@x>", subject="one"),
        msg(2, "<b@x>", "<a@x>", "Re: one"),
        msg(3, "<c@x>", in_reply_to="<a@x>", subject="Re: one"),
        msg(4, "<d@x>", "<a@x> <b@x>", "Re: one"),
        msg(5, "<e@x>", subject="other"),
    ]
    assert render(thread_references(messages)) == "(1 (2 4)(3))(5)"


def test_references_missing_parent_becomes_dummy_and_subjects_merge() -> None:
    messages = [
        msg(1, "<b@x>", "<gone@x>", "Re: topic"),
        msg(2, "<c@x>", "<gone@x>", "Re: topic"),
        msg(3, "<d@x>", subject="topic"),          # same subject, not a reply
        msg(4, "<e@x>", "<lost@x>", "Re: lone"),   # dummy with one child is promoted
    ]
    assert render(thread_references(messages)) == "((1)(2)(3))(4)"


def test_references_loops_duplicates_and_no_ids() -> None:
    messages = [
        msg(1, "<a@x>", "<b@x>", "x"),
        msg(2, "<b@x>", "<a@x>", "y"),              # would close a loop
        msg(3, "<a@x>", subject="z"),               # duplicate Message-ID
        msg(4, None, subject="w"),
    ]
    result = thread_references(messages)
    numbers = sorted(n for n in _numbers(result))
    assert numbers == [1, 2, 3, 4]


def _numbers(nodes: object) -> list[int]:
    from postillion.message.threads import flatten
    return flatten(nodes)  # type: ignore[arg-type]


def test_reply_subject_goes_under_original() -> None:
    messages = [msg(1, "<a@x>", subject="Re: hi"), msg(2, "<b@x>", subject="hi", minutes=0)]
    assert render(thread_references(messages)) == "(2 1)"


def test_orderedsubject_rfc_and_courier_shapes() -> None:
    messages = [msg(1, None, subject="b"), msg(2, None, subject="Re: a"),
                msg(3, None, subject="a"), msg(4, None, subject="re: b"), msg(5, None, "", "c")]
    assert render(thread_orderedsubject(messages)) == "(1 4)(2 3)(5)"
    messages.append(msg(6, None, subject="a"))
    assert render(thread_orderedsubject(messages)) == "(1 4)(2 (3)(6))(5)"
    assert render(thread_orderedsubject(messages, as_chain=True)) == "(1 4)(2 3 6)(5)"


def test_base_subject_helper() -> None:
    assert base_subject(b"Re: x") == "x"


def _reply_chain(count: int, *, same_subject: bool) -> list[ThreadMessage]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [ThreadMessage(n + 1, f"<m{n}@x>".encode(),
                          f"<m{n - 1}@x>".encode() if n else None, None,
                          "long discussion" if same_subject or not n else f"other {n}", n > 0,
                          start + timedelta(minutes=n))
            for n in range(count)]


@pytest.mark.parametrize("algorithm", ["REFERENCES", "ORDEREDSUBJECT"])
def test_a_reply_chain_thousands_deep_threads(algorithm: str) -> None:
    """Each message replying to the one before, 5,000 deep (a long list
    discussion): one thread, answered as a flat chain; no walk of the tree
    may recurse once per level (Python's stack ends near 1,000)."""
    from postillion.imap.protocol import responses as r
    from postillion.imap.protocol import serializer

    count = 5000
    if algorithm == "REFERENCES":
        threads = thread_references(_reply_chain(count, same_subject=False))
    else:
        threads = thread_orderedsubject(_reply_chain(count, same_subject=True), as_chain=True)
    wire = serializer.serialize(r.ThreadData(tuple(threads)))
    chain = " ".join(str(n) for n in range(1, count + 1))
    assert wire == f"* THREAD ({chain})\r\n".encode()
