"""End-to-end: real clients (imaplib, imapclient) against run_session on a
real loopback listener started in the test."""

from __future__ import annotations

import imaplib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from imapclient import IMAPClient
from tests.session.harness import World, loopback_server, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def deliver_from_another_process(maildir: str, body: bytes) -> None:
    code = ("import sys; from postillion.maildir import delivery; "
            "delivery.deliver(sys.argv[1], sys.argv[2].encode())")
    subprocess.run([sys.executable, "-c", code, maildir, body.decode()], check=True)


@pytest.mark.parametrize("delivered_sorts_last", [False, True])
def test_imapclient_everyday_session(world: World, delivered_sorts_last: bool) -> None:
    delivered = world.deliver(b"From: ann@example.org\nSubject: first\n\nhello\n")
    if delivered_sorts_last:
        # The delivered and the appended message get their UIDs in one scan,
        # in Courier's file-name order: within one second the order of the
        # "M<usec>" parts decides.  A name from the far future puts the
        # delivered message last, so both orders are tested every run.
        new_dir = os.path.join(world.maildir(), "new")
        os.rename(os.path.join(new_dir, os.path.basename(delivered)),
                  os.path.join(new_dir, "9999999999.M1P1.test"))
    with loopback_server(world.context()) as port, IMAPClient("127.0.0.1", port=port,
                                                              ssl=False) as client:
        client.login("paul", "paulpw")
        assert b"IDLE" in client.capabilities() and b"MOVE" in client.capabilities()
        assert client.namespace().personal == (("INBOX.", "."),)
        client.create_folder("INBOX.Archive")
        client.create_folder("INBOX.Trash")
        names = [name for _flags, _delim, name in client.list_folders()]
        assert names == ["INBOX", "INBOX.Archive", "INBOX.Trash"]
        assert client.find_special_folder(b"\\Trash") == "INBOX.Trash"
        answer = client.append("INBOX", b"Subject: second\r\n\r\nworld\r\n",
                               flags=[b"\\Flagged"])
        appenduid = re.match(rb"\[APPENDUID (\d+) (\d+)\]", answer)
        assert appenduid is not None, answer
        info = client.select_folder("INBOX")
        assert info[b"EXISTS"] == 2 and info[b"UIDNEXT"] == 3
        assert int(appenduid[1]) == info[b"UIDVALIDITY"]
        # What a client may rely on: both messages, distinct UIDs ascending
        # with the sequence numbers, APPENDUID naming the appended one; not
        # which of the two the server numbered first.  (IMAPClient speaks
        # UIDs: the keys below are UIDs, SEQ the sequence numbers.)
        data = client.fetch([1, 2], ["FLAGS", "ENVELOPE", "RFC822.SIZE", "BODY.PEEK[]"])
        assert sorted(data) == [1, 2]
        assert data[1][b"SEQ"] < data[2][b"SEQ"]
        uid = {data[n][b"ENVELOPE"].subject: n for n in data}
        first, second = uid[b"first"], uid[b"second"]
        assert second == int(appenduid[2])
        assert data[second][b"FLAGS"] == (b"\\Flagged",)
        assert data[second][b"BODY[]"] == b"Subject: second\r\n\r\nworld\r\n"
        assert client.search(["FLAGGED"]) == [second]
        client.add_flags([first], [b"\\Seen", b"Important"])
        # APPEND's UID assignment moved the delivered message out of new/: no \Recent.
        assert set(client.get_flags([first])[first]) == {b"\\Seen", b"Important"}
        client.copy([first], "INBOX.Archive")
        client.move([second], "INBOX.Archive")
        assert client.search() == [first]
        assert client.folder_status("INBOX.Archive", ["MESSAGES"])[b"MESSAGES"] == 2
        client.delete_messages([first])
        client.expunge()
        assert client.search() == []
        assert client.get_quota_root("INBOX")[0].quota_roots == ["ROOT"]
        client.rename_folder("INBOX.Archive", "INBOX.Old")
        client.delete_folder("INBOX.Old")
        client.logout()


