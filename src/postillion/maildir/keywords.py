"""IMAP keywords in ``courierimapkeywords/``, read and written as Courier does.

Layout (Courier's README.imapkeywords, checked against Courier 5.0.13):

* ``:list``: keyword names one a line, an empty line, then
  ``<basename>:<idx> <idx>...`` with 0-based indexes into the names.  Only
  messages with keywords appear; readers must not assume any order.
* Update files, one per message: ``<basename>`` (plain: the newest, written
  by an updater) or ``.<N>.<basename>`` with N = time()/300, one keyword a
  line (an empty file: no keywords).

Every reader *merges*: it folds the update files into ``:list`` (rewriting it
through ``tmp/`` and a rename when something changed), renames each plain
file to ``.<T+1>.<basename>`` (T = now/300), removes older ``.<N>.`` copies
and a lone ``.<N>.`` file with N < T, removes scratch ``.tmp.*`` files older
than two minutes and, when it knows which messages exist, update files of
absent messages once their mtime is 15 minutes old (younger ones may belong
to a message delivered a moment ago).  ``:list`` lines of absent messages
are dropped.  If an update file vanishes while being read, everything is
read again.

Writers: replacing a message's keywords renames a file from ``tmp/`` over
``courierimapkeywords/<basename>`` (maildirkw's default, imapd's
imapscan_updateKeywords); adding/removing reads the merged state, then links
a scratch file to the plain name, and starts again when that name exists
(another writer won the race) - Courier's atomic update.

Keyword case: Courier folds ASCII case (``Foo`` and ``foo`` are one keyword;
the spelling seen first wins) unless ``case_sensitive`` (``maildirkw -c``;
Courier's imapd always folds for IMAP).  The order of names in ``:list``
follows Courier's keyword hash table, so a file we rewrite is byte for byte
what Courier would write.  imapd also replaces the characters
``" (){%*\\"\\\\]"`` with ``_`` when it reads names; pass ``forbidden`` to get
the same view.

Damage: unreadable ``:list`` lines (no ``:``, junk indexes) and junk names
are ignored the way Courier ignores them, other messages keep their
keywords, and the next merge rewrites the file.  A NUL byte ends a line
(Courier reads C strings).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from postillion.maildir.errors import MaildirError
from postillion.maildir.filenames import new_unique_name

KEYWORD_DIR = "courierimapkeywords"
LIST_FILE = ":list"
# Update files are named after time()/300: one "generation" per 5 minutes.
GENERATION_SECONDS = 300
# Update files of messages not (yet) seen in cur/ or new/ survive this long.
ORPHAN_SECONDS = 15 * 60
# Scratch files (.tmp.<time>...) younger than this belong to a live writer.
SCRATCH_SECONDS = 120
# imapd's forbidden keyword characters (replaced by "_").
IMAP_FORBIDDEN = ' (){%*"\\]'
_HASH_BUCKETS = 43
_MAX_ATTEMPTS = 1000
_U64 = (1 << 64) - 1


class InvalidKeyword(MaildirError, ValueError):
    """A keyword that cannot be stored (empty, newline or NUL in it)."""


class InvalidMessageName(MaildirError, ValueError):
    """A message base name that is not one file name inside the keyword dir."""


def _fold(name: bytes) -> bytes:
    """ASCII lower case, as C's tolower() in the C locale."""
    return name.lower()


def _bucket(name: bytes, case_sensitive: bool) -> int:
    """Courier's keyword hash: the bucket that decides the order in ``:list``."""
    value = 0
    for byte in name if case_sensitive else _fold(name):
        value = ((value << 1) ^ (0x1301 if value & 0x8000 else 0) ^ byte) & _U64
    return (value & 0xFFFF) % _HASH_BUCKETS


