"""HMAC pre-computed states (userdbpw -hmac-*) and CRAM verification from them."""

from __future__ import annotations

import hmac

import pytest

from postillion.auth import cram, hmacstate
from postillion.auth.account import Account

# Printed by Courier's userdbpw for the password "secret" (deterministic).
COURIER_SECRET = {
    "md5": "cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56",
    "sha1": "091e0f4c6cb5277ee2beb639a60d0831b5c8adcdaee172433df3e96ba4f00fb1"
            "b6a490c3929d2034",
    "sha256": "5a84072aab37d22275b139adf7a92564c7f674be98e77d991f6f689d29e05245"
              "72804f31b042016804d3dea2f4e991a21b1c8906be161594b202fb74afc8ceb3",
}


@pytest.mark.parametrize("name", sorted(COURIER_SECRET))
def test_precompute_matches_courier(name: str) -> None:
    assert hmacstate.precompute(name, b"secret") == COURIER_SECRET[name]


@pytest.mark.parametrize("name", sorted(hmacstate.ALGORITHMS))
@pytest.mark.parametrize("password", [b"", b"secret", b"x" * 64, b"y" * 200, "pä".encode()])
@pytest.mark.parametrize("message", [b"", b"<1896.697170952@postoffice.example.net>",
                                     b"m" * 55, b"m" * 56, b"m" * 64, b"m" * 130])
def test_hmac_from_states_equals_hmac(name: str, password: bytes, message: bytes) -> None:
    stored = hmacstate.precompute(name, password)
    assert hmacstate.hmac_from_precomputed(name, stored, message) == \
        hmac.new(password, message, name).digest()


def test_rfc2195_example() -> None:
    stored = hmacstate.precompute("md5", b"tanstaaftanstaaf")
    challenge = b"<1896.697170952@postoffice.reston.mci.net>"
    assert cram.verify("md5", stored, challenge, "b913a602c7eda7a495b4e6e7334d3890")


def test_malformed_states_are_refused() -> None:
    assert hmacstate.hmac_from_precomputed("md5", "zz", b"x") is None
    assert hmacstate.hmac_from_precomputed("md5", COURIER_SECRET["sha1"], b"x") is None
    assert not cram.verify("md5", "nothex", b"c", "00")


def test_challenge_format() -> None:
    challenge = cram.make_challenge("mail.example.com")
    assert challenge.startswith(b"<") and challenge.endswith(b"@mail.example.com>")
    assert len(challenge.split(b"@")[0]) == 33
    assert cram.make_challenge("h") != cram.make_challenge("h")


def test_login_is_everything_before_the_last_space() -> None:
    assert cram.parse_response(b"paul smith 0a1b") == ("paul smith", "0a1b")
    assert cram.parse_response(b"nospace") is None
    assert cram.parse_response(b" 00") is None


class OneAccount:
    def __init__(self, stored: str | None) -> None:
        self.stored = stored
        self.account = Account("paul", 999, 995, "/h", "/h/Maildir")

    def cram_secret(self, service: str, login: str, algorithm: str) -> str | None:
        return self.stored if login == "paul" and algorithm == "md5" else None

    def lookup(self, login: str) -> Account | None:
        return self.account if login == "paul" else None

    def authenticate(self, service: str, login: str, secret: str) -> Account | None:
        return None

    def enumerate(self):  # type: ignore[no-untyped-def]
        yield self.account


def test_authenticate_with_a_backend() -> None:
    backend = OneAccount(COURIER_SECRET["md5"])
    challenge = cram.make_challenge("vm")
    digest = hmac.new(b"secret", challenge, "md5").hexdigest()
    assert cram.authenticate(backend, "imap", "CRAM-MD5", challenge,
                             f"paul {digest}".encode()) == backend.account
    wrong = hmac.new(b"wrong", challenge, "md5").hexdigest()
    assert cram.authenticate(backend, "imap", "CRAM-MD5", challenge,
                             f"paul {wrong}".encode()) is None
    assert cram.authenticate(backend, "imap", "CRAM-MD5", challenge,
                             f"nosuch {digest}".encode()) is None
    assert cram.authenticate(backend, "imap", "CRAM-SHA1", challenge,
                             f"paul {digest}".encode()) is None
    assert cram.authenticate(backend, "imap", "DIGEST-MD5", challenge,
                             f"paul {digest}".encode()) is None
    assert cram.authenticate(OneAccount(None), "imap", "CRAM-MD5", challenge,
                             f"paul {digest}".encode()) is None
