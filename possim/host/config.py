"""The host's configuration file: acquirer, merchants, terminals, cards, policies.

The file seeds the database. Merchants, terminals and card accounts named in
it are created the first time the host sees them; after that the database is
the truth (a terminal unbound through a return case stays unbound, a card's
balance is what the ledger left), so restarting the host with the same file
loses nothing. Every key is documented in docs/host.md; unknown keys are
refused so a typo cannot silently drop a setting.

Secrets (TMKs, PINs) are held here in memory only for as long as the host
runs; ``repr`` never shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from possim.errors import PossimError
from possim.host.fees import FeeError, FeeSchedule, fee_schedules_from_mapping, load_fee_schedules
from possim.host.merchants import BackOfficeError, TerminalState, check_mid, check_tid
from possim.host.policy import PolicyError, ReturnPolicy, load_policy, load_policy_text
from possim.security.keys import LAYOUTS, parse_hex_key
from possim.security.mac import ALGORITHMS

CARD_STATUSES = ("normal", "lost", "stolen", "blocked")
CARD_KINDS = ("debit", "credit", "foreign")
DEFAULT_BALANCE_CODES = ("310000", "300000")


class ConfigError(PossimError):
    """A configuration file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Acquirer:
    institution_id: str = "00000000001"   # field 32, n..11
    name: str = "possim acquirer"
    issuer_id: str = "00000000001"        # first half of field 44


@dataclass(frozen=True)
class Defaults:
    mac_algorithm: str = "cup-ecb"
    key_mode: str = "003"
    mak_length: int | None = None           # 8: a single-length MAK under 003/004, as real hosts send
    refund_window_days: int = 30
    balance_processing_codes: tuple[str, ...] = DEFAULT_BALANCE_CODES
    max_pin_tries: int = 3


@dataclass(frozen=True)
class MerchantConfig:
    mid: str
    name: str
    deposit_fen: int = 0
    deposit_refundable: bool = True
    contract_start: date = date(2024, 1, 1)
    fee_schedule: str = "standard"


@dataclass(frozen=True)
class TerminalConfig:
    tid: str
    mid: str | None
    tmk: bytes = field(repr=False)
    mac_algorithm: str = "cup-ecb"
    state: TerminalState = TerminalState.BOUND
    deposit_paid: bool = True


@dataclass(frozen=True)
class CardConfig:
    pan: str = field(repr=False)
    expiry: str = "3012"                    # YYMM
    balance_fen: int = 0
    status: str = "normal"
    limit_fen: int | None = None            # per transaction
    kind: str = "debit"
    pin: str | None = field(default=None, repr=False)
    pin_required: bool = False              # refuse (55) a request that carries no PIN


@dataclass(frozen=True)
class DefaultCard:
    """How an unknown card is provisioned on first use (what integrators need)."""

    balance_fen: int = 100_000_000
    limit_fen: int | None = None
    kind: str = "debit"
    expiry: str | None = None               # None: take the expiry the terminal sent, else 3012


@dataclass(frozen=True)
class HostConfig:
    acquirer: Acquirer = Acquirer()
    defaults: Defaults = Defaults()
    merchants: tuple[MerchantConfig, ...] = ()
    terminals: tuple[TerminalConfig, ...] = ()
    cards: tuple[CardConfig, ...] = ()
    default_card: DefaultCard | None = None
    return_policy: ReturnPolicy | None = None
    fee_schedules: Mapping[str, FeeSchedule] = field(default_factory=dict)
    source: str = "<defaults>"
    #: SQLite ``synchronous`` for the host's own connection: ``full`` (an answered approval survives a
    #: power cut) or ``normal`` (it survives a kill -9 of the host, not an OS crash). docs/host.md.
    synchronous: str = "full"

    def terminal(self, tid: str) -> TerminalConfig | None:
        for t in self.terminals:
            if t.tid == tid:
                return t
        return None


# --- parsing -------------------------------------------------------------------

_TOP = {"acquirer", "defaults", "merchants", "terminals", "cards", "default_card", "return_policy",
        "fee_schedules", "database"}
SYNCHRONOUS = ("full", "normal")


def _mapping(where: str, value: Any, keys: set[str], required: set[str] = frozenset()) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = sorted(set(map(str, value)) - keys)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})")
    missing = sorted(required - set(value))
    if missing:
        raise ConfigError(f"{where}: key {missing[0]!r} is required")
    return value