def _atoul(text: bytes) -> int | None:
    """C's atoi() for an index token; None when it would be negative."""
    text = text.lstrip(b" \t\n\r\f\v")
    negative = text[:1] == b"-"
    if text[:1] in (b"+", b"-"):
        text = text[1:]
    digits = 0
    for byte in text:
        if not 0x30 <= byte <= 0x39:
            break
        digits = digits * 10 + byte - 0x30
    if negative and digits:
        return None
    return digits


def _leading_number(text: bytes) -> int:
    value = 0
    for byte in text:
        if not 0x30 <= byte <= 0x39:
            break
        value = value * 10 + byte - 0x30
    return value


def _c_lines(data: bytes) -> list[bytes]:
    """Lines as Courier's reader sees them: split at LF, each cut at a NUL."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.split(b"\0", 1)[0] for line in lines]


def _base(name: bytes) -> bytes:
    """A message file name without ``:2,<flags>``."""
    return name.split(b":", 1)[0]


class _Entry:
    __slots__ = ("refs", "spelling")

    def __init__(self, spelling: bytes) -> None:
        self.spelling = spelling
        self.refs = 0


class _Table:
    """Courier's keyword hash table: one spelling per name, reference counted.

    A name lives while some message (or the ``:list`` header being read)
    holds it; the spelling seen first is the one every later lookup gets.
    """

    def __init__(self, case_sensitive: bool, forbidden: bytes) -> None:
        self.case_sensitive = case_sensitive
        self.forbidden = forbidden
        self.entries: dict[bytes, _Entry] = {}

    def _key(self, name: bytes) -> bytes:
        return name if self.case_sensitive else _fold(name)

    def clean(self, name: bytes) -> bytes:
        if self.forbidden and any(b in self.forbidden for b in name):
            name = bytes(0x5F if b in self.forbidden else b for b in name)
        return name

    def find(self, name: bytes) -> bytes | None:
        entry = self.entries.get(self._key(self.clean(name)))
        return None if entry is None else entry.spelling

    def ref(self, name: bytes) -> bytes:
        """Look up (creating) and take a reference; return the spelling."""
        name = self.clean(name)
        key = self._key(name)
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry(name)
        entry.refs += 1
        return entry.spelling

    def unref(self, name: bytes) -> None:
        key = self._key(name)
        entry = self.entries[key]
        entry.refs -= 1
        if entry.refs == 0:
            del self.entries[key]

    def ordered(self) -> list[bytes]:
        """Names in Courier's enumeration order: bucket, then (case-folded) name."""
        names = [entry.spelling for entry in self.entries.values()]
        return sorted(names, key=lambda n: (_bucket(n, self.case_sensitive), self._key(n)))


class _Message:
    """The keywords of one message: spellings sorted by byte value."""

    __slots__ = ("keywords",)

    def __init__(self) -> None:
        self.keywords: list[bytes] | None = None


def _message_set(table: _Table, names: Iterable[bytes]) -> list[bytes]:
    """Reference ``names`` in the table; return the distinct spellings, sorted."""
    result: list[bytes] = []
    for name in names:
        spelling = table.find(name)
        if spelling is not None and spelling in result:
            continue
        result.append(table.ref(name))
    return sorted(result)


def _release(table: _Table, keywords: list[bytes] | None) -> None:
    for name in keywords or ():
        table.unref(name)


@dataclass
class _Update:
    highest_old: int = 0  # largest N < T seen
    highest_new: int = 0  # largest N >= T seen (plain files count as T+1)
    count: int = 0
    plain: bool = False


class _Retry(Exception):
    """An update file vanished between listing and reading: start again."""


@dataclass
class _State:
    table: _Table
    messages: dict[bytes, _Message] = field(default_factory=dict)
    generic: bool = True
    update_needed: bool = False

    def find(self, name: bytes, create: bool) -> _Message | None:
        base = _base(name.rsplit(b"/", 1)[-1])
        message = self.messages.get(base)
        if message is None and self.generic and create:
            message = self.messages[base] = _Message()
        return message


