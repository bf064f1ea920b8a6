"""``courierimapsubscribed``: the IMAP subscriptions of a maildir.

The file is in the top maildir: one full folder name per line, UTF-8 (as on
disk, not modified UTF-7), in the order of subscription, LF line ends.
Names of folders that do not exist are accepted, as imapd accepts them.
Subscribing a name already present changes nothing; unsubscribing one that
is absent is not an error.

Like imapd we rewrite the whole file into
``tmp/<time>.M<usec>P<pid>_imapsubscribe<n>.<host>`` and rename it into
place.  imapd takes no lock, so two of its sessions subscribing at once can
lose one update; our processes serialise their rewrites with an ``flock`` on
the maildir's ``tmp/`` directory.

Names are compared with their INBOX part in any letter case (``inbox.A``
is ``INBOX.A``), as imapd compares them, and stored spelled ``INBOX``.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
from collections.abc import Iterator

from postillion.maildir import names
from postillion.maildir.errors import InvalidMailboxName, MailboxNotFound
from postillion.maildir.replacefile import replace_file

SUBSCRIBED = "courierimapsubscribed"
_counter = itertools.count()


def _key(name: str) -> str:
    """Compare as imapd does: INBOX prefix without regard to case."""
    if name[:5].upper() == names.INBOX:
        return names.INBOX + name[5:]
    return name


def _checked(name: str) -> str:
    """A name fit for the file: INBOX names normalised, others (``#shared.``) kept.

    A line break or other control character would corrupt the file.
    """
    if not name or any(ord(ch) < 0x20 or ch == "\x7f" for ch in name):
        raise InvalidMailboxName(f"{name!r}: not a folder name")
    head = name.partition(names.SEPARATOR)[0]
    if names.is_inbox(head):
        return names.normalize(name)
    return name


def read_subscriptions(maildir: str) -> list[str]:
    """The subscribed names, in file order (no file: none)."""
    try:
        with open(os.path.join(maildir, SUBSCRIBED), "rb") as f:
            data = f.read()
    except (FileNotFoundError, IsADirectoryError):
        return []
    return [line for line in data.decode("utf-8", "surrogateescape").split("\n") if line]


@contextlib.contextmanager
def _update_lock(maildir: str) -> Iterator[None]:
    try:
        fd = os.open(os.path.join(maildir, "tmp"), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise MailboxNotFound(f"{maildir}: not a maildir") from exc
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def _write(maildir: str, subscriptions: list[str]) -> None:
    data = "".join(f"{line}\n" for line in subscriptions).encode("utf-8", "surrogateescape")
    replace_file(maildir, SUBSCRIBED, (data,), tag=f"_imapsubscribe{next(_counter)}",
                 mode=0o666, durable=True)


def subscribe(maildir: str, name: str) -> bool:
    """Add ``name`` at the end; False if it was subscribed already.

    Names below INBOX are validated (:func:`postillion.maildir.names.normalize`);
    other namespaces (``#shared.``, which imapd also keeps here) only must not
    contain control characters.  Whether the folder exists does not matter.
    """
    normal = _checked(name)
    with _update_lock(maildir):
        current = read_subscriptions(maildir)
        if any(_key(line) == normal for line in current):
            return False
        _write(maildir, [*current, normal])
        return True


def unsubscribe(maildir: str, name: str) -> bool:
    """Remove ``name``; False if it was not subscribed."""
    key = _key(name)
    with _update_lock(maildir):
        current = read_subscriptions(maildir)
        kept = [line for line in current if _key(line) != key]
        if len(kept) == len(current):
            return False
        _write(maildir, kept)
        return True
