"""Courier's shared index: the accounts behind the ``#shared.`` namespace.

The index (``IMAP_SHAREDINDEXFILE``, packaged ``/etc/courier/shared/index``)
is a text file, one line per account, fields separated by TABs::

    share_name <TAB> uid <TAB> gid <TAB> home [<TAB> maildir [<TAB> options]]
    group_name <TAB> * <TAB> index_file

Rules, as Courier 5's reader (courier-libs ``maildirnewshared.C``) applies
them:

* A ``#`` anywhere starts a comment; blank lines are skipped.
* ``uid`` and ``gid`` are read as their leading decimal digits; a value of 0
  (or no digits) makes the line a syntax error, so root's entries are never
  used.  A line without a TAB after the name (fields separated by spaces, as
  the book prints them) is a syntax error too.  Courier logs
  ``ERR: <file>(<line>): syntax error.`` and goes on; we log one warning per
  line and report it in :attr:`SharedTree.problems`.
* ``maildir`` defaults to ``./Maildir``; an absolute one is used as it is, a
  relative one is taken under ``home``.  Options are ignored by the reader.
* A group line's file is relative to the directory of the file that
  contains the line (Courier concatenates, so ``/abs`` also ends up there);
  group files nest.  A group file that includes itself, directly or not, is
  reported and not followed (Courier would recurse until it crashes).
* Share and group names are UTF-8.  In the IMAP name a ``.`` or ``/`` is
  replaced by a space, or, with ``IMAP_SHAREDMUNGENAMES=1``, ``.`` by ``\\:``,
  ``/`` by ``\\;`` and ``\\`` by ``\\\\`` (:func:`munge_name`).  Two names that
  end up the same at one level are a *clash*: Courier merges them silently
  (LIST shows the folders of both under one name, SELECT opens the last
  one); here the first in file order is used, the others are reported by
  :meth:`SharedTree.clashes` and logged, never merged.
* At listing time an entry whose maildir does not exist (``stat`` fails), or
  which is the session's own maildir (same device and inode), is left out
  (:meth:`SharedAccount.available`).

``sharedgroup=NAME`` in an account's options selects the index file
``IMAP_SHAREDINDEXFILE`` + ``NAME`` (string concatenation) *instead of* the
main one (:func:`index_file_for`); ``disableshared`` switches the namespace
off (the caller checks it).

Names in this module are UTF-8 (as on disk); the IMAP layer converts to and
from modified UTF-7.  Munging commutes with that conversion, because ``.``,
``/`` and ``\\`` are never produced by the modified UTF-7 encoder.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)

DEFAULT_INDEX_FILE = "/etc/courier/shared/index"
DEFAULT_MAILDIR = "./Maildir"
NAMESPACE = "#shared"
SEPARATOR = "."
GROUP_MARK = "*"

_UID_MODULUS = 2**32  # uid_t/gid_t are 32 bits; Courier's parser wraps silently


@dataclass(frozen=True, slots=True)
class IndexProblem:
    """A line of an index file that is not used, and why."""

    path: str
    line: int
    text: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}({self.line}): {self.reason}"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """An account line: ``name uid gid home [maildir]``."""

    name: str
    uid: int
    gid: int
    home: str
    maildir: str
    path: str
    line: int

    @property
    def location(self) -> str:
        """The maildir as Courier computes it: absolute, or ``home/maildir``."""
        if self.maildir.startswith("/"):
            return self.maildir
        return self.home + "/" + self.maildir


@dataclass(frozen=True, slots=True)
class IndexGroup:
    """A group line: ``name * file``; ``file`` is resolved against the index's directory."""

    name: str
    file: str
    path: str
    line: int


IndexLine = IndexEntry | IndexGroup


def _leading_number(text: str) -> int:
    digits = ""
    for char in text:
        if not "0" <= char <= "9":
            break
        digits += char
    return int(digits) % _UID_MODULUS if digits else 0


def _resolve_group_file(index_path: str, field: str) -> str:
    # Courier: directory part of the index path (with its slash) + field.
    directory = index_path[: index_path.rfind("/") + 1]
    return os.path.normpath(directory + field) if directory + field else field


