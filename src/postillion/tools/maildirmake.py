"""``maildirmake [options] maildir``: make maildirs and folders, as Courier's does.

Options (parsed like Courier's maildirmake.courier, which was run to check
every message, exit code and file mode):

* ``-f NAME`` / ``-fNAME``: make folder ``NAME`` (dir ``maildir/.NAME``);
  the name is used as given.  A name starting with ``.`` prints
  ``Invalid folder name: NAME`` on stdout, rc 1.
* ``-F NAME``: the same, but NAME is in the locale's charset: converted to
  UTF-8, with ``. / ~ : \\`` and control characters escaped as ``\\ooo``.
  Unconvertible: ``Cannot convert NAME to maildir encoding``, rc 1.
* ``-S``: a sharable maildir (0755; its tmp/new/cur 0700).
* ``-s read|write[,group]`` with ``-f``: a shared folder; read 0755/0755,
  write 1755/1777, group drops the "other" bits (1750/1770).  Without a
  folder: usage, rc 1.
* ``-q SPEC``: set the Maildir++ quota (makes the maildir first if missing).
* ``--add NAME=/PATH`` / ``--del NAME``: edit ``shared-maildirs``.

Errors: ``maildirmake: PATH: <strerror>`` on stderr, rc 1 (``File exists``
for an existing maildir or folder).  Usage: ``Usage: maildirmake [ options ]
maildir`` on stdout, rc 1.  ``--add`` of a name already defined: rc 2.
"""

from __future__ import annotations

import contextlib
import locale
import os
import sys

from postillion.maildir import quota, sharedfs
from postillion.maildir.errors import InvalidMailboxName, MailboxNotFound, MaildirError
from postillion.maildir.layout import FOLDER_MARKER, SUBDIRS
from postillion.maildir.names import escape_component

USAGE = "Usage: maildirmake [ options ] maildir\n"


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _usage() -> _Exit:
    sys.stdout.write(USAGE)
    sys.stdout.flush()
    return _Exit(1)


def _err_bytes(text: str) -> None:
    """Write to stderr as raw bytes: names may not be valid UTF-8."""
    sys.stderr.flush()
    sys.stderr.buffer.write(os.fsencode(text))
    sys.stderr.buffer.flush()


def _perror(what: str, exc: OSError) -> None:
    _err_bytes(f"{what}: {exc.strerror or exc}\n")


def _console_charset() -> str:
    """The charset of the user's locale, as Courier's unicode_default_chset().

    Python switches to UTF-8 when the locale is C/POSIX (PEP 538/540); the
    real locale was then plain ASCII.
    """
    if sys.flags.utf8_mode and os.environ.get("PYTHONUTF8") != "1":
        return "ascii"
    return locale.getencoding()


def _from_console(arg: str) -> str | None:
    """Convert a -F argument to text, or None if it is not in the locale's charset."""
    raw = os.fsencode(arg)
    try:
        text = raw.decode(_console_charset())
    except (UnicodeDecodeError, LookupError):
        return None
    return escape_component(text)


def _shared_perm(spec: str) -> int:
    """Courier's reading of ``-s``: words split at blanks and commas, first letter counts."""
    perm = 0o755
    for word in spec.replace(",", " ").split():
        if word[0] == "r":
            perm = 0o755
        elif word[0] == "w":
            perm = 0o1777
        elif word[0] == "g":
            perm &= ~0o007
    return perm


