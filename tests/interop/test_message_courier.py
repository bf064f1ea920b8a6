"""Our ENVELOPE / BODYSTRUCTURE / BODY / THREAD against Courier's imapd.

Each tricky message goes into a fresh maildir; Courier's preauthenticated
imapd answers FETCH and THREAD, and our values rendered as IMAP text must
be the same, except where Courier breaks the RFCs (listed below with the
reason; docs/message.md has the details).
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench.corpus import messages as corpus_messages
from tests.conftest import courier_program
from tests.message import imap_render

from postillion.message import body_structure, envelope, parse_header_only, parse_message
from postillion.message.sortkeys import base_subject_and_reply, sent_date
from postillion.message.threads import ThreadMessage, thread_orderedsubject, thread_references

pytestmark = pytest.mark.interop

MIME = b"MIME-Version: 1.0\n"
TRICKY: dict[str, bytes] = {
    "addresses": (
        b'From: "Joe Q. Public" <john.q.public@example.com>\n'
        b"To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n"
        b'Cc: <boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>\n'
        b"Bcc: jdoe@example.org (John Doe), \"quoted local\"@x.test, nodomain, Joe <>\n"
        b"Reply-To: r@x.test\nSender: s@x.test\n"
        b"Subject: =?UTF-8?B?w6lsw6k=?= test\nDate: Tue, 1 Jul 2003 10:52:37 +0200\n"
        b"Message-ID: <5678.21-Nov-1997@example.com>\nIn-Reply-To: <1@x>\n\nbody\n"),
    "folded": b"Subject: folded\n  subject\there\nFrom: a@b.test\n\nx\n",
    "nested": (
        MIME + b'Content-Type: multipart/mixed; boundary="XX"\n\npre\n'
        b"--XX\nContent-Type: multipart/alternative; boundary=YY\n\n"
        b"--YY\nContent-Type: text/plain; charset=utf-8\n\na\n"
        b"--YY\nContent-Type: text/html\n\n<b>\n--YY--\n"
        b'--XX\nContent-Type: image/png; name="a.png"\nContent-Transfer-Encoding: base64\n'
        b"Content-ID: <id1>\nContent-Description: a pic\n"
        b"Content-Disposition: attachment; filename*=utf-8''%C3%A9.png\n"
        b"Content-MD5: abc==\n\nAAAA\n--XX--\nepi\n"),
    "no_mime_version": b"Content-Type: multipart/mixed; boundary=X\n\n--X\n\na\n--X--\n",
    # Without MIME-Version Courier drops Content-Type and Content-Disposition
    # but reports the transfer encoding, id, description and MD5.
    "content_fields_without_mime_version": (
        b"Subject: s\nContent-Transfer-Encoding: base64\nContent-ID: <i@x>\n"
        b"Content-Description: d\nContent-Disposition: inline; filename=a\n"
        b"Content-MD5: m\nContent-Type: text/html\n\nYQ==\n"),
    "content_fields_with_mime_version": (
        MIME + b"Content-Transfer-Encoding: base64\nContent-ID: <i@x>\n"
        b"Content-Description: d\nContent-Disposition: inline; filename=a\n"
        b"Content-MD5: m\nContent-Type: text/html\n\nYQ==\n"),
    "seven_bit": MIME + b"Content-Type: text/plain; charset=us-ascii\n"
                 b"Content-Transfer-Encoding: 7BIT\n\nx\n",
    "type_only": MIME + b"Content-Type: TEXT\n\nx\n",
    "no_header": b"\nx\n",
    "unterminated": (MIME + b"Content-Type: multipart/mixed; boundary=XX\n\n"
                     b"--XX\n\nabc\n--XX\nContent-Type: text/plain\n\nunterminated\n"),
    "inner_unterminated": (
        MIME + b"Content-Type: multipart/mixed; boundary=XX\n\n--XX\n\nfirst\n"
        b"--XX\nContent-Type: multipart/alternative; boundary=YY\n\n--YY\n\ninner\n--XX--\n"),
    "no_colon_line": b"Subject: x\nno colon line\nFrom: a@b\n\nbody\n",
    "crlf": b"Subject: crlf\r\nFrom: a@b\r\n\r\nline1\r\nline2\r\n",
    # Courier gets these wrong; see KNOWN_DIFFERENCES.
    "rfc822_in_mixed": (
        MIME + b"Content-Type: multipart/mixed; boundary=XX\n\n"
        b"--XX\nContent-Type: message/rfc822\n\nFrom: a@b\nSubject: inner\n\nbody\n--XX--\n"),
    "group": b"To: A Group:Ed Jones <c@a.test>,joe@where.test;, undisclosed-recipients:;\n\nx\n",
    "route": b"From: <@r1.test,@r2.test:joe@x.test>\n\nx\n",
    "bad_boundary": (MIME + b"Content-Type: multipart/mixed; boundary=NOPE\n\n"
                     b"--XX\nContent-Type: text/plain\n\nabc\n--XX--\n"),
    "eight_bit_header": b"From: caf\xc3\xa9 <a@b>\nSubject: caf\xc3\xa9\n\nx\n",
    "no_blank_line": b"To: a@b\nSubject: no body",
}

KNOWN_DIFFERENCES = {
    "rfc822_in_mixed": "Courier counts one stray CR at the end of a message/rfc822 part "
                       "and of its body (34/5 octets where the part holds 33/4).",
    "group": "Courier renders a group's start and end as (NIL NIL \"\" NIL) and loses the "
             "group name; RFC 3501 wants (NIL NIL \"name\" NIL) ... (NIL NIL NIL NIL).",
    "route": "Courier puts the source route into the mailbox field; RFC 3501 has an adl field.",
    "bad_boundary": "Courier reports a multipart with no parts as a single part, which "
                    "RFC 3501 syntax does not allow; we give it one text/plain part.",
    "eight_bit_header": "Courier turns raw 8-bit header text into =?utf-8?B?...?= words; we "
                        "hand over the raw bytes and leave wire encoding to the serializer.",
    "crlf": "Courier adds a CR before every LF even after a stored CR (16 octets for "
            "line1 CRLF line2 CRLF); a CRLF already stored stays one CRLF for us.",
    "no_blank_line": "Courier takes a last header line without a line end as body; we "
                     "take it as a header field (Subject: no body).",
}


def run_imapd(tmp_path: Path, messages: list[bytes], commands: list[str]) -> str:
    imapd = courier_program("imapd")
    maildir = tmp_path / "Maildir"
    subprocess.run([courier_program("maildirmake"), str(maildir)], check=True)
    for index, data in enumerate(messages):
        (maildir / "cur" / f"{1_000_000 + index}.M{index}P1.test:2,S").write_bytes(data)
    script = b"a SELECT INBOX\r\n" + b"".join(
        f"c{i} {command}\r\n".encode() for i, command in enumerate(commands)) + b"z LOGOUT\r\n"
    result = subprocess.run([imapd, "Maildir"], input=script, cwd=tmp_path,
                            env=dict(os.environ, AUTHENTICATED="root"),
                            capture_output=True, timeout=120, check=False)
    return result.stdout.decode("utf-8", "surrogateescape")


def fetch_items(output: str, item: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for line in output.splitlines():
        match = re.fullmatch(rf"\* (\d+) FETCH \({item} (.*)\)", line.rstrip("\r"))
        if match:
            found[int(match.group(1))] = match.group(2)
    return found


def ours(data: bytes, item: str) -> str:
    if item == "ENVELOPE":
        return imap_render.envelope(envelope(data))
    structure = body_structure(parse_message(data))
    return imap_render.body(structure, extended=item == "BODYSTRUCTURE", courier=True)


@pytest.fixture(scope="module")
def courier_fetch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, str]]:
    output = run_imapd(tmp_path_factory.mktemp("courier"), list(TRICKY.values()),
                       ["FETCH 1:* (ENVELOPE)", "FETCH 1:* (BODYSTRUCTURE)", "FETCH 1:* (BODY)"])
    return {item: fetch_items(output, item) for item in ("ENVELOPE", "BODYSTRUCTURE", "BODY")}


@pytest.mark.parametrize("name", list(TRICKY))
def test_fetch_matches_courier(name: str, courier_fetch: dict[str, dict[int, str]]) -> None:
    number = list(TRICKY).index(name) + 1
    data = TRICKY[name]
    theirs = {item: courier_fetch[item][number] for item in courier_fetch}
    mine = {item: ours(data, item) for item in courier_fetch}
    if name in KNOWN_DIFFERENCES:
        # Still different: if Courier ever agrees, this list must shrink.
        assert mine != theirs, KNOWN_DIFFERENCES[name]
    else:
        assert mine == theirs


@pytest.mark.parametrize("seed", [1, 7])
def test_threads_match_courier_on_corpus(tmp_path: Path, seed: int) -> None:
    datas = [m.data for m in corpus_messages(300, seed, max_size=2000)]
    output = run_imapd(tmp_path, datas, ["THREAD REFERENCES UTF-8 ALL",
                                         "THREAD ORDEREDSUBJECT UTF-8 ALL"])
    theirs = [line[len("* THREAD "):].strip() for line in output.splitlines()
              if line.startswith("* THREAD ")]
    items = []
    for number, data in enumerate(datas, 1):
        headers = parse_header_only(data).headers
        subject, is_reply = base_subject_and_reply(headers.get(b"subject"))
        items.append(ThreadMessage(number, headers.get(b"message-id"),
                                   headers.get(b"references"), headers.get(b"in-reply-to"),
                                   subject, is_reply,
                                   sent_date(headers.get(b"date"), datetime.now(UTC)).timestamp()))
    assert theirs == [imap_render.threads(thread_references(items)),
                      imap_render.threads(thread_orderedsubject(items, as_chain=True))]
