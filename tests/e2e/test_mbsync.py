"""A real client round trip: mbsync (isync) against a real Postillion.

Two ways in, as mbsync's users connect:

* ``postillion serve --config DIR`` in a subprocess on a free loopback port,
  LOGIN over plain IMAP, Courier's packaged capability list (NAMESPACE,
  UIDPLUS), a local Maildir with ``SubFolders Verbatim`` and ``Expunge Both``;
* ``Tunnel "postillion imapd Maildir"``: pre-authenticated IMAP on the
  tunnel's stdin/stdout with the bare environment of an ssh command (no
  NAMESPACE, no UIDPLUS: mbsync finds appended messages by their X-TUID header),
  a local Maildir++ tree and ``Expunge None`` (deletions travel as ``\\Deleted``).

Each runs the same story: (1) the first sync pulls every folder (nested,
non-ASCII) and message with its flags; (2) local changes (a new message, flag
changes, deletions, new folders) are pushed; (3) server-side changes (a
``deliverquota`` delivery, flag changes and an expunge through imaplib, a new
non-ASCII folder) are pulled; (4) a sync with nothing to do changes nothing on
either side.  After every sync the server is read twice, through imaplib and
from disk (``courierimapuiddb`` agreeing with the files in ``cur/`` and with
the UIDs imaplib sees), and both must equal the expected state.

mbsync 1.4 does not carry keywords, and it sends folder names as it finds them
on disk: modified UTF-7 names come and go as they are (a local ``Entw&APw-rfe``
is the server's ``Entwürfe``), while a local UTF-8 directory name would be sent
as raw 8-bit bytes, which an IMAP server must refuse without UTF8=ACCEPT; so
non-ASCII local folders are made with their modified UTF-7 names.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import REQUIRE_REFERENCE

from postillion.auth.passwords import make_password
from postillion.maildir import mutf7
from postillion.maildir.delivery import deliver
from postillion.maildir.folders import Maildir
from postillion.maildir.layout import create_maildir
from postillion.maildir.uiddb import read_uiddb

MBSYNC = "/usr/bin/mbsync"
RELAY = Path(__file__).parent / "mbsync" / "pipe_relay.py"
LOGIN = "paul"
PASSWORD = "mbsync-pw"
# Courier's packaged /etc/courier/imapd list, as a real installation has it.
COURIER_CAPABILITY = ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
                      "THREAD=REFERENCES SORT QUOTA IDLE")
FLAG_LETTERS = {"\\DRAFT": "D", "\\FLAGGED": "F", "\\ANSWERED": "R", "\\SEEN": "S",
                "\\DELETED": "T"}
# Every run of mbsync must end with status 0 and print only these lines.
BENIGN_OUTPUT = (
    "Maildir notice: no UIDVALIDITY, creating new.",
    "Maildir notice: sleeping due to recent directory modification.",
    "*** IMAP Warning *** Password is being sent in the clear",  # plain LOGIN on loopback
)
MBSYNC_TIMEOUT = 120

# folder (storage name: "INBOX", "INBOX.Work.Reports", "INBOX.Entwürfe") ->
# message (the local part of its Message-ID) -> maildir flag letters, sorted
View = dict[str, dict[str, str]]

SERVER_START: View = {
    "INBOX": {"m1": "S", "m2": "FS", "m3": "RS", "m4": "", "m5": "ST"},
    "INBOX.Work": {"w1": "S"},
    "INBOX.Work.Reports": {"r1": "F"},
    "INBOX.Entwürfe": {"e1": ""},
    "INBOX.Trash": {},
}


def mbsync_program() -> str:
    """mbsync's path; skipped where isync is missing, a failure in CI."""
    path = MBSYNC if os.access(MBSYNC, os.X_OK) else shutil.which("mbsync")
    if not path:
        message = "mbsync is not installed (Debian package isync)"
        if REQUIRE_REFERENCE:
            pytest.fail(message + "; POSTILLION_REQUIRE_REFERENCE=1 makes this a failure")
        pytest.skip(message)
    return path


def message(mid: str) -> bytes:
    return (f"From: Sender <sender@example.com>\nTo: paul@example.com\n"
            f"Subject: message {mid}\nDate: Tue, 24 Nov 2026 10:00:00 +0000\n"
            f"Message-ID: <{mid}@example.com>\n\nThe body of {mid}.\n").encode()


