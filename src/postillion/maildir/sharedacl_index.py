"""A rebuildable reverse ACL index: which ``#shared.`` folders may an account look up?

Courier 5 answers ``LIST "" "#shared.*"`` by reading the ACL of every folder
of every account in the user's shared index, at every LIST.  This index
keeps, per owner maildir, only the folders whose ACL gives the lookup right
``l`` to someone who is neither the owner nor an administrator (``anyone``,
``anonymous``, ``user=X``, ``group=X``), with those entries.  A query
(:meth:`SharedAclIndex.lookup`) then touches only the folders posted under
the account's own identifiers, and it lists exactly what Courier lists.

It is an accelerator, never the truth:

* **Checked against the ACL files.**  Every folder record keeps the
  signature (device, inode, mtime, size) of each file its ACL was read from
  (its ``courierimapacl``, its ``courierimaphieracl`` entry, the parents' it
  inherited from, and the folder directory itself).  Before a folder is
  listed those files are ``stat``-ed; if one changed, that owner's maildir is
  read again.  A grant removed by Courier's ``maildiracl``, by Courier's imapd
  or by an editor is therefore never shown.
* **New grants made behind our back** (a file we have no record of) are
  found by ``lookup(..., verify_all=True)``, which also ``stat``-s the ACL
  files of every owner in the user's tree (no reading unless changed since
  the owner was scanned: ctime), by ``postillion sharedacl check|rebuild``
  (cron), and at once for grants made through :func:`note_acl_change` (our
  ``maildiracl``, the IMAP SETACL/DELETEACL/CREATE/RENAME/DELETE).
* **Owners new to the index** (a new account in the shared index) are
  scanned on first sight.  A missing, unreadable or foreign file is rebuilt.
* **Administrators** (``group=administrators``) and an account whose login
  equals a nested group's name (Courier then treats it as the ``owner`` of
  that group's folders) are answered by reading every ACL, as Courier does.

File format (JSON, written atomically through a temporary file and a
rename, under ``flock`` of ``<file>.lock``)::

    {"format": "postillion-sharedacl", "version": 1, "built": <ns>,
     "scanned": [<maildir>, ...],            # owners with no grants
     "owners": {<maildir>: {"scanned": <ns>, "folders": {<folder>: {
         "sources": [[<path>, "f"|"d", [dev, ino, mtime_ns, size] | null], ...],
         "entries": [[<identifier>, <rights>], ...]}}}}}

Only entries whose rights contain ``l`` are kept (negative ones too: they
can take ``l`` away).  ``<maildir>`` is the normalised absolute path of the
owner's maildir as the shared index names it; ``<folder>`` is ``INBOX`` or
``INBOX.A.B`` as on disk.  Where it lives: ``POSTILLION_SHAREDACL_INDEX``,
else ``.postillion-sharedacl.json`` beside the main shared index.  The file
must be writable only by trusted users (root, the virtual-mail uid): its
records decide which folder *names* are offered.  When it cannot be written
(a worker without permission) queries still work, re-reading what changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from postillion.maildir import acl as aclmod
from postillion.maildir import names
from postillion.maildir.errors import MaildirError
from postillion.maildir.sharedindex import SharedAccount, SharedTree, maildir_key

LOG = logging.getLogger(__name__)

FORMAT = "postillion-sharedacl"
VERSION = 1
ENV_PATH = "POSTILLION_SHAREDACL_INDEX"
DEFAULT_NAME = ".postillion-sharedacl.json"

Signature = tuple[int, int, int, int] | None
# Timestamps are coarse (a kernel tick, or a second on some file systems): a
# file changed this close to the scan may have changed again unseen with the
# same mtime and size, so its record is never trusted (git's "racy clean").
RACY_NS = 2_000_000_000
Source = tuple[str, str, Signature]  # path, "f" (file) or "d" (directory), signature


def default_path(shared_index_file: str) -> str:
    """Where the reverse index lives for a given main shared index file."""
    configured = os.environ.get(ENV_PATH)
    if configured:
        return configured
    return os.path.join(os.path.dirname(os.path.abspath(shared_index_file)), DEFAULT_NAME)


def _signature(path: str, kind: str) -> Signature:
    try:
        info = os.stat(path)
    except OSError:
        return None
    if kind == "d":
        return (info.st_dev, info.st_ino, 0, 0)
    return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


def _listable(identifier: str) -> bool:
    """Could this positive entry give ``l`` to someone not owner nor administrator?"""
    if identifier in (aclmod.ANYONE, aclmod.ANONYMOUS):
        return True
    if identifier in (aclmod.ADMINISTRATORS, aclmod.GROUP_ADMINISTRATORS):
        return False
    return identifier.startswith(("user=", "group="))


@dataclass(slots=True)
class FolderRecord:
    sources: list[Source]
    entries: list[tuple[str, str]]

    def fresh(self, scanned: int) -> bool:
        for path, kind, sig in self.sources:
            if _signature(path, kind) != sig:
                return False
            if sig is not None and kind == "f" and sig[2] >= scanned - RACY_NS:
                return False
        return True

    def lookup_right(self, identities: frozenset[str]) -> bool:
        acl = aclmod.Acl(tuple(aclmod.AclEntry(i, r) for i, r in self.entries))
        return aclmod.RIGHT_LOOKUP in aclmod.compute(acl, identities.__contains__,
                                                     owner_gets_admin=False)


@dataclass(slots=True)
class OwnerRecord:
    scanned: int
    folders: dict[str, FolderRecord] = field(default_factory=dict)


# -- reading one owner's ACLs (read-only: nothing is saved, unlike Courier) ---


def owner_folders(maildir: str) -> list[str]:
    """``INBOX`` and every folder directory (``.A.B``) of a maildir, as Courier's LIST
    walks it (dot entries; here only directories with a valid name)."""
    found = ["INBOX"]
    try:
        entries = list(os.scandir(maildir))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.startswith(".") or entry.name in (".", ".."):
            continue
        with contextlib.suppress(OSError):
            if not entry.is_dir():
                continue
            try:
                found.append(names.normalize("INBOX" + entry.name))
            except MaildirError:
                continue
    return found


def effective_acl(maildir: str, folder: str) -> tuple[aclmod.Acl, list[Source]]:
    """The ACL Courier would use for ``folder`` and the files it came from.

    Own ``courierimapacl``, else ``courierimaphieracl/<name>``, else the
    parent's (recursively); INBOX without a file has the default ACL.
    """
    sources: list[Source] = []
    name: str | None = folder
    if folder != "INBOX":
        directory = names.folder_path(maildir, folder)
        sources.append((directory, "d", _signature(directory, "d")))
    while name is not None:
        candidates = [aclmod.acl_file_path(maildir, name)]
        if name != "INBOX":
            candidates.append(aclmod.hieracl_path(maildir, name))
        for path in candidates:
            try:
                with open(path, "rb") as handle:
                    info = os.fstat(handle.fileno())
                    data = handle.read()
            except FileNotFoundError:
                sources.append((path, "f", None))
                continue
            except NotADirectoryError:
                sources.append((path, "f", None))
                continue
            sources.append((path, "f", (info.st_dev, info.st_ino, info.st_mtime_ns,
                                        info.st_size)))
            return aclmod.Acl.parse(data, path).with_default_admin(), sources
        name = names.parent_of(name)
    return aclmod.DEFAULT_ACL, sources


def scan_owner(maildir: str) -> OwnerRecord:
    """Read every folder's ACL of one maildir; keep the folders worth posting."""
    record = OwnerRecord(time.time_ns())
    for folder in owner_folders(maildir):
        try:
            acl, sources = effective_acl(maildir, folder)
        except (MaildirError, OSError) as error:
            # Unreadable: nobody but administrators may look it up (never wider).
            LOG.warning("shared ACL index: %s %s: %s", maildir, folder, error)
            continue
        entries = [(e.identifier, e.rights) for e in acl.entries
                   if aclmod.RIGHT_LOOKUP in e.rights]
        if any(not i.startswith("-") and _listable(i) for i, _ in entries):
            record.folders[folder] = FolderRecord(sources, entries)
    return record


