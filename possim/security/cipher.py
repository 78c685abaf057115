"""DES / triple-DES block operations on top of pycryptodome.

Payment keys come in three lengths (8, 16, 24 bytes), and the standards say a
double- or triple-length key whose parts are equal *is* a single-DES key (that
is how a host stays compatible with a single-length terminal). pycryptodome
refuses such keys for DES3, so the choice of cipher is made here, once, on
purpose: every other module asks this one for a block cipher.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from Crypto.Cipher import DES, DES3

from possim.errors import PossimError

BLOCK = 8
KEY_LENGTHS = (8, 16, 24)


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


#: Distinct keys whose ciphers are kept; a host with more terminals than this just rebuilds some.
CIPHER_CACHE_SIZE = 1024


def ecb(key: bytes) -> BlockCipher:
    """An ECB block cipher for a single-, double- or triple-length DES key.

    Building a cipher (the DES key schedule) costs more than encrypting a
    block, and a host MACs every message under the same few keys, so the
    ciphers are cached by key. ECB holds no state between calls, so a cached
    cipher is safe to share."""
    return _ecb(bytes(key))


@lru_cache(maxsize=CIPHER_CACHE_SIZE)
def _ecb(key: bytes) -> BlockCipher:
    k = effective_key(key)
    if len(k) == 8:
        return DES.new(k, DES.MODE_ECB)
    return DES3.new(k, DES3.MODE_ECB)


def cbc_last_block(key: bytes, data: bytes) -> bytes:
    """The last block of ``data`` (a multiple of 8 bytes) CBC-encrypted from a zero IV: a CBC-MAC.

    One call into the cipher instead of one per block (CBC objects carry
    their chaining value, so each call gets a fresh one)."""
    _check_blocks(data)
    k = effective_key(key)
    if len(k) == 8:
        cbc = DES.new(k, DES.MODE_CBC, iv=bytes(BLOCK))
    else:
        cbc = DES3.new(k, DES3.MODE_CBC, iv=bytes(BLOCK))
    return cbc.encrypt(data)[-BLOCK:]


def encrypt_ecb(key: bytes, data: bytes) -> bytes:
    _check_blocks(data)
    return ecb(key).encrypt(data)


def decrypt_ecb(key: bytes, data: bytes) -> bytes:
    _check_blocks(data)
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
        raise PossimError(f"data: expected a multiple of {BLOCK} bytes, got {len(data)}")