def _sorted_flags(letters: str) -> str:
    return "".join(sorted(set(letters)))


def _message_id(path: Path) -> str:
    header = path.read_bytes().split(b"\n\n", 1)[0]
    found = re.search(rb"^Message-ID: <([^@>]+)@", header, re.MULTILINE | re.IGNORECASE)
    assert found, f"{path}: no Message-ID"
    return found.group(1).decode()


def build_server_maildir(home: Path) -> Path:
    maildir = home / "Maildir"
    create_maildir(str(maildir))
    store = Maildir(str(maildir))
    for folder, messages in SERVER_START.items():
        if folder != "INBOX":
            store.create(folder)
        for mid, flags in messages.items():
            deliver(store.path(folder), message(mid), flags=flags, durable=False)
    return maildir


# ------------------------------------------------------------ reading the three sides

def storage_name(mbsync_name: str) -> str:
    """mbsync's name of a folder ("Work/Reports", "Entw&APw-rfe") as ours."""
    if mbsync_name == "INBOX":
        return "INBOX"
    return ".".join(["INBOX", *(mutf7.decode(part) for part in mbsync_name.split("/"))])


def _folder_messages(folder: Path) -> dict[str, str]:
    messages = {}
    for sub in ("new", "cur"):
        for entry in (folder / sub).iterdir():
            _base, _sep, info = entry.name.partition(":2,")
            messages[_message_id(entry)] = _sorted_flags(info)
    return messages


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def local_view(root: Path, layout: str) -> View:
    """The local side: ``verbatim`` (root/INBOX, root/Work/Reports) or
    ``maildir++`` (root is INBOX, root/.Work.Reports)."""
    view: View = {}
    if layout == "verbatim":
        for directory, _dirs, _files in os.walk(root):
            path = Path(directory)
            if _is_maildir(path):
                view[storage_name(path.relative_to(root).as_posix())] = _folder_messages(path)
    else:
        view["INBOX"] = _folder_messages(root)
        for entry in root.iterdir():
            if entry.name.startswith(".") and _is_maildir(entry):
                view[storage_name(entry.name[1:].replace(".", "/"))] = _folder_messages(entry)
    return view


@dataclass
class ServerState:
    view: View
    uids: dict[str, dict[str, int]]


_LIST_LINE = re.compile(rb'^\(([^)]*)\) (?:"[^"]*"|NIL) "?([^"]*)"?$')
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")


