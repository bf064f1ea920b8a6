"""The sans-IO IMAP protocol core: bytes in, typed commands out; typed
responses in, bytes out.  No sockets, no files, no storage.

A session drives one :class:`Connection` per client; see
docs/imap-protocol.md for the API and what is covered.

The names below are imported from their modules on first use (PEP 562):
a worker process that needs one small module of the package (say the
wire forms of ENVELOPE and BODYSTRUCTURE) then does not pay for the
command parser and every response class (~80 ms of imports) before it
can start work.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import commands, responses
    from .connection import Connection
    from .errors import ErrorKind, LocalProtocolError, Missing
    from .events import (
        NEED_DATA,
        CommandError,
        ConnectionClosed,
        Event,
        IdleDone,
        LiteralRequest,
        NeedData,
        SaslResponse,
    )
    from .fetchatts import FetchAtt
    from .lexer import decode_mailbox_name, normalize_inbox
    from .limits import Limits
    from .sequence import SeqRange, SequenceSet
    from .serializer import serialize
    from .states import COMMANDS, CommandInfo, SessionState, accepts

#: Each public name and the module (of this package) that defines it.
_HOMES = {
    "Connection": "connection",
    "ErrorKind": "errors", "LocalProtocolError": "errors", "Missing": "errors",
    "NEED_DATA": "events", "CommandError": "events", "ConnectionClosed": "events",
    "Event": "events", "IdleDone": "events", "LiteralRequest": "events",
    "NeedData": "events", "SaslResponse": "events",
    "FetchAtt": "fetchatts",
    "decode_mailbox_name": "lexer", "normalize_inbox": "lexer",
    "Limits": "limits",
    "SeqRange": "sequence", "SequenceSet": "sequence",
    "serialize": "serializer",
    "COMMANDS": "states", "CommandInfo": "states", "SessionState": "states",
    "accepts": "states",
}
_SUBMODULES = frozenset({"commands", "responses"})

__all__ = [
    "COMMANDS", "NEED_DATA", "CommandError", "CommandInfo", "Connection", "ConnectionClosed",
    "ErrorKind", "Event", "FetchAtt", "IdleDone", "Limits", "LiteralRequest",
    "LocalProtocolError", "Missing", "NeedData", "SaslResponse", "SeqRange", "SequenceSet",
    "SessionState", "accepts", "commands", "decode_mailbox_name", "normalize_inbox",
    "responses", "serialize",
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value: Any = importlib.import_module(f"{__name__}.{name}")
    elif name in _HOMES:
        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups find it without this call
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
