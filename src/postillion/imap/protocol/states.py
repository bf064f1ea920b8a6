"""Session states and command metadata, as tables (DESIGN habits 4 and 5).

:data:`COMMANDS` says, for every command the core knows, in which states it
is accepted and how it relates to message sequence numbers:

* ``uses_seqs``: the command takes or reports sequence numbers, so no
  EXPUNGE response may be sent while it runs or right after it
  (RFC 3501 section 7.4.1: not during FETCH, STORE, SEARCH; Dovecot's
  ``COMMAND_FLAG_USES_SEQS``), and a pipelined one must wait for any
  running ``breaks_seqs`` command.
* ``breaks_seqs``: the command may expunge or report expunges (the UID
  commands, NOOP, CHECK, IDLE, EXPUNGE, MOVE; Dovecot's
  ``COMMAND_FLAG_BREAKS_SEQS``), so commands after it that use sequence
  numbers must not run concurrently with it.
* ``breaks_mailbox``: it changes or leaves the selected mailbox.
* ``message_literals``: its literals are messages (APPEND), allowed up to
  ``Limits.max_literal_size`` instead of ``max_string_literal_size``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SessionState(enum.Enum):
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


@dataclass(frozen=True, slots=True)
class CommandInfo:
    name: str
    states: frozenset[SessionState]
    uses_seqs: bool = False
    breaks_seqs: bool = False
    breaks_mailbox: bool = False
    message_literals: bool = False
    #: The capability that announces it (None for RFC 3501 commands).
    capability: str | None = None

    @property
    def expunges_allowed(self) -> bool:
        """May the server send pending EXPUNGE responses with this command?"""
        return not self.uses_seqs


_ANY = frozenset({SessionState.NOT_AUTHENTICATED, SessionState.AUTHENTICATED,
                  SessionState.SELECTED})
_NOT_AUTH = frozenset({SessionState.NOT_AUTHENTICATED})
_AUTH = frozenset({SessionState.AUTHENTICATED, SessionState.SELECTED})
_SELECTED = frozenset({SessionState.SELECTED})


def _table(*infos: CommandInfo) -> dict[str, CommandInfo]:
    return {info.name: info for info in infos}


COMMANDS: dict[str, CommandInfo] = _table(
    # Any state (RFC 3501 6.1)
    CommandInfo("CAPABILITY", _ANY),
    CommandInfo("NOOP", _ANY, breaks_seqs=True),
    CommandInfo("LOGOUT", _ANY, breaks_mailbox=True),
    CommandInfo("ID", _ANY, capability="ID"),
    # Not authenticated (6.2)
    CommandInfo("STARTTLS", _NOT_AUTH, capability="STARTTLS"),
    CommandInfo("AUTHENTICATE", _NOT_AUTH),
    CommandInfo("LOGIN", _NOT_AUTH),
    # Authenticated (6.3)
    CommandInfo("SELECT", _AUTH, breaks_seqs=True, breaks_mailbox=True),
    CommandInfo("EXAMINE", _AUTH, breaks_seqs=True, breaks_mailbox=True),
    CommandInfo("CREATE", _AUTH),
    CommandInfo("DELETE", _AUTH),
    CommandInfo("RENAME", _AUTH),
    CommandInfo("SUBSCRIBE", _AUTH),
    CommandInfo("UNSUBSCRIBE", _AUTH),
    CommandInfo("LIST", _AUTH),
    CommandInfo("LSUB", _AUTH),
    CommandInfo("STATUS", _AUTH),
    CommandInfo("APPEND", _AUTH, breaks_seqs=True, message_literals=True),
    CommandInfo("NAMESPACE", _AUTH, capability="NAMESPACE"),
    CommandInfo("ENABLE", _AUTH, capability="ENABLE"),
    CommandInfo("IDLE", _AUTH, breaks_seqs=True, capability="IDLE"),
    CommandInfo("GETQUOTA", _AUTH, capability="QUOTA"),
    CommandInfo("GETQUOTAROOT", _AUTH, capability="QUOTA"),
    CommandInfo("SETQUOTA", _AUTH, capability="QUOTA"),
    CommandInfo("GETACL", _AUTH, capability="ACL"),
    CommandInfo("SETACL", _AUTH, capability="ACL"),
    CommandInfo("DELETEACL", _AUTH, capability="ACL"),
    CommandInfo("LISTRIGHTS", _AUTH, capability="ACL"),
    CommandInfo("MYRIGHTS", _AUTH, capability="ACL"),
    # Selected (6.4)
    CommandInfo("CHECK", _SELECTED, breaks_seqs=True),
    CommandInfo("CLOSE", _SELECTED, breaks_seqs=True, breaks_mailbox=True),
    CommandInfo("UNSELECT", _SELECTED, breaks_seqs=True, breaks_mailbox=True,
                capability="UNSELECT"),
    CommandInfo("EXPUNGE", _SELECTED, breaks_seqs=True),
    CommandInfo("UID EXPUNGE", _SELECTED, breaks_seqs=True, capability="UIDPLUS"),
    CommandInfo("SEARCH", _SELECTED, uses_seqs=True),
    CommandInfo("FETCH", _SELECTED, uses_seqs=True),
    CommandInfo("STORE", _SELECTED, uses_seqs=True),
    CommandInfo("COPY", _SELECTED, uses_seqs=True),
    CommandInfo("MOVE", _SELECTED, uses_seqs=True, breaks_seqs=True, capability="MOVE"),
    CommandInfo("SORT", _SELECTED, uses_seqs=True, capability="SORT"),
    CommandInfo("THREAD", _SELECTED, uses_seqs=True, capability="THREAD"),
    # UID forms: take UIDs, so expunges may be reported (RFC 3501 7.4.1 note)
    CommandInfo("UID SEARCH", _SELECTED, breaks_seqs=True),
    CommandInfo("UID FETCH", _SELECTED, breaks_seqs=True),
    CommandInfo("UID STORE", _SELECTED, breaks_seqs=True),
    CommandInfo("UID COPY", _SELECTED, breaks_seqs=True),
    CommandInfo("UID MOVE", _SELECTED, breaks_seqs=True, capability="MOVE"),
    CommandInfo("UID SORT", _SELECTED, breaks_seqs=True, capability="SORT"),
    CommandInfo("UID THREAD", _SELECTED, breaks_seqs=True, capability="THREAD"),
)


def accepts(state: SessionState, command_name: str) -> bool:
    """Does a session in ``state`` accept the command?"""
    info = COMMANDS.get(command_name)
    return info is not None and state in info.states
