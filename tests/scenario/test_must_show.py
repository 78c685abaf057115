"""Must-show: a wrong expectation in a copy of a shipped scenario fails with a message a QA engineer can act on.

The copy is run the two ways CI runs scenarios: ``possim run`` (with JUnit XML) and pytest with possim's
plugin. Both must name the file and line of the failing step, the step, what was expected and what came back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from .conftest import HANG_GUARD, REPO, SCENARIOS, possim

def wrong_copy(world: Path) -> tuple[Path, int, int]:
    """The lifecycle scenario with the balance step's expected balance off by one fen; its two line numbers."""
    text = (SCENARIOS / "lifecycle.yaml").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    balance_step = next(i for i, line in enumerate(lines) if line.startswith("  - balance:")) + 1
    expect_line = next(i for i in range(balance_step, len(lines)) if "balance_fen: 990000" in lines[i]) + 1
    lines[expect_line - 1] = lines[expect_line - 1].replace("990000", "990001")
    path = world / "lifecycle_wrong.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, balance_step, expect_line


def assert_actionable(text: str, shown: str, step_line: int, expect_line: int) -> None:
    assert f"{shown}:{step_line}: scenario 'full lifecycle - onboarding, sign-in, sale, void, refund, balance, " \
           f"settlement', step 7 (balance) failed: 1 expectation not met" in text
    assert f"{shown}:{expect_line}: balance_fen\n    expected: '990001'\n    received: '990000'" in text
    assert "last 12 frames on the link" in text and "terminal -> host  0200  3=310000" in text
    assert "6222021234567890123" not in text  # decoded, and masked


def test_possim_run_reports_the_wrong_expectation_and_writes_junit(world: Path) -> None:
    path, step_line, expect_line = wrong_copy(world)
    report = world.parent / "report.xml"
    done = possim("run", "scenarios/lifecycle_wrong.yaml", "--junit-xml", str(report), cwd=world.parent)
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("FAIL ") and "scenarios/lifecycle_wrong.yaml" in done.stdout.splitlines()[0]
    assert_actionable(done.stdout, "scenarios/lifecycle_wrong.yaml", step_line, expect_line)
    assert done.stderr.strip() == "1 fail"
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("1", "1")
    case = suite.find("testcase")
    assert case is not None and case.get("file") == "scenarios/lifecycle_wrong.yaml"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == f"scenarios/lifecycle_wrong.yaml:{step_line}: 1 expectation not met"
    assert_actionable(failure.text or "", "scenarios/lifecycle_wrong.yaml", step_line, expect_line)
    assert path.exists()


def test_pytest_reports_the_wrong_expectation_as_the_scenario_not_a_traceback(world: Path) -> None:
    _, step_line, expect_line = wrong_copy(world)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-W", "error", "-p", "no:cacheprovider",
         "scenarios/lifecycle_wrong.yaml"], cwd=world.parent, env=env, capture_output=True, text=True,
        timeout=HANG_GUARD)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    assert_actionable(done.stdout, "scenarios/lifecycle_wrong.yaml", step_line, expect_line)
    assert "Traceback" not in done.stdout and "runner.py" not in done.stdout


def test_the_unchanged_scenario_passes_both_ways(world: Path) -> None:
    (world / "lifecycle.yaml").write_bytes((SCENARIOS / "lifecycle.yaml").read_bytes())
    done = possim("run", "scenarios", cwd=world.parent)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("PASS ")


def test_bad_input_exits_2_with_one_line(world: Path) -> None:
    (world / "typo.yaml").write_text("scenario: x\nsteps:\n  - sign_in:\n    expct: {code: '00'}\n",
                                     encoding="utf-8")
    done = possim("run", "scenarios/typo.yaml", cwd=world.parent)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "possim: scenarios/typo.yaml:4: unknown key 'expct' in step 'sign_in' (did you mean " \
                          "'expect'?); allowed: expect, name, save, terminal\n"
    done = possim("run", "scenarios", "--host-listen", "tcp://127.0.0.1:1", cwd=world.parent)
    assert done.returncode == 2 and "--host-listen is for --terminal runs" in done.stderr
    done = possim("run", "scenarios", "--terminal", "/dev/null", "--host-listen", "tcp://127.0.0.1:1",
                  "--ecr-protocol", "no-such-vendor", cwd=world.parent)
    assert done.returncode == 2 and done.stderr.startswith("possim: unknown ECR protocol 'no-such-vendor'")
