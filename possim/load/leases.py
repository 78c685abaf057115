"""Handing out terminals to Locust users so that no two play the same TID at once.

Two users on one TID would reuse each other's STANs and step on each other's
keys, exactly as two physical terminals with one TID would. In a single
Locust process a pool is enough. In distributed mode (a master and workers,
possibly on other machines) the master owns the one pool and workers ask
for a TID with Locust's own custom messages (``possim-lease`` /
``possim-grant`` / ``possim-release``), so the guarantee holds however many
workers there are and whatever their worker index.
"""

from __future__ import annotations

import uuid
from typing import Any

from gevent.event import AsyncResult
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from possim.load.pool import TerminalPool

LEASE = "possim-lease"
GRANT = "possim-grant"
RELEASE = "possim-release"
#: How long a worker's user waits for the master to answer.
LEASE_TIMEOUT = 30.0


class Leases:
    """The lease service of one Locust process (master, worker or stand-alone)."""

    def __init__(self, environment: Environment, pool: TerminalPool | None) -> None:
        self.environment = environment
        self.pool = pool
        self._waiting: dict[str, AsyncResult] = {}
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            runner.register_message(LEASE, self._on_lease)
            runner.register_message(RELEASE, self._on_release)
        elif isinstance(runner, WorkerRunner):
            runner.register_message(GRANT, self._on_grant)

    # --- what a user calls ----------------------------------------------------------

    def take(self) -> str | None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            request = uuid.uuid4().hex
            result: AsyncResult = AsyncResult()
            self._waiting[request] = result
            try:
                runner.send_message(LEASE, {"request": request})
                return result.get(timeout=LEASE_TIMEOUT)
            finally:
                self._waiting.pop(request, None)
        assert self.pool is not None
        return self.pool.take()

    def give_back(self, tid: str) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(RELEASE, {"tid": tid})
        elif self.pool is not None:
            self.pool.give_back(tid)

    # --- message handlers ---------------------------------------------------------------

    def _on_lease(self, environment: Environment, msg: Any, **_: Any) -> None:
        assert self.pool is not None and isinstance(environment.runner, MasterRunner)
        tid = self.pool.take()
        environment.runner.send_message(GRANT, {"request": msg.data["request"], "tid": tid}, client_id=msg.node_id)

    def _on_release(self, environment: Environment, msg: Any, **_: Any) -> None:
        if self.pool is not None:
            self.pool.give_back(msg.data["tid"])

    def _on_grant(self, environment: Environment, msg: Any, **_: Any) -> None:
        result = self._waiting.get(msg.data["request"])
        if result is not None:
            result.set(msg.data["tid"])
