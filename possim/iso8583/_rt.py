"""Run-time helpers that generated field codecs call on their error paths.

Generated code (see ``codegen``) keeps the happy path inline; everything here
runs only when something is wrong, so it may be as careful and wordy as it
likes. Offsets are positions from the start of the message body: ``start`` is
where the failing read began (the generated code reads by slicing, so it knows).
Errors are raised ``from None``: a layout may reach them while handling its own
``Doubt`` (see ``layout``), which is no part of what went wrong.
"""

from __future__ import annotations

import binascii
from typing import NoReturn

from possim.iso8583.errors import DecodeError, EncodeError

Z_BCD = frozenset("0123456789D")
Z_ASCII = frozenset("0123456789=D")
Z_PLAIN = frozenset("0123456789=")
HEXCHARS = frozenset("0123456789ABCDEFabcdef")
# x+n sign position: ISO says C (credit) or D (debit); jPOS's IFA_AMOUNT/IFB_AMOUNT pack whatever the first
# character is, and its own reference messages put a digit there, so a digit is accepted too.
SIGNS = frozenset("CD0123456789")


def short(start: int, field: str, what: str, got: bytes) -> NoReturn:
    """A read came back shorter than the prefix or the format promised."""
    raise DecodeError(f"field {field}: {what}, {len(got)} bytes left at offset {start}") from None


def bad(start: int, field: str, what: str, got: bytes, *, show: bool = True) -> NoReturn:
    """Bytes that are there but are not what the format allows."""
    shown = f" (got {got[:16].hex().upper()}{'...' if len(got) > 16 else ''})" if show else ""
    raise DecodeError(f"field {field}: {what} at offset {start}{shown}") from None


def too_long(start: int, field: str, n: int, maximum: int, unit: str, prefix: bytes) -> NoReturn:
    raise DecodeError(f"field {field}: length prefix says {n} {unit}, maximum is {maximum} at offset {start}") \
        from None


def enc_fail(field: str, what: str, value: object, secret: bool) -> NoReturn:
    """Build-side failure; never echoes a value of a masked field (PAN, track, PIN block)."""
    if secret or not isinstance(value, str):
        shown = f"{type(value).__name__} of length {len(value)}" if isinstance(value, (str, bytes)) else \
            type(value).__name__
    else:
        shown = repr(value if len(value) <= 40 else value[:40] + "...")
    raise EncodeError(f"field {field}: {what}, got {shown}") from None


class Doubt(Exception):
    """A run of fixed fields did not pass the checks over the lot: read or write it field by field."""


# -- helpers of the happy path ------------------------------------------------------------------------------
unhex = binascii.unhexlify  # like bytes.fromhex for plain hex digits (no whitespace), and several times faster

# BCD_BYTE[b]: the two-digit number a BCD byte holds, or a negative number large enough to keep any multi-byte
# sum negative (generated prefix decoders add them up and call a negative total "not BCD").
BCD_BYTE = tuple((b >> 4) * 10 + (b & 15) if b >> 4 < 10 and b & 15 < 10 else -1_000_000 for b in range(256))

_PREFIX_TABLES: dict[tuple[str, int], tuple[bytes, ...]] = {}


def prefix_table(encoding: str, digits: int) -> tuple[bytes, ...]:
    """Every length prefix of ``digits`` digits (index = length), ASCII or BCD; built once, on first use."""
    table = _PREFIX_TABLES.get((encoding, digits))
    if table is None:
        if encoding == "ascii":
            table = tuple(b"%0*d" % (digits, n) for n in range(10 ** digits))
        else:
            width = ((digits + 1) // 2) * 2
            table = tuple(bytes.fromhex("%0*d" % (width, n)) for n in range(10 ** digits))
        _PREFIX_TABLES[(encoding, digits)] = table
    return table
