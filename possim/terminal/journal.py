"""The terminal's journal: one SQLite file holding every transaction, the stored reversal and the last slip.

Why SQLite with WAL and ``synchronous=FULL``: a terminal may lose power at any
moment, and two facts must survive it -- an approved sale (it is money the
merchant settles) and a request whose answer never came (it must be reversed,
or the cardholder pays for goods never handed over). Each is committed before
the next step is taken: the request is written as ``pending`` before it goes
on the wire, and its outcome is written before the caller learns of it.

A transaction row moves through these states::

    pending --approved--> approved --(a void of it approved)--> voided
       |    --declined--> declined
       +--no/bad answer--> reversal --host answered the 0400--> reversed

A ``pending`` row found when the journal opens was interrupted mid-flight (the
process died): its outcome is unknown, so it becomes a reversal with reason
98, exactly as if the answer had timed out.

The journal keeps the PAN of each transaction because the batch upload and a
void need it (as a real terminal's journal does); it never keeps track 2, the
PIN block or any clear key, and nothing here logs or prints a PAN.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from possim.errors import PossimError
from possim.iso8583.masking import mask_pan

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    kind              TEXT NOT NULL CHECK (kind IN ('purchase', 'void', 'refund', 'balance')),
    mti               TEXT NOT NULL,
    stan              TEXT NOT NULL,
    batch             TEXT NOT NULL,
    amount_fen        INTEGER,
    pan               TEXT,
    expiry            TEXT,
    entry_mode        TEXT,
    status            TEXT NOT NULL
                      CHECK (status IN ('pending', 'approved', 'declined', 'reversal', 'reversed', 'voided')),
    response_code     TEXT,
    rrn               TEXT,
    auth_code         TEXT,
    host_date         TEXT,
    host_time         TEXT,
    original_id       INTEGER REFERENCES transactions(id),
    reversal_reason   TEXT,
    reversal_attempts INTEGER NOT NULL DEFAULT 0,
    reversal_code     TEXT,
    request           TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transactions_batch ON transactions(batch, status);
CREATE INDEX IF NOT EXISTS transactions_stan ON transactions(stan);
CREATE TABLE IF NOT EXISTS receipts (
    slot           TEXT PRIMARY KEY,
    transaction_id INTEGER REFERENCES transactions(id),
    text           TEXT NOT NULL,
    escpos         BLOB NOT NULL,
    created_at     TEXT NOT NULL
);
"""

REVERSAL_TIMEOUT = "98"
REVERSAL_BAD_RESPONSE = "96"
REVERSAL_MAC_ERROR = "A0"


class JournalError(PossimError):
    """The journal file cannot be used, or a lookup found nothing."""


@dataclass(frozen=True)
class JournalEntry:
    """One transaction as the journal holds it. ``repr`` never shows the PAN."""

    id: int
    kind: str
    mti: str
    stan: str
    batch: str
    amount_fen: int | None
    pan: str | None
    expiry: str | None
    entry_mode: str | None
    status: str
    response_code: str | None
    rrn: str | None
    auth_code: str | None
    host_date: str | None
    host_time: str | None
    original_id: int | None
    reversal_reason: str | None
    reversal_attempts: int
    reversal_code: str | None
    request: dict[str, Any]
    created_at: str
    updated_at: str

    @property
    def masked_pan(self) -> str | None:
        return mask_pan(self.pan) if self.pan else None

    def __repr__(self) -> str:
        return (f"JournalEntry(id={self.id}, kind={self.kind!r}, stan={self.stan!r}, batch={self.batch!r}, "
                f"amount_fen={self.amount_fen}, pan={self.masked_pan!r}, status={self.status!r})")

    def to_json(self) -> dict[str, Any]:
        """The record as shown to users (transaction query): masked PAN, no request fields."""
        return {"id": self.id, "kind": self.kind, "stan": self.stan, "batch": self.batch,
                "amount_fen": self.amount_fen, "pan": self.masked_pan, "status": self.status,
                "response_code": self.response_code, "rrn": self.rrn, "auth_code": self.auth_code,
                "host_date": self.host_date, "host_time": self.host_time, "original_id": self.original_id,
                "reversal_reason": self.reversal_reason, "created_at": self.created_at}


@dataclass(frozen=True)
class Totals:
    """Settlement totals of one batch: purchases (debit) and refunds (credit), voided purchases left out."""

    debit_fen: int
    debit_count: int
    credit_fen: int
    credit_count: int


