"""The pytest plugin collects scenario files under scenarios/ only, one item per scenario and parameter set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import HANG_GUARD, REPO, write


def pytest_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pytest", "-W", "error",
                           "-p", "no:cacheprovider", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=HANG_GUARD)


def test_collects_only_scenario_files_below_a_scenarios_directory(world: Path) -> None:
    root = world.parent
    write(world / "a.yaml", """
        scenario: one
        setup: {include: shared/world.yaml}
        steps: [{include: shared/sign_in.yaml}]
        """)
    write(world / "deep" / "b.yaml", """
        scenario: two ${param.n}
        tags: [smoke]
        parameters: [{n: 1}, {n: 2}]
        setup: {include: ../shared/world.yaml}
        steps: [{include: ../shared/sign_in.yaml}]
        """)
    write(root / "protocols" / "x.yaml", "scenario: not collected, not under scenarios/\nsteps: [{echo: }]\n")
    write(root / "config.yaml", "scenario: nor this\n")
    done = pytest_in(root, "--collect-only", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    items = [line for line in done.stdout.splitlines() if "::" in line]
    assert items == ["scenarios/a.yaml::one", "scenarios/deep/b.yaml::two 1[n=1]", "scenarios/deep/b.yaml::two 2[n=2]"]
    selected = pytest_in(root, "-q", "-k", "smoke")
    assert selected.returncode == 0 and "2 passed, 1 deselected" in selected.stdout


def test_a_bad_file_is_a_collection_error_naming_the_line(world: Path) -> None:
    write(world / "bad.yaml", "scenario: x\nsteps:\n  - sign_in:\n    expect: {code: {regx: '0'}}\n")
    done = pytest_in(world.parent, "-q")
    assert done.returncode == 2
    assert "scenarios/bad.yaml:4: unknown matcher 'regx'" in done.stdout
    assert "Traceback" not in done.stdout


def test_xfail_and_skip_outcomes(world: Path) -> None:
    write(world / "x.yaml", """
        scenario: known bug
        expect_failure: the host does not yet answer 05 here
        setup: {include: shared/world.yaml}
        steps:
          - sign_in:
            expect: {code: "05"}
        """)
    write(world / "y.yaml", """
        scenario: needs the back office
        setup: {include: shared/world.yaml}
        steps:
          - review:
        """)
    done = pytest_in(world.parent, "-q", "-rxs", "scenarios/x.yaml")
    assert done.returncode == 0, done.stdout
    assert "1 xfailed" in done.stdout and "the host does not yet answer 05 here" in done.stdout
    done = pytest_in(world.parent, "-q", "-rs", "--possim-host", "tcp://127.0.0.1:9", "scenarios/y.yaml")
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout and "back-office step 'review' needs a host possim runs" in done.stdout