def _keyword_dir(maildir: str) -> bytes:
    return os.path.join(os.fsencode(maildir), KEYWORD_DIR.encode())


def _ensure_dir(maildir: str) -> None:
    """Create the keyword directory with the maildir's permissions (as Courier)."""
    directory = _keyword_dir(maildir)
    try:
        os.mkdir(directory, 0o700)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.chmod(directory, stat.S_IMODE(os.stat(maildir).st_mode) & 0o777)


def _import_list(state: _State, data: bytes) -> None:
    lines = _c_lines(data)
    table = state.table
    header: list[bytes] = []
    position = 0
    ended = False
    while position < len(lines):
        line = lines[position]
        position += 1
        if not line:
            ended = True
            break
        header.append(line)
    # Every name of the header is held while the message lines are read,
    # so their spellings win over later ones; unused names go afterwards.
    held = [table.ref(name) for name in header]
    if ended:
        for line in lines[position:]:
            base, colon, indexes = line.partition(b":")
            if not colon:
                state.update_needed = True
                continue
            message = state.find(base, create=True) if base else None
            if message is None:
                state.update_needed = True
                continue
            _release(table, message.keywords)
            message.keywords = None
            chosen: list[bytes] = []
            for token in indexes.split(b" "):
                if not token:
                    continue
                index = _atoul(token)
                if index is not None and index < len(held):
                    chosen.append(held[index])
            message.keywords = _message_set(table, chosen) if chosen else None
    for name in held:
        table.unref(name)


def _scan_updates(state: _State, directory: bytes, now: int,
                  present: bool) -> dict[bytes, _Update]:
    generation = now // GENERATION_SECONDS
    updates: dict[bytes, _Update] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return updates
    for entry in entries:
        name = entry.name
        path = os.path.join(directory, name)
        if name.startswith(b":"):
            continue
        number = 0
        if not name.startswith(b"."):
            target = name
        else:
            number = _leading_number(name[1:])
            if number == 0:
                if name.startswith(b".tmp."):
                    stamp = _leading_number(name[5:])
                    if stamp and stamp >= now - SCRATCH_SECONDS:
                        continue
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                continue
            dot = name.find(b".", 1)
            if dot < 0:
                continue
            target = name[dot + 1:]
        message = state.find(target, create=True) if _base(target) else None
        if message is None:
            if present:
                with contextlib.suppress(OSError):
                    if os.stat(path).st_mtime < now - ORPHAN_SECONDS:
                        os.unlink(path)
            continue
        info = updates.setdefault(_base(target), _Update())
        if not name.startswith(b"."):
            number = generation + 1
            info.plain = True
        info.count += 1
        if number >= generation:
            info.highest_new = max(info.highest_new, number)
        elif info.highest_old < number:
            if info.highest_old > 0:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(
                        directory, b".%d.%s" % (info.highest_old, target)))
            info.highest_old = number
    return updates


def _read_lines(path: bytes) -> list[bytes] | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise _Retry from None
    except OSError:
        return None
    names = []
    for line in _c_lines(data):
        if not line:
            break
        names.append(line)
    return names


def _read_updates(state: _State, directory: bytes, updates: dict[bytes, _Update]) -> None:
    table = state.table
    for base, message in state.messages.items():
        info = updates.get(base)
        if info is None:
            continue
        number = max(info.highest_old, info.highest_new)
        if number == 0:
            continue
        name = base if info.plain else b".%d.%s" % (number, base)
        lines = _read_lines(os.path.join(directory, name))
        if lines is None:
            continue
        new = _message_set(table, lines)
        old = message.keywords or []
        if not new:
            if old:
                state.update_needed = True
            _release(table, message.keywords)
            message.keywords = None
        elif new == old:
            _release(table, new)
        else:
            state.update_needed = True
            _release(table, message.keywords)
            message.keywords = new


