"""The maildir both servers get: tricky MIME, 8-bit and encoded headers,
groups, messages without a body or without the blank line, nested folders
with non-ASCII names, subscriptions and a quota.

Built with plain file writes (LF line ends, as an MTA delivers) so that
neither side's library shapes it; copied with ``shutil.copy2`` so that every
mtime (INTERNALDATE) is the same on both copies.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

HOST = "difftest"
BASE_TIME = 1_704_103_200          # 2024-01-01 10:00:00 UTC

PLAIN = (
    b"Return-Path: <alice@example.com>\n"
    b"From: =?UTF-8?Q?Alice_M=C3=BCller?= <alice@example.com>\n"
    b"To: undisclosed-recipients:;\n"
    b"Cc: Team: bob@example.com, \"Carol C.\" <carol@example.org>;, dave@example.net\n"
    b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus =?UTF-8?B?S8O2bG4=?=\n"
    b"Date: Mon, 1 Jan 2024 09:00:00 +0100\n"
    b"Message-ID: <plain-1@example.com>\n"
    b"\n"
    b"Hello Bob,\n\nthe budget meeting moves to Tuesday.\n\nAlice\n"
)

NESTED = (
    b"From: Bob <bob@example.com>\n"
    b"To: Alice <alice@example.com>\n"
    b"Subject: Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Koeln\n"
    b"Date: Tue, 2 Jan 2024 11:30:00 -0500\n"
    b"Message-ID: <nested-2@example.com>\n"
    b"In-Reply-To: <plain-1@example.com>\n"
    b"References: <plain-1@example.com>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\n"
    b"\n"
    b"This is a multi-part message in MIME format.\n"
    b"--outer\n"
    b"Content-Type: multipart/alternative; boundary=inner\n"
    b"\n"
    b"--inner\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"Sch=C3=B6ne Gr=C3=BC=C3=9Fe, the invoice is attached.\n"
    b"--inner\n"
    b"Content-Type: text/html; charset=utf-8\n"
    b"\n"
    b"<p>Sch&ouml;ne Gr&uuml;&szlig;e, the <b>invoice</b> is attached.</p>\n"
    b"--inner--\n"
    b"\n"
    b"--outer\n"
    b"Content-Type: message/rfc822\n"
    b"Content-Description: the forwarded note\n"
    b"\n"
    b"From: Carol <carol@example.org>\n"
    b"To: Bob <bob@example.com>\n"
    b"Subject: forwarded note\n"
    b"Date: Sun, 31 Dec 2023 23:59:59 +0000\n"
    b"Message-ID: <inner-note@example.org>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=deep\n"
    b"\n"
    b"--deep\n"
    b"Content-Type: text/plain; charset=us-ascii\n"
    b"\n"
    b"The inner text.\n"
    b"--deep\n"
    b"Content-Type: message/rfc822\n"
    b"\n"
    b"From: dave@example.net\n"
    b"Subject: deepest\n"
    b"\n"
    b"Deepest body.\n"
    b"--deep--\n"
    b"\n"
    b"--outer\n"
    b"Content-Type: application/pdf; name=\"=?UTF-8?Q?Rechnung_M=C3=A4rz.pdf?=\"\n"
    b"Content-Transfer-Encoding: base64\n"
    b"Content-Disposition: attachment; filename=\"invoice.pdf\"\n"
    b"Content-ID: <part3@example.com>\n"
    b"\n"
    b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\n"
    b"--outer--\n"
    b"epilogue\n"
)

EIGHT_BIT = (
    "From: Jörg Größer <joerg@example.de>\n"
    "To: Zoë <zoe@example.de>\n"
    "Subject: Grüße aus Köln, ganz ohne Kodierung\n"
    "Date: Wed, 3 Jan 2024 08:15:00 +0100\n"
    "Message-ID: <eightbit-3@example.de>\n"
    "In-Reply-To: <nested-2@example.com>\n"
    "References: <plain-1@example.com> <nested-2@example.com>\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "MIME-Version: 1.0\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Straße, Größe, Übermaß.\n"
).encode()

NO_BODY = (
    b"From: carol@example.org\n"
    b"To: alice@example.com\n"
    b"Subject: headers only\n"
    b"Date: Thu, 4 Jan 2024 12:00:00 +0000\n"
    b"Message-ID: <nobody-4@example.org>\n"
    b"\n"
)

NO_BLANK_LINE = (
    b"From: dave@example.net\n"
    b"To: alice@example.com\n"
    b"Subject: no blank line at all\n"
    b"Date: Fri, 5 Jan 2024 13:00:00 +0000\n"
)

TOP_RFC822 = (
    b"From: Postmaster <postmaster@example.com>\n"
    b"To: alice@example.com\n"
    b"Subject: Re: budget\n"
    b"Date: Sat, 6 Jan 2024 14:00:00 +0000\n"
    b"Message-ID: <top-6@example.com>\n"
    b"In-Reply-To: <plain-1@example.com>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: message/rfc822\n"
    b"\n"
    b"From: Bob <bob@example.com>\n"
    b"Subject: the original\n"
    b"\n"
    b"Original text.\n"
)

ALTERNATIVE_ONLY = (
    b"From: \"Newsletter\" <news@example.com>\n"
    b"Sender: bounce@example.com\n"
    b"Reply-To: reply@example.com\n"
    b"To: alice@example.com, bob@example.com\n"
    b"Bcc: hidden@example.com\n"
    b"Subject: [news] weekly report\n"
    b"Date: Sun, 7 Jan 2024 15:00:00 +0000\n"
    b"Message-ID: <news-7@example.com>\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: multipart/alternative; boundary=\"alt\"\n"
    b"\n"
    b"--alt\n"
    b"Content-Type: text/plain; charset=\"iso-8859-1\"; format=flowed\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"Weekly report: caf=E9 budget up.\n"
    b"--alt\n"
    b"Content-Type: text/html\n"
    b"Content-Language: de\n"
    b"\n"
    b"<p>Weekly report</p>\n"
    b"--alt--\n"
)

# (folder dir under the maildir, "cur"/"new", flags, data); order = UID order.
INBOX_MESSAGES: list[tuple[str, str, bytes]] = [
    ("cur", "S", PLAIN),
    ("cur", "RS", NESTED),
    ("cur", "", EIGHT_BIT),
    ("cur", "FS", NO_BODY),
    ("cur", "", NO_BLANK_LINE),
    ("new", "", TOP_RFC822),
    ("new", "", ALTERNATIVE_ONLY),
]

WORK_MESSAGES: list[tuple[str, str, bytes]] = [
    ("cur", "S", PLAIN.replace(b"plain-1@", b"work-1@")),
    ("cur", "T", NO_BODY),
]

# INBOX.Sent has no courierimapuiddb: the first session to open it numbers it.
SENT_MESSAGES: list[tuple[str, str, bytes]] = [
    ("cur", "S", NO_BODY.replace(b"nobody-4@", b"sent-1@")),
]

# Folder directories (UTF-8 on disk, as Courier 5 writes them).
FOLDERS = [".Work", ".Work.2024", ".Archive", ".Projekte", ".Projekte.Überblick",
           ".Trash", ".Sent"]
SUBSCRIBED = ["INBOX", "INBOX.Work", "INBOX.Projekte.Überblick", "INBOX.Gone"]
QUOTA_BYTES = 10_000_000
QUOTA_MESSAGES = 1000


def _make_dirs(folder: Path, *, is_folder: bool) -> None:
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    if is_folder:
        (folder / "maildirfolder").touch()


def _base_name(stamp: int) -> str:
    return f"{stamp}.M{stamp % 100000}P100.{HOST}"


def _write_messages(folder: Path, messages: list[tuple[str, str, bytes]], start: int) -> int:
    total = 0
    for number, (subdir, flags, data) in enumerate(messages):
        stamp = start + number * 3600
        name = _base_name(stamp)
        if subdir == "cur":
            name += ":2," + flags
        path = folder / subdir / name
        path.write_bytes(data)
        os.utime(path, (stamp, stamp))
        total += len(data)
    return total


def build_maildir(maildir: Path) -> None:
    """The original maildir without the mail still in new/ (deliver_new_mail);
    between the two, the courierimapuiddb files of INBOX and INBOX.Work are made
    by Courier's imapd, as on a maildir that Courier has served.  INBOX.Sent
    keeps its message without one."""
    _make_dirs(maildir, is_folder=False)
    for folder in FOLDERS:
        _make_dirs(maildir / folder, is_folder=True)
    old = [message for message in INBOX_MESSAGES if message[0] == "cur"]
    size = _write_messages(maildir, old, BASE_TIME)
    size += _write_messages(maildir / ".Work", WORK_MESSAGES, BASE_TIME + 86400)
    size += _write_messages(maildir / ".Sent", SENT_MESSAGES, BASE_TIME + 2 * 86400)
    count = len(old) + len(WORK_MESSAGES) + len(SENT_MESSAGES)
    (maildir / "courierimapsubscribed").write_text(
        "".join(name + "\n" for name in SUBSCRIBED), encoding="utf-8")
    (maildir / "maildirsize").write_bytes(
        b"%dS,%dC\n%12d %12d\n" % (QUOTA_BYTES, QUOTA_MESSAGES, size, count))


def deliver_new_mail(maildir: Path) -> None:
    """INBOX's messages in new/ (\\Recent for the first session to see them);
    added to maildirsize as deliverquota would."""
    old = [message for message in INBOX_MESSAGES if message[0] == "cur"]
    new = [message for message in INBOX_MESSAGES if message[0] == "new"]
    size = _write_messages(maildir, new, BASE_TIME + len(old) * 3600)
    with open(maildir / "maildirsize", "ab") as quota:
        quota.write(b"%12d %12d\n" % (size, len(new)))


def copy_maildir(original: Path, target: Path) -> None:
    """A copy with the same mtimes (INTERNALDATE) on every file."""
    shutil.copytree(original, target, copy_function=shutil.copy2, symlinks=True)


# -- changes by another process, made between two commands -------------------------

EXTERNAL = (b"From: mda@example.com\nSubject: delivered meanwhile\n"
            b"Date: Mon, 15 Jan 2024 10:00:00 +0000\n\nA new message.\n")


def _inbox_file(home: Path, number: int) -> Path:
    """The file of INBOX_MESSAGES[number] in cur/, whatever its flags."""
    base = _base_name(BASE_TIME + number * 3600)
    matches = [p for p in (home / "Maildir" / "cur").iterdir() if p.name.startswith(base + ":")]
    assert len(matches) == 1, (base, matches)
    return matches[0]


def deliver_externally(home: Path) -> None:
    """An MDA delivers into INBOX's new/."""
    stamp = BASE_TIME + 14 * 86400
    path = home / "Maildir" / "new" / f"{stamp}.M1P200.{HOST}"
    path.write_bytes(EXTERNAL)
    os.utime(path, (stamp, stamp))


def flag_externally(home: Path) -> None:
    """Another client flags INBOX's message without the blank line."""
    path = _inbox_file(home, INBOX_MESSAGES.index(("cur", "", NO_BLANK_LINE)))
    base, _, info = path.name.rpartition(":")
    letters = "".join(sorted(set(info[2:]) | {"F"}))
    path.rename(path.with_name(f"{base}:2,{letters}"))


def delete_externally(home: Path) -> None:
    """Another client expunges INBOX's top-level message/rfc822."""
    _inbox_file(home, INBOX_MESSAGES.index(("new", "", TOP_RFC822))).unlink()
