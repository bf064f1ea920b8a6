"""The sans-IO IMAP protocol core: bytes in, typed commands out; typed
responses in, bytes out.  No sockets, no files, no storage.

A session drives one :class:`Connection` per client; see
docs/imap-protocol.md for the API and what is covered.
"""

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

__all__ = [
    "COMMANDS", "NEED_DATA", "CommandError", "CommandInfo", "Connection", "ConnectionClosed",
    "ErrorKind", "Event", "FetchAtt", "IdleDone", "Limits", "LiteralRequest",
    "LocalProtocolError", "Missing", "NeedData", "SaslResponse", "SeqRange", "SequenceSet",
    "SessionState", "accepts", "commands", "decode_mailbox_name", "normalize_inbox",
    "responses", "serialize",
]
