"""Check a load run against the host's ledger: no approval lost, none counted twice.

Locust counts what the terminals were told; the ledger holds what the host
committed. For purchases, voids and refunds, the ledger's approved rows that
were not reversed must equal Locust's successes of that name exactly: a
terminal reverses every money request whose answer it did not get, so an
approval it never saw is reversed in the ledger too. Balance inquiries are
not reversed, so there an unanswered inquiry the host did approve is
allowed for (and reported). Declined rows must match Locust's failures of
that name and code one for one (the host records only the declines of a
request it processed; refusals before that, such as 77 or A0, leave no row).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from possim.errors import PossimError
from possim.host.clock import SystemClock
from possim.host.ledger import Ledger, Txn
from possim.host.policy import SqliteFactsProvider
from possim.load.summary import LoadSummary

#: Locust request names that leave a row in the ledger, and the ledger's txn_type for each.
LEDGER_NAMES = ("purchase", "balance", "void", "refund")
#: Failures the terminal decided locally: the host's answer never arrived or could not be trusted.
UNANSWERED_CODES = frozenset({"98", "91"})


def _connect(db_path: str | Path) -> sqlite3.Connection:
    path = Path(db_path)
    if not path.exists():
        raise PossimError(f"ledger {path}: no such host database")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def ledger_mark(db_path: str | Path) -> int:
    """The highest ledger row id now: take it before a run, reconcile only what came after."""
    conn = _connect(db_path)
    try:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM ledger_txns").fetchone()[0])
    finally:
        conn.close()


def ledger_rows(db_path: str | Path, *, since: int = 0, tids: Iterable[str] | None = None) -> list[Txn]:
    """The ledger's transactions after row ``since`` (of ``tids`` only, when given), via the host's Ledger."""
    conn = _connect(db_path)
    try:
        top = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM ledger_txns").fetchone()[0])
        if top <= since:
            return []
        ledger = Ledger(conn, SqliteFactsProvider(conn, SystemClock()))
        wanted = set(tids) if tids is not None else None
        return [t for t in ledger.list_txns(None, limit=top - since)
                if t.id > since and (wanted is None or t.tid in wanted)]
    finally:
        conn.close()


@dataclass(frozen=True)
class Line:
    """One comparison: Locust's count against the ledger's."""

    name: str
    what: str
    locust: int
    ledger: int
    ok: bool

    def __str__(self) -> str:
        mark = "ok" if self.ok else "MISMATCH"
        return f"{self.name:<9} {self.what:<26} locust {self.locust:>7}  ledger {self.ledger:>7}  {mark}"


@dataclass(frozen=True)
class Reconciliation:
    lines: tuple[Line, ...]
    tids: frozenset[str] = field(default_factory=frozenset)
    rows: int = 0

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)

    def report(self) -> str:
        head = (f"ledger reconciliation: {self.rows} ledger rows from {len(self.tids)} terminals: "
                + ("every entry accounted for" if self.ok else "MISMATCH"))
        return "\n".join([head, *(f"  {line}" for line in self.lines)])


def reconcile_rows(rows: Iterable[Txn], summary: LoadSummary) -> Reconciliation:
    """Compare ledger rows with Locust's counts (see the module docstring for the rules)."""
    rows = list(rows)
    kept: Counter[str] = Counter()
    declined: Counter[tuple[str, str]] = Counter()
    for txn in rows:
        if txn.approved:
            if txn.reversed_at is None:
                kept[txn.txn_type] += 1
        else:
            declined[(txn.txn_type, txn.response_code)] += 1
    lines: list[Line] = []
    for name in LEDGER_NAMES:
        entry = summary.entry(name)
        by_code = summary.failures_by_code(name)
        unanswered = sum(n for code, n in by_code.items() if code in UNANSWERED_CODES)
        if name == "balance":
            ok = entry.successes <= kept[name] <= entry.successes + unanswered
        else:
            ok = kept[name] == entry.successes
        lines.append(Line(name, "approved (not reversed)", entry.successes, kept[name], ok))
        for (txn_type, code), count in sorted(declined.items()):
            if txn_type == name:
                lines.append(Line(name, f"declined {code}", by_code.get(code, 0), count,
                                  by_code.get(code, 0) == count))
    tids = frozenset(t.tid for t in rows)
    return Reconciliation(tuple(lines), tids, len(rows))


def reconcile(db_path: str | Path, summary: LoadSummary, *, since: int = 0,
              tids: Iterable[str] | None = None) -> Reconciliation:
    """Reconcile the host database at ``db_path`` (rows after ``since``) with a run's summary."""
    return reconcile_rows(ledger_rows(db_path, since=since, tids=tids), summary)
