"""The chapter's virtual shared folder scenarios end to end: a real loopback
server, imaplib/imapclient clients, each case seen by the grantee and by a
stranger (who must not learn that anything exists)."""

from __future__ import annotations

import imaplib
import threading
from pathlib import Path

import pytest
from imapclient import IMAPClient
from tests.e2e.shared_world import (
    SharedWorld,
    answer,
    listed,
    login,
    make_shared_world,
    select,
)

BODY = b"From: paul@example.com\r\nSubject: shared\r\n\r\nhello\r\n"


@pytest.fixture
def world(tmp_path: Path) -> SharedWorld:
    w = make_shared_world(tmp_path)
    w.folder("paul", "INBOX.Testshare")
    w.folder("paul", "INBOX.Private")
    w.deliver("paul", "INBOX.Testshare", b"Subject: one\n\nbody\n", flags="")
    return w


def test_paul_shares_testshare_with_tux(world: SharedWorld) -> None:
    with world.server() as port:
        paul = login(port, "paul")
        assert answer(paul.setacl("INBOX.Testshare", "tux", "lr")) == "OK ACLs updated."
        tux = login(port, "tux")
        typ, _ns = tux._simple_command("NAMESPACE")  # type: ignore[attr-defined]
        assert typ == "OK"
        assert tux.untagged_responses["NAMESPACE"][-1] == \
            b'(("INBOX." ".")) NIL (("#shared." ".")("shared." "."))'
        assert listed(tux) == ['(\\Noselect \\HasChildren) "." "#shared.paul"',
                               '(\\HasNoChildren) "." "#shared.paul.Testshare"',
                               '(\\Noselect \\HasChildren) "." "#shared.team"',
                               '(\\Noselect \\HasChildren) "." "#shared.team.paul"',
                               '(\\HasNoChildren) "." "#shared.team.paul.Testshare"']
        assert listed(tux, "#shared.%") == ['(\\Noselect \\HasChildren) "." "#shared.paul"',
                                            '(\\Noselect \\HasChildren) "." "#shared.team"']
        assert not any("#shared" in line for line in listed(tux, "*"))
        assert answer(tux.myrights('"#shared.paul.Testshare"')) == \
            'OK "#shared.paul.Testshare" "lr"'
        assert select(tux, '"#shared.paul.Testshare"') == "OK [READ-ONLY] Ok"
        typ, data = tux.store("1", "+FLAGS", "(\\Seen)")
        assert typ == "OK" and data == [b"1 (FLAGS ())"]
        typ, data = tux.fetch("1", "(BODY[])")
        assert typ == "OK" and b"\\Seen" not in data[0][0]  # type: ignore[index]
        assert answer(tux.getacl('"#shared.paul.Testshare"')) == \
            'NO [NOPERM] Access denied for GETACL on #shared.paul.Testshare (ACL "a" required)'
        assert answer(tux.append('"#shared.paul.Testshare"', None, None, BODY)) == \
            'NO [NOPERM] Access denied for APPEND on #shared.paul.Testshare (ACL "i" required)'
        # Private: not listed, and exactly like a folder that does not exist.
        private = answer(tux.select('"#shared.paul.Private"'))
        assert private == ('NO [NONEXISTENT] Access denied for SELECT/EXAMINE on '
                           '#shared.paul.Private (ACL "r" required)')
        nope = answer(tux.select('"#shared.paul.Nope"'))
        assert nope == private.replace("Private", "Nope")
        assert answer(tux.status('"#shared.paul.Private"', "(MESSAGES)")) == \
            answer(tux.status('"#shared.paul.Nope"', "(MESSAGES)")).replace("Nope", "Private")
        # Subscriptions live in tux's own file; LSUB shows them as Courier does.
        assert answer(tux.subscribe('"#shared.paul.Testshare"')) == "OK Folder subscribed."
        assert "#shared.paul.Testshare" in (
            Path(world.maildir("tux")) / "courierimapsubscribed").read_text()
        typ, data = tux.lsub('""', '"#shared.*"')
        assert [d.decode() for d in data if d] == [
            '(\\Noselect \\HasChildren) "." "#shared.paul"',
            '(\\HasNoChildren) "." "#shared.paul.Testshare"']
        typ, data = tux.lsub('""', '"*"')
        assert not any(b"#shared" in d for d in data if d)
        # The stranger: nothing listed, same answers as for a missing folder.
        mallory = login(port, "mallory")
        assert listed(mallory) == []
        assert answer(mallory.select('"#shared.paul.Testshare"')) == \
            nope.replace("Nope", "Testshare")
        assert answer(mallory.myrights('"#shared.paul.Testshare"')) == \
            answer(mallory.myrights('"#shared.paul.Nope"')).replace("Nope", "Testshare")
        for client in (paul, tux, mallory):
            client.logout()


