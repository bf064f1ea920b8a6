"""SASL CRAM-MD5 / CRAM-SHA1 / CRAM-SHA256 (RFC 2195 style), as Courier does them.

The server sends the challenge ``<32 hex digits@hostname>``; the client
answers ``login SP hex(HMAC(password, challenge))``.  The login is
everything before the *last* space.  The HMAC is checked against the
account's stored pre-computed states (``hmac-md5pw`` ...), so no clear
password is needed; an account without them cannot use CRAM.
"""

from __future__ import annotations

import hmac
import secrets
import socket

from postillion.auth import hmacstate
from postillion.auth.account import Account
from postillion.auth.backend import AuthBackend

#: SASL mechanism name -> Courier's hash name.
MECHANISMS = {"CRAM-MD5": "md5", "CRAM-SHA1": "sha1", "CRAM-SHA256": "sha256"}

# Used when a login has no stored secret, so the work done is the same.
_DUMMY_STATES = {name: hmacstate.precompute(name, b"postillion") for name in hmacstate.ALGORITHMS}


def make_challenge(hostname: str | None = None) -> bytes:
    """A fresh challenge ``<32 hex digits@hostname>`` (hostname defaults to ours)."""
    host = hostname if hostname is not None else (socket.gethostname() or "cram")
    return f"<{secrets.token_hex(16).upper()}@{host}>".encode()


def parse_response(response: bytes) -> tuple[str, str] | None:
    """The decoded client response -> (login, hex digest), split at the last space."""
    text = response.decode("utf-8", "surrogateescape")
    login, space, digest = text.rpartition(" ")
    if not space or not login:
        return None
    return login, digest


def verify(algorithm: str, stored: str, challenge: bytes, digest_hex: str) -> bool:
    """Does ``digest_hex`` equal HMAC(password, challenge) for the stored states?"""
    expected = hmacstate.hmac_from_precomputed(algorithm, stored, challenge)
    if expected is None:
        return False
    try:
        given = bytes.fromhex(digest_hex)
    except ValueError:
        return False
    return hmac.compare_digest(expected, given)


def authenticate(backend: AuthBackend, service: str, mechanism: str,
                 challenge: bytes, response: bytes) -> Account | None:
    """Check a decoded CRAM response against ``backend``; the account or None."""
    algorithm = MECHANISMS.get(mechanism.upper())
    parsed = parse_response(response)
    if algorithm is None or parsed is None:
        return None
    login, digest_hex = parsed
    stored = backend.cram_secret(service, login, algorithm)
    if stored is None:
        verify(algorithm, _DUMMY_STATES[algorithm], challenge, digest_hex)
        return None
    if not verify(algorithm, stored, challenge, digest_hex):
        return None
    return backend.lookup(login)
