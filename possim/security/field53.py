"""Field 53, security control information (CUP POS: n16).

    digit 1  PIN block format: 1 = ANSI X9.8 without the PAN, 2 = with the PAN (ISO format 0)
    digit 2  encryption algorithm: 0 = single-length key (DES), 6 = double-length key (3DES)
    digit 3  track data encryption: 0 = not encrypted, 1 = encrypted with the TDK
    digits 4..16 reserved, zero

A host reads this to know how to decipher field 52 and the tracks, so the
terminal must build it from the keys it actually used; ``check`` catches a
field 53 that disagrees with those keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from possim.errors import PossimError
from possim.security import pinblock

PIN_WITHOUT_PAN = "1"
PIN_WITH_PAN = "2"
SINGLE_LENGTH = "0"
DOUBLE_LENGTH = "6"


@dataclass(frozen=True)
class SecurityControl:
    pin_with_pan: bool = True
    double_length: bool = True
    track_encrypted: bool = False

    def to_field(self) -> str:
        return (
            (PIN_WITH_PAN if self.pin_with_pan else PIN_WITHOUT_PAN)
            + (DOUBLE_LENGTH if self.double_length else SINGLE_LENGTH)
            + ("1" if self.track_encrypted else "0")
            + "0" * 13
        )

    @property
    def key_length(self) -> int:
        return 16 if self.double_length else 8


def for_keys(pik: bytes, tdk: bytes | None = None, *, pin_with_pan: bool = True,
             track_encrypted: bool = False) -> SecurityControl:
    """The field 53 that describes a PIN enciphered under ``pik`` (and tracks under ``tdk``)."""
    if track_encrypted and tdk is None:
        raise PossimError("field 53: track encryption needs a TDK (sign in with 60.3 = 004)")
    if len(pik) not in (8, 16):
        raise PossimError(f"field 53: PIK must be 8 or 16 bytes, got {len(pik)}")
    return SecurityControl(pin_with_pan=pin_with_pan, double_length=len(pik) == 16,
                           track_encrypted=track_encrypted)


def parse(value: str) -> SecurityControl:
    if len(value) != 16 or not value.isdigit():
        raise PossimError(f"field 53: expected 16 digits, got {value!r}")
    fmt, alg, track = value[0], value[1], value[2]
    if fmt not in (PIN_WITHOUT_PAN, PIN_WITH_PAN):
        raise PossimError(f"field 53: digit 1 (PIN format) must be 1 or 2, got {fmt}")
    if alg not in (SINGLE_LENGTH, DOUBLE_LENGTH):
        raise PossimError(f"field 53: digit 2 (key length) must be 0 or 6, got {alg}")
    if track not in "01":
        raise PossimError(f"field 53: digit 3 (track encryption) must be 0 or 1, got {track}")
    return SecurityControl(pin_with_pan=fmt == PIN_WITH_PAN, double_length=alg == DOUBLE_LENGTH,
                           track_encrypted=track == "1")


def check(value: str, pik: bytes, tdk: bytes | None = None) -> SecurityControl:
    """Host side: parse field 53 and make sure it agrees with the keys held for the terminal."""
    sc = parse(value)
    if sc.key_length != len(pik):
        raise PossimError(
            f"field 53: digit 2 says a {sc.key_length * 8}-bit key but the terminal's PIK is {len(pik) * 8}-bit")
    if sc.track_encrypted and tdk is None:
        raise PossimError("field 53: digit 3 says tracks are encrypted but the terminal has no TDK")
    return sc


# A format-0 block "without the PAN" is the PIN field alone: XOR with an
# all-zero account field is exactly that.
_NO_PAN = "0" * 13


def encipher_pin(sc: SecurityControl, pin: str, pan: str | None, pik: bytes) -> bytes:
    """Field 52 as field 53 describes it (format 0 with or without the PAN)."""
    if len(pik) != sc.key_length:
        raise PossimError(f"field 53: says a {sc.key_length * 8}-bit PIK, got {len(pik) * 8}-bit")
    return pinblock.encipher(0, pin, pan if sc.pin_with_pan else _NO_PAN, pik)


def decipher_pin(sc: SecurityControl, field52: bytes, pan: str | None, pik: bytes) -> str:
    return pinblock.decipher(field52, pan if sc.pin_with_pan else _NO_PAN, pik).pin
