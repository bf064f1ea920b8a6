"""``sharedindexinstall``: install ``<sysconfdir>/shared.tmp/*`` as ``<sysconfdir>/shared/``.

The result is Courier's: ``shared/`` ends up holding exactly the files of
``shared.tmp/`` (names not starting with ``.``), plus the dot files it had
before; the installed names are gone from ``shared.tmp/``.  Messages and exit
codes are Courier's: ``<sysconfdir>/shared.tmp is empty!`` (also when it does
not exist) and ``<sysconfdir>/shared does not exist!``, on standard output,
exit code 1.

What differs is how: Courier deletes the obsolete files and then moves the
new ones one by one, so a server reading the index meanwhile can see a
half-installed set (a new ``index`` naming a group file not there yet, or
an old one whose group file was just removed).  Here:

1. a new directory is built next to ``shared/`` (same parent, so same file
   system), with ``shared/``'s mode and owner, holding hard links to the
   new files (copies where links are impossible) and to ``shared/``'s dot
   files; it is fsynced;
2. it is swapped with ``shared/`` in one ``renameat2(RENAME_EXCHANGE)``
   call: every open of a path under ``shared/`` sees either the complete old
   set or the complete new one, and ``shared/`` never disappears;
3. the old set (now at the temporary name) is removed, and the installed
   names are unlinked from ``shared.tmp/``.

If anything fails before the swap, nothing has changed (the temporary
directory is removed, ``shared.tmp/`` is untouched), the error is printed and
the exit code is 1.  Where ``RENAME_EXCHANGE`` is not available (not Linux,
or a file system without it) the files are renamed into ``shared/`` one by
one, each atomically, and obsolete ones removed afterwards; a reader may then
mix old and new files, as with Courier.  When ``shared`` is a symbolic link,
its target is updated.

``--sysconfdir DIR`` (or the ``POSTILLION_SYSCONFDIR`` environment variable)
replaces ``/etc/courier``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile

DEFAULT_SYSCONFDIR = "/etc/courier"
USAGE = "Usage: sharedindexinstall [--sysconfdir DIR]\n"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class InstallError(Exception):
    """A message for standard output and exit code 1."""


def _visible(directory: str) -> list[str]:
    """What ``ls`` lists: names not starting with a dot."""
    try:
        return sorted(name for name in os.listdir(directory) if not name.startswith("."))
    except OSError:
        return []


def exchange(first: str, second: str) -> bool:
    """Swap two paths atomically; False when the system cannot do it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                       _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), first)


def _place(source: str, target: str) -> None:
    """Hard-link ``source`` at ``target``, or copy it (directories: recursively)."""
    if os.path.isdir(source) and not os.path.islink(source):
        shutil.copytree(source, target, symlinks=True)
        return
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _per_file(newdir: str, shared: str, names: list[str]) -> None:
    """Fallback: each file renamed into place, then obsolete ones removed."""
    for name in names:
        source = os.path.join(newdir, name)
        target = os.path.join(shared, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        os.replace(source, target)
    for name in _visible(shared):
        if name not in names:
            _remove(os.path.join(shared, name))


def install(sysconfdir: str) -> None:
    shared = os.path.join(sysconfdir, "shared")
    newdir = os.path.join(sysconfdir, "shared.tmp")
    names = _visible(newdir)
    if not names:
        raise InstallError(f"{newdir} is empty!")
    if not os.path.isdir(shared):
        raise InstallError(f"{shared} does not exist!")
    real = os.path.realpath(shared)
    staging = tempfile.mkdtemp(prefix=".shared.install.", dir=os.path.dirname(real))
    try:
        info = os.stat(real)
        os.chmod(staging, info.st_mode & 0o7777)
        with contextlib.suppress(PermissionError):
            os.chown(staging, info.st_uid, info.st_gid)
        for name in names:
            _place(os.path.join(newdir, name), os.path.join(staging, name))
        for name in os.listdir(real):
            if name.startswith(".") and name not in names:
                _place(os.path.join(real, name), os.path.join(staging, name))
        _fsync_dir(staging)
        swapped = exchange(staging, real)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if swapped:
        shutil.rmtree(staging, ignore_errors=True)  # the old set
        for name in names:
            _remove(os.path.join(newdir, name))
        _fsync_dir(os.path.dirname(real))
        return
    shutil.rmtree(staging, ignore_errors=True)
    _per_file(newdir, real, names)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    sysconfdir = os.environ.get("POSTILLION_SYSCONFDIR") or DEFAULT_SYSCONFDIR
    while args:
        arg = args.pop(0)
        if arg == "--sysconfdir" and args:
            sysconfdir = args.pop(0)
        elif arg.startswith("--sysconfdir="):
            sysconfdir = arg[len("--sysconfdir="):]
        else:
            sys.stderr.write(USAGE)
            return 1
    sysconfdir = sysconfdir.rstrip("/") or "/"
    try:
        install(sysconfdir)
    except InstallError as message:
        sys.stdout.write(f"{message}\n")
        return 1
    except OSError as error:
        sys.stdout.write(f"{error.filename or sysconfdir}: {error.strerror or error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
