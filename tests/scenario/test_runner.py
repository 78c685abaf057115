"""The runner against possim's own host and terminal (in-process, loopback TCP, SQLite files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from possim.scenario.api import run_scenarios
from possim.scenario.driver import Driver, Unsupported
from possim.scenario.drivers import InProcessDriver
from possim.scenario.model import Scenario, Step, load_scenarios
from possim.scenario.outcome import Observation
from possim.scenario.report import failure_text, result_line
from possim.scenario.runner import FAILED, PASSED, SKIPPED, XFAILED, XPASSED, Runner

from .conftest import write

SALE_THEN_VOID = """
scenario: sale then void ${param.label}
parameters:
  - {label: small, amount: 100}
  - {label: large, amount: 250000}
expect_failure: ${param.xfail}
setup: {include: shared/world.yaml}
steps:
  - include: shared/sign_in.yaml
  - purchase: {amount: "${param.amount}", card: debit, pin: "123456"}
    expect: {code: "00", amount_fen: "${param.amount}"}
    save: {voucher: stan, rrn: response.fields.37}
  - void: {voucher: "${save.voucher}"}
    expect:
      code: "00"
      request: {fields: {"37": "${save.rrn}", "4": echo}}
"""


def run(path: Path) -> list[Any]:
    return run_scenarios(load_scenarios(path), lambda s: InProcessDriver())


def test_saved_values_flow_into_later_steps(world: Path) -> None:
    path = write(world / "a.yaml", SALE_THEN_VOID.replace("expect_failure: ${param.xfail}\n", ""))
    results = run(path)
    assert [r.status for r in results] == [PASSED, PASSED]
    small = results[0]
    assert small.saved["voucher"] == "000002" and len(small.saved["rrn"]) == 12
    assert results[1].scenario.item_name == "sale then void large[label=large,amount=250000]"
    assert result_line(small).startswith("PASS ")


def test_a_failure_stops_the_scenario_and_reports_the_step(world: Path) -> None:
    text = SALE_THEN_VOID.replace("expect_failure: ${param.xfail}\n", "").replace(
        'expect: {code: "00", amount_fen: "${param.amount}"}', 'expect: {code: "51", amount_fen: "${param.amount}"}')
    [first, _] = run(write(world / "a.yaml", text))
    assert first.status == FAILED and first.steps_run == 2  # the void never ran
    failure = first.failure
    assert failure is not None and (failure.line, failure.step_number, failure.action) == (8, 2, "purchase")
    [mismatch] = failure.mismatches
    assert (mismatch.path, mismatch.wanted, mismatch.received, mismatch.line) == ("code", "'51'", "'00'", 9)
    report = failure_text(failure)
    assert report.startswith(f"{world / 'a.yaml'}:8: scenario 'sale then void small[label=small,amount=100]', "
                             "step 2 (purchase) failed: 1 expectation not met")
    assert "terminal -> host  0200" in report and "host -> terminal  0210" in report
    assert "6222021234567890123" not in report  # the PAN is masked everywhere in the report


def test_failure_inside_an_include_names_the_include_chain(world: Path) -> None:
    write(world / "shared" / "bad_sign_in.yaml", """
        steps:
          - sign_in:
            expect: {code: "05"}
        """)
    [result] = run(write(world / "a.yaml", """
        scenario: include chain
        setup: {include: shared/world.yaml}
        steps:
          - include: shared/bad_sign_in.yaml
        """))
    assert result.failure is not None
    report = failure_text(result.failure)
    assert report.startswith(f"{world / 'shared' / 'bad_sign_in.yaml'}:2: ")
    assert f"included from {world / 'a.yaml'}:4" in report


def test_expected_failure_is_xfail_and_an_unexpected_pass_is_xpass(world: Path) -> None:
    text = SALE_THEN_VOID.replace("expect_failure: ${param.xfail}", "expect_failure: host bug 123").replace(
        "  - {label: large, amount: 250000}\n", "  - {label: large, amount: 600000}\n")
    small, large = run(write(world / "a.yaml", text))
    # the debit card's limit is 500000 fen: the large sale is declined, so that run fails as expected
    assert (small.status, large.status) == (XPASSED, XFAILED)
    assert large.reason == "host bug 123" and not small.ok and large.ok
    assert "expected to fail (host bug 123) but passed" in (small.reason or "")


def test_back_office_errors_fail_unless_expected(world: Path) -> None:
    [refused, expected] = run(write(world / "a.yaml", """
        scenario: review ${param.id}
        parameters: [{id: plain, exp: {state: approved}}, {id: expected, exp: {error: {contains: "no return case"}}}]
        setup: {include: shared/world.yaml}
        steps:
          - review:
            expect: ${param.exp}
        """))
    assert refused.status == FAILED
    assert refused.failure.problem == "review was refused: terminal 10000001 has no return case"
    assert expected.status == PASSED


class ScriptedDriver(Driver):
    """A stand-in driver for unit-testing the Runner's bookkeeping alone."""

    name = "scripted"

    def __init__(self, answers: dict[str, Observation | Exception]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.closed = False

    async def start(self, scenario: Scenario) -> None:
        pass

    async def perform(self, step: Step, args: dict[str, Any]) -> Observation:
        self.calls.append(step.action)
        answer = self.answers[step.action]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def close(self) -> None:
        self.closed = True


def test_unsupported_step_skips_with_the_reason(tmp_path: Path) -> None:
    [scenario] = load_scenarios(write(tmp_path / "a.yaml", """
        scenario: skip
        steps:
          - echo:
          - review:
          - echo:
        """))
    driver = ScriptedDriver({"echo": {"code": "00"}, "review": Unsupported("needs a host possim runs")})
    result = Runner(lambda s: driver).run(scenario)
    assert result.status == SKIPPED and driver.calls == ["echo", "review"] and driver.closed
    assert result.reason == f"step 2 (review) at {tmp_path / 'a.yaml'}:4: needs a host possim runs"


def test_absent_saved_value_fails_the_step(tmp_path: Path) -> None:
    [scenario] = load_scenarios(write(tmp_path / "a.yaml", """
        scenario: save
        steps:
          - purchase: {amount: 1, card: x}
            save: {rrn: rrn}
        """))
    result = Runner(lambda s: ScriptedDriver({"purchase": {"code": "51"}})).run(scenario)
    assert result.status == FAILED
    assert result.failure.problem == "save rrn: rrn is absent in what purchase returned"


class HostlessDriver(ScriptedDriver):
    def unsupported(self, scenario: Scenario, step: Step) -> str | None:
        return "no back office here" if step.action == "review" else None


def test_a_scenario_that_cannot_run_completely_does_not_run_at_all(tmp_path: Path) -> None:
    [scenario] = load_scenarios(write(tmp_path / "a.yaml", """
        scenario: skip up front
        steps:
          - echo:
          - review:
        """))
    driver = HostlessDriver({"echo": {"code": "00"}})
    result = Runner(lambda s: driver).run(scenario)
    assert result.status == SKIPPED and driver.calls == [] and driver.closed
    assert result.reason == f"step 2 (review) at {tmp_path / 'a.yaml'}:4: no back office here"


def test_a_set_up_the_host_refuses_fails_at_the_setup_line(world: Path) -> None:
    [result] = run(write(world / "a.yaml", """
        scenario: bad merchant
        setup:
          include: shared/world.yaml
          merchants:
            - {mid: "12345", name: too short}
        steps: [{include: shared/sign_in.yaml}]
        """))
    assert result.status == FAILED and result.failure is not None
    assert (result.failure.source, result.failure.line, result.failure.step_label) == (str(world / "a.yaml"), 2,
                                                                                      "setup")
    assert "merchants[0].mid" in result.failure.problem
    assert failure_text(result.failure).startswith(f"{world / 'a.yaml'}:2: scenario 'bad merchant', the set-up "
                                                   "failed: ")
