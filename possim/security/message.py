"""MAC a whole ISO 8583 message: what is covered comes from the dialect.

The dialect knows which bytes the MAC covers (for CUP POS: from the MTI
through the byte before field 64, with bit 64 set; no length, TPDU or
header). Field 64 is the last 8 bytes of a message whose highest field is 64.
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

    def mac_input(self, body: bytes) -> bytes: ...


@dataclass(frozen=True)
class MacCheck:
    expected: bytes
    found: bytes

    @property
    def ok(self) -> bool:
        return hmac.compare_digest(self.expected, self.found)


def _split(dialect: MacInputSource, body: bytes) -> tuple[bytes, bytes]:
    if len(body) < MAC_LENGTH:
        raise PossimError(f"message: {len(body)} bytes is too short to carry field 64")
    return dialect.mac_input(body), body[-MAC_LENGTH:]


def compute(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bytes:
    """The field 64 this message should carry."""
    covered, _ = _split(dialect, body)
    return compute_mac(alg, key, covered)


def sign(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bytes:
    """``body`` (encoded with a placeholder field 64) with its real MAC written in."""
    return body[:-MAC_LENGTH] + compute(dialect, body, alg, key)


def check(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> MacCheck:
    covered, found = _split(dialect, body)
    return MacCheck(expected=compute_mac(alg, key, covered), found=found)


def verify(dialect: MacInputSource, body: bytes, alg: str, key: bytes) -> bool:
    return check(dialect, body, alg, key).ok
