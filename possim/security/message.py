"""MAC a whole ISO 8583 message: what is covered comes from the dialect.

The dialect knows which bytes the MAC covers (for CUP POS: from the MTI
through the byte before field 64, with bit 64 set; no length, TPDU or
header) and how wide its MAC field is on the wire: 8 bytes, or 16 ASCII hex
digits in dialects that carry binary fields as hex text. The MAC field is the
last field of the message (the dialect checks that).
"""

from __future__ import annotations

import hmac
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


def _split(dialect: MacInputSource, body: bytes) -> tuple[bytes, bytes]:
    """(bytes the MAC covers, the 8-byte MAC the message carries)."""
    covered = dialect.mac_input(body)
    size = dialect.mac_size
    on_wire = body[len(body) - size:]
    if size == MAC_LENGTH:
        return covered, on_wire
    if size == 2 * MAC_LENGTH:
        try:
            return covered, bytes.fromhex(on_wire.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise PossimError(f"MAC field: expected 16 hex digits at offset {len(body) - size}") from None
    raise PossimError(f"dialect {dialect.name}: a MAC field of {size} bytes is not supported")


def _to_wire(dialect: MacInputSource, value: bytes) -> bytes:
    return value if dialect.mac_size == MAC_LENGTH else value.hex().upper().encode("ascii")


def compute(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bytes:
    """The field 64 this message should carry."""
    covered, _ = _split(dialect, body)
    return compute_mac(alg, key, covered)


def sign(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bytes:
    """``body`` (encoded with a placeholder MAC field) with its real MAC written in."""
    return body[:len(body) - dialect.mac_size] + _to_wire(dialect, compute(dialect, body, alg, key))


def check(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> MacCheck:
    covered, found = _split(dialect, body)
    return MacCheck(expected=compute_mac(alg, key, covered), found=found)


def verify(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bool:
    return check(dialect, body, alg, key).ok
