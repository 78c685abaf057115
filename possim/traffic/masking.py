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

Which fields are secret comes first from the dialect file (``mask:`` on a
field, applied by ``Message.to_json(mask=True)``); the table below is a safety
net for a dialect that forgot one, since an export must never leak. Display
masks are ``possim.iso8583.masking``'s, so a PAN looks the same in the TUI,
``possim decode`` and a recording.
"""

from __future__ import annotations

import copy
from typing import Any

from possim.errors import PossimError
from possim.iso8583 import masking as display
from possim.iso8583.tlv import TlvItem, build_tlv, encode_length, parse_tlv

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

# display mask kind (possim.iso8583.masking) for each kind of secret above
_DISPLAY_KIND = {"pan": "pan", "track": "track", "track1": "secret", "pin": "secret", "keys": "secret",
                 "icc": "emv", "secret": "secret"}


def _field_is_secret(number: str, mti: str | None) -> bool:
    kind = SENSITIVE_FIELDS.get(number)
    if kind is None:
        return False
    if kind == "keys":
        return bool(mti) and str(mti).startswith("08")
    return True


def message_plains(message: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(clear plain form, the dialect's own masked form or None).

    ``possim.iso8583.Message.to_json(mask=True)`` masks what the dialect file
    marks; that is the first authority, this module's table the safety net.
    """
    clear = message.to_json()
    try:
        masked = message.to_json(mask=True)
    except TypeError:  # a message type without dialect masking
        masked = None
    return clear, masked


def secret_fields(plain: dict[str, Any], dialect_masked: dict[str, Any] | None = None) -> list[str]:
    """Field numbers that must not leave the process: the dialect's masked ones and this table's."""
    fields = plain.get("fields") or {}
    masked_fields = (dialect_masked or {}).get("fields") or {}
    return [
        n for n in fields
        if _field_is_secret(str(n), plain.get("mti"))
        or (n in masked_fields and masked_fields[n] != fields[n])
    ]


def has_secrets(plain: dict[str, Any], dialect_masked: dict[str, Any] | None = None) -> bool:
    return bool(secret_fields(plain, dialect_masked))


def _kind(number: str, value: str) -> str:
    """The table's kind, else a guess from the value for a field only the dialect marks."""
    kind = SENSITIVE_FIELDS.get(number)
    if kind is not None:
        return kind
    if "=" in value:
        return "track"
    if value.isdigit():
        return "pan"
    return "secret"


# --- human masking -----------------------------------------------------------

def _mask_value(kind: str, value: str) -> str:
    if kind == "icc":
        return _mask_icc(value)
    return display.mask(_DISPLAY_KIND[kind], value)


def _mask_icc(hexvalue: str) -> str:
    """Like ``possim.iso8583.masking.mask_emv``, but also inside constructed templates (70, 77 ...)."""
    try:
        items = parse_tlv(hexvalue)
    except PossimError:
        return display.mask_secret(hexvalue)
    out = []
    for item in items:
        value = item.value.hex().upper()
        if item.constructed:
            value = _mask_icc(value)
        elif item.tag in display.SENSITIVE_TAGS:
            value = display.mask_secret(value)
        out.append(item.tag + (item.length_bytes or encode_length(len(item.value))).hex().upper() + value)
    return "".join(out)


def mask_plain(plain: dict[str, Any], dialect_masked: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a plain-form message with every secret masked for display.

    Where the dialect already masked a field its form is kept (it knows the
    field best); the table covers what the dialect left clear.
    """
    out = copy.deepcopy(plain)
    fields = out.get("fields") or {}
    masked_fields = (dialect_masked or {}).get("fields") or {}
    for number in secret_fields(plain, dialect_masked):
        value = str(fields[number])
        kind = _kind(number, value)
        if kind != "icc" and number in masked_fields and masked_fields[number] != value:
            fields[number] = masked_fields[number]
        else:
            fields[number] = _mask_value(kind, value)
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
        return _sanitize_icc(value)
    if kind == "secret" and not all(c in "0123456789ABCDEFabcdef" for c in value):
        return "X" * len(value)
    return "0" * len(value)  # pin, keys: hex of the same length


def _sanitize_icc(hexvalue: str) -> str:
    """Zero the values of card-identifying EMV tags; zero the whole field if it does not parse.

    Constructed tags are walked, so a PAN inside a template is found too.
    """
    try:
        return build_tlv(_zero_items(parse_tlv(hexvalue)))
    except PossimError:
        return "0" * len(hexvalue)


def _zero_items(items: list[TlvItem]) -> list[TlvItem]:
    out = []
    for item in items:
        value = item.value
        if item.constructed:
            value = bytes.fromhex(build_tlv(_zero_items(parse_tlv(value.hex()))))
        elif item.tag in display.SENSITIVE_TAGS:
            value = bytes(len(value))
        out.append(TlvItem(item.tag, value, item.length_bytes))
    return out


def sanitize_plain(plain: dict[str, Any], dialect_masked: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy whose secrets are replaced by encodable, harmless values."""
    out = copy.deepcopy(plain)
    fields = out.get("fields") or {}
    for number in secret_fields(plain, dialect_masked):
        value = str(fields[number])
        fields[number] = _sanitize_value(_kind(number, value), value)
    return out
