"""MAC a whole ISO 8583 message: what is covered comes from the dialect.

The dialect knows which bytes the MAC covers (for CUP POS: from the MTI
through the byte before field 64, with bit 64 set; no length, TPDU or
header) and how wide its MAC field is on the wire: 8 bytes, or 16 ASCII hex
digits in dialects that carry binary fields as hex text. The MAC field is the
last field of the message (the dialect checks that).
"""

from __future__ import annotations

import hmac
from binascii import hexlify
from dataclasses import dataclass
from typing import Protocol

from possim.errors import PossimError
from possim.security.mac import compute_mac

MAC_LENGTH = 8


class MacInputSource(Protocol):
    """What this module needs from a dialect (possim.iso8583.Dialect has it)."""

    name: str

    @property
    def mac_size(self) -> int: ...

    def mac_input(self, body: bytes) -> bytes: ...


@dataclass(frozen=True)
class MacCheck:
    expected: bytes
    found: bytes

    @property
    def ok(self) -> bool:
        return hmac.compare_digest(self.expected, self.found)


def _split(dialect: MacInputSource, body: bytes) -> tuple[bytes, bytes, int]:
    """(bytes the MAC covers, the 8-byte MAC the message carries, the MAC field's width on the wire)."""
    covered = dialect.mac_input(body)
    size = dialect.mac_size
    if size == MAC_LENGTH:
        return covered, body[len(body) - size:], size
    if size == 2 * MAC_LENGTH:
        try:
            return covered, bytes.fromhex(body[len(body) - size:].decode("ascii")), size
        except (UnicodeDecodeError, ValueError):
            raise PossimError(f"MAC field: expected 16 hex digits at offset {len(body) - size}") from None
    raise PossimError(f"dialect {dialect.name}: a MAC field of {size} bytes is not supported")


def compute(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bytes:
    """The field 64 this message should carry."""
    covered, _, _ = _split(dialect, body)
    return compute_mac(alg, key, covered)


def sign(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bytes:
    """``body`` (encoded with a placeholder MAC field) with its real MAC written in."""
    covered, _, size = _split(dialect, body)
    value = compute_mac(alg, key, covered)
    return body[:len(body) - size] + (value if size == MAC_LENGTH else hexlify(value).upper())


def check(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> MacCheck:
    covered, found, _ = _split(dialect, body)
    return MacCheck(expected=compute_mac(alg, key, covered), found=found)


def verify(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bool:
    """``check(...).ok`` without building the report: a host and a terminal verify every message."""
    covered, found, _ = _split(dialect, body)
    return hmac.compare_digest(compute_mac(alg, key, covered), found)
