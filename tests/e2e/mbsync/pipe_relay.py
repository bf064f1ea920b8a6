"""Run a command with pipes on its standard input and output, relaying them to
our own standard input and output.

``sshd`` gives a remote command pipes (OpenSSH builds with ``USE_PIPES``),
whereas mbsync hands its ``Tunnel`` command one end of a socket pair.  Put in
front of ``postillion imapd`` in a ``Tunnel`` line, this relay shows the server
what it sees at the far end of ``ssh host postillion imapd Maildir``.  It ends
when the command ends, so that the client sees the tunnel close (a shell
``cat | cmd | cat`` would keep the socket open and the client waiting).

Usage: ``python pipe_relay.py COMMAND [ARG...]``; exits with the command's status.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading


def _copy_input(destination: int) -> None:
    try:
        while data := os.read(0, 65536):
            view = memoryview(data)
            while view:
                view = view[os.write(destination, view):]
    except OSError:
        pass
    finally:
        os.close(destination)


def main(argv: list[str]) -> int:
    child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    threading.Thread(target=_copy_input, args=(os.dup(child.stdin.fileno()),),
                     daemon=True).start()
    child.stdin.close()
    source = child.stdout.fileno()
    try:
        while data := os.read(source, 65536):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view):]
    except OSError:
        pass
    return child.wait()


if __name__ == "__main__":
    # os._exit: the input thread may still be blocked reading the client's end.
    sys.stdout.flush()
    os._exit(main(sys.argv[1:]))
