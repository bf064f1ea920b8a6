"""``postillion demo``: a running IMAP server with three users, in one command.

It makes a temporary home (no root, no configuration needed) holding a
Courier-style configuration directory (``etc/imapd``, ``etc/userdb`` with
known passwords) and one maildir per user with generated mail: an INBOX with
read, unread, flagged and answered messages and conversation threads, Sent,
Drafts, Trash, nested project folders, and a ``Team`` folder whose Courier ACL
grants the other users access.  It serves IMAP on 127.0.0.1 (a free port
unless ``--port``), prints how to connect, and runs until Ctrl-C.

``--once`` starts the server, logs in with imaplib, lists the folders, prints
what it saw and stops (for tests and a quick look); ``--no-serve`` only builds
the home.  ``--dir`` puts the home somewhere kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import imaplib
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, make_msgid
from pathlib import Path

from postillion.auth.passwords import make_password
from postillion.maildir import acl
from postillion.maildir.delivery import deliver
from postillion.maildir.layout import create_maildir

USERS = {"paul": "paul-pw", "tux": "tux-pw", "eve": "eve-pw"}
FOLDERS = ("Sent", "Drafts", "Trash", "Projects", "Projects.Postillion", "Projects.Archive",
           "Team")
SUBJECTS = [
    "Quarterly budget review", "Lunch on Friday?", "Release 0.1 checklist",
    "Grüße aus München", "Invoice 2024-117", "Re: maildir quota question",
    "Holiday schedule", "Server migration plan", "Photos from the trip", "Weekly status",
]
WORDS = ("mail server quota folder shared index courier maildir message thread reply "
         "meeting agenda budget report schedule release review patch draft status "
         "naïve café straße résumé").split()
FLAGS = ["", "S", "S", "RS", "FS", "S", "", "S", "DS", "S"]

# Everything a newcomer would expect from Courier's packaged imapd, on loopback
# and with real-time IDLE; no TLS (nothing leaves the machine).
SETTINGS = {
    "ADDRESS": "127.0.0.1",
    "IMAPDSSLSTART": "NO",
    "IMAPDSTARTTLS": "NO",
    "IMAP_CAPABILITY": ("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
                        "THREAD=REFERENCES SORT QUOTA IDLE AUTH=PLAIN"),
    "IMAP_KEYWORDS": "1",
    "IMAP_ACL": "1",
    "IMAP_ENHANCEDIDLE": "1",
    "IMAP_IDLE_TIMEOUT": "60",
    "POSTILLION_LOGIN_FAILURE_DELAY": "1",
    # Run as root, the demo's users have root's uid: serve them anyway.
    "POSTILLION_ALLOW_ROOT_LOGIN": "1" if os.geteuid() == 0 else "0",
}


def _message(rng: random.Random, n: int, sender: str, rcpt: str, when: datetime,
             subject: str, reply_to: str | None) -> tuple[bytes, str]:
    msgid = make_msgid(f"demo{n}", "example.com")
    headers = [
        f"From: {sender.capitalize()} <{sender}@example.com>",
        f"To: {rcpt.capitalize()} <{rcpt}@example.com>",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {msgid}",
        f"Subject: {subject}",
        "MIME-Version: 1.0",
    ]
    if reply_to:
        headers += [f"In-Reply-To: {reply_to}", f"References: {reply_to}"]
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 120)))
    if n % 4 == 3:
        boundary = f"=_demo{n}"
        headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        body = (f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
                f"Content-Transfer-Encoding: 8bit\n\n{text}\n"
                f"--{boundary}\nContent-Type: text/csv; name=\"numbers.csv\"\n"
                f"Content-Disposition: attachment; filename=\"numbers.csv\"\n\n"
                f"month,amount\njan,{rng.randint(1, 999)}\nfeb,{rng.randint(1, 999)}\n"
                f"--{boundary}--\n")
    else:
        headers += ["Content-Type: text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: 8bit"]
        body = text + "\n"
    return ("\n".join(headers) + "\n\n" + body).encode("utf-8"), msgid


def _fill(folder: str, rng: random.Random, owner: str, count: int, unseen_new: int) -> None:
    """``count`` messages, a few delivered as new, some in reply threads."""
    others = [u for u in USERS if u != owner]
    start = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    last_ids: list[tuple[str, str]] = []
    for n in range(count):
        when = start + timedelta(hours=n * 7, minutes=rng.randint(0, 59))
        reply = rng.choice(last_ids) if last_ids and rng.random() < 0.3 else None
        subject = f"Re: {reply[0]}" if reply else rng.choice(SUBJECTS)
        data, msgid = _message(rng, n, rng.choice(others), owner, when, subject,
                               reply[1] if reply else None)
        last_ids.append((subject.removeprefix("Re: "), msgid))
        flags = None if n >= count - unseen_new else rng.choice(FLAGS)
        path = deliver(folder, data, flags=flags, durable=False)
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))


def build_home(home: Path, port: int) -> Path:
    """The demo's configuration and mail under ``home``; returns the config dir."""
    etc = home / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    settings = {**SETTINGS, "PORT": f"127.0.0.1.{port}"}
    (etc / "imapd").write_text(
        "# Courier's imapd file format; see docs/config.md for every variable.\n"
        + "".join(f'{name}="{value}"\n' for name, value in settings.items()))
    records = []
    rng = random.Random(4)
    for login, password in USERS.items():
        user_home = home / "users" / login
        maildir = user_home / "Maildir"
        user_home.mkdir(parents=True, exist_ok=True)
        create_maildir(str(maildir), exist_ok=True)
        for folder in FOLDERS:
            create_maildir(str(maildir / f".{folder}"), folder=True, exist_ok=True)
        if not os.listdir(maildir / "cur") and not os.listdir(maildir / "new"):
            _fill(str(maildir), rng, login, 24, unseen_new=3)
            _fill(str(maildir / ".Sent"), rng, login, 5, unseen_new=0)
            _fill(str(maildir / ".Projects.Postillion"), rng, login, 6, unseen_new=1)
            _fill(str(maildir / ".Team"), rng, login, 4, unseen_new=0)
            # The Team folder looks shared: Courier's ACL lets the others read and write it.
            for other in (u for u in USERS if u != login):
                acl.set_rights(str(maildir), "INBOX.Team", f"user={other}", "lrswi")
        fields = {
            "uid": str(os.getuid()), "gid": str(os.getgid()),
            "home": str(user_home), "mail": str(maildir),
            "systempw": make_password(password, "sha512"),
        }
        records.append(login + "\t" + "|".join(f"{k}={v}" for k, v in fields.items()))
    userdb = etc / "userdb"
    userdb.write_text("\n".join(records) + "\n")
    userdb.chmod(0o600)
    return etc


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _instructions(port: int, home: Path) -> str:
    login, password = next(iter(USERS.items()))
    users = ", ".join(f"{u} / {p}" for u, p in USERS.items())
    return (
        f"Postillion IMAP is serving on 127.0.0.1 port {port}\n"
        f"  home:  {home}  (configuration in etc/, mail in users/*/Maildir)\n"
        f"  users: {users}\n"
        "\nConnect with Python's imaplib:\n"
        f"  python3 -c \"import imaplib; m = imaplib.IMAP4('127.0.0.1', {port}); "
        f"m.login('{login}', '{password}'); print(m.list()); m.logout()\"\n"
        "\nor with mutt / neomutt:\n"
        f"  neomutt -f 'imap://{login}@127.0.0.1:{port}/INBOX'   (password {password})\n"
        "\nDeliver a message while a client is IDLE and watch it arrive:\n"
        f"  echo 'Subject: hello' | {sys.executable} -m postillion deliverquota "
        f"{home}/users/{login}/Maildir\n"
    )


