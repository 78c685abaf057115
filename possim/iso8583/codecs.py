"""construct objects for the parts of an ISO 8583 message.

Every part — a field, the MTI, the bitmap, the TPDU and header — is a
``construct.Construct`` whose parse and build come from one definition. The
field codec's logic is generated source (``codegen``), used both when the
construct runs on its own and when the per-bitmap ``Layout`` (``layout``)
pastes the same lines into one function; that is what keeps the codec fast
without a second, hand-written fast path. Everything reads from a ``bytes``
object at an offset (``parse_at``); a construct ``_parse`` is that same
function run on the stream's bytes, so error offsets stay stream positions.
"""

from __future__ import annotations

import functools
from typing import Any, BinaryIO, Callable

import construct as cs

from possim.iso8583 import _rt, codegen
from possim.iso8583.errors import DecodeError, EncodeError
from possim.iso8583.spec import FieldSpec


def _exec(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {"_rt": _rt}
    exec(compile(source, f"<possim field codec {name}>", "exec"), namespace)
    return namespace[name]


class OffsetConstruct(cs.Construct):
    """A construct whose work is ``parse_at(data, pos) -> (value, pos after)`` and ``build_bytes(value) -> bytes``;
    construct's stream interface runs those same two on the stream (offsets in errors stay stream positions)."""

    parse_at: Callable[[bytes, int], tuple[Any, int]]
    build_bytes: Callable[[Any], bytes]

    def _parse(self, stream: BinaryIO, context: Any, path: str) -> Any:
        return parse_from_stream(self.parse_at, stream)

    def _build(self, obj: Any, stream: BinaryIO, context: Any, path: str) -> Any:
        stream.write(self.build_bytes(obj))
        return obj


class GeneratedConstruct(OffsetConstruct):
    """A construct whose parser and builder are generated functions ``parse(data, pos) -> (value, pos)`` and
    ``build(value) -> bytes``: inside a construct compiled by construct they run on its stream as they are."""

    def _generated(self) -> tuple[str, str, str, str]:
        """(parser source, parser name, builder source, builder name)."""
        raise NotImplementedError

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError("ISO 8583 fields are sized by their content")

    def _emitparse(self, code: cs.CodeGen) -> str:
        source, name, _, _ = self._generated()
        code.append("from possim.iso8583 import _rt")
        code.append("from possim.iso8583.codecs import parse_from_stream")
        code.append(source)
        return f"parse_from_stream({name}, io)"

    def _emitbuild(self, code: cs.CodeGen) -> str:
        _, _, source, name = self._generated()
        code.append("from possim.iso8583 import _rt")
        code.append(source)
        return f"(io.write({name}(obj)), obj)[1]"


class FieldCodec(GeneratedConstruct):
    """One data element (2..192) as its dialect defines it."""

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec
        self.name = str(spec.number)
        self._dec_src = codegen.decoder_source(spec)
        self._enc_src = codegen.encoder_source(spec)

    # A field on its own compiles its functions on first use: a dialect defines up to 128 fields and most
    # runs touch them only through the per-bitmap layouts, which paste the same generated lines in.
    @functools.cached_property
    def parse_at(self) -> Callable[[bytes, int], tuple[str, int]]:
        """``parse_at(data, pos) -> (value, pos after the field)``; offsets in errors are positions in ``data``."""
        return _exec(self._dec_src, codegen.names(self.spec)[0])

    @functools.cached_property
    def build_bytes(self) -> Callable[[str], bytes]:
        """``build_bytes(value) -> wire bytes`` (length prefix and content)."""
        return _exec(self._enc_src, codegen.names(self.spec)[1])

    def _generated(self) -> tuple[str, str, str, str]:
        dec, enc = codegen.names(self.spec)
        return self._dec_src, dec, self._enc_src, enc


def parse_from_stream(parse_at: Callable[[bytes, int], tuple[Any, int]], stream: BinaryIO) -> Any:
    """Run an offset-based parser on a (seekable) stream, so offsets in errors stay stream positions."""
    start = stream.tell()
    stream.seek(0)
    data = stream.read()
    value, end = parse_at(data, start)
    stream.seek(end)
    return value


class HexBytes(OffsetConstruct):
    """Fixed-size binary part shown as uppercase hex (TPDU, message header)."""

    def __init__(self, size: int, what: str) -> None:
        super().__init__()
        self.size = size
        self.what = what

    def parse_at(self, data: bytes, pos: int) -> tuple[str, int]:
        end = pos + self.size
        part = data[pos:end]
        if len(part) != self.size:
            raise DecodeError(f"{self.what}: expected {self.size} bytes, {len(part)} left at offset {pos}")
        return part.hex().upper(), end

    def build_bytes(self, obj: Any) -> bytes:
        if not isinstance(obj, str):
            raise EncodeError(f"{self.what}: expected {self.size * 2} hex characters, got {type(obj).__name__}")
        if len(obj) == 2 * self.size:
            try:
                return _rt.unhex(obj)  # plain hex digits, the usual case; anything else takes the careful path
            except ValueError:
                pass
        try:
            data = bytes.fromhex(obj)
        except ValueError:
            raise EncodeError(f"{self.what}: expected {self.size * 2} hex characters, got {obj!r}") from None
        if len(data) != self.size:
            raise EncodeError(f"{self.what}: expected {self.size * 2} hex characters, got {len(obj)}")
        return data

    def _sizeof(self, context: Any, path: str) -> int:
        return self.size


class Mti(OffsetConstruct):
    """Message type indicator: 4 ASCII/EBCDIC digits or 2 BCD bytes."""

    def __init__(self, encoding: str) -> None:
        super().__init__()
        if encoding not in ("ascii", "bcd", "ebcdic"):
            raise ValueError(encoding)
        self.encoding = encoding
        self.size = 2 if encoding == "bcd" else 4

    def parse_at(self, data: bytes, pos: int) -> tuple[str, int]:
        end = pos + self.size
        part = data[pos:end]
        if len(part) != self.size:
            raise DecodeError(f"MTI: expected {self.size} bytes, {len(part)} left at offset {pos}")
        if self.encoding == "bcd":
            text = part.hex()
        else:
            text = part.decode("cp500" if self.encoding == "ebcdic" else "latin-1")
        if not (text.isascii() and text.isdigit()):
            raise DecodeError(f"MTI: expected 4 digits ({self.encoding}) at offset {pos}, got {part.hex().upper()}")
        return text, end

    def build_bytes(self, obj: Any) -> bytes:
        if not (isinstance(obj, str) and len(obj) == 4 and obj.isascii() and obj.isdigit()):
            raise EncodeError(f"MTI: expected 4 digits, got {obj!r}")
        if self.encoding == "bcd":
            return _rt.unhex(obj)
        return obj.encode("cp500" if self.encoding == "ebcdic" else "ascii")

    def _sizeof(self, context: Any, path: str) -> int:
        return self.size


class Bitmap(OffsetConstruct):
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

    def _read_one(self, data: bytes, pos: int, which: str) -> bytes:
        part = data[pos:pos + self.unit]
        if len(part) != self.unit:
            raise DecodeError(f"{which} bitmap: expected {self.unit} bytes, {len(part)} left at offset {pos}")
        if self.encoding == "hex":
            try:
                return bytes.fromhex(part.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                raise DecodeError(f"{which} bitmap: expected 16 hex characters at offset {pos}") from None
        return part

    def parse_at(self, data: bytes, pos: int) -> tuple[bytes, int]:
        """The raw bitmap (8, 16 or 24 bytes, hex already undone) and the offset after it."""
        unit = self.unit
        if self.encoding == "binary" and len(data) >= pos + 8 and not data[pos] & 0x80:
            return data[pos:pos + 8], pos + 8  # the usual case: a lone primary bitmap, all there
        bitmap = self._read_one(data, pos, "primary")
        pos += unit
        if bitmap[0] & 0x80:
            bitmap += self._read_one(data, pos, "secondary")
            pos += unit
            if self.tertiary and bitmap[8] & 0x80:
                bitmap += self._read_one(data, pos, "tertiary")
                pos += unit
        return bitmap, pos

    def build_bytes(self, obj: bytes) -> bytes:
        return obj.hex().upper().encode("ascii") if self.encoding == "hex" else obj

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


class Head(OffsetConstruct):
    """What precedes the fields: TPDU and header (where the dialect has them), MTI and bitmap(s).

    Parses to ``(tpdu, header, mti, bitmap, bitmap offset)``. ``parse_at`` first tries one straight-line
    function generated for the dialect's head (slices at fixed offsets, primary and secondary bitmap); on
    any doubt (too short, not digits, a tertiary bitmap) it reads part by part, which gives the exact error
    or the same result.
    """

    def __init__(self, tpdu: HexBytes | None, header: HexBytes | None, mti: Mti, bitmap: Bitmap) -> None:
        super().__init__()
        self.tpdu, self.header, self.mti, self.bitmap = tpdu, header, mti, bitmap
        self._src = self._source()
        namespace: dict[str, Any] = {"_rt": _rt, "_parse_parts": self._parse_parts}
        exec(compile(self._src, "<possim message head>", "exec"), namespace)
        self.parse_at: Callable[[bytes, int], tuple[tuple[str | None, str | None, str, bytes, int], int]] = \
            namespace["_head"]

    def _source(self) -> str:
        lines: list[str] = []
        tpdu_size = self.tpdu.size if self.tpdu else 0
        at = tpdu_size + (self.header.size if self.header else 0)
        if at:  # TPDU and header as one hex string, cut in two
            lines.append(f"    th = data[pos:pos + {at}].hex().upper()")
        out = [f"th[:{2 * tpdu_size}]" if self.tpdu else "None", f"th[{2 * tpdu_size}:]" if self.header else "None"]
        m = self.mti
        span = f"data[pos + {at}:pos + {at + m.size}]"
        if m.encoding == "bcd":
            lines.append(f"    mti = {span}.hex()")
        else:
            lines.append(f"    mti = {span}.decode({'cp500' if m.encoding == 'ebcdic' else 'latin-1'!r})")
        lines.append("    if not (mti.isascii() and mti.encode().isdigit()): raise _rt.Doubt")
        bitmap_at = at + m.size
        unit = self.bitmap.unit
        hexed = self.bitmap.encoding == "hex"

        def read(start: int, units: int) -> str:
            span = f"data[pos + {start}:pos + {start + units * unit}]"
            return f"_rt.unhex({span})" if hexed else span

        lines.append(f"    if len(data) - pos < {bitmap_at + unit}: raise _rt.Doubt")
        lines.append(f"    bitmap = {read(bitmap_at, 1)}")
        lines.append(f"    end = pos + {bitmap_at + unit}")
        lines.append("    if bitmap[0] & 0x80:")
        lines.append(f"        if len(data) - pos < {bitmap_at + 2 * unit}: raise _rt.Doubt")
        lines.append(f"        bitmap = {read(bitmap_at, 2)}")
        if self.bitmap.tertiary:
            lines.append("        if bitmap[8] & 0x80: raise _rt.Doubt")
        lines.append(f"        end = pos + {bitmap_at + 2 * unit}")
        lines.append(f"    return ({', '.join(out)}, mti, bitmap, pos + {bitmap_at}), end")
        return "\n".join(["def _head(data, pos):", "    try:", *("    " + line for line in lines),
                          "    except (_rt.Doubt, ValueError):", "        return _parse_parts(data, pos)"]) + "\n"

    def _parse_parts(self, data: bytes, pos: int) -> tuple[tuple[str | None, str | None, str, bytes, int], int]:
        tpdu = header = None
        if self.tpdu:
            tpdu, pos = self.tpdu.parse_at(data, pos)
        if self.header:
            header, pos = self.header.parse_at(data, pos)
        mti, pos = self.mti.parse_at(data, pos)
        bitmap, end = self.bitmap.parse_at(data, pos)
        return (tpdu, header, mti, bitmap, pos), end

    def _build(self, obj: Any, stream: BinaryIO, context: Any, path: str) -> Any:
        tpdu, header, mti, bitmap = obj[:4]
        if self.tpdu:
            stream.write(self.tpdu.build_bytes(tpdu))
        if self.header:
            stream.write(self.header.build_bytes(header))
        stream.write(self.mti.build_bytes(mti))
        stream.write(self.bitmap.build_bytes(bitmap))
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise cs.SizeofError("the bitmap's size depends on its first bit")
