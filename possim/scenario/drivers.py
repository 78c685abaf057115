"""The drivers: in-process (the default), against a host URL, and through a terminal's ECR port.

All three put a :class:`~possim.scenario.relay.Relay` between terminal and
host and read its traffic bus, so every step -- whoever plays the terminal
-- can be checked on the wire (``sent``, ``request``, ``response``) and a
failure report shows the frames around it.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from possim.errors import PossimError
from possim.iso8583 import get_dialect
from possim.scenario.catalogue import BACKOFFICE, RAW, TERMINAL
from possim.scenario.driver import Driver, Unsupported
from possim.scenario.model import Scenario, Step
from possim.scenario.outcome import Observation
from possim.scenario.rawclient import RawClient
from possim.scenario.relay import Relay, mask_line
from possim.scenario.world import cards, default_terminal, terminal_settings
from possim.security.keys import parse_hex_key
from possim.traffic import TrafficBus, TrafficEvent


def wire_observation(events: list[TrafficEvent], action: str) -> Observation:
    """``sent`` (request MTIs in order), and the step's own request and its response."""
    requests = [e for e in events if e.direction == "out" and e.message is not None]
    obs: Observation = {"sent": " ".join(e.message.mti for e in requests)}
    own = [e for e in requests if not e.message.mti.startswith("04")] or requests
    if action == "send_reversals":
        own = requests
    if own:
        first = own[0]
        obs["request"] = first.message
        after = events[events.index(first) + 1:]
        answer = next((e for e in after if e.direction == "in" and e.message is not None), None)
        obs["response"] = answer.message if answer is not None else None
    return obs


class WireDriver(Driver):
    """What every driver shares: the work directory, the bus, the relay, raw steps."""

    def __init__(self, *, dialect: str = "cup-pos", workdir: Path | None = None) -> None:
        self.dialect = get_dialect(dialect)
        self.bus = TrafficBus()
        self._sub = self.bus.subscribe(maxsize=10_000)
        self._history: list[TrafficEvent] = []
        self._step_start = 0
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="possim-scenario-"))
        self.relay: Relay | None = None
        self.raw: RawClient | None = None
        self.scenario: Scenario | None = None
        self.default_tid: str | None = None

    # --- traffic ----------------------------------------------------------------------------------

    def _pull(self) -> None:
        self._history.extend(self._sub.drain())

    def mark(self) -> None:
        self._pull()
        self._step_start = len(self._history)

    def step_events(self) -> list[TrafficEvent]:
        self._pull()
        return self._history[self._step_start:]

    def traffic(self, last: int = 12, unmask: bool = False) -> list[str]:
        self._pull()
        return [mask_line(e, unmask) for e in self._history[-last:]]

    # --- shared set-up ----------------------------------------------------------------------------

    def _raw_client(self, url: str, host_keys: Any = None) -> RawClient:
        assert self.scenario is not None
        settings = terminal_settings(self.scenario)
        tmks = {tid: parse_hex_key(str(s["tmk"]), f"setup.terminals {tid} tmk") for tid, s in settings.items()}
        algs = {tid: str(s.get("mac_alg", "cup-ecb")) for tid, s in settings.items()}
        defaults = {tid: {"41": tid, "42": str(s["mid"])} for tid, s in settings.items()}
        return RawClient(url, self.dialect, tmks=tmks, mac_algorithms=algs, terminal_defaults=defaults,
                         host_keys=host_keys)

    def tid_for(self, step: Step) -> str | None:
        return step.terminal or self.default_tid

    async def perform(self, step: Step, args: dict[str, Any]) -> Observation:
        kind = step.kind.kind
        if kind == RAW:
            assert self.raw is not None
            return await self.raw.send(args, self.tid_for(step))
        if kind == TERMINAL:
            obs = await self.terminal_step(step, args)
            wire = wire_observation(self.step_events(), step.action)
            for key, value in wire.items():
                obs.setdefault(key, value)
            return obs
        if kind == BACKOFFICE and step.action == "link_fault" and self.relay is not None:
            self.relay.faults.drop_responses += int(args.get("drop_responses", 0))
            self.relay.faults.corrupt_mac += int(args.get("corrupt_mac", 0))
            return {"armed": self.relay.faults.armed}
        return await self.backoffice_step(step, args)

    has_host = False  # a host possim runs, with its back office

    def unsupported(self, scenario: Scenario, step: Step) -> str | None:
        if step.kind.kind == BACKOFFICE and step.action != "link_fault" and not self.has_host:
            return f"back-office step {step.action!r} needs a host possim runs; {self.name} has none"
        return None

    async def terminal_step(self, step: Step, args: dict[str, Any]) -> Observation:
        raise Unsupported(f"{self.name} cannot carry out terminal steps")

    async def backoffice_step(self, step: Step, args: dict[str, Any]) -> Observation:
        raise Unsupported(f"back-office step {step.action!r} needs a host possim runs; {self.name} has none")

    async def close(self) -> None:
        if self.raw is not None:
            await self.raw.close()
        if self.relay is not None:
            await self.relay.close()
        self._sub.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


