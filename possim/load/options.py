"""The settings a load user reads, from Locust's parsed options (``--possim-*``) or their defaults.

Locust sends the master's custom options to every worker with each spawn
message, so a worker on another machine needs only the locustfile and,
when ``--possim-config`` is used, the same host configuration file.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from possim.load.fleet import Fleet, generated_fleet, load_fleet
from possim.load.mix import DEFAULT_MIX, parse_mix

DEFAULT_TERMINALS = 1000
DEFAULT_TIMEOUT = 10.0
DEFAULT_AMOUNT = (100, 10_000)


@dataclass(frozen=True)
class LoadOptions:
    config: str | None = None
    terminals: int = DEFAULT_TERMINALS
    mix: str = DEFAULT_MIX
    timeout: float = DEFAULT_TIMEOUT
    dialect: str = "cup-pos"
    min_amount_fen: int = DEFAULT_AMOUNT[0]
    max_amount_fen: int = DEFAULT_AMOUNT[1]

    @property
    def weights(self) -> dict[str, int]:
        return parse_mix(self.mix)

    def fleet(self) -> Fleet:
        return _fleet(self.config, self.terminals)


@lru_cache(maxsize=4)
def _fleet(config: str | None, terminals: int) -> Fleet:
    return load_fleet(config) if config else generated_fleet(terminals)


def add_arguments(parser: Any) -> None:
    """Locust's ``init_command_line_parser``: the options as ``locust`` itself shows them."""
    group = parser.add_argument_group("possim", "possim load: each user is one CUP POS terminal")
    group.add_argument("--possim-config", default="", metavar="FILE", env_var="POSSIM_LOAD_CONFIG",
                       help="host configuration the host runs with (terminals, TMKs, test cards); "
                            "default: the terminals of `possim load make-config`")
    group.add_argument("--possim-terminals", type=int, default=DEFAULT_TERMINALS, metavar="N",
                       help="without --possim-config: how many generated terminals (LD000001...) may be used")
    group.add_argument("--possim-mix", default=DEFAULT_MIX, metavar="MIX",
                       help=f"transaction weights (default {DEFAULT_MIX})")
    group.add_argument("--possim-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                       help="seconds to wait for an answer before reversing (default 10)")
    group.add_argument("--possim-dialect", default="cup-pos", metavar="D", help="dialect (default cup-pos)")
    group.add_argument("--possim-summary", default="", metavar="FILE",
                       help="write the final counts as JSON (what `possim load` reads; exact, unlike the CSV)")
    group.add_argument("--possim-amount", default=f"{DEFAULT_AMOUNT[0]}-{DEFAULT_AMOUNT[1]}", metavar="MIN-MAX",
                       help="purchase amounts in fen, drawn uniformly (default 100-10000)")


def from_parsed(parsed: argparse.Namespace | None) -> LoadOptions:
    if parsed is None:
        return LoadOptions()
    low, _, high = str(getattr(parsed, "possim_amount", "") or "").partition("-")
    amounts = (int(low), int(high)) if low.isdigit() and high.isdigit() else DEFAULT_AMOUNT
    return LoadOptions(
        config=getattr(parsed, "possim_config", "") or None,
        terminals=int(getattr(parsed, "possim_terminals", DEFAULT_TERMINALS) or DEFAULT_TERMINALS),
        mix=getattr(parsed, "possim_mix", DEFAULT_MIX) or DEFAULT_MIX,
        timeout=float(getattr(parsed, "possim_timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT),
        dialect=getattr(parsed, "possim_dialect", "cup-pos") or "cup-pos",
        min_amount_fen=max(1, min(amounts)), max_amount_fen=max(amounts))
