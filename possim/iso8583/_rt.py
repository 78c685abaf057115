"""Run-time helpers that generated field codecs call on their error paths.

Generated code (see ``codegen``) keeps the happy path inline; everything here
runs only when something is wrong, so it may be as careful and wordy as it
likes. Offsets are stream positions, i.e. from the start of the message body.
"""

from __future__ import annotations

from typing import BinaryIO, NoReturn

from possim.iso8583.errors import DecodeError, EncodeError

Z_BCD = frozenset("0123456789D")
Z_ASCII = frozenset("0123456789=D")
Z_PLAIN = frozenset("0123456789=")
HEXCHARS = frozenset("0123456789ABCDEFabcdef")
# x+n sign position: ISO says C (credit) or D (debit); jPOS's IFA_AMOUNT/IFB_AMOUNT pack whatever the first
# character is, and its own reference messages put a digit there, so a digit is accepted too.
SIGNS = frozenset("CD0123456789")


def short(io: BinaryIO, field: str, what: str, got: bytes) -> NoReturn:
    """A read came back shorter than the prefix or the format promised."""
    start = io.tell() - len(got)
    raise DecodeError(f"field {field}: {what}, {len(got)} bytes left at offset {start}")


def bad(io: BinaryIO, field: str, what: str, got: bytes, *, show: bool = True) -> NoReturn:
    """Bytes that are there but are not what the format allows."""
    start = io.tell() - len(got)
    shown = f" (got {got[:16].hex().upper()}{'...' if len(got) > 16 else ''})" if show else ""
    raise DecodeError(f"field {field}: {what} at offset {start}{shown}")


def too_long(io: BinaryIO, field: str, n: int, maximum: int, unit: str, prefix: bytes) -> NoReturn:
    start = io.tell() - len(prefix)
    raise DecodeError(f"field {field}: length prefix says {n} {unit}, maximum is {maximum} at offset {start}")


def enc_fail(field: str, what: str, value: object, secret: bool) -> NoReturn:
    """Build-side failure; never echoes a value of a masked field (PAN, track, PIN block)."""
    if secret or not isinstance(value, str):
        shown = f"{type(value).__name__} of length {len(value)}" if isinstance(value, (str, bytes)) else \
            type(value).__name__
    else:
        shown = repr(value if len(value) <= 40 else value[:40] + "...")
    raise EncodeError(f"field {field}: {what}, got {shown}")
