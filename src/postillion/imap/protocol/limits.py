"""Limits applied before parsing, so that no client can make us buffer or
recurse without bound.  Each is configurable per connection; exceeding one
answers BAD (or refuses the literal) and the connection stays usable.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Longest command line (the text outside literals, CRLF excluded) and the
#: longest continuation line (SASL, IDLE DONE).  Dovecot's
#: ``imap_max_line_length`` is 64 KiB and RFC 7162 section 4 asks clients to
#: keep lines under 8192 octets, so real clients fit easily; a UID set of a
#: 100k-message mailbox compresses to ranges well below this.
DEFAULT_MAX_LINE_LENGTH = 64 * 1024

#: Largest literal carrying a message (APPEND).  Courier has no size limit
#: of its own besides the quota; Dovecot's ``mail_max_size`` is unlimited by
#: default, but Postfix's ``message_size_limit`` (50 MB) is what most mail
#: that reaches a mailbox has passed through, so 64 MiB refuses nothing real.
DEFAULT_MAX_LITERAL_SIZE = 64 * 1024 * 1024

#: Largest literal anywhere else (a password, a search string, a mailbox
#: name).  Dovecot counts such literals towards its 64 KiB line limit; we do
#: the same.
DEFAULT_MAX_STRING_LITERAL_SIZE = 64 * 1024

#: Deepest parenthesis nesting (search keys, lists).  Dovecot's parser
#: allows 20 levels of lists for commands (``IMAP_PARSE_LIST_MAX_DEPTH``
#: style guards); real clients nest a SEARCH OR-tree a few levels.  Our
#: parser recurses, so this also bounds Python's stack use.
DEFAULT_MAX_DEPTH = 50

#: Most items in one command: list elements, search keys, sequence-set
#: ranges, literals.  Thunderbird's largest UID STORE sets stay in the low
#: thousands of ranges; 100k keeps the parse of one line well under a
#: second while refusing a line built to make us allocate per item.
DEFAULT_MAX_ITEMS = 100_000


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits one connection enforces."""

    max_line_length: int = DEFAULT_MAX_LINE_LENGTH
    max_literal_size: int = DEFAULT_MAX_LITERAL_SIZE
    max_string_literal_size: int = DEFAULT_MAX_STRING_LITERAL_SIZE
    max_depth: int = DEFAULT_MAX_DEPTH
    max_items: int = DEFAULT_MAX_ITEMS
