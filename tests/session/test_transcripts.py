"""Transcript tests: run_session over in-memory streams, asserting the
lines a client sees."""

from __future__ import annotations

import asyncio
import base64
import hmac
import os
from collections.abc import Awaitable, Callable

from postillion.maildir import quota

from .harness import MemoryClient, World, texts

Scenario = Callable[[MemoryClient], Awaitable[None]]


def run(world: World, scenario: Scenario, *, login: bool = True, **config: str) -> None:
    async def main() -> None:
        client = MemoryClient(world.context(**config))
        await client.line()
        if login:
            assert texts(await client.command("l1 LOGIN paul paulpw")) == ["l1 OK LOGIN Ok."]
        await scenario(client)
        await client.close()

    asyncio.run(main())


MESSAGE = b"From: Ann <ann@example.org>\nTo: paul@example.org\nSubject: hello\n" \
          b"Date: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <m1@example.org>\n\nbody line\n"


def test_greeting_capability_and_logout(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        caps = texts(await c.command("a1 CAPABILITY"))
        assert caps[0].startswith("* CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE")
        assert "ACL ACL2=UNION ENABLE UTF8=ACCEPT" in caps[0]
        assert "AUTH=" not in caps[0] and "STARTTLS" not in caps[0]
        assert texts(await c.command("a2 LOGOUT")) == [
            "* BYE Postillion server shutting down", "a2 OK LOGOUT completed"]

    async def main() -> None:
        client = MemoryClient(world.context())
        greeting = texts([await client.line()])[0]
        assert greeting.startswith("* OK [CAPABILITY IMAP4rev1 ")
        assert "SASL-IR" in greeting and "LITERAL+" in greeting
        assert texts(await client.command("l1 LOGIN paul paulpw")) == ["l1 OK LOGIN Ok."]
        await scenario(client)
        await client.close()

    asyncio.run(main())


def test_capability_follows_config(world: World) -> None:
    async def main() -> None:
        client = MemoryClient(world.context(IMAP_ACL="0", IMAP_TLS_REQUIRED="1",
                                            IMAP_CAPABILITY="IMAP4rev1 IDLE AUTH=CRAM-MD5"))
        greeting = texts([await client.line()])[0]
        assert greeting.startswith("* OK [CAPABILITY IMAP4rev1 IDLE AUTH=CRAM-MD5 LOGINDISABLED ")
        assert "ACL" not in greeting
        answer = texts(await client.command("a1 LOGIN paul paulpw"))
        assert answer[-1].startswith("a1 NO")
        await client.close()

    asyncio.run(main())


def test_login_failures_and_errors(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        assert texts(await c.command("a1 LOGIN paul wrong")) == [
            "a1 NO [AUTHENTICATIONFAILED] Login failed."]
        assert texts(await c.command("a2 LOGIN nosuch x")) == [
            "a2 NO [AUTHENTICATIONFAILED] Login failed."]
        assert texts(await c.command("a3 SELECT INBOX")) == [
            "a3 NO Error in IMAP command received by server."]
        assert texts(await c.command('a4 LOGIN "paul" "paulpw"')) == ["a4 OK LOGIN Ok."]
        assert texts(await c.command("a5 AUTHENTICATE PLAIN")) == [
            "a5 NO Error in IMAP command received by server."]

    run(world, scenario, login=False)


def test_disableimap_gets_ok_then_bye(world: World) -> None:
    async def main() -> None:
        client = MemoryClient(world.context())
        await client.line()
        assert texts(await client.command("d1 LOGIN tux tuxpw")) == ["d1 OK LOGIN Ok."]
        assert texts([await client.line()]) == ["* BYE IMAP access disabled for this account."]
        await asyncio.wait_for(client.task, 5)

    asyncio.run(main())


def test_ten_consecutive_errors_end_the_session(world: World) -> None:
    async def main() -> None:
        client = MemoryClient(world.context())
        await client.line()
        for n in range(1, 10):
            assert texts(await client.command(f"x{n} BOGUS")) == [
                f"x{n} NO Error in IMAP command received by server."]
        client.send(b"x10 BOGUS\r\n")
        assert texts([await client.line()]) == [
            "* BYE [ALERT] Fatal error: TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS: "]
        await asyncio.wait_for(client.task, 5)

    asyncio.run(main())


def test_a_missing_mailbox_name_is_bad_and_still_counts(world: World) -> None:
    # Courier: BAD Invalid command where a mailbox name is missing, its usual
    # NO for any other missing argument.  Both are client errors here: ten in
    # a row end the session (Courier would not count the BADs).
    async def main() -> None:
        client = MemoryClient(world.context())
        await client.line()
        assert texts(await client.command("l1 LOGIN paul paulpw")) == ["l1 OK LOGIN Ok."]
        assert texts(await client.command("x1 SELECT")) == ["x1 BAD Invalid command"]
        assert texts(await client.command('x2 LIST ""')) == ["x2 BAD Invalid command"]
        assert texts(await client.command("x3 RENAME INBOX.Work")) == ["x3 BAD Invalid command"]
        assert texts(await client.command("x4 STATUS INBOX")) == [
            "x4 NO Error in IMAP command received by server."]
        for n in range(5, 10):
            assert texts(await client.command(f"x{n} CREATE")) == [f"x{n} BAD Invalid command"]
        client.send(b"x10 CREATE\r\n")
        assert texts([await client.line()]) == [
            "* BYE [ALERT] Fatal error: TOO MANY CONSECUTIVE PROTOCOL VIOLATIONS: "]
        await asyncio.wait_for(client.task, 5)

    asyncio.run(main())


def test_authenticate_mechanisms(world: World) -> None:
    async def main() -> None:
        for script in ("plain", "plain-ir", "login", "cram-md5", "cram-sha256", "cancel"):
            client = MemoryClient(world.context())
            await client.line()
            if script == "plain":
                client.send(b"a1 AUTHENTICATE PLAIN\r\n")
                assert await client.line() == b"+ \r\n"
                client.send(base64.b64encode(b"\0paul\0paulpw") + b"\r\n")
            elif script == "plain-ir":
                client.send(b"a1 AUTHENTICATE PLAIN " + base64.b64encode(b"\0paul\0paulpw")
                            + b"\r\n")
            elif script == "login":
                client.send(b"a1 AUTHENTICATE LOGIN\r\n")
                assert await client.line() == b"+ VXNlcm5hbWU6\r\n"
                client.send(base64.b64encode(b"paul") + b"\r\n")
                assert await client.line() == b"+ UGFzc3dvcmQ6\r\n"
                client.send(base64.b64encode(b"paulpw") + b"\r\n")
            elif script.startswith("cram"):
                mech = script.upper()
                client.send(f"a1 AUTHENTICATE {mech}\r\n".encode())
                challenge = base64.b64decode((await client.line())[2:].strip())
                assert challenge.startswith(b"<") and challenge.endswith(b"@test.example>")
                digest = hmac.new(b"paulpw", challenge,
                                  "md5" if mech == "CRAM-MD5" else "sha256").hexdigest()
                client.send(base64.b64encode(b"paul " + digest.encode()) + b"\r\n")
            else:
                client.send(b"a1 AUTHENTICATE PLAIN\r\n")
                await client.line()
                client.send(b"*\r\n")
                assert texts(await client.until(b"a1")) == [
                    "a1 NO [AUTHENTICATIONFAILED] Login failed."]
                await client.close()
                continue
            assert texts(await client.until(b"a1")) == ["a1 OK LOGIN Ok."], script
            await client.close()

    asyncio.run(main())


def test_namespace_list_and_folders(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        assert texts(await c.command("a1 NAMESPACE")) == [
            '* NAMESPACE (("INBOX." ".")) NIL (("#shared." ".")("shared." "."))',
            "a1 OK NAMESPACE completed."]
        assert texts(await c.command('a2 LIST "" "*"')) == [
            '* LIST (\\Unmarked \\HasNoChildren) "." "INBOX"', "a2 OK LIST completed"]
        assert texts(await c.command("a3 CREATE INBOX.Sent")) == ['a3 OK "INBOX.Sent" created.']
        assert texts(await c.command("a4 CREATE INBOX.Work.Kid")) == [
            'a4 OK "INBOX.Work.Kid" created.']
        assert texts(await c.command("a5 CREATE INBOX.Sent"))[-1].startswith(
            "a5 NO [ALREADYEXISTS]")
        assert texts(await c.command('a6 LIST "" "*"')) == [
            '* LIST (\\Unmarked \\HasChildren) "." "INBOX"',
            '* LIST (\\HasNoChildren \\Sent) "." "INBOX.Sent"',
            '* LIST (\\Noselect \\HasChildren) "." "INBOX.Work"',
            '* LIST (\\HasNoChildren) "." "INBOX.Work.Kid"',
            "a6 OK LIST completed"]
        assert texts(await c.command('a7 LIST "" "INBOX.%"')) == [
            '* LIST (\\HasNoChildren \\Sent) "." "INBOX.Sent"',
            '* LIST (\\Noselect \\HasChildren) "." "INBOX.Work"',
            "a7 OK LIST completed"]
        assert texts(await c.command('a8 LIST "" "%"')) == [
            '* LIST (\\Unmarked \\HasChildren) "." "INBOX"', "a8 OK LIST completed"]
        assert texts(await c.command('a9 LIST "" ""')) == [
            '* LIST (\\Noselect) "." ""', "a9 OK LIST completed"]
        assert texts(await c.command('a10 LIST (SPECIAL-USE) "" "*"')) == [
            '* LIST (\\HasNoChildren \\Sent) "." "INBOX.Sent"', "a10 OK LIST completed"]
        assert texts(await c.command('a11 LIST "" "*" RETURN (SPECIAL-USE)'))[1] == \
            '* LIST (\\HasNoChildren \\Sent) "." "INBOX.Sent"'
        assert texts(await c.command("a12 RENAME INBOX.Work INBOX.Job")) == [
            "a12 OK Folder renamed."]
        assert texts(await c.command('a13 LIST "" "INBOX.Job*"')) == [
            '* LIST (\\Noselect \\HasChildren) "." "INBOX.Job"',
            '* LIST (\\HasNoChildren) "." "INBOX.Job.Kid"', "a13 OK LIST completed"]
        assert texts(await c.command("a14 RENAME INBOX INBOX.Old"))[-1].startswith("a14 NO")
        assert texts(await c.command("a15 DELETE INBOX.Nope")) == [
            "a15 NO [NONEXISTENT] Mailbox does not exist, or must be subscribed to."]
        assert texts(await c.command("a16 DELETE INBOX.Job.Kid")) == ["a16 OK Folder deleted."]
        assert texts(await c.command("a17 DELETE INBOX"))[-1].startswith("a17 NO")
        assert texts(await c.command("a18 SUBSCRIBE INBOX.Sent")) == [
            "a18 OK Folder subscribed."]
        assert texts(await c.command('a19 LSUB "" "*"')) == [
            '* LSUB (\\HasNoChildren) "." "INBOX.Sent"', "a19 OK LSUB completed"]
        assert texts(await c.command('a20 LIST (SUBSCRIBED) "" "*"')) == [
            '* LIST (\\HasNoChildren \\Sent \\Subscribed) "." "INBOX.Sent"',
            "a20 OK LIST completed"]
        assert texts(await c.command("a21 UNSUBSCRIBE INBOX.Sent")) == [
            "a21 OK Folder unsubscribed."]
        assert texts(await c.command('a22 LSUB "" "*"')) == ["a22 OK LSUB completed"]

    run(world, scenario)


def test_hostile_mailbox_names_are_refused(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        for n, name in enumerate(['INBOX.a..b', '"INBOX/x"', '"INBOX./etc"', '"../etc"',
                                  "INBOX..", '"INBOX.a/../../b"', '"/tmp/x"', "INBOX.&Jjo"]):
            answer = texts(await c.command(f"a{n} CREATE {name}"))
            assert answer[-1].startswith(f"a{n} NO"), (name, answer)
        # NUL cannot even be sent quoted; a literal carries it.
        c.send(b"b1 CREATE {7}\r\n")
        assert await c.line() == b"+ OK\r\n"
        c.send(b"INBOX.\0x\r\n")
        assert texts(await c.until(b"b1"))[-1].startswith("b1 NO")
        maildir = world.maildir()
        assert sorted(os.listdir(maildir)) == ["courierimapacl", "cur", "new", "tmp"] or \
            all(not e.startswith(".") or e in (".", "..") for e in os.listdir(maildir))
        assert not os.path.exists(os.path.join(world.root, "etc", "x"))

    run(world, scenario)


def test_select_fetch_store_expunge(world: World) -> None:
    world.deliver(MESSAGE)
    world.deliver(b"Subject: two\n\nsecond\n")

    async def scenario(c: MemoryClient) -> None:
        lines = texts(await c.command("a1 SELECT INBOX"))
        assert lines[:4] == [
            "* FLAGS (\\Draft \\Answered \\Flagged \\Deleted \\Seen \\Recent)",
            "* OK [PERMANENTFLAGS (\\* \\Draft \\Answered \\Flagged \\Deleted \\Seen)] Limited",
            "* 2 EXISTS", "* 2 RECENT"]
        assert lines[4].startswith("* OK [UIDVALIDITY ")
        assert "* OK [UIDNEXT 3] Predicted next UID" in lines
        assert "* OK [UNSEEN 1] First unseen message" in lines
        assert lines[-2:] == ['* OK [MYRIGHTS "acdilrsw"] ACL', "a1 OK [READ-WRITE] Ok"]
        assert os.listdir(os.path.join(world.maildir(), "new")) == []
        lines = texts(await c.command("a2 FETCH 1:* (UID FLAGS RFC822.SIZE)"))
        size = len(MESSAGE) + MESSAGE.count(10)
        assert lines == [f"* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE {size})",
                         "* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE 24)",
                         "a2 OK FETCH completed."]
        lines = texts(await c.command("a3 FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] FLAGS)"))
        assert lines == ["* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {18}\r\nSubject: hello\r\n"
                         "\r\n FLAGS (\\Recent))", "a3 OK FETCH completed."]
        lines = texts(await c.command("a4 FETCH 1 (BODY[TEXT]<0.4>)"))
        assert lines[0] == "* 1 FETCH (BODY[TEXT]<0> {4}\r\nbody FLAGS (\\Seen \\Recent))"
        lines = texts(await c.command("a5 FETCH 1 (ENVELOPE)"))
        assert lines[0] == ('* 1 FETCH (ENVELOPE ("Mon, 1 Jan 2024 10:00:00 +0000" "hello" '
                            '(("Ann" NIL "ann" "example.org")) (("Ann" NIL "ann" "example.org")) '
                            '(("Ann" NIL "ann" "example.org")) ((NIL NIL "paul" "example.org")) '
                            'NIL NIL NIL "<m1@example.org>"))')
        lines = texts(await c.command("a6 STORE 2 +FLAGS (\\Flagged $Work)"))
        assert lines == [
            "* FLAGS ($Work \\Draft \\Answered \\Flagged \\Deleted \\Seen \\Recent)",
            "* OK [PERMANENTFLAGS ($Work \\* \\Draft \\Answered \\Flagged \\Deleted \\Seen)]"
            " Limited",
            "* 2 FETCH (FLAGS (\\Flagged \\Recent $Work))", "a6 OK STORE completed."]
        assert texts(await c.command("a7 UID STORE 2 -FLAGS.SILENT (\\Flagged)")) == [
            "a7 OK STORE completed."]
        assert texts(await c.command("a8 STORE 1 FLAGS (\\Deleted)")) == [
            "* 1 FETCH (FLAGS (\\Deleted \\Recent))", "a8 OK STORE completed."]
        assert texts(await c.command("a9 FETCH 9 FLAGS")) == [
            "* NO Invalid message sequence number: 9", "a9 OK FETCH completed."]
        assert texts(await c.command("a10 UID FETCH 2 FLAGS")) == [
            "* 2 FETCH (UID 2 FLAGS (\\Recent $Work))", "a10 OK FETCH completed."]
        assert texts(await c.command("a11 EXPUNGE")) == [
            "* 1 EXPUNGE", "a11 OK EXPUNGE completed"]
        assert texts(await c.command("a12 FETCH 1 UID")) == [
            "* 1 FETCH (UID 2)", "a12 OK FETCH completed."]
        cur = os.listdir(os.path.join(world.maildir(), "cur"))
        assert len(cur) == 1 and cur[0].endswith(":2,")
        assert texts(await c.command("a13 CLOSE")) == ["a13 OK mailbox closed."]
        assert texts(await c.command("a14 FETCH 1 UID")) == [
            "a14 NO Error in IMAP command received by server."]

    run(world, scenario)


def test_examine_is_read_only(world: World) -> None:
    world.deliver(MESSAGE)

    async def scenario(c: MemoryClient) -> None:
        lines = texts(await c.command("a1 EXAMINE INBOX"))
        assert "* OK [PERMANENTFLAGS ()] No permanent flags permitted" in lines
        assert lines[-1] == "a1 OK [READ-ONLY] Ok"
        assert "* 1 RECENT" in lines
        assert len(os.listdir(os.path.join(world.maildir(), "new"))) == 1
        assert texts(await c.command("a2 STORE 1 +FLAGS (\\Seen)")) == [
            "* 1 FETCH (FLAGS (\\Recent))", "a2 OK STORE completed."]
        lines = texts(await c.command("a3 FETCH 1 BODY[]"))
        assert "\\Seen" not in "".join(lines)
        assert texts(await c.command("a4 EXPUNGE"))[-1].startswith("a4 NO")
        assert texts(await c.command("a5 UNSELECT")) == ["a5 OK UNSELECT completed."]

    run(world, scenario)


def test_status_creates_no_uiddb(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        await c.command("a1 CREATE INBOX.Fresh")
        world.deliver(b"Subject: x\n\ny\n", folder=".Fresh")
        lines = texts(await c.command("a2 STATUS INBOX.Fresh (MESSAGES RECENT UIDNEXT UNSEEN)"))
        assert lines == ['* STATUS "INBOX.Fresh" (MESSAGES 1 RECENT 1 UIDNEXT 2 UNSEEN 1)',
                         "a2 OK STATUS Completed."]
        assert not os.path.exists(os.path.join(world.maildir(), ".Fresh", "courierimapuiddb"))

    run(world, scenario)


def test_append_copy_move_uidplus(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        await c.command("a0 CREATE INBOX.Archive")
        data = b"Subject: hi\r\n\r\nbody\r\n\r\n"
        c.send(b'a1 APPEND INBOX (\\Seen $Label) "01-Jan-2020 10:00:00 +0100" {%d}\r\n'
               % len(data))
        assert await c.line() == b"+ OK\r\n"
        c.send(data + b"\r\n")
        answer = texts(await c.until(b"a1"))
        assert answer[-1].startswith("a1 OK [APPENDUID ") and answer[-1].endswith(
            " 1] APPEND Ok.")
        cur = os.listdir(os.path.join(world.maildir(), "cur"))
        assert len(cur) == 1 and cur[0].endswith(":2,S")
        with open(os.path.join(world.maildir(), "cur", cur[0]), "rb") as f:
            assert f.read() == b"Subject: hi\n\nbody\n\n"
        c.send(b"a2 APPEND INBOX {5+}\r\nhello\r\n")
        assert texts(await c.until(b"a2"))[-1].endswith(" 2] APPEND Ok.")
        lines = texts(await c.command("a3 SELECT INBOX"))
        assert lines[0] == "* FLAGS ($Label \\Draft \\Answered \\Flagged \\Deleted \\Seen \\Recent)"
        assert "* 2 EXISTS" in lines
        assert texts(await c.command("a4 FETCH 1 (INTERNALDATE FLAGS)")) == [
            '* 1 FETCH (INTERNALDATE "01-Jan-2020 09:00:00 +0000" FLAGS (\\Seen $Label))',
            "a4 OK FETCH completed."]
        answer = texts(await c.command("a5 COPY 1:2 INBOX.Archive"))
        assert answer[-1].startswith("a5 OK [COPYUID ") and answer[-1].endswith(
            " 1:2 1:2] COPY completed.")
        assert texts(await c.command("a6 COPY 1 INBOX.Nope")) == [
            "a6 NO [TRYCREATE] Mailbox does not exist."]
        answer = texts(await c.command("a7 UID MOVE 2 INBOX.Archive"))
        assert answer[0].startswith("* OK [COPYUID ")
        assert answer[0].endswith(" 2 3] Messages copied")
        assert answer[1:] == ["* 2 EXPUNGE", "a7 OK MOVE completed."]
        lines = texts(await c.command("a8 STATUS INBOX.Archive (MESSAGES UNSEEN)"))
        assert lines[0] == '* STATUS "INBOX.Archive" (MESSAGES 3 UNSEEN 2)'
        assert texts(await c.command("a9 STORE 1 +FLAGS (\\Deleted)"))[-1] == \
            "a9 OK STORE completed."
        assert texts(await c.command("a10 UID EXPUNGE 5")) == ["a10 OK EXPUNGE completed"]
        answer = texts(await c.command("a11 UID EXPUNGE 1"))
        assert answer[0] == "* 1 EXPUNGE" and answer[-1] == "a11 OK EXPUNGE completed"
        # $Label left with its message: FLAGS is announced again without it.
        assert answer[1] == "* FLAGS (\\Draft \\Answered \\Flagged \\Deleted \\Seen \\Recent)"

    run(world, scenario)


def test_append_over_quota(world: World) -> None:
    quota.set_quota(world.maildir(), "100S")

    async def scenario(c: MemoryClient) -> None:
        # Refused before the literal is sent: no "+".
        c.send(b"a1 APPEND INBOX {500}\r\n")
        assert texts(await c.until(b"a1")) == [
            "* NO [ALERT] You exceeded your mail quota.",
            "a1 NO [OVERQUOTA] You exceeded your mail quota."]
        # Non-synchronizing: checked after the data arrived.
        c.send(b"a2 APPEND INBOX {150+}\r\n" + b"x" * 150 + b"\r\n")
        assert texts(await c.until(b"a2"))[-1] == "a2 NO [OVERQUOTA] You exceeded your mail quota."
        assert os.listdir(os.path.join(world.maildir(), "cur")) == []
        assert os.listdir(os.path.join(world.maildir(), "tmp")) == []
        c.send(b"a3 APPEND INBOX {10}\r\n")
        await c.line()
        c.send(b"Subject: x\r\n")
        assert texts(await c.until(b"a3"))[-1].endswith("APPEND Ok.")
        assert texts(await c.command("a4 GETQUOTAROOT INBOX")) == [
            '* QUOTAROOT "INBOX" "ROOT"', '* QUOTA "ROOT" (STORAGE 1 1)',
            "a4 OK GETQUOTAROOT Ok."]
        assert texts(await c.command('a5 GETQUOTA "ROOT"')) == [
            '* QUOTA "ROOT" (STORAGE 1 1)', "a5 OK GETQUOTA Ok."]
        assert texts(await c.command('a6 SETQUOTA "ROOT" (STORAGE 10)')) == [
            "a6 NO [NOPERM] SETQUOTA No permission."]

    run(world, scenario)


def test_acl_commands(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        await c.command("a0 CREATE INBOX.Work")
        assert texts(await c.command("a1 GETACL INBOX.Work")) == [
            '* ACL "INBOX.Work" "owner" "acdilrsw" "administrators" "acdilrsw"',
            "a1 OK GETACL completed."]
        assert texts(await c.command("a2 SETACL INBOX.Work bob lrdc")) == ["a2 OK ACLs updated."]
        assert texts(await c.command("a3 SETACL INBOX.Work user=bob lrs")) == [
            "a3 NO Invalid ACL identifier."]
        assert texts(await c.command("a4 SETACL INBOX.Work owner -a")) == [
            "a4 NO Cannot modify ACLs as requested."]
        assert texts(await c.command("a5 GETACL INBOX.Work"))[0] == (
            '* ACL "INBOX.Work" "owner" "acdilrsw" "administrators" "acdilrsw" "bob" "cdlr"')
        assert texts(await c.command("a6 DELETEACL INBOX.Work bob")) == ["a6 OK ACLs updated."]
        assert texts(await c.command("a7 MYRIGHTS INBOX.Work")) == [
            '* MYRIGHTS "INBOX.Work" "acdilrsw"', "a7 OK MYRIGHTS completed."]
        assert texts(await c.command("a8 LISTRIGHTS INBOX.Work bob")) == [
            '* LISTRIGHTS "INBOX.Work" "bob" "" a c d i l p r s w',
            "a8 OK LISTRIGHTS completed."]
        # Courier's answers: the owner cannot lose "al"; -anyone and -owner
        # cannot be given them.
        assert texts(await c.command("a8b LISTRIGHTS INBOX.Work paul"))[0] == (
            '* LISTRIGHTS "INBOX.Work" "paul" "al" c d i p r s w')
        assert texts(await c.command("a8c LISTRIGHTS INBOX.Work -anyone"))[0] == (
            '* LISTRIGHTS "INBOX.Work" "-anyone" "" c d i p r s w')
        assert texts(await c.command("a8d LISTRIGHTS INBOX.Work -paul"))[0] == (
            '* LISTRIGHTS "INBOX.Work" "-paul" "" c d i p r s w')
        assert texts(await c.command("a8e LISTRIGHTS INBOX.Work anyone"))[0] == (
            '* LISTRIGHTS "INBOX.Work" "anyone" "" a c d i l p r s w')
        assert texts(await c.command("a9 GETACL INBOX.Nope")) == [
            "a9 NO [NONEXISTENT] Mailbox does not exist, or must be subscribed to."]
        await c.command("a10 CREATE INBOX.Work.Sub")
        assert texts(await c.command("a11 GETACL INBOX.Work.Sub"))[0].startswith(
            '* ACL "INBOX.Work.Sub" "owner"')

    run(world, scenario)


def test_enable_utf8_and_id(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        assert texts(await c.command("a1 CREATE INBOX.&AMQ-pfel")) == [
            'a1 OK "INBOX.&AMQ-pfel" created.']
        assert os.path.isdir(os.path.join(world.maildir(), ".Äpfel"))
        assert texts(await c.command("a2 ENABLE UTF8=ACCEPT")) == [
            "* ENABLED UTF8=ACCEPT", "a2 OK Options enabled"]
        assert texts(await c.command('a3 LIST "" "INBOX.*"')) == [
            '* LIST (\\HasNoChildren) "." "INBOX.Äpfel"', "a3 OK LIST completed"]
        assert texts(await c.command('a4 SELECT "INBOX.Äpfel"'))[-1] == "a4 OK [READ-WRITE] Ok"
        lines = texts(await c.command('a5 ID ("name" "test")'))
        assert lines[0].startswith('* ID ("name" "Postillion"')
        assert texts(await c.command("a6 CHECK")) == ["a6 OK CHECK completed"]
        assert texts(await c.command("a7 NOOP")) == ["a7 OK NOOP completed"]

    run(world, scenario)


def test_search_sort_thread(world: World) -> None:
    world.deliver(b"Subject: b topic\nFrom: zed@x\nMessage-ID: <1@x>\n\nalpha\n")
    world.deliver(b"Subject: Re: b topic\nFrom: amy@x\nMessage-ID: <2@x>\nIn-Reply-To: <1@x>\n"
                  b"References: <1@x>\n\nbeta\n")
    world.deliver(b"Subject: a topic\nFrom: bob@x\nMessage-ID: <3@x>\n\ngamma alpha\n")

    async def scenario(c: MemoryClient) -> None:
        await c.command("a0 SELECT INBOX")
        await c.command("a1 STORE 2 +FLAGS (\\Seen)")
        assert texts(await c.command("a2 SEARCH UNSEEN")) == ["* SEARCH 1 3", "a2 OK SEARCH done."]
        assert texts(await c.command("a3 SEARCH BODY alpha")) == [
            "* SEARCH 1 3", "a3 OK SEARCH done."]
        assert texts(await c.command("a4 UID SEARCH FROM amy")) == [
            "* SEARCH 2", "a4 OK SEARCH done."]
        assert texts(await c.command("a5 SORT (SUBJECT) UTF-8 ALL")) == [
            "* SORT 3 1 2", "a5 OK SORT done."]
        assert texts(await c.command("a6 SORT (REVERSE FROM) UTF-8 ALL")) == [
            "* SORT 1 3 2", "a6 OK SORT done."]
        assert texts(await c.command("a7 THREAD REFERENCES UTF-8 ALL")) == [
            "* THREAD (1 2)(3)", "a7 OK THREAD done."]
        assert texts(await c.command("a8 SEARCH CHARSET KOI8-R ALL"))[-1] == "a8 OK SEARCH done."
        assert texts(await c.command("a9 SEARCH CHARSET X-NOPE ALL")) == [
            "a9 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset X-NOPE."]

    run(world, scenario)


def test_crashing_handler_answers_and_session_continues(world: World,
                                                         monkeypatch: object) -> None:
    from postillion.imap.session import mailboxes

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    import pytest
    patch = pytest.MonkeyPatch()
    patch.setattr(mailboxes.MailStore, "create", broken)

    async def scenario(c: MemoryClient) -> None:
        assert texts(await c.command("a1 CREATE INBOX.X")) == [
            "a1 NO [SERVERBUG] CREATE failed: internal error, logged."]
        assert texts(await c.command("a2 NOOP")) == ["a2 OK NOOP completed"]

    try:
        run(world, scenario)
    finally:
        patch.undo()


def test_idle_pushes_and_done(world: World) -> None:
    async def scenario(c: MemoryClient) -> None:
        await c.command("a1 SELECT INBOX")
        c.send(b"a2 IDLE\r\n")
        assert await c.line() == b"+ entering idle mode\r\n"
        world.deliver(b"Subject: new\n\nx\n")
        assert texts([await c.line(), await c.line()]) == ["* 1 EXISTS", "* 1 RECENT"]
        c.send(b"DONE\r\n")
        assert texts(await c.until(b"a2")) == ["a2 OK IDLE completed"]
        assert texts(await c.command("a3 FETCH 1 FLAGS")) == [
            "* 1 FETCH (FLAGS (\\Recent))", "a3 OK FETCH completed."]

    run(world, scenario)


def test_idle_reports_what_came_before_its_watch(world: World) -> None:
    """A message delivered after the client's last command but before IDLE
    watches the folder is reported when IDLE begins, not at the next
    notification or the IMAP_IDLE_TIMEOUT poll (60 s here)."""
    async def scenario(c: MemoryClient) -> None:
        await c.command("a1 SELECT INBOX")
        world.deliver(b"Subject: before idle\n\nx\n")
        c.send(b"a2 IDLE\r\n")
        assert await c.line() == b"+ entering idle mode\r\n"
        pushed = await asyncio.wait_for(asyncio.gather(c.line(), c.line()), 10)
        assert texts(list(pushed)) == ["* 1 EXISTS", "* 1 RECENT"]
        c.send(b"DONE\r\n")
        assert texts(await c.until(b"a2")) == ["a2 OK IDLE completed"]

    run(world, scenario)


def test_idle_stops_listening_when_its_continuation_cannot_be_sent(world: World) -> None:
    """The folder's watch is made before IDLE's continuation line: a send
    that fails (a client gone, a cancelled write) must still end the
    listening, or the folder would keep a dead session's callback and its
    watch."""
    import pytest

    from postillion.imap import sharedfolder
    from postillion.imap.protocol import responses
    from postillion.imap.session import core

    real_send = core.Session.send

    async def send(self: core.Session, *sent: responses.Response) -> None:
        if any(isinstance(x, responses.ContinuationRequest) for x in sent):
            raise ConnectionResetError("client gone")
        await real_send(self, *sent)

    patch = pytest.MonkeyPatch()
    patch.setattr(core.Session, "send", send)
    folders: list[sharedfolder.SharedFolder] = []

    async def scenario(c: MemoryClient) -> None:
        await c.command("a1 SELECT INBOX")
        folders.extend(sharedfolder._registry.values())
        c.send(b"a2 IDLE\r\n")
        await asyncio.wait_for(c.task, 10)  # the session ends

    try:
        run(world, scenario)
    finally:
        patch.undo()
    assert folders and all(not f._listeners and f._watch is None for f in folders)


def test_rebuilt_uiddb_ends_the_session(world: World) -> None:
    world.deliver(MESSAGE)

    async def scenario(c: MemoryClient) -> None:
        await c.command("a1 SELECT INBOX")
        path = os.path.join(world.maildir(), "courierimapuiddb")
        with open(path) as f:
            entries = f.read().split("\n", 1)[1]
        with open(path, "w") as f:  # as if another program had rebuilt it
            f.write("1 12345 5\n" + entries)
        c.send(b"a2 NOOP\r\n")
        assert texts([await c.line()]) == [
            "* BYE Mailbox UIDVALIDITY changed; please reconnect."]
        await asyncio.wait_for(c.task, 5)

    async def main() -> None:
        client = MemoryClient(world.context())
        await client.line()
        await client.command("l1 LOGIN paul paulpw")
        await scenario(client)

    asyncio.run(main())


def test_preauth_session(world: World) -> None:
    async def main() -> None:
        client = MemoryClient(world.context(), preauth=world.accounts["paul"])
        assert texts([await client.line()]) == ["* PREAUTH Ready."]
        assert texts(await client.command("a1 LOGIN paul paulpw")) == [
            "a1 NO Error in IMAP command received by server."]
        assert texts(await client.command('a2 LIST "" INBOX'))[0] == \
            '* LIST (\\Unmarked \\HasNoChildren) "." "INBOX"'
        await client.close()

    asyncio.run(main())
