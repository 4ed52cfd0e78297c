"""The Secret Service session's key agreement, ``dh-ietf1024-sha256-aes128-cbc-pkcs7``:
our key pair, and the AES key shared with the service once it sends its public key.

Each side raises a number to a 1024-bit private exponent modulo the group's prime.
Python's ``pow`` takes ~2.5 ms for one of these and OpenSSL ~0.2 ms, and a freshly
activated daemon does two before its first token, so ``libcrypto`` (already loaded for
the session's AES, ``sigilforge.store.aes``) does them where the system has it, with its
constant-time Montgomery exponentiation; ``pow`` elsewhere. The private exponent is the
same 1024 random bits either way, as secretstorage and libsecret use.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import hmac
import os
from collections.abc import Callable

from sigilforge.store.aes import libcrypto

__all__ = ["ALGORITHM", "key_pair", "shared_key"]

ALGORITHM = "dh-ietf1024-sha256-aes128-cbc-pkcs7"
_BYTES = 128
# RFC 2409's second Oakley group, the prime the algorithm names; the generator is 2.
_PRIME = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22"
    "514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6"
    "F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"
    "FFFFFFFFFFFFFFFF",
    16,
)
_PRIME_BYTES = _PRIME.to_bytes(_BYTES, "big")
_TWO = (2).to_bytes(_BYTES, "big")

# (base, exponent) -> base ** exponent mod the prime, every number 128 big-endian bytes.
_ModExp = Callable[[bytes, bytes], bytes]


def key_pair() -> tuple[bytes, bytes]:
    """``(private, public)``: our secret exponent and what ``OpenSession`` sends."""
    private = os.urandom(_BYTES)
    return private, _modexp()(_TWO, private)


def shared_key(private: bytes, server_public: bytes) -> bytes:
    """The session's AES-128 key, from the service's public key and our private one."""
    # Reduced first, as ``pow`` would: whatever the service sends, the result is the same.
    base = (int.from_bytes(server_public, "big") % _PRIME).to_bytes(_BYTES, "big")
    shared = _modexp()(base, private)
    # HKDF-SHA256 with a null salt and no info, as the algorithm specifies; 128 bits.
    prk = hmac.new(b"\0" * 32, shared, hashlib.sha256).digest()
    return hmac.new(prk, b"\1", hashlib.sha256).digest()[:16]


def _with_pow(base: bytes, exponent: bytes) -> bytes:
    value = pow(int.from_bytes(base, "big"), int.from_bytes(exponent, "big"), _PRIME)
    return value.to_bytes(_BYTES, "big")


@functools.cache
def _modexp() -> _ModExp:
    lib = libcrypto()
    if lib is not None:
        try:
            return _Bignum(lib).modexp
        except AttributeError:
            pass
    return _with_pow


class _Bignum:
    """The BIGNUM calls of one exponentiation, with their C types declared (a pointer
    left undeclared would be cut to an int)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        ptr, buf, num = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        self._ctx_new = lib.BN_CTX_new
        self._ctx_new.restype, self._ctx_new.argtypes = ptr, []
        self._ctx_free = lib.BN_CTX_free
        self._ctx_free.restype, self._ctx_free.argtypes = None, [ptr]
        self._new = lib.BN_new
        self._new.restype, self._new.argtypes = ptr, []
        self._from_bytes = lib.BN_bin2bn
        self._from_bytes.restype, self._from_bytes.argtypes = ptr, [buf, num, ptr]
        self._to_bytes = lib.BN_bn2binpad
        self._to_bytes.restype, self._to_bytes.argtypes = num, [ptr, ctypes.c_void_p, num]
        # Cleared before it is freed: it holds our private exponent.
        self._free = lib.BN_clear_free
        self._free.restype, self._free.argtypes = None, [ptr]
        self._exp = lib.BN_mod_exp_mont_consttime
        self._exp.restype, self._exp.argtypes = num, [ptr, ptr, ptr, ptr, ptr, ptr]

    def modexp(self, base: bytes, exponent: bytes) -> bytes:
        ctx = self._ctx_new()
        if not ctx:
            raise MemoryError("BN_CTX_new")
        numbers = [
            self._from_bytes(base, len(base), None),
            self._from_bytes(exponent, len(exponent), None),
            self._from_bytes(_PRIME_BYTES, _BYTES, None),
            self._new(),
        ]
        try:
            if not all(numbers):
                raise MemoryError("BN_new")
            b, e, m, r = numbers
            out = ctypes.create_string_buffer(_BYTES)
            if self._exp(r, b, e, m, ctx, None) != 1 or self._to_bytes(r, out, _BYTES) != _BYTES:
                raise ValueError("BN_mod_exp_mont_consttime failed")
            return out.raw
        finally:
            for number in numbers:
                if number:
                    self._free(number)
            self._ctx_free(ctx)
