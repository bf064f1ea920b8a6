"""HMAC pre-computed states, Courier's ``hmac-*pw`` password fields.

Courier stores, for CRAM logins, not the password but the two hash states an
HMAC keyed with it starts from: the state after compressing one block of
``key XOR opad`` and one of ``key XOR ipad``, hex-encoded, outer first
(``userdbpw -hmac-md5`` prints 2 x 16 bytes, ``-hmac-sha1`` 2 x 20,
``-hmac-sha256`` 2 x 32).  Each state is written in the hash's own digest
byte order (little-endian words for MD5, big-endian for SHA).

hashlib cannot start a hash from a given state, so the three compression
functions are written out here.  They only ever process a few blocks (the
key block, a CRAM challenge), so pure Python is fast enough.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

_MASK = 0xFFFFFFFF


def _rotl(value: int, count: int) -> int:
    return ((value << count) | (value >> (32 - count))) & _MASK


def _rotr(value: int, count: int) -> int:
    return ((value >> count) | (value << (32 - count))) & _MASK


# --- MD5 (RFC 1321) -------------------------------------------------------
_MD5_SHIFTS = [7, 12, 17, 22] * 4 + [5, 9, 14, 20] * 4 + [4, 11, 16, 23] * 4 + [6, 10, 15, 21] * 4
_MD5_K = [int(abs(math.sin(i + 1)) * 2**32) & _MASK for i in range(64)]


def _md5_compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    words = struct.unpack("<16I", block)
    a, b, c, d = state
    for i in range(64):
        if i < 16:
            f, g = (b & c) | (~b & d), i
        elif i < 32:
            f, g = (d & b) | (~d & c), (5 * i + 1) % 16
        elif i < 48:
            f, g = b ^ c ^ d, (3 * i + 5) % 16
        else:
            f, g = c ^ (b | (~d & _MASK)), (7 * i) % 16
        f = (f + a + _MD5_K[i] + words[g]) & _MASK
        a, d, c = d, c, b
        b = (b + _rotl(f, _MD5_SHIFTS[i])) & _MASK
    return tuple((x + y) & _MASK for x, y in zip(state, (a, b, c, d), strict=True))


# --- SHA-1 (FIPS 180-4) ---------------------------------------------------
def _sha1_compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    w = list(struct.unpack(">16I", block))
    for i in range(16, 80):
        w.append(_rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1))
    a, b, c, d, e = state
    for i in range(80):
        if i < 20:
            f, k = (b & c) | (~b & d), 0x5A827999
        elif i < 40:
            f, k = b ^ c ^ d, 0x6ED9EBA1
        elif i < 60:
            f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
        else:
            f, k = b ^ c ^ d, 0xCA62C1D6
        temp = (_rotl(a, 5) + (f & _MASK) + e + k + w[i]) & _MASK
        a, b, c, d, e = temp, a, _rotl(b, 30), c, d
    return tuple((x + y) & _MASK for x, y in zip(state, (a, b, c, d, e), strict=True))


# --- SHA-256 (FIPS 180-4) -------------------------------------------------
_SHA256_K = [
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
]


def _sha256_compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _MASK)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g))
              + _SHA256_K[i] + w[i]) & _MASK
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & _MASK
        a, b, c, d, e, f, g, h = (t1 + t2) & _MASK, a, b, c, (d + t1) & _MASK, e, f, g
    return tuple((x + y) & _MASK for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True))


@dataclass(frozen=True, slots=True)
class HashAlgorithm:
    """One Merkle-Damgard hash with 64-byte blocks, as Courier's libhmac uses it."""

    name: str                 # Courier's name: md5, sha1, sha256
    digest_size: int
    word_order: str           # struct byte order of the state words and length
    initial_state: tuple[int, ...]
    compress: Callable[[tuple[int, ...], bytes], tuple[int, ...]]
    block_size: int = 64

    def state_bytes(self, state: tuple[int, ...]) -> bytes:
        return struct.pack(f"{self.word_order}{len(state)}I", *state)

    def state_from_bytes(self, data: bytes) -> tuple[int, ...]:
        return struct.unpack(f"{self.word_order}{len(data) // 4}I", data)

    def digest_from(self, state: tuple[int, ...], data: bytes, already_hashed: int) -> bytes:
        """Finish the hash of ``already_hashed`` bytes (whole blocks) + ``data``."""
        total_bits = (already_hashed + len(data)) * 8
        padded = data + b"\x80" + b"\0" * ((55 - len(data)) % 64)
        padded += struct.pack(f"{self.word_order}Q", total_bits)
        for start in range(0, len(padded), 64):
            state = self.compress(state, padded[start:start + 64])
        return self.state_bytes(state)

    def hashlib_digest(self, data: bytes) -> bytes:
        return hashlib.new(self.name, data).digest()


ALGORITHMS: dict[str, HashAlgorithm] = {
    "md5": HashAlgorithm("md5", 16, "<",
                         (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476), _md5_compress),
    "sha1": HashAlgorithm("sha1", 20, ">",
                          (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0),
                          _sha1_compress),
    "sha256": HashAlgorithm("sha256", 32, ">",
                            (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                             0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19),
                            _sha256_compress),
}


def algorithm(name: str) -> HashAlgorithm:
    """The algorithm for Courier's name (``md5``, ``sha1``, ``sha256``); KeyError if none."""
    return ALGORITHMS[name.lower()]


def precompute(name: str, password: bytes) -> str:
    """The ``hmac-<name>pw`` value for a password: hex(outer state) + hex(inner state)."""
    algo = algorithm(name)
    key = algo.hashlib_digest(password) if len(password) > algo.block_size else password
    key = key.ljust(algo.block_size, b"\0")
    outer = algo.compress(algo.initial_state, bytes(b ^ 0x5C for b in key))
    inner = algo.compress(algo.initial_state, bytes(b ^ 0x36 for b in key))
    return (algo.state_bytes(outer) + algo.state_bytes(inner)).hex()


def hmac_from_precomputed(name: str, stored: str, message: bytes) -> bytes | None:
    """HMAC(password, message) from a stored ``hmac-*pw`` value; None if it is malformed."""
    algo = algorithm(name)
    try:
        raw = bytes.fromhex(stored)
    except ValueError:
        return None
    if len(raw) != 2 * algo.digest_size:
        return None
    outer = algo.state_from_bytes(raw[:algo.digest_size])
    inner = algo.state_from_bytes(raw[algo.digest_size:])
    inner_digest = algo.digest_from(inner, message, algo.block_size)
    return algo.digest_from(outer, inner_digest, algo.block_size)
