"""Every command the core parses, as frozen, slotted dataclasses.

Strings are the bytes the client sent (after unquoting); mailbox names are
wire names (modified UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT: decode with
:func:`~.lexer.decode_mailbox_name`), with ``INBOX`` normalized.  Flags are
``str`` (they are atoms), system flags in canonical case.  ``uid`` is True
for the ``UID`` form of a command.  Each class's ``name`` is the key of its
entry in :data:`~.states.COMMANDS`.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass
from typing import ClassVar

from .fetchatts import FetchAtt
from .searchkeys import SearchKey
from .sequence import SequenceSet


@dataclass(frozen=True, slots=True)
class Capability:
    tag: bytes
    name: ClassVar[str] = "CAPABILITY"


@dataclass(frozen=True, slots=True)
class Noop:
    tag: bytes
    name: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True)
class Logout:
    tag: bytes
    name: ClassVar[str] = "LOGOUT"


@dataclass(frozen=True, slots=True)
class StartTLS:
    tag: bytes
    name: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True)
class Authenticate:
    """AUTHENTICATE mechanism, with the RFC 4959 (SASL-IR) initial response
    already base64-decoded (``=`` gives ``b""``; absent gives None)."""

    tag: bytes
    mechanism: str
    initial_response: bytes | None = None
    name: ClassVar[str] = "AUTHENTICATE"


@dataclass(frozen=True, slots=True)
class Login:
    tag: bytes
    username: bytes
    password: bytes
    name: ClassVar[str] = "LOGIN"


@dataclass(frozen=True, slots=True)
class Select:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "SELECT"


@dataclass(frozen=True, slots=True)
class Examine:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "EXAMINE"


@dataclass(frozen=True, slots=True)
class Create:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "CREATE"


@dataclass(frozen=True, slots=True)
class Delete:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "DELETE"


@dataclass(frozen=True, slots=True)
class Rename:
    tag: bytes
    mailbox: bytes
    new_name: bytes
    name: ClassVar[str] = "RENAME"


@dataclass(frozen=True, slots=True)
class Subscribe:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "SUBSCRIBE"


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "UNSUBSCRIBE"


@dataclass(frozen=True, slots=True)
class List:
    """LIST, with the RFC 5258 extended form as far as RFC 6154 SPECIAL-USE
    needs: selection options before the reference (``(SPECIAL-USE)``),
    several patterns in parentheses, and RETURN options (``SPECIAL-USE``,
    ``CHILDREN``, ``SUBSCRIBED``; ``STATUS (...)`` from RFC 5819 lands in
    ``return_status``).  Option names are upper case."""

    tag: bytes
    reference: bytes
    patterns: tuple[bytes, ...]
    selection: tuple[str, ...] = ()
    return_options: tuple[str, ...] = ()
    return_status: tuple[str, ...] | None = None
    name: ClassVar[str] = "LIST"

    @property
    def extended(self) -> bool:
        return bool(self.selection or self.return_options or self.return_status is not None
                    or len(self.patterns) != 1)


@dataclass(frozen=True, slots=True)
class Lsub:
    tag: bytes
    reference: bytes
    pattern: bytes
    name: ClassVar[str] = "LSUB"


@dataclass(frozen=True, slots=True)
class Status:
    """STATUS mailbox (items): items upper case, in the client's order."""

    tag: bytes
    mailbox: bytes
    items: tuple[str, ...]
    name: ClassVar[str] = "STATUS"


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of APPEND (several with RFC 3502 MULTIAPPEND).
    ``binary`` means it came as a literal8 (RFC 3516)."""

    data: bytes
    flags: tuple[str, ...] = ()
    internal_date: datetime.datetime | None = None
    binary: bool = False


@dataclass(frozen=True, slots=True)
class Append:
    tag: bytes
    mailbox: bytes
    messages: tuple[AppendMessage, ...]
    name: ClassVar[str] = "APPEND"


@dataclass(frozen=True, slots=True)
class Check:
    tag: bytes
    name: ClassVar[str] = "CHECK"


@dataclass(frozen=True, slots=True)
class Close:
    tag: bytes
    name: ClassVar[str] = "CLOSE"


@dataclass(frozen=True, slots=True)
class Unselect:
    tag: bytes
    name: ClassVar[str] = "UNSELECT"


@dataclass(frozen=True, slots=True)
class Expunge:
    tag: bytes
    name: ClassVar[str] = "EXPUNGE"


@dataclass(frozen=True, slots=True)
class UidExpunge:
    """UID EXPUNGE uid-set (RFC 4315 UIDPLUS)."""

    tag: bytes
    uids: SequenceSet
    name: ClassVar[str] = "UID EXPUNGE"


@dataclass(frozen=True, slots=True)
class Search:
    """SEARCH [CHARSET name] keys; ``charset`` is upper case or None."""

    tag: bytes
    keys: tuple[SearchKey, ...]
    charset: str | None = None
    uid: bool = False

    @property
    def name(self) -> str:
        return "UID SEARCH" if self.uid else "SEARCH"


@dataclass(frozen=True, slots=True)
class Fetch:
    """FETCH set atts; ``macro`` is ALL/FAST/FULL when the client used one
    (``attributes`` then holds its expansion)."""

    tag: bytes
    sequence: SequenceSet
    attributes: tuple[FetchAtt, ...]
    macro: str | None = None
    uid: bool = False

    @property
    def name(self) -> str:
        return "UID FETCH" if self.uid else "FETCH"


class StoreMode(enum.Enum):
    REPLACE = ""
    ADD = "+"
    REMOVE = "-"


@dataclass(frozen=True, slots=True)
class Store:
    """STORE set [+-]FLAGS[.SILENT] flags."""

    tag: bytes
    sequence: SequenceSet
    mode: StoreMode
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False

    @property
    def name(self) -> str:
        return "UID STORE" if self.uid else "STORE"


@dataclass(frozen=True, slots=True)
class Copy:
    tag: bytes
    sequence: SequenceSet
    mailbox: bytes
    uid: bool = False

    @property
    def name(self) -> str:
        return "UID COPY" if self.uid else "COPY"


@dataclass(frozen=True, slots=True)
class Move:
    """MOVE / UID MOVE (RFC 6851)."""

    tag: bytes
    sequence: SequenceSet
    mailbox: bytes
    uid: bool = False

    @property
    def name(self) -> str:
        return "UID MOVE" if self.uid else "MOVE"


@dataclass(frozen=True, slots=True)
class SortCriterion:
    """One RFC 5256 sort key: ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO
    (and RFC 5957's DISPLAYFROM, DISPLAYTO), optionally REVERSE."""

    key: str
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class Sort:
    tag: bytes
    criteria: tuple[SortCriterion, ...]
    charset: str
    keys: tuple[SearchKey, ...]
    uid: bool = False

    @property
    def name(self) -> str:
        return "UID SORT" if self.uid else "SORT"


@dataclass(frozen=True, slots=True)
class Thread:
    """THREAD algorithm charset keys (RFC 5256); algorithm upper case."""

    tag: bytes
    algorithm: str
    charset: str
    keys: tuple[SearchKey, ...]
    uid: bool = False

    @property
    def name(self) -> str:
        return "UID THREAD" if self.uid else "THREAD"


@dataclass(frozen=True, slots=True)
class Idle:
    """IDLE (RFC 2177).  To accept it, send a continuation request and call
    :meth:`~.connection.Connection.start_idle`; DONE then arrives as an
    :class:`~.events.IdleDone` event."""

    tag: bytes
    name: ClassVar[str] = "IDLE"


@dataclass(frozen=True, slots=True)
class Namespace:
    tag: bytes
    name: ClassVar[str] = "NAMESPACE"


@dataclass(frozen=True, slots=True)
class Enable:
    """ENABLE (RFC 5161); capability names upper case."""

    tag: bytes
    capabilities: tuple[str, ...]
    name: ClassVar[str] = "ENABLE"


@dataclass(frozen=True, slots=True)
class Id:
    """ID (RFC 2971): field/value pairs, or None for ``ID NIL``."""

    tag: bytes
    parameters: tuple[tuple[bytes, bytes | None], ...] | None
    name: ClassVar[str] = "ID"


@dataclass(frozen=True, slots=True)
class GetQuota:
    tag: bytes
    root: bytes
    name: ClassVar[str] = "GETQUOTA"


@dataclass(frozen=True, slots=True)
class GetQuotaRoot:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "GETQUOTAROOT"


@dataclass(frozen=True, slots=True)
class SetQuota:
    """SETQUOTA root (resource limit ...); resource names upper case."""

    tag: bytes
    root: bytes
    limits: tuple[tuple[str, int], ...]
    name: ClassVar[str] = "SETQUOTA"


@dataclass(frozen=True, slots=True)
class GetAcl:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "GETACL"


@dataclass(frozen=True, slots=True)
class SetAcl:
    """SETACL mailbox identifier rights; ``rights`` keeps a leading ``+``
    or ``-`` (RFC 4314 add/remove)."""

    tag: bytes
    mailbox: bytes
    identifier: bytes
    rights: bytes
    name: ClassVar[str] = "SETACL"


@dataclass(frozen=True, slots=True)
class DeleteAcl:
    tag: bytes
    mailbox: bytes
    identifier: bytes
    name: ClassVar[str] = "DELETEACL"


@dataclass(frozen=True, slots=True)
class ListRights:
    tag: bytes
    mailbox: bytes
    identifier: bytes
    name: ClassVar[str] = "LISTRIGHTS"


@dataclass(frozen=True, slots=True)
class MyRights:
    tag: bytes
    mailbox: bytes
    name: ClassVar[str] = "MYRIGHTS"


Command = (Capability | Noop | Logout | StartTLS | Authenticate | Login | Select | Examine
           | Create | Delete | Rename | Subscribe | Unsubscribe | List | Lsub | Status
           | Append | Check | Close | Unselect | Expunge | UidExpunge | Search | Fetch | Store
           | Copy | Move | Sort | Thread | Idle | Namespace | Enable | Id | GetQuota
           | GetQuotaRoot | SetQuota | GetAcl | SetAcl | DeleteAcl | ListRights | MyRights)
