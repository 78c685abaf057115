"""ISO 9564-1 PIN blocks, formats 0, 1 and 3, and their encipherment under a PIK.

Format 0 (ANSI X9.8) is what CUP terminals send in field 52: the PIN field
``0 L PIN F...F`` XORed with the account field ``0000`` + the 12 rightmost PAN
digits before the check digit. Format 3 is format 0 with random fill digits
A-F; format 1 has no PAN and random fill 0-F. Random fill comes in as a
function (``random_bytes(n) -> n bytes``) so the functions stay deterministic
and testable; callers pass ``os.urandom``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Callable

from possim.errors import PossimError
from possim.security import cipher
from possim.security.cipher import xor

RandomBytes = Callable[[int], bytes]

FORMATS = (0, 1, 3)
FORMAT_NAMES = {"iso0": 0, "iso1": 1, "iso3": 3}


class PinBlockError(PossimError):
    """A PIN block that does not decode (wrong format, PAN or key)."""


@dataclass(frozen=True)
class DecodedPinBlock:
    format: int
    pin: str

    def __repr__(self) -> str:  # the PIN never shows up in a traceback or log line
        return f"DecodedPinBlock(format={self.format}, pin={'*' * len(self.pin)})"


def check_pin(pin: str) -> None:
    if not (pin.isascii() and pin.isdigit()) or not 4 <= len(pin) <= 12:
        raise PossimError(f"pin: expected 4 to 12 digits, got {len(pin)} characters"
                          + ("" if pin.isascii() and pin.isdigit() else " (not all digits)"))


def account_field(pan: str) -> bytes:
    """``0000`` + the 12 rightmost PAN digits excluding the check digit (zero-filled on the left if short)."""
    if not (pan.isascii() and pan.isdigit()) or not 2 <= len(pan) <= 19:
        raise PossimError(f"pan: expected 2 to 19 digits, got {len(pan)} characters")
    return bytes.fromhex("0000" + pan[:-1][-12:].rjust(12, "0"))


def pin_field(fmt: int, pin: str, random_bytes: RandomBytes | None = None) -> bytes:
    check_pin(pin)
    fill_len = 14 - len(pin)
    if fmt == 0:
        fill = "F" * fill_len
    elif fmt in (1, 3):
        if random_bytes is None:
            raise ValueError(f"PIN block format {fmt} needs random fill: pass random_bytes (e.g. os.urandom)")
        fill = _random_fill(fill_len, random_bytes, "ABCDEF" if fmt == 3 else "0123456789ABCDEF")
    else:
        raise PossimError(f"pin block format: expected one of 0, 1, 3, got {fmt}")
    return bytes.fromhex(f"{fmt:X}{len(pin):X}{pin}{fill}")


def _random_fill(count: int, random_bytes: RandomBytes, alphabet: str) -> str:
    """Unbiased fill digits: bytes that would skew the choice are rejected (bounded retries)."""
    limit = 256 - 256 % len(alphabet)
    out: list[str] = []
    for _ in range(16):
        for b in random_bytes(max(count, 8)):
            if b < limit:
                out.append(alphabet[b % len(alphabet)])
                if len(out) == count:
                    return "".join(out)
    raise ValueError("random_bytes gave too few usable bytes for PIN block fill")


def build(fmt: int, pin: str, pan: str | None = None, random_bytes: RandomBytes | None = None) -> bytes:
    """The clear 8-byte PIN block."""
    field = pin_field(fmt, pin, random_bytes)
    if fmt == 1:
        return field
    if pan is None:
        raise PossimError(f"pan: PIN block format {fmt} needs the card number")
    return xor(field, account_field(pan))


def parse(block: bytes, pan: str | None = None) -> DecodedPinBlock:
    """Decode a clear PIN block, checking the control digit, length and fill."""
    if len(block) != 8:
        raise PinBlockError(f"pin block: expected 8 bytes, got {len(block)}")
    fmt = block[0] >> 4
    if fmt not in FORMATS:
        raise PinBlockError(f"pin block: format digit {fmt:X} is not 0, 1 or 3 (wrong key?)")
    if fmt != 1:
        if pan is None:
            raise PossimError(f"pan: PIN block format {fmt} needs the card number")
        block = xor(block, account_field(pan))
    digits = block.hex().upper()
    length = int(digits[1], 16)
    if not 4 <= length <= 12:
        raise PinBlockError(f"pin block: PIN length digit {length} is outside 4..12 (wrong key or PAN?)")
    pin, fill = digits[2:2 + length], digits[2 + length:]
    if not pin.isdigit():
        raise PinBlockError("pin block: PIN digits are not all 0-9 (wrong key or PAN?)")
    if fmt == 0 and set(fill) != {"F"}:
        raise PinBlockError("pin block: format 0 fill is not all F (wrong key or PAN?)")
    if fmt == 3 and not set(fill) <= set("ABCDEF"):
        raise PinBlockError("pin block: format 3 fill is not all A-F (wrong key or PAN?)")
    return DecodedPinBlock(fmt, pin)


def encipher(fmt: int, pin: str, pan: str | None, pik: bytes,
             random_bytes: RandomBytes | None = None) -> bytes:
    """Terminal side: the enciphered PIN block for field 52."""
    return cipher.encrypt_ecb(pik, build(fmt, pin, pan, random_bytes))


def decipher(enciphered: bytes, pan: str | None, pik: bytes) -> DecodedPinBlock:
    """Host side: decrypt under the PIK and decode."""
    if len(enciphered) != 8:
        raise PinBlockError(f"pin block: expected 8 bytes, got {len(enciphered)}")
    return parse(cipher.decrypt_ecb(pik, enciphered), pan)


def verify(enciphered: bytes, pan: str | None, pik: bytes, expected_pin: str) -> bool:
    """Host side: does field 52 carry ``expected_pin``? A block that does not decode is a mismatch."""
    try:
        got = decipher(enciphered, pan, pik).pin
    except PinBlockError:
        return False
    return hmac.compare_digest(got.encode(), expected_pin.encode())
