"""A dialect: one wire format of ISO 8583, compiled from its file in ``protocols/``.

The dialect owns every fact about bytes: TPDU and header sizes, MTI and bitmap
encodings, each field's codec, subfield layouts and masks. Decoding reads the
head (TPDU, header, MTI, bitmap) and then runs the layout compiled for that
exact bitmap: a ``construct.Struct`` of just the fields present, compiled once
and cached, so a host answering the same kind of message all day pays the
Python-level field dispatch only once.
"""

from __future__ import annotations

import io as _io
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import construct as cs

from possim.errors import PossimError
from possim.iso8583 import masking
from possim.iso8583.codecs import Bitmap, FieldCodec, HexBytes, Mti
from possim.iso8583.errors import DecodeError, DialectError, EncodeError
from possim.iso8583.message import Message
from possim.iso8583.spec import FieldSpec
from possim.iso8583.tlv import TlvItem, build_tlv, parse_tlv

_LAYOUT_CACHE_SIZE = 2048


@dataclass(frozen=True)
class Transaction:
    """A named transaction kind, matched on MTI, processing code and other field values."""

    name: str
    match: tuple[tuple[str, str], ...]  # (path, value) pairs; path "mti" or a field/subfield

    def matches(self, msg: Message) -> bool:
        for path, want in self.match:
            got = msg.mti if path == "mti" else msg.get(path)
            if got is None or not _mti_matches(path, got, want):
                return False
        return True


def _mti_matches(path: str, got: str, want: str) -> bool:
    # a transaction's MTI also names its response (0200 matches 0210) so that both sides get one name
    if path == "mti":
        if len(got) != 4 or len(want) != 4:
            return False
        response = str(int(want[2]) + 1) if want[2].isdigit() else want[2]
        return got[:2] == want[:2] and got[3] == want[3] and got[2] in (want[2], response)
    return got == want


class _Layout:
    """The compiled construct for one bitmap, and what encoding needs to know about it."""

    __slots__ = ("numbers", "keys", "bitmap", "compiled")

    def __init__(self, numbers: list[int], bitmap: bytes, codecs: Mapping[int, FieldCodec]) -> None:
        self.numbers = numbers
        self.keys = [str(n) for n in numbers]
        self.bitmap = bitmap
        struct = cs.Struct(*[str(n) / codecs[n] for n in numbers])
        self.compiled = struct.compile()


