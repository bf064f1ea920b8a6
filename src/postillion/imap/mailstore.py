"""The user's mail store as IMAP sees it.

IMAP names (modified UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT) become
storage names (``INBOX.A.B``, UTF-8, as Courier 5 keeps them on disk) here
and nowhere else; everything below works on :mod:`postillion.maildir`.
Synchronous: the session calls it through ``Session.offload`` (a worker thread
in a server of many clients).

Special-use attributes (RFC 6154) are derived from names, since Courier
keeps no such metadata: a folder directly below INBOX whose name is, in any
letter case, ``Sent``/``Sent Items``/``Sent Messages`` is ``\\Sent``,
``Drafts`` is ``\\Drafts``, ``Trash``/``Deleted Items``/``Deleted Messages``
(and the configured ``IMAP_TRASHFOLDERNAME``) is ``\\Trash``,
``Junk``/``Spam`` is ``\\Junk``, ``Archive``/``Archives`` is ``\\Archive``.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass

from postillion.imap.protocol import decode_mailbox_name
from postillion.imap.shared import Identity, Place, SharedNamespace, is_shared_name
from postillion.maildir import acl, delivery, keywords, mutf7, names, quota, subscribed, uiddb
from postillion.maildir.errors import InvalidMailboxName, MailboxNotFound, PermissionDenied
from postillion.maildir.folders import FolderInfo, Maildir
from postillion.maildir.layout import is_maildir

_SPECIAL_USE = {
    "sent": "\\Sent", "sent items": "\\Sent", "sent messages": "\\Sent",
    "drafts": "\\Drafts",
    "trash": "\\Trash", "deleted items": "\\Trash", "deleted messages": "\\Trash",
    "junk": "\\Junk", "spam": "\\Junk",
    "archive": "\\Archive", "archives": "\\Archive",
}

PERSONAL_PREFIX = "INBOX."
#: Courier's filesystem shared folders (``shared.``): not served.
FILESYSTEM_SHARED_PREFIX = "shared."


@dataclass(frozen=True, slots=True)
class FolderStatus:
    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to add to a folder (APPEND, COPY, MOVE)."""

    data: bytes
    letters: str = ""                 # maildir flag letters
    keywords: tuple[str, ...] = ()
    mtime: float | None = None        # INTERNALDATE


@dataclass(frozen=True, slots=True)
class Stored:
    """Messages added to a folder, and how they were numbered."""

    folder_dir: str
    added: uiddb.Added

    @property
    def uidvalidity(self) -> int:
        return self.added.uidvalidity

    @property
    def uids(self) -> list[int]:
        """Their UIDs, in the order given (0: gone before it was numbered)."""
        return self.added.uids


