"""What a terminal is told at installation: who it is, whose it is, and how it talks.

A real terminal gets these from the acquirer's installer (TID, MID, merchant
name, the master key injected in a key-loading device); possim reads them from
a YAML file so a scenario can set up any terminal. Everything that changes
while the terminal works (STAN, batch, keys, status) lives in the journal
database instead, so a restart keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from possim.errors import UsageError
from possim.security.keys import parse_hex_key
from possim.security.mac import ALGORITHMS

# The two form factors a merchant is offered, and the roll each prints on.
PROFILES = {"handheld": 32, "desktop": 48}  # receipt columns: 58 mm and 80 mm rolls
KEY_MODES = ("001", "003", "004")


@dataclass(frozen=True)
class TerminalConfig:
    tid: str
    mid: str
    merchant_name: str
    tmk: bytes = field(repr=False)
    dialect: str = "cup-pos"
    profile: str = "handheld"
    key_mode: str = "003"
    mac_alg: str = "cup-ecb"
    tpdu: str = "6005810000"
    header: str = "603100000000"
    operator: str = "001"
    response_timeout: float = 30.0
    currency: str = "156"
    balance_processing_code: str = "310000"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9A-Za-z]{8}", self.tid):
            raise UsageError(f"tid: expected 8 letters or digits (field 41), got {self.tid!r}")
        if not re.fullmatch(r"[0-9A-Za-z]{15}", self.mid):
            raise UsageError(f"mid: expected 15 letters or digits (field 42), got {self.mid!r}")
        if not self.merchant_name.strip():
            raise UsageError("merchant_name: must not be empty")
        if len(self.tmk) not in (8, 16, 24):
            raise UsageError(f"tmk: expected 8, 16 or 24 bytes, got {len(self.tmk)}")
        if self.profile not in PROFILES:
            raise UsageError(f"profile: expected one of {', '.join(PROFILES)}, got {self.profile!r}")
        if self.key_mode not in KEY_MODES:
            raise UsageError(f"key_mode: expected one of {', '.join(KEY_MODES)} (60.3), got {self.key_mode!r}")
        if self.mac_alg not in ALGORITHMS:
            raise UsageError(f"mac_alg: expected one of {', '.join(ALGORITHMS)}, got {self.mac_alg!r}")
        if not re.fullmatch(r"[0-9A-Fa-f]{10}", self.tpdu):
            raise UsageError(f"tpdu: expected 10 hex digits, got {self.tpdu!r}")
        if not re.fullmatch(r"[0-9]{12}", self.header):
            raise UsageError(f"header: expected 12 digits, got {self.header!r}")
        if not re.fullmatch(r"[0-9]{1,3}", self.operator):
            raise UsageError(f"operator: expected 1 to 3 digits, got {self.operator!r}")
        if not self.response_timeout > 0:
            raise UsageError(f"response_timeout: expected seconds > 0, got {self.response_timeout!r}")

    @property
    def receipt_width(self) -> int:
        return PROFILES[self.profile]

    def with_changes(self, **changes: Any) -> "TerminalConfig":
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The settings a user may see: everything but the master key (shown by its check value)."""
        from possim.security.keys import kcv

        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "tmk"}
        out["tmk_kcv"] = kcv(self.tmk).hex().upper()
        return out


_KNOWN = {f.name for f in fields(TerminalConfig)}


def config_from_mapping(raw: Mapping[str, Any], where: str = "config") -> TerminalConfig:
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KNOWN))}")
    missing = [k for k in ("tid", "mid", "merchant_name", "tmk") if raw.get(k) in (None, "")]
    if missing:
        raise UsageError(f"{where}: missing {', '.join(missing)}")
    values = {k: (str(v) if k not in ("response_timeout",) else float(v)) for k, v in raw.items()}
    values["tmk"] = parse_hex_key(str(raw["tmk"]), "tmk")
    try:
        return TerminalConfig(**values)  # type: ignore[arg-type]
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TerminalConfig:
    """Read a terminal's YAML file; ``overrides`` (command-line options) win over the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"--config {path}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise UsageError(f"--config {path}: not valid YAML") from None
    if not isinstance(raw, dict):
        raise UsageError(f"--config {path}: expected a mapping of settings")
    merged = {**raw, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    return config_from_mapping(merged, where=str(path))
