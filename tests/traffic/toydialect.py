"""A tiny text dialect so the traffic layer can be tested on its own.

Body: 4-char MTI, then per field ``NNN`` number, ``LLL`` length, value (ASCII).
It has the duck-typed surface the traffic layer uses from ``possim.iso8583``
(``name``, ``decode``, ``encode``; ``Message.to_json``/``from_json``), and it
marks field 48 as secret in its own masked form, to show the traffic layer
honours a dialect's masking beyond its own table.
"""

from __future__ import annotations

from typing import Any

from possim.errors import PossimError


class ToyMessage:
    def __init__(self, mti: str, fields: dict[str, str] | None = None) -> None:
        self.mti = mti
        self.fields = dict(fields or {})

    def to_json(self, *, mask: bool = False) -> dict[str, Any]:
        fields = dict(self.fields)
        if mask and "48" in fields:
            fields["48"] = "#" * len(fields["48"])
        return {"mti": self.mti, "fields": fields}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ToyMessage:
        return cls(obj["mti"], obj.get("fields") or {})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ToyMessage) and (self.mti, self.fields) == (other.mti, other.fields)


class ToyDialect:
    name = "toy"

    def encode(self, msg: ToyMessage) -> bytes:
        out = [msg.mti]
        for number in sorted(msg.fields, key=int):
            value = msg.fields[number]
            out.append(f"{int(number):03d}{len(value):03d}{value}")
        return "".join(out).encode("ascii")

    def decode(self, body: bytes) -> ToyMessage:
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise PossimError(f"toy: non-ASCII byte at offset {exc.start}") from None
        if len(text) < 4 or not text[:4].isdigit():
            raise PossimError("toy: MTI: expected 4 digits at offset 0")
        fields: dict[str, str] = {}
        pos = 4
        while pos < len(text):
            head = text[pos:pos + 6]
            if len(head) < 6 or not head.isdigit():
                raise PossimError(f"toy: field header: expected 6 digits at offset {pos}")
            number, length = str(int(head[:3])), int(head[3:])
            value = text[pos + 6:pos + 6 + length]
            if len(value) != length:
                raise PossimError(f"toy: field {number}: length says {length}, {len(value)} left at offset {pos + 6}")
            fields[number] = value
            pos += 6 + length
        return ToyMessage(text[:4], fields)


TOY = ToyDialect()


def toy_resolver(name: str) -> ToyDialect:
    if name != "toy":
        raise PossimError(f"unknown dialect {name!r}")
    return TOY


# Test card data, made up for these tests (not a live card).
PAN = "6212142000000000012"
TRACK2 = PAN + "=30122011234567890"
PIN_BLOCK = "9CA4E8A0FA2C49B3"  # the DESIGN.md example value


def purchase(stan: str = "000001", tid: str = "12345678", **extra: str) -> ToyMessage:
    fields = {"2": PAN, "3": "000000", "4": "000000000100", "11": stan, "35": TRACK2,
              "41": tid, "52": PIN_BLOCK}
    fields.update(extra)
    return ToyMessage("0200", fields)


def purchase_response(stan: str = "000001", tid: str = "12345678") -> ToyMessage:
    return ToyMessage("0210", {"3": "000000", "4": "000000000100", "11": stan, "39": "00", "41": tid})


def echo(stan: str = "000002", tid: str = "12345678") -> ToyMessage:
    return ToyMessage("0820", {"11": stan, "41": tid, "60": "00000000301"})
