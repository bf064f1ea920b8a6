"""userdb: edit Courier's userdb text file, as Courier's ``userdb`` does.

    userdb [path/.../ | -f file ]name set field=value field=value...
    userdb [path/.../ | -f file ]name unset field field...
    userdb [path/.../ | -f file ]name del
    userdb -show [path/... | -f file ] [name]

``set field`` without ``=value`` reads the value from standard input (one
line; prompted as ``name.field: `` on a terminal), which is how
``userdbpw | userdb NAME set systempw`` works.  The file is created 0600;
an existing file keeps its mode.  Every change is written to
``.tmp.<file>`` and renamed over the file under an exclusive lock on
``.lock.<file>``, so readers never see half a file.

Differences from Courier's Perl script: an edited record keeps its fields'
order (new fields at the end) where Courier's order is random, and a
symbolic link at the file's path is written through rather than followed
component by component.  Courier's exit codes on fatal errors come from
``errno``; we return the values it returns in the same situations.
``POSTILLION_USERDB`` overrides the default file ``/etc/courier/userdb``.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from postillion.auth.userdb import DEFAULT_USERDB

_RECORD = re.compile(r"^([^\t]+)(?:\t(.*))?$", re.DOTALL)
_ENOENT, _EINVAL, _ENOTTY = 2, 22, 25


class Fatal(Exception):
    """A message Courier's script dies with, and the exit code it dies with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _usage(program: str) -> int:
    sys.stdout.write(
        f"Usage: {program} [path/.../ | -f file ]name set field=value field=value...\n"
        f"       {program} [path/.../ | -f file ]name unset field field...\n"
        f"       {program} [path/.../ | -f file ]name del\n"
        f"       {program} -show [path/... | -f file ] [name]\n")
    return 1


def _sibling(path: str, prefix: str) -> str:
    head, slash, tail = path.rpartition("/")
    return f"{head}/{prefix}{tail}" if slash else f"{prefix}{path}"


@contextmanager
def _locked(path: str) -> Iterator[None]:
    fd = os.open(_sibling(path, ".lock."), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_lines(path: str) -> list[str] | None:
    """The file's lines (with their newlines), None if it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as file:
            if not os.path.isfile(path):
                raise Fatal(f"{path}: not a file.\n", _ENOTTY)
            return file.readlines()
    except IsADirectoryError:
        raise Fatal(f"{path}: not a file.\n", _ENOTTY) from None
    except FileNotFoundError:
        return None


def _split_field(item: str) -> tuple[str, str]:
    """``name=value`` -> ("name", "=value"); a bare ``name`` -> ("name", "")."""
    name, eq, value = item.partition("=")
    return name, eq + value


def _format(name: str, fields: dict[str, str]) -> str:
    body = "|".join(key + value for key, value in fields.items())
    return f"{name}\t{body}" if body else name


def _replace(path: str, lines: list[str]) -> None:
    """Write ``lines`` to .tmp.<file> (0600, or the old file's mode) and rename."""
    tmp = _sibling(path, ".tmp.")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape", newline="") as out:
        out.writelines(lines)
    try:
        os.chmod(tmp, os.stat(path).st_mode & 0o777)
    except FileNotFoundError:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _edit(path: str, name: str, change: dict[str, str] | None, remove: list[str],
          new_record: list[str] | None) -> bool:
    """Rewrite the first record of ``name``; False if there is none and nothing to add.

    ``change`` sets fields, ``remove`` drops them, ``change is None and not
    remove`` deletes the record; ``new_record`` is the line's fields when the
    name is not in the file yet (None: do not add it).
    """
    old = _read_lines(path) or []
    out: list[str] = []
    for index, raw in enumerate(old):
        line = raw[:-1] if raw.endswith("\n") else raw
        match = _RECORD.match(line)
        if match and match.group(1) == name:
            fields: dict[str, str] = {}
            for item in (match.group(2) or "").split("|") if match.group(2) else []:
                key, value = _split_field(item)
                fields[key] = value
            if change is not None:
                fields.update(change)
                out.append(_format(name, fields) + "\n")
            elif remove:
                for key in remove:
                    fields.pop(key, None)
                out.append(_format(name, fields) + "\n")
            out.extend(old[index + 1:])
            _replace(path, out)
            return True
        out.append(line + "\n")
    if new_record is None:
        return False
    # A new record lists the fields as given, duplicates included, as Courier's does.
    out.append((f"{name}\t" + "|".join(new_record) if new_record else name) + "\n")
    _replace(path, out)
    return True


def _read_values(name: str, args: list[str]) -> list[str] | None:
    """``field`` without ``=`` gets its value from stdin; None at end of input."""
    interactive = sys.stdin.isatty()
    result: list[str] = []
    for key in args:
        if "=" in key:
            result.append(key)
            continue
        if interactive:
            sys.stdout.write(f"{name}.{key}: ")
            sys.stdout.flush()
        value = sys.stdin.readline()
        if not value:
            return None
        if value.endswith("\n"):
            value = value[:-1]
        if "|" in value or "\n" in value:
            raise Fatal("Invalid value.\n", _ENOTTY)
        result.append(f"{key}={value}")
    return result


def _show(path: str, name: str | None) -> None:
    lines = _read_lines(path)
    for raw in lines or []:
        line = raw[:-1] if raw.endswith("\n") else raw
        if line.startswith("#"):
            continue
        match = _RECORD.match(line)
        if not match:
            continue
        if name is None:
            sys.stdout.write(match.group(1) + "\n")
        elif match.group(1) == name:
            sys.stdout.write((match.group(2) or "").replace("|", "\n") + "\n")
            return


def run(program: str, args: list[str]) -> int:
    default = os.environ.get("POSTILLION_USERDB", DEFAULT_USERDB)
    if os.path.islink(default):
        raise Fatal(f"ERROR: Wrong userdb command.\n       ({default} is a symbolic link)\n",
                    255)
    path = default
    rest = list(args)
    name = rest.pop(0) if rest else None
    show = name == "-show"
    if show:
        name = rest.pop(0) if rest else None
    if name == "-f":
        path = rest.pop(0) if rest else ""
        name = rest.pop(0) if rest else None
    elif name is not None and "/" in name:
        directory, _, name = name.rpartition("/")
        path = f"{path}/{directory}"
    verb: str | None = None
    if not show:
        verb = rest.pop(0) if rest else None
        if not verb or not name or not path:
            return _usage(program)
    elif not path:
        return _usage(program)

    if any(("|" in arg or "\n" in arg) for arg in rest):
        raise Fatal("Invalid field or value.\n",
                    _EINVAL if os.path.lexists(path) else _ENOENT)

    with _locked(path):
        if show:
            _show(path, name)
        elif verb == "set":
            assert name is not None
            values = _read_values(name, rest)
            if values is None:
                return 1
            if os.path.lexists(path) and not os.path.isfile(path):
                raise Fatal(f"{path}: not a file.\n", _ENOTTY)
            change = dict(_split_field(item) for item in values)
            _edit(path, name, change, [], values)
        elif verb == "unset":
            assert name is not None
            if rest:
                _edit(path, name, None, rest, None)
        elif verb == "del":
            assert name is not None
            if rest:
                return _usage(program)
            _edit(path, name, None, [], None)
        else:
            return _usage(program)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    program = sys.argv[0] if sys.argv and sys.argv[0] else "userdb"
    try:
        return run(program, args)
    except Fatal as error:
        sys.stderr.write(str(error))
        return error.code
    except OSError as error:
        sys.stderr.write(f"{error.strerror or error}\n")
        return error.errno or 1


if __name__ == "__main__":
    raise SystemExit(main())
