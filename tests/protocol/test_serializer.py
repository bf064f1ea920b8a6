"""Responses to bytes: Courier's own transcript lines (imapd-config.md)
come out byte for byte, strings pick the right form, misuse raises."""

from __future__ import annotations

import datetime

import pytest

from postillion.imap.protocol import LocalProtocolError, SequenceSet, serialize
from postillion.imap.protocol import responses as r
from postillion.imap.protocol.fetchatts import FetchAtt
from postillion.imap.protocol.fetchdata import (
    body_structure_item,
    envelope_item,
    flags_item,
    internaldate_item,
    section_item,
    uid_item,
)
from postillion.message import Section, body_structure, envelope, parse_message
from postillion.message.threads import ThreadNode
from tests.message import imap_render

T = ThreadNode
THREAD_3 = T(3, (T(6, (T(4, (T(23),)), T(44, (T(7, (T(96),)),)))),))

COURIER_LINES: list[tuple[r.Response, bytes]] = [
    (r.UntaggedStatus("PREAUTH", "Ready."), b"* PREAUTH Ready."),
    (r.CapabilityData(("IMAP4rev1", "UIDPLUS", "CHILDREN", "NAMESPACE", "THREAD=ORDEREDSUBJECT",
                       "THREAD=REFERENCES", "SORT", "QUOTA", "IDLE", "ACL", "ACL2=UNION",
                       "ENABLE", "UTF8=ACCEPT")),
     b"* CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
     b"THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION ENABLE UTF8=ACCEPT"),
    (r.TaggedResponse(b"a1", "OK", "CAPABILITY completed"), b"a1 OK CAPABILITY completed"),
    (r.NamespaceData(((b"INBOX.", "."),), None, ((b"#shared.", "."), (b"shared.", "."))),
     b'* NAMESPACE (("INBOX." ".")) NIL (("#shared." ".")("shared." "."))'),
    (r.ListData(("\\Unmarked", "\\HasNoChildren"), ".", b"INBOX"),
     b'* LIST (\\Unmarked \\HasNoChildren) "." "INBOX"'),
    (r.StatusData(b"INBOX", (("MESSAGES", 0), ("RECENT", 0), ("UIDNEXT", 1),
                             ("UIDVALIDITY", 795597501), ("UNSEEN", 0))),
     b'* STATUS "INBOX" (MESSAGES 0 RECENT 0 UIDNEXT 1 UIDVALIDITY 795597501 UNSEEN 0)'),
    (r.FlagsData(("\\Draft", "\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Recent")),
     b"* FLAGS (\\Draft \\Answered \\Flagged \\Deleted \\Seen \\Recent)"),
    (r.UntaggedStatus("OK", "Limited", r.PermanentFlags(
        ("\\*", "\\Draft", "\\Answered", "\\Flagged", "\\Deleted", "\\Seen"))),
     b"* OK [PERMANENTFLAGS (\\* \\Draft \\Answered \\Flagged \\Deleted \\Seen)] Limited"),
    (r.UntaggedStatus("OK", "No permanent flags permitted", r.PermanentFlags(())),
     b"* OK [PERMANENTFLAGS ()] No permanent flags permitted"),
    (r.Exists(0), b"* 0 EXISTS"),
    (r.Recent(0), b"* 0 RECENT"),
    (r.UntaggedStatus("OK", "Ok", r.UidValidity(795597502)), b"* OK [UIDVALIDITY 795597502] Ok"),
    (r.UntaggedStatus("OK", "ACL", r.MyRightsCode("acdilrsw")),
     b'* OK [MYRIGHTS "acdilrsw"] ACL'),
    (r.TaggedResponse(b"a6", "OK", "Ok", r.READ_WRITE), b"a6 OK [READ-WRITE] Ok"),
    (r.TaggedResponse(b"a6", "OK", "Ok", r.READ_ONLY), b"a6 OK [READ-ONLY] Ok"),
    (r.QuotaRootData(b"INBOX", (b"ROOT",)), b'* QUOTAROOT "INBOX" "ROOT"'),
    (r.QuotaData(b"ROOT", None), b'* QUOTA "ROOT"'),
    (r.MyRightsData(b"INBOX", "acdilrsw"), b'* MYRIGHTS "INBOX" "acdilrsw"'),
    (r.AclData(b"INBOX", ((b"owner", "acdilrsw"), (b"administrators", "acdilrsw"))),
     b'* ACL "INBOX" "owner" "acdilrsw" "administrators" "acdilrsw"'),
    (r.UntaggedStatus("BYE", "Courier-IMAP server shutting down"),
     b"* BYE Courier-IMAP server shutting down"),
    (r.TaggedResponse(b"x1", "NO", "Error in IMAP command received by server."),
     b"x1 NO Error in IMAP command received by server."),
    (r.UntaggedStatus("BYE", "Fatal error: TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS: ", r.ALERT),
     b"* BYE [ALERT] Fatal error: TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS: "),
    (r.ContinuationRequest("OK"), b"+ OK"),
]