def _text(where: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{where}: expected text, got {value!r}")
    return str(value)


def _digits(where: str, value: Any, lengths: tuple[int, ...] | range) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ConfigError(f"{where}: write it in quotes (as a number it would lose leading zeros)")
    text = _text(where, value)
    if not text.isdigit() or len(text) not in lengths:
        raise ConfigError(f"{where}: expected {min(lengths)}..{max(lengths)} digits, got {len(text)} characters"
                          + ("" if text.isdigit() else " (not all digits)"))
    return text


def _fen(where: str, value: Any, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: expected a whole number of fen >= 0, got {value!r}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _choice(where: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{where}: expected one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _expiry(where: str, value: Any) -> str:
    text = _digits(where, value, (4,))
    if not 1 <= int(text[2:]) <= 12:
        raise ConfigError(f"{where}: expected YYMM, month {text[2:]} is not 01..12")
    return text


def _acquirer(data: Any) -> Acquirer:
    m = _mapping("acquirer", data, {"institution_id", "name", "issuer_id"})
    inst = _digits("acquirer.institution_id", m.get("institution_id", Acquirer.institution_id), range(1, 12))
    return Acquirer(institution_id=inst, name=_text("acquirer.name", m.get("name", Acquirer.name)),
                    issuer_id=_digits("acquirer.issuer_id", m.get("issuer_id", inst), range(1, 12)))


def _defaults(data: Any) -> Defaults:
    m = _mapping("defaults", data, {"mac_algorithm", "key_mode", "mak_length", "refund_window_days",
                                    "balance_processing_codes", "max_pin_tries"})
    codes = m.get("balance_processing_codes", list(DEFAULT_BALANCE_CODES))
    if not isinstance(codes, list) or not codes:
        raise ConfigError("defaults.balance_processing_codes: expected a list of 6-digit processing codes")
    mak_length = m.get("mak_length")
    if mak_length not in (None, 8, 16):
        raise ConfigError(f"defaults.mak_length: expected 8 or 16, got {mak_length!r}")
    window = m.get("refund_window_days", Defaults.refund_window_days)
    tries = m.get("max_pin_tries", Defaults.max_pin_tries)
    for name, value in (("refund_window_days", window), ("max_pin_tries", tries)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"defaults.{name}: expected a whole number >= 0, got {value!r}")
    return Defaults(
        mac_algorithm=_choice("defaults.mac_algorithm", m.get("mac_algorithm", "cup-ecb"), tuple(ALGORITHMS)),
        key_mode=_choice("defaults.key_mode", _text("defaults.key_mode", m.get("key_mode", "003")).zfill(3),
                         tuple(LAYOUTS)),
        mak_length=mak_length, refund_window_days=window,
        balance_processing_codes=tuple(_digits(f"defaults.balance_processing_codes[{i}]", c, (6,))
                                       for i, c in enumerate(codes)),
        max_pin_tries=tries)


def _merchant(i: int, data: Any) -> MerchantConfig:
    where = f"merchants[{i}]"
    m = _mapping(where, data, {"mid", "name", "deposit_fen", "deposit_refundable", "contract_start",
                               "fee_schedule"}, {"mid", "name"})
    mid = _text(f"{where}.mid", m["mid"])
    try:
        check_mid(mid)
    except BackOfficeError as exc:
        raise ConfigError(f"{where}.mid: {exc}") from None
    start = m.get("contract_start", MerchantConfig.contract_start)
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise ConfigError(f"{where}.contract_start: {start!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(start, date):
        raise ConfigError(f"{where}.contract_start: expected a date (YYYY-MM-DD), got {start!r}")
    return MerchantConfig(
        mid=mid, name=_text(f"{where}.name", m["name"]),
        deposit_fen=int(_fen(f"{where}.deposit_fen", m.get("deposit_fen", 0)) or 0),
        deposit_refundable=_bool(f"{where}.deposit_refundable", m.get("deposit_refundable", True)),
        contract_start=start, fee_schedule=_text(f"{where}.fee_schedule", m.get("fee_schedule", "standard")))


def _terminal(i: int, data: Any, defaults: Defaults) -> TerminalConfig:
    where = f"terminals[{i}]"
    m = _mapping(where, data, {"tid", "mid", "tmk", "mac_algorithm", "state", "deposit_paid"}, {"tid", "tmk"})
    tid = _text(f"{where}.tid", m["tid"])
    try:
        check_tid(tid)
    except BackOfficeError as exc:
        raise ConfigError(f"{where}.tid: {exc}") from None
    state = TerminalState(_choice(f"{where}.state", m.get("state", "bound"), tuple(s.value for s in TerminalState)))
    mid = m.get("mid")
    if state is not TerminalState.REGISTERED and mid is None:
        raise ConfigError(f"{where}.mid: a terminal in state {state.value} needs a merchant")
    if not isinstance(m["tmk"], str):
        raise ConfigError(f"{where}.tmk: write the key as hex text in quotes")
    try:
        tmk = parse_hex_key(m["tmk"], f"{where}.tmk", (8, 16, 24))
    except PossimError as exc:
        raise ConfigError(str(exc)) from None
    return TerminalConfig(
        tid=tid, mid=None if mid is None else _text(f"{where}.mid", mid), tmk=tmk,
        mac_algorithm=_choice(f"{where}.mac_algorithm", m.get("mac_algorithm", defaults.mac_algorithm),
                              tuple(ALGORITHMS)),
        state=state, deposit_paid=_bool(f"{where}.deposit_paid", m.get("deposit_paid", True)))


def _card(i: int, data: Any) -> CardConfig:
    where = f"cards[{i}]"
    m = _mapping(where, data, {"pan", "pin", "expiry", "balance_fen", "status", "limit_fen", "kind",
                               "pin_required"}, {"pan"})
    pin = m.get("pin")
    if pin is not None:
        pin = _digits(f"{where}.pin", pin, range(4, 13))
    pin_required = _bool(f"{where}.pin_required", m.get("pin_required", False))
    if pin_required and pin is None:
        raise ConfigError(f"{where}.pin_required: the card has no pin")
    return CardConfig(
        pan=_digits(f"{where}.pan", m["pan"], range(12, 20)), pin=pin,
        expiry=_expiry(f"{where}.expiry", m.get("expiry", "3012")),
        balance_fen=int(_fen(f"{where}.balance_fen", m.get("balance_fen", 0)) or 0),
        status=_choice(f"{where}.status", m.get("status", "normal"), CARD_STATUSES),
        limit_fen=_fen(f"{where}.limit_fen", m.get("limit_fen"), optional=True),
        kind=_choice(f"{where}.kind", m.get("kind", "debit"), CARD_KINDS), pin_required=pin_required)


def _default_card(data: Any) -> DefaultCard:
    m = _mapping("default_card", data or {}, {"balance_fen", "limit_fen", "kind", "expiry"})
    expiry = m.get("expiry")
    return DefaultCard(
        balance_fen=int(_fen("default_card.balance_fen", m.get("balance_fen", DefaultCard.balance_fen)) or 0),
        limit_fen=_fen("default_card.limit_fen", m.get("limit_fen"), optional=True),
        kind=_choice("default_card.kind", m.get("kind", "debit"), CARD_KINDS),
        expiry=None if expiry is None else _expiry("default_card.expiry", expiry))


def _policy(value: Any, base: Path) -> ReturnPolicy | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            path = Path(value)
            return load_policy(path if path.is_absolute() else base / path)
        if isinstance(value, Mapping):
            return load_policy_text(yaml.safe_dump(dict(value), allow_unicode=True, sort_keys=True),
                                    "return_policy")
    except PolicyError as exc:
        raise ConfigError(f"return_policy: {exc}") from None
    raise ConfigError("return_policy: expected a mapping of policy keys or a policy file path")


def _fees(value: Any, base: Path) -> dict[str, FeeSchedule]:
    if value is None:
        return {}
    try:
        if isinstance(value, str):
            path = Path(value)
            return load_fee_schedules(path if path.is_absolute() else base / path)
        return fee_schedules_from_mapping(value)
    except FeeError as exc:
        raise ConfigError(f"fee_schedules: {exc}") from None


def _list(where: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list")
    return value


def config_from_mapping(data: Mapping[str, Any] | None, base_dir: Path | str = ".",
                        source: str = "<config>") -> HostConfig:
    data = _mapping("config", data if data is not None else {}, _TOP)
    base = Path(base_dir)
    defaults = _defaults(data.get("defaults") or {})
    merchants = tuple(_merchant(i, m) for i, m in enumerate(_list("merchants", data.get("merchants"))))
    terminals = tuple(_terminal(i, t, defaults) for i, t in enumerate(_list("terminals", data.get("terminals"))))
    cards = tuple(_card(i, c) for i, c in enumerate(_list("cards", data.get("cards"))))
    fees = _fees(data.get("fee_schedules"), base)
    known_mids = {m.mid for m in merchants}
    for i, t in enumerate(terminals):
        if t.mid is not None and t.mid not in known_mids:
            raise ConfigError(f"terminals[{i}].mid: merchant {t.mid} is not in merchants")
    for i, m in enumerate(merchants):
        if fees and m.fee_schedule not in fees:
            raise ConfigError(f"merchants[{i}].fee_schedule: {m.fee_schedule!r} is not in fee_schedules")
    for what, items, key in (("merchants", merchants, "mid"), ("terminals", terminals, "tid"),
                             ("cards", cards, "pan")):
        seen: set[str] = set()
        for i, item in enumerate(items):
            value = getattr(item, key)
            if value in seen:
                shown = value if key != "pan" else f"ending {value[-4:]}"
                raise ConfigError(f"{what}[{i}].{key}: {shown} appears twice")
            seen.add(value)
    return HostConfig(
        acquirer=_acquirer(data.get("acquirer") or {}), defaults=defaults, merchants=merchants,
        terminals=terminals, cards=cards,
        default_card=_default_card(data["default_card"]) if "default_card" in data else None,
        return_policy=_policy(data.get("return_policy"), base), fee_schedules=fees, source=source,
        synchronous=_database(data.get("database") or {}))


def _database(data: Any) -> str:
    m = _mapping("database", data, {"synchronous"})
    return _choice("database.synchronous", m.get("synchronous", "full"), SYNCHRONOUS)


def load_config_text(text: str, base_dir: Path | str = ".", source: str = "<config>") -> HostConfig:
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return config_from_mapping(data, base_dir, source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path) -> HostConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    return load_config_text(text, path.parent, str(path))
