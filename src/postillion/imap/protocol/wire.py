"""Choosing the wire form of a string: atom, quoted string or literal.

Used by the response serializer and by the ``to_wire`` methods of parsed
values (search keys, fetch attributes) that must read back the same.
"""

from __future__ import annotations

import datetime
import time

from .lexer import ASTRING_CHARS, ATOM_CHARS, MONTHS

#: Quoted strings longer than this go out as literals: easier on clients
#: that cap a line, and RFC 3501 leaves the choice to the sender.
MAX_QUOTED_LENGTH = 1024

_QUOTABLE = frozenset(range(1, 0x80)) - {0x0A, 0x0D}
_QUOTABLE_UTF8 = _QUOTABLE | frozenset(range(0x80, 0x100))
# The same sets as bytes for ``bytes.translate(None, delete)``: deleting
# every allowed byte leaves nothing exactly when all bytes are allowed,
# a test that runs in C instead of a generator over each byte.
_QUOTABLE_BYTES = bytes(sorted(_QUOTABLE))
_QUOTABLE_UTF8_BYTES = bytes(sorted(_QUOTABLE_UTF8))
_ASTRING_BYTES = bytes(sorted(ASTRING_CHARS))
_ATOM_BYTES = bytes(sorted(ATOM_CHARS))


def as_bytes(value: bytes | str) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def quoted(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(value: bytes, plus: bool = False, binary: bool = False) -> bytes:
    """``{n}CRLF`` + data.  ``plus`` gives ``{n+}`` (client side, LITERAL+),
    ``binary`` gives ``~{n}`` (literal8, for data that may hold NULs)."""
    head = b"~{" if binary else b"{"
    return head + str(len(value)).encode() + (b"+}" if plus else b"}") + b"\r\n" + value


def string(value: bytes | str, utf8: bool = False, plus: bool = False) -> bytes:
    """A ``string``: quoted when it can be, else a literal.  8-bit bytes force
    a literal unless ``utf8`` (the client enabled UTF8=ACCEPT); CR, LF and
    NUL always do."""
    data = as_bytes(value)
    allowed = _QUOTABLE_UTF8_BYTES if utf8 else _QUOTABLE_BYTES
    if len(data) <= MAX_QUOTED_LENGTH and not data.translate(None, allowed):
        if utf8 and not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return literal(data, plus)
        return quoted(data)
    return literal(data, plus)


# Bytes that a quoted string holds as they are: quotable, and neither
# ``"`` nor ``\\`` (which :func:`quoted` escapes).  Deleting them all
# leaves nothing exactly when the string goes out as ``"..."`` unchanged,
# whether or not the client enabled UTF8=ACCEPT (the set is ASCII).
PLAIN_QUOTED_BYTES = bytes(sorted(_QUOTABLE - {0x22, 0x5C}))


def nstring(value: bytes | str | None, utf8: bool = False) -> bytes:
    """NIL, a quoted string or a literal.  Plain bytes, the most of an
    ENVELOPE or BODYSTRUCTURE, are quoted here without a call further."""
    if value is None:
        return b"NIL"
    if (type(value) is bytes and len(value) <= MAX_QUOTED_LENGTH
            and not value.translate(None, PLAIN_QUOTED_BYTES)):
        return b'"' + value + b'"'
    return string(value, utf8)


def astring(value: bytes | str, utf8: bool = False, plus: bool = False) -> bytes:
    """An atom when every byte is an ASTRING-CHAR (and it is not ``NIL``,
    which some parsers would read as nil), else :func:`string`."""
    data = as_bytes(value)
    if data and data.upper() != b"NIL" and not data.translate(None, _ASTRING_BYTES):
        return data
    return string(data, utf8, plus)


def atom_or_string(value: bytes | str) -> bytes:
    data = as_bytes(value)
    if data and data.upper() != b"NIL" and not data.translate(None, _ATOM_BYTES):
        return data
    return string(data)


def date(value: datetime.date) -> bytes:
    return f"{value.day}-{MONTHS[value.month - 1]}-{value.year:04d}".encode()


def date_time(value: datetime.datetime) -> bytes:
    """``"dd-Mon-yyyy hh:mm:ss +zzzz"``, the day as two digits (``"01-Jan-2024"``,
    as Courier writes it; RFC 3501's date-day-fixed also allows `` 1``); a naive
    value is taken as UTC."""
    offset = value.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (f'"{value.day:02d}-{MONTHS[value.month - 1]}-{value.year:04d} '
            f'{value.hour:02d}:{value.minute:02d}:{value.second:02d} '
            f'{sign}{minutes // 60:02d}{minutes % 60:02d}"').encode()


_MONTH_BYTES = [month.encode() for month in MONTHS]
#: ``"dd-Mon-yyyy hh:`` of each hour asked for, and ``"dd-Mon-yyyy `` of
#: each day: a folder's messages come from few hours, and those from fewer
#: days (100,000 messages of two years: 16,667 hours, 695 days), so an
#: hour's head is made from its day's, with one gmtime per day instead of
#: one per hour (the first FETCH INTERNALDATE over those 100,000 in a new
#: process: ~32 -> ~20 ms).  Each is emptied when it grows big.
_hours: dict[int, bytes] = {}
_days: dict[int, bytes] = {}
_HOUR_OF_DAY = [b"%02d:" % hour for hour in range(24)]
_CACHED_MAX = 65536


#: ``mm:ss +0000"`` of each second of an hour.
_SECONDS_OF_HOUR = [b'%02d:%02d +0000"' % divmod(rest, 60) for rest in range(3600)]


def utc_date_time(seconds: int) -> bytes:
    """:func:`date_time` of the UTC time ``seconds`` after the epoch, without
    a datetime: a FETCH INTERNALDATE over 100,000 cached messages formats
    one per message (the hour's head and the second's tail both looked up)."""
    hour, rest = divmod(seconds, 3600)
    head = _hours.get(hour)
    if head is None:
        head = _hour_head(hour)
    return head + _SECONDS_OF_HOUR[rest]


def _hour_head(hour: int) -> bytes:
    """``"dd-Mon-yyyy hh:`` of an hour (counted from the epoch), kept."""
    day, hour_of_day = divmod(hour, 24)
    prefix = _days.get(day)
    if prefix is None:
        if len(_days) >= _CACHED_MAX:
            _days.clear()
        t = time.gmtime(day * 86400)
        prefix = _days[day] = b'"%02d-%s-%04d ' % (
            t.tm_mday, _MONTH_BYTES[t.tm_mon - 1], t.tm_year)
    if len(_hours) >= _CACHED_MAX:
        _hours.clear()
    head = _hours[hour] = prefix + _HOUR_OF_DAY[hour_of_day]
    return head
