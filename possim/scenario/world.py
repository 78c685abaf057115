"""A scenario's ``setup:`` turned into what each party needs: host config, terminal configs, cards, clock.

One block describes the world once -- merchants, terminals with their master
keys, cards with their PINs and balances -- and each party gets its part: the
host learns every merchant, terminal and card account; each simulated
terminal learns its own TID, MID and TMK; the steps learn the cards by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Mapping

from possim.errors import PossimError
from possim.host.clock import HOST_TZ
from possim.scenario.model import (
    CARD_KEYS,
    HOST_KEYS,
    Scenario,
    TERMINAL_HOST_KEYS,
    TERMINAL_SIM_KEYS,
)
from possim.scenario.yamlsource import LineDict, ScenarioError

DEFAULT_CLOCK = datetime(2025, 3, 3, 10, 0, 0, tzinfo=HOST_TZ)
HOST_CARD_KEYS = ("pan", "pin", "expiry", "balance_fen", "status", "limit_fen", "kind", "pin_required")
DEFAULT_SERVICE_CODE = "1010000000"  # track 2 after the expiry: service code 101 + discretionary data


@dataclass(frozen=True)
class CardSpec:
    name: str
    pan: str
    expiry: str
    pin: str | None
    entry: str            # swipe | manual
    track2: str | None

    def __repr__(self) -> str:
        return f"CardSpec(name={self.name!r}, pan=...{self.pan[-4:]})"


def clock_start(setup: LineDict) -> datetime:
    value = setup.get("clock", DEFAULT_CLOCK)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ScenarioError(f"{setup.where('clock')}: clock: {value!r} is not an ISO date-time") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(10, 0))
    if not isinstance(value, datetime):
        raise ScenarioError(f"{setup.where('clock')}: clock: expected a date-time such as 2025-03-03T10:00:00+08:00")
    return value if value.tzinfo is not None else value.replace(tzinfo=HOST_TZ)


def _items(setup: LineDict, what: str) -> list[LineDict]:
    return list(setup.get(what) or [])


def host_mapping(setup: LineDict) -> dict[str, Any]:
    """The possim host configuration (docs/host.md keys) for this set-up."""
    host = dict(setup.get("host") or {})
    out: dict[str, Any] = {k: host[k] for k in HOST_KEYS if k in host and k != "policy"}
    if "policy" in host:
        out["return_policy"] = host["policy"]
    out["merchants"] = [dict(m) for m in _items(setup, "merchants")]
    out["terminals"] = [{k: v for k, v in t.items() if k in TERMINAL_HOST_KEYS}
                        for t in _items(setup, "terminals")]
    out["cards"] = [{k: v for k, v in c.items() if k in HOST_CARD_KEYS} for c in _items(setup, "cards")]
    return _plain(out)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def host_config(scenario: Scenario) -> Any:
    from possim.host.config import ConfigError, config_from_mapping

    setup = scenario.setup
    try:
        return config_from_mapping(host_mapping(setup), scenario.path.resolve().parent, scenario.source)
    except ConfigError as exc:
        raise ScenarioError(f"{setup.where()}: setup: {exc}") from None


def terminal_settings(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Per TID, the simulated terminal's own configuration (possim.terminal.config keys)."""
    setup = scenario.setup
    merchants = {str(m["mid"]): m for m in _items(setup, "merchants")}
    out: dict[str, dict[str, Any]] = {}
    for t in _items(setup, "terminals"):
        tid = str(t["tid"])
        mid = str(t.get("mid", "")) if t.get("mid") is not None else ""
        merchant = merchants.get(mid)
        values: dict[str, Any] = {"tid": tid, "mid": mid or "000000000000000", "tmk": str(t["tmk"]),
                                  "merchant_name": str(t.get("merchant_name") or
                                                       (merchant or {}).get("name") or "possim merchant")}
        if "mac_algorithm" in t:
            values["mac_alg"] = t["mac_algorithm"]
        for key in TERMINAL_SIM_KEYS:
            if key in t and key != "merchant_name":
                values[key] = t[key]
        out[tid] = values
    return out


def default_terminal(scenario: Scenario) -> str | None:
    terminals = _items(scenario.setup, "terminals")
    return str(terminals[0]["tid"]) if terminals else None


def cards(scenario: Scenario) -> dict[str, CardSpec]:
    out: dict[str, CardSpec] = {}
    for c in _items(scenario.setup, "cards"):
        entry = str(c.get("entry", "swipe"))
        if entry not in ("swipe", "manual"):
            raise ScenarioError(f"{c.where('entry')}: entry: expected swipe or manual, got {entry!r}")
        pan, expiry = str(c["pan"]), str(c.get("expiry", "3012"))
        track2 = str(c["track2"]) if "track2" in c else (f"{pan}={expiry}{DEFAULT_SERVICE_CODE}"
                                                         if entry == "swipe" else None)
        pin = c.get("pin")
        out[str(c["name"])] = CardSpec(str(c["name"]), pan, expiry, None if pin is None else str(pin), entry,
                                       track2)
    return out


def card_from_arg(value: Any, known: Mapping[str, CardSpec], where: str) -> CardSpec:
    """A step's ``card:`` -- a card name from the set-up, or an inline {pan, expiry[, entry]} mapping."""
    if isinstance(value, str):
        if value not in known:
            raise PossimError(f"card {value!r} is not in setup.cards (known: {', '.join(sorted(known)) or 'none'})")
        return known[value]
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - set(CARD_KEYS))
        if unknown or "pan" not in value:
            raise PossimError(f"card: an inline card needs pan (and may have {', '.join(CARD_KEYS)})")
        pan, expiry = str(value["pan"]), str(value.get("expiry", "3012"))
        entry = str(value.get("entry", "swipe"))
        track2 = str(value["track2"]) if "track2" in value else (f"{pan}={expiry}{DEFAULT_SERVICE_CODE}"
                                                                 if entry == "swipe" else None)
        pin = value.get("pin")
        return CardSpec("inline", pan, expiry, None if pin is None else str(pin), entry, track2)
    raise PossimError(f"card: expected a card name or a mapping, got {value!r}")
