"""Typed responses to bytes.

Strings pick their own form (:mod:`.wire`): quoted when they can be,
a literal when they hold CR, LF, NUL or (before UTF8=ACCEPT) 8-bit bytes.
Human-readable text after a status must be one line: anything else is
our bug and raises :class:`LocalProtocolError`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, cast

from postillion.message.threads import ThreadNode

from . import responses as r
from . import wire
from .errors import LocalProtocolError
from .lexer import ATOM_CHARS

CRLF = b"\r\n"
_STATUSES_TAGGED = frozenset({"OK", "NO", "BAD"})
_STATUSES_UNTAGGED = frozenset({"OK", "NO", "BAD", "PREAUTH", "BYE"})


def _check_atom(text: str, extra: str = "") -> bytes:
    data = text.encode("ascii", "replace")
    if not data or not all(c in ATOM_CHARS or chr(c) in extra for c in data):
        raise LocalProtocolError(f"not an atom: {text!r}")
    return data


def _flag(flag: str) -> bytes:
    if flag == "\\*":
        return b"\\*"
    if flag.startswith("\\"):
        return b"\\" + _check_atom(flag[1:])
    return _check_atom(flag)


def flag_list(flags: tuple[str, ...] | list[str]) -> bytes:
    return b"(" + b" ".join(_flag(f) for f in flags) + b")"


_PLAIN_QUOTED = wire.PLAIN_QUOTED_BYTES
_MAX_QUOTED = wire.MAX_QUOTED_LENGTH
nstring = wire.nstring


def _list(items: tuple[r.Value, ...], utf8: bool) -> bytes:
    """A parenthesized list.  An ENVELOPE or BODYSTRUCTURE is dozens of
    nested tuples of plain strings, NILs and numbers: those are written
    here without a call each; anything else goes through :func:`value`."""
    out = []
    for item in items:
        kind = type(item)
        if kind is bytes:
            data = cast(bytes, item)
            if len(data) <= _MAX_QUOTED and not data.translate(None, _PLAIN_QUOTED):
                out.append(b'"' + data + b'"')
            else:
                out.append(wire.string(data, utf8))
        elif item is None:
            out.append(b"NIL")
        elif kind is tuple:
            out.append(_list(cast(tuple[r.Value, ...], item), utf8))
        elif kind is r.Adjacent:
            out.append(_adjacent(cast(r.Adjacent, item), utf8))
        else:
            out.append(value(item, utf8))
    return b"(" + b" ".join(out) + b")"


def _adjacent(item: r.Adjacent, utf8: bool) -> bytes:
    return b"".join([_list(v, utf8) if type(v) is tuple else value(v, utf8)
                     for v in item.items])


def value(item: r.Value, utf8: bool = False) -> bytes:
    """A :data:`~.responses.Value` tree on the wire."""
    # The common kinds first, by exact type.
    kind = type(item)
    if kind is tuple:
        return _list(cast(tuple[r.Value, ...], item), utf8)
    if kind is bytes or kind is str:
        return wire.string(item, utf8)  # type: ignore[arg-type]
    if item is None:
        return b"NIL"
    if kind is r.Verbatim:
        return item.data  # type: ignore[union-attr]
    if kind is int:
        number = cast(int, item)
        if number < 0:
            raise LocalProtocolError(f"negative number {number}")
        return b"%d" % number
    if isinstance(item, bool):
        raise LocalProtocolError("booleans have no IMAP form")
    if isinstance(item, int):
        if item < 0:
            raise LocalProtocolError(f"negative number {item}")
        return str(item).encode()
    if isinstance(item, bytes | str):
        return wire.string(item, utf8)
    if isinstance(item, r.Atom):
        return _check_atom(item.text, "\\[]<>.")
    if isinstance(item, r.Literal):
        return wire.literal(item.data, binary=item.binary)
    if isinstance(item, r.Verbatim):
        return item.data
    if isinstance(item, tuple):
        return b"(" + b" ".join(value(v, utf8) for v in item) + b")"
    if isinstance(item, r.Adjacent):
        return _adjacent(item, utf8)
    raise LocalProtocolError(f"cannot serialize {item!r}")


def _text(text: str) -> bytes:
    data = text.encode("utf-8")
    if b"\r" in data or b"\n" in data or b"\0" in data:
        raise LocalProtocolError("response text must be one line")
    return data


def response_code(code: r.ResponseCode) -> bytes:
    if isinstance(code, r.Code):
        body = _check_atom(code.name)
    elif isinstance(code, r.PermanentFlags):
        body = b"PERMANENTFLAGS " + flag_list(code.flags)
    elif isinstance(code, r.UidNext):
        body = b"UIDNEXT %d" % code.value
    elif isinstance(code, r.UidValidity):
        body = b"UIDVALIDITY %d" % code.value
    elif isinstance(code, r.Unseen):
        body = b"UNSEEN %d" % code.value
    elif isinstance(code, r.CapabilityCode):
        body = b" ".join([b"CAPABILITY", *(_check_atom(c) for c in code.capabilities)])
    elif isinstance(code, r.AppendUid):
        body = b"APPENDUID %d %s" % (code.uidvalidity, code.uids.to_wire().encode())
    elif isinstance(code, r.CopyUid):
        body = b"COPYUID %d %s %s" % (code.uidvalidity, code.source.to_wire().encode(),
                                      code.destination.to_wire().encode())
    elif isinstance(code, r.MyRightsCode):
        body = b"MYRIGHTS " + wire.quoted(code.rights.encode("ascii"))
    else:
        body = b"BADCHARSET"
        if code.charsets:
            body += b" (" + b" ".join(wire.astring(c) for c in code.charsets) + b")"
    return b"[" + body + b"]"


def _status_line(head: bytes, status: str, text: str, code: r.ResponseCode | None) -> bytes:
    out = head + b" " + status.encode()
    if code is not None:
        out += b" " + response_code(code)
    if text:
        out += b" " + _text(text)
    return out + CRLF


def _mailbox(name: bytes | str, utf8: bool) -> bytes:
    return wire.string(name, utf8)


def _threads(nodes: tuple[ThreadNode, ...]) -> bytes:
    return b"".join(b"(" + _thread_inner(node) + b")" for node in nodes)


def _thread_inner(node: ThreadNode) -> bytes:
    """One thread without its outer parentheses: a message followed by its
    only child is a chain (``1 2 3``), several children each in their own
    parentheses.  Walked with a stack, not recursion: a reply chain can be
    thousands of messages deep."""
    out: list[bytes] = []
    stack: list[ThreadNode | bytes] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            out.append(item)
            continue
        if item.message is not None:
            out.append(str(item.message).encode())
            if item.children:
                out.append(b" ")
        if len(item.children) == 1 and item.message is not None:
            stack.append(item.children[0])
        else:
            for child in reversed(item.children):
                stack += (b")", child, b"(")
    return b"".join(out)


def _namespace(part: r.NamespaceList, utf8: bool) -> bytes:
    if part is None:
        return b"NIL"
    return b"(" + b"".join(
        b"(" + wire.string(prefix, utf8) + b" "
        + (b"NIL" if delimiter is None else wire.quoted(delimiter.encode())) + b")"
        for prefix, delimiter in part) + b")"


def _untagged(payload: bytes) -> bytes:
    return b"* " + payload + CRLF


def _ser_tagged(resp: r.TaggedResponse, utf8: bool) -> bytes:
    if resp.status not in _STATUSES_TAGGED:
        raise LocalProtocolError(f"bad tagged status {resp.status}")
    if not resp.tag or resp.tag.startswith(b"*") or resp.tag.startswith(b"+") or any(
            c <= 0x20 or c >= 0x7F for c in resp.tag):
        raise LocalProtocolError(f"bad tag {resp.tag!r}")
    return _status_line(resp.tag, resp.status, resp.text, resp.code)


def _ser_untagged_status(resp: r.UntaggedStatus, utf8: bool) -> bytes:
    if resp.status not in _STATUSES_UNTAGGED:
        raise LocalProtocolError(f"bad untagged status {resp.status}")
    return _status_line(b"*", resp.status, resp.text, resp.code)


def _ser_continuation(resp: r.ContinuationRequest, utf8: bool) -> bytes:
    if resp.data is not None:
        return b"+ " + base64.b64encode(resp.data) + CRLF
    return b"+ " + _text(resp.text) + CRLF


def _ser_capability(resp: r.CapabilityData, utf8: bool) -> bytes:
    return _untagged(b" ".join([b"CAPABILITY", *(_check_atom(c) for c in resp.capabilities)]))


def _ser_list(resp: r.ListData, utf8: bool) -> bytes:
    if resp.kind not in ("LIST", "LSUB"):
        raise LocalProtocolError(f"bad list kind {resp.kind}")
    delimiter = b"NIL" if resp.delimiter is None else wire.quoted(resp.delimiter.encode())
    out = b"%s %s %s %s" % (resp.kind.encode(), flag_list(resp.attributes), delimiter,
                            _mailbox(resp.mailbox, utf8))
    if resp.extended:
        out += b" " + value(resp.extended, utf8)
    return _untagged(out)


def _ser_status(resp: r.StatusData, utf8: bool) -> bytes:
    items = b" ".join(_check_atom(k) + b" %d" % v for k, v in resp.items)
    return _untagged(b"STATUS " + _mailbox(resp.mailbox, utf8) + b" (" + items + b")")


def _ser_flags(resp: r.FlagsData, utf8: bool) -> bytes:
    return _untagged(b"FLAGS " + flag_list(resp.flags))


def _ser_exists(resp: r.Exists, utf8: bool) -> bytes:
    return _untagged(b"%d EXISTS" % resp.count)


def _ser_recent(resp: r.Recent, utf8: bool) -> bytes:
    return _untagged(b"%d RECENT" % resp.count)


def _ser_expunge(resp: r.ExpungeData, utf8: bool) -> bytes:
    return _untagged(b"%d EXPUNGE" % resp.sequence)


def _ser_fetch(resp: r.FetchData, utf8: bool) -> bytes:
    items = b" ".join(item.name + b" " + value(item.value, utf8) for item in resp.items)
    return _untagged(b"%d FETCH (" % resp.sequence + items + b")")


def _numbers(word: bytes, numbers: tuple[int, ...]) -> bytes:
    return _untagged(b" ".join([word, *(b"%d" % n for n in numbers)]))


def _ser_search(resp: r.SearchData, utf8: bool) -> bytes:
    return _numbers(b"SEARCH", resp.numbers)


def _ser_sort(resp: r.SortData, utf8: bool) -> bytes:
    return _numbers(b"SORT", resp.numbers)


def _ser_thread(resp: r.ThreadData, utf8: bool) -> bytes:
    threads = _threads(resp.threads)
    return _untagged(b"THREAD " + threads if threads else b"THREAD")


def _ser_namespace(resp: r.NamespaceData, utf8: bool) -> bytes:
    return _untagged(b"NAMESPACE " + b" ".join(
        _namespace(p, utf8) for p in (resp.personal, resp.other, resp.shared)))


def _ser_quota(resp: r.QuotaData, utf8: bool) -> bytes:
    out = b"QUOTA " + wire.string(resp.root, utf8)
    if resp.resources is not None:
        out += b" (" + b" ".join(b"%s %d %d" % (_check_atom(name), used, limit)
                                 for name, used, limit in resp.resources) + b")"
    return _untagged(out)


def _ser_quotaroot(resp: r.QuotaRootData, utf8: bool) -> bytes:
    return _untagged(b" ".join([b"QUOTAROOT", _mailbox(resp.mailbox, utf8),
                                *(wire.string(root, utf8) for root in resp.roots)]))


def _ser_acl(resp: r.AclData, utf8: bool) -> bytes:
    parts = [b"ACL", _mailbox(resp.mailbox, utf8)]
    for identifier, rights in resp.entries:
        parts += [wire.string(identifier, utf8), wire.string(rights)]
    return _untagged(b" ".join(parts))


def _ser_listrights(resp: r.ListRightsData, utf8: bool) -> bytes:
    # RFC 4314: rights are astrings.  As Courier writes them: the required
    # rights always quoted (they may be empty), each optional group an atom.
    return _untagged(b" ".join([b"LISTRIGHTS", _mailbox(resp.mailbox, utf8),
                                wire.string(resp.identifier, utf8),
                                wire.quoted(resp.required.encode("ascii")),
                                *(wire.astring(o) for o in resp.optional)]))


def _ser_myrights(resp: r.MyRightsData, utf8: bool) -> bytes:
    return _untagged(b"MYRIGHTS " + _mailbox(resp.mailbox, utf8) + b" "
                     + wire.string(resp.rights))


def _ser_enabled(resp: r.EnabledData, utf8: bool) -> bytes:
    return _untagged(b" ".join([b"ENABLED", *(_check_atom(c) for c in resp.capabilities)]))


def _ser_id(resp: r.IdData, utf8: bool) -> bytes:
    if resp.parameters is None:
        return _untagged(b"ID NIL")
    return _untagged(b"ID (" + b" ".join(
        wire.string(k, utf8) + b" " + wire.nstring(v, utf8) for k, v in resp.parameters) + b")")


_SERIALIZERS: dict[type, Callable[[Any, bool], bytes]] = {
    r.TaggedResponse: _ser_tagged,
    r.UntaggedStatus: _ser_untagged_status,
    r.ContinuationRequest: _ser_continuation,
    r.CapabilityData: _ser_capability,
    r.ListData: _ser_list,
    r.StatusData: _ser_status,
    r.FlagsData: _ser_flags,
    r.Exists: _ser_exists,
    r.Recent: _ser_recent,
    r.ExpungeData: _ser_expunge,
    r.FetchData: _ser_fetch,
    r.SearchData: _ser_search,
    r.SortData: _ser_sort,
    r.ThreadData: _ser_thread,
    r.NamespaceData: _ser_namespace,
    r.QuotaData: _ser_quota,
    r.QuotaRootData: _ser_quotaroot,
    r.AclData: _ser_acl,
    r.ListRightsData: _ser_listrights,
    r.MyRightsData: _ser_myrights,
    r.EnabledData: _ser_enabled,
    r.IdData: _ser_id,
}


def serialize(response: r.Response, utf8: bool = False) -> bytes:
    """One response as bytes, CRLF included.  ``utf8``: the client enabled
    UTF8=ACCEPT, so UTF-8 strings may be quoted."""
    serializer = _SERIALIZERS.get(type(response))
    if serializer is None:
        raise LocalProtocolError(f"not a response: {response!r}")
    return serializer(response, utf8)
