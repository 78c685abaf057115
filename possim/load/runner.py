"""``possim load``: Locust run headless in subprocesses, as a master and N local workers.

Locust runs in its own processes because it monkeypatches the standard
library with gevent when imported; the ``possim`` process stays plain. With
``workers`` = 0 a single Locust process does the work; with N > 0 it is
Locust's own distributed mode (``--master`` plus N ``--worker`` processes),
exactly what runs across machines, only on 127.0.0.1.

The counts come from the summary the locustfile writes once the run has
stopped (``--possim-summary``), not from Locust's CSV, whose last rows can
lag the final second.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from possim.errors import PossimError, UsageError
from possim.load.fleet import generated_fleet, load_fleet
from possim.load.mix import DEFAULT_MIX, parse_mix
from possim.load.reconcile import Reconciliation, ledger_mark, reconcile
from possim.load.session import parse_host_url
from possim.load.summary import LoadSummary, read_summary, write_summary

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: Seconds a user may take to finish the transaction in hand when the run ends (Locust --stop-timeout).
STOP_TIMEOUT = 10
WORKER_CONNECT_WAIT = 60


@dataclass(frozen=True)
class LoadPlan:
    host: str
    users: int = 1
    duration: int = 10
    workers: int = 0
    spawn_rate: float | None = None
    mix: str = DEFAULT_MIX
    config: str | None = None
    csv: str | None = None
    html: str | None = None
    timeout: float = 10.0
    ledger_db: str | None = None
    summary: str | None = None
    loglevel: str = "WARNING"
    extra: tuple[str, ...] = field(default_factory=tuple)

    def check(self) -> None:
        """Bad input is refused here, before any process starts (exit 2)."""
        parse_host_url(self.host)
        if self.users < 1:
            raise UsageError(f"--users {self.users}: expected 1 or more")
        if self.duration < 1:
            raise UsageError(f"--duration {self.duration}: expected whole seconds, 1 or more")
        if self.workers < 0:
            raise UsageError(f"--workers {self.workers}: expected 0 or more")
        if self.spawn_rate is not None and not self.spawn_rate > 0:
            raise UsageError(f"--spawn-rate {self.spawn_rate}: expected users per second above 0")
        if not self.timeout > 0:
            raise UsageError(f"--timeout {self.timeout}: expected seconds above 0")
        parse_mix(self.mix)
        fleet = load_fleet(self.config) if self.config else generated_fleet(self.users)
        if len(fleet.terminals) < self.users:
            raise UsageError(f"--users {self.users}: {fleet.source} has {len(fleet.terminals)} bound terminals; "
                             f"each user needs its own (possim load make-config --terminals {self.users})")
        if not fleet.cards and not fleet.provisions_cards:
            raise UsageError(f"{fleet.source}: no usable test card (add cards, or a default_card block)")
        if self.ledger_db is not None and not Path(self.ledger_db).exists():
            raise UsageError(f"--ledger-db {self.ledger_db}: no such host database")

    def tids(self) -> list[str]:
        fleet = load_fleet(self.config) if self.config else generated_fleet(self.users)
        return [t.tid for t in fleet.terminals]

    def possim_args(self, summary: Path) -> list[str]:
        args = ["--possim-mix", self.mix, "--possim-timeout", f"{self.timeout:g}",
                "--possim-summary", str(summary)]
        if self.config:
            args += ["--possim-config", str(Path(self.config).resolve())]
        else:
            args += ["--possim-terminals", str(self.users)]
        return args

    def master_command(self, summary: Path, master_port: int | None) -> list[str]:
        rate = self.spawn_rate if self.spawn_rate is not None else self.users
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", self.host,
               "--users", str(self.users), "--spawn-rate", f"{rate:g}", "--run-time", f"{self.duration}s",
               "--stop-timeout", str(STOP_TIMEOUT), "--only-summary", "--loglevel", self.loglevel,
               *self.possim_args(summary)]
        if self.csv:
            cmd += ["--csv", self.csv]
        if self.html:
            cmd += ["--html", self.html]
        if master_port is not None:
            cmd += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
                    "--expect-workers", str(self.workers), "--expect-workers-max-wait", str(WORKER_CONNECT_WAIT)]
        return cmd + list(self.extra)

    def worker_command(self, master_port: int) -> list[str]:
        return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--master-host", "127.0.0.1",
                "--master-port", str(master_port), "--loglevel", self.loglevel]


@dataclass(frozen=True)
class LoadResult:
    summary: LoadSummary
    master_exit: int
    reconciliation: Reconciliation | None = None

    @property
    def ok(self) -> bool:
        return self.summary.failures == 0 and (self.reconciliation is None or self.reconciliation.ok)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_load(plan: LoadPlan, *, stdout: int | IO[str] | None = None,
             stderr: int | IO[str] | None = None) -> LoadResult:
    """Run the plan to its end and return what Locust counted (and the ledger check, with ``ledger_db``).

    ``stdout``/``stderr`` are where Locust's own output goes (as for ``subprocess``; default: inherited).
    """
    plan.check()
    mark = ledger_mark(plan.ledger_db) if plan.ledger_db else 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory(prefix="possim-load-") as tmp:
        summary_path = Path(tmp) / "summary.json"
        port = free_port() if plan.workers else None
        master = subprocess.Popen(plan.master_command(summary_path, port), stdout=stdout, stderr=stderr, env=env)
        workers = [subprocess.Popen(plan.worker_command(port), stdout=subprocess.DEVNULL, stderr=stderr, env=env)
                   for _ in range(plan.workers)] if port is not None else []
        allowed = plan.duration + STOP_TIMEOUT + WORKER_CONNECT_WAIT + 60
        try:
            master_exit = master.wait(allowed)
        except subprocess.TimeoutExpired:
            _stop(master, 10)
            raise PossimError(f"locust master did not finish within {allowed} s; stopped it") from None
        except BaseException:
            _stop(master, 10)
            raise
        finally:
            for worker in workers:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    _stop(worker, 5)
        if not summary_path.exists():
            raise PossimError(f"locust master exited {master_exit} without a summary (see its messages above)")
        summary = read_summary(summary_path)
    if plan.summary:
        write_summary(summary, plan.summary)
    reconciliation = reconcile(plan.ledger_db, summary, since=mark, tids=plan.tids()) if plan.ledger_db else None
    return LoadResult(summary, master_exit, reconciliation)
