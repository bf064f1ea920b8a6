"""STORE answers as Courier's imapd does (found by tests/interop/
test_imapd_differential.py): flag order, UID first in UID STORE, keywords
case-insensitive, unknown backslash flags refused, \\Deleted refused in a
read-only mailbox."""

from __future__ import annotations

import asyncio

import pytest

from .harness import MemoryClient, World, texts

MESSAGE = b"From: ann@example.org\nSubject: hello\n\nbody\n"


def run(world: World, *commands: str) -> list[list[str]]:
    async def main() -> list[list[str]]:
        client = MemoryClient(world.context())
        await client.line()
        assert texts(await client.command("l1 LOGIN paul paulpw")) == ["l1 OK LOGIN Ok."]
        answers = [texts(await client.command(command)) for command in commands]
        await client.close()
        return answers

    return asyncio.run(main())


def test_flags_in_maildir_letter_order_and_uid_first(world: World) -> None:
    world.deliver(MESSAGE)
    _, store, uid_store = run(world, "a1 SELECT INBOX",
                              "a2 STORE 1 FLAGS (\\Seen \\Deleted \\Answered \\Flagged \\Draft)",
                              "a3 UID STORE 1 -FLAGS (\\Draft)")
    assert store == ["* 1 FETCH (FLAGS (\\Draft \\Flagged \\Answered \\Seen \\Deleted \\Recent))",
                     "a2 OK STORE completed."]
    assert uid_store == ["* 1 FETCH (UID 1 FLAGS (\\Flagged \\Answered \\Seen \\Deleted \\Recent))",
                         "a3 OK STORE completed."]


def test_keywords_compare_case_insensitively(world: World) -> None:
    world.deliver(MESSAGE)
    answers = run(world, "a1 SELECT INBOX", "a2 STORE 1 +FLAGS.SILENT ($Label1)",
                  "a3 STORE 1 +FLAGS ($LABEL1)", "a4 STORE 1 -FLAGS ($label1)")
    assert answers[2] == ["* 1 FETCH (FLAGS (\\Recent $Label1))", "a3 OK STORE completed."]
    assert answers[3] == ["* 1 FETCH (FLAGS (\\Recent))", "a4 OK STORE completed."]


def test_unknown_backslash_flag_is_refused(world: World) -> None:
    world.deliver(MESSAGE)
    _, bogus, flags = run(world, "a1 SELECT INBOX", "a2 STORE 1 +FLAGS (\\Seen \\Bogus)",
                          "a3 FETCH 1 FLAGS")
    assert bogus == ["a2 NO Error in IMAP command received by server."]
    assert flags == ["* 1 FETCH (FLAGS (\\Recent))", "a3 OK FETCH completed."]


def test_deleted_is_refused_in_a_read_only_mailbox(world: World) -> None:
    world.deliver(MESSAGE)
    _, deleted, seen = run(world, "a1 EXAMINE INBOX", "a2 STORE 1 +FLAGS (\\Deleted)",
                           "a3 STORE 1 +FLAGS (\\Seen)")
    assert deleted == ["a2 NO Current box is selected READ-ONLY."]
    assert seen == ["* 1 FETCH (FLAGS (\\Recent))", "a3 OK STORE completed."]


def test_append_with_an_unknown_backslash_flag_stores_nothing(world: World) -> None:
    answers = run(world, "a1 APPEND INBOX (\\Seen \\Bogus) {2+}\r\nx\n",
                  "a2 STATUS INBOX (MESSAGES)")
    assert answers[0] == ["a1 NO Error in IMAP command received by server."]
    assert answers[1][0] == '* STATUS "INBOX" (MESSAGES 0)'


def test_append_to_a_missing_mailbox_is_refused_before_the_literal(world: World) -> None:
    async def main() -> list[str]:
        client = MemoryClient(world.context())
        await client.line()
        await client.command("l1 LOGIN paul paulpw")
        client.send(b"a1 APPEND INBOX.Missing {5}\r\n")
        answer = texts([await client.line()])
        client.send(b"a2 APPEND INBOX {5}\r\n")
        answer += texts([await client.line()])
        await client.close()
        return answer

    assert asyncio.run(main()) == ["a1 NO [TRYCREATE] Mailbox does not exist.", "+ OK"]


