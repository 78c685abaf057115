"""The real host simulator (possim.host) as the terminal's peer; terminal and host meet only on the wire."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from possim.host.clock import SystemClock
from possim.host.config import HostConfig
from possim.host.db import open_db
from possim.host.example_config import example_config
from possim.host.server import HostServer
from possim.terminal.config import TerminalConfig
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal

TMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TID, MID = "10000001", "898310048120001"
UNBOUND_TID = "10000003"  # example config: registered, never bound
DEBIT_CARD, DEBIT_EXPIRY, DEBIT_PIN = "6222021234567890123", "3012", "123456"
DEBIT_TRACK2 = f"{DEBIT_CARD}={DEBIT_EXPIRY}2201234500000"
DEBIT_BALANCE_FEN = 1000000


@contextlib.asynccontextmanager
async def real_host(tmp_path: Path, config: HostConfig | None = None) -> AsyncIterator[HostServer]:
    async with HostServer(config or example_config(), tmp_path / "host.db", ["tcp://127.0.0.1:0"]) as host:
        yield host


def terminal_config(**changes: Any) -> TerminalConfig:
    values: dict[str, Any] = dict(tid=TID, mid=MID, merchant_name="上海浦东测试便利店", tmk=TMK,
                                  response_timeout=10.0)
    values.update(changes)
    return TerminalConfig(**values)


def make_terminal(tmp_path: Path, url: str, db: str = "terminal.db", **changes: Any) -> Terminal:
    return Terminal(terminal_config(**changes), Journal(tmp_path / db), HostLink(url))


def back_office(tmp_path: Path) -> Any:
    """The acquirer's back office on the host database (what `possim host cases` does)."""
    from possim.host.cases import CaseDesk
    from possim.host.merchants import MerchantRegistry
    from possim.host.policy import SqliteFactsProvider

    conn = open_db(tmp_path / "host.db")
    clock = SystemClock()
    policy = example_config().return_policy
    return conn, CaseDesk(conn, clock, policy, facts=SqliteFactsProvider(conn, clock),
                          registry=MerchantRegistry(conn, clock))
