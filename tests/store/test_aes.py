"""The session cipher (``store.aes``): both backends decrypt what ``cryptography``
encrypts, and refuse what cannot be right rather than return garbage."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sigilforge.store import aes

Decrypt = Callable[[bytes, bytes, bytes], bytes]
BACKENDS: dict[str, Decrypt] = {"chosen": aes.decrypt, "cryptography": aes._with_cryptography}


def _encrypt(key: bytes, iv: bytes, plain: bytes) -> bytes:
    pad = 16 - len(plain) % 16
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()


def test_the_system_libcrypto_is_the_one_used() -> None:
    # Every distribution this runs on has one; the fallback is for those that do not.
    assert aes._backend() is not aes._with_cryptography


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 100, 4096])
def test_decrypts_what_cryptography_encrypts(backend: str, length: int) -> None:
    key, iv, plain = os.urandom(16), os.urandom(16), os.urandom(length)
    assert BACKENDS[backend](key, iv, _encrypt(key, iv, plain)) == plain


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_bad_padding_is_refused(backend: str) -> None:
    key, iv = os.urandom(16), os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    unpadded = encryptor.update(b"sk-0123456789abc" + b"\x00" * 16) + encryptor.finalize()
    with pytest.raises(aes.DecryptionError):
        BACKENDS[backend](key, iv, unpadded)


@pytest.mark.parametrize(
    ("key", "iv", "data"),
    [
        (b"k" * 15, b"i" * 16, b"x" * 16),
        (b"k" * 16, b"i" * 8, b"x" * 16),
        (b"k" * 16, b"i" * 16, b"x" * 17),
    ],
)
def test_wrong_shapes_are_refused_before_the_cipher(key: bytes, iv: bytes, data: bytes) -> None:
    with pytest.raises(aes.DecryptionError):
        aes.decrypt(key, iv, data)
