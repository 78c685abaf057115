"""Money checks shared by the fault tests: the terminal's journal against the host's ledger.

After any fault the books must agree: every purchase the terminal holds as approved is in the
host's ledger exactly once, approved, with the same reference number and not reversed; every
purchase the terminal reversed is, at the host, either absent or reversed (once: the ledger has
one row per TID/batch/STAN/MTI); and each card's balance is its opening balance less what stands
approved. Settlement then closes the batch as balanced without an upload.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Books:
    approved: int  # purchases the terminal holds as approved
    reversed: int  # purchases the terminal reversed
    host_reversed: int  # of those, how many the host had approved and then undid
    approved_fen: int


def _rows(path: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(str(path), timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


def reconcile(journal_db: Path, host_db: Path, tid: str) -> Books:
    terminal = _rows(journal_db, "SELECT stan, batch, status, rrn, amount_fen FROM transactions "
                                 "WHERE kind = 'purchase'")
    host = {(stan, batch): (code, rrn, reversed_at, amount)
            for stan, batch, code, rrn, reversed_at, amount in _rows(
                host_db, "SELECT stan, batch_no, response_code, rrn, reversed_at, amount_fen FROM ledger_txns "
                         "WHERE tid = ? AND mti = '0200' AND txn_type = 'purchase'", tid)}
    books = Books(0, 0, 0, 0)
    for stan, batch, status, rrn, amount in terminal:
        at_host = host.get((stan, batch))
        assert status not in ("pending", "reversal"), f"STAN {stan}: still {status} after the run"
        if status == "approved":
            assert at_host is not None, f"STAN {stan}: approved at the terminal, absent at the host"
            code, host_rrn, reversed_at, host_amount = at_host
            assert (code, host_rrn, reversed_at, host_amount) == ("00", rrn, None, amount), (stan, at_host)
            books.approved += 1
            books.approved_fen += amount
        elif status == "reversed":
            books.reversed += 1
            if at_host is not None and at_host[0] == "00":
                assert at_host[2] is not None, f"STAN {stan}: reversed at the terminal, standing at the host"
                books.host_reversed += 1
    standing = [k for k, (code, _, rev, _) in host.items() if code == "00" and rev is None]
    terminal_approved = {(s, b) for s, b, status, _, _ in terminal if status == "approved"}
    assert set(standing) == terminal_approved, "the host holds approvals the terminal does not know"
    return books


def balance(host_db: Path, pan: str) -> int:
    return int(_rows(host_db, "SELECT balance_fen FROM accounts WHERE pan = ?", pan)[0][0])