def imap_state(client: imaplib.IMAP4) -> ServerState:
    """Every selectable folder through LIST, EXAMINE and UID FETCH."""
    typ, lines = client.list('""', "*")
    assert typ == "OK", lines
    state = ServerState({}, {})
    for line in lines:
        assert isinstance(line, bytes), line
        match = _LIST_LINE.match(line)
        assert match, line
        attributes, wire_name = match.group(1).lower(), match.group(2).decode("ascii")
        if b"\\noselect" in attributes or b"\\nonexistent" in attributes:
            continue
        name = mutf7.decode(wire_name)
        typ, data = client.select(_quote(wire_name), readonly=True)
        assert typ == "OK", (name, data)
        view, uids = state.view.setdefault(name, {}), state.uids.setdefault(name, {})
        if int(data[0] or b"0") == 0:
            continue
        typ, fetched = client.uid("FETCH", "1:*",
                                  "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "OK", fetched
        for item in fetched:
            if not isinstance(item, tuple):
                continue   # the b")" closing each literal-bearing response
            meta, header = item
            found = re.search(rb"<([^@>]+)@", header)
            uid, flags = _FETCH_UID.search(meta), _FETCH_FLAGS.search(meta)
            assert found and uid and flags, item
            letters = "".join(FLAG_LETTERS.get(f.upper(), "")
                              for f in flags.group(1).decode().split())
            view[found.group(1).decode()] = _sorted_flags(letters)
            uids[found.group(1).decode()] = int(uid.group(1))
    if client.state == "SELECTED":
        client.close()
    return state


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def disk_state(maildir: Path) -> ServerState:
    """The server's files: every message in ``cur/`` (a session has seen them
    all) and named in ``courierimapuiddb``, UIDs unique and below nextuid."""
    store = Maildir(str(maildir))
    state = ServerState({}, {})
    for info in store.list_folders():
        if not info.selectable:
            continue
        folder = Path(store.path(info.name))
        assert os.listdir(folder / "new") == [], f"{info.name}: mail left in new/"
        db = read_uiddb(str(folder))
        files = sorted((folder / "cur").iterdir())
        if db is None:
            assert files == [], f"{info.name}: messages without a courierimapuiddb"
            state.view[info.name], state.uids[info.name] = {}, {}
            continue
        by_base = {base: uid for uid, base in db.entries}
        assert len(set(by_base.values())) == len(by_base), db.entries
        assert all(uid < db.nextuid for uid in by_base.values()), db
        bases = {entry.name.partition(":2,")[0]: entry for entry in files}
        # Every file has its UID.  An entry may outlive its file: after CLOSE
        # (mbsync's way to expunge) Courier leaves it until the next rewrite too.
        assert set(bases) <= set(by_base), (info.name, sorted(bases), db.entries)
        view, uids = state.view.setdefault(info.name, {}), state.uids.setdefault(info.name, {})
        for base, entry in bases.items():
            assert ":2," in entry.name, entry.name
            mid = _message_id(entry)
            view[mid] = _sorted_flags(entry.name.partition(":2,")[2])
            uids[mid] = by_base[base]
    return state


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file and directory under the roots, with a hash of each file."""
    out = {}
    for root in roots:
        for directory, dirs, files in os.walk(root):
            for name in dirs:
                out[os.path.join(directory, name)] = "dir"
            for name in files:
                path = os.path.join(directory, name)
                out[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


# ------------------------------------------------------------ running things

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_serve_config(directory: Path, home: Path, maildir: Path, port: int) -> Path:
    directory.mkdir(parents=True)
    (directory / "imapd").write_text(
        f"ADDRESS=127.0.0.1\nPORT=127.0.0.1.{port}\nIMAPDSTART=YES\n"
        "IMAPDSSLSTART=NO\nIMAPDSTARTTLS=NO\n"
        f'IMAP_CAPABILITY="{COURIER_CAPABILITY}"\n'
        "IMAP_ENHANCEDIDLE=1\nPOSTILLION_LOGIN_FAILURE_DELAY=0\n"
        "# The account has the test's uid, which is root in CI.\n"
        "POSTILLION_ALLOW_ROOT_LOGIN=1\n")
    fields = (f"uid={os.getuid()}|gid={os.getgid()}|home={home}|mail={maildir}"
              f"|systempw={make_password(PASSWORD, 'sha512')}")
    (directory / "userdb").write_text(f"{LOGIN}\t{fields}\n")
    (directory / "userdb").chmod(0o600)
    return directory


@contextlib.contextmanager
def running_server(config: Path, port: int, log: Path) -> Iterator[None]:
    """``postillion serve --config DIR`` until the block ends."""
    with log.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "postillion", "serve", "--config", str(config)],
            stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, f"server exited: {log.read_text()}"
            with contextlib.suppress(OSError), \
                    socket.create_connection(("127.0.0.1", port), timeout=5):
                break
            assert time.monotonic() < deadline, f"server never listened: {log.read_text()}"
            time.sleep(0.05)
        yield
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(30)
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text


def imapd_command(home: Path, log: Path) -> str:
    """The shell command a tunnel runs: ``postillion imapd Maildir`` in the
    home, with what an ssh command has in its environment (no imapd file)."""
    environment = (f"HOME={shlex.quote(str(home))} AUTHENTICATED={LOGIN} "
                   f"PATH={shlex.quote(os.environ.get('PATH', '/usr/bin:/bin'))}")
    return (f"cd {shlex.quote(str(home))} && exec env -i {environment} "
            f"{shlex.quote(sys.executable)} -m postillion imapd Maildir "
            f"2>>{shlex.quote(str(log))}")


def run_mbsync(config: Path, home: Path) -> str:
    result = subprocess.run([mbsync_program(), "-c", str(config), "roundtrip"],
                            env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
                            stdin=subprocess.DEVNULL, capture_output=True,
                            timeout=MBSYNC_TIMEOUT, check=False)
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, output
    unexpected = [line for line in output.splitlines() if line and line not in BENIGN_OUTPUT]
    assert unexpected == [], output
    return output


@dataclass
class Variant:
    """One way of connecting mbsync, and what it implies for the story."""

    layout: str                 # local SubFolders: "verbatim" or "maildir++"
    expunge: bool               # Channel Expunge Both (else None)
    config: Path                # the mbsyncrc
    local_root: Path            # where local_view reads
    local_folder: Callable[[str], Path]   # mbsync name -> local directory
    client: Callable[[], contextlib.AbstractContextManager[imaplib.IMAP4]]


CHANNEL = """
Channel roundtrip
Far :server:
Near :local:
Patterns *
Create Both
Expunge {expunge}
SyncState *
Sync All
"""


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    home = tmp_path / "server" / LOGIN
    home.mkdir(parents=True)
    build_server_maildir(home)
    return home


@pytest.fixture
def local_home(tmp_path: Path) -> Path:
    home = tmp_path / "client"
    home.mkdir()
    return home


@pytest.fixture
def network_variant(tmp_path: Path, server_home: Path, local_home: Path) -> Iterator[Variant]:
    mbsync_program()
    port = free_port()
    config = write_serve_config(tmp_path / "etc", server_home, server_home / "Maildir", port)
    local = local_home / "Mail"
    local.mkdir()
    rc = local_home / "mbsyncrc"
    rc.write_text(f"""IMAPAccount postillion
Host 127.0.0.1
Port {port}
User {LOGIN}
Pass {PASSWORD}
SSLType None
AuthMechs LOGIN
Timeout 30

IMAPStore server
Account postillion

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim
""" + CHANNEL.format(expunge="Both"))

    @contextlib.contextmanager
    def client() -> Iterator[imaplib.IMAP4]:
        connection = imaplib.IMAP4("127.0.0.1", port, timeout=60)
        try:
            connection.login(LOGIN, PASSWORD)
            yield connection
        finally:
            connection.logout()

    with running_server(config, port, tmp_path / "serve.log"):
        yield Variant("verbatim", True, rc, local, lambda name: local / name, client)


def tunnel_rc(local_home: Path, tunnel: str) -> Path:
    local = local_home / "Maildir"
    rc = local_home / "mbsyncrc"
    rc.write_text(f"""IMAPAccount postillion
Tunnel "{tunnel.replace(chr(34), chr(92) + chr(34))}"

IMAPStore server
Account postillion
# No NAMESPACE in a bare environment's CAPABILITY: say where folders live.
Path INBOX.

MaildirStore local
Inbox {local}
SubFolders Maildir++
""" + CHANNEL.format(expunge="None"))
    return rc


def tunnel_variant(tmp_path: Path, server_home: Path, local_home: Path,
                   tunnel: str) -> Variant:
    local = local_home / "Maildir"
    rc = tunnel_rc(local_home, tunnel)
    stream_command = imapd_command(server_home, tmp_path / "imapd.log")

    @contextlib.contextmanager
    def client() -> Iterator[imaplib.IMAP4]:
        connection = imaplib.IMAP4_stream(stream_command)
        try:
            yield connection
        finally:
            connection.logout()

    def folder(name: str) -> Path:
        return local if name == "INBOX" else local / ("." + name.replace("/", "."))

    return Variant("maildir++", False, rc, local, folder, client)


# ------------------------------------------------------------ the story

def assert_server(variant: Variant, maildir: Path, expected: View) -> ServerState:
    with variant.client() as client:
        seen = imap_state(client)
    on_disk = disk_state(maildir)
    assert seen.view == expected
    assert on_disk.view == expected
    assert seen.uids == on_disk.uids       # imaplib's UIDs are courierimapuiddb's
    return seen


def _set_local_flags(folder: Path, mid: str, flags: str) -> None:
    for sub in ("new", "cur"):
        for entry in (folder / sub).iterdir():
            if _message_id(entry) == mid:
                base = entry.name.partition(":2,")[0]
                entry.rename(folder / "cur" / f"{base}:2,{_sorted_flags(flags)}")
                return
    raise AssertionError(f"{mid} not in {folder}")


def _remove_local(folder: Path, mid: str) -> None:
    for sub in ("new", "cur"):
        for entry in (folder / sub).iterdir():
            if _message_id(entry) == mid:
                entry.unlink()
                return
    raise AssertionError(f"{mid} not in {folder}")


def _new_local_folder(path: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True)
    return path


def _put_local(folder: Path, mid: str, flags: str) -> None:
    name = f"1795700000.{mid}.client"
    target = folder / "cur" / f"{name}:2,{flags}" if flags else folder / "new" / name
    target.write_bytes(message(mid))


def _without(view: View, letter: str) -> View:
    return {folder: {mid: flags for mid, flags in messages.items() if letter not in flags}
            for folder, messages in view.items()}


def _copy(view: View) -> View:
    return {folder: dict(messages) for folder, messages in view.items()}


def round_trip(variant: Variant, server_home: Path, local_home: Path) -> None:
    maildir = server_home / "Maildir"

    # (1) The first sync: every folder and message, flags and all.  With
    # Expunge Both, mbsync neither copies a message that is already \Deleted
    # nor keeps it on the server.
    run_mbsync(variant.config, local_home)
    server = _without(SERVER_START, "T") if variant.expunge else _copy(SERVER_START)
    local = _copy(server)
    assert local_view(variant.local_root, variant.layout) == local
    assert_server(variant, maildir, server)
    assert (variant.local_folder("Entw&APw-rfe") / "cur").is_dir()  # mbsync 1.4's name

    # (2) Local changes pushed: a new message, flags set and cleared, a file
    # deleted, a message marked deleted, a nested folder and a non-ASCII one.
    inbox = variant.local_folder("INBOX")
    _put_local(inbox, "l1", "S")
    _set_local_flags(inbox, "m4", "FS")
    _set_local_flags(inbox, "m2", "S")
    _remove_local(inbox, "m1")
    _set_local_flags(inbox, "m3", "RST")
    _put_local(_new_local_folder(variant.local_folder("Archive/2026")), "l2", "RS")
    _put_local(_new_local_folder(variant.local_folder("R&AOk-sum&AOk-")), "l3", "FS")
    run_mbsync(variant.config, local_home)
    local["INBOX"].update({"l1": "S", "m4": "FS", "m2": "S"})
    del local["INBOX"]["m1"]
    local.update({"INBOX.Archive.2026": {"l2": "RS"}, "INBOX.Résumé": {"l3": "FS"}})
    server["INBOX"].update({"l1": "S", "m4": "FS", "m2": "S", "m3": "RST", "m1": "ST"})
    server.update({"INBOX.Archive.2026": {"l2": "RS"}, "INBOX.Résumé": {"l3": "FS"}})
    if variant.expunge:
        del local["INBOX"]["m3"], server["INBOX"]["m3"], server["INBOX"]["m1"]
    else:
        local["INBOX"]["m3"] = "RST"
    assert local_view(variant.local_root, variant.layout) == local
    assert_server(variant, maildir, server)
    assert (maildir / ".Résumé" / "cur").is_dir()       # Courier 5 keeps UTF-8 on disk
    assert (maildir / ".Archive.2026" / "cur").is_dir()

    # (3) Server-side changes pulled: a delivery by deliverquota, flags changed
    # and a message expunged through imaplib, a new non-ASCII folder with mail.
    delivered = subprocess.run([sys.executable, "-m", "postillion", "deliverquota",
                                str(maildir)], input=message("s1"), capture_output=True,
                               timeout=60, check=False)
    assert delivered.returncode == 0, delivered.stderr
    with variant.client() as client:
        uids = imap_state(client).uids
        assert client.select("INBOX")[0] == "OK"
        assert client.uid("STORE", str(uids["INBOX"]["m2"]), "+FLAGS",
                          "(\\Flagged \\Answered)")[0] == "OK"
        assert client.uid("STORE", str(uids["INBOX"]["m4"]), "-FLAGS", "(\\Seen)")[0] == "OK"
        assert client.select("INBOX.Work")[0] == "OK"
        assert client.uid("STORE", str(uids["INBOX.Work"]["w1"]), "+FLAGS",
                          "(\\Deleted)")[0] == "OK"
        assert client.expunge()[0] == "OK"
        folder = _quote(mutf7.encode("INBOX.Projects.Ärger"))
        assert client.create(folder)[0] == "OK"
        assert client.append(folder, "(\\Flagged)", None, message("p1"))[0] == "OK"
    run_mbsync(variant.config, local_home)
    server["INBOX"].update({"s1": "", "m2": "FRS", "m4": "F"})
    local["INBOX"].update({"s1": "", "m2": "FRS", "m4": "F"})
    del server["INBOX.Work"]["w1"]
    if variant.expunge:
        del local["INBOX.Work"]["w1"]
    else:
        local["INBOX.Work"]["w1"] = "ST"   # gone from the server: marked, not expunged
    server["INBOX.Projects.Ärger"] = local["INBOX.Projects.Ärger"] = {"p1": "F"}
    assert local_view(variant.local_root, variant.layout) == local
    assert_server(variant, maildir, server)

    # (4) Nothing to do: nothing changes, on either side.
    before = snapshot(maildir, variant.local_root)
    run_mbsync(variant.config, local_home)
    assert snapshot(maildir, variant.local_root) == before
    assert_server(variant, maildir, server)


def test_mbsync_round_trip_over_the_network(network_variant: Variant, server_home: Path,
                                            local_home: Path) -> None:
    round_trip(network_variant, server_home, local_home)


# ------------------------------------------------------------ the tunnel

def stdio_over_a_socket(home: Path) -> bytes:
    """What ``postillion imapd`` answers when its stdin and stdout are one end
    of a socket pair, as mbsync's Tunnel (and any socketpair-based launcher)
    gives it: the greeting, CAPABILITY, LOGOUT."""
    ours, theirs = socket.socketpair()
    environment = {"HOME": str(home), "AUTHENTICATED": LOGIN,
                   "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    child = subprocess.Popen([sys.executable, "-m", "postillion", "imapd", "Maildir"],
                             stdin=theirs.fileno(), stdout=theirs.fileno(),
                             stderr=subprocess.DEVNULL,
                             cwd=home, env=environment)
    theirs.close()
    ours.settimeout(30)
    transcript = b""
    with ours:
        try:
            for command in (b"", b"1 CAPABILITY\r\n", b"2 LOGOUT\r\n"):
                ours.sendall(command)
                transcript += b"C: " + command if command else b""
                tag = command.split(b" ", 1)[0] + b" " if command else b"* "
                reply = b""
                while not any(line.startswith(tag) for line in reply.split(b"\r\n")):
                    chunk = ours.recv(4096)
                    if not chunk:
                        raise ConnectionError("EOF")
                    reply += chunk
                transcript += b"".join(b"S: " + line + b"\r\n"
                                       for line in reply.split(b"\r\n") if line)
        except (OSError, ConnectionError) as exc:
            transcript += f"-- {exc}\r\n".encode()
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(30)
    return transcript


@pytest.mark.parametrize("stdio", ["pipes", "socketpair"])
def test_mbsync_round_trip_through_a_preauth_tunnel(stdio: str, tmp_path: Path,
                                                    server_home: Path,
                                                    local_home: Path) -> None:
    """``Tunnel "postillion imapd Maildir"``.  Over ssh the remote command gets
    pipes (``pipes``: the relay stands in for sshd); run locally it gets
    mbsync's own socket pair (``socketpair``)."""
    mbsync_program()
    if stdio == "socketpair":
        transcript = stdio_over_a_socket(server_home)
        # Once a regression: with one socket on fds 0 and 1 the server took
        # the client's first command for a hang-up and stopped.
        assert b"1 OK" in transcript and b"2 OK" in transcript, transcript.decode(
            errors="replace")
    log = tmp_path / "imapd.log"
    tunnel = imapd_command(server_home, log)
    if stdio == "pipes":
        relay = f"{shlex.quote(sys.executable)} {shlex.quote(str(RELAY))}"
        tunnel = f"{relay} sh -c {shlex.quote(tunnel)}"
    round_trip(tunnel_variant(tmp_path, server_home, local_home, tunnel),
               server_home, local_home)
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text