OTHER_LINES: list[tuple[r.Response, bytes]] = [
    (r.QuotaData("ROOT", (("STORAGE", 10, 512), ("MESSAGE", 1, 100))),
     b'* QUOTA "ROOT" (STORAGE 10 512 MESSAGE 1 100)'),
    (r.ExpungeData(3), b"* 3 EXPUNGE"),
    (r.SearchData(()), b"* SEARCH"),
    (r.SearchData((1, 5, 9)), b"* SEARCH 1 5 9"),
    (r.SortData((5, 1)), b"* SORT 5 1"),
    (r.ThreadData((ThreadNode(2), THREAD_3)),
     b"* THREAD (2)(3 6 (4 23)(44 7 96))"),
    (r.ListData(("\\HasNoChildren", "\\Sent"), "/", "Sent", "LSUB"),
     b'* LSUB (\\HasNoChildren \\Sent) "/" "Sent"'),
    (r.ListData((), None, b"x", extended=(("CHILDINFO", ("SUBSCRIBED",)),)),
     b'* LIST () NIL "x" (("CHILDINFO" ("SUBSCRIBED")))'),
    (r.ListRightsData(b"INBOX", b"bob", "", ("l", "r", "s", "w", "i", "p", "k", "x", "t", "e",
                                             "a")),
     b'* LISTRIGHTS "INBOX" "bob" "" l r s w i p k x t e a'),
    # Courier's line (courier-reference/acl.md and the differential test).
    (r.ListRightsData(b"INBOX.Work", b"paul", "al", ("c", "d", "i", "p", "r", "s", "w")),
     b'* LISTRIGHTS "INBOX.Work" "paul" "al" c d i p r s w'),
    (r.EnabledData(("UTF8=ACCEPT",)), b"* ENABLED UTF8=ACCEPT"),
    (r.IdData(None), b"* ID NIL"),
    (r.IdData(((b"name", b"Postillion"), (b"os", None))), b'* ID ("name" "Postillion" "os" NIL)'),
    (r.TaggedResponse(b"a", "OK", "APPEND done", r.AppendUid(38505, SequenceSet.of(3955))),
     b"a OK [APPENDUID 38505 3955] APPEND done"),
    (r.TaggedResponse(b"a", "OK", "", r.CopyUid(3, SequenceSet.of((1, 3), 7),
                                               SequenceSet.from_numbers([10, 11, 12, 13]))),
     b"a OK [COPYUID 3 1:3,7 10:13]"),
    (r.TaggedResponse(b"a", "NO", "quota", r.OVERQUOTA), b"a NO [OVERQUOTA] quota"),
    (r.TaggedResponse(b"a", "NO", "charset", r.BadCharset(("UTF-8",))),
     b"a NO [BADCHARSET (UTF-8)] charset"),
    (r.UntaggedStatus("OK", "x", r.CapabilityCode(("IMAP4rev1", "IDLE"))),
     b"* OK [CAPABILITY IMAP4rev1 IDLE] x"),
    (r.UntaggedStatus("OK", "x", r.UidNext(4)), b"* OK [UIDNEXT 4] x"),
    (r.UntaggedStatus("OK", "x", r.Unseen(2)), b"* OK [UNSEEN 2] x"),
    (r.ContinuationRequest(data=b"<1@host>"), b"+ PDFAaG9zdD4="),
]


@pytest.mark.parametrize(("response", "line"), COURIER_LINES + OTHER_LINES,
                         ids=[line.decode()[:50] for _, line in COURIER_LINES + OTHER_LINES])
def test_line(response: r.Response, line: bytes) -> None:
    assert serialize(response) == line + b"\r\n"


def test_every_simple_code() -> None:
    for code in (r.ALERT, r.PARSE, r.TRYCREATE, r.UIDNOTSTICKY, r.NOPERM, r.NONEXISTENT,
                 r.ALREADYEXISTS, r.CANNOT, r.LIMIT, r.SERVERBUG, r.CLIENTBUG):
        assert serialize(r.TaggedResponse(b"t", "NO", "x", code)) == (
            b"t NO [" + code.name.encode() + b"] x\r\n")


def test_strings_choose_their_form() -> None:
    def mailbox(name: bytes | str, utf8: bool = False) -> bytes:
        return serialize(r.MyRightsData(name, "l"), utf8)[len(b"* MYRIGHTS "):-len(b' "l"\r\n')]

    assert mailbox(b'a"b\\c') == b'"a\\"b\\\\c"'
    assert mailbox(b"a\r\nb") == b"{4}\r\na\r\nb"
    assert mailbox("é") == b"{2}\r\n\xc3\xa9"
    assert mailbox("é", utf8=True) == b'"\xc3\xa9"'
    assert mailbox(b"\xff", utf8=True) == b"{1}\r\n\xff"
    assert mailbox(b"a\0b") == b"{3}\r\na\0b"
    assert mailbox(b"x" * 2000).startswith(b"{2000}\r\n")


