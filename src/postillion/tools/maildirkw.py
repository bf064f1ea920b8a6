"""``maildirkw [-c] [-l] [-a|-r] maildir MSG keyword...`` and ``maildirkw [-c] [-l] -L maildir``.

Courier's keyword tool (checked against Courier 5.0.13's /usr/bin/maildirkw):

* default: replace MSG's keywords (none given: clear them); ``-a`` adds,
  ``-r`` removes; ``-L`` lists ``<basename> kw kw...`` for every message
  known to the keyword files (also those with none left).
* ``-c``: case-sensitive keywords (otherwise ``Foo`` and ``foo`` are one).
* ``-l``: hold imapd's dot-lock ``tmp/courier.lock`` (IMAP_USELOCKS=1).
* MSG is a base name (``:2,...`` is ignored); it need not exist.
  ``+X``/``-X`` are not operators: ``+X`` is stored literally, and an
  argument starting with ``-`` is an option wherever it stands (GNU getopt
  permutes arguments unless POSIXLY_CORRECT is set; ``--`` ends options).

Exit codes and messages: usage on stdout, rc 1 (``maildirkw: invalid option
-- 'x'`` on stderr first for an unknown option); ``<maildir>: <reason>``,
rc 1, when the update file cannot be written; ``-L`` succeeds (rc 0, no
output) on a missing maildir, but with ``-l`` fails with rc 255.
"""

from __future__ import annotations

import contextlib
import os
import sys

from postillion.maildir import keywords as kw
from postillion.maildir.errors import MailboxNotFound, MaildirError
from postillion.maildir.folderlock import folder_lock
from postillion.tools._output import ToolExit, write_raw

PROGRAM = "maildirkw"
USAGE = "Usage: maildirkw [ options ] maildir [+/-]flag [+/-]flag...\n"
OPTIONS = "arLlhc"


def _getopt(args: list[str]) -> tuple[list[str], list[str]]:
    """GNU getopt(3) for flag-only options: (options in order, operands)."""
    permute = "POSIXLY_CORRECT" not in os.environ
    options: list[str] = []
    operands: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            operands.extend(args[index + 1:])
            break
        if arg.startswith("-") and arg != "-":
            for letter in arg[1:]:
                if letter not in OPTIONS:
                    raise ToolExit(1, stderr=f"{PROGRAM}: invalid option -- '{letter}'\n",
                                stdout=USAGE)
                if letter == "h":
                    raise ToolExit(1, stdout=USAGE)
                options.append(letter)
            continue
        if not permute:
            operands.extend(args[index:])
            break
        operands.append(arg)
    return options, operands


def _list(maildir: str, case_sensitive: bool) -> str:
    entries = kw.read_keywords(maildir, None, case_sensitive=case_sensitive)
    return "".join(
        base + "".join(" " + name for name in names) + "\n" for base, names in entries.items()
    )


def _change(maildir: str, message: str, names: list[str], mode: str,
            case_sensitive: bool) -> None:
    if mode == "":
        kw.set_keywords(maildir, message, names, case_sensitive=case_sensitive)
    elif mode == "+":
        kw.update_keywords(maildir, message, add=names, case_sensitive=case_sensitive,
                           write_unchanged=True)
    else:
        kw.update_keywords(maildir, message, remove=names, case_sensitive=case_sensitive,
                           write_unchanged=True)


def _run(args: list[str]) -> str:
    options, operands = _getopt(args)
    case_sensitive = "c" in options
    lock = "l" in options
    listing = "L" in options
    mode = ""
    for letter in options:
        if letter in "ar":
            mode = "+" if letter == "a" else "-"
    if not operands:
        raise ToolExit(1, stdout=USAGE)
    maildir = operands[0]
    if not listing and len(operands) < 2:
        raise ToolExit(1, stdout=USAGE)
    failure_code = 255 if listing else 1
    try:
        with contextlib.ExitStack() as held:
            if lock:
                # The same dot-lock imapd holds on the folder (IMAP_USELOCKS=1).
                try:
                    held.enter_context(folder_lock(maildir))
                except MailboxNotFound:
                    raise ToolExit(failure_code,
                                stderr=f"{maildir}: No such file or directory\n") from None
            return _act(maildir, operands, listing, mode, case_sensitive)
    except (kw.InvalidKeyword, kw.InvalidMessageName) as error:
        raise ToolExit(1, stderr=f"{PROGRAM}: {error}\n") from None
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ToolExit(failure_code, stderr=f"{maildir}: {reason}\n") from None
    except MaildirError as error:
        raise ToolExit(failure_code, stderr=f"{PROGRAM}: {error}\n") from None


def _act(maildir: str, operands: list[str], listing: bool, mode: str,
         case_sensitive: bool) -> str:
    if listing:
        return _list(maildir, case_sensitive)
    _change(maildir, operands[1], operands[2:], mode, case_sensitive)
    return ""




def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        output = _run(args)
    except ToolExit as stop:
        write_raw(sys.stderr, stop.stderr)
        write_raw(sys.stdout, stop.stdout)
        return stop.code
    write_raw(sys.stdout, output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
