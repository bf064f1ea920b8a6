"""``postillion demo``: a guided tour of a Maildir++ store made by our tools.

It needs no root and no configuration: it makes a temporary home, creates a
maildir with a quota and folders, delivers generated mail with
``deliverquota`` (one delivery refused over quota), assigns UIDs, sets
keywords and an ACL, and shows every Courier control file it wrote, so that
an administrator can see that the files are Courier's own.  Once the IMAP
server exists this command starts it on 127.0.0.1 instead.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator

from postillion.maildir import uiddb
from postillion.tools import deliverquota, maildiracl, maildirkw, maildirmake

SAMPLE = """\
From: Paul Meier <paul@example.com>
To: Tux <tux@example.net>
Subject: {subject}
Date: Wed, 25 Nov 2026 09:{minute:02d}:00 +0000
Message-ID: <demo.{n}@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
"""

BODIES = [
    "The shared folder Testshare is ready; you have read access.",
    "Quota on the demo maildir is 4000 bytes and 5 messages.",
    "Grüße aus dem Maildir++ — non-ASCII text survives as it is.",
    "This one is long.\n" + "A line of padding to push the mailbox over quota.\n" * 80,
]


def _run(tool: Callable[[list[str]], int], *args: str, stdin: bytes = b"") -> tuple[int, str]:
    """Run a tool's main() with captured output, as a shell would."""
    out = io.StringIO()
    err = io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = tool(list(args))
    finally:
        sys.stdin = saved_stdin
    return rc, (out.getvalue() + err.getvalue()).strip()


def _show(title: str, text: str) -> None:
    print(f"\n== {title}")
    for line in text.rstrip("\n").splitlines() or ["(empty)"]:
        print(f"   {line}")


def _tree(root: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        yield "  " * depth + (os.path.basename(dirpath) or dirpath) + "/"
        for name in sorted(filenames):
            yield "  " * (depth + 1) + name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postillion demo", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the demo directory")
    parser.add_argument("--dir", help="make the demo here instead of a temporary directory")
    args = parser.parse_args(argv)

    home = args.dir or tempfile.mkdtemp(prefix="postillion-demo-")
    os.makedirs(home, exist_ok=True)
    maildir = os.path.join(home, "Maildir")
    print(f"Postillion demo: a Courier-compatible Maildir++ store in {home}")
    try:
        rc, text = _run(maildirmake.main, maildir)
        _show(f"maildirmake Maildir  (exit {rc})", text)
        rc, text = _run(maildirmake.main, "-q", "4000S,5C", maildir)
        _show(f"maildirmake -q 4000S,5C Maildir  (exit {rc})", text)
        for folder in ("Sent", "Testshare", "Work.Projects"):
            rc, text = _run(maildirmake.main, "-f", folder, maildir)
            _show(f"maildirmake -f {folder} Maildir  (exit {rc})", text)

        for n, body in enumerate(BODIES):
            message = SAMPLE.format(subject=f"Demo message {n + 1}", minute=n, n=n, body=body)
            rc, text = _run(deliverquota.main, maildir, stdin=message.encode("utf-8"))
            if rc == 0:
                meaning = "delivered"
            elif "quota" in text:
                # Through a pipe Courier answers 75 (try later), from a file 77.
                meaning = "refused: over quota"
            else:
                meaning = "temporary failure"
            _show(f"deliverquota Maildir < message {n + 1}  (exit {rc}: {meaning})", text)

        state = uiddb.scan_and_assign(maildir)
        _show(
            "UIDs assigned (courierimapuiddb)",
            "\n".join(f"UID {m.uid}: {m.filename}" for m in state.messages),
        )
        if state.messages:
            first = state.messages[0].filename.split(":")[0]
            rc, text = _run(maildirkw.main, maildir, first, "$Important", "demo")
            _show(f"maildirkw Maildir <first message> $Important demo  (exit {rc})", text)
            rc, text = _run(maildirkw.main, "-L", maildir)
            _show(f"maildirkw -L Maildir  (exit {rc})", text)

        rc, text = _run(maildiracl.main, "-set", maildir, "INBOX.Testshare", "user=tux", "lr")
        _show(f"maildiracl -set Maildir INBOX.Testshare user=tux lr  (exit {rc})", text)
        rc, text = _run(maildiracl.main, "-list", maildir, "INBOX.Testshare")
        _show(f"maildiracl -list Maildir INBOX.Testshare  (exit {rc})", text)
        rc, text = _run(maildiracl.main, "-compute", maildir, "INBOX.Testshare", "user=tux")
        _show(f"maildiracl -compute Maildir INBOX.Testshare user=tux  (exit {rc})", text)

        for name in ("maildirsize", "courierimapuiddb", "Testshare/courierimapacl"):
            path = os.path.join(maildir, name.replace("Testshare/", ".Testshare/"))
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    _show(f"Maildir/{name.replace('Testshare/', '.Testshare/')}", f.read())
        _show("The maildir as Courier would find it", "\n".join(_tree(maildir)))
    finally:
        if args.keep or args.dir:
            print(f"\nThe demo maildir is kept in {maildir}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    print(
        "\nEvery file above is in Courier's own format: Courier-IMAP, maildrop and "
        "deliverquota read it as it is.\nRun 'postillion demo --keep' to look around; "
        "the tools are maildirmake, deliverquota, maildiracl and maildirkw "
        "(see docs/tools.md)."
    )
    return 0
