"""MAC algorithms used on POS links, all over zero-padded data.

- ANSI X9.9 (ISO 9797-1 MAC algorithm 1): DES-CBC with a zero IV, last block.
  Given a double-length key it is the same CBC-MAC with triple DES.
- ANSI X9.19 retail MAC (ISO 9797-1 MAC algorithm 3): DES-CBC under the left
  half, then decrypt with the right half and encrypt with the left.
- CUP "ECB" MAC (the China UnionPay POS algorithm): XOR all 8-byte blocks,
  write the result as 16 uppercase hex characters, encrypt the first 8, XOR
  with the last 8, encrypt again, and send the first 8 hex characters of that
  (as ASCII) in field 64. A double-length MAK uses triple DES for both steps.

SM4 is not offered: pycryptodome has no SM4, and no published vector for the
CUP SM4 MAC was found to check an implementation against (docs/security.md).

Every function returns the 8 bytes that go into field 64.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import reduce
from operator import xor as _xor_int
from typing import Callable

from possim.errors import PossimError
from possim.security import cipher
from possim.security.cipher import BLOCK, KeyLengthError, xor, zero_pad


ANY_DES_KEY = (8, 16, 24)
DOUBLE_LENGTH_KEY = (16,)


def x99(key: bytes, data: bytes) -> bytes:
    _need_key("x9.9", key, ANY_DES_KEY)
    return cipher.cbc_last_block(key, zero_pad(data))


def x919(key: bytes, data: bytes) -> bytes:
    _need_key("x9.19", key, DOUBLE_LENGTH_KEY)
    left, right = key[:8], key[8:]
    state = x99(left, data)
    state = cipher.ecb(right).decrypt(state)
    return cipher.ecb(left).encrypt(state)


def cup_ecb(key: bytes, data: bytes) -> bytes:
    _need_key("cup-ecb", key, ANY_DES_KEY)
    enc = cipher.ecb(key)
    expanded = _xor_blocks(data).hex().upper().encode("ascii")
    temp = xor(enc.encrypt(expanded[:8]), expanded[8:])
    return enc.encrypt(temp).hex().upper()[:8].encode("ascii")


def _xor_blocks(data: bytes) -> bytes:
    """XOR of all zero-padded 8-byte blocks, taken as 64-bit machine words (XOR does not care about
    byte order as long as the words are read and written back the same way)."""
    padded = zero_pad(data)
    return reduce(_xor_int, memoryview(padded).cast("Q"), 0).to_bytes(BLOCK, sys.byteorder)


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
