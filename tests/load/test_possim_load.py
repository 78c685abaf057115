"""The Must-show of issue 9: ``possim load`` with 2 Locust workers against ``possim host`` on loopback.

Both are real processes. The load run must report requests and no failures,
and the host's ledger must hold exactly the approvals Locust counted: none
lost, none counted twice, every user on a terminal of its own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from possim.cli import main
from possim.load.reconcile import ledger_rows, reconcile
from possim.load.summary import read_summary

from tests.load.conftest import HANG_GUARD, ROOT, HostProcess

CLOSING = re.compile(r"^(\d+) requests, (\d+) failures, [0-9.]+ req/s, p50 [0-9.]+ ms, p99 [0-9.]+ ms$")
USERS = 4


def test_load_with_two_workers_loses_and_doubles_nothing(load_host: HostProcess, tmp_path: Path) -> None:
    summary_path = tmp_path / "summary.json"
    csv_prefix = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-m", "possim", "load", "--host", load_host.url,
         "--config", str(load_host.config), "--users", str(USERS), "--duration", "5", "--workers", "2",
         "--csv", str(csv_prefix), "--summary", str(summary_path), "--ledger-db", str(load_host.db)],
        capture_output=True, text=True, cwd=ROOT, timeout=HANG_GUARD)
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    match = CLOSING.match(last)
    assert match, f"closing line: {last!r}"
    requests, failures = int(match[1]), int(match[2])
    assert requests > 0
    assert failures == 0
    assert "ledger reconciliation:" in done.stdout and "every entry accounted for" in done.stdout

    summary = read_summary(summary_path)
    assert (summary.requests, summary.failures) == (requests, failures)
    # Our own reconciliation from the ledger, independent of what the CLI printed.
    result = reconcile(load_host.db, summary)
    assert result.ok, result.report()
    rows = ledger_rows(load_host.db)
    assert all(row.response_code == "00" and row.reversed_at is None for row in rows)
    # Every request Locust counted is one ledger row, except the sign-ins (not ledger transactions).
    assert summary.entry("sign-in").requests == USERS
    assert len(rows) == requests - USERS
    for name in ("purchase", "balance", "void", "refund"):
        assert sum(1 for row in rows if row.txn_type == name) == summary.entry(name).requests
    # Each user played a terminal of its own, handed out by the master across both workers.
    assert {row.tid for row in rows} == {f"LD{i:06d}" for i in range(1, USERS + 1)}
    # No STAN used twice by one terminal in one batch (the ledger's own uniqueness, checked by hand).
    keys = [(row.tid, row.batch_no, row.stan, row.mti) for row in rows]
    assert len(keys) == len(set(keys))
    # The same check as a command, as after a plain Locust run.
    assert main(["load", "reconcile", "--ledger-db", str(load_host.db), "--summary", str(summary_path),
                 "--config", str(load_host.config)]) == 0
    # Locust's own CSV report was written as Locust users expect.
    assert (tmp_path / "run_stats.csv").read_text(encoding="utf-8").startswith("Type,Name,Request Count")
