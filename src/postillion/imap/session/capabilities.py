"""One capability table, filtered by session state and configuration
(DESIGN habit 10).

The base list is Courier's: ``IMAP_CAPABILITY`` (``IMAP_CAPABILITY_TLS``
once TLS is active, when set), then ``ACL ACL2=UNION`` when ``IMAP_ACL=1``,
``STARTTLS`` before login when a TLS context is configured, TLS is not yet
active and ``IMAPDSTARTTLS`` is on, ``LOGINDISABLED`` before TLS when
``IMAP_TLS_REQUIRED=1``, then ``ENABLE UTF8=ACCEPT`` (Courier always adds
them) and the extensions Postillion adds.  ``AUTH=`` mechanisms are the
administrator's (from the variables); ``SASL-IR``, ``AUTH=``, ``STARTTLS``
and ``LOGINDISABLED`` are dropped after login.  A capability the
administrator removed also disables its commands (:func:`allows`).
"""

from __future__ import annotations

from postillion.imap.protocol import SessionState

from .context import ServerContext

#: Always offered on top of the configured list (Courier offers the first two).
ALWAYS = ("ENABLE", "UTF8=ACCEPT", "ID", "UNSELECT", "LITERAL+", "MOVE", "SASL-IR",
          "SPECIAL-USE")
_PRELOGIN_ONLY = ("STARTTLS", "LOGINDISABLED", "SASL-IR")


def advertised(ctx: ServerContext, state: SessionState, *, tls_active: bool) -> tuple[str, ...]:
    config = ctx.config
    words = config.get_words("IMAP_CAPABILITY")
    if tls_active and config.get_words("IMAP_CAPABILITY_TLS"):
        words = config.get_words("IMAP_CAPABILITY_TLS")
    out: list[str] = list(words)
    if config.get_bool("IMAP_ACL"):
        out += ["ACL", "ACL2=UNION"]
    if ctx.tls_context is not None and not tls_active and config.get_bool("IMAPDSTARTTLS"):
        out.append("STARTTLS")
    if not tls_active and config.get_bool("IMAP_TLS_REQUIRED"):
        out.append("LOGINDISABLED")
    out += ALWAYS
    if state is not SessionState.NOT_AUTHENTICATED:
        out = [c for c in out if c not in _PRELOGIN_ONLY and not c.upper().startswith("AUTH=")]
    seen: set[str] = set()
    unique: list[str] = []
    for cap in out:
        if cap.upper() not in seen:
            seen.add(cap.upper())
            unique.append(cap)
    return tuple(unique)


def allows(capabilities: tuple[str, ...], name: str) -> bool:
    """Is the capability ``name`` (``THREAD`` matches ``THREAD=...``) offered?
    Commands that come with Courier's fixed additions are always allowed."""
    upper = name.upper()
    if upper in ("STARTTLS",):
        return True  # the STARTTLS handler gives its own answer
    return any(c.upper() == upper or c.upper().startswith(upper + "=") for c in capabilities)
