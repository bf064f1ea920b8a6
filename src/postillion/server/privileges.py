"""Serving each account with its own uid and gid.

Two process models, chosen by who starts the server:

* **As root** the listener forks one child per connection (as Courier's
  couriertcpd does); the child runs the login stage as root (it may need to
  read a root-only userdb) and, after a successful login and before any mail is
  touched, :func:`make_become`'s function drops to the account: supplementary
  groups cleared, then ``setgid``, then ``setuid``.  From then on the kernel
  enforces file permissions, which filesystem-shared folders rely on.
* **As an ordinary user** everything stays in one process, and an account can
  only be served when that process can reach its mail: its uid is ours, or its
  maildir is readable, writable and searchable by us.  A virtual-mail host
  therefore runs the server as its ``vmail`` uid, which owns every maildir.

Either way ``IMAP_MAILBOX_SANITY_CHECK=1`` (the default) refuses a maildir
whose owner and group are not the uid and gid serving it, as Courier's imapd
does, and accounts with uid 0 are refused unless
``POSTILLION_ALLOW_ROOT_LOGIN=1``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from postillion.auth import Account
from postillion.config import Config

log = logging.getLogger(__name__)


def sanity_problem(maildir: str, uid: int, gid: int) -> str | None:
    """Courier's mailbox sanity check: None when ``maildir`` belongs to uid and gid."""
    try:
        st = os.stat(maildir)
    except OSError as exc:
        return f"{maildir}: {exc.strerror}"
    if st.st_uid != uid or st.st_gid != gid:
        return "Account's mailbox directory is not owned by the correct uid or gid"
    return None


def _accessible(path: str) -> bool:
    return os.access(path, os.R_OK | os.W_OK | os.X_OK)


def make_become(config: Config, *, as_root: bool | None = None) -> Callable[[Account], None]:
    """The ``ServerContext.become`` for this process.

    The returned function raises ``PermissionError`` to refuse the login; as
    root it changes the process's identity and so may be called once only
    (each connection has its own process in that model).
    """
    root = os.geteuid() == 0 if as_root is None else as_root
    allow_root = config.get_bool("POSTILLION_ALLOW_ROOT_LOGIN")
    sanity = config.get_bool("IMAP_MAILBOX_SANITY_CHECK")
    umask = config.get_int("IMAP_UMASK")

    def become(account: Account) -> None:
        if account.uid == 0 and not allow_root:
            log.warning("login refused: user=%s has uid 0", account.login)
            raise PermissionError("accounts with uid 0 are not served")
        if root:
            if sanity:
                problem = sanity_problem(account.maildir, account.uid, account.gid)
                if problem:
                    log.warning("login refused: user=%s: %s", account.login, problem)
                    raise PermissionError(problem)
            os.setgroups([])
            os.setgid(account.gid)
            os.setuid(account.uid)
            # Where Courier's imapd runs: relative paths in the account are under home.
            try:
                os.chdir(account.home)
            except OSError:
                os.chdir("/")
        else:
            if account.uid != os.getuid() and not _accessible(account.maildir):
                log.warning("login refused: user=%s uid %d, server runs as uid %d",
                            account.login, account.uid, os.getuid())
                raise PermissionError("this server cannot serve that account's uid")
            if sanity:
                problem = sanity_problem(account.maildir, os.geteuid(), os.getegid())
                if problem:
                    log.warning("login refused: user=%s: %s", account.login, problem)
                    raise PermissionError(problem)
        os.umask(umask)

    return become