@dataclass(frozen=True, slots=True)
class QuotaReport:
    """GETQUOTA's numbers: (resource, used, limit) with STORAGE in KiB."""

    resources: tuple[tuple[str, int, int], ...] | None


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """LIST's ``*`` (anything) and ``%`` (anything but the delimiter)."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(r"[^.]*")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def canonical_pattern(name: str) -> str:
    """``inbox`` at the start of a pattern or name means ``INBOX``."""
    if name[:5].upper() == "INBOX" and (len(name) == 5 or name[5] in ".*%"):
        return "INBOX" + name[5:]
    return name


class MailStore:
    """One account's maildir, addressed by IMAP mailbox names."""

    def __init__(self, maildir: str, login: str, options: str = "", *,
                 trash_name: str = "Trash", shared: SharedNamespace | None = None) -> None:
        self.root = maildir
        self.login = login
        self.options = options
        self.identity = Identity(login, options)
        self.maildir = Maildir(maildir)
        self.trash_name = trash_name.lower()
        self.shared = shared

    # ------------------------------------------------------------ names

    @staticmethod
    def storage_name(raw: bytes, utf8: bool) -> str:
        """The storage name of a wire name; raises InvalidMailboxName for
        names that are not valid on the wire or would leave the maildir."""
        try:
            text = decode_mailbox_name(raw, utf8)
        except ValueError as exc:
            raise InvalidMailboxName("Invalid mailbox name.") from exc
        if text.endswith(names.SEPARATOR) and text != names.SEPARATOR:
            text = text[:-1]  # "INBOX.Foo." names the same folder
        if is_shared_name(text):
            # Resolved against the shared index only (place()); here just
            # kept free of empty levels and control characters.
            if any(not level for level in text.split(names.SEPARATOR)) or \
                    any(ord(ch) < 32 or ch in "\x7f/" for ch in text):
                raise InvalidMailboxName("Invalid mailbox name.")
            return text
        if text.startswith(FILESYSTEM_SHARED_PREFIX):
            raise MailboxNotFound("filesystem shared folders are not served")
        return names.normalize(canonical_pattern(text))

    @staticmethod
    def wire_name(name: str, utf8: bool) -> str:
        return name if utf8 else mutf7.encode(name)

    def place(self, name: str) -> Place:
        """Where a storage name lives (MailboxNotFound for a #shared name
        the index does not offer this user)."""
        if is_shared_name(name):
            if self.shared is None:
                raise MailboxNotFound(name)
            return self.shared.locate(name)
        return Place(name, self.root, name, self.login, False)

    def folder_dir(self, name: str) -> str:
        return self.place(name).folder_dir

    def exists(self, name: str) -> bool:
        try:
            return is_maildir(self.folder_dir(name))
        except MailboxNotFound:
            return False

    def require(self, name: str) -> str:
        """The directory of an existing folder, else MailboxNotFound."""
        path = self.folder_dir(name)
        if not is_maildir(path):
            raise MailboxNotFound(name)
        return path

    def rights(self, name: str) -> str:
        """The session's disk rights on ``name`` (existing or not: a missing
        folder has its parent's, as in Courier).  Never writes."""
        place = self.place(name)
        if place.shared:
            assert self.shared is not None
            return self.shared.rights(place)
        return self.identity.rights(acl.peek_acl(place.root, place.folder), place.owner)

    # ------------------------------------------------------------ listing

    def folders(self) -> list[FolderInfo]:
        return self.maildir.list_folders()

    def inbox_marked(self) -> bool:
        """Courier's INBOX \\Marked: a message in new/, or one in cur/ without
        \\Seen (no ``:2,`` info, or no ``S`` in it), as its LIST computes it."""
        for subdir in ("new", "cur"):
            try:
                with os.scandir(os.path.join(self.root, subdir)) as it:
                    for entry in it:
                        if entry.name.startswith("."):
                            continue
                        _, sep, info = entry.name.rpartition(":")
                        if subdir == "new" or not sep or not info.startswith("2,") \
                                or "S" not in info:
                            return True
            except FileNotFoundError:
                continue
        return False

    def special_use(self, name: str) -> str | None:
        parts = name.split(names.SEPARATOR)
        if len(parts) != 2:
            return None
        leaf = parts[1].lower()
        if leaf == self.trash_name:
            return "\\Trash"
        return _SPECIAL_USE.get(leaf)

    def subscriptions(self) -> list[str]:
        return subscribed.read_subscriptions(self.root)

    def subscribe(self, name: str) -> None:
        subscribed.subscribe(self.root, name)

    def unsubscribe(self, name: str) -> None:
        subscribed.unsubscribe(self.root, name)

    # ------------------------------------------------------------ changes

    def create(self, name: str) -> None:
        place = self.place(name)
        Maildir(place.root).create(place.folder)
        acl.copy_parent_acl(place.root, place.folder)
        self._acl_changed(place)

    def delete(self, name: str) -> None:
        place = self.place(name)
        Maildir(place.root).delete(place.folder)
        acl.delete_acl_files(place.root, place.folder)
        self._acl_changed(place)

    def rename(self, old: str, new: str) -> None:
        source, target = self.place(old), self.place(new)
        if source.root != target.root:
            raise PermissionDenied("Cannot move folders between mailboxes of different owners.")
        Maildir(source.root).rename(source.folder, target.folder)
        self._acl_changed(source)

    # ------------------------------------------------------------ status

    def status(self, name: str) -> FolderStatus:
        """STATUS numbers from a read-only scan: no uiddb is created, as in
        Courier (a never-selected folder gets a provisional UIDVALIDITY)."""
        scan = uiddb.scan_and_assign(self.require(name), readonly=True)
        recent = sum(1 for m in scan.messages if m.subdir == "new")
        unseen = sum(1 for m in scan.messages if "S" not in m.flags)
        return FolderStatus(len(scan.messages), recent, scan.nextuid, scan.uidvalidity, unseen)

    def quota(self, name: str | None = None) -> QuotaReport:
        root = self.place(name).root if name is not None else self.root
        state = quota.read_quota(root)
        if state is None or not state.quota.is_limited:
            return QuotaReport(None)
        resources: list[tuple[str, int, int]] = []
        if state.quota.bytes:
            resources.append(("STORAGE", -(-state.usage.bytes // 1024),
                              -(-state.quota.bytes // 1024)))
        if state.quota.messages:
            resources.append(("MESSAGE", state.usage.messages, state.quota.messages))
        return QuotaReport(tuple(resources))

    # ------------------------------------------------------------ ACL

    def read_acl(self, name: str) -> acl.Acl:
        self.require(name)
        place = self.place(name)
        return acl.read_acl(place.root, place.folder)

    def my_rights(self, name: str) -> str:
        """The session's disk rights on an existing folder."""
        self.require(name)
        return self.rights(name)

    def set_acl(self, name: str, identifier: str, rights: str) -> None:
        self.require(name)
        place = self.place(name)
        disk_id = acl.imap_identifier_to_disk(identifier)
        current = acl.read_acl(place.root, place.folder)
        acl.write_acl(place.root, place.folder, acl.apply_setacl(current, disk_id, rights))
        self._acl_changed(place)

    def delete_acl(self, name: str, identifier: str) -> None:
        self.require(name)
        place = self.place(name)
        disk_id = acl.imap_identifier_to_disk(identifier)
        current = acl.read_acl(place.root, place.folder)
        acl.write_acl(place.root, place.folder, current.without(disk_id))
        self._acl_changed(place)

    def _acl_changed(self, place: Place) -> None:
        if self.shared is not None:
            self.shared.acl_changed(place)

    # ------------------------------------------------------------ adding mail

    def add_messages(self, name: str, messages: list[NewMessage], *,
                     use_keywords: bool) -> Stored:
        """Store messages into ``cur/`` with their flags, all or none, under
        the quota, and give them their UIDs.

        Each is written whole to ``tmp/`` first (a dropped connection or an
        error leaves nothing visible), the quota is checked for all of them
        at once (QuotaExceeded refuses them all), then they are linked in
        and numbered under the folder's lock without listing it
        (:func:`uiddb.assign_added`).
        """
        folder = self.require(name)
        staged: list[delivery.StagedMessage] = []

        def link() -> list[str]:
            # Called holding the folder's lock: the quota's is taken inside
            # it, for the check and the links only, as a delivery holds it.
            reservation = None
            if quota.counts_folder(folder):
                reservation = quota.reserve(folder, sum(s.size for s in staged), len(staged))
            committed: list[str] = []
            try:
                for item, message in zip(staged, messages, strict=True):
                    committed.append(delivery.commit(item, flags=message.letters))
            except BaseException:
                if reservation is not None:
                    reservation.release()
                for path in committed:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                raise
            if reservation is not None:
                reservation.commit()
            filenames = [os.path.basename(p) for p in committed]
            if use_keywords:
                for filename, message in zip(filenames, messages, strict=True):
                    if message.keywords:
                        keywords.set_keywords(folder, filename.split(":", 1)[0],
                                              message.keywords)
            return filenames

        try:
            for message in messages:
                item = delivery.stage(folder, message.data)
                staged.append(item)
                if message.mtime is not None:
                    os.utime(item.tmp_path, (message.mtime, message.mtime))
            added = uiddb.assign_added(folder, link)
        except BaseException:
            for item in staged:
                delivery.discard(item)  # (nothing is left of those linked)
            raise
        return Stored(folder, added)