def test_anyone_lrw_minus_tux_w(world: SharedWorld) -> None:
    world.grant("paul", "INBOX.Testshare", "anyone", "lrw")
    world.grant("paul", "INBOX.Testshare", "-user=tux", "w")
    with world.server() as port:
        tux, mallory = login(port, "tux"), login(port, "mallory")
        assert answer(tux.myrights('"#shared.paul.Testshare"')).split('"')[3] == "lr"
        assert answer(mallory.myrights('"#shared.paul.Testshare"')).split('"')[3] == "lrw"
        assert select(tux, '"#shared.paul.Testshare"') == "OK [READ-ONLY] Ok"
        mallory.select('"#shared.paul.Testshare"')
        _typ, data = mallory.store("1", "+FLAGS", "(\\Flagged \\Seen)")
        assert data == [b"1 (FLAGS (\\Flagged))"]  # \Seen needs "s"
        tux.logout()
        mallory.logout()


def test_group_rights_from_options(world: SharedWorld) -> None:
    world.grant("paul", "INBOX.Testshare", "group=staff", "lrwi")
    with world.server() as port:
        eve, tux = login(port, "eve"), login(port, "tux")
        assert answer(eve.myrights('"#shared.paul.Testshare"')).split('"')[3] == "ilrw"
        assert listed(tux) == []
        eve.select('"#shared.paul.Testshare"')
        assert eve.untagged_responses.get("READ-WRITE") == [b""]
        assert eve.store("1", "+FLAGS", "(\\Seen \\Flagged)")[1] == [b"1 (FLAGS (\\Flagged))"]
        typ, data = eve.append('"#shared.paul.Testshare"', "(\\Seen)", None, BODY)
        assert typ == "OK" and b"APPENDUID" in data[0]  # type: ignore[operator]
        assert eve.store("1", "+FLAGS", "(\\Deleted)")[1] == [b"1 (FLAGS (\\Flagged))"]
        assert answer(eve.expunge()) == \
            'NO [NOPERM] Access denied for EXPUNGE on current mailbox (ACL "e" required)'
        # On disk in paul's folder: \Flagged stored, the appended \Seen dropped.
        cur = list((Path(world.maildir("paul")) / ".Testshare" / "cur").iterdir())
        assert sorted(p.name.rsplit(",", 1)[1] for p in cur) == ["", "F"]
        eve.logout()
        tux.logout()


def test_administrators_see_everything(world: SharedWorld) -> None:
    with world.server() as port:
        admin = login(port, "root2")
        names = listed(admin)
        assert '(\\HasChildren) "." "#shared.paul"' in names
        assert '(\\HasNoChildren) "." "#shared.paul.Private"' in names
        assert answer(admin.myrights('"#shared.paul.Private"')).split('"')[3] == "acdilrsw"
        typ, _ = admin.select('"#shared.paul.Private"')
        assert typ == "OK" and admin.untagged_responses.get("READ-WRITE") == [b""]
        admin.logout()


