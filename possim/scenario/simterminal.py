"""Terminal steps carried out by possim's simulated terminal, in this process.

Each terminal of the set-up gets its own journal (a real SQLite file in the
run's directory) and its own link to the host; its clock is the scenario's
clock, so the date on a slip moves with ``advance_clock``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from possim.errors import PossimError
from possim.scenario.outcome import Observation
from possim.scenario.world import CardSpec, card_from_arg


def result_observation(result: Any) -> Observation:
    """A terminal Result as a step observes it: its JSON, with the slip under ``receipt``."""
    obs: Observation = dict(result.to_json())
    obs["receipt"] = obs.pop("receipt_text", None)
    obs.setdefault("data", {})
    return obs


def card_of(args: Mapping[str, Any], cards: Mapping[str, CardSpec]) -> Any:
    from possim.terminal.messages import Card

    spec = card_from_arg(args["card"], cards, "card")
    return Card.from_track2(spec.track2) if spec.track2 else Card(spec.pan, spec.expiry)


def pin_of(args: Mapping[str, Any]) -> str | None:
    pin = args.get("pin")
    return None if pin is None else str(pin)


def voucher_of(args: Mapping[str, Any]) -> str:
    return str(args["voucher"])


async def call_terminal(terminal: Any, action: str, args: Mapping[str, Any], cards: Mapping[str, CardSpec]) -> Any:
    """The terminal function for a step (possim.terminal.functions.Terminal's API)."""
    case = None if args.get("case") in (None, "") else str(args["case"])
    if action == "sign_in":
        return await terminal.sign_in()
    if action == "sign_off":
        return await terminal.sign_off()
    if action == "echo":
        return await terminal.echo()
    if action == "purchase":
        return await terminal.purchase(int(args["amount"]), card_of(args, cards), pin_of(args))
    if action == "void":
        card = card_of(args, cards) if "card" in args else None
        return await terminal.void(voucher_of(args), card, pin_of(args))
    if action == "refund":
        return await terminal.refund(int(args["amount"]), card_of(args, cards), str(args["rrn"]),
                                     str(args["date"]).zfill(4), pin_of(args))
    if action == "balance":
        return await terminal.balance(card_of(args, cards), pin_of(args))
    if action == "settle":
        return await terminal.settle()
    if action == "send_reversals":
        return await terminal.send_reversals()
    if action == "print":
        return await terminal.reprint()
    if action == "query":
        return await terminal.query(voucher_of(args))
    if action == "status":
        return await terminal.status()
    if action == "return_apply":
        return await terminal.return_apply(str(args["reason"]), _opt(args, "contact"),
                                           _opt(args, "identity_proof"), _opt(args, "purchase_proof"))
    if action == "return_status":
        return await terminal.return_status(case)
    if action == "appeal":
        return await terminal.return_appeal(str(args["statement"]), case)
    if action == "confirm_refund":
        return await terminal.refund_confirm(case)
    if action == "withdraw":
        return await terminal.return_withdraw(case)
    if action == "unbind":
        return await terminal.unbind(case)
    if action == "deregister":
        return await terminal.deregister(case)
    raise PossimError(f"{action}: not a terminal step")


def _opt(args: Mapping[str, Any], key: str) -> str | None:
    return None if args.get(key) in (None, "") else str(args[key])


class SimTerminals:
    """The set-up's terminals, simulated, each pointed at ``host_url``."""

    def __init__(self, settings: Mapping[str, Mapping[str, Any]], host_url: str, workdir: Path,
                 clock: Callable[[], Any], cards: Mapping[str, CardSpec]) -> None:
        from possim.terminal.config import config_from_mapping
        from possim.terminal.functions import Terminal
        from possim.terminal.hostlink import HostLink
        from possim.terminal.journal import Journal

        self.cards = cards
        self.terminals: dict[str, Any] = {}
        for tid, values in settings.items():
            config = config_from_mapping(values, where=f"setup.terminals {tid}")
            self.terminals[tid] = Terminal(config, Journal(workdir / f"terminal-{tid}.db"),
                                           HostLink(host_url, config_framing(config)), clock=clock)

    async def start(self) -> None:
        for terminal in self.terminals.values():
            await terminal.start()

    def get(self, tid: str) -> Any:
        if tid not in self.terminals:
            raise PossimError(f"terminal {tid!r} is not in setup.terminals (known: {', '.join(self.terminals)})")
        return self.terminals[tid]

    async def perform(self, tid: str, action: str, args: Mapping[str, Any]) -> Observation:
        return result_observation(await call_terminal(self.get(tid), action, args, self.cards))

    async def close(self) -> None:
        for terminal in self.terminals.values():
            await terminal.close()


def config_framing(config: Any) -> str:
    from possim.iso8583 import get_dialect

    return get_dialect(config.dialect).default_framing