class Dialect:
    def __init__(self, raw: Mapping[str, Any], source: str = "<dict>") -> None:
        self.source = source
        where = source
        if not isinstance(raw, Mapping):
            raise DialectError(f"{where}: a dialect file is a mapping at the top level")
        self.name = str(raw.get("name") or "")
        if not self.name:
            raise DialectError(f"{where}: 'name' is required")
        self.description = str(raw.get("description", ""))
        self.default_framing = str(raw.get("framing", "none"))
        tpdu = raw.get("tpdu", 0)
        self.tpdu_size = 5 if tpdu is True else int(tpdu or 0)
        self.header_size = int(raw.get("header", 0) or 0)
        mti = raw.get("mti", "ascii")
        bitmap = raw.get("bitmap", "binary")
        try:
            self._mti = Mti(mti)
            self._bitmap = Bitmap(bitmap, bool(raw.get("tertiary_bitmap", False)))
        except ValueError as exc:
            raise DialectError(f"{where}: unsupported mti/bitmap encoding {exc}") from None
        self.mti_encoding, self.bitmap_encoding = mti, bitmap
        self._tpdu = HexBytes(self.tpdu_size, "TPDU") if self.tpdu_size else None
        self._header = HexBytes(self.header_size, "header") if self.header_size else None
        self.mac_field = int(raw.get("mac_field", 64))
        defaults = dict(raw.get("defaults") or {})
        types = dict(raw.get("types") or {})
        fields = raw.get("fields")
        if not isinstance(fields, Mapping) or not fields:
            raise DialectError(f"{where}: 'fields' must map field numbers to definitions")
        self.specs: dict[int, FieldSpec] = {}
        self.codecs: dict[int, FieldCodec] = {}
        for key, body in fields.items():
            try:
                number = int(key)
            except (TypeError, ValueError):
                raise DialectError(f"{where}: field key {key!r} is not a number") from None
            if not 2 <= number <= 192 or number == 65 and self._bitmap.tertiary:
                raise DialectError(f"{where}: field {number} cannot be defined (1 and 65 may be bitmaps)")
            spec = FieldSpec.from_dict(number, body, types, defaults, where)
            self.specs[number] = spec
            self.codecs[number] = FieldCodec(spec)
        self.masked_keys = frozenset(str(n) for n, spec in self.specs.items() if spec.mask)
        self.transactions = tuple(self._load_transactions(raw.get("transactions") or [], where))
        self.codes: dict[str, str] = {str(k): str(v) for k, v in (raw.get("response_codes") or {}).items()}
        self.notes: dict[str, Any] = dict(raw.get("notes") or {})
        self._layouts: OrderedDict[bytes, _Layout] = OrderedDict()
        self._layouts_by_keys: dict[frozenset[str], _Layout] = {}
        self._ctx = cs.Container(_params=cs.Container(), _root=None, _index=None)

    @staticmethod
    def _load_transactions(items: Iterable[Any], where: str) -> Iterable[Transaction]:
        for item in items:
            if not isinstance(item, Mapping) or "name" not in item:
                raise DialectError(f"{where}: each transaction needs a name")
            match = tuple((str(k), str(v)) for k, v in item.items() if k != "name")
            yield Transaction(str(item["name"]), match)

    def __repr__(self) -> str:
        return f"Dialect({self.name!r})"

    # -- layouts -----------------------------------------------------------------------------------
    def _layout_for_bitmap(self, bitmap: bytes, offset: int) -> _Layout:
        layout = self._layouts.get(bitmap)
        if layout is not None:
            return layout
        numbers = self._bitmap.fields_of(bitmap)
        for n in numbers:
            if n not in self.codecs:
                raise DecodeError(f"bitmap at offset {offset}: field {n} is present but {self.name} does not "
                                  f"define it")
        return self._remember(bitmap, numbers)

    def _layout_for_keys(self, keys: frozenset[str]) -> _Layout:
        layout = self._layouts_by_keys.get(keys)
        if layout is not None:
            return layout
        numbers = []
        for k in keys:
            if not (k.isdigit() and int(k) in self.codecs and str(int(k)) == k):
                raise EncodeError(f"field {k}: {self.name} does not define it")
            numbers.append(int(k))
        numbers.sort()
        bitmap = self._bitmap.bitmap_for(numbers)
        layout = self._layouts.get(bitmap) or self._remember(bitmap, numbers)
        self._layouts_by_keys[keys] = layout
        return layout

    def _remember(self, bitmap: bytes, numbers: list[int]) -> _Layout:
        layout = _Layout(numbers, bitmap, self.codecs)
        self._layouts[bitmap] = layout
        if len(self._layouts) > _LAYOUT_CACHE_SIZE:
            _, old = self._layouts.popitem(last=False)
            self._layouts_by_keys = {k: v for k, v in self._layouts_by_keys.items() if v is not old}
        return layout

    # -- decode / encode ---------------------------------------------------------------------------
    def decode(self, data: bytes) -> Message:
        """Parse one unframed message. Raises only ``DecodeError``."""
        if not isinstance(data, bytes):
            data = bytes(data)
        stream = _io.BytesIO(data)
        try:
            tpdu = self._tpdu._parse(stream, None, "") if self._tpdu else None
            header = self._header._parse(stream, None, "") if self._header else None
            mti = self._mti._parse(stream, None, "")
            bitmap_at = stream.tell()
            bitmap = self._bitmap._parse(stream, None, "")
            layout = self._layout_for_bitmap(bitmap, bitmap_at)
            values = layout.compiled.parsefunc(stream, self._ctx)
        except DecodeError:
            raise
        except PossimError as exc:  # pragma: no cover - defensive: keep the one error type
            raise DecodeError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - nothing else may escape from decoding bytes
            raise DecodeError(f"undecodable message at offset {stream.tell()}: {type(exc).__name__}: {exc}") from None
        end = stream.tell()
        if end != len(data):
            last = f"field {layout.numbers[-1]}" if layout.numbers else "the bitmap"
            raise DecodeError(f"{len(data) - end} bytes left over after {last} at offset {end}")
        fields = dict(values)
        return Message(mti, fields, tpdu=tpdu, header=header, dialect=self)

    def encode(self, msg: Message) -> bytes:
        """Build one unframed message. Raises only ``EncodeError``."""
        if not isinstance(msg, Message):
            raise EncodeError(f"expected a Message, got {type(msg).__name__}")
        fields = msg.fields
        layout = self._layout_for_keys(frozenset(fields))
        stream = _io.BytesIO()
        try:
            if self._tpdu:
                if msg.tpdu is None:
                    raise EncodeError(f"TPDU: {self.name} needs a 10-hex-digit tpdu")
                self._tpdu._build(msg.tpdu, stream, None, "")
            if self._header:
                if msg.header is None:
                    raise EncodeError(f"header: {self.name} needs a {self.header_size * 2}-hex-digit header")
                self._header._build(msg.header, stream, None, "")
            self._mti._build(msg.mti, stream, None, "")
            self._bitmap._build(layout.bitmap, stream, None, "")
            layout.compiled.buildfunc(fields, stream, self._ctx)
        except EncodeError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise EncodeError(f"cannot encode: {type(exc).__name__}: {exc}") from None
        return stream.getvalue()

    def message(self, mti: str, fields: Mapping[str, str] | None = None, *, tpdu: str | None = None,
                header: str | None = None) -> Message:
        """A new message bound to this dialect (so subfield paths work)."""
        return Message(mti, fields, tpdu=tpdu, header=header, dialect=self)

    def from_json(self, obj: Mapping[str, Any]) -> Message:
        return Message.from_json(obj, dialect=self)

    # -- MAC ---------------------------------------------------------------------------------------
    @property
    def mac_offset(self) -> int:
        """Where the MAC block starts: the MTI (TPDU and header are not covered)."""
        return self.tpdu_size + self.header_size

    def mac_input(self, body: bytes) -> bytes:
        """The bytes the MAC covers: from the MTI through the byte before the MAC field.

        The message must carry the MAC field (its bit set) as its last field. Only the bitmap is read: the MAC
        field is fixed-size and last, so its place follows from the bitmap and the length alone (a host checks
        and makes a MAC per message; decoding every field again for that would double its codec work).
        """
        if not isinstance(body, bytes):
            body = bytes(body)
        stream = _io.BytesIO(body)
        stream.seek(self.mac_offset + self._mti.size)
        if stream.tell() > len(body):
            raise DecodeError(f"MTI: expected {self._mti.size} bytes at offset {self.mac_offset}, "
                              f"{max(len(body) - self.mac_offset, 0)} left")
        numbers = self._bitmap.fields_of(self._bitmap._parse(stream, None, ""))
        mac_key = str(self.mac_field)
        if self.mac_field not in numbers:
            raise DecodeError(f"field {mac_key}: absent, so the message carries no MAC")
        if numbers[-1] != self.mac_field:
            raise DecodeError(f"field {mac_key}: the MAC must be the last field, but field {numbers[-1]} follows it")
        end = len(body) - self.mac_size
        if end < stream.tell():
            raise DecodeError(f"field {mac_key}: expected {self.mac_size} bytes after the bitmap, "
                              f"{len(body) - stream.tell()} left at offset {stream.tell()}")
        return body[self.mac_offset:end]

    @property
    def mac_size(self) -> int:
        spec = self.specs[self.mac_field]
        return spec.length * (2 if spec.encoding == "hex" else 1)

    # -- subfields ---------------------------------------------------------------------------------
    def subfield_get(self, number: int, value: str, sub: str) -> str | None:
        spec = self._structured(number, sub)
        if spec.tlv:
            for item in parse_tlv(value):
                if item.tag == sub.upper():
                    return item.value.hex().upper()
            return None
        return self.subfields_of(number, value).get(sub)

    def subfield_set(self, number: int, value: str, sub: str, new: str) -> str:
        spec = self._structured(number, sub)
        if spec.tlv:
            try:
                raw = bytes.fromhex(new)
            except ValueError:
                raise EncodeError(f"{number}.{sub}: expected hex, got {new!r}") from None
            items = parse_tlv(value) if value else []
            tag = sub.upper()
            for item in items:
                if item.tag == tag:
                    item.value, item.length_bytes = raw, None
                    break
            else:
                items.append(TlvItem(tag, raw))
            return build_tlv(items)
        parts = self.subfields_of(number, value)
        ids = [s.id for s in spec.subfields]
        if sub not in ids:
            raise EncodeError(f"{number}.{sub}: field {number} has subfields {', '.join(ids)}")
        out = []
        for s in spec.subfields:
            if s.id == sub:
                text = new
            elif s.id in parts:
                text = parts[s.id]
            elif ids.index(s.id) < ids.index(sub):
                text = "0" * (s.length or 0)  # fill gaps before the subfield being set
            else:
                break
            if s.length is not None and len(text) != s.length:
                raise EncodeError(f"{number}.{s.id}: expected {s.length} characters, got {len(text)}")
            out.append(text)
        return "".join(out)

    def subfields_of(self, number: int, value: str) -> dict[str, str]:
        """Positional subfields present in ``value`` (a short value simply has fewer)."""
        spec = self.specs.get(number)
        if spec is None or not spec.subfields:
            return {}
        out: dict[str, str] = {}
        pos = 0
        for s in spec.subfields:
            if pos >= len(value):
                break
            end = len(value) if s.length is None else pos + s.length
            out[s.id] = value[pos:end]
            pos = end
        return out

    def _structured(self, number: int, sub: str) -> FieldSpec:
        spec = self.specs.get(number)
        if spec is None or not (spec.subfields or spec.tlv):
            raise EncodeError(f"{number}.{sub}: field {number} has no subfields in {self.name}")
        return spec

    # -- masking and naming ------------------------------------------------------------------------
    def masked_value(self, number: int, value: str) -> str:
        spec = self.specs.get(number)
        return masking.mask(spec.mask if spec else None, value)

    def transaction_name(self, msg: Message) -> str | None:
        for tx in self.transactions:
            if tx.matches(msg):
                return tx.name
        return None

    def response_text(self, code: str) -> str | None:
        return self.codes.get(code)
