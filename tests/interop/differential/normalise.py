"""What may legitimately differ between two servers' answers, and nothing else.

* the human-readable text after a status word and its response code
  (``t1 OK [READ-WRITE] Ok`` and ``t1 OK [READ-WRITE] SELECT completed`` agree),
  and the text of a ``+`` continuation request;
* UIDVALIDITY values (time-based; each copy's folders are created at another
  moment), in ``[UIDVALIDITY n]``, STATUS and ``[APPENDUID n ...]``/``[COPYUID n ...]``;
* INTERNALDATE values that fall within the test run (APPEND without a date
  stamps the arrival time, a second apart on the two sides);
* the order of consecutive LIST/LSUB lines (Courier lists in directory order).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

STATUS = re.compile(r"^(\S+ (?:OK|NO|BAD|BYE|PREAUTH))(?: (\[[^\]]*\]))?(?: .*)?$")
UIDVALIDITY = re.compile(r"(\[UIDVALIDITY |UIDVALIDITY |\[APPENDUID |\[COPYUID )\d+")
INTERNALDATE = re.compile(r'INTERNALDATE "([ 0-9]\d-[A-Za-z]{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4})"')
LISTING = re.compile(r"^\* (?:LIST|LSUB) ")


def decode(line: bytes) -> str:
    return line.decode("utf-8", "surrogateescape")


def _status_line(line: str) -> str:
    if line.startswith("+"):
        return "+"
    match = STATUS.match(line)
    if match:
        return match.group(1) + (" " + match.group(2) if match.group(2) else "")
    return line


def _internaldate(line: str, window: tuple[float, float]) -> str:
    def replace(match: re.Match[str]) -> str:
        when = datetime.strptime(match.group(1).strip(), "%d-%b-%Y %H:%M:%S %z").timestamp()
        if window[0] - 1 <= when <= window[1] + 1:
            return 'INTERNALDATE "<during the run>"'
        return match.group(0)

    return INTERNALDATE.sub(replace, line)


def normalise(lines: Sequence[bytes], window: tuple[float, float]) -> list[str]:
    """One exchange's lines after normalisation (see the module docstring)."""
    result: list[str] = []
    listing: list[str] = []
    for raw in lines:
        line = _status_line(decode(raw))
        line = UIDVALIDITY.sub(lambda m: m.group(1) + "N", line)
        line = _internaldate(line, window)
        if LISTING.match(line):
            listing.append(line)
            continue
        result.extend(sorted(listing))
        listing = []
        result.append(line)
    result.extend(sorted(listing))
    return result
