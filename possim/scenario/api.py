"""The scenario engine's front door: find files, load them, pick a driver, run."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

from possim.scenario.driver import Driver
from possim.scenario.model import Scenario, find_scenario_files, load_scenarios
from possim.scenario.runner import Runner, ScenarioResult
from possim.scenario.yamlsource import ScenarioError

DriverFactory = Callable[[Scenario], Driver]


def load_paths(paths: Sequence[str | Path]) -> list[Scenario]:
    """Every scenario (one per parameter set) in the given files and directories; errors name file:line."""
    out: list[Scenario] = []
    for target in paths:
        files = find_scenario_files(target)
        if not files and Path(target).is_dir():
            raise ScenarioError(f"{target}: no scenario files (YAML with a top-level 'scenario:') below it")
        for path in files:
            out.extend(load_scenarios(path))
    return out


def driver_factory(*, terminal: str | None = None, host_listen: str | None = None,
                   host: str | None = None, ecr_protocol: str = "ecr-possim") -> DriverFactory:
    """In-process by default; ``terminal`` (with ``host_listen``) drives an ECR port; ``host`` a host URL."""
    if terminal is not None:
        if host is not None:
            raise ScenarioError("--terminal and --host exclude each other: with --terminal, possim is the host")
        if host_listen is None:
            raise ScenarioError("--terminal needs --host-listen URL: where possim plays the host for that terminal")
        from possim.scenario.ecrdriver import EcrDriver
        from possim.terminal.ecr.protocol import get_protocol

        get_protocol(ecr_protocol)  # a bad name or file is bad input, before anything starts
        return lambda scenario: EcrDriver(terminal, host_listen, protocol=ecr_protocol)
    if host_listen is not None:
        raise ScenarioError("--host-listen is for --terminal runs (possim plays the host that terminal calls)")
    if host is not None:
        from possim.scenario.drivers import HostUrlDriver

        return lambda scenario: HostUrlDriver(host)
    from possim.scenario.drivers import InProcessDriver

    return lambda scenario: InProcessDriver()


def run_scenarios(scenarios: Iterable[Scenario], make_driver: DriverFactory, *, unmask: bool = False,
                  on_result: Callable[[ScenarioResult], None] | None = None) -> list[ScenarioResult]:
    runner = Runner(make_driver, unmask=unmask)
    results = []
    for scenario in scenarios:
        result = runner.run(scenario)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