def parse_line(text: str, path: str, number: int) -> IndexLine | IndexProblem | None:
    """One line (without its newline): an entry, a group, a problem, or None (blank)."""
    line = text.split("#", 1)[0]
    if not line:
        return None
    name, tab, rest = line.partition("\t")
    if not tab:
        if " " in line.strip():
            reason = "syntax error: fields separated by spaces, not TABs"
        else:
            reason = "syntax error: no TAB-separated fields"
        return IndexProblem(path, number, text, reason)
    if not name:
        return IndexProblem(path, number, text, "syntax error: empty share name")
    if rest.startswith(GROUP_MARK):
        _mark, tab, file_field = rest.partition("\t")
        file_field = file_field.split("\t", 1)[0]
        if not tab or not file_field:
            return IndexProblem(path, number, text, "syntax error: group line without a file")
        return IndexGroup(name, _resolve_group_file(path, file_field), path, number)
    fields = rest.split("\t")
    if len(fields) < 3:
        return IndexProblem(path, number, text, "syntax error: fewer than four fields")
    uid = _leading_number(fields[0])
    gid = _leading_number(fields[1])
    if uid == 0:
        return IndexProblem(path, number, text, "syntax error: uid 0 (or not a number)")
    if gid == 0:
        return IndexProblem(path, number, text, "syntax error: gid 0 (or not a number)")
    home = fields[2]
    maildir = fields[3] if len(fields) > 3 and fields[3] else DEFAULT_MAILDIR
    return IndexEntry(name, uid, gid, home, maildir, path, number)


def parse_index(data: bytes, path: str) -> tuple[list[IndexLine], list[IndexProblem]]:
    """Every line of an index file's contents, in file order."""
    lines: list[IndexLine] = []
    problems: list[IndexProblem] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Courier cannot convert such a name to an IMAP name and gives up.
            problems.append(IndexProblem(path, number, raw.decode("utf-8", "replace"),
                                         "not valid UTF-8"))
            continue
        parsed = parse_line(text, path, number)
        if isinstance(parsed, IndexProblem):
            problems.append(parsed)
        elif parsed is not None:
            lines.append(parsed)
    return lines, problems


def read_index(path: str) -> tuple[list[IndexLine], list[IndexProblem]]:
    """Parse the file at ``path``; a missing or unreadable file has no lines
    (Courier shows an empty namespace) and one problem."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return [], [IndexProblem(path, 0, "", f"cannot read: {error.strerror or error}")]
    return parse_index(data, path)


def munge_name(name: str, complex_munging: bool = False) -> str:
    """A share or group name as one IMAP hierarchy level.

    Default: ``.`` and ``/`` become a space.  ``IMAP_SHAREDMUNGENAMES=1``
    (``complex_munging``): ``.`` -> ``\\:``, ``/`` -> ``\\;``, ``\\`` -> ``\\\\``,
    which keeps names apart that the default would merge.
    """
    if not complex_munging:
        return name.replace(".", " ").replace("/", " ")
    return name.replace("\\", "\\\\").replace(".", "\\:").replace("/", "\\;")


def index_file_for(base: str, sharedgroup: str | None) -> str:
    """The index a user reads: ``base`` + ``sharedgroup`` (no separator), or ``base``."""
    return base + sharedgroup if sharedgroup else base


# -- the resolved tree ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SharedAccount:
    """An account reachable under ``#shared.``: its IMAP levels and its maildir."""

    levels: tuple[str, ...]
    entry: IndexEntry
    group: str | None

    @property
    def shared_name(self) -> str:
        """``#shared.<group>...<share>``: the name of the owner's INBOX."""
        return SEPARATOR.join((NAMESPACE, *self.levels))

    @property
    def maildir(self) -> str:
        return self.entry.location

    @property
    def owner_identifier(self) -> str:
        """Courier's ``owner`` of these folders: ``user=<innermost group name>``, or
        ``vendor=courier.internal`` at the top level (which nobody matches)."""
        return "vendor=courier.internal" if self.group is None else "user=" + self.group

    def folder_name(self, folder: str) -> str:
        """``INBOX`` -> ``#shared.x``; ``INBOX.A`` -> ``#shared.x.A``."""
        if folder == "INBOX":
            return self.shared_name
        return self.shared_name + folder[len("INBOX"):]

    def available(self, own: os.stat_result | None = None) -> bool:
        """Listed at all: the maildir exists and is not ``own`` (the session's maildir)."""
        try:
            found = os.stat(self.maildir)
        except OSError:
            return False
        return not (own is not None and found.st_dev == own.st_dev
                    and found.st_ino == own.st_ino)


@dataclass(frozen=True, slots=True)
class ShareClash:
    """Lines whose names munge to the same IMAP name; only the first is used."""

    shared_name: str
    lines: tuple[tuple[str, int, str], ...]  # (index file, line number, raw name)

    def __str__(self) -> str:
        where = ", ".join(f"{path}({line}) {name!r}" for path, line, name in self.lines)
        return f"{self.shared_name}: {where}"