def test_append_with_flags_or_dates_courier_refuses_gets_no_before_the_literal(
        world: World) -> None:
    heads = ["a1 APPEND INBOX (\\Recent) {5}", "a2 APPEND INBOX (\\Seen \\Bogus) {5}",
             'a3 APPEND INBOX "31-Feb-2024 10:00:00 +0000" {5}', 'a4 APPEND INBOX "bad" {5}',
             'a5 APPEND INBOX (\\Seen $Label1 \\FLAGGED) " 9-Jan-2024 23:59:59 -0800" {5}',
             "a6 APPEND INBOX () {5}"]

    async def main() -> list[str]:
        client = MemoryClient(world.context())
        await client.line()
        await client.command("l1 LOGIN paul paulpw")
        answers = []
        for head in heads:
            client.send(head.encode() + b"\r\n")
            answer = texts([await client.line()])[0]
            answers.append(answer)
            if answer.startswith("+"):
                client.send(b"x\r\nyz\r\n")
                answers.append(texts(await client.until(head.split()[0].encode()))[-1][:16])
        await client.close()
        return answers

    assert asyncio.run(main()) == [
        "a1 NO Error in IMAP command received by server.",
        "a2 NO Error in IMAP command received by server.",
        "a3 NO Error in IMAP command received by server.",
        "a4 NO Error in IMAP command received by server.",
        "+ OK", "a5 OK [APPENDUID", "+ OK", "a6 OK [APPENDUID"]


def test_store_renames_only_names_whose_letters_change(world: World) -> None:
    # Names as other programs leave them in cur/: without ":2," info, with
    # letters out of order or unknown to IMAP.  A STORE that changes no
    # flag renames nothing; one that changes flags writes the letters IMAP
    # knows, in order, and leaves a name that has just those alone.
    import os
    cur = os.path.join(world.maildir(), "cur")
    names = ["1000000001.M1P1.host,S=48", "1000000002.M2P1.host,S=48:2,SF",
             "1000000003.M3P1.host,S=48:2,Sa", "1000000004.M4P1.host,S=48:2,"]
    for name in names:
        with open(os.path.join(cur, name), "wb") as out:
            out.write(MESSAGE)
    run(world, "a1 SELECT INBOX", "a2 STORE 1:* -FLAGS (\\Draft)", "a3 LOGOUT")
    assert sorted(os.listdir(cur)) == names
    run(world, "a1 SELECT INBOX", "a2 STORE 1:* +FLAGS ($Label1)", "a3 LOGOUT")
    assert sorted(os.listdir(cur)) == ["1000000001.M1P1.host,S=48",
                                       "1000000002.M2P1.host,S=48:2,FS",
                                       "1000000003.M3P1.host,S=48:2,S",
                                       "1000000004.M4P1.host,S=48:2,"]
    run(world, "a1 SELECT INBOX", "a2 STORE 1:* +FLAGS (\\Seen)", "a3 LOGOUT")
    assert sorted(os.listdir(cur)) == ["1000000001.M1P1.host,S=48:2,S",
                                       "1000000002.M2P1.host,S=48:2,FS",
                                       "1000000003.M3P1.host,S=48:2,S",
                                       "1000000004.M4P1.host,S=48:2,S"]
    run(world, "a1 SELECT INBOX", "a2 STORE 1:* -FLAGS (\\Seen)", "a3 LOGOUT")
    assert sorted(os.listdir(cur)) == ["1000000001.M1P1.host,S=48:2,",
                                       "1000000002.M2P1.host,S=48:2,F",
                                       "1000000003.M3P1.host,S=48:2,",
                                       "1000000004.M4P1.host,S=48:2,"]


