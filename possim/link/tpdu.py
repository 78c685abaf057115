"""The 5-byte TPDU in front of CUP POS messages: ``60`` + destination + source.

The host answers with destination and source swapped, which is how a network
access point routes the reply back to the terminal: ``6005810000`` from the
terminal comes back as ``6000000581``. Addresses are kept as 4 hex digits
because that is how acquirers write them in configuration (NII-like values such
as ``0581``).
"""

from __future__ import annotations

from dataclasses import dataclass

from possim.errors import PossimError

TPDU_SIZE = 5
TPDU_ID = 0x60


class TpduError(PossimError):
    """A TPDU that is missing, short or carries an unexpected protocol id."""


@dataclass(frozen=True, slots=True)
class Tpdu:
    destination: str
    source: str
    id: int = TPDU_ID

    def __post_init__(self) -> None:
        for label, value in (("destination", self.destination), ("source", self.source)):
            if len(value) != 4 or any(c not in "0123456789ABCDEFabcdef" for c in value):
                raise TpduError(f"TPDU {label} {value!r}: expected 4 hex digits")
        object.__setattr__(self, "destination", self.destination.upper())
        object.__setattr__(self, "source", self.source.upper())
        if not 0 <= self.id <= 0xFF:
            raise TpduError(f"TPDU id {self.id}: expected one byte")

    def to_bytes(self) -> bytes:
        return bytes([self.id]) + bytes.fromhex(self.destination + self.source)

    @property
    def hex(self) -> str:
        return self.to_bytes().hex().upper()

    def reply(self) -> Tpdu:
        """The TPDU of the answer: destination and source swapped."""
        return Tpdu(destination=self.source, source=self.destination, id=self.id)


def parse_tpdu(data: bytes | str, *, expected_id: int | None = TPDU_ID) -> Tpdu:
    """Read the TPDU from the first 5 bytes of ``data`` (bytes, or hex text).

    Extra bytes after the TPDU (the rest of the message) are ignored.
    ``expected_id=None`` accepts any first byte for networks that use another id.
    """
    raw = _as_bytes(data)
    if len(raw) < TPDU_SIZE:
        raise TpduError(f"TPDU: expected {TPDU_SIZE} bytes at offset 0, got {len(raw)}")
    if expected_id is not None and raw[0] != expected_id:
        raise TpduError(f"TPDU: expected id {expected_id:02X} at offset 0, got {raw[0]:02X}")
    head = raw[:TPDU_SIZE].hex().upper()
    return Tpdu(destination=head[2:6], source=head[6:10], id=raw[0])


def reply_tpdu(data: bytes | str, *, expected_id: int | None = TPDU_ID) -> bytes | str:
    """The reply TPDU for ``data``, in the same form it came in (bytes or hex text)."""
    tpdu = parse_tpdu(data, expected_id=expected_id).reply()
    return tpdu.hex if isinstance(data, str) else tpdu.to_bytes()


def swap_in_message(body: bytes, *, expected_id: int | None = TPDU_ID) -> bytes:
    """``body`` with its leading TPDU replaced by the reply TPDU (the rest untouched)."""
    tpdu = parse_tpdu(body, expected_id=expected_id).reply()
    return tpdu.to_bytes() + body[TPDU_SIZE:]


def _as_bytes(data: bytes | str) -> bytes:
    if isinstance(data, str):
        try:
            return bytes.fromhex(data)
        except ValueError:
            raise TpduError(f"TPDU {data!r}: expected hex digits") from None
    return bytes(data)