@dataclass(frozen=True, slots=True)
class SharedTree:
    """Everything one index file (and the group files it names) offers."""

    index_file: str
    accounts: tuple[SharedAccount, ...]
    groups: tuple[str, ...]
    problems: tuple[IndexProblem, ...]
    clash_list: tuple[ShareClash, ...]
    by_levels: dict[tuple[str, ...], SharedAccount] = field(
        default_factory=dict, compare=False, repr=False)
    _by_maildir: dict[str, list[SharedAccount]] = field(
        default_factory=dict, compare=False, repr=False)

    def clashes(self) -> list[ShareClash]:
        """Names that munge to the same IMAP name (reported, never merged)."""
        return list(self.clash_list)

    def find(self, mailbox: str) -> tuple[SharedAccount, str] | None:
        """``#shared.x.y.Folder`` -> (the account, ``INBOX.Folder``), or None.

        A group's own name (``#shared.x``) is not an account: None.
        """
        prefix = NAMESPACE + SEPARATOR
        if not mailbox.startswith(prefix):
            return None
        parts = mailbox[len(prefix):].split(SEPARATOR)
        for size in range(1, len(parts) + 1):
            account = self.by_levels.get(tuple(parts[:size]))
            if account is not None:
                rest = parts[size:]
                if any(not level for level in rest):
                    return None
                return account, SEPARATOR.join(("INBOX", *rest))
        return None

    def by_maildir(self) -> dict[str, list[SharedAccount]]:
        """Accounts keyed by :func:`maildir_key` (one maildir may be shared twice)."""
        # Computed once per tree (a session's every LIST asks; 10,000 accounts
        # cost tens of milliseconds of path normalisation).
        if not self._by_maildir and self.accounts:
            result: dict[str, list[SharedAccount]] = {}
            for account in self.accounts:
                result.setdefault(maildir_key(account.maildir), []).append(account)
            self._by_maildir.update(result)
        return self._by_maildir


def maildir_key(path: str) -> str:
    """The normalised absolute path used to match maildirs across files."""
    return os.path.normpath(os.path.abspath(path))


_warned: set[tuple[str, int, str]] = set()


def _warn_once(problem: IndexProblem) -> None:
    key = (problem.path, problem.line, problem.reason)
    if key in _warned:
        return
    _warned.add(key)
    LOG.warning("shared index %s: line ignored: %r", problem, problem.text)


def _directory_identity(index_file: str) -> tuple[int, int] | None:
    try:
        info = os.stat(os.path.dirname(os.path.abspath(index_file)))
    except OSError:
        return None
    return info.st_dev, info.st_ino


def load_tree(index_file: str, complex_munging: bool = False) -> SharedTree:
    """Read ``index_file`` and every group file below it into a :class:`SharedTree`.

    Problems (syntax errors, uid 0, space-separated lines, unreadable or
    self-including group files, clashes) are logged once each and kept in the
    result; they never raise.  When ``sharedindexinstall`` swaps the index
    directory while the files are being read, they are read again, so the
    tree never mixes two generations of the set.
    """
    for _attempt in range(3):
        before = _directory_identity(index_file)
        tree = _load_tree(index_file, complex_munging)
        if _directory_identity(index_file) == before:
            break
    return tree


def _load_tree(index_file: str, complex_munging: bool) -> SharedTree:
    accounts: list[SharedAccount] = []
    groups: list[str] = []
    problems: list[IndexProblem] = []
    clashes: list[ShareClash] = []

    def walk(path: str, levels: tuple[str, ...], group: str | None,
             stack: tuple[str, ...]) -> None:
        # An unreadable group file is an empty hierarchy, as in Courier.
        lines, found = read_index(path)
        problems.extend(found)
        seen: dict[str, list[tuple[str, int, str]]] = {}
        for item in lines:
            level = munge_name(item.name, complex_munging)
            where = (item.path, item.line, item.name)
            if level in seen:
                seen[level].append(where)
                continue
            seen[level] = [where]
            if isinstance(item, IndexGroup):
                real = os.path.realpath(item.file)
                if real in stack:
                    problems.append(IndexProblem(item.path, item.line, item.name,
                                                 f"group file {item.file} includes itself"))
                    continue
                groups.append(SEPARATOR.join((NAMESPACE, *levels, level)))
                walk(item.file, (*levels, level), item.name, (*stack, real))
            else:
                accounts.append(SharedAccount((*levels, level), item, group))
        for level, wheres in seen.items():
            if len(wheres) > 1:
                clashes.append(ShareClash(SEPARATOR.join((NAMESPACE, *levels, level)),
                                          tuple(wheres)))

    walk(index_file, (), None, (os.path.realpath(index_file),))
    for problem in problems:
        if problem.line:  # a missing main index is normal (Debian ships none)
            _warn_once(problem)
    for clash in clashes:
        key = (clash.shared_name, 0, str(clash))
        if key not in _warned:
            _warned.add(key)
            LOG.warning("shared index: names clash, only the first is used: %s", clash)
    return SharedTree(index_file, tuple(accounts), tuple(groups), tuple(problems),
                      tuple(clashes), {account.levels: account for account in accounts})


def find_clashes(index_file: str, complex_munging: bool = False) -> list[ShareClash]:
    """The clashes of one index tree (for the tools and the server's start-up check)."""
    return load_tree(index_file, complex_munging).clashes()
