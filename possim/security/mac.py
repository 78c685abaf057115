"""MAC algorithms used on POS links, all over zero-padded data.

- ANSI X9.9 (ISO 9797-1 MAC algorithm 1): DES-CBC with a zero IV, last block.
  Given a double-length key it is the same CBC-MAC with triple DES.
- ANSI X9.19 retail MAC (ISO 9797-1 MAC algorithm 3): DES-CBC under the left
  half, then decrypt with the right half and encrypt with the left.
- CUP "ECB" MAC (the China UnionPay POS algorithm): XOR all 8-byte blocks,
  write the result as 16 uppercase hex characters, encrypt the first 8, XOR
  with the last 8, encrypt again, and send the first 8 hex characters of that
  (as ASCII) in field 64. A double-length MAK uses triple DES for both steps.

SM4 is not offered: no published vector for the CUP SM4 MAC was found to
check an implementation against (docs/security.md).

Every function returns the 8 bytes that go into field 64.
"""

from __future__ import annotations

import sys
from binascii import hexlify
from dataclasses import dataclass
from typing import Callable

from possim.errors import PossimError
from possim.security import cipher
from possim.security.cipher import BLOCK, KeyLengthError, zero_pad


ANY_DES_KEY = (8, 16, 24)
DOUBLE_LENGTH_KEY = (16,)

Block = Callable[[bytes], bytes]


def x99(key: bytes, data: bytes) -> bytes:
    _need_key("x9.9", key, ANY_DES_KEY)
    return cipher.cbc_last_block(key, zero_pad(data))


def x919(key: bytes, data: bytes) -> bytes:
    left, decrypt_right, encrypt_left = _x919_keyed(bytes(key))
    return encrypt_left(decrypt_right(cipher.cbc_last_block(left, zero_pad(data))))


def cup_ecb(key: bytes, data: bytes) -> bytes:
    """The hex steps stay in bytes (``hexlify``: binary in, ASCII out), with no detour through str."""
    encrypt = _cup_ecb_keyed(bytes(key))
    expanded = hexlify(_xor_blocks(data)).upper()
    # both steps encrypt exactly one block: 8 of the 16 hex digits, then an 8-byte XOR
    temp = int.from_bytes(encrypt(expanded[:BLOCK]), "big") ^ int.from_bytes(expanded[BLOCK:], "big")
    return hexlify(encrypt(temp.to_bytes(BLOCK, "big"))[:BLOCK // 2]).upper()


# A host MACs every message under the same few keys: the key's length is checked, and its
# ciphers looked up, once per key (and thread: the contexts are the thread's own) rather than
# once per message (a failed check is not cached).

@cipher.per_thread_cache
def _cup_ecb_keyed(key: bytes) -> Block:
    """Encrypt one block under the MAK (unchecked: ``cup_ecb`` only ever hands it exactly one block)."""
    _need_key("cup-ecb", key, ANY_DES_KEY)
    return cipher.ecb(key).encrypt_unchecked


@cipher.per_thread_cache
def _x919_keyed(key: bytes) -> tuple[bytes, Block, Block]:
    """(K1, decrypt under K2, encrypt under K1)."""
    _need_key("x9.19", key, DOUBLE_LENGTH_KEY)
    left, right = key[:8], key[8:]
    return left, cipher.ecb(right).decrypt, cipher.ecb(left).encrypt


def _xor_blocks(data: bytes) -> bytes:
    """XOR of all zero-padded 8-byte blocks, taken as 64-bit machine words (XOR does not care about
    byte order as long as the words are read and written back the same way)."""
    if len(data) % BLOCK or not data:
        data = data + bytes(BLOCK - len(data) % BLOCK)  # zero_pad, without the call
    folded = 0
    for word in memoryview(data).cast("Q"):
        folded ^= word
    return folded.to_bytes(BLOCK, sys.byteorder)


def _need_key(alg: str, key: bytes, lengths: tuple[int, ...]) -> None:
    if len(key) not in lengths:
        want = " or ".join(str(n * 2) for n in lengths)
        raise KeyLengthError(f"{alg}: key must be {want} hex digits, got {len(key) * 2}")


@dataclass(frozen=True)
class MacAlgorithm:
    name: str
    description: str
    compute: Callable[[bytes, bytes], bytes]
    key_lengths: tuple[int, ...]


ALGORITHMS: dict[str, MacAlgorithm] = {
    a.name: a
    for a in (
        MacAlgorithm("x9.9", "ANSI X9.9 / ISO 9797-1 alg. 1: DES-CBC, zero IV, zero padding", x99, ANY_DES_KEY),
        MacAlgorithm("x9.19", "ANSI X9.19 retail MAC / ISO 9797-1 alg. 3, double-length key", x919, DOUBLE_LENGTH_KEY),
        MacAlgorithm("cup-ecb", "China UnionPay POS 'ECB' MAC; F64 = 8 hex characters as ASCII", cup_ecb, ANY_DES_KEY),
    )
}


def compute_mac(alg: str, key: bytes, data: bytes) -> bytes:
    """The 8-byte field-64 value of ``data`` under ``key`` with the named algorithm."""
    try:
        algorithm = ALGORITHMS[alg]
    except KeyError:
        raise PossimError(f"mac algorithm: expected one of {', '.join(ALGORITHMS)}, got {alg!r}") from None
    return algorithm.compute(key, data)
