"""Where a mailbox name lives, and who may do what there.

Two namespaces reach mail: one's own maildir (``INBOX``, ``INBOX.A``) and
Courier's virtual shared folders (``#shared.<share>.A``), whose maildirs
come from the shared index (:mod:`postillion.maildir.sharedindex`) and
nowhere else: a client's name only ever selects an index entry and a folder
name validated by :mod:`postillion.maildir.names`, so it can never reach
outside the maildirs the index lists.

Rights are Courier's (ACL2=UNION): the union of the entries that apply to
the session's identity (``user=LOGIN``, every ``group=`` option,
``administrators`` for ``group=administrators``, ``anyone``), minus the
negative ones; ``owner`` is the owner of the maildir being accessed -- for
a ``#shared`` folder the share's account, never the grantee.

A folder the user may not look up (no ``l``) must be indistinguishable from
one that does not exist: every decision about such a name depends on the
rights alone (a missing folder has its parent's rights, as in Courier), and
refusals carry ``[NONEXISTENT]``; refusals on folders the user can see carry
``[NOPERM]``.  Texts are Courier's (``Access denied for SELECT/EXAMINE on
#shared.paul.Private (ACL "r" required)``).

Listing ``#shared.*`` shows what Courier 5 shows: folders on which the user
holds ``l``, their parents (share groups, the share, intermediate folders)
as ``\\Noselect \\HasChildren`` unless visible themselves; never one's own
maildir, never entries whose maildir is missing, nothing with
``disableshared``.  The candidates come from the reverse ACL index
(:mod:`postillion.maildir.sharedacl_index`: grantee -> folders with ``l``,
rebuilt from the maildirs when missing, each answer checked against the
signatures of the ACL files it summarises).  Where its notion of ``owner``
(Courier's: the innermost index group's name) differs from ours, the folder
is decided with this module's rules, so LIST never offers what SELECT would
refuse to look up.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from postillion.maildir import acl, names, sharedindex
from postillion.maildir.errors import InvalidMailboxName, MailboxNotFound
from postillion.maildir.sharedacl_index import SharedAclIndex, default_path, note_acl_change

SHARED_PREFIX = sharedindex.NAMESPACE + sharedindex.SEPARATOR  # "#shared."


@dataclass(frozen=True, slots=True)
class Identity:
    """The logged-in account as ACL entries see it."""

    login: str
    options: str = ""

    def rights(self, entries: acl.Acl, owner_login: str | None) -> str:
        return acl.rights_for(entries, self.login, self.options, owner_login=owner_login)


@dataclass(frozen=True, slots=True)
class Place:
    """A mailbox name resolved: the maildir, the folder in it, its owner."""

    name: str          # as the session names it: INBOX.A or #shared.paul.A
    root: str          # the maildir
    folder: str        # INBOX or INBOX.A within ``root``
    owner: str         # login owning ``root`` (the ``owner`` identifier)
    shared: bool

    @property
    def folder_dir(self) -> str:
        return names.folder_path(self.root, self.folder)


@dataclass(frozen=True, slots=True)
class SharedFolder:
    """One line of a ``#shared`` listing."""

    name: str
    selectable: bool
    has_children: bool


def is_shared_name(name: str) -> bool:
    return name == sharedindex.NAMESPACE or name.startswith(SHARED_PREFIX)


_Stamp = tuple[int, int, int]


class _TreeCache:
    """Loaded index trees, reloaded when the index file changes (process-wide:
    every session of a user reads the same few files)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: dict[tuple[str, bool], tuple[_Stamp, sharedindex.SharedTree]] = {}

    def get(self, path: str, complex_munging: bool) -> sharedindex.SharedTree:
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        except OSError:
            stamp = (0, 0, 0)
        key = (path, complex_munging)
        with self._lock:
            cached = self._trees.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        tree = sharedindex.load_tree(path, complex_munging)
        with self._lock:
            self._trees[key] = (stamp, tree)
        return tree


TREES = _TreeCache()

_indexes: dict[str, SharedAclIndex] = {}
_indexes_lock = threading.Lock()


def reverse_index(path: str) -> SharedAclIndex:
    """One loaded reverse ACL index per file and process (it reloads itself
    when the file changes)."""
    with _indexes_lock:
        index = _indexes.get(path)
        if index is None:
            index = _indexes[path] = SharedAclIndex(path)
        return index


class SharedNamespace:
    """The ``#shared.`` universe of one session."""

    def __init__(self, *, index_file: str, sharedgroup: str | None, disabled: bool,
                 complex_munging: bool, own_maildir: str, identity: Identity) -> None:
        self.index_file = sharedindex.index_file_for(index_file, sharedgroup)
        self.acl_index_file = default_path(index_file)
        self.disabled = disabled
        self.complex_munging = complex_munging
        self.identity = identity
        self._own_maildir = own_maildir
        try:
            self._own: os.stat_result | None = os.stat(own_maildir)
        except OSError:
            self._own = None

    def tree(self) -> sharedindex.SharedTree:
        return TREES.get(self.index_file, self.complex_munging)

    # ------------------------------------------------------------ names

    def locate(self, name: str) -> Place:
        """The place of ``#shared.<share>[.A.B]``; MailboxNotFound for group
        levels, unknown shares, one's own maildir, missing homes, and
        everything when shared folders are disabled."""
        if self.disabled:
            raise MailboxNotFound(name)
        found = self.tree().find(name)
        if found is None:
            raise MailboxNotFound(name)
        account, folder = found
        if not account.available(self._own):
            raise MailboxNotFound(name)
        try:
            folder = names.normalize(folder)
        except InvalidMailboxName:
            raise
        return Place(name, account.maildir, folder, account.entry.name, True)

    def rights(self, place: Place) -> str:
        """Effective rights, without writing into the owner's maildir."""
        return self.identity.rights(acl.peek_acl(place.root, place.folder), place.owner)

    def acl_changed(self, place: Place) -> None:
        """Keep the reverse ACL index current after SETACL/DELETEACL/CREATE/
        DELETE/RENAME in ``place``'s maildir (never raises)."""
        note_acl_change(place.root, self.acl_index_file)

    # ------------------------------------------------------------ listing

    def visible(self) -> list[SharedFolder]:
        """Every ``#shared`` name Courier 5 lists for this user, parents
        included, in no particular order."""
        if self.disabled:
            return []
        own = self._own_maildir
        index = reverse_index(self.acl_index_file)
        with _lookup_lock:
            found = index.lookup(self.tree(), self.identity.login, self.identity.options,
                                 own_maildir=own)
        shown: dict[str, SharedFolder] = {}
        for item in found:
            place = Place(item.name, item.maildir, item.folder, item.account.entry.name, True)
            if item.account.group == self.identity.login:
                # The index follows Courier's "owner" (user=<group name>), which
                # this module does not: decide with our rules, as SELECT will.
                try:
                    rights = self.rights(place)
                except (OSError, acl.AclError, InvalidMailboxName):
                    continue
                if acl.RIGHT_LOOKUP not in rights:
                    continue
            shown[place.name] = SharedFolder(place.name, True, False)
        for name in list(shown):
            parts = name.split(".")
            for size in range(2, len(parts)):
                parent = ".".join(parts[:size])
                known = shown.get(parent)
                if known is None:
                    shown[parent] = SharedFolder(parent, False, True)
                elif not known.has_children:
                    shown[parent] = SharedFolder(parent, known.selectable, True)
        return list(shown.values())


_lookup_lock = threading.Lock()  # one index object is shared by the sessions' threads
