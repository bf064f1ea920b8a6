"""The ``postillion`` command: one entry point for the server and every tool."""

from __future__ import annotations

import importlib
import sys

from postillion.tools import TOOLS

COMMANDS: dict[str, str] = {
    **TOOLS,
    "demo": "postillion.demo",
    "serve": "postillion.server.serve",
    "imapd": "postillion.server.stdio",
}

USAGE = "usage: postillion COMMAND [ARGS...]\n\ncommands:\n" + "".join(
    f"  {name}\n" for name in sorted(COMMANDS)
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 1
    name, rest = args[0], args[1:]
    module_name = COMMANDS.get(name)
    if module_name is None:
        sys.stderr.write(f"postillion: unknown command {name!r}\n{USAGE}")
        return 1
    module = importlib.import_module(module_name)
    # Tools print their own name in messages, as Courier's do.
    sys.argv[0] = name
    result: int = module.main(rest)
    return result
