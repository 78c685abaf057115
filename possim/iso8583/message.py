"""The ISO 8583 message in its plain form (DESIGN.md "The message layer").

A ``Message`` is what every other layer handles: an MTI, a dict of field
number (as a string) to string value, and — where the dialect has them — the
TPDU and message header as hex. It knows nothing about bytes; the dialect
does. Subfield paths (``60.1``, ``55.9F26``) need the dialect's definitions,
so a message remembers the dialect it came from or was made for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping

from possim.iso8583.errors import EncodeError

if TYPE_CHECKING:  # pragma: no cover
    from possim.iso8583.dialect import Dialect

# MTI position 3 (function): 0 request, 1 response, 2 advice, 3 advice response, 4 notification ...
_RESPONSE_OF = {"0": "1", "2": "3", "4": "5"}

# subfield paths already split: "60.1" -> ("60", 60, "1"); a host asks for the same few on every request
_SUBFIELD_PATHS: dict[str, tuple[str, int, str]] = {}
_SUBFIELD_PATHS_MAX = 1024
_new = object.__new__


class Message:
    __slots__ = ("mti", "fields", "tpdu", "header", "dialect")

    def __init__(self, mti: str, fields: Mapping[str, str] | None = None, *, tpdu: str | None = None,
                 header: str | None = None, dialect: "Dialect | None" = None) -> None:
        self.mti = mti
        self.fields: dict[str, str] = dict(fields or {})
        self.tpdu = tpdu
        self.header = header
        self.dialect = dialect

    @classmethod
    def adopt(cls, mti: str, fields: dict[str, str], tpdu: str | None, header: str | None,
              dialect: "Dialect | None") -> "Message":
        """A message that takes ``fields`` as its own dict, without the copy ``__init__`` makes.

        For a dict nobody else holds (a decoder's fresh result): decoding runs once per message on a busy
        host, and the defensive copy is then pure cost.
        """
        msg = _new(cls)
        msg.mti = mti
        msg.fields = fields
        msg.tpdu = tpdu
        msg.header = header
        msg.dialect = dialect
        return msg

    # -- field access -------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> str:
        return self.fields[key]

    def __setitem__(self, key: str, value: str) -> None:
        self.fields[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self.fields

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.fields, key=int))

    def get(self, path: str, default: str | None = None) -> str | None:
        """A field (``"41"``) or subfield (``"60.1"``, ``"55.9F26"``) value, or ``default``."""
        if "." not in path:
            return self.fields.get(path, default)
        split = _SUBFIELD_PATHS.get(path)
        if split is None:
            number, _, sub = path.partition(".")
            if number not in self.fields:
                return default
            split = (number, int(number), sub)
            if len(_SUBFIELD_PATHS) < _SUBFIELD_PATHS_MAX:
                _SUBFIELD_PATHS[path] = split
        key, number_int, sub = split
        if key not in self.fields:
            return default
        value = self._require_dialect(path).subfield_get(number_int, self.fields[key], sub)
        return default if value is None else value

    def set(self, path: str, value: str) -> None:
        """Set a field or subfield; setting a subfield rewrites its parent field's value."""
        if "." not in path:
            self.fields[path] = value
            return
        number, _, sub = path.partition(".")
        dialect = self._require_dialect(path)
        self.fields[number] = dialect.subfield_set(int(number), self.fields.get(number, ""), sub, value)

    def remove(self, *keys: str) -> None:
        for key in keys:
            self.fields.pop(key, None)

    def _require_dialect(self, path: str) -> "Dialect":
        if self.dialect is None:
            raise EncodeError(f"{path}: a subfield needs the message's dialect (create it with dialect=...)")
        return self.dialect

    # -- MTI helpers --------------------------------------------------------------------------------
    def response_mti(self) -> str:
        """``0200`` -> ``0210``; ``0420`` -> ``0430``. Raises for an MTI that is already a response."""
        function = self.mti[2]
        if function not in _RESPONSE_OF:
            raise EncodeError(f"MTI {self.mti} is not a request or advice; it has no response MTI")
        return self.mti[:2] + _RESPONSE_OF[function] + self.mti[3]

    def is_request(self) -> bool:
        """True for anything that expects an answer: requests, advices (0220, 0420) and notifications."""
        return self.mti[2] in _RESPONSE_OF

    def is_response(self) -> bool:
        return self.mti[2] in ("1", "3", "5")

    def is_reversal(self) -> bool:
        return self.mti[1] == "4"

    # -- plain form ---------------------------------------------------------------------------------
    def to_json(self, *, mask: bool = False) -> dict[str, Any]:
        """The DESIGN.md plain form; ``mask=True`` hides PAN, track data, PIN blocks and keys."""
        out: dict[str, Any] = {}
        if self.tpdu is not None:
            out["tpdu"] = self.tpdu
        if self.header is not None:
            out["header"] = self.header
        out["mti"] = self.mti
        fields = self.fields
        ordered = {k: fields[k] for k in sorted(fields, key=int)}
        if mask and self.dialect is not None:
            for key in self.dialect.masked_keys.intersection(ordered):
                ordered[key] = self.dialect.masked_value(int(key), ordered[key])
        out["fields"] = ordered
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], dialect: "Dialect | None" = None) -> "Message":
        if not isinstance(obj, Mapping):
            raise EncodeError(f"message: expected a JSON object, got {type(obj).__name__}")
        unknown = set(obj) - {"tpdu", "header", "mti", "fields"}
        if unknown:
            raise EncodeError(f"message: unknown key(s) {sorted(unknown)}; expected tpdu, header, mti, fields")
        mti = obj.get("mti")
        if not isinstance(mti, str):
            raise EncodeError("message: 'mti' is missing or not a string")
        fields = obj.get("fields", {})
        if not isinstance(fields, Mapping):
            raise EncodeError("message: 'fields' must be an object of field number to string")
        clean: dict[str, str] = {}
        for key, value in fields.items():
            k = str(key)
            if not k.isdigit() or not 1 < int(k) <= 192 or str(int(k)) != k:
                raise EncodeError(f"fields: {key!r} is not a field number 2..192")
            if not isinstance(value, str):
                raise EncodeError(f"field {k}: expected a string value, got {type(value).__name__}")
            clean[k] = value
        for part in ("tpdu", "header"):
            if part in obj and not isinstance(obj[part], str):
                raise EncodeError(f"message: '{part}' must be a hex string")
        return cls(mti, clean, tpdu=obj.get("tpdu"), header=obj.get("header"), dialect=dialect)

    def copy(self) -> "Message":
        return Message(self.mti, self.fields, tpdu=self.tpdu, header=self.header, dialect=self.dialect)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.mti, self.fields, self.tpdu, self.header) == (other.mti, other.fields, other.tpdu, other.header)

    def __repr__(self) -> str:
        # repr must never leak a PAN: show which fields are present, not their values
        return f"Message(mti={self.mti!r}, fields=[{', '.join(self)}])"
