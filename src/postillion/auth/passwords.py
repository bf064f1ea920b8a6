"""Stored password formats: verify a login's password, and make new hashes.

What Courier's authlib accepts in ``systempw`` / ``<service>pw`` (and in SQL
``crypt`` columns), and so what we accept:

* ``$1$salt$hash`` MD5-crypt; ``{MD5}`` base64 MD5; ``{MD5RAW}`` hex MD5;
* ``{SHA}`` base64 SHA-1; ``{SSHA}`` base64(SHA-1(pw + salt) + salt);
  ``{SHA256}`` and ``{SHA512}`` base64 digests (prefixes case-insensitive);
* ``{CRYPT}`` followed by a crypt(3) string, or a bare crypt(3) string:
  traditional DES, ``$5$`` SHA-256-crypt, ``$6$`` SHA-512-crypt, and bcrypt
  ``$2a$/$2b$/$2y$`` where a bcrypt backend is installed.

Beyond Courier (other LDAP-style tools write them): ``{SMD5}``, ``{SSHA256}``
and ``{SSHA512}`` (salted, digest first, salt last).  Courier has no
``{PLAIN}`` scheme and neither do we: plaintext is never a stored format.

Every comparison is constant-time; a stored value we cannot parse simply
never matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import warnings
from collections.abc import Callable

from passlib import hash as passlib_hash  # type: ignore[import-untyped]

# crypt(3)-style schemes, by prefix, handled by the libpass package.
_CRYPT_SCHEMES = (
    ("$1$", passlib_hash.md5_crypt),
    ("$5$", passlib_hash.sha256_crypt),
    ("$6$", passlib_hash.sha512_crypt),
    ("$2a$", passlib_hash.bcrypt),
    ("$2b$", passlib_hash.bcrypt),
    ("$2y$", passlib_hash.bcrypt),
)

# Unsalted digests: scheme -> (hash name, encoding of the stored value).
_DIGESTS = {
    "{MD5}": ("md5", "base64"),
    "{MD5RAW}": ("md5", "hex"),
    "{SHA}": ("sha1", "base64"),
    "{SHA256}": ("sha256", "base64"),
    "{SHA512}": ("sha512", "base64"),
}
# Salted digests, base64(digest + salt).
_SALTED = {
    "{SSHA}": "sha1",
    "{SMD5}": "md5",
    "{SSHA256}": "sha256",
    "{SSHA512}": "sha512",
}

# Hash used to spend comparable time when there is nothing to compare with
# (unknown login): the cost of the default scheme we write.
_DUMMY_HASH = (
    "$6$lugRrmNJYm6Bybl4$sFfYOsFzNmetTdyI1T4cUqAGC7SLJpOE15VMmNa9"
    "HHtiDlkEYWyOPovsC34eNio5UdGWd01fS6XLOzQwAuSyG."
)


def _system_crypt() -> Callable[[str, str], str | None] | None:
    """The C library's crypt(3) through the stdlib, where this Python still has it.

    It adds what libpass cannot do alone: yescrypt ``$y$`` (Debian's shadow
    default) and bcrypt without the bcrypt package.  Removed in Python 3.13.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt as system_crypt
    except ImportError:
        return None
    function: Callable[[str, str], str | None] = system_crypt.crypt
    return function


_SYSTEM_CRYPT = _system_crypt()


def _scheme_prefix(stored: str) -> str | None:
    if stored.startswith("{"):
        end = stored.find("}")
        if end > 0:
            return stored[:end + 1].upper()
    return None


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _verify_crypt(password: bytes, stored: str) -> bool:
    for prefix, handler in _CRYPT_SCHEMES:
        if stored.startswith(prefix):
            try:
                return bool(handler.verify(password, stored))
            except (ValueError, TypeError, RuntimeError, LookupError):
                # Malformed hash, or (bcrypt) no backend installed: try crypt(3).
                break
    if stored.startswith("$"):
        if _SYSTEM_CRYPT is None:
            return False
        try:
            computed = _SYSTEM_CRYPT(password.decode("utf-8", "surrogateescape"), stored)
        except (ValueError, OSError):
            return False
        return computed is not None and hmac.compare_digest(
            computed.encode("utf-8", "surrogateescape"), stored.encode())
    if len(stored) == 13 and not stored.startswith("$"):
        try:
            return bool(passlib_hash.des_crypt.verify(password, stored))
        except (ValueError, TypeError):
            return False
    return False


def verify_password(password: str | bytes, stored: str) -> bool:
    """Does ``password`` match the stored value ``stored``, in any format above?"""
    secret = password.encode() if isinstance(password, str) else password
    if not stored or b"\0" in secret:
        return False
    scheme = _scheme_prefix(stored)
    if scheme in _DIGESTS:
        name, encoding = _DIGESTS[scheme]
        digest = hashlib.new(name, secret).digest()
        value = stored[len(scheme):]
        expected = (digest.hex() if encoding == "hex"
                    else base64.b64encode(digest).decode())
        return hmac.compare_digest(expected.encode(), value.encode())
    if scheme in _SALTED:
        name = _SALTED[scheme]
        raw = _b64decode(stored[len(scheme):])
        size = hashlib.new(name).digest_size
        if raw is None or len(raw) <= size:
            return False
        digest, salt = raw[:size], raw[size:]
        return hmac.compare_digest(hashlib.new(name, secret + salt).digest(), digest)
    if scheme == "{CRYPT}":
        stored = stored[len(scheme):]
    return _verify_crypt(secret, stored)


def spend_verify_time(password: str | bytes) -> None:
    """Do the work of one verification and discard it (for unknown logins)."""
    verify_password(password, _DUMMY_HASH)


# --- making hashes ------------------------------------------------------------

#: Schemes ``make_password`` can write, by ``userdbpw`` option name.
SCHEMES = ("des", "md5", "sha256", "sha512", "ssha")


def make_password(password: str | bytes, scheme: str = "sha512") -> str:
    """A new stored value for ``password`` in ``scheme`` (one of SCHEMES)."""
    secret = password.encode() if isinstance(password, str) else password
    if scheme == "des":
        return str(passlib_hash.des_crypt.hash(secret))
    if scheme == "md5":
        return str(passlib_hash.md5_crypt.hash(secret))
    if scheme in ("sha256", "sha512"):
        # glibc's default cost (5000 rounds, written without "rounds="),
        # which every crypt(3) reads.
        handler = passlib_hash.sha256_crypt if scheme == "sha256" else passlib_hash.sha512_crypt
        return str(handler.using(rounds=5000).hash(secret))
    if scheme == "ssha":
        salt = secrets.token_bytes(4)
        digest = hashlib.sha1(secret + salt).digest()
        return "{SSHA}" + base64.b64encode(digest + salt).decode()
    raise ValueError(f"unknown password scheme: {scheme}")
