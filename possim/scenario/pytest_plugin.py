"""pytest plugin: every scenario in ``scenarios/**/*.yaml`` is a test item.

Only YAML files below a directory named ``scenarios`` whose top level has a
``scenario:`` key are collected, so dialect files, host configs and shared
step files are left alone. One item per scenario (per parameter set); a
failure is shown as the scenario's own report -- file and line of the step,
expected against received, the frames on the link -- not as a traceback.

Options (all optional; the default runs possim's own host and terminal in-process):
``--possim-terminal URL --possim-host-listen URL`` drive a terminal's ECR port,
``--possim-host URL`` runs against a host possim does not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from possim.scenario.api import driver_factory
from possim.scenario.model import Scenario, is_scenario_file, load_scenarios
from possim.scenario.report import result_text
from possim.scenario.runner import FAILED, SKIPPED, XFAILED, XPASSED, Runner, ScenarioResult
from possim.scenario.yamlsource import ScenarioError

SCENARIO_DIR = "scenarios"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("possim", "possim scenarios")
    group.addoption("--possim-terminal", metavar="URL", default=None,
                    help="run scenarios through this terminal's ECR port")
    group.addoption("--possim-host-listen", metavar="URL", default=None,
                    help="with --possim-terminal: where possim plays the host")
    group.addoption("--possim-ecr-protocol", metavar="NAME|FILE", default=None,
                    help="with --possim-terminal: the terminal's ECR protocol file (default ecr-possim)")
    group.addoption("--possim-host", metavar="URL", default=None, help="run scenarios against this host")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if SCENARIO_DIR in file_path.parent.parts and is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFailed(Exception):
    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(result_text(result))
        self.result = result


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        for scenario in load_scenarios(self.path):
            yield ScenarioItem.from_parent(self, name=scenario.item_name, scenario=scenario)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


def _option(config: pytest.Config, name: str) -> str | None:
    try:
        return config.getoption(name)
    except ValueError:  # registered late (scenarios/conftest.py): the options were not added
        return None


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.extra_keyword_matches.update(scenario.tags)  # ``pytest -k lifecycle`` selects by tag

    def runtest(self) -> None:
        config = self.config
        make_driver = driver_factory(terminal=_option(config, "--possim-terminal"),
                                     host_listen=_option(config, "--possim-host-listen"),
                                     host=_option(config, "--possim-host"),
                                     ecr_protocol=_option(config, "--possim-ecr-protocol") or "ecr-possim")
        result = Runner(make_driver).run(self.scenario)
        if result.status == SKIPPED:
            pytest.skip(result.reason or "skipped")
        if result.status == XFAILED:
            pytest.xfail(result.reason or "expected failure")
        if result.status in (FAILED, XPASSED):
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.scenario.line - 1, f"scenario: {self.scenario.item_name}"