@dataclass(frozen=True)
class StoredReceipt:
    transaction_id: int | None
    text: str
    escpos: bytes
    created_at: str


_COLUMNS = ("id, kind, mti, stan, batch, amount_fen, pan, expiry, entry_mode, status, response_code, rrn, "
            "auth_code, host_date, host_time, original_id, reversal_reason, reversal_attempts, reversal_code, "
            "request, created_at, updated_at")


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    values = list(row)
    values[19] = json.loads(values[19])
    return JournalEntry(*values)


class Journal:
    """The terminal's one database. One connection, used from the terminal's event loop thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None)
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=10000")
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalError(f"journal {self.path}: schema version {version} is newer than this possim "
                                   f"({SCHEMA_VERSION})")
            self.conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: {exc}") from None
        if str(mode).lower() != "wal" and self.path != ":memory:":
            raise JournalError(f"journal {self.path}: the file system refused WAL mode")

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:  # a failed COMMIT leaves it open; the next BEGIN would fail
                self.conn.execute("ROLLBACK")
            raise

    # --- key/value state (see possim.terminal.state) ----------------------

    def get_state(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM state WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, **values: str | None) -> None:
        with self.transaction() as conn:
            for name, value in values.items():
                if value is None:
                    conn.execute("DELETE FROM state WHERE name = ?", (name,))
                else:
                    conn.execute("INSERT INTO state(name, value) VALUES(?, ?) "
                                 "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (name, value))

    # --- transactions -----------------------------------------------------

    def record_pending(self, *, kind: str, mti: str, stan: str, batch: str, amount_fen: int | None,
                       pan: str | None, expiry: str | None, entry_mode: str | None, request: dict[str, Any],
                       now: datetime, original_id: int | None = None) -> int:
        """Write the request before it is sent; its id is what the outcome is recorded against."""
        stamp = now.isoformat(timespec="seconds")
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO transactions(kind, mti, stan, batch, amount_fen, pan, expiry, entry_mode, status, "
                "original_id, request, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                (kind, mti, stan, batch, amount_fen, pan, expiry, entry_mode, original_id,
                 json.dumps(request, sort_keys=True), stamp, stamp))
            return int(cur.lastrowid or 0)

    def approve(self, entry_id: int, *, code: str, rrn: str | None, auth_code: str | None,
                host_date: str | None, host_time: str | None, now: datetime) -> None:
        """Commit an approval; an approved void marks its original purchase voided in the same commit."""
        stamp = now.isoformat(timespec="seconds")
        with self.transaction() as conn:
            self._require_status(entry_id, "pending")
            conn.execute("UPDATE transactions SET status = 'approved', response_code = ?, rrn = ?, auth_code = ?, "
                         "host_date = ?, host_time = ?, updated_at = ? WHERE id = ?",
                         (code, rrn, auth_code, host_date, host_time, stamp, entry_id))
            entry = self.get(entry_id)
            if entry.kind == "void" and entry.original_id is not None:
                conn.execute("UPDATE transactions SET status = 'voided', updated_at = ? WHERE id = ?",
                             (stamp, entry.original_id))

    def decline(self, entry_id: int, *, code: str, now: datetime) -> None:
        with self.transaction() as conn:
            self._require_status(entry_id, "pending")
            conn.execute("UPDATE transactions SET status = 'declined', response_code = ?, updated_at = ? "
                         "WHERE id = ?", (code, now.isoformat(timespec="seconds"), entry_id))

    def discard(self, entry_id: int) -> None:
        """The request never left the terminal (no link): nothing to reverse, nothing to keep."""
        with self.transaction() as conn:
            self._require_status(entry_id, "pending")
            conn.execute("DELETE FROM transactions WHERE id = ?", (entry_id,))

    def store_reversal(self, entry_id: int, *, reason: str, now: datetime) -> None:
        """The answer did not come, or could not be trusted: the request must be reversed."""
        with self.transaction() as conn:
            conn.execute("UPDATE transactions SET status = 'reversal', reversal_reason = ?, updated_at = ? "
                         "WHERE id = ? AND status = 'pending'", (reason, now.isoformat(timespec="seconds"), entry_id))

    def recover(self, now: datetime) -> list[int]:
        """At start-up: requests left pending by a dead process become reversals (reason 98)."""
        with self.transaction() as conn:
            ids = [int(r[0]) for r in conn.execute("SELECT id FROM transactions WHERE status = 'pending'")]
            conn.execute("UPDATE transactions SET status = 'reversal', reversal_reason = ?, updated_at = ? "
                         "WHERE status = 'pending'", (REVERSAL_TIMEOUT, now.isoformat(timespec="seconds")))
        return ids

    def reversals(self) -> list[JournalEntry]:
        """Stored reversals, oldest first: they are sent in this order until each is answered."""
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM transactions WHERE status = 'reversal' ORDER BY id")
        return [_entry(r) for r in rows]

    def reversal_attempted(self, entry_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE transactions SET reversal_attempts = reversal_attempts + 1, updated_at = ? "
                         "WHERE id = ?", (now.isoformat(timespec="seconds"), entry_id))

    def reversal_answered(self, entry_id: int, code: str, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE transactions SET status = 'reversed', reversal_code = ?, updated_at = ? "
                         "WHERE id = ? AND status = 'reversal'", (code, now.isoformat(timespec="seconds"), entry_id))

    def _require_status(self, entry_id: int, status: str) -> None:
        entry = self.get(entry_id)
        if entry.status != status:
            raise JournalError(f"journal entry {entry_id}: is {entry.status}, expected {status}")

    # --- lookups ----------------------------------------------------------

    def get(self, entry_id: int) -> JournalEntry:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM transactions WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            raise JournalError(f"journal: no transaction with id {entry_id}")
        return _entry(row)

    def find(self, *, stan: str | None = None, rrn: str | None = None, batch: str | None = None,
             kind: str | None = None) -> JournalEntry | None:
        """The latest transaction matching all given keys (voucher no., reference no., batch, kind)."""
        clauses, params = [], []
        for column, value in (("stan", stan), ("rrn", rrn), ("batch", batch), ("kind", kind)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = " AND ".join(clauses) or "1"
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM transactions WHERE {where} ORDER BY id DESC LIMIT 1",
                                params).fetchone()
        return None if row is None else _entry(row)

    def records(self, *, batch: str | None = None, limit: int = 100) -> list[JournalEntry]:
        """Newest first: the transaction-records query of the terminal menu."""
        if batch is None:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM transactions ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM transactions WHERE batch = ? ORDER BY id DESC "
                                     "LIMIT ?", (batch, limit))
        return [_entry(r) for r in rows]

    def totals(self, batch: str) -> Totals:
        """What settlement reports: approved (not voided) purchases, approved refunds."""
        debit = self.conn.execute("SELECT COALESCE(SUM(amount_fen), 0), COUNT(*) FROM transactions "
                                  "WHERE batch = ? AND kind = 'purchase' AND status = 'approved'", (batch,)).fetchone()
        credit = self.conn.execute("SELECT COALESCE(SUM(amount_fen), 0), COUNT(*) FROM transactions "
                                   "WHERE batch = ? AND kind = 'refund' AND status = 'approved'", (batch,)).fetchone()
        return Totals(int(debit[0]), int(debit[1]), int(credit[0]), int(credit[1]))

    def batch_lines(self, batch: str) -> list[JournalEntry]:
        """The transactions a batch upload sends: the ones the totals count."""
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM transactions WHERE batch = ? AND status = 'approved' "
                                 "AND kind IN ('purchase', 'refund') ORDER BY id", (batch,))
        return [_entry(r) for r in rows]

    # --- the last slip (reprint) -----------------------------------------

    def save_receipt(self, transaction_id: int | None, text: str, escpos: bytes, now: datetime,
                     slot: str = "last") -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO receipts(slot, transaction_id, text, escpos, created_at) VALUES(?, ?, ?, ?, ?) "
                         "ON CONFLICT(slot) DO UPDATE SET transaction_id = excluded.transaction_id, "
                         "text = excluded.text, escpos = excluded.escpos, created_at = excluded.created_at",
                         (slot, transaction_id, text, escpos, now.isoformat(timespec="seconds")))

    def last_receipt(self, slot: str = "last") -> StoredReceipt | None:
        row = self.conn.execute("SELECT transaction_id, text, escpos, created_at FROM receipts WHERE slot = ?",
                                (slot,)).fetchone()
        return None if row is None else StoredReceipt(row[0], row[1], bytes(row[2]), row[3])