def _changed_since(maildir: str, since_ns: int) -> bool:
    """Has any ACL file of this maildir been created or changed since ``since_ns``?"""
    paths = [os.path.join(maildir, aclmod.ACL_FILE)]
    paths.extend(os.path.join(maildir, "." + folder[len("INBOX."):], aclmod.ACL_FILE)
                 for folder in owner_folders(maildir)[1:])
    hier = os.path.join(maildir, aclmod.HIERACL_DIR)
    with contextlib.suppress(OSError):
        paths.append(hier)
        paths.extend(os.path.join(hier, name) for name in os.listdir(hier))
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        if max(info.st_ctime_ns, info.st_mtime_ns) >= since_ns - RACY_NS:
            return True
    return False


# -- results --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SharedFolder:
    """A folder an account may look up: its ``#shared.`` name and where it is."""

    name: str
    maildir: str
    folder: str
    account: SharedAccount


# -- the index --------------------------------------------------------------------


class SharedAclIndex:
    """The reverse index file, loaded and kept in memory; see the module docstring."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.owners: dict[str, OwnerRecord] = {}
        self.empty_owners: dict[str, int] = {}  # scanned, no grants: key -> scan time
        self.built = 0
        self._loaded_sig: Signature = None
        self._dirty: set[str] = set()
        self._postings: dict[str, set[tuple[str, str]]] | None = None

    # -- file I/O --

    def load(self) -> bool:
        """(Re)load the file when it changed; False when missing or unusable."""
        sig = _signature(self.path, "f")
        if sig is not None and sig == self._loaded_sig:
            return True
        try:
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read())
            owners, empty, built = _decode(data)
        except (OSError, ValueError, KeyError, TypeError) as error:
            if sig is not None:
                LOG.warning("shared ACL index %s unusable (%s); rebuilding", self.path, error)
            self.owners, self.empty_owners, self.built = {}, {}, 0
            self._loaded_sig = None
            self._postings = None
            return False
        self.owners, self.empty_owners, self.built = owners, empty, built
        self._loaded_sig = sig
        self._postings = None
        self._dirty.clear()
        return True

    def save(self) -> bool:
        """Write the dirty owners into the file (merged with what others wrote)."""
        if not self._dirty:
            return True
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path + ".lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                mine_owners = {k: self.owners[k] for k in self._dirty if k in self.owners}
                mine_empty = {k: self.empty_owners[k] for k in self._dirty
                              if k in self.empty_owners}
                dirty = set(self._dirty)
                built = self.built
                self._loaded_sig = None
                self.load()  # what other processes wrote meanwhile
                for key in dirty:
                    self.owners.pop(key, None)
                    self.empty_owners.pop(key, None)
                self.owners.update(mine_owners)
                self.empty_owners.update(mine_empty)
                self.built = max(self.built, built)
                self._write()
        except OSError as error:
            LOG.debug("shared ACL index %s not saved: %s", self.path, error)
            return False
        self._dirty.clear()
        self._postings = None
        return True

    def _write(self) -> None:
        payload = json.dumps(_encode(self), separators=(",", ":"), ensure_ascii=False,
                             sort_keys=True).encode("utf-8", "surrogateescape")
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, temp = tempfile.mkstemp(prefix=".sharedacl.", dir=directory)
        try:
            os.write(fd, payload)
            os.fsync(fd)
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        try:
            os.rename(temp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self._loaded_sig = _signature(self.path, "f")

    # -- updates --

    def update_owner(self, maildir: str) -> None:
        """Re-read one owner's ACLs (after a change) and keep the result in memory."""
        key = maildir_key(maildir)
        record = scan_owner(key)
        self.owners.pop(key, None)
        self.empty_owners.pop(key, None)
        if record.folders:
            self.owners[key] = record
        else:
            self.empty_owners[key] = record.scanned
        self._dirty.add(key)
        self._postings = None

    def rebuild(self, maildirs: Iterable[str]) -> None:
        """Forget everything and scan every maildir given; then save."""
        self.built = time.time_ns()
        self.owners, self.empty_owners = {}, {}
        self._dirty = set()
        for maildir in dict.fromkeys(maildir_key(m) for m in maildirs):
            self.update_owner(maildir)
        self._dirty = set(self.owners) | set(self.empty_owners) | {"\0rebuild"}
        self._save_all()

    def _save_all(self) -> None:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(self.path + ".lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._write()
        except OSError as error:
            LOG.warning("shared ACL index %s not saved: %s", self.path, error)
        self._dirty.clear()
        self._postings = None

    def known(self, key: str) -> bool:
        return key in self.owners or key in self.empty_owners

    # -- queries --

    def postings(self) -> dict[str, set[tuple[str, str]]]:
        """identifier -> {(owner maildir, folder)} where that identifier is granted ``l``."""
        if self._postings is None:
            postings: dict[str, set[tuple[str, str]]] = {}
            for key, record in self.owners.items():
                for folder, folder_record in record.folders.items():
                    for identifier, _rights in folder_record.entries:
                        if not identifier.startswith("-") and _listable(identifier):
                            postings.setdefault(identifier, set()).add((key, folder))
            self._postings = postings
        return self._postings

    def lookup(self, tree: SharedTree, login: str, options: str | Iterable[str] = "", *,
               own_maildir: str | None = None, verify_all: bool = False) -> list[SharedFolder]:
        """The ``#shared.`` folders ``login`` may look up in ``tree``, as Courier 5 lists them.

        ``options`` are the account's Courier options (``group=`` entries
        count; ``group=administrators`` makes an administrator);
        ``own_maildir`` is left out (Courier excludes the session's own
        maildir).  Sorted by name.
        """
        self.load()
        identities = aclmod.identities(login, options)
        by_key = tree.by_maildir()
        own = _stat_or_none(own_maildir)
        results: dict[str, SharedFolder] = {}
        available: dict[str, list[SharedAccount]] = {}

        def accounts_of(key: str) -> list[SharedAccount]:
            if key not in available:
                available[key] = [a for a in by_key.get(key, []) if a.available(own)]
            return available[key]

        def emit(key: str, folder: str) -> None:
            for account in accounts_of(key):
                name = account.folder_name(folder)
                results.setdefault(name, SharedFolder(name, account.maildir, folder, account))

        brute: set[str] = set()
        if aclmod.GROUP_ADMINISTRATORS in identities:
            brute = set(by_key)
        else:
            brute = {key for key, accounts in by_key.items()
                     if any(a.group is not None and a.group == login for a in accounts)}
        for key in brute:
            for account in accounts_of(key):
                ids = identities | ({aclmod.OWNER} if f"user={login}" ==
                                    account.owner_identifier else set())
                for folder in owner_folders(account.maildir):
                    try:
                        acl, _ = effective_acl(account.maildir, folder)
                    except (MaildirError, OSError):
                        continue
                    if aclmod.RIGHT_LOOKUP in aclmod.compute(acl, ids.__contains__):
                        name = account.folder_name(folder)
                        results.setdefault(name, SharedFolder(name, account.maildir, folder,
                                                              account))
        rescanned: set[str] = set()

        def rescan(key: str) -> None:
            self.update_owner(key)
            rescanned.add(key)

        for key in by_key:  # owners new in the shared index: scan once
            if key not in brute and not self.known(key):
                rescan(key)
        if verify_all:
            for key in by_key:
                if key in brute or key in rescanned:
                    continue
                record = self.owners.get(key)
                scanned = record.scanned if record else self.empty_owners.get(key, 0)
                if _changed_since(key, scanned) or (record is not None and any(
                        not f.fresh(record.scanned) for f in record.folders.values())):
                    rescan(key)
        wanted = identities | {aclmod.ANYONE, aclmod.ANONYMOUS}
        candidates: set[tuple[str, str]] = set()
        for identifier in wanted:
            candidates.update(self.postings().get(identifier, ()))
        for key, folder in sorted(candidates):
            if key in brute or key not in by_key or key in rescanned:
                continue
            record = self.owners.get(key)
            folder_record = record.folders.get(folder) if record else None
            if record is None or folder_record is None:
                continue
            if not folder_record.fresh(record.scanned):
                rescan(key)  # its folders are evaluated below
            elif folder_record.lookup_right(identities):
                emit(key, folder)
        # Owners read again just now: every folder they post, with its new ACL.
        for key in rescanned:
            if key in brute or key not in self.owners:
                continue
            for folder, folder_record in self.owners[key].folders.items():
                if folder_record.lookup_right(identities):
                    emit(key, folder)
        self.save()
        return [results[name] for name in sorted(results)]



def _stat_or_none(path: str | None) -> os.stat_result | None:
    if path is None:
        return None
    try:
        return os.stat(path)
    except OSError:
        return None


def _encode(index: SharedAclIndex) -> dict[str, object]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "built": index.built,
        "scanned": {key: when for key, when in index.empty_owners.items()},
        "owners": {
            key: {"scanned": record.scanned, "folders": {
                folder: {"sources": [[p, k, list(s) if s else None] for p, k, s in f.sources],
                         "entries": [list(e) for e in f.entries]}
                for folder, f in record.folders.items()}}
            for key, record in index.owners.items()},
    }


