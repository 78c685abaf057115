"""An ECR link protocol read from its file in protocols/ecr/: the TLV codec and the command table.

Cash-register protocols differ per terminal vendor in their tags, command
codes and value encodings, but share the shape: STX frames, then a flat list
of tag-length-value items. So one loader reads any vendor's file, and the
codec is a ``construct`` object generated from it (one definition both parses
and builds, as for the ISO 8583 dialects).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import construct as cs
import yaml

from possim import protocol_files as shared_files
from possim.errors import PossimError

DEFAULT = "ecr-possim"
VALUE_TYPES = ("an", "ans", "n", "bcd", "b")
CARD_MODES = ("required", "optional", "none")
TEXT_ENCODING = "gb18030"


class EcrError(PossimError):
    """An ECR protocol file or an ECR message that does not follow it."""


@dataclass(frozen=True)
class TagSpec:
    tag: bytes
    name: str
    type: str
    length: int | None = None  # fixed: characters (an/ans/n) or bytes (bcd/b)
    max: int | None = None
    simulated: bool = False

    @property
    def hex(self) -> str:
        return self.tag.hex().upper()


@dataclass(frozen=True)
class CommandSpec:
    name: str
    code: str
    function: str
    params: Mapping[str, str] = field(default_factory=dict)  # tag name -> function parameter
    card: str = "none"


def _bcd_length(size: int) -> cs.Construct:
    def decode(raw: bytes, ctx: Any) -> int:
        text = raw.hex()
        if not text.isdigit():
            raise cs.ValidationError(f"length {raw.hex().upper()} is not BCD")
        return int(text)

    def encode(value: int, ctx: Any) -> bytes:
        if not 0 <= value < 10 ** (2 * size):
            raise cs.ValidationError(f"length {value} does not fit {size} BCD bytes")
        return bytes.fromhex(f"{value:0{2 * size}d}")

    return cs.ExprAdapter(cs.Bytes(size), decode, encode)


class EcrProtocol:
    """One ECR protocol file: framing and link timings, tags, commands, result mapping."""

    def __init__(self, raw: Mapping[str, Any], source: str = "<dict>") -> None:
        where = f"ECR protocol {source}"
        if not isinstance(raw, Mapping):
            raise EcrError(f"{where}: expected a mapping")
        self.source = source
        self.name = str(raw.get("name") or Path(source).stem)
        self.description = str(raw.get("description", ""))
        self.framing = str(raw.get("framing", "stx"))
        link = raw.get("link") or {}
        self.ack_timeout = float(link.get("ack_timeout", 2.0))
        self.max_retries = int(link.get("max_retries", 3))
        self.response_timeout = float(link.get("response_timeout", 180.0))
        tlv = raw.get("tlv") or {}
        self.tag_bytes = int(tlv.get("tag_bytes", 2))
        if tlv.get("length", "bcd2") != "bcd2":
            raise EcrError(f"{where}: tlv.length: only bcd2 is supported, got {tlv.get('length')!r}")
        self.tags: dict[bytes, TagSpec] = {}
        self.by_name: dict[str, TagSpec] = {}
        for tag_hex, spec in (raw.get("tags") or {}).items():
            self._add_tag(str(tag_hex), spec, where)
        self.commands: dict[str, CommandSpec] = {}
        self.by_code: dict[str, CommandSpec] = {}
        for name, spec in (raw.get("commands") or {}).items():
            self._add_command(str(name), spec, where)
        self.result_map: dict[str, str] = {str(k): str(v) for k, v in (raw.get("result") or {}).items()}
        for name in self.result_map:
            if name not in self.by_name:
                raise EcrError(f"{where}: result: {name!r} is not a tag")
        self.errors: dict[str, str] = {str(k): str(v) for k, v in (raw.get("errors") or {}).items()}
        for needed in ("command", "result_code"):
            if needed not in self.by_name:
                raise EcrError(f"{where}: tags: a tag named {needed!r} is required")
        item = cs.Struct("tag" / cs.Bytes(self.tag_bytes), "length" / _bcd_length(2),
                         "value" / cs.Bytes(cs.this.length))
        self._codec = cs.Struct("items" / cs.GreedyRange(item), cs.Terminated)

    def _add_tag(self, tag_hex: str, spec: Mapping[str, Any], where: str) -> None:
        try:
            tag = bytes.fromhex(tag_hex)
        except ValueError:
            raise EcrError(f"{where}: tag {tag_hex!r} is not hex") from None
        if len(tag) != self.tag_bytes:
            raise EcrError(f"{where}: tag {tag_hex}: expected {self.tag_bytes} bytes")
        kind = spec.get("type")
        if kind not in VALUE_TYPES:
            raise EcrError(f"{where}: tag {tag_hex}: type must be one of {', '.join(VALUE_TYPES)}, got {kind!r}")
        if kind == "bcd" and not spec.get("length"):
            raise EcrError(f"{where}: tag {tag_hex}: a bcd value needs a fixed length (bytes)")
        ts = TagSpec(tag, str(spec["name"]), kind, spec.get("length"), spec.get("max"),
                     bool(spec.get("simulated", False)))
        if ts.name in self.by_name:
            raise EcrError(f"{where}: tag name {ts.name!r} is used twice")
        self.tags[tag] = ts
        self.by_name[ts.name] = ts

    def _add_command(self, name: str, spec: Mapping[str, Any], where: str) -> None:
        cmd = CommandSpec(name, str(spec["code"]), str(spec["function"]),
                          {str(k): str(v) for k, v in (spec.get("params") or {}).items()},
                          str(spec.get("card", "none")))
        if cmd.card not in CARD_MODES:
            raise EcrError(f"{where}: command {name}: card must be one of {', '.join(CARD_MODES)}")
        for tag_name in cmd.params:
            if tag_name not in self.by_name:
                raise EcrError(f"{where}: command {name}: parameter tag {tag_name!r} is not defined")
        if cmd.code in self.by_code:
            raise EcrError(f"{where}: command code {cmd.code} is used twice")
        self.commands[name] = cmd
        self.by_code[cmd.code] = cmd

    # --- values -----------------------------------------------------------

    def _encode_value(self, spec: TagSpec, value: Any) -> bytes:
        if spec.type == "bcd":
            assert spec.length is not None
            digits = str(int(value)).rjust(spec.length * 2, "0")
            if len(digits) > spec.length * 2 or int(value) < 0:
                raise EcrError(f"tag {spec.name}: {value} does not fit {spec.length * 2} BCD digits")
            return bytes.fromhex(digits)
        if spec.type == "b":
            return bytes(value) if isinstance(value, (bytes, bytearray)) else bytes.fromhex(str(value))
        text = str(int(value)) if isinstance(value, bool) else str(value)
        if spec.type == "n" and not text.isdigit():
            raise EcrError(f"tag {spec.name}: expected digits")
        if spec.type == "n" and spec.length:
            text = text.rjust(spec.length, "0")
        raw = text.encode(TEXT_ENCODING)
        self._check_size(spec, len(text))
        return raw

    def _decode_value(self, spec: TagSpec, raw: bytes) -> Any:
        if spec.type == "bcd":
            if spec.length is not None and len(raw) != spec.length:
                raise EcrError(f"tag {spec.name}: expected {spec.length} BCD bytes, got {len(raw)}")
            digits = raw.hex()
            if not digits.isdigit():
                raise EcrError(f"tag {spec.name}: {raw.hex().upper()} is not BCD")
            return int(digits)
        if spec.type == "b":
            return raw.hex().upper()
        try:
            text = raw.decode(TEXT_ENCODING)
        except UnicodeDecodeError:
            raise EcrError(f"tag {spec.name}: not {TEXT_ENCODING} text") from None
        if spec.type == "n" and not text.isdigit():
            raise EcrError(f"tag {spec.name}: expected digits")
        self._check_size(spec, len(text))
        return text

    @staticmethod
    def _check_size(spec: TagSpec, size: int) -> None:
        if spec.length is not None and size != spec.length:
            raise EcrError(f"tag {spec.name}: expected {spec.length} characters, got {size}")
        if spec.max is not None and size > spec.max:
            raise EcrError(f"tag {spec.name}: at most {spec.max} characters, got {size}")

    # --- messages ---------------------------------------------------------

    def encode(self, values: Mapping[str, Any]) -> bytes:
        """Tag name -> value (None values are left out), in the order given."""
        items = []
        for name, value in values.items():
            if value is None:
                continue
            spec = self.by_name.get(name)
            if spec is None:
                raise EcrError(f"{self.name}: no tag named {name!r}")
            raw = self._encode_value(spec, value)
            items.append({"tag": spec.tag, "length": len(raw), "value": raw})
        try:
            return self._codec.build({"items": items})
        except cs.ConstructError as exc:
            raise EcrError(f"{self.name}: cannot encode: {exc}") from None

    def decode(self, data: bytes) -> dict[str, Any]:
        """Tag name -> value; a tag this file does not know is kept under its hex tag, value as hex."""
        try:
            parsed = self._codec.parse(data)
        except cs.ConstructError as exc:
            raise EcrError(f"{self.name}: malformed TLV data: {str(exc).splitlines()[-1]}") from None
        out: dict[str, Any] = {}
        for item in parsed["items"]:
            spec = self.tags.get(item["tag"])
            if spec is None:
                out[item["tag"].hex().upper()] = item["value"].hex().upper()
            else:
                out[spec.name] = self._decode_value(spec, item["value"])
        return out

    def describe(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values with simulated card data (track 2, PAN, PIN) hidden: for logs and displays."""
        from possim.iso8583.masking import mask_pan, mask_secret

        out = dict(values)
        for name in ("card_track2", "pin"):
            if isinstance(out.get(name), str):
                out[name] = mask_secret(out[name])
        if isinstance(out.get("card_pan"), str):
            out["card_pan"] = mask_pan(out["card_pan"])
        return out


def protocol_files() -> dict[str, Path]:
    """ECR protocol name -> file; a file ``possim.yaml`` in an ``ecr`` folder is named ``ecr-possim``."""
    return shared_files.files_in("ecr", prefix="ecr-")


@lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> EcrProtocol:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EcrError(f"ECR protocol {path}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise EcrError(f"ECR protocol {path}: not valid YAML") from None
    try:
        return EcrProtocol(raw, source=path)
    except (KeyError, TypeError, ValueError) as exc:
        raise EcrError(f"ECR protocol {path}: bad entry ({exc})") from None


def get_protocol(name: str = DEFAULT) -> EcrProtocol:
    """An ECR protocol by name (``ecr-possim``) or by file path (a vendor's protocol file)."""
    path = shared_files.resolve(name, protocol_files(), "ECR protocol", EcrError)
    return _load(str(path.resolve()), path.stat().st_mtime)