"""ACL files: ``courierimapacl`` and ``courierimaphieracl/<name>``, as Courier 5 keeps them.

File format (one entry a line, ``<identifier> <rights>\\n``, a single space;
an entry with empty rights is written ``identifier \\n``).  Identifiers on
disk: ``owner``, ``anyone`` (``anonymous`` is a synonym), ``administrators``
(the same as ``group=administrators``), ``user=LOGIN``, ``group=NAME``,
``authuser`` (stored, never matched: Courier 5.0.13 computes no rights for it),
and any of them with a leading ``-`` for a negative entry.  Rights are kept
as a string of letters sorted by byte value, without duplicates.

Where the ACL of a folder lives:

* ``INBOX``: ``<maildir>/courierimapacl``; when missing, the default
  ``owner aceilrstwx`` / ``administrators aceilrstwx`` (not written).
* ``INBOX.A.B``: ``<maildir>/.A.B/courierimapacl``; when missing,
  ``<maildir>/courierimaphieracl/A.B`` (folders with no directory, such as
  virtual parents).  When neither exists the parent's ACL is read
  (recursively, up to INBOX) and *saved* for the folder, which is how a new
  folder inherits its parent's ACL (imapd's CREATE relies on it).  A folder
  without a ``tmp/`` directory gets its saved copy in ``courierimaphieracl``.

The folder name is used as it is on disk (Courier 5: UTF-8), never
converted; the hieracl file name is the name without ``INBOX.``, dots
included.  Names that would not map to one directory inside the maildir
(``/``, empty levels such as ``INBOX..a`` or ``INBOX.a.``) are refused before
any file is touched.

Corrupt files: a line Courier would ignore (a control character or space in
the identifier or in the rights, an empty identifier, a CR from a DOS
editor, binary junk) is ignored too, so both servers compute the same
rights, *unless* the line is a negative entry (it starts with ``-``):
skipping it would widen access, so :class:`CorruptControlFile` is raised
instead and the folder's ACL cannot be used until the file is repaired.
Lines longer than Courier's read buffer (8191 bytes) are treated as corrupt
in the same way (Courier would cut them into pieces).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from postillion.maildir import names
from postillion.maildir.errors import CorruptControlFile, InvalidMailboxName, MaildirError
from postillion.maildir.filenames import new_unique_name

ACL_FILE = "courierimapacl"
HIERACL_DIR = "courierimaphieracl"

RIGHT_ADMINISTER = "a"
RIGHT_CREATE = "c"
RIGHT_EXPUNGE = "e"
RIGHT_INSERT = "i"
RIGHT_LOOKUP = "l"
RIGHT_POST = "p"
RIGHT_READ = "r"
RIGHT_SEEN = "s"
RIGHT_DELETEMSGS = "t"
RIGHT_WRITE = "w"
RIGHT_DELETEFOLDER = "x"
# RFC 2086's "d" is kept on disk as these three letters.
RIGHT_DELETE_SPECIAL = "d"
DELETE_EXPANSION = "etx"
ALL_RIGHTS = "aceilrstwx"

OWNER = "owner"
ANYONE = "anyone"
ANONYMOUS = "anonymous"
AUTHUSER = "authuser"
ADMINISTRATORS = "administrators"
GROUP_ADMINISTRATORS = "group=administrators"

# Courier reads the file with fgets() into a BUFSIZ (8192) buffer.
MAX_LINE = 8191
# courierimaphieracl entries of vanished folders are removed only when older
# than this, so that a folder being created right now keeps its ACL.
HIERACL_STALE_SECONDS = 3600

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


class AclError(MaildirError):
    """Base of the ACL errors."""


class InvalidAclEntry(AclError, ValueError):
    """An identifier or a rights string Courier refuses (``Invalid argument``).

    Identifiers must be non-empty and free of spaces and control characters;
    rights must be free of spaces and control characters.
    """


class AclChangeRefused(AclError):
    """The new ACL would take away rights that must stay.

    ``identifier`` is the identity that would lose ``l`` or ``a`` (``owner``),
    which Courier reports as ``Trying to set invalid access rights for
    <identifier>``; it is None when ``administrators`` would lose one of
    ``aceilrstwx`` (Courier says only ``Invalid argument``).
    """

    def __init__(self, identifier: str | None) -> None:
        if identifier is None:
            super().__init__("administrators must keep all rights")
        else:
            super().__init__(f"Trying to set invalid access rights for {identifier}")
        self.identifier = identifier


def _b(text: str) -> bytes:
    return text.encode(_ENCODING, _ERRORS)


def _s(data: bytes) -> str:
    return data.decode(_ENCODING, _ERRORS)


def _has_control_or_space(data: bytes) -> bool:
    return any(byte <= 0x20 for byte in data)


def normalize_rights(rights: str) -> str:
    """Sort the letters by byte value and drop duplicates (Courier's order).

    Raises :class:`InvalidAclEntry` for a space or a control character.
    Letters outside the standard set are kept, as Courier keeps them.
    """
    raw = _b(rights)
    if _has_control_or_space(raw):
        raise InvalidAclEntry(f"invalid access rights {rights!r}")
    return _s(bytes(sorted(set(raw))))


def add_rights(rights: str, more: str) -> str:
    """The union of two rights strings (``more`` is validated)."""
    return normalize_rights(rights + more)


def remove_rights(rights: str, less: str) -> str:
    """``rights`` without any letter of ``less`` (``less`` is not validated)."""
    drop = set(_b(less))
    return _s(bytes(byte for byte in _b(rights) if byte not in drop))


def validate_identifier(identifier: str) -> None:
    """Raise :class:`InvalidAclEntry` for an identifier Courier would refuse."""
    raw = _b(identifier)
    if not raw or _has_control_or_space(raw):
        raise InvalidAclEntry(f"invalid ACL identifier {identifier!r}")


@dataclass(frozen=True, slots=True)
class AclEntry:
    """One line of an ACL file."""

    identifier: str
    rights: str

    @property
    def negative(self) -> bool:
        return self.identifier.startswith("-")


@dataclass(frozen=True, slots=True)
class Acl:
    """An ordered list of entries; identifiers are unique."""

    entries: tuple[AclEntry, ...] = ()

    def lookup(self, identifier: str) -> str | None:
        """The rights of ``identifier`` (exact match), or None."""
        for entry in self.entries:
            if entry.identifier == identifier:
                return entry.rights
        return None

    def with_rights(self, identifier: str, rights: str) -> Acl:
        """Replace the entry in place, or append it at the end (as Courier does)."""
        validate_identifier(identifier)
        rights = normalize_rights(rights)
        new = AclEntry(identifier, rights)
        entries = list(self.entries)
        for index, entry in enumerate(entries):
            if entry.identifier == identifier:
                entries[index] = new
                return Acl(tuple(entries))
        entries.append(new)
        return Acl(tuple(entries))

    def without(self, identifier: str) -> Acl:
        """Remove the entry of ``identifier``; no entry is not an error."""
        return Acl(tuple(e for e in self.entries if e.identifier != identifier))

    def to_bytes(self) -> bytes:
        """The file contents, ``identifier rights\\n`` per entry."""
        return b"".join(_b(e.identifier) + b" " + _b(e.rights) + b"\n" for e in self.entries)

    @classmethod
    def parse(cls, data: bytes, path: str = ACL_FILE) -> Acl:
        """Parse a file's contents, without the administrators fix-up.

        See the module docstring for what happens to bad lines.
        """
        acl = cls()
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for number, line in enumerate(lines, 1):
            identifier, _, rest = line.partition(b" ")
            rights = rest.lstrip(b" ")
            bad = (
                len(line) > MAX_LINE
                or not identifier
                or _has_control_or_space(identifier)
                or _has_control_or_space(rights)
            )
            if bad:
                if line.startswith(b"-"):
                    raise CorruptControlFile(
                        path, f"line {number}: unreadable negative entry; "
                        "ignoring it would widen access")
                continue
            # A later line for the same identifier replaces the earlier one.
            acl = acl.with_rights(_s(identifier), _s(rights))
        return acl

    def with_default_admin(self) -> Acl:
        """Courier's fix-up after every read: administrators keep every right.

        ``group=administrators`` (if present, else ``administrators``, added
        when missing) gets all of ``aceilrstwx``; the negative entries
        ``-administrators`` and ``-group=administrators`` are dropped.
        """
        acl = self
        existing = acl.lookup(GROUP_ADMINISTRATORS)
        if existing is not None:
            acl = acl.with_rights(GROUP_ADMINISTRATORS, add_rights(ALL_RIGHTS, existing))
        else:
            old = acl.lookup(ADMINISTRATORS) or ""
            acl = acl.with_rights(ADMINISTRATORS, add_rights(ALL_RIGHTS, old))
        return acl.without("-" + ADMINISTRATORS).without("-" + GROUP_ADMINISTRATORS)


DEFAULT_ACL = Acl((AclEntry(OWNER, ALL_RIGHTS),)).with_default_admin()


# -- evaluation -------------------------------------------------------------


def _identifier_applies(identifier: str, matches: Callable[[str], bool]) -> bool:
    if identifier in (ANYONE, ANONYMOUS):
        return True
    if identifier in (ADMINISTRATORS, GROUP_ADMINISTRATORS):
        return matches(ADMINISTRATORS) or matches(GROUP_ADMINISTRATORS)
    return matches(identifier)


def compute(acl: Acl, matches: Callable[[str], bool], *, owner_gets_admin: bool = True) -> str:
    """Effective rights (ACL2=UNION) for an identity described by ``matches``.

    The union of the rights of every positive entry that applies, minus the
    union of every negative entry that applies (order does not matter).
    ``anyone``/``anonymous`` always apply.  When ``matches("owner")`` and
    ``owner_gets_admin``, ``a`` is added at the end: the owner can always
    repair the ACL.
    """
    granted: set[int] = set()
    for entry in acl.entries:
        if not entry.negative and _identifier_applies(entry.identifier, matches):
            granted.update(_b(entry.rights))
    for entry in acl.entries:
        if entry.negative and _identifier_applies(entry.identifier[1:], matches):
            granted.difference_update(_b(entry.rights))
    if owner_gets_admin and matches(OWNER):
        granted.add(ord(RIGHT_ADMINISTER))
    return _s(bytes(sorted(granted)))


def _option_list(options: str | Iterable[str]) -> list[str]:
    if isinstance(options, str):
        return [part for part in options.split(",") if part]
    return [part for part in options if part]


def identities(login: str, options: str | Iterable[str] = "", *,
               owner_login: str | None = None) -> frozenset[str]:
    """The ACL identifiers an account answers to (besides ``anyone``).

    ``user=LOGIN``; ``owner`` when the account owns the folder; every
    ``group=NAME`` among the account's options (``OPTIONS``: comma-separated;
    ``group=administrators`` makes it an administrator).  Unix groups never
    count.
    """
    found = {f"user={login}"}
    if owner_login is not None and owner_login == login:
        found.add(OWNER)
    found.update(opt for opt in _option_list(options) if opt.startswith("group="))
    return frozenset(found)


def rights_for(acl: Acl, login: str, options: str | Iterable[str] = "", *,
               owner_login: str | None = None) -> str:
    """Effective rights of an account on a folder owned by ``owner_login``."""
    ids = identities(login, options, owner_login=owner_login)
    return compute(acl, ids.__contains__)


def check_writable(acl: Acl, owner: str | None = OWNER) -> None:
    """Courier's checks before an ACL is saved; raise :class:`AclChangeRefused`.

    ``owner`` (and the given ``owner`` identifier) must keep ``l`` and ``a``;
    administrators must keep all of ``aceilrstwx``.
    """
    def keeps_minimum(rights: str) -> bool:
        return RIGHT_LOOKUP in rights and RIGHT_ADMINISTER in rights

    owner_rights = compute(acl, lambda ident: ident == OWNER, owner_gets_admin=False)
    if not keeps_minimum(owner_rights):
        raise AclChangeRefused(OWNER)
    if owner:
        rights = compute(acl, lambda ident: ident in (OWNER, owner), owner_gets_admin=False)
        if not keeps_minimum(rights):
            raise AclChangeRefused(owner)
    admin_rights = compute(acl, lambda ident: ident == ADMINISTRATORS)
    if any(letter not in admin_rights for letter in ALL_RIGHTS):
        raise AclChangeRefused(None)


# -- edits ------------------------------------------------------------------


def set_entry(acl: Acl, identifier: str, rights: str) -> Acl:
    """``maildiracl -set``: ``+abc`` adds, ``-abc`` removes, else replaces.

    The entry stays even when its rights become empty.
    """
    old = acl.lookup(identifier) or ""
    if rights.startswith("+"):
        new = add_rights(old, rights[1:]) if rights[1:] else old
    elif rights.startswith("-"):
        new = remove_rights(old, rights[1:])
    else:
        new = normalize_rights(rights)
    return acl.with_rights(identifier, new)


def apply_setacl(acl: Acl, identifier: str, rights: str) -> Acl:
    """IMAP SETACL on disk identifiers, with RFC rights (``d`` -> ``etx``).

    ``+`` adds, ``-`` removes (an entry left empty is deleted), an empty
    string deletes the entry, anything else replaces it.
    """
    old = acl.lookup(identifier)
    if rights.startswith("+"):
        return acl.with_rights(identifier, add_rights(from_rfc4314(rights[1:]), old or ""))
    if rights.startswith("-"):
        new = remove_rights(old or "", _expand_delete(rights[1:]))
        return acl.without(identifier) if not new else acl.with_rights(identifier, new)
    if not rights:
        return acl.without(identifier)
    return acl.with_rights(identifier, from_rfc4314(rights))


# -- RFC 4314 presentation ------------------------------------------------


def _expand_delete(rights: str) -> str:
    if RIGHT_DELETE_SPECIAL not in rights:
        return rights
    return rights.replace(RIGHT_DELETE_SPECIAL, "") + "xte"


def from_rfc4314(rights: str) -> str:
    """Rights from SETACL to disk form: ``d`` is stored as ``etx``."""
    return normalize_rights(_expand_delete(rights))


def to_rfc4314(rights: str) -> str:
    """Disk rights as GETACL/MYRIGHTS show them.

    ``e``, ``t``, ``x`` are never shown; when all three are present a ``d``
    takes the place of the ``e`` (``aceilrstwx`` -> ``acdilrsw``).
    """
    if all(letter in rights for letter in DELETE_EXPANSION):
        index = rights.index(RIGHT_EXPUNGE)
        rights = rights[:index] + RIGHT_DELETE_SPECIAL + rights[index + 1:]
    return "".join(ch for ch in rights if ch not in DELETE_EXPANSION)


def to_list_extension(rights: str) -> str:
    """Disk rights as Courier's ``LIST (ACL)`` and ``[MYRIGHTS]`` show them.

    With all of ``e t x`` the same as :func:`to_rfc4314`; otherwise the disk
    string unchanged (``e``, ``t``, ``x`` shown as they are).
    """
    if all(letter in rights for letter in DELETE_EXPANSION):
        return to_rfc4314(rights)
    return rights


def imap_identifier_to_disk(identifier: str) -> str:
    """``bob`` -> ``user=bob``, ``-bob`` -> ``-user=bob``; special names as given.

    Raises :class:`InvalidAclEntry` for an identifier with ``=`` (IMAP
    clients may not name ``user=``/``group=`` entries directly).
    """
    negative = identifier.startswith("-")
    bare = identifier[1:] if negative else identifier
    if bare in (ANYONE, ANONYMOUS, AUTHUSER, OWNER, ADMINISTRATORS):
        return identifier
    if "=" in bare:
        raise InvalidAclEntry("Invalid ACL identifier.")
    return ("-" if negative else "") + "user=" + bare


def disk_identifier_to_imap(identifier: str) -> str:
    """``user=bob`` -> ``bob``, ``-user=bob`` -> ``-bob``; others unchanged."""
    negative = identifier.startswith("-")
    bare = identifier[1:] if negative else identifier
    if bare.startswith("user="):
        return ("-" if negative else "") + bare[len("user="):]
    return identifier


# -- files ------------------------------------------------------------------


def _levels(name: str) -> list[str]:
    """Validated hierarchy levels of a folder name (``[]`` for INBOX)."""
    return names.components(name)


def acl_file_path(maildir: str, name: str) -> str:
    """``<folder dir>/courierimapacl`` (INBOX's is in the maildir itself)."""
    return os.path.join(names.folder_path(maildir, name), ACL_FILE)


def hieracl_path(maildir: str, name: str) -> str:
    """``<maildir>/courierimaphieracl/<name without INBOX.>``; INBOX has none."""
    levels = _levels(name)
    if not levels:
        raise InvalidMailboxName("INBOX has no courierimaphieracl entry")
    entry = names.SEPARATOR.join(levels)
    # Levels are non-empty and contain no "/", so the entry is one file name
    # that is neither "." nor "..": it cannot leave the directory.
    return os.path.join(maildir, HIERACL_DIR, entry)


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _read_own(maildir: str, name: str) -> Acl | None:
    """The folder's own ACL (its file, else its hieracl entry), or None."""
    path = acl_file_path(maildir, name)
    data = _read_file(path)
    if data is None:
        if names.normalize(name) == names.INBOX:
            return DEFAULT_ACL
        path = hieracl_path(maildir, name)
        data = _read_file(path)
        if data is None:
            return None
    return Acl.parse(data, path).with_default_admin()


def read_acl(maildir: str, name: str) -> Acl:
    """The ACL of folder ``name`` (``INBOX``, ``INBOX.A.B``), as Courier reads it.

    A folder without an ACL of its own gets its parent's (recursively), and
    that copy is saved for it, exactly as Courier does (the saving can
    therefore raise the errors of :func:`write_acl`).
    """
    normal = names.normalize(name)
    own = _read_own(maildir, normal)
    if own is not None:
        return own
    parent = names.parent_of(normal)
    assert parent is not None  # INBOX always has an ACL (the default)
    inherited = read_acl(maildir, parent)
    write_acl(maildir, normal, inherited, owner=None)
    return inherited


def peek_acl(maildir: str, name: str) -> Acl:
    """The ACL :func:`read_acl` would give, without saving an inherited copy.

    For readers that must not write into the maildir they look at (a
    grantee probing another user's folder that may not exist).
    """
    normal = names.normalize(name)
    while True:
        own = _read_own(maildir, normal)
        if own is not None:
            return own
        parent = names.parent_of(normal)
        assert parent is not None  # INBOX always has an ACL (the default)
        normal = parent


def copy_parent_acl(maildir: str, name: str) -> Acl:
    """Give a new folder its parent's ACL, as IMAP CREATE does; return it.

    A folder that already has an ACL (its own file, or a
    ``courierimaphieracl`` entry from when it was a virtual parent) keeps it.
    """
    return read_acl(maildir, name)


def _write_temp(directory: str, data: bytes) -> str:
    """Write ``data`` to a new file in ``directory/tmp``; return its path."""
    unique = new_unique_name("_acl", counter=True)
    path = os.path.join(directory, "tmp", unique.tmp_name())
    # 0644 filtered by the umask, like Courier's maildir_tmpcreate.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)
    return path


def write_acl(maildir: str, name: str, acl: Acl, *, owner: str | None = OWNER) -> None:
    """Save the ACL of ``name`` atomically (temp file, then rename).

    Runs :func:`check_writable` first.  The file goes into the folder's
    directory when its ``tmp/`` can take a temp file, else into
    ``courierimaphieracl/`` (created 0755 when missing).
    """
    normal = names.normalize(name)
    check_writable(acl, owner)
    data = acl.to_bytes()
    folder_dir = names.folder_path(maildir, normal)
    try:
        temp = _write_temp(folder_dir, data)
    except OSError:
        if normal == names.INBOX:
            raise
        temp = _write_temp(maildir, data)
        target = hieracl_path(maildir, normal)
        try:
            os.rename(temp, target)
        except OSError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.dirname(target), 0o755)
            try:
                os.rename(temp, target)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        return
    try:
        os.rename(temp, os.path.join(folder_dir, ACL_FILE))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def set_rights(maildir: str, name: str, identifier: str, rights: str) -> Acl:
    """``maildiracl -set``: read, change one entry (see :func:`set_entry`), save."""
    acl = set_entry(read_acl(maildir, name), identifier, rights)
    write_acl(maildir, name, acl)
    return acl


