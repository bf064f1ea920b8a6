"""``authenumerate [-s] [-o]``: list every account, one line each, for the shared index.

Output, as Courier's ``authenumerate`` prints it::

    name<TAB>uid<TAB>gid<TAB>home<TAB>maildir[<TAB>options]

``-s`` leaves out accounts whose ``disableshared`` option is a non-zero
number (Courier reads it with ``atoi``: ``disableshared=1`` counts,
``disableshared=yes`` does not); ``-o`` adds the options column (empty,
after a TAB, when there are none).  Accounts come in the backend's order.

The backend is ``--auth SPEC`` (``userdb``, ``userdb:PATH``,
``sqlite:PATH``; not a Courier option), else the ``POSTILLION_AUTH``
environment variable, else Courier's userdb file ``/etc/courier/userdb``.

Difference: the maildir column is always the absolute maildir our backends
compute (``home/Maildir`` when the account names none), where Courier prints
the module's own value (empty for PAM accounts, absolute for userdb).  The
shared index reads both the same way.
"""

from __future__ import annotations

import os
import sys

from postillion.auth import Account, open_backend

USAGE = "Usage: authenumerate [-s] [-o]\n"


def _atoi(text: str | None) -> int:
    """C's atoi: optional blanks and sign, then digits; anything else is 0."""
    if text is None:
        return 0
    stripped = text.lstrip(" \t\n\r\f\v")
    sign = -1 if stripped[:1] == "-" else 1
    if stripped[:1] in "+-" and stripped:
        stripped = stripped[1:]
    digits = ""
    for char in stripped:
        if not char.isdigit():
            break
        digits += char
    return sign * int(digits) if digits else 0


def format_account(account: Account, with_options: bool) -> str:
    line = f"{account.login}\t{account.uid}\t{account.gid}\t{account.home}\t{account.maildir}"
    if with_options:
        line += "\t" + account.options.raw
    return line + "\n"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    shared_only = with_options = False
    spec = os.environ.get("POSTILLION_AUTH") or None
    while args:
        arg = args.pop(0)
        if arg == "-s":
            shared_only = True
        elif arg == "-o":
            with_options = True
        elif arg == "--auth" and args:
            spec = args.pop(0)
        elif arg.startswith("--auth="):
            spec = arg[len("--auth="):]
        else:
            sys.stderr.write(USAGE)
            return 1
    try:
        backend = open_backend(spec)
        out = sys.stdout.buffer
        for account in backend.enumerate():
            if shared_only and _atoi(account.options.get("disableshared")):
                continue
            out.write(format_account(account, with_options).encode("utf-8", "surrogateescape"))
        out.flush()
    except (OSError, ValueError) as error:
        sys.stderr.write(f"authenumerate: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
