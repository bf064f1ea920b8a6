"""LOGIN, AUTHENTICATE (PLAIN, LOGIN, CRAM-MD5/SHA1/SHA256, SASL-IR) and
STARTTLS.

Courier's behaviour: every failure costs ``ctx.login_failure_delay``
(5 s) before ``NO Login failed.``; success answers ``OK LOGIN Ok.``; an
account with ``disableimap`` gets the OK and then ``* BYE IMAP access
disabled for this account.``.  Passwords never reach a log line.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from postillion.auth import Account, cram
from postillion.imap.protocol import SaslResponse, commands
from postillion.imap.protocol import responses as r

from .core import SessionEnd, sanitize
from .errors import ERROR_TEXT

if TYPE_CHECKING:
    from .core import Handler, Session

log = logging.getLogger("postillion.imap")

SERVICE = "imap"
FAILED = "Login failed."


def _login_disabled(session: Session) -> bool:
    return not session.tls_active and session.ctx.config.get_bool("IMAP_TLS_REQUIRED")


async def _fail(session: Session, tag: bytes, login: str) -> r.TaggedResponse:
    log.info("imap LOGIN FAILED, user=%s, ip=[%s]", sanitize(login), session.peer)
    await asyncio.sleep(session.ctx.login_failure_delay)
    return r.TaggedResponse(tag, "NO", FAILED, r.AUTHENTICATIONFAILED)


async def _succeed(session: Session, tag: bytes, account: Account) -> r.TaggedResponse | None:
    if account.disabled_for(SERVICE, secure=session.tls_active):
        await session.send(r.TaggedResponse(tag, "OK", "LOGIN Ok."),
                           r.UntaggedStatus("BYE", "IMAP access disabled for this account."))
        raise SessionEnd
    try:
        await session.become(account)
    except PermissionError:
        return await _fail(session, tag, account.login)
    return r.TaggedResponse(tag, "OK", "LOGIN Ok.")


async def _check(session: Session, login: str, secret: str) -> Account | None:
    backend = session.ctx.auth
    if backend is None:
        return None
    return await asyncio.to_thread(backend.authenticate, SERVICE, login, secret)


async def login(session: Session, cmd: commands.Login) -> r.TaggedResponse | None:
    if _login_disabled(session):
        return r.TaggedResponse(cmd.tag, "NO", "LOGIN disabled until STARTTLS.",
                                r.PRIVACYREQUIRED)
    name = cmd.username.decode("utf-8", "surrogateescape")
    account = await _check(session, name, cmd.password.decode("utf-8", "surrogateescape"))
    if account is None:
        return await _fail(session, cmd.tag, name)
    return await _succeed(session, cmd.tag, account)


async def _sasl_step(session: Session, challenge: bytes) -> bytes | None:
    """Send a challenge, read the client's line; None when cancelled or garbled."""
    await session.send(r.ContinuationRequest(data=challenge))
    session.conn.expect_sasl_response()
    event = await session.next_event()
    if not isinstance(event, SaslResponse) or event.cancelled:
        session.conn.cancel_line_mode()
        return None
    return event.decode()


async def authenticate(session: Session, cmd: commands.Authenticate) -> r.TaggedResponse | None:
    if _login_disabled(session):
        return r.TaggedResponse(cmd.tag, "NO", "AUTHENTICATE disabled until STARTTLS.",
                                r.PRIVACYREQUIRED)
    mechanism = cmd.mechanism.upper()
    backend = session.ctx.auth
    if mechanism == "PLAIN":
        response = cmd.initial_response
        if response is None:
            response = await _sasl_step(session, b"")
        if response is None:
            return await _fail(session, cmd.tag, "")
        parts = response.split(b"\0")
        if len(parts) != 3:
            return await _fail(session, cmd.tag, "")
        authzid, authcid, password = (p.decode("utf-8", "surrogateescape") for p in parts)
        if authzid and authzid != authcid:
            return await _fail(session, cmd.tag, authcid)
        account = await _check(session, authcid, password)
        if account is None:
            return await _fail(session, cmd.tag, authcid)
        return await _succeed(session, cmd.tag, account)
    if mechanism == "LOGIN":
        user = cmd.initial_response
        if user is None:
            user = await _sasl_step(session, b"Username:")
        if user is None:
            return await _fail(session, cmd.tag, "")
        password_bytes = await _sasl_step(session, b"Password:")
        name = user.decode("utf-8", "surrogateescape")
        if password_bytes is None:
            return await _fail(session, cmd.tag, name)
        account = await _check(session, name, password_bytes.decode("utf-8", "surrogateescape"))
        if account is None:
            return await _fail(session, cmd.tag, name)
        return await _succeed(session, cmd.tag, account)
    if mechanism in cram.MECHANISMS and backend is not None:
        challenge = cram.make_challenge(session.ctx.hostname)
        response = await _sasl_step(session, challenge)
        if response is None:
            return await _fail(session, cmd.tag, "")
        account = await asyncio.to_thread(cram.authenticate, backend, SERVICE, mechanism,
                                          challenge, response)
        if account is None:
            parsed = cram.parse_response(response)
            return await _fail(session, cmd.tag, parsed[0] if parsed else "")
        return await _succeed(session, cmd.tag, account)
    return await _fail(session, cmd.tag, "")


async def starttls(session: Session, cmd: commands.StartTLS) -> r.TaggedResponse | None:
    ctx = session.ctx
    if ctx.tls_context is None or session.tls_active or not ctx.config.get_bool("IMAPDSTARTTLS"):
        return r.TaggedResponse(cmd.tag, "NO", ERROR_TEXT)
    await session.send(r.TaggedResponse(cmd.tag, "OK", "Begin SSL/TLS negotiation now."))
    session.conn.drop_buffered_input()
    await session.writer.start_tls(ctx.tls_context)
    session.tls_active = True
    return None


HANDLERS: dict[type, Handler] = {
    commands.Login: login,
    commands.Authenticate: authenticate,
    commands.StartTLS: starttls,
}
