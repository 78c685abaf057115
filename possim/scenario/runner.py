"""Run scenarios: one step after another against a driver, until the first failure.

The runner owns the verdict. A step fails when it could not be carried out
(the driver raised), when one of its expectations does not hold, or when a
value it should save is absent; the scenario stops there, because later steps
build on earlier ones (a void needs the sale's voucher number). A scenario
marked ``expect_failure`` that fails is reported XFAIL with its reason; one
that passes is XPASS, a failure: the known bug was fixed, so the mark must go.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from possim.errors import PossimError
from possim.scenario.context import references, substitute
from possim.scenario.driver import Driver, Unsupported
from possim.scenario.matchers import MISSING, parse_matcher
from possim.scenario.model import Expectation, Scenario, Step
from possim.scenario.outcome import Mismatch, Observation, check, resolve, show

PASSED, FAILED, XFAILED, XPASSED, SKIPPED = "PASS", "FAIL", "XFAIL", "XPASS", "SKIP"
HANG_GUARD = 600.0  # seconds; stops a wedged link from hanging CI, never part of a verdict
TRAFFIC_LINES = 12

DriverFactory = Callable[[Scenario], Driver]


@dataclass
class Failure:
    scenario: str
    source: str
    line: int
    step_number: int          # 1-based, after includes are inlined; 0 = set-up
    step_label: str
    action: str
    problem: str
    mismatches: list[Mismatch] = field(default_factory=list)
    observed: list[str] = field(default_factory=list)
    traffic: list[str] = field(default_factory=list)
    included_from: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass
class ScenarioResult:
    scenario: Scenario
    status: str
    duration: float
    failure: Failure | None = None
    reason: str | None = None       # why skipped, or the expect_failure text
    steps_run: int = 0
    saved: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in (PASSED, XFAILED, SKIPPED)


def _observed_summary(obs: Observation, unmask: bool) -> list[str]:
    lines = []
    for key in ("code", "message", "detail", "state", "error", "mti", "sent"):
        if key in obs and obs[key] not in (None, ""):
            lines.append(f"{key}: {show(obs[key], (key,), obs, unmask)}")
    if isinstance(obs.get("data"), dict) and obs["data"]:
        lines.append(f"data: {show(obs['data'], ('data',), obs, unmask)}")
    for key in ("request", "response"):
        if obs.get(key) is not None:
            lines.append(f"{key}: {show(obs[key], (key,), obs, unmask)}")
    return lines


def resolve_expectations(expect: tuple[Expectation, ...], namespaces: dict[str, Any]) -> tuple[Expectation, ...]:
    """Expectations with saved values filled in (``rrn: ${save.sale_rrn}``)."""
    out = []
    for exp in expect:
        if references(exp.raw):
            where = f"{exp.source}:{exp.line}"
            exp = replace(exp, matcher=parse_matcher(substitute(exp.raw, namespaces, where), where))
        out.append(exp)
    return tuple(out)


class Runner:
    def __init__(self, make_driver: DriverFactory, *, unmask: bool = False) -> None:
        self.make_driver = make_driver
        self.unmask = unmask

    def run(self, scenario: Scenario) -> ScenarioResult:
        async def guarded() -> ScenarioResult:
            async with asyncio.timeout(HANG_GUARD):
                return await self.run_async(scenario)
        return asyncio.run(guarded())

    async def run_async(self, scenario: Scenario) -> ScenarioResult:
        started = time.monotonic()
        result = await self._run(scenario)
        result.duration = time.monotonic() - started
        if scenario.expect_failure is not None:
            if result.status == FAILED:
                result.status, result.reason = XFAILED, scenario.expect_failure
            elif result.status == PASSED:
                result.status = XPASSED
                result.reason = f"expected to fail ({scenario.expect_failure}) but passed"
        return result

    async def _run(self, scenario: Scenario) -> ScenarioResult:
        driver = self.make_driver(scenario)
        saved: dict[str, Any] = {}
        result = ScenarioResult(scenario, PASSED, 0.0, saved=saved)
        for number, step in enumerate(scenario.steps, start=1):
            why = driver.unsupported(scenario, step)
            if why is not None:
                result.status, result.reason = SKIPPED, f"step {number} ({step.action}) at {step.where}: {why}"
                await driver.close()
                return result
        try:
            try:
                await driver.start(scenario)
            except Unsupported as exc:
                result.status, result.reason = SKIPPED, str(exc)
                return result
            except (PossimError, OSError) as exc:
                result.status = FAILED
                result.failure = Failure(scenario.item_name, scenario.source, scenario.setup_line, 0, "setup",
                                         "setup", str(exc),
                                         traffic=driver.traffic(TRAFFIC_LINES, self.unmask))
                return result
            for number, step in enumerate(scenario.steps, start=1):
                failure = await self._step(driver, scenario, number, step, saved)
                result.steps_run = number
                if isinstance(failure, Skip):
                    result.status, result.reason = SKIPPED, failure.reason
                    return result
                if failure is not None:
                    result.status, result.failure = FAILED, failure
                    return result
            return result
        finally:
            await driver.close()

    async def _step(self, driver: Driver, scenario: Scenario, number: int, step: Step,
                    saved: dict[str, Any]) -> Failure | Skip | None:
        def failure(problem: str, mismatches: list[Mismatch] | None = None, obs: Observation | None = None) -> Failure:
            return Failure(scenario.item_name, step.source, step.line, number, step.label, step.action, problem,
                           mismatches or [], _observed_summary(obs or {}, self.unmask),
                           driver.traffic(TRAFFIC_LINES, self.unmask), step.included_from)

        try:
            args = substitute(step.args, {"save": saved, "param": scenario.parameters}, step.where)
        except PossimError as exc:
            return failure(str(exc))
        driver.mark()
        try:
            obs = await driver.perform(step, args)
        except Unsupported as exc:
            return Skip(f"step {number} ({step.action}) at {step.where}: {exc}")
        except PossimError as exc:
            return failure(f"{step.action} could not be carried out: {exc}")
        except (OSError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            # not a verdict on the system under test but still this step's failure; the other scenarios run on
            return failure(f"{step.action} could not be carried out: {type(exc).__name__}: {exc}")
        try:
            expectations = resolve_expectations(step.expect, {"save": saved, "param": scenario.parameters})
        except PossimError as exc:
            return failure(str(exc), obs=obs)
        mismatches = check(expectations, obs, self.unmask)
        if obs.get("error") and not any(e.path[0] == "error" for e in step.expect):
            return failure(f"{step.action} was refused: {obs['error']}", mismatches, obs)
        if mismatches:
            count = len(mismatches)
            return failure(f"{count} expectation{'s' if count > 1 else ''} not met", mismatches, obs)
        for name, path in step.save:
            value = resolve(obs, path)
            if value is MISSING:
                return failure(f"save {name}: {'.'.join(path)} is absent in what {step.action} returned", obs=obs)
            saved[name] = value
        return None
