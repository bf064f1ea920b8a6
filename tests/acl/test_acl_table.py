"""Every row of docs/acl.md's command table, checked on a real loopback
server: tux works on paul's ``#shared.paul.T`` holding the row's right and
then the same rights without it."""

from __future__ import annotations

import imaplib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.shared_world import SharedWorld, answer, login, make_shared_world, select

DOC = Path(__file__).resolve().parents[2] / "docs" / "acl.md"
T = '"#shared.paul.T"'
MSG = b"Subject: x\r\n\r\nbody\r\n"


def table_rows() -> list[tuple[str, str]]:
    rows = []
    text = DOC.read_text()
    table = text.split("## What each command needs", 1)[1].split("Response codes", 1)[0]
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("command", "---"):
            rows.append((cells[0], cells[1]))
    return rows


imaplib.Commands.setdefault("LISTRIGHTS", ("AUTH", "SELECTED"))


def cmd(client: imaplib.IMAP4, name: str, *args: str) -> str:
    text = answer(client._simple_command(name, *args))  # type: ignore[attr-defined]
    if name in ("EXAMINE", "SELECT") and text.startswith("OK"):
        client.state = "SELECTED"
        client.is_readonly = True  # type: ignore[attr-defined]
    return text


def ok(text: str) -> bool:
    return text.startswith("OK")


def flags_of(client: imaplib.IMAP4, seq: str = "1") -> str:
    _typ, data = client.fetch(seq, "(FLAGS)")
    return str(data[-1])


Check = Callable[[SharedWorld, imaplib.IMAP4], bool]


def _select_then(action: Callable[[imaplib.IMAP4], bool]) -> Check:
    def check(world: SharedWorld, c: imaplib.IMAP4) -> bool:
        return ok(select(c, T)) and action(c)
    return check


def _store(flag: str) -> Check:
    def check(world: SharedWorld, c: imaplib.IMAP4) -> bool:
        select(c, T)
        cmd(c, "STORE", "1", "+FLAGS", f"({flag})")
        return flag in flags_of(c)
    return check


def _move_out(world: SharedWorld, c: imaplib.IMAP4) -> bool:
    select(c, T)
    return ok(cmd(c, "MOVE", "1", "INBOX"))


def _close(world: SharedWorld, c: imaplib.IMAP4) -> bool:
    select(c, T)
    cmd(c, "STORE", "1", "+FLAGS", "(\\Deleted)")
    cmd(c, "CLOSE")
    return len(list((Path(world.maildir("paul")) / ".T" / "cur").iterdir())) == 0


def _fetch_seen(world: SharedWorld, c: imaplib.IMAP4) -> bool:
    select(c, T)
    cmd(c, "FETCH", "1", "(BODY[])")
    return "\\Seen" in flags_of(c)


def _append_flags(world: SharedWorld, c: imaplib.IMAP4) -> bool:
    c.append(T, "(\\Seen \\Deleted \\Flagged)", None, MSG)
    names = [p.name for p in (Path(world.maildir("paul")) / ".T" / "cur").iterdir()]
    return any(n.endswith(":2,FST") for n in names)


def _copy_in(world: SharedWorld, c: imaplib.IMAP4) -> bool:
    c.select("INBOX")
    return ok(cmd(c, "COPY", "1", T))


def _move_in(world: SharedWorld, c: imaplib.IMAP4) -> bool:
    c.select("INBOX")
    return ok(cmd(c, "MOVE", "1", T))


