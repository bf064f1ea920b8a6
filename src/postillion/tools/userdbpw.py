"""userdbpw: read a password, print it hashed for a userdb ``*pw`` field.

Courier's options, messages and exit codes::

    userdbpw                 traditional DES crypt (Courier's default)
    userdbpw -md5            MD5-crypt, $1$salt$hash
    userdbpw -hmac-md5       HMAC states for CRAM-MD5 (also -hmac-sha1, -hmac-sha256)

Our additions (Courier lacks them; its servers read them through crypt(3)):
``-sha256`` and ``-sha512`` for ``$5$`` / ``$6$`` SHA-crypt, which unlike DES
do not cut the password to 8 characters.

The password is read from standard input: one line, without echo and
asked twice when it is a terminal.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from postillion.auth import hmacstate
from postillion.auth.passwords import make_password

_CRYPT_OPTIONS = {"-md5": "md5", "-sha256": "sha256", "-sha512": "sha512"}


def _read_line(stream: BinaryIO) -> bytes | None:
    """One line without its newline; None at end of input with nothing read."""
    line = stream.readline()
    if not line:
        return None
    return line[:-1] if line.endswith(b"\n") else line


def _read_from_terminal(stream: BinaryIO) -> bytes | None:
    import termios

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        while True:
            sys.stderr.write("Password: ")
            sys.stderr.flush()
            first = _read_line(stream)
            if first is None:
                return None
            sys.stderr.write("\nReenter password: ")
            sys.stderr.flush()
            second = _read_line(stream)
            if second is None:
                return None
            if first == second:
                sys.stderr.write("\n")
                return first
            sys.stderr.write("\nPasswords don't match.\n\n")
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    program = sys.argv[0] if sys.argv and sys.argv[0] else "userdbpw"
    scheme = "des"
    hmac_name: str | None = None
    for arg in args:
        if arg in _CRYPT_OPTIONS:
            scheme = _CRYPT_OPTIONS[arg]
        elif arg.startswith("-hmac-") and arg[6:] in hmacstate.ALGORITHMS:
            hmac_name = arg[6:]
        else:
            sys.stderr.write(f"{program}: invalid argument.\n")
            return 1

    stdin = sys.stdin.buffer
    password = _read_from_terminal(stdin) if stdin.isatty() else _read_line(stdin)
    if password is None:
        return 1
    if hmac_name is not None:
        print(hmacstate.precompute(hmac_name, password))
    else:
        print(make_password(password, scheme))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
