"""Terminal steps through a terminal's ECR port, with possim playing the host that terminal calls.

This is how one scenario file checks possim's simulated terminal and a real
terminal on a serial port alike: the harness is the cash register on one side
(``--terminal URL``) and the acquirer on the other (``--host-listen URL``,
where the terminal is configured to connect). The terminal must be set up
with the TID, MID and master key of the scenario's first terminal.

An ECR result carries less than a simulated terminal's Result (no batch
upload count, for instance); expectations on what the ECR link does not
carry read as absent.
"""

from __future__ import annotations

from typing import Any, Mapping

from possim.errors import PossimError
from possim.scenario.catalogue import TERMINAL
from possim.scenario.driver import StepFailed, Unsupported
from possim.scenario.drivers import WireDriver
from possim.scenario.model import Scenario, Step
from possim.scenario.outcome import Observation
from possim.scenario.world import card_from_arg, cards, default_terminal

# scenario step -> ECR command name in the protocol file (ecr-possim), and step argument -> ECR tag name
COMMANDS: dict[str, tuple[str, dict[str, str]]] = {
    "sign_in": ("sign_in", {}),
    "sign_off": ("sign_off", {}),
    "purchase": ("sale", {"amount": "amount"}),
    "void": ("void", {"voucher": "voucher_no"}),
    "refund": ("refund", {"amount": "amount", "rrn": "rrn", "date": "original_date"}),
    "balance": ("balance", {}),
    "settle": ("settle", {}),
    "print": ("reprint", {}),
    "query": ("query", {"voucher": "voucher_no"}),
    "status": ("status", {}),
    "send_reversals": ("reversal", {}),
    "return_apply": ("return_apply", {"reason": "reason", "contact": "contact",
                                      "identity_proof": "identity_proof_ref", "purchase_proof": "purchase_proof_ref"}),
    "return_status": ("return_status", {"case": "case_id"}),
    "appeal": ("return_appeal", {"statement": "statement", "case": "case_id"}),
    "confirm_refund": ("refund_confirm", {"case": "case_id"}),
    "withdraw": ("return_withdraw", {"case": "case_id"}),
    "unbind": ("unbind", {"case": "case_id"}),
    "deregister": ("deregister", {"case": "case_id"}),
}
# ECR result tag -> the name a scenario step observes (as for the simulated terminal's Result)
RESULT_NAMES = {"result_code": "code", "message": "message", "detail": "detail", "amount": "amount_fen",
                "voucher_no": "stan", "batch_no": "batch", "rrn": "rrn", "auth_code": "auth_code",
                "masked_pan": "masked_pan", "host_date": "host_date", "host_time": "host_time",
                "balance": "balance_fen", "receipt_text": "receipt"}
DATA_NAMES = {"case_id": "case_id", "case_state": "case_state", "decision_reasons": "decision_reasons",
              "advice": "advice", "refund_amount": "refund_fen", "refund_due": "refund_due",
              "terminal_status": "status", "next_batch_no": "next_batch", "settlement": "settlement"}
NUMBERS = ("amount", "balance", "refund_amount")
COMMAND_TIMEOUT = 120.0


def reply_observation(values: Mapping[str, Any]) -> Observation:
    obs: Observation = {"data": {}}
    for tag, value in values.items():
        if tag in NUMBERS and value is not None and str(value).isdigit():
            value = int(str(value))
        if tag in RESULT_NAMES:
            obs[RESULT_NAMES[tag]] = value
        elif tag in DATA_NAMES:
            obs["data"][DATA_NAMES[tag]] = value
        elif tag == "local":
            obs["local"] = str(value) == "1"
    obs["approved"] = obs.get("code") == "00"
    obs.setdefault("local", False)
    return obs


class EcrDriver(WireDriver):
    """Terminal steps through the ECR port at ``terminal_url``; possim's host listens at ``host_listen``."""

    name = "ECR"
    has_host = True

    def unsupported(self, scenario: Scenario, step: Step) -> str | None:
        if step.kind.kind == TERMINAL and step.action not in COMMANDS:
            return f"the ECR link has no command for {step.action}"
        attached = default_terminal(scenario)
        if step.kind.kind == TERMINAL and step.terminal is not None and step.terminal != attached:
            return f"the ECR port drives one terminal ({attached}), not {step.terminal}"
        return super().unsupported(scenario, step)

    def __init__(self, terminal_url: str, host_listen: str, *, protocol: str = "ecr-possim",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.terminal_url = terminal_url
        self.host_listen = host_listen
        self.protocol = protocol
        self.host: Any = None
        self.client: Any = None
        self.cards: dict[str, Any] = {}

    async def start(self, scenario: Scenario) -> None:
        from possim.scenario.hostside import HostSide
        from possim.terminal.ecr.client import EcrClient

        self.scenario = scenario
        self.default_tid = default_terminal(scenario)
        self.cards = cards(scenario)
        self.host = HostSide(scenario, self.workdir, self.bus, self.dialect, listen_url=self.host_listen)
        await self.host.start()
        self.relay = self.host.relay
        self.raw = self._raw_client(self.host.url, self._host_keys)
        self.client = await EcrClient.open(self.terminal_url, self.protocol)

    def _host_keys(self, tid: str) -> tuple[str, bytes] | None:
        from possim.host.keys import KeySessions

        session = KeySessions(self.host.conn, self.host.config, lambda n: bytes(n)).get(tid)
        return (session.mac_algorithm, session.mak) if session is not None else None

    async def terminal_step(self, step: Step, args: dict[str, Any]) -> Observation:
        if step.terminal is not None and step.terminal != self.default_tid:
            raise Unsupported(f"the ECR port drives one terminal ({self.default_tid}), not {step.terminal}")
        if step.action not in COMMANDS:
            raise Unsupported(f"the ECR link has no command for {step.action}")
        command, names = COMMANDS[step.action]
        params: dict[str, Any] = {}
        for arg, tag in names.items():
            if args.get(arg) not in (None, ""):
                params[tag] = int(args[arg]) if tag == "amount" else str(args[arg])
        if "card" in args:
            spec = card_from_arg(args["card"], self.cards, "card")
            if spec.track2:
                params["card_track2"] = spec.track2
            else:
                params["card_pan"], params["card_expiry"] = spec.pan, spec.expiry
        if args.get("pin") not in (None, ""):
            params["pin"] = str(args["pin"])
        try:
            reply = await self.client.call(command, timeout=COMMAND_TIMEOUT, **params)
        except TimeoutError:
            raise StepFailed(f"the terminal at {self.terminal_url} gave no result for {command} "
                             f"within {COMMAND_TIMEOUT:g} s") from None
        except PossimError as exc:
            raise StepFailed(f"ECR {command}: {exc}") from None
        return reply_observation(reply.values)

    async def backoffice_step(self, step: Step, args: dict[str, Any]) -> Observation:
        return self.host.perform(step, args, self.default_tid)

    async def close(self) -> None:
        try:
            if self.client is not None:
                await self.client.close()
            if self.host is not None:
                self.host.relay = None
                await self.host.close()
        finally:
            await super().close()
