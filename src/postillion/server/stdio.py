"""``postillion imapd [MAILDIR]``: pre-authenticated IMAP on standard input and output.

The stand-in for Courier's ``AUTHENTICATED=user imapd Maildir``, which is how
mail clients tunnel IMAP over ssh (mutt's ``tunnel``, offlineimap's
``preauthtunnel``, mbsync's ``Tunnel``).  As Courier's imapd, it reads its
settings from the environment only (the variables of the ``imapd`` file,
``IMAP_SHAREDINDEXFILE``, ...; no configuration file is read), takes the
maildir from its argument, else ``$MAILDIR``, else ``./Maildir`` (relative to
the current directory), and the account from ``AUTHENTICATED`` (else the
running user's name), the running uid/gid, ``$HOME`` and ``$OPTIONS``.  It
greets with ``* PREAUTH`` and writes log lines to standard error.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import pwd
import socket
import stat
import sys
import threading

from postillion.auth import Account, AccountOptions
from postillion.config import IMAPD_VARIABLES, Config
from postillion.imap.session.context import ServerContext
from postillion.server.gctune import tune_for_server
from postillion.server.logsetup import configure_logging
from postillion.server.notify import notifier_for
from postillion.server.privileges import sanity_problem

log = logging.getLogger(__name__)


def account_from_environment(maildir: str, environ: dict[str, str] | os._Environ[str]) -> Account:
    uid, gid = os.getuid(), os.getgid()
    try:
        entry: pwd.struct_passwd | None = pwd.getpwuid(uid)
    except KeyError:
        entry = None
    login = environ.get("AUTHENTICATED") or (entry.pw_name if entry else str(uid))
    home = environ.get("HOME") or (entry.pw_dir if entry else os.getcwd())
    return Account(login=login, uid=uid, gid=gid, home=home,
                   maildir=os.path.abspath(maildir),
                   options=AccountOptions.parse(environ.get("OPTIONS")))


def _fatal(text: str) -> int:
    # Courier's write_error_exit: the one line a client sees before the end.
    sys.stdout.buffer.write(b"* BYE [ALERT] Fatal error: " + text.encode() + b"\r\n")
    sys.stdout.buffer.flush()
    return 1


async def _pipe_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """asyncio streams on fds 0 and 1 (pipes, sockets, terminals)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 ** 20)
    protocol = asyncio.StreamReaderProtocol(reader)
    stdin = os.fdopen(os.dup(0), "rb", buffering=0)
    stdout = os.fdopen(os.dup(1), "wb", buffering=0)
    _widen_pipe(stdout.fileno())
    await loop.connect_read_pipe(lambda: protocol, stdin)
    transport, write_protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), stdout)
    writer = asyncio.StreamWriter(transport, write_protocol, reader, loop)
    return reader, writer


#: What the pipe to the client is widened to (Linux's default limit for
#: an unprivileged process, /proc/sys/fs/pipe-max-size): a FETCH 1:* BODY[]
#: is written in 1 MiB steps instead of 64 KiB ones, each an event loop
#: turn.
PIPE_SIZE = 1 << 20


def _widen_pipe(fd: int) -> None:
    """Make a pipe hold PIPE_SIZE bytes, where the system allows it."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setpipe is None or not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return
    with contextlib.suppress(OSError):  # over the limit, or a pipe user's quota spent
        fcntl.fcntl(fd, setpipe, PIPE_SIZE)


def _same_socket(fd_in: int, fd_out: int) -> bool:
    """stdin and stdout are one socket: inetd style, or a tunnel program (mbsync's
    ``Tunnel``) that hands the command a socket pair instead of two pipes."""
    st_in, st_out = os.fstat(fd_in), os.fstat(fd_out)
    return (stat.S_ISSOCK(st_in.st_mode)
            and (st_in.st_dev, st_in.st_ino) == (st_out.st_dev, st_out.st_ino))


async def _socket_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """One stream over the socket on fds 0 and 1.

    A write-pipe transport on a socket takes the socket turning readable (the
    client's next command) for the far end hanging up, so sockets get a
    socket transport instead.
    """
    return await asyncio.open_connection(sock=socket.socket(fileno=os.dup(0)))


async def _socketpair_streams() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """For regular files on stdin/stdout (``imapd < script > out``), which the
    event loop cannot watch: threads copy between them and a socket pair."""
    ours, theirs = socket.socketpair()

    def copy_in() -> None:
        with contextlib.suppress(OSError):
            while data := os.read(0, 65536):
                theirs.sendall(data)
            theirs.shutdown(socket.SHUT_WR)

    def copy_out() -> None:
        with contextlib.suppress(OSError):
            while data := theirs.recv(65536):
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]

    threading.Thread(target=copy_in, daemon=True).start()
    out = threading.Thread(target=copy_out, daemon=True)
    out.start()
    reader, writer = await asyncio.open_connection(sock=ours)
    _copiers.append(out)
    return reader, writer


_copiers: list[threading.Thread] = []


async def _serve(account: Account, config: Config) -> None:
    from postillion.imap.session import finish_leaving, run_session

    notifier = notifier_for(config)
    # Already running as the account (checked in main): become() has nothing
    # to do.  One client per process: nothing to keep the event loop free for.
    ctx = ServerContext(config=config, auth=None, notifier=notifier, one_client=True)
    if _same_socket(0, 1):
        reader, writer = await _socket_streams()
    elif any(stat.S_ISREG(os.fstat(fd).st_mode) for fd in (0, 1)):
        reader, writer = await _socketpair_streams()
    else:
        reader, writer = await _pipe_streams()
    try:
        await run_session(reader, writer, ctx, preauth=account, peer="", tls_active=False)
    finally:
        with contextlib.suppress(Exception):
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        notifier.close()
    # The client has its answer and the connection is closed: what the
    # session left behind (cache file, scan) is saved before the process ends.
    await finish_leaving()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write("usage: postillion imapd [MAILDIR]\n"
                         "Pre-authenticated IMAP on stdin/stdout, as Courier's "
                         "AUTHENTICATED=user imapd MAILDIR.\n")
        return 0
    configure_logging()
    tune_for_server()
    config = Config(IMAPD_VARIABLES).with_environment(os.environ)
    maildir = args[0] if args else os.environ.get("MAILDIR") or "./Maildir"
    account = account_from_environment(maildir, os.environ)
    if not os.path.isdir(account.maildir):
        log.error("chdir %s: No such file or directory", maildir)
        return _fatal("No such file or directory")
    if config.get_bool("IMAP_MAILBOX_SANITY_CHECK"):
        problem = sanity_problem(account.maildir, os.geteuid(), os.getegid())
        if problem:
            return _fatal(problem)
    os.umask(config.get_int("IMAP_UMASK"))
    try:
        asyncio.run(_serve(account, config))
    except KeyboardInterrupt:
        return 1
    for thread in _copiers:
        thread.join(timeout=5)
    return 0
