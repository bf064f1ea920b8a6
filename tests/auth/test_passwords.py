"""Stored password formats: what Courier's authlib accepts, checked with known values."""

from __future__ import annotations

import base64
import hashlib

import pytest

from postillion.auth.passwords import make_password, verify_password

# Made by Courier's userdbpw (DES default and -md5) for the password "secret".
COURIER_DES = "F42R48Y5vC3qM"
COURIER_MD5 = "$1$29RaQ6BA$EioMlrxQKzMlAlqypUW.X."


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("stored", [
    COURIER_DES,
    COURIER_MD5,
    "{CRYPT}" + COURIER_MD5,
    "{crypt}" + COURIER_DES,
    "{MD5}" + b64(hashlib.md5(b"secret").digest()),
    "{MD5RAW}" + hashlib.md5(b"secret").hexdigest(),
    "{SHA}" + b64(hashlib.sha1(b"secret").digest()),
    "{sha}" + b64(hashlib.sha1(b"secret").digest()),
    "{SHA256}" + b64(hashlib.sha256(b"secret").digest()),
    "{SHA512}" + b64(hashlib.sha512(b"secret").digest()),
    "{SSHA}" + b64(hashlib.sha1(b"secret" + b"salt").digest() + b"salt"),
    "{SSHA256}" + b64(hashlib.sha256(b"secret" + b"saltsalt").digest() + b"saltsalt"),
    "{SSHA512}" + b64(hashlib.sha512(b"secret" + b"s").digest() + b"s"),
    "{SMD5}" + b64(hashlib.md5(b"secret" + b"abcd").digest() + b"abcd"),
])
def test_formats_accept_the_right_password_only(stored: str) -> None:
    assert verify_password("secret", stored)
    assert not verify_password("Secret", stored)
    assert not verify_password("", stored)


@pytest.mark.parametrize("scheme", ["des", "md5", "sha256", "sha512", "ssha"])
def test_made_hashes_verify(scheme: str) -> None:
    stored = make_password("pässword", scheme)
    assert verify_password("pässword", stored)
    assert not verify_password("password", stored)


def test_sha_crypt_uses_the_crypt3_default_cost() -> None:
    assert make_password("x", "sha512").startswith("$6$")
    assert "rounds=" not in make_password("x", "sha512")
    assert make_password("x", "sha256").startswith("$5$")


def test_des_crypt_looks_at_eight_characters_as_crypt3_does() -> None:
    stored = make_password("abcdefgh", "des")
    assert len(stored) == 13
    assert verify_password("abcdefghXYZ", stored)


@pytest.mark.parametrize("stored", [
    "", "{PLAIN}secret", "secret", "{SSHA}!!notbase64", "{SSHA}" + b64(b"short"),
    "$1$broken", "$6$salt$tooshort", "{UNKNOWN}x", "$9$whatever",
])
def test_unusable_stored_values_never_match(stored: str) -> None:
    assert not verify_password("secret", stored)


@pytest.mark.parametrize("stored", [
    # yescrypt (Debian's /etc/shadow default) and bcrypt, made by libxcrypt for "secret".
    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$GmcwIgvdUC9qLWcKCi6gklUa1dM3ziD43YxYNURLKy0",
    "$2b$04$.dl5dlYjH.NBfn.jAA6aYuBv9HjxUvEM3hq1KWSVsLqNHKOSJW9Um",
])
def test_system_crypt_formats_through_the_c_library(stored: str) -> None:
    from postillion.auth import passwords
    if passwords._SYSTEM_CRYPT is None:
        pytest.skip("this Python has no crypt module (3.13+)")
    assert verify_password("secret", stored)
    assert not verify_password("wrong", stored)