def test_idle_sees_delivery_from_another_process(world: World) -> None:
    with loopback_server(world.context()) as port, IMAPClient("127.0.0.1", port=port,
                                                              ssl=False) as client:
        client.login("paul", "paulpw")
        client.select_folder("INBOX")
        client.idle()
        deliver_from_another_process(world.maildir(), b"Subject: pushed\n\nnow\n")
        responses = client.idle_check(timeout=10)
        client.idle_done()
        assert (1, b"EXISTS") in responses
        assert client.fetch([1], ["ENVELOPE"])[1][b"ENVELOPE"].subject == b"pushed"
        client.logout()


def test_concurrent_sessions_on_one_folder(world: World) -> None:
    for n in range(3):
        world.deliver(f"Subject: m{n}\n\nbody\n".encode())
    with loopback_server(world.context()) as port:
        one = imaplib.IMAP4("127.0.0.1", port)
        two = imaplib.IMAP4("127.0.0.1", port)
        one.login("paul", "paulpw")
        two.login("paul", "paulpw")
        assert one.select("INBOX") == ("OK", [b"3"])
        assert two.select("INBOX") == ("OK", [b"3"])
        # two flags and expunges; one sees it at its next NOOP, in order.
        two.store("2", "+FLAGS", "(\\Deleted)")
        two.store("3", "+FLAGS", "(\\Flagged)")
        two.expunge()
        typ, _ = one.noop()
        assert typ == "OK"
        assert one.response("EXPUNGE") == ("EXPUNGE", [b"2"])
        # one's FETCH FLAGS for the flagged message came with the NOOP too.
        assert one.response("FETCH") == ("FETCH", [b"2 (FLAGS (\\Flagged \\Recent))"])
        # A delivery by another process: seen by NOOP as EXISTS.
        one.response("EXISTS")  # forget SELECT's
        deliver_from_another_process(world.maildir(), b"Subject: late\n\nx\n")
        one.noop()
        assert one.response("EXISTS") == ("EXISTS", [b"3"])
        # FETCH may not report an expunge: the message stays addressable.
        two.store("1", "+FLAGS", "(\\Deleted)")
        two.expunge()
        typ, _data = one.fetch("1:*", "(UID)")
        assert typ == "OK"
        assert one.response("EXPUNGE") == ("EXPUNGE", [None])
        one.noop()
        assert one.response("EXPUNGE") == ("EXPUNGE", [b"1"])
        assert one.fetch("1:*", "(UID)")[1] == [b"1 (UID 3)", b"2 (UID 4)"]
        one.logout()
        two.logout()


def test_dropped_connection_mid_append_leaves_nothing(world: World) -> None:
    with loopback_server(world.context()) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        stream = sock.makefile("rwb")
        stream.readline()
        stream.write(b"a1 LOGIN paul paulpw\r\n")
        stream.flush()
        assert stream.readline() == b"a1 OK LOGIN Ok.\r\n"
        stream.write(b"a2 APPEND INBOX {1000}\r\n")
        stream.flush()
        assert stream.readline() == b"+ OK\r\n"
        stream.write(b"Subject: cut\r\n\r\n" + b"x" * 300)
        stream.flush()
        sock.close()
        # A fresh session still works and sees nothing.
        client = imaplib.IMAP4("127.0.0.1", port)
        client.login("paul", "paulpw")
        assert client.select("INBOX") == ("OK", [b"0"])
        client.logout()
    for sub in ("tmp", "new", "cur"):
        assert os.listdir(os.path.join(world.maildir(), sub)) == []


def test_imaplib_bad_names_and_errors(world: World) -> None:
    with loopback_server(world.context()) as port:
        client = imaplib.IMAP4("127.0.0.1", port)
        client.login("paul", "paulpw")
        for name in ("INBOX..x", '"INBOX/x"', '"../../etc"', "INBOX.a..b"):
            typ, _ = client.create(name)
            assert typ == "NO", name
        assert client.select("INBOX.nope")[0] == "NO"
        typ, _data = client.xatom("FROBNICATE")
        assert typ == "NO"
        assert client.noop()[0] == "OK"
        client.logout()
    assert sorted(e for e in os.listdir(world.maildir()) if e.startswith(".")) == []
