"""The seam between the runner and whatever plays the terminal and the host.

A driver carries out one step and reports what it observed; it never decides
pass or fail. Three drivers exist: in-process (possim plays both ends over
loopback TCP), a host URL (raw messages and the simulated terminal against a
host possim does not run) and a terminal's ECR port (possim plays the host
that terminal calls). A step a driver cannot carry out raises
:class:`Unsupported`, and the scenario is reported as skipped with the reason.
"""

from __future__ import annotations

import abc
from typing import Any

from possim.errors import PossimError
from possim.scenario.model import Scenario, Step
from possim.scenario.outcome import Observation


class Unsupported(PossimError):
    """This driver cannot carry out that step (e.g. a back-office step against a host possim does not run)."""


class StepFailed(PossimError):
    """The step could not be carried out at all (not a mismatch: e.g. the terminal never answered)."""


class Driver(abc.ABC):
    name = "driver"

    @abc.abstractmethod
    async def start(self, scenario: Scenario) -> None:
        """Bring up what the scenario's set-up describes."""

    @abc.abstractmethod
    async def perform(self, step: Step, args: dict[str, Any]) -> Observation:
        """Carry out one step (arguments already resolved) and return what was observed."""

    def unsupported(self, scenario: Scenario, step: Step) -> str | None:
        """Why this driver cannot carry out ``step`` (None if it can): checked for every step before
        anything starts, so a scenario that cannot run completely does not run partly."""
        return None

    def traffic(self, last: int = 12, unmask: bool = False) -> list[str]:
        """The last frames seen, one decoded, masked line each (for failure reports)."""
        return []

    def mark(self) -> None:
        """Start of a step: frames seen from now on belong to it."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop everything started; safe to call after a failed start."""