def test_store_over_messages_moved_or_removed_by_another_program(world: World) -> None:
    # Under one session's STORE: messages still in new/, one renamed by
    # another program since the listing (found again by its base name, its
    # new flag kept: +FLAGS adds to the flags its name has now, as in
    # Courier), one deleted (EXPUNGEd at the next chance), one whose
    # keywords change.
    import glob
    import os
    maildir = world.maildir()
    paths = [world.deliver(MESSAGE + b"%d\n" % n, flags=None if n < 2 else "S")
             for n in range(6)]

    async def main() -> list[list[str]]:
        client = MemoryClient(world.context())
        await client.line()
        await client.command("l1 LOGIN paul paulpw")
        answers = [texts(await client.command("a1 SELECT INBOX"))]
        os.rename(paths[3], paths[3][:-len(":2,S")] + ":2,RS")      # another program
        os.unlink(paths[4])
        answers.append(texts(await client.command("a2 STORE 1:* +FLAGS (\\Flagged)")))
        answers.append(texts(await client.command("a3 UID STORE 6 +FLAGS ($Work)")))
        answers.append(texts(await client.command("a4 NOOP")))
        await client.close()
        return answers

    _select, store, keyword, noop = asyncio.run(main())
    assert store == ["* 1 FETCH (FLAGS (\\Flagged \\Recent))",
                     "* 2 FETCH (FLAGS (\\Flagged \\Recent))",
                     "* 3 FETCH (FLAGS (\\Flagged \\Seen))",
                     "* 4 FETCH (FLAGS (\\Flagged \\Answered \\Seen))",
                     "* 6 FETCH (FLAGS (\\Flagged \\Seen))",
                     "a2 OK STORE completed."]
    assert keyword == ["* FLAGS ($Work \\Draft \\Answered \\Flagged \\Deleted \\Seen \\Recent)",
                       "* OK [PERMANENTFLAGS ($Work \\* \\Draft \\Answered \\Flagged \\Deleted "
                       "\\Seen)] Limited",
                       "* 6 FETCH (UID 6 FLAGS (\\Flagged \\Seen $Work))",
                       "* 5 EXPUNGE",                  # the deleted one, after the command
                       "a3 OK STORE completed."]
    assert noop == ["a4 OK NOOP completed"]
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(maildir, "cur", "*")))
    assert [name.rpartition(":")[2] for name in names] == ["2,F", "2,F", "2,FS", "2,FRS", "2,FS"]
    assert not os.listdir(os.path.join(maildir, "new"))


def test_after_a_store_the_session_takes_the_snapshot_of_its_own_view(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared folder adopts a session's own STORE; the sync after it
    finds the snapshot showing that very view and owes nothing, without
    merging every message (a change another session made meanwhile is
    still told, the slower way)."""
    from postillion.imap.selected import SelectedMailbox
    for _ in range(5):
        world.deliver(MESSAGE, flags="S")
    merges: list[int] = []
    real = SelectedMailbox._full_merge

    def counted(self: SelectedMailbox, *args: object, **kwargs: object) -> object:
        merges.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(SelectedMailbox, "_full_merge", counted)

    async def main() -> tuple[list[str], list[str], int, list[str]]:
        one = MemoryClient(world.context(), preauth=world.accounts["paul"])
        two = MemoryClient(world.context(), preauth=world.accounts["paul"])
        await one.line()
        await two.line()
        await one.command("a SELECT INBOX")
        await two.command("b SELECT INBOX")
        stored = texts(await one.command("a1 STORE 1:* +FLAGS.SILENT (\\Flagged)"))
        noop = texts(await one.command("a2 NOOP"))
        merged = len(merges)
        # (two has not seen one's \\Flagged: its +FLAGS keeps it all the same)
        await two.command("b1 STORE 2 +FLAGS.SILENT (\\Answered)")
        told = texts(await one.command("a3 NOOP"))
        await one.close()
        await two.close()
        return stored, noop, merged, told

    stored, noop, merged, told = asyncio.run(main())
    assert stored == ["a1 OK STORE completed."] and noop == ["a2 OK NOOP completed"]
    assert merged == 0
    assert told == ["* 2 FETCH (FLAGS (\\Flagged \\Answered \\Seen))", "a3 OK NOOP completed"]


def test_silent_store_over_a_removed_message_still_reports_it_expunged(world: World) -> None:
    # +FLAGS.SILENT answers nothing, but a message found gone on the way is
    # still EXPUNGEd at the next chance, and the others keep their new flag.
    import os
    paths = [world.deliver(MESSAGE + b"%d\n" % n, flags="S") for n in range(4)]

    async def main() -> list[list[str]]:
        client = MemoryClient(world.context())
        await client.line()
        await client.command("l1 LOGIN paul paulpw")
        await client.command("a1 SELECT INBOX")
        os.unlink(paths[1])
        answers = [texts(await client.command("a2 STORE 1:* +FLAGS.SILENT (\\Flagged)"))]
        answers.append(texts(await client.command("a3 NOOP")))
        answers.append(texts(await client.command("a4 FETCH 1:* FLAGS")))
        await client.close()
        return answers

    # (No EXPUNGE during a STORE, RFC 3501 7.4.1: at the NOOP.)
    store, noop, fetch = asyncio.run(main())
    assert store == ["a2 OK STORE completed."]
    assert noop == ["* 2 EXPUNGE", "a3 OK NOOP completed"]
    assert fetch == ["* 1 FETCH (FLAGS (\\Flagged \\Seen))",
                     "* 2 FETCH (FLAGS (\\Flagged \\Seen))",
                     "* 3 FETCH (FLAGS (\\Flagged \\Seen))",
                     "a4 OK FETCH completed."]