def _decode(data: dict[str, object]) -> tuple[dict[str, OwnerRecord], dict[str, int], int]:
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or data.get("version") != VERSION:
        raise ValueError("not a version 1 postillion-sharedacl file")
    owners: dict[str, OwnerRecord] = {}
    raw_owners = data["owners"]
    assert isinstance(raw_owners, dict)
    for key, raw in raw_owners.items():
        folders = {}
        for folder, item in raw["folders"].items():
            sources: list[Source] = [
                (str(p), str(k), (int(s[0]), int(s[1]), int(s[2]), int(s[3])) if s else None)
                for p, k, s in item["sources"]]
            entries = [(str(i), str(r)) for i, r in item["entries"]]
            folders[str(folder)] = FolderRecord(sources, entries)
        owners[str(key)] = OwnerRecord(int(raw["scanned"]), folders)
    raw_empty = data["scanned"]
    assert isinstance(raw_empty, dict)
    empty = {str(k): int(v) for k, v in raw_empty.items()}
    built = data["built"]
    assert isinstance(built, int)
    return owners, empty, built


def note_acl_change(maildir: str, index_path: str | None = None) -> None:
    """Tell the reverse index that ACLs of ``maildir`` changed (SETACL, DELETEACL,
    CREATE, RENAME, DELETE, ``maildiracl -set``).  Never raises: the index is an
    accelerator, and a failure only means the change is found later."""
    path = index_path or default_path(os.environ.get("IMAP_SHAREDINDEXFILE")
                                      or "/etc/courier/shared/index")
    try:
        if not os.path.exists(path):
            return  # no index yet: the first query builds it
        index = SharedAclIndex(path)
        index.load()
        index.update_owner(maildir)
        index.save()
    except Exception as error:  # an accelerator must never break the change itself
        LOG.warning("shared ACL index %s not updated for %s: %s", path, maildir, error)
