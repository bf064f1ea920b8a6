"""From one framed command to a typed :mod:`.commands` value (RFC 3501
section 9 plus the extensions listed in docs/imap-protocol.md)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from . import commands as c
from .errors import ErrorKind, Missing, ParseFailure
from .fetchatts import parse_fetch_atts
from .lexer import Reader
from .searchkeys import SearchKey, parse_search_program

STATUS_ITEMS = frozenset({"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN",
                          "SIZE", "DELETED", "HIGHESTMODSEQ"})
SORT_KEYS = frozenset({"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO",
                       "DISPLAYFROM", "DISPLAYTO"})


def read_head(r: Reader) -> tuple[bytes, str]:
    """The tag and the command name (``UID FETCH`` for the UID forms)."""
    tag = r.tag()
    if r.peek() != 0x20:
        raise ParseFailure("missing command", ErrorKind.UNKNOWN_COMMAND)
    r.pos += 1
    name = r.keyword() if r.peek() != -1 else ""
    if name == "UID":
        if r.peek() != 0x20:
            raise ParseFailure("UID needs a command", ErrorKind.UNKNOWN_COMMAND)
        r.pos += 1
        sub = r.keyword() if r.peek() != -1 else ""
        name = "UID " + sub
    return tag, name


def _charset(r: Reader) -> str:
    return r.astring().decode("ascii", "replace").upper()


def _search_args(r: Reader, allow_charset: bool = True) -> tuple[str | None, tuple[SearchKey, ...]]:
    r.sp()
    charset = None
    if allow_charset and r.peek_is(b"CHARSET "):
        r.pos += 8
        charset = _charset(r)
        r.sp()
    return charset, parse_search_program(r)


def _authenticate(r: Reader, tag: bytes) -> c.Command:
    r.sp()
    mechanism = r.keyword()
    initial = None
    if r.maybe_sp():
        raw = r.atom() if r.peek() != 0x3D else b""
        if raw == b"":
            r.expect(b"=")
            initial = b""
        else:
            try:
                initial = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise r.invalid("initial response is not base64") from None
    return c.Authenticate(tag, mechanism, initial)


def _login(r: Reader, tag: bytes) -> c.Command:
    r.sp()
    user = r.astring()
    r.sp()
    return c.Login(tag, user, r.astring())


def _mailbox_arg(r: Reader, read: Callable[[], bytes] | None = None) -> bytes:
    """SP and a mailbox name (``read``: LIST's reference or pattern).  A
    command ending before the name is missing a mailbox (Courier: BAD)."""
    if r.at_end() or (r.peek() == 0x20 and r.pos + 1 >= len(r.text)):
        raise ParseFailure("mailbox name missing", missing=Missing.MAILBOX)
    r.sp()
    return (read or r.mailbox)()


def _mailbox_command(cls: Callable[[bytes, bytes], c.Command]) -> Callable[[Reader, bytes],
                                                                           c.Command]:
    def parse(r: Reader, tag: bytes) -> c.Command:
        return cls(tag, _mailbox_arg(r))
    return parse


def _mailbox_identifier(cls: Callable[[bytes, bytes, bytes], c.Command]) -> Callable[
        [Reader, bytes], c.Command]:
    def parse(r: Reader, tag: bytes) -> c.Command:
        mailbox = _mailbox_arg(r)
        r.sp()
        return cls(tag, mailbox, r.astring())
    return parse


def _rename(r: Reader, tag: bytes) -> c.Command:
    old = _mailbox_arg(r)
    return c.Rename(tag, old, _mailbox_arg(r))


def _option_word(r: Reader) -> str:
    return r.keyword()


def _list(r: Reader, tag: bytes) -> c.Command:
    selection: tuple[str, ...] = ()
    if r.peek_is(b" ("):
        r.sp()
        selection = r.paren_list(lambda: _option_word(r))
    reference = _mailbox_arg(r, r.astring)
    if r.peek_is(b" ("):
        r.sp()
        patterns = r.paren_list(r.list_mailbox, allow_empty=False)
    else:
        patterns = (_mailbox_arg(r, r.list_mailbox),)
    return_options: list[str] = []
    return_status = None
    if r.maybe_sp():
        r.expect(b"RETURN")
        r.sp()
        r.open_paren()
        while r.peek() != 0x29:
            r.count_item()
            word = r.keyword()
            if word == "STATUS":
                r.sp()
                return_status = r.paren_list(lambda: _status_item(r), allow_empty=False)
            else:
                return_options.append(word)
            if not r.maybe_sp():
                break
        r.close_paren()
    return c.List(tag, reference, patterns, selection, tuple(return_options), return_status)


def _lsub(r: Reader, tag: bytes) -> c.Command:
    reference = _mailbox_arg(r, r.astring)
    return c.Lsub(tag, reference, _mailbox_arg(r, r.list_mailbox))


def _status_item(r: Reader) -> str:
    item = r.keyword()
    if item not in STATUS_ITEMS:
        raise r.invalid(f"unknown status item {item}")
    return item


def _status(r: Reader, tag: bytes) -> c.Command:
    mailbox = _mailbox_arg(r)
    r.sp()
    return c.Status(tag, mailbox, r.paren_list(lambda: _status_item(r), allow_empty=False))


def _append(r: Reader, tag: bytes) -> c.Command:
    mailbox = _mailbox_arg(r)
    messages = []
    while r.maybe_sp():
        r.count_item()
        flags: tuple[str, ...] = ()
        date = None
        if r.peek() == 0x28:
            flags = r.flag_list()
            r.sp()
        if r.peek() == 0x22:
            date = r.date_time()
            r.sp()
        if r.peek() not in (0x7B, 0x7E):
            raise r.fail("the message must be a literal")
        data, binary = r.literal()
        messages.append(c.AppendMessage(data, flags, date, binary))
    if not messages:
        raise r.fail("APPEND needs a message")
    return c.Append(tag, mailbox, tuple(messages))


def _search(r: Reader, tag: bytes, uid: bool) -> c.Command:
    charset, keys = _search_args(r)
    return c.Search(tag, keys, charset, uid)


def _fetch(r: Reader, tag: bytes, uid: bool) -> c.Command:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    atts, macro = parse_fetch_atts(r)
    return c.Fetch(tag, sequence, atts, macro, uid)


def _store(r: Reader, tag: bytes, uid: bool) -> c.Command:
    r.sp()
    sequence = r.sequence_set()
    r.sp()
    mode = c.StoreMode.REPLACE
    if r.peek() == 0x2B:
        mode = c.StoreMode.ADD
        r.pos += 1
    elif r.peek() == 0x2D:
        mode = c.StoreMode.REMOVE
        r.pos += 1
    word = r.keyword()
    if word not in ("FLAGS", "FLAGS.SILENT"):
        raise r.invalid(f"unknown store item {word}")
    r.sp()
    if r.peek() == 0x28:
        flags = r.flag_list()
    else:
        items = [r.flag()]
        while r.maybe_sp():
            r.count_item()
            items.append(r.flag())
        flags = tuple(items)
    return c.Store(tag, sequence, mode, flags, word == "FLAGS.SILENT", uid)


def _copy(r: Reader, tag: bytes, uid: bool) -> c.Command:
    r.sp()
    sequence = r.sequence_set()
    return c.Copy(tag, sequence, _mailbox_arg(r), uid)


def _move(r: Reader, tag: bytes, uid: bool) -> c.Command:
    r.sp()
    sequence = r.sequence_set()
    return c.Move(tag, sequence, _mailbox_arg(r), uid)


def _sort_criterion(r: Reader) -> c.SortCriterion:
    word = r.keyword()
    reverse = word == "REVERSE"
    if reverse:
        r.sp()
        word = r.keyword()
    if word not in SORT_KEYS:
        raise r.invalid(f"unknown sort key {word}")
    return c.SortCriterion(word, reverse)


def _sort(r: Reader, tag: bytes, uid: bool) -> c.Command:
    r.sp()
    criteria = r.paren_list(lambda: _sort_criterion(r), allow_empty=False)
    r.sp()
    charset = _charset(r)
    r.sp()
    return c.Sort(tag, criteria, charset, parse_search_program(r), uid)


def _thread(r: Reader, tag: bytes, uid: bool) -> c.Command:
    r.sp()
    algorithm = r.keyword()
    r.sp()
    charset = _charset(r)
    r.sp()
    return c.Thread(tag, algorithm, charset, parse_search_program(r), uid)


def _uid_expunge(r: Reader, tag: bytes, uid: bool) -> c.Command:
    r.sp()
    return c.UidExpunge(tag, r.sequence_set())


def _enable(r: Reader, tag: bytes) -> c.Command:
    names = []
    while r.maybe_sp():
        r.count_item()
        names.append(r.keyword())
    if not names:
        raise r.fail("ENABLE needs a capability")
    return c.Enable(tag, tuple(names))


def _id_pair(r: Reader) -> tuple[bytes, bytes | None]:
    key = r.string()
    r.sp()
    return key, r.nstring()


def _id(r: Reader, tag: bytes) -> c.Command:
    r.sp()
    if r.peek() != 0x28:
        r.expect(b"NIL")
        return c.Id(tag, None)
    return c.Id(tag, r.paren_list(lambda: _id_pair(r)))


def _getquota(r: Reader, tag: bytes) -> c.Command:
    r.sp()
    return c.GetQuota(tag, r.astring())


def _quota_limit(r: Reader) -> tuple[str, int]:
    resource = r.keyword()
    r.sp()
    return resource, r.number64()


def _setquota(r: Reader, tag: bytes) -> c.Command:
    r.sp()
    root = r.astring()
    r.sp()
    return c.SetQuota(tag, root, r.paren_list(lambda: _quota_limit(r)))


def _setacl(r: Reader, tag: bytes) -> c.Command:
    mailbox = _mailbox_arg(r)
    r.sp()
    identifier = r.astring()
    r.sp()
    return c.SetAcl(tag, mailbox, identifier, r.astring())


def _simple(cls: Callable[[bytes], c.Command]) -> Callable[[Reader, bytes], c.Command]:
    return lambda r, tag: cls(tag)


PLAIN_PARSERS: dict[str, Callable[[Reader, bytes], c.Command]] = {
    "CAPABILITY": _simple(c.Capability),
    "NOOP": _simple(c.Noop),
    "LOGOUT": _simple(c.Logout),
    "STARTTLS": _simple(c.StartTLS),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "SELECT": _mailbox_command(c.Select),
    "EXAMINE": _mailbox_command(c.Examine),
    "CREATE": _mailbox_command(c.Create),
    "DELETE": _mailbox_command(c.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _mailbox_command(c.Subscribe),
    "UNSUBSCRIBE": _mailbox_command(c.Unsubscribe),
    "LIST": _list,
    "LSUB": _lsub,
    "STATUS": _status,
    "APPEND": _append,
    "CHECK": _simple(c.Check),
    "CLOSE": _simple(c.Close),
    "UNSELECT": _simple(c.Unselect),
    "EXPUNGE": _simple(c.Expunge),
    "IDLE": _simple(c.Idle),
    "NAMESPACE": _simple(c.Namespace),
    "ENABLE": _enable,
    "ID": _id,
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _mailbox_command(c.GetQuotaRoot),
    "SETQUOTA": _setquota,
    "GETACL": _mailbox_command(c.GetAcl),
    "SETACL": _setacl,
    "DELETEACL": _mailbox_identifier(c.DeleteAcl),
    "LISTRIGHTS": _mailbox_identifier(c.ListRights),
    "MYRIGHTS": _mailbox_command(c.MyRights),
}

#: Commands with a UID form: parser(reader, tag, uid).
UID_PARSERS: dict[str, Callable[[Reader, bytes, bool], c.Command]] = {
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy,
    "MOVE": _move,
    "SORT": _sort,
    "THREAD": _thread,
}


def known_command(name: str) -> bool:
    if name.startswith("UID "):
        return name[4:] in UID_PARSERS or name == "UID EXPUNGE"
    return name in PLAIN_PARSERS or name in UID_PARSERS


def parse_arguments(r: Reader, tag: bytes, name: str) -> c.Command:
    """The rest of a command whose head :func:`read_head` has read."""
    if name == "UID EXPUNGE":
        command = _uid_expunge(r, tag, True)
    elif name.startswith("UID "):
        command = UID_PARSERS[name[4:]](r, tag, True)
    elif name in UID_PARSERS:
        command = UID_PARSERS[name](r, tag, False)
    else:
        command = PLAIN_PARSERS[name](r, tag)
    r.end()
    return command
