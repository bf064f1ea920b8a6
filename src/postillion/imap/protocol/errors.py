"""Two kinds of trouble, kept apart (as h11 does).

* The *client* broke the protocol: that is not an exception the caller sees
  but a :class:`~.events.CommandError` event; the session answers BAD or NO
  and the connection carries on.
* *We* misused the core (asked for the next event while a literal decision
  is pending, sent a response that cannot be serialized): that raises
  :class:`LocalProtocolError`, a bug in the caller.
"""

from __future__ import annotations

import enum


class LocalProtocolError(Exception):
    """The server code used the protocol core wrongly: a bug, not bad input."""


class ErrorKind(enum.Enum):
    """Why a client command was not accepted.  The session picks the answer
    (Courier answers most of these ``NO Error in IMAP command received by
    server.`` and counts them; see docs/imap-protocol.md)."""

    #: A blank line (some clients send a stray CRLF after a literal).
    EMPTY_LINE = "empty-line"
    #: No valid tag at the start of the line.
    MISSING_TAG = "missing-tag"
    #: The command name is not one we know.
    UNKNOWN_COMMAND = "unknown-command"
    #: The arguments do not follow the grammar.
    SYNTAX = "syntax"
    #: A known command that the current session state does not accept.
    WRONG_STATE = "wrong-state"
    #: The line was longer than ``Limits.max_line_length``; skipped to CRLF.
    LINE_TOO_LONG = "line-too-long"
    #: A literal larger than the limit: refused (synchronizing) or skipped.
    LITERAL_TOO_LARGE = "literal-too-large"
    #: Parentheses nested deeper than ``Limits.max_depth``.
    TOO_DEEP = "too-deep"
    #: More list items, ranges or literals than ``Limits.max_items``.
    TOO_MANY_ITEMS = "too-many-items"
    #: While idling, a line other than DONE arrived (the idle has ended).
    EXPECTED_DONE = "expected-done"


class Missing(enum.Enum):
    """What a command that ended too early still needed (a SYNTAX error
    found at the end of the command's text).  Courier answers a missing
    mailbox name ``BAD Invalid command`` and anything else with its usual
    NO, so the session needs to tell them apart."""

    #: A mailbox name: SELECT, EXAMINE, CREATE, DELETE, RENAME's either name,
    #: (UN)SUBSCRIBE, STATUS, APPEND, COPY/MOVE's destination, the ACL
    #: commands, GETQUOTAROOT, and LIST/LSUB's reference or pattern.
    MAILBOX = "mailbox"
    #: Any other argument.
    ARGUMENT = "argument"


class ParseFailure(Exception):
    """Internal: raised inside the parser, turned into a CommandError event."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.SYNTAX,
                 missing: Missing | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.missing = missing
