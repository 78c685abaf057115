"""The other two drivers, against real processes: a terminal's ECR port over a real pty, and a host URL.

- ``possim run scenarios/terminal --terminal <pty> --host-listen URL`` drives ``possim terminal --ecr pty``
  (a real pseudo-terminal pair, opened through pyserial on the harness side) while possim plays its host.
- ``possim run --host URL`` sends raw messages to a ``possim host`` process it does not run; back-office
  steps are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import selectors
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from possim.scenario.model import load_scenarios
from possim.scenario.world import host_mapping

from .conftest import HANG_GUARD, REPO, SCENARIOS, free_port, possim


def start(args: list[str], cwd: Path, ready: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``possim ARGS`` and wait for the line announcing ``ready`` (a regex); returns the match."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "possim", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + HANG_GUARD
    seen = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=1.0):
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(ready, line)
        if found:
            return proc, found.group(1)
    proc.kill()
    proc.wait()
    raise AssertionError(f"possim {' '.join(args)} never said {ready!r}: {''.join(seen)}")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def test_terminal_scenarios_through_the_ecr_port_over_a_pty(tmp_path: Path) -> None:
    port = free_port()
    journal = tmp_path / "terminal.db"
    terminal, pty = start(["terminal", "--config", str(SCENARIOS / "terminal" / "possim-terminal.yaml"),
                           "--host", f"tcp://127.0.0.1:{port}", "--ecr", "pty", "--db", str(journal)],
                          tmp_path, r"ecr on (/dev/\S+)")
    try:
        done = possim("run", str(SCENARIOS / "terminal"), "--terminal", pty, "--host-listen",
                      f"tcp://127.0.0.1:{port}", "--junit-xml", str(tmp_path / "ecr.xml"), cwd=REPO)
    finally:
        stop(terminal)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    names = sorted(p.name for p in (SCENARIOS / "terminal").glob("*.yaml") if p.read_text().startswith("scenario:")
                   or "\nscenario:" in p.read_text())
    assert len(lines) == len(names) >= 3 and all(line.startswith("PASS ") for line in lines)
    # the subprocess terminal did the work: its own journal holds the approved sales
    with sqlite3.connect(journal) as conn:
        approved = conn.execute("SELECT COUNT(*) FROM transactions WHERE kind = 'purchase' AND status IN "
                                "('approved', 'voided')").fetchone()[0]
    assert approved >= 4


def test_raw_scenarios_against_a_host_url_and_back_office_steps_skipped(tmp_path: Path) -> None:
    [scenario] = load_scenarios(SCENARIOS / "raw" / "duplicate_stan.yaml")
    config = tmp_path / "host.yaml"
    config.write_text(yaml.safe_dump(host_mapping(scenario.setup), allow_unicode=True), encoding="utf-8")
    port = free_port()
    host, _ = start(["host", "--config", str(config), "--listen", f"tcp://127.0.0.1:{port}",
                     "--db", str(tmp_path / "host.db")], tmp_path, r"listening on (\S+)")
    try:
        done = possim("run", str(SCENARIOS / "raw" / "duplicate_stan.yaml"),
                      str(SCENARIOS / "return" / "withdraw.yaml"), "--host", f"tcp://127.0.0.1:{port}", cwd=REPO)
    finally:
        stop(host)
    assert done.returncode == 0, done.stdout + done.stderr
    raw, withdraw = done.stdout.splitlines()
    assert raw.startswith("PASS ") and "duplicate STAN" in raw
    assert withdraw.startswith("SKIP ") and "step 4 (review)" in withdraw and "needs a host possim runs" in withdraw


def test_the_ecr_driver_refuses_up_front_what_the_ecr_link_cannot_do(tmp_path: Path) -> None:
    from possim.scenario.ecrdriver import EcrDriver

    (tmp_path / "a.yaml").write_text(
        "scenario: x\nsetup:\n  terminals: [{tid: '10000001', mid: '898310048120001', tmk: "
        "0123456789ABCDEFFEDCBA9876543210}]\nsteps:\n  - echo:\n  - sign_in:\n    terminal: '10000002'\n"
        "  - sign_in:\n  - send: {mti: '0800'}\n  - review:\n", encoding="utf-8")
    [scenario] = load_scenarios(tmp_path / "a.yaml")
    driver = EcrDriver("/dev/null", "tcp://127.0.0.1:0", workdir=tmp_path)
    reasons = [driver.unsupported(scenario, step) for step in scenario.steps]
    assert reasons == ["the ECR link has no command for echo",
                       "the ECR port drives one terminal (10000001), not 10000002", None, None, None]
