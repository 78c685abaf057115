"""construct objects for the parts of an ISO 8583 message.

Every part — a field, the MTI, the bitmap, the TPDU and header — is a
``construct.Construct`` whose parse and build come from one definition. The
field codec's logic is generated source (``codegen``), used both when the
construct runs interpreted and when a per-bitmap ``Struct`` is compiled with
``construct``'s own ``compile()``; that is what keeps the codec fast without a
second, hand-written fast path.
"""

from __future__ import annotations

import functools
from typing import Any, BinaryIO

import construct as cs

from possim.iso8583 import _rt, codegen
from possim.iso8583.errors import DecodeError, EncodeError
from possim.iso8583.spec import FieldSpec


def _exec(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {"_rt": _rt}
    exec(compile(source, f"<possim field codec {name}>", "exec"), namespace)
    return namespace[name]


class FieldCodec(cs.Construct):
    """One data element (2..192) as its dialect defines it."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec
        self.name = str(spec.number)
        self._dec_src = codegen.decoder_source(spec)
        self._enc_src = codegen.encoder_source(spec)

    # The interpreted path compiles its functions on first use: a dialect defines up to 128 fields and most
    # runs touch only a few of them through the compiled per-bitmap layouts.
    @functools.cached_property
    def decode(self) -> Any:
        return _exec(self._dec_src, codegen.names(self.spec)[0])

    @functools.cached_property
    def encode(self) -> Any:
        return _exec(self._enc_src, codegen.names(self.spec)[1])

    def _parse(self, stream: BinaryIO, context: Any, path: str) -> str:
        return self.decode(stream)

    def _build(self, obj: str, stream: BinaryIO, context: Any, path: str) -> str:
        self.encode(obj, stream)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError("ISO 8583 fields are sized by their content")

    def _emitparse(self, code: cs.CodeGen) -> str:
        code.append("from possim.iso8583 import _rt")
        code.append(self._dec_src)
        return f"{codegen.names(self.spec)[0]}(io)"

    def _emitbuild(self, code: cs.CodeGen) -> str:
        code.append("from possim.iso8583 import _rt")
        code.append(self._enc_src)
        return f"({codegen.names(self.spec)[1]}(obj, io), obj)[1]"


class HexBytes(cs.Construct):
    """Fixed-size binary part shown as uppercase hex (TPDU, message header)."""

    def __init__(self, size: int, what: str) -> None:
        super().__init__()
        self.size = size
        self.what = what

    def _parse(self, stream: BinaryIO, context: Any, path: str) -> str:
        data = stream.read(self.size)
        if len(data) != self.size:
            raise DecodeError(f"{self.what}: expected {self.size} bytes, {len(data)} left at offset "
                              f"{stream.tell() - len(data)}")
        return data.hex().upper()

    def _build(self, obj: Any, stream: BinaryIO, context: Any, path: str) -> Any:
        if not isinstance(obj, str):
            raise EncodeError(f"{self.what}: expected {self.size * 2} hex characters, got {type(obj).__name__}")
        try:
            data = bytes.fromhex(obj)
        except ValueError:
            raise EncodeError(f"{self.what}: expected {self.size * 2} hex characters, got {obj!r}") from None
        if len(data) != self.size:
            raise EncodeError(f"{self.what}: expected {self.size * 2} hex characters, got {len(obj)}")
        stream.write(data)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        return self.size


class Mti(cs.Construct):
    """Message type indicator: 4 ASCII/EBCDIC digits or 2 BCD bytes."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        if encoding not in ("ascii", "bcd", "ebcdic"):
            raise ValueError(encoding)
        self.encoding = encoding
        self.size = 2 if encoding == "bcd" else 4

    def _parse(self, stream: BinaryIO, context: Any, path: str) -> str:
        data = stream.read(self.size)
        start = stream.tell() - len(data)
        if len(data) != self.size:
            raise DecodeError(f"MTI: expected {self.size} bytes, {len(data)} left at offset {start}")
        if self.encoding == "bcd":
            text = data.hex()
        else:
            text = data.decode("cp500" if self.encoding == "ebcdic" else "latin-1")
        if not (text.isascii() and text.isdigit()):
            raise DecodeError(f"MTI: expected 4 digits ({self.encoding}) at offset {start}, got {data.hex().upper()}")
        return text

    def _build(self, obj: Any, stream: BinaryIO, context: Any, path: str) -> Any:
        if not (isinstance(obj, str) and len(obj) == 4 and obj.isascii() and obj.isdigit()):
            raise EncodeError(f"MTI: expected 4 digits, got {obj!r}")
        if self.encoding == "bcd":
            stream.write(bytes.fromhex(obj))
        else:
            stream.write(obj.encode("cp500" if self.encoding == "ebcdic" else "ascii"))
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        return self.size


class Bitmap(cs.Construct):
    """Primary bitmap, secondary when bit 1 is set, tertiary when bit 65 is set and the dialect has one.

    Parses to the raw bitmap bytes as they appeared (the per-bitmap layout
    cache is keyed on them); ``fields_of`` turns them into field numbers.
    """

    def __init__(self, encoding: str, tertiary: bool) -> None:
        super().__init__()
        if encoding not in ("binary", "hex"):
            raise ValueError(encoding)
        self.encoding = encoding
        self.tertiary = tertiary
        self.unit = 8 if encoding == "binary" else 16

    def _read_one(self, stream: BinaryIO, which: str) -> bytes:
        data = stream.read(self.unit)
        start = stream.tell() - len(data)
        if len(data) != self.unit:
            raise DecodeError(f"{which} bitmap: expected {self.unit} bytes, {len(data)} left at offset {start}")
        if self.encoding == "hex":
            try:
                return bytes.fromhex(data.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                raise DecodeError(f"{which} bitmap: expected 16 hex characters at offset {start}") from None
        return data

    def _parse(self, stream: BinaryIO, context: Any, path: str) -> bytes:
        bitmap = self._read_one(stream, "primary")
        if bitmap[0] & 0x80:
            bitmap += self._read_one(stream, "secondary")
            if self.tertiary and bitmap[8] & 0x80:
                bitmap += self._read_one(stream, "tertiary")
        return bitmap

    def _build(self, obj: bytes, stream: BinaryIO, context: Any, path: str) -> bytes:
        if self.encoding == "hex":
            stream.write(obj.hex().upper().encode("ascii"))
        else:
            stream.write(obj)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError("bitmap size depends on its first bit")

    def fields_of(self, bitmap: bytes) -> list[int]:
        """Field numbers present, without the bits that only announce another bitmap."""
        present = []
        for i, byte in enumerate(bitmap):
            if not byte:
                continue
            for bit in range(8):
                if byte & (0x80 >> bit):
                    present.append(i * 8 + bit + 1)
        skip = {1} | ({65} if self.tertiary else set())
        return [n for n in present if n not in skip]

    def bitmap_for(self, numbers: list[int]) -> bytes:
        """The bitmap announcing ``numbers`` (sorted), with secondary/tertiary added only when needed."""
        top = numbers[-1] if numbers else 0
        size = 8 if top <= 64 else 16 if top <= 128 else 24
        bits = bytearray(size)
        for n in numbers:
            bits[(n - 1) >> 3] |= 0x80 >> ((n - 1) & 7)
        if size > 8:
            bits[0] |= 0x80
        if size > 16:
            bits[8] |= 0x80
        return bytes(bits)
