"""``sharedindexsplit outputdir [letters] < list``: split a shared index.

The list (``authenumerate -s -o`` output, or any index) comes on standard
input.  Like Courier's script:

* Everything from a ``#`` on is dropped; a line with fewer than four
  TAB-separated fields (after dropping empty trailing fields, as Perl's
  ``split`` does) is skipped.
* Without ``letters`` (or 0): each line goes to ``outputdir/index<G>`` where
  ``G`` is the value of the first ``sharedgroup=`` in field 6 (the options),
  or to ``outputdir/index`` when there is none.
* With ``letters`` N > 0: each line goes to ``outputdir/index<P>``, ``P`` the
  first N characters (not bytes) of the share name, padded with ``_``; then
  a tree of group files is written: ``index<p>`` lists ``<q><TAB>*<TAB>index<q>``
  for every prefix ``q`` one character longer, down to the top ``index``.
* The options field (field 6) is removed from the lines written; any other
  field is copied byte for byte.  Leaf files are appended to (as Courier
  does), group files rewritten.

Differences: the lines of a group file are sorted (Courier writes them in
Perl's hash order, which changes from run to run); a file name that would
contain ``/`` is refused with an error instead of writing outside
``outputdir`` (or failing on a missing directory).
"""

from __future__ import annotations

import os
import re
import sys

from postillion.tools._output import ToolExit

_SHAREDGROUP = re.compile(rb"(?:^|,)sharedgroup=([^,]+)")
_PERL_NUMBER = re.compile(r"\s*([+-]?\d+)")
# Perl's two-argument open() ignores trailing whitespace in the file name.
_PERL_TRAILING_SPACE = " \t\n\r\f"


def _usage(program: str) -> ToolExit:
    return ToolExit(2, stderr=f"Usage: {program} outputdir [ letters ]\n")


def _letters(argument: str | None) -> int:
    """Perl's numeric reading of the argument: leading integer, else 0."""
    if argument is None:
        return 0
    match = _PERL_NUMBER.match(argument)
    return max(int(match.group(1)), 0) if match else 0


def perl_fields(line: bytes) -> list[bytes]:
    """Perl's ``split /\\t/``: trailing empty fields are dropped."""
    fields = line.split(b"\t")
    while fields and fields[-1] == b"":
        fields.pop()
    return fields


def _text(data: bytes) -> str:
    # Courier converts through UTF-32 with Encode's default: bad bytes become U+FFFD.
    return data.decode("utf-8", "replace")


def split_key(fields: list[bytes], letters: int) -> str:
    """The suffix of the file this line goes to."""
    if letters > 0:
        key = _text(fields[0])[:letters]
    else:
        options = fields[5] if len(fields) > 5 else b""
        match = _SHAREDGROUP.search(options)
        key = _text(match.group(1)) if match else ""
    return key + "_" * (letters - len(key))


def _file_for(outputdir: str, key: str) -> str:
    name = ("index" + key).rstrip(_PERL_TRAILING_SPACE)
    if "/" in name or "\0" in name:
        raise ToolExit(1, stderr=f"{outputdir}/{name}: a shared group or share name "
                                 "used as a file name may not contain '/'\n")
    return os.path.join(outputdir, name)


def _fail(path: str, error: OSError) -> ToolExit:
    return ToolExit(error.errno or 1, stderr=f"{path}: {error.strerror or error}\n")


def split(lines: list[bytes], outputdir: str, letters: int) -> None:
    """Write the leaf files (appending) and, with ``letters``, the group files."""
    by_key: dict[str, list[bytes]] = {}
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        line = line.split(b"#", 1)[0]
        fields = perl_fields(line)
        if len(fields) < 4:
            continue
        key = split_key(fields, letters)
        kept = fields[:5] + fields[6:]
        by_key.setdefault(key, []).append(b"\t".join(kept) + b"\n")
    for key, output in by_key.items():
        path = _file_for(outputdir, key)
        try:
            with open(path, "ab") as handle:
                handle.write(b"".join(output))
        except OSError as error:
            raise _fail(path, error) from None
    keys = set(by_key)
    for level in range(letters - 1, -1, -1):
        groups: dict[str, set[str]] = {}
        for key in keys:
            groups.setdefault(key[:level], set()).add(key)
        for prefix, members in groups.items():
            path = _file_for(outputdir, prefix)
            text = "".join(f"{member}\t*\tindex{member}\n" for member in sorted(members))
            try:
                with open(path, "wb") as handle:
                    handle.write(text.encode("utf-8"))
            except OSError as error:
                raise _fail(path, error) from None
        keys = set(groups)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    program = sys.argv[0] if sys.argv and sys.argv[0] else "sharedindexsplit"
    try:
        if not args or not os.path.isdir(args[0]):
            raise _usage(program)
        lines = sys.stdin.buffer.readlines()
        split(lines, args[0], _letters(args[1] if len(args) > 1 else None))
    except ToolExit as stop:
        sys.stdout.write(stop.stdout)
        sys.stderr.write(stop.stderr)
        return stop.code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