def test_share_groups_are_isolated(world: SharedWorld) -> None:
    world.folder("ann", "INBOX.Pub")
    world.grant("ann", "INBOX.Pub", "anyone", "lr")
    world.folder("bob", "INBOX.Pub")
    world.grant("bob", "INBOX.Pub", "anyone", "lr")
    world.folder("tux", "INBOX.Pub")
    world.grant("tux", "INBOX.Pub", "anyone", "lr")
    with world.server() as port:
        ann, bob, paul = login(port, "ann"), login(port, "bob"), login(port, "paul")
        assert [n for n in listed(ann) if "Pub" in n] == ['(\\HasNoChildren) "." "#shared.tux.Pub"']
        assert listed(bob) == []  # only bob himself is in example.org's index
        assert answer(bob.select('"#shared.ann.Pub"')).startswith("NO [NONEXISTENT]")
        assert answer(ann.select('"#shared.bob.Pub"')).startswith("NO [NONEXISTENT]")
        # The main index's users do not see example.com's.
        assert [n for n in listed(paul) if "ann" in n] == []
        for client in (ann, bob, paul):
            client.logout()


def test_nested_group_missing_home_munged_and_disabled(world: SharedWorld) -> None:
    world.folder("john.doe", "INBOX.Pub")
    world.grant("john.doe", "INBOX.Pub", "anyone", "lr")
    world.grant("paul", "INBOX.Testshare", "user=tux", "lr")
    with world.server() as port:
        tux, hermit = login(port, "tux"), login(port, "hermit")
        names = listed(tux)
        assert '(\\Noselect \\HasChildren) "." "#shared.team"' in names
        assert '(\\HasNoChildren) "." "#shared.team.paul.Testshare"' in names
        assert '(\\HasNoChildren) "." "#shared.john doe.Pub"' in names
        assert not any("ghost" in n for n in names)
        assert answer(tux.select('"#shared.ghost"')) == \
            "NO [NONEXISTENT] Mailbox does not exist, or must be subscribed to."
        assert select(tux, '"#shared.john doe.Pub"') == "OK [READ-ONLY] Ok"
        assert select(tux, '"#shared.team.paul.Testshare"') == "OK [READ-ONLY] Ok"
        assert listed(hermit) == []
        assert answer(hermit.select('"#shared.john doe.Pub"')) == \
            "NO [NONEXISTENT] Mailbox does not exist, or must be subscribed to."
        tux.logout()
        hermit.logout()


def test_own_shares_not_listed(world: SharedWorld) -> None:
    world.grant("paul", "INBOX.Testshare", "anyone", "lr")
    with world.server() as port:
        paul = login(port, "paul")
        assert not any("#shared.paul" in n for n in listed(paul))
        assert answer(paul.select('"#shared.paul.Testshare"')) == \
            "NO [NONEXISTENT] Mailbox does not exist, or must be subscribed to."
        paul.logout()


def test_grantee_idle_sees_owner_changes(world: SharedWorld) -> None:
    world.grant("paul", "INBOX.Testshare", "user=tux", "lrs")
    with world.server() as port, IMAPClient("127.0.0.1", port=port, ssl=False) as tux:
        tux.login("tux", "tuxpw")
        assert tux.select_folder("#shared.paul.Testshare")[b"EXISTS"] == 1
        tux.idle()
        done = threading.Event()

        def owner_appends() -> None:
            with IMAPClient("127.0.0.1", port=port, ssl=False) as paul:
                paul.login("paul", "paulpw")
                paul.append("INBOX.Testshare", BODY)
            done.set()

        threading.Thread(target=owner_appends).start()
        events = []
        for _ in range(20):
            events += tux.idle_check(timeout=1)
            if any(e[1] == b"EXISTS" for e in events):
                break
        tux.idle_done()
        assert (2, b"EXISTS") in events
        assert done.wait(10)
        # "s" without "w": \Seen is stored, \Flagged is not.
        tux.add_flags([2], [b"\\Seen", b"\\Flagged"])
        assert tux.get_flags([2])[2] == (b"\\Seen",)


