"""Fixtures for the host back office: a real SQLite file per test and a
simulated clock starting on the contract start date (2024-01-01 09:00 CST).

The process modelled is the one in DOMAIN.md, "The return-and-deregister path"
(apply with reason and proofs -> review -> approve/reject with reason and
advice -> settle, unbind, deregister -> refund -> merchant confirms; appeal)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from possim.host.cases import CaseDesk
from possim.host.clock import HOST_TZ, SimulatedClock
from possim.host.db import open_db
from possim.host.merchants import MerchantRegistry
from possim.host.policy import ReturnPolicy, SqliteFactsProvider, load_policy_text

MID = "898310048120001"
OTHER_MID = "898310048120002"
CONTRACT_START = date(2024, 1, 1)
DEPOSIT_FEN = 29_900  # 299 yuan

POLICY_YAML = """\
name: test-policy-2024
min_service_days: 90
min_transaction_count: 10
min_volume_fen: 100000
volume_rule: any
block_on_unsettled_batch: true
block_on_open_disputes: true
non_refundable_clause: reject
deductions:
  missing_accessory_fen: {charger: 3000, base: 5000}
  damage_fee_fen: 10000
refund_due_days: 15
refund_due_day_kind: calendar
refund_method: bank_transfer
appeal_window_days: 30
max_appeals: 1
"""


@dataclass
class Env:
    path: Path
    conn: sqlite3.Connection
    clock: SimulatedClock
    registry: MerchantRegistry
    facts: SqliteFactsProvider
    desk: CaseDesk
    policy: ReturnPolicy
    _next_tid: int = 1

    def new_terminal(self, mid: str = MID, *, deposit: bool = True) -> str:
        """A terminal bound to ``mid`` with its deposit paid."""
        tid = f"T{self._next_tid:07d}"
        self._next_tid += 1
        self.registry.register_terminal(tid, tmk_ref=f"tmk/{tid}")
        self.registry.bind(tid, mid)
        if deposit:
            self.registry.record_deposit(tid, mid)
        return tid

    def make_eligible(self, tid: str, mid: str = MID) -> None:
        """Enough transactions, and a clock past the 90-day service period."""
        self.facts.record_transaction(tid, mid, 2_000, count=12)
        if self.clock.now().date() < date(2024, 4, 10):
            self.clock.set(datetime(2024, 4, 10, 10, 0, tzinfo=HOST_TZ))

    def reopen(self) -> None:
        self.conn.close()
        self.conn = open_db(self.path)
        self.registry = MerchantRegistry(self.conn, self.clock)
        self.facts = SqliteFactsProvider(self.conn, self.clock)
        self.desk = CaseDesk(self.conn, self.clock, self.policy)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    clock = SimulatedClock(datetime(2024, 1, 1, 9, 0, tzinfo=HOST_TZ))
    path = tmp_path / "host.db"
    conn = open_db(path)
    registry = MerchantRegistry(conn, clock)
    policy = load_policy_text(POLICY_YAML, "test policy")
    registry.add_merchant(MID, "上海测试便利店", deposit_fen=DEPOSIT_FEN, deposit_refundable=True,
                          contract_start=CONTRACT_START, fee_schedule="standard")
    registry.add_merchant(OTHER_MID, "北京示例餐厅", deposit_fen=DEPOSIT_FEN, deposit_refundable=True,
                          contract_start=CONTRACT_START, fee_schedule="standard")
    e = Env(path, conn, clock, registry, SqliteFactsProvider(conn, clock),
            CaseDesk(conn, clock, policy), policy)
    yield e
    e.conn.close()


def apply(env: Env, tid: str, mid: str = MID) -> int:
    return env.desk.apply(mid, tid, reason="shop closing", contact="Ms Li 13800000000",
                          identity_proof_ref="id-scan-001", purchase_proof_ref="invoice-001").id