def test_fetch_items_from_the_message_layer() -> None:
    raw = (b"From: A <a@example.com>\r\nTo: b@example.com\r\nSubject: hi\r\n"
           b"Message-ID: <1@x>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain\r\n\r\nbody\r\n--XX--\r\n")
    root = parse_message(raw)
    env = envelope(raw)
    structure = body_structure(root)
    when = datetime.datetime(2024, 3, 1, 9, 5, 7, tzinfo=datetime.timezone(
        -datetime.timedelta(hours=5, minutes=30)))
    att = FetchAtt("BODY", Section((1,)), (0, 3), peek=True)
    line = serialize(r.FetchData(7, (
        flags_item(("\\Seen", "$Junk")), uid_item(42), internaldate_item(when),
        envelope_item(env), body_structure_item(structure, True),
        body_structure_item(structure, False), section_item(att, b"bod"),
        section_item(FetchAtt("BINARY", Section((1,))), b"a\0b"),
        section_item(FetchAtt("BODY", Section((9,))), None))))
    assert line == (
        b'* 7 FETCH (FLAGS (\\Seen $Junk) UID 42 INTERNALDATE "01-Mar-2024 09:05:07 -0530" '
        b"ENVELOPE " + imap_render.envelope(env).encode() + b" BODYSTRUCTURE "
        + imap_render.body(structure).encode() + b" BODY "
        + imap_render.body(structure, extended=False).encode()
        + b" BODY[1]<0> {3}\r\nbod BINARY[1] ~{3}\r\na\0b BODY[9] NIL)\r\n")


def test_internaldate_day_has_two_digits_as_courier_writes_it() -> None:
    when = datetime.datetime(2024, 1, 1, 10, 0, tzinfo=datetime.UTC)
    assert serialize(r.FetchData(1, (internaldate_item(when),))) == (
        b'* 1 FETCH (INTERNALDATE "01-Jan-2024 10:00:00 +0000")\r\n')


def test_envelope_address_lists_have_no_space_between_addresses() -> None:
    # Courier's line for the differential corpus' message 7: RFC 3501
    # env-to = "(" 1*address ")", the addresses adjacent.
    raw = (b'From: "Newsletter" <news@example.com>\nSender: bounce@example.com\n'
           b"Reply-To: reply@example.com\nTo: alice@example.com, bob@example.com\n"
           b"Bcc: hidden@example.com\nSubject: [news] weekly report\n"
           b"Date: Sun, 7 Jan 2024 15:00:00 +0000\nMessage-ID: <news-7@example.com>\n\nhi\n")
    assert serialize(r.FetchData(7, (envelope_item(envelope(raw)),))) == (
        b'* 7 FETCH (ENVELOPE ("Sun, 7 Jan 2024 15:00:00 +0000" "[news] weekly report" '
        b'(("Newsletter" NIL "news" "example.com")) ((NIL NIL "bounce" "example.com")) '
        b'((NIL NIL "reply" "example.com")) '
        b'((NIL NIL "alice" "example.com")(NIL NIL "bob" "example.com")) NIL '
        b'((NIL NIL "hidden" "example.com")) NIL "<news-7@example.com>"))\r\n')


def test_encapsulated_envelope_and_multipart_parts_are_adjacent() -> None:
    # body-type-mpart = 1*body SP media-subtype; the envelope of a
    # message/rfc822 part follows env-to's rule as well.
    raw = (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
           b"--B\nContent-Type: text/plain\n\none\n"
           b"--B\nContent-Type: message/rfc822\n\n"
           b"From: a@x.test\nTo: b@x.test, c@x.test\nSubject: in\n\nbody\n--B--\n")
    line = serialize(r.FetchData(1, (body_structure_item(body_structure(parse_message(raw)),
                                                         False),)))
    assert line == (
        b'* 1 FETCH (BODY (("text" "plain" NIL NIL NIL "8bit" 3 0)("message" "rfc822" NIL NIL '
        b'NIL "8bit" 59 (NIL "in" ((NIL NIL "a" "x.test")) ((NIL NIL "a" "x.test")) '
        b'((NIL NIL "a" "x.test")) ((NIL NIL "b" "x.test")(NIL NIL "c" "x.test")) NIL NIL NIL '
        b'NIL) ("text" "plain" NIL NIL NIL "8bit" 4 0) 4) "mixed"))\r\n')


@pytest.mark.parametrize("bad", [
    r.TaggedResponse(b"a", "MAYBE"), r.TaggedResponse(b"", "OK"), r.TaggedResponse(b"a b", "OK"),
    r.TaggedResponse(b"a", "OK", "two\r\nlines"), r.UntaggedStatus("DONE"),
    r.FlagsData(("bad flag",)), r.FetchData(1, (r.FetchItem(b"X", -1),)),
    r.ListData((), ".", b"x", kind="XLIST"), r.CapabilityData(("A B",)),
])
def test_our_mistakes_raise(bad: r.Response) -> None:
    with pytest.raises(LocalProtocolError):
        serialize(bad)
