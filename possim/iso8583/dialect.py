"""A dialect: one wire format of ISO 8583, compiled from its file in ``protocols/``.

The dialect owns every fact about bytes: TPDU and header sizes, MTI and bitmap
encodings, each field's codec, subfield layouts and masks. Decoding reads the
head (TPDU, header, MTI, bitmap) and then runs the layout compiled for that
exact bitmap: a ``Layout`` construct of just the fields present, compiled once
into one straight-line function per direction and cached, so a host answering
the same kind of message all day pays the Python-level field dispatch only
once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from possim.errors import PossimError
from possim.iso8583 import masking
from possim.iso8583.codecs import Bitmap, FieldCodec, Head, HexBytes, Mti
from possim.iso8583.errors import DecodeError, DialectError, EncodeError
from possim.iso8583.layout import Layout
from possim.iso8583.message import Message
from possim.iso8583.spec import FieldSpec
from possim.iso8583.tlv import TlvItem, build_tlv, parse_tlv

_LAYOUT_CACHE_SIZE = 2048
_KEYS_CACHE_SIZE = 4 * _LAYOUT_CACHE_SIZE  # key orders seen for encoding; several orders may share a layout


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
    """The compiled ``Layout`` for one bitmap, and the bitmap as it goes on the wire."""

    __slots__ = ("numbers", "bitmap", "wire_bitmap", "fields")

    def __init__(self, numbers: list[int], bitmap: bytes, wire_bitmap: bytes,
                 codecs: Mapping[int, FieldCodec]) -> None:
        self.numbers = numbers
        self.bitmap = bitmap
        self.wire_bitmap = wire_bitmap
        self.fields = Layout([codecs[n] for n in numbers])


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
        self._head = Head(self._tpdu, self._header, self._mti, self._bitmap)
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
        self._layouts_by_keys: dict[tuple[str, ...], _Layout] = {}
        # positional subfields: field -> subfield id -> (start, end or None for the rest)
        self._subfield_slices: dict[int, dict[str, tuple[int, int | None]]] = {
            n: _slices(spec) for n, spec in self.specs.items()
            if spec.subfields and not spec.tlv and len({sub.id for sub in spec.subfields}) == len(spec.subfields)}

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

    def _layout_for_keys(self, keys: tuple[str, ...]) -> _Layout:
        """The layout for a message's keys in the order its dict holds them (a cheap cache key)."""
        layout = self._layouts_by_keys.get(keys)
        if layout is not None:
            return layout
        numbers = []
        for k in set(keys):
            if not (k.isdigit() and int(k) in self.codecs and str(int(k)) == k):
                raise EncodeError(f"field {k}: {self.name} does not define it")
            numbers.append(int(k))
        numbers.sort()
        bitmap = self._bitmap.bitmap_for(numbers)
        layout = self._layouts.get(bitmap) or self._remember(bitmap, numbers)
        if len(self._layouts_by_keys) >= _KEYS_CACHE_SIZE:
            self._layouts_by_keys.clear()
        self._layouts_by_keys[keys] = layout
        return layout

    def _remember(self, bitmap: bytes, numbers: list[int]) -> _Layout:
        layout = _Layout(numbers, bitmap, self._bitmap.build_bytes(bitmap), self.codecs)
        self._layouts[bitmap] = layout
        if len(self._layouts) > _LAYOUT_CACHE_SIZE:
            _, old = self._layouts.popitem(last=False)
            self._layouts_by_keys = {k: v for k, v in self._layouts_by_keys.items() if v is not old}
        return layout

    # -- decode / encode ---------------------------------------------------------------------------
    def decode(self, data: bytes) -> Message:
        """Parse one unframed message. Raises only ``DecodeError``."""
        if type(data) is not bytes:
            data = bytes(data)
        pos = 0
        try:
            (tpdu, header, mti, bitmap, pos), fields_at = self._head.parse_at(data, 0)
            layout = self._layouts.get(bitmap) or self._layout_for_bitmap(bitmap, pos)
            pos = fields_at
            fields, end = layout.fields.parse_at(data, pos)
        except DecodeError:
            raise
        except PossimError as exc:  # pragma: no cover - defensive: keep the one error type
            raise DecodeError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - nothing else may escape from decoding bytes
            raise DecodeError(f"undecodable message at offset {pos}: {type(exc).__name__}: {exc}") from None
        if end != len(data):
            last = f"field {layout.numbers[-1]}" if layout.numbers else "the bitmap"
            raise DecodeError(f"{len(data) - end} bytes left over after {last} at offset {end}")
        return Message.adopt(mti, fields, tpdu, header, self)

    def encode(self, msg: Message) -> bytes:
        """Build one unframed message. Raises only ``EncodeError``."""
        if not isinstance(msg, Message):
            raise EncodeError(f"expected a Message, got {type(msg).__name__}")
        fields = msg.fields
        layout = self._layouts_by_keys.get(tuple(fields)) or self._layout_for_keys(tuple(fields))
        try:
            tpdu = self._head_part(self._tpdu, msg.tpdu, "TPDU", "a 10-hex-digit tpdu")
            header = self._head_part(self._header, msg.header, "header", f"a {self.header_size * 2}-hex-digit header")
            return b"".join((tpdu, header, self._mti.build_bytes(msg.mti), layout.wire_bitmap,
                             layout.fields.build_bytes(fields)))
        except EncodeError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise EncodeError(f"cannot encode: {type(exc).__name__}: {exc}") from None

    def _head_part(self, part: HexBytes | None, value: str | None, what: str, needs: str) -> bytes:
        """The TPDU or header bytes: none when the dialect has no such part, an error when it has one and the
        message does not."""
        if part is None:
            return b""
        if value is None:
            raise EncodeError(f"{what}: {self.name} needs {needs}")
        return part.build_bytes(value)

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
        bitmap_at = self.mac_offset + self._mti.size
        if bitmap_at > len(body):
            raise DecodeError(f"MTI: expected {self._mti.size} bytes at offset {self.mac_offset}, "
                              f"{max(len(body) - self.mac_offset, 0)} left")
        bitmap, fields_at = self._bitmap.parse_at(body, bitmap_at)
        known = self._layouts.get(bitmap)
        numbers = known.numbers if known is not None else self._bitmap.fields_of(bitmap)
        mac_key = str(self.mac_field)
        if self.mac_field not in numbers:
            raise DecodeError(f"field {mac_key}: absent, so the message carries no MAC")
        if numbers[-1] != self.mac_field:
            raise DecodeError(f"field {mac_key}: the MAC must be the last field, but field {numbers[-1]} follows it")
        end = len(body) - self.mac_size
        if end < fields_at:
            raise DecodeError(f"field {mac_key}: expected {self.mac_size} bytes after the bitmap, "
                              f"{len(body) - fields_at} left at offset {fields_at}")
        return body[self.mac_offset:end]

    @property
    def mac_size(self) -> int:
        spec = self.specs[self.mac_field]
        return spec.length * (2 if spec.encoding == "hex" else 1)

    # -- subfields ---------------------------------------------------------------------------------
    def subfield_get(self, number: int, value: str, sub: str) -> str | None:
        slices = self._subfield_slices.get(number)
        if slices is not None:  # positional: cut the one subfield out, as subfields_of would have
            where = slices.get(sub)
            if where is None or where[0] >= len(value):
                return None
            return value[where[0]:where[1]]
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


def _slices(spec: FieldSpec) -> dict[str, tuple[int, int | None]]:
    """Where each positional subfield sits in its field's value (the last may take the rest; ids are unique)."""
    out: dict[str, tuple[int, int | None]] = {}
    pos = 0
    for sub in spec.subfields:
        end = None if sub.length is None else pos + sub.length
        out[sub.id] = (pos, end)
        if end is None:
            break
        pos = end
    return out