CHECKS: dict[tuple[str, str], tuple[str, Check]] = {
    # (command, right): (the other rights held, does the command do its work?)
    ("SELECT", "r"): ("l", lambda w, c: ok(select(c, T))),
    ("EXAMINE", "r"): ("l", lambda w, c: ok(cmd(c, "EXAMINE", T))),
    ("STATUS", "r"): ("l", lambda w, c: ok(cmd(c, "STATUS", T, "(MESSAGES)"))),
    ("APPEND", "i"): ("lr", lambda w, c: c.append(T, None, None, MSG)[0] == "OK"),
    ("COPY", "i"): ("lr", _copy_in),
    ("MOVE", "i"): ("lr", _move_in),
    ("MOVE", "t"): ("lrie", _move_out),
    ("MOVE", "e"): ("lrit", _move_out),
    ("EXPUNGE", "e"): ("lrt", _select_then(lambda c: ok(cmd(c, "EXPUNGE")))),
    ("UID EXPUNGE", "e"): ("lrt", _select_then(lambda c: ok(cmd(c, "UID", "EXPUNGE", "1")))),
    ("CLOSE", "e"): ("lrt", _close),
    ("CREATE", "c"): ("lr", lambda w, c: ok(cmd(c, "CREATE", '"#shared.paul.T.New"'))),
    ("DELETE", "x"): ("lr", lambda w, c: ok(cmd(c, "DELETE", T))),
    ("RENAME", "x"): ("lrc", lambda w, c: ok(cmd(c, "RENAME", T, '"#shared.paul.T2"'))),
    ("GETACL", "a"): ("lr", lambda w, c: ok(cmd(c, "GETACL", T))),
    ("SETACL", "a"): ("lr", lambda w, c: ok(cmd(c, "SETACL", T, "bob", "lr"))),
    ("DELETEACL", "a"): ("lr", lambda w, c: ok(cmd(c, "DELETEACL", T, "bob"))),
    ("LISTRIGHTS", "a"): ("lr", lambda w, c: ok(cmd(c, "LISTRIGHTS", T, "bob"))),
    ("LIST, LSUB", "l"): ("r", lambda w, c: "#shared.paul.T" in str(c.list('""', '"#shared.*"'))),
    ("STORE \\Seen", "s"): ("lri", _store("\\Seen")),
    ("STORE \\Deleted", "t"): ("lri", _store("\\Deleted")),
    ("STORE other flags, keywords", "w"): ("lri", _store("\\Flagged")),
    ("FETCH BODY[] (not PEEK)", "s"): ("lri", _fetch_seen),
    ("APPEND/COPY/MOVE flags", "s, t, w"): ("lri", _append_flags),
    ("SELECT read-write", "any of iestw"): ("lr",
                                            lambda w, c: "READ-WRITE" in select(c, T)),
    ("SEARCH, SORT, THREAD, FETCH, IDLE", "r"): (
        "l", lambda w, c: ok(select(c, T)) and ok(cmd(c, "SEARCH", "ALL"))),
    ("MYRIGHTS", "any of lricxea"): ("", lambda w, c: ok(cmd(c, "MYRIGHTS", T))),
}
SPECIAL_RIGHTS = {"s, t, w": "stw", "any of iestw": "i", "any of lricxea": "l"}


@pytest.mark.parametrize(("command", "right"), table_rows())
@pytest.mark.parametrize("holds", [True, False])
def test_row(tmp_path: Path, command: str, right: str, holds: bool) -> None:
    command = command.replace("\\\\", "\\")
    if (command, right) == ("RENAME", "c"):
        base, check = "lrx", CHECKS[("RENAME", "x")][1]
    elif (command, right) == ("SUBSCRIBE, UNSUBSCRIBE", "none"):
        base, check = "", lambda w, c: ok(cmd(c, "SUBSCRIBE", T))
        right = ""
    else:
        assert (command, right) in CHECKS, f"docs/acl.md row without a check: {command}"
        base, check = CHECKS[(command, right)]
    world = make_shared_world(tmp_path)
    world.folder("paul", "INBOX.T")
    world.deliver("paul", "INBOX.T", b"Subject: one\n\nbody\n", flags="")
    world.deliver("tux", "", b"Subject: mine\n\nbody\n", flags="")
    letters = SPECIAL_RIGHTS.get(right, right)
    rights = "".join(sorted(set(base) | (set(letters) if holds else set())))
    if (command, right) == ("RENAME", "c"):
        world.grant("paul", "INBOX", "user=tux", "c" if holds else "")
        world.grant("paul", "INBOX.T", "user=tux", "lrx")
    else:
        world.grant("paul", "INBOX.T", "user=tux", rights)
        if command == "RENAME":
            world.grant("paul", "INBOX", "user=tux", "c")
    with world.server() as port:
        client = login(port, "tux")
        try:
            done = check(world, client)
        finally:
            client.logout()
    expected = holds or right == ""
    assert done is expected, f"{command} with rights {rights!r}"


def test_every_command_row_has_a_check() -> None:
    rows = table_rows()
    assert len(rows) >= 25
    for command, right in rows:
        command = command.replace("\\\\", "\\")
        assert (command, right) in CHECKS or (command, right) in (
            ("RENAME", "c"), ("SUBSCRIBE, UNSUBSCRIBE", "none")), command
    assert re.search(r"\| SELECT \| r \|", DOC.read_text())