def _make(path: str, perm: int, subdir_perm: int, folder: bool) -> None:
    """Courier's maildir::make: the dir, then tmp, new, cur, then the marker."""
    os.mkdir(path, perm)
    for sub in SUBDIRS:
        os.mkdir(os.path.join(path, sub), subdir_perm)
    if folder:
        fd = os.open(os.path.join(path, FOLDER_MARKER), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        os.close(fd)


def _add(maildir: str, spec: str) -> int:
    name, equals, path = spec.partition("=")
    if not equals or not path.startswith("/"):
        raise _usage()
    if not os.access(path, os.R_OK):
        _err_bytes(f"{path}: {os.strerror(_errno_of_access(path))}\n")
        return 1
    try:
        sharedfs.check_name(name)
    except InvalidMailboxName:
        _err_bytes(f"{name}: invalid name\n")
        return 1
    try:
        sharedfs.add_shared(maildir, name, path)
    except sharedfs.AlreadyShared as exc:
        where = f" in {exc.where}" if exc.where else ""
        _err_bytes(f"{name}: already defined as a sharable maildir{where}.\n")
        return 2
    except OSError as exc:
        _perror(maildir, exc)
        return 1
    return 0


def _errno_of_access(path: str) -> int:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno or 2
    return 13  # exists but not readable: EACCES


def _del(maildir: str, name: str) -> int:
    try:
        sharedfs.del_shared(maildir, name)
    except MailboxNotFound:
        _err_bytes(f"{name}: not found.\n")
        return 1
    except OSError as exc:
        _perror(maildir, exc)
        return 1
    return 0


def _quota(maildir: str, spec: str, perm: int) -> int:
    if not os.path.exists(maildir):
        try:
            # Unlike a plain make, -q leaves the umask in force (as Courier does).
            _make(maildir, perm & ~0o022, perm & ~0o022, False)
        except OSError as exc:
            _perror(maildir, exc)
            return 1
    try:
        quota.set_quota(maildir, spec)
    except quota.InvalidQuotaSpec:
        return 0  # Courier writes nothing for a spec without a limit
    except (MaildirError, OSError) as exc:
        _err_bytes(f"maildirmake: {maildir}: {exc}\n")
        return 1
    return 0


def _run(args: list[str]) -> int:
    perm = 0o700
    folder: str | None = None
    must_have_folder = False
    add_spec: str | None = None
    del_name: str | None = None
    quota_spec: str | None = None
    argn = 0
    while argn < len(args):
        arg = args[argn]
        if not arg.startswith("-") or arg == "-":
            break
        if arg[:2] in ("-f", "-F", "-s", "-q"):
            value = arg[2:]
            if not value and argn + 1 < len(args):
                argn += 1
                value = args[argn]
            if arg[:2] == "-f":
                folder = value
            elif arg[:2] == "-F":
                converted = _from_console(value)
                if converted is None:
                    _err_bytes(f"Cannot convert {value} to maildir encoding\n")
                    return 1
                folder = converted
            elif arg[:2] == "-s":
                perm = _shared_perm(value)
                must_have_folder = True
            else:
                quota_spec = value
        elif arg == "-S":
            perm = 0o755
        elif arg in ("--add", "--del") and len(args) - argn > 1:
            argn += 1
            if arg == "--add":
                add_spec = args[argn]
            else:
                del_name = args[argn]
        else:
            raise _usage()
        argn += 1
    if argn == len(args):
        raise _usage()
    maildir = args[argn]

    if add_spec is not None:
        return _add(maildir, add_spec)
    if del_name is not None:
        return _del(maildir, del_name)

    if folder is not None and folder.startswith("."):
        sys.stdout.flush()
        sys.stdout.buffer.write(os.fsencode(f"Invalid folder name: {folder}\n"))
        sys.stdout.buffer.flush()
        return 1
    if folder is not None:
        path = f"{maildir}/.{folder}"
        if "/" in folder:
            # Courier hands the name to mkdir(), which fails because the
            # directory ".x" of ".x/y" does not exist; we never let a name
            # reach outside the maildir, even when it does.
            _err_bytes(f"maildirmake: {path}: {os.strerror(2)}\n")
            return 1
    elif must_have_folder:
        raise _usage()
    else:
        path = maildir

    if quota_spec is not None:
        return _quota(path, quota_spec, perm)

    subdir_perm = perm if folder is not None else 0o700
    old_umask = os.umask(0)
    try:
        _make(path, perm & ~0o022, subdir_perm, folder is not None)
    except OSError as exc:
        _perror(f"maildirmake: {path}", exc)
        return 1
    finally:
        os.umask(old_umask)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        return _run(args)
    except _Exit as done:
        return done.code
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