class InProcessDriver(WireDriver):
    """possim plays both ends: its host and its simulated terminals, over loopback TCP."""

    name = "in-process"
    has_host = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host: Any = None
        self.terminals: Any = None

    async def start(self, scenario: Scenario) -> None:
        from possim.scenario.hostside import HostSide
        from possim.scenario.simterminal import SimTerminals

        self.scenario = scenario
        self.default_tid = default_terminal(scenario)
        self.host = HostSide(scenario, self.workdir, self.bus, self.dialect)
        url = await self.host.start()
        self.relay = self.host.relay
        self.raw = self._raw_client(url, self._host_keys)
        clock = self.host.clock
        self.terminals = SimTerminals(terminal_settings(scenario), url, self.workdir,
                                      lambda: clock.now().replace(tzinfo=None), cards(scenario))
        await self.terminals.start()

    def _host_keys(self, tid: str) -> tuple[str, bytes] | None:
        from possim.host.keys import KeySessions

        session = KeySessions(self.host.conn, self.host.config, lambda n: bytes(n)).get(tid)
        return (session.mac_algorithm, session.mak) if session is not None else None

    async def terminal_step(self, step: Step, args: dict[str, Any]) -> Observation:
        tid = self.tid_for(step)
        if tid is None:
            raise PossimError("the set-up has no terminal")
        return await self.terminals.perform(tid, step.action, args)

    async def backoffice_step(self, step: Step, args: dict[str, Any]) -> Observation:
        return self.host.perform(step, args, self.tid_for(step))

    async def close(self) -> None:
        try:
            if self.terminals is not None:
                await self.terminals.close()
            if self.host is not None:
                self.host.relay = None  # closed below, once
                await self.host.close()
        finally:
            await super().close()


class HostUrlDriver(WireDriver):
    """Raw messages and possim's simulated terminal against a host possim does not run."""

    name = "host URL"

    def __init__(self, host_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host_url = host_url
        self.terminals: Any = None

    async def start(self, scenario: Scenario) -> None:
        from possim.scenario.simterminal import SimTerminals

        self.scenario = scenario
        self.default_tid = default_terminal(scenario)
        self.relay = Relay("tcp://127.0.0.1:0", self.host_url, self.bus, self.dialect)
        url = await self.relay.start()
        self.raw = self._raw_client(url)
        self.terminals = SimTerminals(terminal_settings(scenario), url, self.workdir, datetime.now, cards(scenario))
        await self.terminals.start()

    async def terminal_step(self, step: Step, args: dict[str, Any]) -> Observation:
        tid = self.tid_for(step)
        if tid is None:
            raise PossimError("the set-up has no terminal")
        return await self.terminals.perform(tid, step.action, args)

    async def close(self) -> None:
        try:
            if self.terminals is not None:
                await self.terminals.close()
        finally:
            await super().close()
