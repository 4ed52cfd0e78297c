"""AES-128-CBC decryption with PKCS#7 padding: the Secret Service session's cipher.

OpenSSL's own ``libcrypto``, called through ``ctypes``, where the system has one (every
desktop distribution does); else the ``cryptography`` package. Both are OpenSSL's AES;
the first costs an activated daemon ~1 ms and ~2 MB where importing ``cryptography``
costs ~7 ms and ~9 MB, and a fresh daemon's first token waits for it. Nothing here
encrypts: writes go through secretstorage, which uses ``cryptography``.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

__all__ = ["DecryptionError", "decrypt", "libcrypto", "prepare"]

_BLOCK = 16
_SONAMES = ("libcrypto.so.3", "libcrypto.so.1.1")


class DecryptionError(ValueError):
    """The ciphertext, key or IV cannot be right (bad length or padding)."""


def decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if len(key) != _BLOCK or len(iv) != _BLOCK or len(ciphertext) % _BLOCK:
        # Checked before OpenSSL reads a fixed 16 bytes from key and IV.
        raise DecryptionError("a Secret Service secret of the wrong shape")
    return _backend()(key, iv, ciphertext)


def prepare() -> None:
    """Make the cipher ready now: OpenSSL 3 sets up its provider on the first use of an
    algorithm (~1 ms), which a reader does better while a reply is on its way than
    after the secret has come."""
    _backend()


@functools.cache
def libcrypto() -> ctypes.CDLL | None:
    """The system's OpenSSL ``libcrypto``, loaded once (the session's key agreement,
    ``sigilforge.store.dh``, uses it too); None where there is none."""
    for soname in _SONAMES:
        try:
            return ctypes.CDLL(soname)
        except OSError:
            continue
    return None


@functools.cache
def _backend() -> Callable[[bytes, bytes, bytes], bytes]:
    lib = libcrypto()
    if lib is not None:
        try:
            return _Libcrypto(lib).decrypt
        except AttributeError:
            pass
    return _with_cryptography


class _Libcrypto:
    """The five EVP calls of one decryption, with their C types declared (a pointer
    left undeclared would be cut to an int)."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        ptr, buf, int_p = ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)
        self._new = lib.EVP_CIPHER_CTX_new
        self._new.restype, self._new.argtypes = ptr, []
        self._free = lib.EVP_CIPHER_CTX_free
        self._free.restype, self._free.argtypes = None, [ptr]
        try:
            # OpenSSL 3: fetched once (and kept), rather than looked up by every
            # EVP_DecryptInit_ex as EVP_aes_128_cbc() would be.
            fetch = lib.EVP_CIPHER_fetch
            fetch.restype, fetch.argtypes = ptr, [ptr, buf, buf]
            self._cipher = fetch(None, b"AES-128-CBC", None)
        except AttributeError:  # OpenSSL 1.1: no providers
            cipher = lib.EVP_aes_128_cbc
            cipher.restype, cipher.argtypes = ptr, []
            self._cipher = cipher()
        self._init = lib.EVP_DecryptInit_ex
        self._init.restype, self._init.argtypes = ctypes.c_int, [ptr, ptr, ptr, buf, buf]
        self._update = lib.EVP_DecryptUpdate
        self._update.restype = ctypes.c_int
        self._update.argtypes = [ptr, ctypes.c_void_p, int_p, buf, ctypes.c_int]
        self._final = lib.EVP_DecryptFinal_ex
        self._final.restype, self._final.argtypes = ctypes.c_int, [ptr, ctypes.c_void_p, int_p]
        if not self._cipher:
            raise AttributeError("no AES-128-CBC in this libcrypto")

    def decrypt(self, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
        ctx = self._new()
        if not ctx:
            raise MemoryError("EVP_CIPHER_CTX_new")
        try:
            # Room for the whole input plus a block, as EVP_DecryptUpdate requires.
            out = ctypes.create_string_buffer(len(ciphertext) + _BLOCK)
            written, tail = ctypes.c_int(0), ctypes.c_int(0)
            ok = self._init(ctx, self._cipher, None, key, iv) == 1
            ok = (
                ok
                and self._update(ctx, out, ctypes.byref(written), ciphertext, len(ciphertext)) == 1
            )
            # Final checks and strips the PKCS#7 padding.
            end = ctypes.addressof(out) + written.value
            ok = ok and self._final(ctx, end, ctypes.byref(tail)) == 1
            if not ok:
                raise DecryptionError("the secret does not decrypt with the session's key")
            return out.raw[: written.value + tail.value]
        finally:
            self._free(ctx)


def _with_cryptography(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    pad = padded[-1] if padded else 0
    if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise DecryptionError("the secret does not decrypt with the session's key")
    return padded[:-pad]
