"""Put the configuration file's merchants, terminals and cards into the database.

Only what is missing is created: a restarted host keeps what the ledger and
the back office changed since (balances, a terminal unbound by a return
case). A terminal's configured ``state`` is reached once, when it is first
registered: ``bound`` binds it (and records the merchant's deposit when
``deposit_paid``), ``unbound`` binds then unbinds it, ``deregistered``
closes it.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from possim.host.clock import Clock
from possim.host.config import HostConfig
from possim.host.db import transaction
from possim.host.ledger import Ledger
from possim.host.merchants import MerchantRegistry, TerminalState, UnknownMerchant, UnknownTerminal


def seed_database(conn: sqlite3.Connection, config: HostConfig, clock: Clock, ledger: Ledger) -> dict[str, int]:
    """Create what the config names and the database lacks; returns how many of each were created."""
    registry = MerchantRegistry(conn, clock)
    created = {"merchants": 0, "terminals": 0, "cards": 0}
    now: datetime = clock.now()
    with transaction(conn):
        for m in config.merchants:
            try:
                registry.merchant(m.mid)
            except UnknownMerchant:
                registry.add_merchant(m.mid, m.name, deposit_fen=m.deposit_fen,
                                      deposit_refundable=m.deposit_refundable, contract_start=m.contract_start,
                                      fee_schedule=m.fee_schedule)
                created["merchants"] += 1
        for t in config.terminals:
            try:
                registry.terminal(t.tid)
                continue
            except UnknownTerminal:
                pass
            registry.register_terminal(t.tid, tmk_ref=f"config:{t.tid}")
            created["terminals"] += 1
            if t.state is TerminalState.REGISTERED:
                continue
            if t.state is TerminalState.DEREGISTERED and t.mid is None:
                registry.deregister(t.tid)
                continue
            assert t.mid is not None
            registry.bind(t.tid, t.mid)
            if t.deposit_paid and registry.merchant(t.mid).deposit_fen > 0:
                registry.record_deposit(t.tid, t.mid)
            if t.state in (TerminalState.UNBOUND, TerminalState.DEREGISTERED):
                registry.unbind(t.tid)
            if t.state is TerminalState.DEREGISTERED:
                registry.deregister(t.tid)
        for card in config.cards:
            created["cards"] += int(ledger.seed_card(card, now))
    return created
