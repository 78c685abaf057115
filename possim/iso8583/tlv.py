"""BER-TLV, as EMV puts it in field 55, as a ``construct`` object.

Items keep the exact length encoding they arrived with, so an unmodified
field 55 re-encodes byte for byte even when a card used a non-minimal length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO

import construct as cs

from possim.iso8583.errors import DecodeError, EncodeError


@dataclass
class TlvItem:
    tag: str  # uppercase hex, e.g. "9F26"
    value: bytes
    length_bytes: bytes | None = None  # as received; None means minimal encoding

    @property
    def constructed(self) -> bool:
        return bool(bytes.fromhex(self.tag)[0] & 0x20)


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


class BerTlv(cs.Construct):
    """A flat sequence of BER-TLV items filling the whole stream."""

    def _parse(self, stream: BinaryIO, context: Any, path: str) -> list[TlvItem]:
        data = stream.read()
        items: list[TlvItem] = []
        i, end = 0, len(data)
        while i < end:
            start = i
            first = data[i]
            i += 1
            if first & 0x1F == 0x1F:
                while True:
                    if i >= end:
                        raise DecodeError(f"TLV: tag starting at offset {start} is cut short")
                    i += 1
                    if not data[i - 1] & 0x80:
                        break
            tag = data[start:i].hex().upper()
            if i >= end:
                raise DecodeError(f"TLV: tag {tag} at offset {start} has no length")
            lstart = i
            lb = data[i]
            i += 1
            if lb & 0x80:
                k = lb & 0x7F
                if k == 0 or k > 3 or i + k > end:
                    raise DecodeError(f"TLV: tag {tag}: bad length encoding at offset {lstart}")
                n = int.from_bytes(data[i:i + k], "big")
                i += k
            else:
                n = lb
            if i + n > end:
                raise DecodeError(f"TLV: tag {tag}: length says {n} bytes, {end - i} left at offset {i}")
            lbytes = data[lstart:i]
            items.append(TlvItem(tag, data[i:i + n], None if lbytes == encode_length(n) else lbytes))
            i += n
        return items

    def _build(self, obj: list[TlvItem], stream: BinaryIO, context: Any, path: str) -> list[TlvItem]:
        for item in obj:
            try:
                tag = bytes.fromhex(item.tag)
            except ValueError:
                raise EncodeError(f"TLV: tag {item.tag!r} is not hex") from None
            lbytes = item.length_bytes if item.length_bytes is not None else encode_length(len(item.value))
            stream.write(tag + lbytes + item.value)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError("TLV is variable")


TLV = BerTlv()


def parse_tlv(hexvalue: str) -> list[TlvItem]:
    try:
        raw = bytes.fromhex(hexvalue)
    except ValueError:
        raise DecodeError("TLV: value is not hex") from None
    return TLV.parse(raw)


def build_tlv(items: list[TlvItem]) -> str:
    return TLV.build(items).hex().upper()