def _export(state: _State) -> bytes | None:
    names = state.table.ordered()
    if not names:
        return None
    index = {name: number for number, name in enumerate(names)}
    out = [name + b"\n" for name in names]
    out.append(b"\n")
    for base, message in state.messages.items():
        if message.keywords:
            numbers = b" ".join(b"%d" % index[k] for k in message.keywords)
            out.append(base + b":" + numbers + b"\n")
    return b"".join(out)


def _write_tmp(maildir: str, data: bytes, suffix: str = "") -> bytes:
    """A new file in ``<maildir>/tmp`` holding ``data``; its path."""
    unique = new_unique_name(suffix, counter=True)
    path = os.path.join(os.fsencode(maildir), b"tmp", os.fsencode(unique.tmp_name()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)
    return path


def _save_list(maildir: str, directory: bytes, state: _State) -> bool:
    list_path = os.path.join(directory, LIST_FILE.encode())
    data = _export(state)
    if data is None:
        with contextlib.suppress(OSError):
            os.unlink(list_path)
        return True
    try:
        temp = _write_tmp(maildir, data)
    except OSError:
        return False
    try:
        os.rename(temp, list_path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        return False
    return True


def _purge(directory: bytes, state: _State, updates: dict[bytes, _Update], now: int) -> None:
    generation = now // GENERATION_SECONDS
    for base, info in updates.items():
        if base not in state.messages:
            continue
        if info.plain:
            with contextlib.suppress(OSError):
                os.rename(os.path.join(directory, base),
                          os.path.join(directory, b".%d.%s" % (generation + 1, base)))
        elif info.count == 1 and info.highest_old:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, b".%d.%s" % (info.highest_old, base)))


def _read_state(maildir: str, present: Iterable[str] | None, case_sensitive: bool,
                forbidden: str, now: float | None) -> _State:
    directory = _keyword_dir(maildir)
    for _attempt in range(_MAX_ATTEMPTS):
        clock = int(time.time() if now is None else now)
        state = _State(_Table(case_sensitive, os.fsencode(forbidden)), generic=present is None)
        if present is not None:
            for name in present:
                state.messages.setdefault(_base(os.fsencode(name)), _Message())
        try:
            with open(os.path.join(directory, LIST_FILE.encode()), "rb") as handle:
                data: bytes | None = handle.read()
        except OSError:
            data = None
            _ensure_dir(maildir)
        if data is not None:
            _import_list(state, data)
        updates = _scan_updates(state, directory, clock, present is not None)
        try:
            _read_updates(state, directory, updates)
        except _Retry:
            continue
        if not state.update_needed or _save_list(maildir, directory, state):
            _purge(directory, state, updates, clock)
        return state
    raise MaildirError(f"{maildir}: keyword files keep changing while being read")


def _as_text(name: bytes) -> str:
    return os.fsdecode(name)


def read_keywords(maildir: str, present: Iterable[str] | None = None, *,
                  case_sensitive: bool = False, forbidden: str = "",
                  now: float | None = None) -> dict[str, tuple[str, ...]]:
    """Merge the keyword files and return ``{basename: keywords}``.

    ``present``: the base names (or file names) of the messages in ``cur/``
    and ``new/``, as imapd knows them; entries for other messages are dropped
    and their update files removed once 15 minutes old.  None means "every
    name counts as a message", maildirkw's view (nothing is removed for being
    absent).  The dict keeps Courier's message order; keywords are sorted by
    byte value; messages may map to an empty tuple (an empty update file).
    """
    state = _read_state(maildir, present, case_sensitive, forbidden, now)
    return {
        _as_text(base): tuple(_as_text(k) for k in (message.keywords or ()))
        for base, message in state.messages.items()
    }


def message_basenames(maildir: str) -> list[str]:
    """Base names of the messages in ``new/`` and ``cur/`` (for ``present``)."""
    found: list[str] = []
    for sub in ("new", "cur"):
        with contextlib.suppress(FileNotFoundError):
            found.extend(name.split(":", 1)[0] for name in os.listdir(os.path.join(maildir, sub))
                         if not name.startswith("."))
    return found


