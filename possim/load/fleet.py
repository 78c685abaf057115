"""Which terminals and cards a load run may use, read from the host's own configuration.

A load user plays one terminal, so it needs what the acquirer's installer
gave that terminal: TID, MID, merchant name, master key and MAC algorithm.
Reading them from the file the host was started with keeps the two sides in
step without a second list to maintain. The same goes for test cards: a
card the host knows (with its PIN, if any) or, when the host provisions
unknown cards (``default_card``), a card number of the user's own.

:func:`make_config` writes a host configuration with as many terminals as a
load needs; the example configuration has only a handful.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from possim.errors import UsageError
from possim.host.config import HostConfig, load_config
from possim.host.merchants import TerminalState
from possim.terminal.config import TerminalConfig
from possim.terminal.messages import Card

#: TIDs that ``make_config`` gives out: ``LD`` and six digits.
TID_PREFIX = "LD"
LOAD_MID = "898310048129001"
LOAD_MERCHANT = "possim load merchant"
MAX_GENERATED = 999_999


@dataclass(frozen=True)
class LoadTerminal:
    """One terminal a load user may play; ``repr`` hides the master key."""

    tid: str
    mid: str
    merchant_name: str
    tmk: bytes = field(repr=False)
    mac_alg: str
    key_mode: str

    def terminal_config(self, balance_processing_code: str = "310000") -> TerminalConfig:
        """The terminal simulator's configuration, so CupMessages builds this terminal's requests."""
        return TerminalConfig(tid=self.tid, mid=self.mid, merchant_name=self.merchant_name, tmk=self.tmk,
                              key_mode=self.key_mode, mac_alg=self.mac_alg,
                              balance_processing_code=balance_processing_code)


@dataclass(frozen=True)
class LoadCard:
    """A card a load user may present, with its PIN when the host checks one."""

    card: Card
    pin: str | None = field(default=None, repr=False)
    limit_fen: int | None = None


@dataclass(frozen=True)
class Fleet:
    """Terminals and cards of one host configuration, as a load run sees them."""

    terminals: tuple[LoadTerminal, ...]
    cards: tuple[LoadCard, ...]
    provisions_cards: bool
    balance_processing_code: str
    source: str

    def terminal(self, tid: str) -> LoadTerminal:
        for terminal in self.terminals:
            if terminal.tid == tid:
                return terminal
        raise UsageError(f"{self.source}: terminal {tid} is not a bound terminal in this configuration")

    def card_for(self, tid: str, index: int) -> LoadCard:
        """The card the user playing ``tid`` presents on its ``index``-th transaction.

        Configured cards are shared round the fleet; with ``default_card`` and no
        configured card, each terminal has a card number of its own (the host
        creates the account on first use)."""
        if self.cards:
            return self.cards[index % len(self.cards)]
        if self.provisions_cards:
            return LoadCard(Card(provisioned_pan(tid), "3012"))
        raise UsageError(f"{self.source}: no usable test card (add cards, or a default_card block)")


def provisioned_pan(tid: str) -> str:
    """A 19-digit PAN (valid Luhn check digit) that belongs to one terminal's load user."""
    digest = int.from_bytes(hashlib.sha256(tid.encode("ascii")).digest()[:8], "big")
    body = "622299" + f"{digest % 10**12:012d}"
    return body + luhn_digit(body)


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def fleet_from_config(config: HostConfig, today: date | None = None) -> Fleet:
    """Bound terminals with a merchant, and cards that can be approved (normal, not expired)."""
    merchants = {m.mid: m.name for m in config.merchants}
    terminals = tuple(
        LoadTerminal(tid=t.tid, mid=t.mid, merchant_name=merchants.get(t.mid, t.mid), tmk=t.tmk,
                     mac_alg=t.mac_algorithm, key_mode=config.defaults.key_mode)
        for t in config.terminals if t.state is TerminalState.BOUND and t.mid is not None)
    today = today or date.today()
    now_yymm = f"{today:%y%m}"
    cards = tuple(
        LoadCard(Card(c.pan, c.expiry), c.pin, c.limit_fen)
        for c in config.cards
        if c.status == "normal" and c.expiry >= now_yymm and c.kind != "foreign" and c.balance_fen > 0)
    codes = config.defaults.balance_processing_codes
    return Fleet(terminals, cards, config.default_card is not None, codes[0], config.source)


def load_fleet(path: str | Path) -> Fleet:
    return fleet_from_config(load_config(path))


def generated_tid(index: int) -> str:
    return f"{TID_PREFIX}{index:06d}"


def generated_tmk(tid: str) -> str:
    """A test master key per terminal, derived from the TID so a config can be made again identically."""
    return hashlib.sha256(f"possim-load-tmk:{tid}".encode("ascii")).hexdigest()[:32].upper()


def make_config(terminals: int, *, mac_algorithm: str = "cup-ecb") -> str:
    """A host configuration (YAML) with ``terminals`` bound terminals and card auto-provisioning.

    Every card is created on first use with a large balance, so a long run
    does not run out of money (51) where the example's few cards would."""
    if not 1 <= terminals <= MAX_GENERATED:
        raise UsageError(f"--terminals {terminals}: expected 1..{MAX_GENERATED}")
    lines = [
        "# possim host configuration for load runs (possim load make-config); test keys only",
        "acquirer:",
        '  institution_id: "48021000"',
        "  name: possim load acquirer",
        "defaults:",
        f"  mac_algorithm: {mac_algorithm}",
        '  key_mode: "003"',
        "  max_pin_tries: 0",
        "merchants:",
        f'  - {{mid: "{LOAD_MID}", name: {LOAD_MERCHANT}, deposit_fen: 0}}',
        "terminals:",
    ]
    for i in range(1, terminals + 1):
        tid = generated_tid(i)
        lines.append(f'  - {{tid: "{tid}", mid: "{LOAD_MID}", tmk: "{generated_tmk(tid)}"}}')
    lines += ["default_card:", "  balance_fen: 100000000000", ""]
    return "\n".join(lines)


def generated_fleet(terminals: int) -> Fleet:
    """The fleet of ``make_config(terminals)`` without writing and reading the YAML."""
    if not 1 <= terminals <= MAX_GENERATED:
        raise UsageError(f"terminals {terminals}: expected 1..{MAX_GENERATED}")
    return Fleet(
        tuple(LoadTerminal(tid=generated_tid(i), mid=LOAD_MID, merchant_name=LOAD_MERCHANT,
                           tmk=bytes.fromhex(generated_tmk(generated_tid(i))), mac_alg="cup-ecb", key_mode="003")
              for i in range(1, terminals + 1)),
        (), True, "310000", f"possim load make-config --terminals {terminals}")
