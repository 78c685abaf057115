"""Scenario throughput: the scenario runner against a hand-written script doing the same steps, side by side.

Both run the same merchant day in-process over loopback TCP with fresh SQLite files per run: a host
(`HostServer`) and a terminal (`Terminal`) sign in, make two sales and settle a balanced batch, every answer
checked. The runner loads the YAML, resolves and matches every expectation and keeps the traffic for reports;
the script calls the public APIs directly and checks the response codes. The ratio is what the scenario
machinery costs on top of the work itself.

    .venv/bin/python benchmarks/scenarios.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from possim.host.clock import SimulatedClock
from possim.host.server import HostServer
from possim.scenario.api import load_paths
from possim.scenario.drivers import InProcessDriver
from possim.scenario.runner import Runner
from possim.scenario.world import clock_start, host_config
from possim.terminal.config import TerminalConfig
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal
from possim.terminal.messages import Card

SCENARIO = """\
scenario: benchmark - sign in, two sales, balanced settlement
setup:
  clock: 2025-03-03T10:00:00+08:00
  merchants:
    - {mid: "898310048120001", name: 上海浦东测试便利店, deposit_fen: 29900, deposit_refundable: true,
       contract_start: 2024-06-01}
  terminals:
    - {tid: "10000001", mid: "898310048120001", tmk: 0123456789ABCDEFFEDCBA9876543210}
  cards:
    - {name: debit, pan: "6222021234567890123", pin: "123456", expiry: "3012", balance_fen: 1000000}
steps:
  - sign_in:
    expect: {code: "00", response: {fields: {"62": present, "11": echo}}}
  - purchase: {amount: 6000, card: debit, pin: "123456"}
    expect: {code: "00", rrn: present, receipt: {contains: "60.00"}}
  - purchase: {amount: 4000, card: debit, pin: "123456"}
    expect: {code: "00"}
  - settle:
    expect: {code: "00", data: {balanced: true}}
"""


async def _script_once(scenario: Any, workdir: Path) -> None:
    clock = SimulatedClock(clock_start(scenario.setup))
    host = HostServer(host_config(scenario), workdir / "host.db", ["tcp://127.0.0.1:0"], clock=clock)
    url = (await host.start())[0]
    try:
        config = TerminalConfig(tid="10000001", mid="898310048120001", merchant_name="上海浦东测试便利店",
                                tmk=bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"))
        terminal = Terminal(config, Journal(workdir / "terminal.db"), HostLink(url, "len2"),
                            clock=lambda: clock.now().replace(tzinfo=None))
        await terminal.start()
        card = Card("6222021234567890123", "3012")
        results = [await terminal.sign_in(), await terminal.purchase(6000, card, "123456"),
                   await terminal.purchase(4000, card, "123456"), await terminal.settle()]
        await terminal.close()
        if not all(r.approved for r in results) or not results[-1].data.get("balanced"):
            raise SystemExit(f"the script's run went wrong: {[r.summary() for r in results]}")
    finally:
        await host.close()


def run(runs: int = 20, quick: bool = False) -> dict[str, Any]:
    runs = 3 if quick else runs
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(SCENARIO, encoding="utf-8")
        scenario = load_paths([path])[0]
        runner = Runner(lambda _s: InProcessDriver())
        runner_times, script_times = [], []
        # One untimed run of each first: what is loaded on first use (python-escpos's printer database for
        # the receipts, a dialect's layouts) is paid once per process, not per run.
        runner.run(scenario)
        (Path(tmp) / "script-warm").mkdir()
        asyncio.run(_script_once(scenario, Path(tmp) / "script-warm"))
        for i in range(runs):  # alternate, so both see the same machine
            t0 = time.perf_counter()
            result = runner.run(scenario)
            runner_times.append(time.perf_counter() - t0)
            if result.status != "PASS":
                raise SystemExit(f"the scenario failed: {result.failure}")
            workdir = Path(tmp) / f"script-{i}"
            workdir.mkdir()
            t0 = time.perf_counter()
            asyncio.run(_script_once(scenario, workdir))
            script_times.append(time.perf_counter() - t0)
    runner_rate = len(runner_times) / sum(runner_times)
    script_rate = len(script_times) / sum(script_times)
    return {"rows": [{"case": "sign-in, two sales, balanced settlement (fresh host and terminal each run)",
                      "runner_rate": runner_rate, "script_rate": script_rate}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for row in run(args.runs)["rows"]:
        print(f"{row['case']}: runner {row['runner_rate']:.1f}/s, script {row['script_rate']:.1f}/s, "
              f"ratio {row['runner_rate'] / row['script_rate']:.2f}")


if __name__ == "__main__":
    main()