def _check_basename(basename: str) -> bytes:
    raw = _base(os.fsencode(basename))
    if not raw or b"/" in raw or b"\0" in raw or raw.startswith(b"."):
        raise InvalidMessageName(f"{basename!r} is not a message base name")
    return raw


def _check_keywords(keywords: Iterable[str]) -> list[bytes]:
    result = []
    for keyword in keywords:
        raw = os.fsencode(keyword)
        if not raw or b"\n" in raw or b"\0" in raw:
            raise InvalidKeyword(f"invalid keyword {keyword!r}")
        result.append(raw)
    return result


def set_keywords(maildir: str, basename: str, keywords: Iterable[str], *,
                 case_sensitive: bool = False) -> None:
    """Replace a message's keywords (maildirkw's default mode, imapd's STORE FLAGS).

    Renames a file from ``tmp/`` over ``courierimapkeywords/<basename>``;
    the next reader folds it into ``:list``.  An empty list clears them.
    """
    base = _check_basename(basename)
    names = _check_keywords(keywords)
    directory = _keyword_dir(maildir)
    if not os.path.exists(os.path.join(directory, LIST_FILE.encode())):
        _ensure_dir(maildir)
    chosen = _message_set(_Table(case_sensitive, b""), names)
    temp = _write_tmp(maildir, b"".join(name + b"\n" for name in chosen))
    try:
        os.rename(temp, os.path.join(directory, base))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _link_update(maildir: str, directory: bytes, base: bytes, data: bytes) -> bool:
    """Courier's atomic update: True when done, False when another writer was first."""
    temp = _write_tmp(maildir, data)
    scratch = os.path.join(directory, b".tmp.%d%s" % (int(time.time()), os.path.basename(temp)))
    try:
        os.rename(temp, scratch)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    try:
        os.link(scratch, os.path.join(directory, base))
        # On NFS a link can succeed on the server and still report an error,
        # or the reverse; the link count is the truth (as Courier checks).
        done = os.stat(scratch).st_nlink == 2
    except FileExistsError:
        done = False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
    return done


def update_keywords(maildir: str, basename: str, *, add: Iterable[str] = (),
                    remove: Iterable[str] = (), present: Iterable[str] | None = None,
                    case_sensitive: bool = False, write_unchanged: bool = False) -> tuple[str, ...]:
    """Add and/or remove keywords of one message atomically; return the result.

    Reads (and merges) the current state, changes the one message, and links
    its new update file into place; if another writer got there first, the
    whole read-change-write starts again, so no concurrent update is lost.
    Nothing is written when nothing changes, unless ``write_unchanged``
    (maildirkw always writes).
    """
    base = _check_basename(basename)
    adding = _check_keywords(add)
    removing = _check_keywords(remove)
    present_list = None if present is None else list(present)
    directory = _keyword_dir(maildir)
    for _attempt in range(_MAX_ATTEMPTS):
        state = _read_state(maildir, present_list, case_sensitive, "", None)
        message = state.messages.get(base)
        old = list(message.keywords or ()) if message is not None else []
        current = list(old)
        for name in adding:
            spelling = state.table.ref(name)
            if spelling not in current:
                current.append(spelling)
        for name in removing:
            found = state.table.find(name)
            if found is not None and found in current:
                current.remove(found)
        current.sort()
        if current == old and not write_unchanged:
            return tuple(_as_text(k) for k in current)
        if _link_update(maildir, directory, base, b"".join(k + b"\n" for k in current)):
            return tuple(_as_text(k) for k in current)
    raise MaildirError(f"{maildir}: keyword update of {basename} keeps losing races")


__all__ = [
    "IMAP_FORBIDDEN",
    "KEYWORD_DIR",
    "LIST_FILE",
    "InvalidKeyword",
    "InvalidMessageName",
    "message_basenames",
    "read_keywords",
    "set_keywords",
    "update_keywords",
]
