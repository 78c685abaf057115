"""Field specifications: what a dialect file says about one field.

A dialect file (YAML, in ``protocols/``) gives per field its type, length,
length prefix and encodings; ``FieldSpec.from_dict`` applies the dialect's
per-type defaults and checks the combination once, at load time, so the codec
generator never has to guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from possim.iso8583.errors import DialectError

# Field types as ISO 8583 names them. ``z`` is track data (digits and '=');
# ``x+n`` is an amount with a C/D sign character in front.
DIGIT_TYPES = frozenset({"n", "z", "x+n"})
TEXT_TYPES = frozenset({"a", "an", "ans", "as", "ns", "anp"})
BINARY_TYPES = frozenset({"b"})
ALL_TYPES = DIGIT_TYPES | TEXT_TYPES | BINARY_TYPES

PREFIX_DIGITS = {"fixed": 0, "LL": 2, "LLL": 3, "LLLL": 4, "LLLLL": 5, "LLLLLL": 6}
PREFIX_ENCODINGS = frozenset({"ascii", "bcd", "binary", "ebcdic"})
# content encodings allowed per type family
DIGIT_ENCODINGS = frozenset({"bcd", "ascii", "ebcdic"})
TEXT_ENCODINGS = frozenset({"ascii", "ebcdic", "gb18030", "utf-8", "latin-1"})
BINARY_ENCODINGS = frozenset({"binary", "hex"})
MASKS = frozenset({"pan", "track", "secret", "emv"})

# Python codec names for the text encodings a dialect may name.
PY_CODECS = {"ascii": "ascii", "ebcdic": "cp500", "gb18030": "gb18030", "utf-8": "utf-8", "latin-1": "latin-1"}


@dataclass(frozen=True)
class SubfieldSpec:
    """One positional part of a structured field (e.g. CUP 60.1)."""

    id: str
    name: str
    length: int | None  # None: the rest of the value


@dataclass(frozen=True)
class FieldSpec:
    number: int
    name: str
    type: str
    length: int  # exact for fixed fields, maximum for variable ones; digits/characters/bytes per type
    prefix: str = "fixed"  # fixed, LL, LLL, LLLL
    prefix_encoding: str = "ascii"
    encoding: str = "ascii"
    align: str = "left"  # BCD: left = digits first, pad nibble last
    pad: str = "0"  # BCD pad nibble
    counts: str = "units"  # what the length prefix counts: units (digits/chars/bytes of value) or bytes (wire bytes)
    mask: str | None = None
    subfields: tuple[SubfieldSpec, ...] = ()
    tlv: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def prefix_digits(self) -> int:
        return PREFIX_DIGITS[self.prefix]

    @property
    def fixed(self) -> bool:
        return self.prefix == "fixed"

    def label(self) -> str:
        """Short format label as payment specs write it: ``n..19 LL``, ``b8``, ``ans..999 LLL``."""
        size = f"..{self.length}" if not self.fixed else str(self.length)
        text = f"{self.type}{size}"
        return text if self.fixed else f"{text} {self.prefix}"

    @classmethod
    def from_dict(cls, number: int, raw: dict[str, Any], type_defaults: dict[str, dict[str, Any]],
                  dialect_defaults: dict[str, Any], where: str) -> "FieldSpec":
        if not isinstance(raw, dict):
            raise DialectError(f"{where}: field {number}: expected a mapping, got {type(raw).__name__}")
        ftype = raw.get("type")
        if ftype not in ALL_TYPES:
            raise DialectError(f"{where}: field {number}: type {ftype!r} is not one of {sorted(ALL_TYPES)}")
        merged: dict[str, Any] = {}
        merged.update(dialect_defaults)
        merged.update(type_defaults.get(ftype, {}))
        merged.update(raw)
        known = {"name", "type", "length", "max", "prefix", "prefix_encoding", "encoding", "align", "pad",
                 "counts", "mask", "subfields", "tlv", "tags"}
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise DialectError(f"{where}: field {number}: unknown key(s) {', '.join(unknown)} "
                               f"(a name containing a comma must be quoted)")
        extra: dict[str, Any] = {}
        if "max" in merged and "length" in raw:
            raise DialectError(f"{where}: field {number}: give either length (fixed) or max (variable), not both")
        prefix = merged.get("prefix", "fixed")
        if "max" in raw:
            length = raw["max"]
            if prefix == "fixed":
                raise DialectError(f"{where}: field {number}: max needs a prefix (LL, LLL, LLLL)")
        else:
            length = merged.get("length")
            if raw.get("prefix", "fixed") == "fixed" and "length" in raw:
                prefix = "fixed"
        if not isinstance(length, int) or length <= 0:
            raise DialectError(f"{where}: field {number}: length must be a positive integer, got {length!r}")
        if prefix not in PREFIX_DIGITS:
            raise DialectError(f"{where}: field {number}: prefix {prefix!r} is not one of {list(PREFIX_DIGITS)}")
        penc = merged.get("prefix_encoding", "ascii")
        if penc not in PREFIX_ENCODINGS:
            raise DialectError(f"{where}: field {number}: prefix_encoding {penc!r} not in {sorted(PREFIX_ENCODINGS)}")
        enc = merged.get("encoding", "ascii")
        allowed = DIGIT_ENCODINGS if ftype in DIGIT_TYPES else TEXT_ENCODINGS if ftype in TEXT_TYPES else BINARY_ENCODINGS
        if enc not in allowed:
            raise DialectError(f"{where}: field {number}: encoding {enc!r} does not suit type {ftype} "
                               f"(one of {sorted(allowed)})")
        align = merged.get("align", "left")
        if align not in ("left", "right"):
            raise DialectError(f"{where}: field {number}: align must be left or right, got {align!r}")
        pad = str(merged.get("pad", "0")).upper()
        if pad not in ("0", "F"):
            raise DialectError(f"{where}: field {number}: pad must be '0' or 'F', got {pad!r}")
        counts = merged.get("counts", "units")
        if counts not in ("units", "bytes"):
            raise DialectError(f"{where}: field {number}: counts must be units or bytes, got {counts!r}")
        mask = merged.get("mask")
        if mask is not None and mask not in MASKS:
            raise DialectError(f"{where}: field {number}: mask {mask!r} is not one of {sorted(MASKS)}")
        limit = 10 ** PREFIX_DIGITS[prefix] - 1 if prefix != "fixed" else None
        if limit is not None and length > limit:
            raise DialectError(f"{where}: field {number}: max {length} does not fit a {prefix} prefix")
        subs: list[SubfieldSpec] = []
        raw_subs = merged.get("subfields") or []
        for i, sub in enumerate(raw_subs):
            if not isinstance(sub, dict) or "name" not in sub:
                raise DialectError(f"{where}: field {number}: subfield {i + 1} needs a name")
            slen = sub.get("length", "rest")
            if slen == "rest":
                slen = None
                if i != len(raw_subs) - 1:
                    raise DialectError(f"{where}: field {number}: only the last subfield may take the rest")
            elif not isinstance(slen, int) or slen <= 0:
                raise DialectError(f"{where}: field {number}: subfield {i + 1} length must be a positive integer")
            subs.append(SubfieldSpec(str(sub.get("id", i + 1)), str(sub["name"]), slen))
        tlv = bool(merged.get("tlv", False))
        if tlv and ftype not in BINARY_TYPES:
            raise DialectError(f"{where}: field {number}: tlv needs type b")
        if tlv:
            extra["tags"] = merged.get("tags") or {}
        return cls(number=number, name=str(merged.get("name", f"Field {number}")), type=ftype, length=length,
                   prefix=prefix, prefix_encoding=penc, encoding=enc, align=align, pad=pad, counts=counts,
                   mask=mask, subfields=tuple(subs), tlv=tlv, extra=extra)
