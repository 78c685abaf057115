"""What in a message is secret, and the two safe stand-ins for it.

Traffic leaves the process (socket stream, JSON Lines, PCAP), so every export
must be safe by default. Two forms are needed:

* ``mask_plain`` -- for people: ``621214******0012``, ``****`` for PIN blocks.
  Lengths are kept so a reader still sees the shape of the field.
* ``sanitize_plain`` -- for machines: the same fields replaced by harmless
  values *of the same length and alphabet*, so the dialect can encode them
  again and the exported wire bytes stay a well-formed frame (a PCAP that
  Wireshark dissects, a JSON Lines file whose frames replay), yet carry no
  card secret. Sanitized PANs are forced to fail the Luhn check so a scanner
  never mistakes them for a live card number.

The table below is the single list of secret fields for the traffic layer.
"""

from __future__ import annotations

import copy
from typing import Any

# field number -> kind of secret
SENSITIVE_FIELDS: dict[str, str] = {
    "2": "pan",
    "34": "pan",  # PAN extended
    "35": "track",  # track 2
    "36": "track",  # track 3
    "45": "track1",
    "52": "pin",
    "55": "icc",  # ICC data carries PAN (5A) and track 2 equivalent (57)
    "62": "keys",  # only secret in network management (08xx): working keys from sign-in
}

# EMV tags inside field 55 whose values identify the card or the cardholder.
SENSITIVE_ICC_TAGS: frozenset[str] = frozenset({"5A", "57", "56", "5F20", "9F1F", "9F20", "9F6B"})


def _field_is_secret(number: str, mti: str | None) -> bool:
    kind = SENSITIVE_FIELDS.get(number)
    if kind is None:
        return False
    if kind == "keys":
        return bool(mti) and str(mti).startswith("08")
    return True


def secret_fields(plain: dict[str, Any]) -> list[str]:
    """Field numbers in a plain-form message that must not leave the process."""
    fields = plain.get("fields") or {}
    return [n for n in fields if _field_is_secret(str(n), plain.get("mti"))]


def has_secrets(plain: dict[str, Any]) -> bool:
    return bool(secret_fields(plain))


# --- human masking -----------------------------------------------------------

def mask_pan(pan: str) -> str:
    """Keep the BIN (6) and the last 4, as PCI DSS allows for display."""
    if len(pan) < 13:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def _mask_track(value: str) -> str:
    pan, sep, rest = value.partition("=")
    if not sep:
        return "*" * len(value)
    return mask_pan(pan) + "=" + "*" * len(rest)


def _mask_value(kind: str, value: str) -> str:
    if kind == "pan":
        return mask_pan(value)
    if kind == "track":
        return _mask_track(value)
    if kind == "icc":
        return _rewrite_icc(value, lambda hexval: "*" * len(hexval)) or "*" * len(value)
    return "*" * len(value)


def mask_plain(plain: dict[str, Any]) -> dict[str, Any]:
    """A copy of a plain-form message with every secret masked for display."""
    out = copy.deepcopy(plain)
    fields = out.get("fields") or {}
    for number in secret_fields(out):
        fields[number] = _mask_value(SENSITIVE_FIELDS[number], str(fields[number]))
    return out


# --- machine sanitizing ------------------------------------------------------

def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def sanitize_pan(pan: str) -> str:
    """Same length, BIN and last 4 kept, middle zeroed, never Luhn-valid."""
    if not pan.isdigit():
        return "0" * len(pan)
    if len(pan) < 13:
        return "0" * len(pan)
    middle = ["0"] * (len(pan) - 10)
    candidate = pan[:6] + "".join(middle) + pan[-4:]
    if _luhn_ok(candidate):
        middle[-1] = "1"  # changes the sum by 1 or 2 -> no longer a multiple of 10
        candidate = pan[:6] + "".join(middle) + pan[-4:]
    return candidate


def _sanitize_track(value: str) -> str:
    pan, sep, rest = value.partition("=")
    if not sep:
        return "0" * len(value)
    return sanitize_pan(pan) + "=" + "0" * len(rest)


def _sanitize_value(kind: str, value: str) -> str:
    if kind == "pan":
        return sanitize_pan(value)
    if kind == "track":
        return _sanitize_track(value)
    if kind == "track1":
        return "X" * len(value)
    if kind == "icc":
        rewritten = _rewrite_icc(value, lambda hexval: "0" * len(hexval))
        return rewritten if rewritten is not None else "0" * len(value)
    return "0" * len(value)  # pin, keys: hex of the same length


def sanitize_plain(plain: dict[str, Any]) -> dict[str, Any]:
    """A copy whose secrets are replaced by encodable, harmless values."""
    out = copy.deepcopy(plain)
    fields = out.get("fields") or {}
    for number in secret_fields(out):
        fields[number] = _sanitize_value(SENSITIVE_FIELDS[number], str(fields[number]))
    return out


# --- BER-TLV walk for field 55 ---------------------------------------------------

def _rewrite_icc(hexdata: str, replace: Any) -> str | None:
    """Rewrite the values of sensitive EMV tags; None when the TLV does not parse.

    A field that fails to parse is treated wholesale by the caller, so an odd
    ICC blob can never leak through a parsing gap.
    """
    try:
        data = bytes.fromhex(hexdata)
    except ValueError:
        return None
    out: list[str] = []
    i = 0
    while i < len(data):
        start = i
        if data[i] in (0x00, 0xFF):  # padding between objects
            out.append(data[i:i + 1].hex().upper())
            i += 1
            continue
        first = data[i]
        i += 1
        if first & 0x1F == 0x1F:
            while i < len(data) and data[i] & 0x80:
                i += 1
            i += 1
        if i > len(data):
            return None
        tag = data[start:i].hex().upper()
        if i >= len(data):
            return None
        length = data[i]
        i += 1
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 3 or i + count > len(data):
                return None
            length = int.from_bytes(data[i:i + count], "big")
            i += count
        if i + length > len(data):
            return None
        header = data[start:i].hex().upper()
        value = data[i:i + length].hex().upper()
        i += length
        if first & 0x20:  # constructed: walk inside
            inner = _rewrite_icc(value, replace)
            if inner is None:
                return None
            value = inner
        elif tag in SENSITIVE_ICC_TAGS:
            value = replace(value)
        out.append(header + value)
    return "".join(out)