def test_copy_move_between_own_and_shared(world: SharedWorld) -> None:
    world.grant("paul", "INBOX.Testshare", "user=tux", "lri")
    world.folder("tux", "INBOX.Mine")
    with world.server() as port, IMAPClient("127.0.0.1", port=port, ssl=False) as tux:
        tux.login("tux", "tuxpw")
        tux.select_folder("#shared.paul.Testshare")
        tux.copy([1], "INBOX.Mine")
        with pytest.raises(IMAPClient.Error, match=r'MOVE.*ACL "t" required'):
            tux.move([1], "INBOX.Mine")
        tux.select_folder("INBOX.Mine")
        tux.add_flags([1], [b"\\Flagged"])
        tux.copy([1], "#shared.paul.Testshare")   # "i" without "w": \Flagged dropped
        tux.select_folder("#shared.paul.Testshare", readonly=True)
        assert tux.get_flags([2])[2] == ()
        assert tux.search(["SUBJECT", "one"]) == [1, 2]
        assert tux.folder_status("#shared.paul.Testshare", ["MESSAGES"])[b"MESSAGES"] == 2


def test_stranger_cannot_create_delete_or_rename(world: SharedWorld) -> None:
    world.grant("paul", "INBOX.Testshare", "user=tux", "lr")
    with world.server() as port:
        tux = login(port, "tux")
        assert answer(tux.create('"#shared.paul.Testshare.Sub"')) == \
            'NO [NOPERM] Access denied for CREATE on #shared.paul.Testshare (ACL "c" required)'
        assert answer(tux.delete('"#shared.paul.Testshare"')) == \
            'NO [NOPERM] Access denied for DELETE on #shared.paul.Testshare (ACL "x" required)'
        assert answer(tux.rename('"#shared.paul.Testshare"', '"INBOX.Stolen"')) == \
            'NO [NOPERM] Access denied for RENAME on #shared.paul.Testshare (ACL "x" required)'
        assert answer(tux.create('"#shared.team.Evil"')).startswith("NO [NONEXISTENT]")
        tux.logout()
    assert (Path(world.maildir("paul")) / ".Testshare").is_dir()


def test_hostile_shared_names_stay_inside(world: SharedWorld) -> None:
    with world.server() as port:
        tux = login(port, "tux")
        for name in ('"#shared.paul../../tux"', '"#shared.paul.a/b"', '"#shared..paul"',
                     '"#shared.paul.Testshare."'):
            typ, _ = tux.select(name)
            assert typ == "NO"
        tux.logout()


@pytest.mark.parametrize("command", ["EXAMINE", "STATUS"])
def test_examine_and_status_need_r(world: SharedWorld, command: str) -> None:
    world.grant("paul", "INBOX.Testshare", "user=tux", "l")
    with world.server() as port:
        tux = login(port, "tux")
        if command == "EXAMINE":
            result = answer(tux.select('"#shared.paul.Testshare"', readonly=True))
            label = "SELECT/EXAMINE"
        else:
            result = answer(tux.status('"#shared.paul.Testshare"', "(MESSAGES)"))
            label = "STATUS"
        assert result == (f'NO [NOPERM] Access denied for {label} on '
                          f'#shared.paul.Testshare (ACL "r" required)')
        tux.logout()


def test_imaplib_sees_no_extra_literal_after_refused_append(world: SharedWorld) -> None:
    with world.server() as port:
        tux = login(port, "tux")
        typ, _ = tux.append('"#shared.paul.Testshare"', None, None, BODY)
        assert typ == "NO"
        assert tux.noop()[0] == "OK"  # the message was never sent as commands
        tux.logout()


def test_imaplib_errors_do_not_break_session(world: SharedWorld) -> None:
    with world.server() as port:
        tux = login(port, "tux")
        with pytest.raises(imaplib.IMAP4.error):
            tux.uid("EXPUNGE", "1")  # not selected
        assert tux.noop()[0] == "OK"
        tux.logout()
