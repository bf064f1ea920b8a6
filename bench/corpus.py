"""Realistic, reproducible maildir corpora for benchmarks.

Messages have mixed sizes, MIME attachments, reply threads and non-ASCII
headers (RFC 2047 encoded words and raw UTF-8), so that parsing, sorting and
threading are measured on mail that looks like a real mailbox.  The same seed
gives the same corpus, byte for byte, so that every server in one run reads
identical files.
"""

from __future__ import annotations

import base64
import os
import random
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

FIRST_NAMES = ["Paul", "Tux", "Eve", "Jürgen", "Zoë", "Анна", "李", "Olivia", "Noah", "Amélie"]
LAST_NAMES = ["Meier", "Penguin", "Martin", "Müller", "Okafor", "Иванова", "王", "Smith", "Dubois"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.de"]
WORDS = (
    "mail server quota folder shared index courier maildir message thread reply "
    "meeting agenda budget report invoice schedule holiday release build deploy "
    "review patch minutes draft customer support ticket update status weekly "
    "naïve café Grüße straße résumé"
).split()
FLAG_CHOICES = ["", "", "S", "S", "S", "RS", "FS", "S", "T", "DS"]


def _encoded_word(text: str) -> str:
    raw = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"=?UTF-8?B?{raw}?="


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    address: str

    def header(self, rng: random.Random) -> str:
        if self.name.isascii():
            return f'"{self.name}" <{self.address}>'
        # Most clients send encoded words; some send raw UTF-8.
        name = _encoded_word(self.name) if rng.random() < 0.8 else self.name
        return f"{name} <{self.address}>"


def _people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for i in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"user{i}"
        people.append(Person(f"{first} {last}", f"{local}@{rng.choice(DOMAINS)}"))
    return people


def _text(rng: random.Random, size: int) -> str:
    lines, line, total = [], [], 0
    while total < size:
        word = rng.choice(WORDS)
        line.append(word)
        total += len(word) + 1
        if len(line) >= 12:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def _size(rng: random.Random) -> int:
    # Mostly short mail, a tail of large attachments.
    roll = rng.random()
    if roll < 0.70:
        return rng.randint(300, 4_000)
    if roll < 0.95:
        return rng.randint(4_000, 40_000)
    return rng.randint(40_000, 400_000)


@dataclass(slots=True)
class Message:
    data: bytes
    when: datetime
    flags: str


def messages(count: int, seed: int = 1, *, max_size: int | None = None) -> Iterator[Message]:
    """``count`` messages, oldest first, as LF-terminated bytes.

    ``max_size`` caps the body size, for benchmarks that only look at names.
    """
    rng = random.Random(seed)
    people = _people(rng, max(20, count // 50))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    threads: list[tuple[str, str, list[str]]] = []  # subject, root id, references
    for n in range(count):
        when = start + timedelta(seconds=n * 600 + rng.randint(0, 599))
        sender, rcpt = rng.choice(people), rng.choice(people)
        msgid = f"<{seed}.{n}.{rng.getrandbits(32):08x}@{DOMAINS[n % len(DOMAINS)]}>"
        headers = [
            f"Return-Path: <{sender.address}>",
            f"Received: from mx.{DOMAINS[n % 3]} by mail.example.com; {format_datetime(when)}",
            f"From: {sender.header(rng)}",
            f"To: {rcpt.header(rng)}",
            f"Date: {format_datetime(when)}",
            f"Message-ID: {msgid}",
        ]
        if threads and rng.random() < 0.45:
            subject, _root, refs = rng.choice(threads)
            parent = refs[-1]
            headers.append(f"Subject: Re: {subject}")
            headers.append(f"In-Reply-To: {parent}")
            headers.append("References: " + " ".join(refs[-8:]))
            refs.append(msgid)
        else:
            subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))
            shown = subject if subject.isascii() else _encoded_word(subject)
            headers.append(f"Subject: {shown}")
            threads.append((shown, msgid, [msgid]))
            if len(threads) > 400:
                threads.pop(0)
        if rng.random() < 0.3:
            headers.append(f"Cc: {rng.choice(people).header(rng)}")
        headers.append("MIME-Version: 1.0")
        size = _size(rng) if max_size is None else min(_size(rng), max_size)
        if size > 8_000 and rng.random() < 0.7:
            boundary = f"=_{rng.getrandbits(64):016x}"
            headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
            body_text = _text(rng, 600)
            attachment = base64.encodebytes(rng.randbytes(size * 3 // 4)).decode("ascii")
            filename = rng.choice(["report.pdf", "Übersicht.xlsx", "photo.jpg", "notes.txt"])
            body = (
                "This is a multi-part message in MIME format.\n\n"
                f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
                "Content-Transfer-Encoding: 8bit\n\n"
                f"{body_text}\n"
                f"--{boundary}\nContent-Type: application/octet-stream\n"
                "Content-Transfer-Encoding: base64\n"
                f'Content-Disposition: attachment; filename="{filename}"\n\n'
                f"{attachment}\n--{boundary}--\n"
            )
        else:
            headers.append("Content-Type: text/plain; charset=utf-8")
            headers.append("Content-Transfer-Encoding: 8bit")
            body = _text(rng, size)
        data = ("\n".join(headers) + "\n\n" + body).encode("utf-8")
        yield Message(data, when, rng.choice(FLAG_CHOICES))


def fill_maildir(
    folder: str,
    count: int,
    seed: int = 1,
    *,
    new_share: float = 0.0,
    max_size: int | None = None,
) -> int:
    """Write ``count`` messages into an existing maildir folder; return bytes written.

    Files get Courier-style unique names with ``S=`` and a ``:2,`` info in
    ``cur/``; a share ``new_share`` goes to ``new/`` with no info, as if
    delivered since the last login.  mtimes are the messages' dates, which
    is what IMAP servers report as INTERNALDATE.
    """
    host = socket.gethostname()
    rng = random.Random(seed + 1)
    total = 0
    for n, msg in enumerate(messages(count, seed, max_size=max_size)):
        stamp = int(msg.when.timestamp())
        base = (
            f"{stamp}.M{n % 1_000_000}P{10_000 + n // 1_000_000}V0000000000000801"
            f"I{n + 1:016X}.{host},S={len(msg.data)}"
        )
        if rng.random() < new_share:
            path = os.path.join(folder, "new", base)
        else:
            path = os.path.join(folder, "cur", f"{base}:2,{msg.flags}")
        with open(path, "wb") as out:
            out.write(msg.data)
        os.utime(path, (stamp, stamp))
        total += len(msg.data)
    return total
