"""The security layer: MACs, PIN blocks, keys and check values, field 53.

Pure functions on bytes, no I/O, no clock, no logging: randomness comes in as
an argument. Cryptography is the `cryptography` package's DES/3DES (see docs/security.md);
nothing here implements DES itself. No function returns or formats a clear
key or PIN in text except where the caller asked for exactly that.
"""

from possim.security import cipher, field53, keys, mac, message, pinblock
from possim.security.keys import (
    KeyCheckError,
    KeyStore,
    WorkingKeys,
    build_field62,
    kcv,
    parse_field62,
    parse_hex_key,
    unwrap,
    wrap,
)
from possim.security.mac import ALGORITHMS, compute_mac, cup_ecb, x99, x919
from possim.security.message import MacCheck, sign, verify
from possim.security.pinblock import PinBlockError

__all__ = [
    "ALGORITHMS", "KeyCheckError", "KeyStore", "MacCheck", "PinBlockError", "WorkingKeys",
    "build_field62", "cipher", "compute_mac", "cup_ecb", "field53", "kcv", "keys", "mac",
    "message", "parse_field62", "parse_hex_key", "pinblock", "sign", "unwrap", "verify",
    "wrap", "x919", "x99",
]
