"""DES / triple-DES block operations on top of the ``cryptography`` package.

Payment keys come in three lengths (8, 16, 24 bytes), and the standards say a
double- or triple-length key whose parts are equal *is* a single-DES key (that
is how a host stays compatible with a single-length terminal). ``cryptography``
offers DES only as TripleDES (in its "decrepit" module) and deprecates 8- and
16-byte keys there, so every key is handed to it as the 24-byte K1 K2 K3 that
encrypts the same way: K K K for a single key, K1 K2 K1 for a double one.
EDE with equal parts *is* single DES, so degenerate keys need no special case
in the cipher; ``effective_key`` still names the shortest equivalent key for
the modules that report or compare keys. The choice of cipher is made here, on
purpose: every other module asks this one for a block cipher.
"""

from __future__ import annotations

import functools
import threading
from functools import lru_cache
from typing import Callable, Protocol, TypeVar

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from possim.errors import PossimError

BLOCK = 8
KEY_LENGTHS = (8, 16, 24)
_ZERO_IV = bytes(BLOCK)


class KeyLengthError(PossimError):
    """A key of a length the algorithm cannot use."""


class BlockCipher(Protocol):
    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


def _same_key(a: bytes, b: bytes) -> bool:
    """DES ignores the low (parity) bit of every key byte, so compare without it."""
    return all((x & 0xFE) == (y & 0xFE) for x, y in zip(a, b, strict=True))


def effective_key(key: bytes) -> bytes:
    """The shortest key that encrypts exactly like ``key``.

    EDE with K1 == K2 collapses to E(K3); with K2 == K3 to E(K1). A 16-byte
    key is K1 K2 with K3 = K1.
    """
    if len(key) == 8:
        return key
    if len(key) == 16:
        k1, k2 = key[:8], key[8:]
        return k1 if _same_key(k1, k2) else key
    if len(key) == 24:
        k1, k2, k3 = key[:8], key[8:16], key[16:]
        if _same_key(k1, k2):
            return k3
        if _same_key(k2, k3):
            return k1
        if _same_key(k1, k3):
            return key[:16]
        return key
    raise KeyLengthError(f"key: expected 8, 16 or 24 bytes, got {len(key)}")


def _triple_length(key: bytes) -> bytes:
    """K1 K2 K3 that encrypts like ``key`` (the only key length ``cryptography`` takes without a warning)."""
    if len(key) == 8:
        return key * 3
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 24:
        return key
    raise KeyLengthError(f"key: expected 8, 16 or 24 bytes, got {len(key)}")


class EcbCipher:
    """DES/3DES in ECB mode under one key, with its encryptor and decryptor contexts kept open.

    An ECB context carries nothing from one block to the next, so one pair per key serves
    every call of a thread (see :func:`per_thread_cache`); building a context (the key
    schedule) costs several times a block. The one
    thing that could leave state behind is a partial block (the context would hold it back
    for the next call), so input must be whole blocks: that is checked before every call.
    """

    __slots__ = ("_decrypt", "_encrypt")

    def __init__(self, key: bytes) -> None:
        ecb_cipher = Cipher(TripleDES(_triple_length(key)), modes.ECB())
        self._encrypt = ecb_cipher.encryptor().update
        self._decrypt = ecb_cipher.decryptor().update

    def encrypt(self, data: bytes) -> bytes:
        if len(data) % BLOCK:
            _misaligned(data)
        return self._encrypt(data)

    def decrypt(self, data: bytes) -> bytes:
        if len(data) % BLOCK:
            _misaligned(data)
        return self._decrypt(data)

    @property
    def encrypt_unchecked(self) -> Callable[[bytes], bytes]:
        """The encryptor context's own ``update``, without the whole-block check or a Python call around it.

        Only for a caller whose input is whole blocks by construction (the CUP MAC's two 8-byte steps, run
        twice per host message): a partial block would be held back by this shared context and corrupt the
        next caller's result."""
        return self._encrypt


#: Distinct keys whose ciphers are kept (per thread); a host with more terminals than this just rebuilds some.
CIPHER_CACHE_SIZE = 1024

_T = TypeVar("_T")


def per_thread_cache(factory: Callable[[bytes], _T]) -> Callable[[bytes], _T]:
    """Cache ``factory(key)`` per key, one cache per thread.

    What is cached holds open cipher contexts, and a context may be used by one
    thread at a time: ``cryptography`` lets other threads run while it works
    through a long input, and a second thread entering the same context then
    fails ("Already borrowed"). A failed factory call (a bad key) is not cached."""
    local = threading.local()

    @functools.wraps(factory)
    def cached(key: bytes) -> _T:
        try:
            cache: dict[bytes, _T] = local.cache
        except AttributeError:
            cache = local.cache = {}
        value = cache.get(key)
        if value is None:
            value = factory(key)
            if len(cache) >= CIPHER_CACHE_SIZE:
                cache.clear()
            cache[key] = value
        return value

    return cached


def ecb(key: bytes) -> EcbCipher:
    """An ECB block cipher for a single-, double- or triple-length DES key.

    A host MACs every message under the same few keys, so the ciphers are
    cached by key, per thread (ECB holds no state between calls, but a context
    serves one thread at a time)."""
    return _ecb(bytes(key))


@per_thread_cache
def _ecb(key: bytes) -> EcbCipher:
    return EcbCipher(key)


@lru_cache(maxsize=CIPHER_CACHE_SIZE)
def _cbc(key: bytes) -> Cipher[modes.CBC]:
    """The CBC cipher under ``key`` with a zero IV. It is kept per key (the key checks and the
    algorithm object are made once); each MAC opens its own encryptor from it, because a CBC
    context carries its chaining value from one call to the next."""
    return Cipher(TripleDES(_triple_length(key)), modes.CBC(_ZERO_IV))


def cbc_last_block(key: bytes, data: bytes) -> bytes:
    """The last block of ``data`` (a multiple of 8 bytes) CBC-encrypted from a zero IV: a CBC-MAC.

    One call into the cipher for all blocks, on a fresh encryptor (see ``_cbc``)."""
    _check_blocks(data)
    return _cbc(bytes(key)).encryptor().update(data)[-BLOCK:]


def encrypt_ecb(key: bytes, data: bytes) -> bytes:
    return ecb(key).encrypt(data)


def decrypt_ecb(key: bytes, data: bytes) -> bytes:
    return ecb(key).decrypt(data)


def xor(a: bytes, b: bytes) -> bytes:
    """Byte-wise XOR of two equal-length strings (as integers: one operation, not one per byte)."""
    if len(a) != len(b):
        raise ValueError(f"xor: lengths differ ({len(a)} and {len(b)} bytes)")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def zero_pad(data: bytes) -> bytes:
    """ISO 9797-1 padding method 1: zero bytes up to a block boundary (none if aligned; one block if empty)."""
    if data and len(data) % BLOCK == 0:
        return data
    return data + bytes(BLOCK - len(data) % BLOCK)


def _check_blocks(data: bytes) -> None:
    if len(data) % BLOCK:
        _misaligned(data)


def _misaligned(data: bytes) -> None:
    raise PossimError(f"data: expected a multiple of {BLOCK} bytes, got {len(data)}")
