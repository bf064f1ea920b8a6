"""Every command the core parses: text in, typed command out, and the same
result however the bytes are split."""

from __future__ import annotations

import datetime

import pytest

from postillion.imap.protocol import (
    CommandError,
    ErrorKind,
    FetchAtt,
    Missing,
    SequenceSet,
    SessionState,
)
from postillion.imap.protocol import (
    commands as c,
)
from postillion.imap.protocol import searchkeys as k
from postillion.message import Section

from .helpers import parse_one, run_all_splits

S = SequenceSet.of
UTC1 = datetime.timezone(datetime.timedelta(hours=1))
NOT_AUTH = SessionState.NOT_AUTHENTICATED
AUTH = SessionState.AUTHENTICATED

CASES: list[tuple[bytes, SessionState, object]] = [
    (b"a CAPABILITY", NOT_AUTH, c.Capability(b"a")),
    (b"a noop", NOT_AUTH, c.Noop(b"a")),
    (b"a LOGOUT", AUTH, c.Logout(b"a")),
    (b"a STARTTLS", NOT_AUTH, c.StartTLS(b"a")),
    (b"a AUTHENTICATE PLAIN", NOT_AUTH, c.Authenticate(b"a", "PLAIN")),
    (b"a AUTHENTICATE plain AGJvYgBwdw==", NOT_AUTH,
     c.Authenticate(b"a", "PLAIN", b"\0bob\0pw")),
    (b"a AUTHENTICATE EXTERNAL =", NOT_AUTH, c.Authenticate(b"a", "EXTERNAL", b"")),
    (b'a LOGIN bob "p\\"w\\\\d"', NOT_AUTH, c.Login(b"a", b"bob", b'p"w\\d')),
    (b"a LOGIN {3}\r\nbob {2}\r\npw", NOT_AUTH, c.Login(b"a", b"bob", b"pw")),
    (b"a LOGIN {3+}\r\nbob pw", NOT_AUTH, c.Login(b"a", b"bob", b"pw")),
    (b"a SELECT inbox", AUTH, c.Select(b"a", b"INBOX")),
    (b'a EXAMINE "INBOX.Sent"', AUTH, c.Examine(b"a", b"INBOX.Sent")),
    (b"a CREATE INBOX.&AOk-t&AOk-", AUTH, c.Create(b"a", b"INBOX.&AOk-t&AOk-")),
    (b"a DELETE foo]", AUTH, c.Delete(b"a", b"foo]")),
    (b'a RENAME a "b c"', AUTH, c.Rename(b"a", b"a", b"b c")),
    (b"a SUBSCRIBE x", AUTH, c.Subscribe(b"a", b"x")),
    (b"a UNSUBSCRIBE x", AUTH, c.Unsubscribe(b"a", b"x")),
    (b'a LIST "" *', AUTH, c.List(b"a", b"", (b"*",))),
    (b'a LIST "" INBOX.%', AUTH, c.List(b"a", b"", (b"INBOX.%",))),
    (b'a LIST (SPECIAL-USE) "" *', AUTH, c.List(b"a", b"", (b"*",), ("SPECIAL-USE",))),
    (b'a LIST "" (INBOX "x*") RETURN (SPECIAL-USE children STATUS (MESSAGES UNSEEN))', AUTH,
     c.List(b"a", b"", (b"INBOX", b"x*"), (), ("SPECIAL-USE", "CHILDREN"),
            ("MESSAGES", "UNSEEN"))),
    (b'a LSUB "" "*"', AUTH, c.Lsub(b"a", b"", b"*")),
    (b"a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)", AUTH,
     c.Status(b"a", b"INBOX", ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"))),
    (b"a APPEND INBOX {5}\r\nhello", AUTH,
     c.Append(b"a", b"INBOX", (c.AppendMessage(b"hello"),))),
    (b'a APPEND INBOX (\\seen $Junk) "01-Feb-2021 23:59:58 +0100" {2}\r\nhi', AUTH,
     c.Append(b"a", b"INBOX", (c.AppendMessage(
         b"hi", ("\\Seen", "$Junk"), datetime.datetime(2021, 2, 1, 23, 59, 58, tzinfo=UTC1)),))),
    (b'a APPEND INBOX " 1-Feb-2021 00:00:00 -0000" ~{3}\r\na\0b {1+}\r\nc', AUTH,
     c.Append(b"a", b"INBOX", (
         c.AppendMessage(b"a\0b", (), datetime.datetime(2021, 2, 1, tzinfo=datetime.UTC),
                         True),
         c.AppendMessage(b"c")))),
    (b"a CHECK", SessionState.SELECTED, c.Check(b"a")),
    (b"a CLOSE", SessionState.SELECTED, c.Close(b"a")),
    (b"a UNSELECT", SessionState.SELECTED, c.Unselect(b"a")),
    (b"a EXPUNGE", SessionState.SELECTED, c.Expunge(b"a")),
    (b"a UID EXPUNGE 1:3,7", SessionState.SELECTED, c.UidExpunge(b"a", S((1, 3), 7))),
    (b"a SEARCH ALL", SessionState.SELECTED, c.Search(b"a", (k.AllKey(),))),
    (b"a SEARCH CHARSET utf-8 SUBJECT {2}\r\n\xc3\xa9", SessionState.SELECTED,
     c.Search(b"a", (k.TextKey("SUBJECT", b"\xc3\xa9"),), "UTF-8")),
    (b"a UID SEARCH 1:* NOT DELETED", SessionState.SELECTED,
     c.Search(b"a", (k.SequenceKey(S((1, None))), k.NotKey(k.FlagKey("\\Deleted"))),
              uid=True)),
    (b"a SEARCH $", SessionState.SELECTED, c.Search(b"a", (k.SequenceKey(SequenceSet(
        saved=True)),))),
    (b"a FETCH 1 ALL", SessionState.SELECTED, c.Fetch(b"a", S(1), tuple(FetchAtt(n) for n in (
        "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE")), "ALL")),
    (b"a FETCH 1:* fast", SessionState.SELECTED, c.Fetch(b"a", S((1, None)), tuple(
        FetchAtt(n) for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE")), "FAST")),
    (b"a FETCH * FULL", SessionState.SELECTED, c.Fetch(b"a", S(None), tuple(FetchAtt(n) for n in (
        "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")), "FULL")),
    (b"a UID FETCH 5 BODY[]", SessionState.SELECTED,
     c.Fetch(b"a", S(5), (FetchAtt("BODY", Section()),), uid=True)),
    (b"a FETCH 2 (UID RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE BODYSTRUCTURE BODY "
     b"ENVELOPE INTERNALDATE FLAGS)", SessionState.SELECTED,
     c.Fetch(b"a", S(2), tuple(FetchAtt(n) for n in (
         "UID", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "RFC822.SIZE", "BODYSTRUCTURE",
         "BODY", "ENVELOPE", "INTERNALDATE", "FLAGS")))),
    (b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)] BODY[1.2.MIME] BODY[2.TEXT]<10.20> "
     b"BODY[HEADER.FIELDS.NOT (Received)] BODY[3] BODY[HEADER] BODY[TEXT])",
     SessionState.SELECTED, c.Fetch(b"a", S(1), (
         FetchAtt("BODY", Section((), "HEADER.FIELDS", (b"From", b"To")), peek=True),
         FetchAtt("BODY", Section((1, 2), "MIME")),
         FetchAtt("BODY", Section((2,), "TEXT"), (10, 20)),
         FetchAtt("BODY", Section((), "HEADER.FIELDS.NOT", (b"Received",))),
         FetchAtt("BODY", Section((3,))),
         FetchAtt("BODY", Section((), "HEADER")),
         FetchAtt("BODY", Section((), "TEXT"))))),
    (b"a FETCH 1 (BINARY.PEEK[1] BINARY[]<0.5> BINARY.SIZE[2])", SessionState.SELECTED,
     c.Fetch(b"a", S(1), (FetchAtt("BINARY", Section((1,)), peek=True),
                          FetchAtt("BINARY", Section(), (0, 5)),
                          FetchAtt("BINARY.SIZE", Section((2,)))))),
    (b"a STORE 1:2 FLAGS (\\Seen)", SessionState.SELECTED,
     c.Store(b"a", S((1, 2)), c.StoreMode.REPLACE, ("\\Seen",))),
    (b"a STORE 1 +FLAGS.SILENT \\Deleted $Junk", SessionState.SELECTED,
     c.Store(b"a", S(1), c.StoreMode.ADD, ("\\Deleted", "$Junk"), True)),
    (b"a UID STORE 9 -FLAGS ()", SessionState.SELECTED,
     c.Store(b"a", S(9), c.StoreMode.REMOVE, (), uid=True)),
    (b"a COPY 1,3 Trash", SessionState.SELECTED, c.Copy(b"a", S(1, 3), b"Trash")),
    (b"a UID COPY 1 inbox", SessionState.SELECTED, c.Copy(b"a", S(1), b"INBOX", True)),
    (b"a MOVE 2 x", SessionState.SELECTED, c.Move(b"a", S(2), b"x")),
    (b"a UID MOVE 2:4 x", SessionState.SELECTED, c.Move(b"a", S((2, 4)), b"x", True)),
    (b"a SORT (REVERSE DATE subject) UTF-8 ALL", SessionState.SELECTED,
     c.Sort(b"a", (c.SortCriterion("DATE", True), c.SortCriterion("SUBJECT")), "UTF-8",
            (k.AllKey(),))),
    (b"a UID SORT (ARRIVAL) US-ASCII SEEN", SessionState.SELECTED,
     c.Sort(b"a", (c.SortCriterion("ARRIVAL"),), "US-ASCII", (k.FlagKey("\\Seen"),), True)),
    (b"a THREAD REFERENCES UTF-8 ALL", SessionState.SELECTED,
     c.Thread(b"a", "REFERENCES", "UTF-8", (k.AllKey(),))),
    (b"a UID THREAD orderedsubject US-ASCII 1:5", SessionState.SELECTED,
     c.Thread(b"a", "ORDEREDSUBJECT", "US-ASCII", (k.SequenceKey(S((1, 5))),), True)),
    (b"a IDLE", AUTH, c.Idle(b"a")),
    (b"a NAMESPACE", AUTH, c.Namespace(b"a")),
    (b"a ENABLE UTF8=ACCEPT condstore", AUTH, c.Enable(b"a", ("UTF8=ACCEPT", "CONDSTORE"))),
    (b'a ID ("name" "mutt" "version" NIL)', NOT_AUTH,
     c.Id(b"a", ((b"name", b"mutt"), (b"version", None)))),
    (b"a ID NIL", AUTH, c.Id(b"a", None)),
    (b'a GETQUOTA ""', AUTH, c.GetQuota(b"a", b"")),
    (b"a GETQUOTAROOT INBOX", AUTH, c.GetQuotaRoot(b"a", b"INBOX")),
    (b'a SETQUOTA "" (STORAGE 512 message 10)', AUTH,
     c.SetQuota(b"a", b"", (("STORAGE", 512), ("MESSAGE", 10)))),
    (b"a GETACL INBOX", AUTH, c.GetAcl(b"a", b"INBOX")),
    (b"a SETACL INBOX bob +lr", AUTH, c.SetAcl(b"a", b"INBOX", b"bob", b"+lr")),
    (b"a DELETEACL INBOX bob", AUTH, c.DeleteAcl(b"a", b"INBOX", b"bob")),
    (b"a LISTRIGHTS INBOX bob", AUTH, c.ListRights(b"a", b"INBOX", b"bob")),
    (b"a MYRIGHTS INBOX", AUTH, c.MyRights(b"a", b"INBOX")),
]


@pytest.mark.parametrize(("line", "state", "expected"), CASES,
                         ids=[case[0][:40].decode("latin-1") for case in CASES])
def test_command(line: bytes, state: SessionState, expected: object) -> None:
    assert parse_one(line, state) == expected
    events = run_all_splits(line + b"\r\n", state=state)
    assert events[-1] == expected


SEARCH_KEYS: list[tuple[bytes, k.SearchKey]] = [
    (b"ANSWERED", k.FlagKey("\\Answered")),
    (b"UNANSWERED", k.FlagKey("\\Answered", False)),
    (b"DELETED", k.FlagKey("\\Deleted")),
    (b"UNDELETED", k.FlagKey("\\Deleted", False)),
    (b"DRAFT", k.FlagKey("\\Draft")),
    (b"UNDRAFT", k.FlagKey("\\Draft", False)),
    (b"FLAGGED", k.FlagKey("\\Flagged")),
    (b"UNFLAGGED", k.FlagKey("\\Flagged", False)),
    (b"SEEN", k.FlagKey("\\Seen")),
    (b"UNSEEN", k.FlagKey("\\Seen", False)),
    (b"RECENT", k.FlagKey("\\Recent")),
    (b"NEW", k.NewKey()),
    (b"OLD", k.OldKey()),
    (b"KEYWORD $Junk", k.FlagKey("$Junk")),
    (b"UNKEYWORD work", k.FlagKey("work", False)),
    (b'BCC "a b"', k.TextKey("BCC", b"a b")),
    (b"BODY x", k.TextKey("BODY", b"x")),
    (b"CC x", k.TextKey("CC", b"x")),
    (b"FROM x", k.TextKey("FROM", b"x")),
    (b"SUBJECT x", k.TextKey("SUBJECT", b"x")),
    (b"TEXT x", k.TextKey("TEXT", b"x")),
    (b"TO x", k.TextKey("TO", b"x")),
    (b'HEADER Message-ID "<a@b>"', k.HeaderKey(b"Message-ID", b"<a@b>")),
    (b"BEFORE 1-Jan-2000", k.DateKey("BEFORE", datetime.date(2000, 1, 1))),
    (b'ON "31-Dec-1999"', k.DateKey("ON", datetime.date(1999, 12, 31))),
    (b"SINCE 01-Mar-2024", k.DateKey("SINCE", datetime.date(2024, 3, 1))),
    (b"SENTBEFORE 1-Jan-2000", k.DateKey("SENTBEFORE", datetime.date(2000, 1, 1))),
    (b"SENTON 1-Jan-2000", k.DateKey("SENTON", datetime.date(2000, 1, 1))),
    (b"SENTSINCE 1-Jan-2000", k.DateKey("SENTSINCE", datetime.date(2000, 1, 1))),
    (b"LARGER 4294967295", k.SizeKey(True, 4294967295)),
    (b"SMALLER 0", k.SizeKey(False, 0)),
    (b"UID 1:*", k.SequenceKey(S((1, None)), True)),
    (b"2,4:6", k.SequenceKey(S(2, (4, 6)))),
    (b"NOT (SEEN FLAGGED)", k.NotKey(k.AndKey((k.FlagKey("\\Seen"), k.FlagKey("\\Flagged"))))),
    (b"OR OR SEEN DRAFT NEW", k.OrKey(k.OrKey(k.FlagKey("\\Seen"), k.FlagKey("\\Draft")),
                                      k.NewKey())),
    (b"((ALL))", k.AndKey((k.AndKey((k.AllKey(),)),))),
]


@pytest.mark.parametrize(("text", "key"), SEARCH_KEYS, ids=[t.decode() for t, _ in SEARCH_KEYS])
def test_search_key(text: bytes, key: k.SearchKey) -> None:
    assert parse_one(b"t SEARCH " + text) == c.Search(b"t", (key,))
    assert parse_one(b"t SEARCH " + k.search_key_to_wire(key)) == c.Search(b"t", (key,))


BAD_SYNTAX = [
    b"a LOGIN bob", b"a LOGIN bob pw extra", b"a SELECT", b"a FETCH 0 FLAGS",
    b"a FETCH 1 BODY[0]", b"a FETCH 1 BODY[1.]", b"a FETCH 1 BODY[MIME]",
    b"a FETCH 1 BODY[HEADER.FIELDS ()]", b"a FETCH 1 (FLAGS", b"a FETCH 1 BOGUS",
    b"a FETCH 1 BODY[]<1>", b"a FETCH 1 BODY[]<1.0>", b"a FETCH 4294967296 FLAGS",
    b"a FETCH 1:2:3 FLAGS", b"a SEARCH", b"a SEARCH FOO", b"a SEARCH BEFORE 31-Feb-2000",
    b"a SEARCH BEFORE 1-Foo-2000", b"a SEARCH LARGER 99999999999", b"a SEARCH ()",
    b"a STORE 1 FLAGS \\Recent", b"a STORE 1 XFLAGS (\\Seen)", b'a LOGIN "bob pw',
    b'a LOGIN "b\\ob" pw', b"a APPEND INBOX", b'a APPEND INBOX "x"',
    b'a APPEND INBOX "1-Jan-2000 00:00:00 +0000" {1}\r\nx', b"a STATUS INBOX (BOGUS)",
    b"a STATUS INBOX ()", b"a SORT () UTF-8 ALL", b"a SORT (FOO) UTF-8 ALL",
    b"a ENABLE", b"a AUTHENTICATE PLAIN !!!", b"a LOGIN {3}x",
    b"a  NOOP", b"a NOOP ", b"a ID (\"a\")", b"a LOGIN b\0b pw", b"a SEARCH {3}x",
]


@pytest.mark.parametrize("line", BAD_SYNTAX, ids=[b.decode("latin-1") for b in BAD_SYNTAX])
def test_syntax_error_keeps_tag(line: bytes) -> None:
    state = NOT_AUTH if b"LOGIN" in line or b"AUTHENTICATE" in line else SessionState.SELECTED
    event = parse_one(line, state)
    assert isinstance(event, CommandError)
    assert event.tag == b"a"
    assert event.kind in (ErrorKind.SYNTAX, ErrorKind.UNKNOWN_COMMAND), event


MISSING_MAILBOX = [
    b"a SELECT", b"a SELECT ", b"a EXAMINE", b"a CREATE", b"a DELETE", b"a RENAME",
    b"a RENAME INBOX.Work", b"a SUBSCRIBE", b"a UNSUBSCRIBE", b"a LIST", b'a LIST ""',
    b"a LIST (SUBSCRIBED)", b"a LSUB", b'a LSUB ""', b"a STATUS", b"a APPEND", b"a GETQUOTAROOT",
    b"a GETACL", b"a SETACL", b"a DELETEACL", b"a LISTRIGHTS", b"a MYRIGHTS", b"a COPY 1",
    b"a UID COPY 1:2", b"a MOVE 1",
]
MISSING_OTHER = [
    b"a STATUS INBOX", b"a STATUS INBOX (", b"a APPEND INBOX", b"a SETACL INBOX",
    b"a LISTRIGHTS INBOX", b"a FETCH 1", b"a FETCH 1 (FLAGS", b"a SEARCH", b"a COPY",
    b"a GETQUOTA", b'a LIST "" (',
]


@pytest.mark.parametrize("line", MISSING_MAILBOX, ids=[b.decode() for b in MISSING_MAILBOX])
def test_command_ending_before_a_mailbox_name(line: bytes) -> None:
    # Courier answers these BAD Invalid command (the differential test).
    event = parse_one(line, SessionState.SELECTED)
    assert isinstance(event, CommandError) and event.kind is ErrorKind.SYNTAX
    assert event.missing is Missing.MAILBOX


@pytest.mark.parametrize("line", MISSING_OTHER, ids=[b.decode() for b in MISSING_OTHER])
def test_command_ending_before_another_argument(line: bytes) -> None:
    event = parse_one(line, SessionState.SELECTED)
    assert isinstance(event, CommandError) and event.missing is Missing.ARGUMENT


def test_errors_before_the_end_are_not_missing_arguments() -> None:
    for line in (b"a CREATE (", b"a FETCH 1 BOGUS", b"a STATUS INBOX (BOGUS)", b"a NOOP extra"):
        event = parse_one(line, SessionState.SELECTED)
        assert isinstance(event, CommandError) and event.missing is None, line


def test_unknown_and_wrong_state() -> None:
    assert parse_one(b"x1 FROB") == CommandError(b"x1", "FROB", ErrorKind.UNKNOWN_COMMAND,
                                                 "unknown command")
    event = parse_one(b"x2 COPY 1 foo", SessionState.AUTHENTICATED)
    assert isinstance(event, CommandError)
    assert (event.tag, event.command, event.kind) == (b"x2", "COPY", ErrorKind.WRONG_STATE)
    event = parse_one(b"x3 SELECT INBOX", SessionState.NOT_AUTHENTICATED)
    assert isinstance(event, CommandError) and event.kind is ErrorKind.WRONG_STATE
    event = parse_one(b"x4 LOGIN a b", SessionState.AUTHENTICATED)
    assert isinstance(event, CommandError) and event.kind is ErrorKind.WRONG_STATE
    event = parse_one(b"x5 UID FROB 1")
    assert isinstance(event, CommandError) and event.command == "UID FROB"
    assert event.kind is ErrorKind.UNKNOWN_COMMAND


def test_missing_tag_and_empty_line() -> None:
    assert parse_one(b"").kind is ErrorKind.EMPTY_LINE  # type: ignore[union-attr]
    event = parse_one(b"+ NOOP")
    assert isinstance(event, CommandError) and event.tag is None
    assert event.kind is ErrorKind.MISSING_TAG
    event = parse_one(b"lonely")
    assert isinstance(event, CommandError) and event.tag == b"lonely"
