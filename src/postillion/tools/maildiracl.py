"""``maildiracl -list|-set|-delete|-compute|-reset maildir [folder [identifier [rights]]]``.

Courier's ACL administration tool, with its messages and exit codes
(checked against Courier 5.0.13's /usr/bin/maildiracl):

* ``-list M FOLDER``: ``identifier<TAB>rights`` per entry.
* ``-set M FOLDER ID RIGHTS``: replace (``+r`` adds, ``-r`` removes; an
  entry may end up with empty rights).  ``-delete M FOLDER ID`` removes it.
* ``-compute M FOLDER ID...``: effective rights for someone who is all of
  the identifiers given.
* ``-reset M``: remove stale ``courierimaphieracl`` entries; always 0.

The folder is ``INBOX`` or ``INBOX.<name as on disk>`` (UTF-8 for Courier 5;
no conversion from modified UTF-7).  Usage errors print the usage line on
stdout, rc 1; a folder not starting with ``INBOX`` gives ``<folder>: Invalid
argument``; bad identifiers or rights ``maildiracl: Invalid argument``; a
change that takes ``l``/``a`` from the owner ``Trying to set invalid access
rights for owner``; other failures ``<maildir>: <reason>``; all rc 1.
Reading a folder that has no ACL of its own saves its parent's for it, even
for ``-list`` and ``-compute``, as Courier does.
"""

from __future__ import annotations

import os
import sys

from postillion.maildir import acl as aclmod
from postillion.maildir.errors import CorruptControlFile, InvalidMailboxName
from postillion.tools._output import ToolExit, write_raw

PROGRAM = "maildiracl"
USAGE = "Usage: maildiracl [ options ] maildir [INBOX[.folder] [identifier rights]]\n"
COMMANDS = ("-reset", "-list", "-set", "-delete", "-compute")


def _usage() -> ToolExit:
    return ToolExit(1, stdout=USAGE)


def _folder_name(folder: str) -> str:
    if folder != "INBOX" and not folder.startswith("INBOX."):
        raise ToolExit(1, stderr=f"{folder}: Invalid argument\n")
    # Courier treats "INBOX." like "INBOX".
    return "INBOX" if folder in ("INBOX", "INBOX.") else folder


def _run(args: list[str], out: list[str]) -> None:
    if len(args) < 2 or args[0] not in COMMANDS:
        raise _usage()
    command, maildir = args[0], args[1]
    if command == "-reset":
        aclmod.reset_hieracl(maildir)
        return
    if len(args) < 3:
        raise _usage()
    name = _folder_name(args[2])
    needed = {"-list": 3, "-set": 5, "-delete": 4, "-compute": 4}[command]
    if len(args) < needed:
        raise _usage()
    try:
        _dispatch(command, maildir, name, args[3:], out)
    except aclmod.InvalidAclEntry:
        raise ToolExit(1, stderr=f"{PROGRAM}: Invalid argument\n") from None
    except aclmod.AclChangeRefused as refused:
        if refused.identifier is None:
            raise ToolExit(1, stderr=f"{maildir}: Invalid argument\n") from None
        raise ToolExit(1, stderr=f"Trying to set invalid access rights for "
                              f"{refused.identifier}\n") from None
    except InvalidMailboxName:
        raise ToolExit(1, stderr=f"{maildir}: Invalid argument\n") from None
    except CorruptControlFile as corrupt:
        raise ToolExit(1, stderr=f"{corrupt.path}: {corrupt.reason}\n") from None
    except OSError as error:
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ToolExit(1, stderr=f"{maildir}: {reason}\n") from None


def _dispatch(command: str, maildir: str, name: str, rest: list[str], out: list[str]) -> None:
    current = aclmod.read_acl(maildir, name)
    if command == "-list":
        out.extend(f"{e.identifier}\t{e.rights}\n" for e in current.entries)
    elif command == "-set":
        changed = aclmod.set_entry(current, rest[0], rest[1])
        aclmod.write_acl(maildir, name, changed)
        note_acl_change(maildir)
    elif command == "-delete":
        aclmod.write_acl(maildir, name, current.without(rest[0]))
        note_acl_change(maildir)
    else:
        wanted = frozenset(rest)
        out.append(aclmod.compute(current, wanted.__contains__) + "\n")




def note_acl_change(maildir: str) -> None:
    """Keep the reverse index of #shared. folders current (imported only when needed)."""
    from postillion.maildir.sharedacl_index import note_acl_change as note

    note(maildir)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out: list[str] = []
    try:
        _run(args, out)
    except ToolExit as stop:
        write_raw(sys.stdout, "".join(out) + stop.stdout)
        write_raw(sys.stderr, stop.stderr)
        return stop.code
    write_raw(sys.stdout, "".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
