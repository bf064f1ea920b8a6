"""Typed server responses (RFC 3501 section 7 and the extensions), turned
into bytes by :mod:`.serializer`.

Mailbox names are wire names (``bytes``, or ``str`` sent as UTF-8: encode
them with modified UTF-7 first unless the client enabled UTF8=ACCEPT).
Values inside FETCH items are :data:`Value` trees: None is NIL, ``int`` a
number, ``bytes``/``str`` a string (quoted or literal, chosen
automatically), :class:`Atom` an atom as is, :class:`Literal` a forced
literal (message bodies), tuples are parenthesized lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from postillion.message.threads import ThreadNode

from .sequence import SequenceSet


@dataclass(frozen=True, slots=True)
class Atom:
    """An atom written as is (``NIL`` would be NIL, so use None for that)."""

    text: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A string that must go out as a literal; ``binary`` makes it a
    literal8 (``~{n}``, RFC 3516) for data that may hold NULs."""

    data: bytes
    binary: bool = False


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A value already in its wire form (an ENVELOPE or BODYSTRUCTURE kept
    by the folder cache), written as is.  Its maker guarantees it is one
    complete value whose only CR LF pairs end ``{n}`` literal heads, each
    followed by exactly n bytes, and which holds no other CR, LF or NUL
    (see ``bodywire.wire_cacheable``)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Adjacent:
    """Values written one after the other with no space (a multipart's
    body parts in BODYSTRUCTURE, the addresses of an ENVELOPE list)."""

    items: tuple[Value, ...]


Value: TypeAlias = ("int | bytes | str | Atom | Literal | Verbatim | Adjacent | tuple[Value, ...]"
                    " | None")

# -- response codes -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Code:
    """A response code that is a bare atom: see the constants below."""

    name: str


ALERT = Code("ALERT")
PARSE = Code("PARSE")
READ_ONLY = Code("READ-ONLY")
READ_WRITE = Code("READ-WRITE")
TRYCREATE = Code("TRYCREATE")
UIDNOTSTICKY = Code("UIDNOTSTICKY")
OVERQUOTA = Code("OVERQUOTA")
NOPERM = Code("NOPERM")
NONEXISTENT = Code("NONEXISTENT")
ALREADYEXISTS = Code("ALREADYEXISTS")
CANNOT = Code("CANNOT")
LIMIT = Code("LIMIT")
SERVERBUG = Code("SERVERBUG")
CLIENTBUG = Code("CLIENTBUG")
INUSE = Code("INUSE")
EXPUNGEISSUED = Code("EXPUNGEISSUED")
AUTHENTICATIONFAILED = Code("AUTHENTICATIONFAILED")
UNAVAILABLE = Code("UNAVAILABLE")
PRIVACYREQUIRED = Code("PRIVACYREQUIRED")
CONTACTADMIN = Code("CONTACTADMIN")


@dataclass(frozen=True, slots=True)
class PermanentFlags:
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UidNext:
    value: int


@dataclass(frozen=True, slots=True)
class UidValidity:
    value: int


@dataclass(frozen=True, slots=True)
class Unseen:
    value: int


@dataclass(frozen=True, slots=True)
class CapabilityCode:
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppendUid:
    """RFC 4315: ``[APPENDUID uidvalidity uid-set]``."""

    uidvalidity: int
    uids: SequenceSet


@dataclass(frozen=True, slots=True)
class CopyUid:
    """RFC 4315: ``[COPYUID uidvalidity source-uids destination-uids]``."""

    uidvalidity: int
    source: SequenceSet
    destination: SequenceSet


@dataclass(frozen=True, slots=True)
class MyRightsCode:
    """Courier's ``[MYRIGHTS "acdilrsw"]`` after SELECT."""

    rights: str


@dataclass(frozen=True, slots=True)
class BadCharset:
    """``[BADCHARSET (UTF-8 US-ASCII)]``."""

    charsets: tuple[str, ...] = ()


ResponseCode = (Code | PermanentFlags | UidNext | UidValidity | Unseen | CapabilityCode
                | AppendUid | CopyUid | MyRightsCode | BadCharset)

# -- status responses -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaggedResponse:
    """``tag OK|NO|BAD [code] text``."""

    tag: bytes
    status: str
    text: str = ""
    code: ResponseCode | None = None


@dataclass(frozen=True, slots=True)
class UntaggedStatus:
    """``* OK|NO|BAD|PREAUTH|BYE [code] text``."""

    status: str
    text: str = ""
    code: ResponseCode | None = None


@dataclass(frozen=True, slots=True)
class ContinuationRequest:
    """``+ text``, or ``+ base64`` when ``data`` is given (a SASL
    challenge; ``b""`` gives an empty challenge)."""

    text: str = ""
    data: bytes | None = None


# -- untagged data --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapabilityData:
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListData:
    """``* LIST (attributes) "delimiter" mailbox [extended]``; ``kind`` is
    LIST or LSUB; ``extended`` holds RFC 5258 items such as
    ``("CHILDINFO", ("SUBSCRIBED",))``."""

    attributes: tuple[str, ...]
    delimiter: str | None
    mailbox: bytes | str
    kind: str = "LIST"
    extended: tuple[Value, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusData:
    mailbox: bytes | str
    items: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class FlagsData:
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    count: int


@dataclass(frozen=True, slots=True)
class Recent:
    count: int


@dataclass(frozen=True, slots=True)
class ExpungeData:
    sequence: int


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One item of a FETCH response: its name as the client will read it
    (``FLAGS``, ``BODY[1.MIME]``, ``BODY[]<0>``) and its value; helpers in
    :mod:`.fetchdata` build them."""

    name: bytes
    value: Value


@dataclass(frozen=True, slots=True)
class FetchData:
    sequence: int
    items: tuple[FetchItem, ...]


@dataclass(frozen=True, slots=True)
class SearchData:
    numbers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SortData:
    numbers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ThreadData:
    threads: tuple[ThreadNode, ...]


NamespaceList: TypeAlias = tuple[tuple[bytes | str, str | None], ...] | None


@dataclass(frozen=True, slots=True)
class NamespaceData:
    """Each part is a tuple of (prefix, delimiter), or None for NIL."""

    personal: NamespaceList
    other: NamespaceList
    shared: NamespaceList


@dataclass(frozen=True, slots=True)
class QuotaData:
    """``* QUOTA root (STORAGE used limit ...)``.  ``resources=None`` gives
    Courier's bare ``* QUOTA "ROOT"`` (no quota set)."""

    root: bytes | str
    resources: tuple[tuple[str, int, int], ...] | None


@dataclass(frozen=True, slots=True)
class QuotaRootData:
    mailbox: bytes | str
    roots: tuple[bytes | str, ...]


@dataclass(frozen=True, slots=True)
class AclData:
    mailbox: bytes | str
    entries: tuple[tuple[bytes | str, str], ...]


@dataclass(frozen=True, slots=True)
class ListRightsData:
    mailbox: bytes | str
    identifier: bytes | str
    required: str
    optional: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MyRightsData:
    mailbox: bytes | str
    rights: str


@dataclass(frozen=True, slots=True)
class EnabledData:
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IdData:
    parameters: tuple[tuple[bytes | str, bytes | str | None], ...] | None


Response = (TaggedResponse | UntaggedStatus | ContinuationRequest | CapabilityData | ListData
            | StatusData | FlagsData | Exists | Recent | ExpungeData | FetchData | SearchData
            | SortData | ThreadData | NamespaceData | QuotaData | QuotaRootData | AclData
            | ListRightsData | MyRightsData | EnabledData | IdData)