def delete_entry(maildir: str, name: str, identifier: str) -> Acl:
    """``maildiracl -delete``: read, remove one entry, save."""
    acl = read_acl(maildir, name).without(identifier)
    write_acl(maildir, name, acl)
    return acl


def delete_acl_files(maildir: str, name: str) -> None:
    """Forget a deleted folder's ACL: its file and its hieracl entry."""
    normal = names.normalize(name)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(acl_file_path(maildir, normal))
    if normal != names.INBOX:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(hieracl_path(maildir, normal))


def _existing_folders(maildir: str) -> list[str]:
    """Folder names below INBOX whose directory has a usable ``cur/``."""
    found: list[str] = []
    try:
        entries = os.listdir(maildir)
    except OSError:
        return found
    for entry in entries:
        if not entry.startswith(names.SEPARATOR) or entry in (".", ".."):
            continue
        if os.access(os.path.join(maildir, entry, "cur", "."), os.X_OK):
            found.append(entry[1:])
    return found


def reset_hieracl(maildir: str, now: float | None = None) -> list[str]:
    """``maildiracl -reset``: remove stale ``courierimaphieracl`` entries.

    An entry stays while it names a proper parent of an existing folder;
    others are removed once older than an hour.  Creates the directory
    (0755) when missing.  Returns the names removed.
    """
    directory = os.path.join(maildir, HIERACL_DIR)
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        with contextlib.suppress(OSError):
            os.mkdir(directory, 0o755)
        entries = []
    except OSError:
        entries = []
    candidates = [entry for entry in entries if not entry.startswith(".")]
    folders = _existing_folders(maildir)
    keep = {c for c in candidates if any(f.startswith(c + ".") for f in folders)}
    limit = (time.time() if now is None else now) - HIERACL_STALE_SECONDS
    removed = []
    for entry in candidates:
        if entry in keep:
            continue
        path = os.path.join(directory, entry)
        try:
            if os.stat(path).st_mtime < limit:
                os.unlink(path)
                removed.append(entry)
        except OSError:
            continue
    return removed
