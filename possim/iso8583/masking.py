"""How a terminal shows card data: PAN as first 6 and last 4, the rest starred.

One place decides what is hidden; the dialect file only says which kind of
mask a field gets (pan, track, secret, emv).
"""

from __future__ import annotations

from possim.errors import PossimError
from possim.iso8583.tlv import TlvItem, encode_length, parse_tlv

# EMV tags that carry cardholder data or PIN material (EMV Book 3 annex A).
SENSITIVE_TAGS = frozenset({"5A", "57", "56", "5F20", "9F1F", "9F20", "9F6B", "99", "9F0B"})


def mask_pan(pan: str) -> str:
    if len(pan) <= 10:
        return "*" * max(len(pan) - 4, 0) + pan[-4:] if len(pan) > 4 else "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def mask_track(track: str) -> str:
    pan, sep, rest = track.partition("=")
    if not sep:
        pan, sep, rest = track.partition("D")
    return mask_pan(pan) + sep + "*" * len(rest)


def mask_secret(value: str) -> str:
    return "*" * len(value)


def mask_emv(hexvalue: str) -> str:
    """Field 55 with the values of sensitive tags starred, also inside templates (70, 77 ...).

    Undecodable TLV is starred whole: better to hide a field than to show a PAN by mistake.
    """
    try:
        return "".join(_mask_item(item) for item in parse_tlv(hexvalue))
    except PossimError:
        return mask_secret(hexvalue)


def _mask_item(item: TlvItem) -> str:
    value = item.value.hex().upper()
    if item.tag in SENSITIVE_TAGS:
        value = mask_secret(value)
    elif item.constructed and value:
        value = mask_emv(value)
    return item.tag + (item.length_bytes or encode_length(len(item.value))).hex().upper() + value


MASKERS = {"pan": mask_pan, "track": mask_track, "secret": mask_secret, "emv": mask_emv}


def mask(kind: str | None, value: str) -> str:
    return value if kind is None else MASKERS[kind](value)