def _tour(port: int) -> list[str]:
    """What a client sees: used by --once."""
    login, password = next(iter(USERS.items()))
    client = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    lines = [f"greeting: {client.welcome.decode(errors='replace')}"]
    client.login(login, password)
    _typ, folders = client.list()
    lines += [f"folder: {f.decode(errors='replace')}" for f in folders if isinstance(f, bytes)]
    _typ, count = client.select("INBOX", readonly=True)
    lines.append(f"INBOX: {(count[0] or b'?').decode()} messages")
    _typ, unseen = client.search(None, "UNSEEN")
    lines.append(f"unseen: {(unseen[0] or b'').decode()}")
    client.logout()
    return lines


def serve(config_dir: Path, home: Path, *, once: bool) -> int:
    from postillion.server.gctune import tune_for_server
    from postillion.server.listener import ImapListener
    from postillion.server.logsetup import configure_logging
    from postillion.server.serve import prepare

    if not once:
        configure_logging()
    tune_for_server()
    service = prepare(config_dir)
    sockets = service.bind()
    port = sockets[0][0].getsockname()[1]
    outcome: list[str] = []

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready(_listener: ImapListener) -> None:
            print(_instructions(port, home), flush=True)
            if once:
                def run_tour() -> None:
                    try:
                        outcome.extend(_tour(port))
                    except Exception as exc:   # reported, and the demo fails
                        outcome.append(f"FAILED: {exc!r}")
                    finally:
                        loop.call_soon_threadsafe(stop.set)
                threading.Thread(target=run_tour, daemon=True).start()
            else:
                print("Press Ctrl-C to stop.", flush=True)

        await service.serve_async(sockets, stop, ready)

    asyncio.run(main())
    for line in outcome:
        print(line)
    return 1 if any(line.startswith("FAILED") for line in outcome) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postillion demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", help="make the demo home here (kept) instead of a "
                                      "temporary directory")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 "
                                                            "(default: a free one)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="serve, log in once with imaplib, print what it saw, stop")
    mode.add_argument("--no-serve", action="store_true", help="only build the home")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args(argv)

    home = Path(args.dir or tempfile.mkdtemp(prefix="postillion-demo-")).absolute()
    home.mkdir(parents=True, exist_ok=True)
    try:
        config_dir = build_home(home, args.port or _free_port())
        if args.no_serve:
            print(f"Demo home built in {home}; serve it with: "
                  f"postillion serve --config {config_dir}")
            return 0
        with contextlib.suppress(KeyboardInterrupt):
            return serve(config_dir, home, once=args.once)
        return 0
    finally:
        if not (args.dir or args.keep or args.no_serve):
            shutil.rmtree(home, ignore_errors=True)
