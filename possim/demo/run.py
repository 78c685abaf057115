"""Running the demo scenario with live progress, receipts and a summary.

The scenario runner owns the verdict (every step's expectations); this module
watches each step through a thin wrapper around the in-process driver and
writes what a person should see. ``bus`` lets the TUI watch the same run.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, TextIO

from possim.iso8583 import get_dialect
from possim.scenario.api import load_paths
from possim.scenario.drivers import InProcessDriver
from possim.scenario.model import Scenario, Step
from possim.scenario.outcome import Observation
from possim.scenario.report import result_text
from possim.scenario.runner import Runner, ScenarioResult
from possim.demo.progress import NAMES, Tally, outcome
from possim.traffic import TrafficBus

SCENARIO = "merchant_life.yaml"


def scenario_path() -> Path:
    return Path(str(resources.files("possim.demo") / SCENARIO))


def load_demo() -> Scenario:
    return load_paths([scenario_path()])[0]


class WatchedDriver(InProcessDriver):
    """The in-process driver, reporting each step's observation as it happens."""

    def __init__(self, on_step: Callable[[Step, Observation], None], bus: TrafficBus | None = None,
                 workdir: Path | None = None) -> None:
        super().__init__(workdir=workdir)
        if bus is not None:  # share the caller's bus (the TUI reads it); keep the driver's own reader on it
            self.bus = bus
            self._sub = bus.subscribe(maxsize=10_000)
        self._on_step = on_step

    async def perform(self, step: Step, args: dict[str, Any]) -> Observation:
        obs = await super().perform(step, args)
        self._on_step(step, obs)
        return obs


@dataclass
class DemoOutcome:
    result: ScenarioResult
    tally: Tally

    @property
    def ok(self) -> bool:
        return self.result.status == "PASS"


class Pace:
    """The pause between steps, which a watcher can cut short (quitting the TUI ends the pauses)."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self._stop = threading.Event()

    def wait(self) -> None:
        if self.seconds > 0:
            self._stop.wait(self.seconds)

    def stop(self) -> None:
        self._stop.set()


def run_demo(out: TextIO, *, unmask: bool = False, bus: TrafficBus | None = None,
             pace: Pace | None = None, workdir: Path | None = None) -> DemoOutcome:
    """Run the demo, writing the live log, the receipts and the summary to ``out``."""
    scenario = load_demo()
    dialect = get_dialect("cup-pos")
    tally = Tally()
    counter = [0]
    started = time.monotonic()

    def on_step(step: Step, obs: Observation) -> None:
        counter[0] += 1
        label = step.label
        tally.add(step.action, label, obs)
        kind = NAMES.get(step.action, step.action)
        print(f"{counter[0]:>3}  {time.monotonic() - started:6.2f}s  {kind:<18} {label}", file=out)
        shown = outcome(step.action, obs, dialect.response_text)
        if shown:
            print(f"{'':>14}-> {shown}", file=out)
        out.flush()
        if pace is not None:
            pace.wait()

    print(f"possim demo: {scenario.name}", file=out)
    print("host and terminal in-process over loopback TCP, SQLite files in a temporary folder\n", file=out)
    runner = Runner(lambda _s: WatchedDriver(on_step, bus, workdir), unmask=unmask)
    result = runner.run(scenario)
    if tally.receipts:
        print("\nreceipts printed (plain-text rendering of the ESC/POS slips):", file=out)
        for label, text in tally.receipts:
            print(f"\n--- {label} ---\n{text}", file=out)
    print("\nsummary", file=out)
    for line in tally.table():
        print(line, file=out)
    if result.status == "PASS":
        print(f"\nevery step behaved as expected ({counter[0]} steps, {result.duration:.2f}s)", file=out)
    else:
        print(f"\nthe demo did not go as expected: {result.status}", file=out)
        text = result_text(result)
        if text:
            print(text, file=out)
    out.flush()
    return DemoOutcome(result, tally)
