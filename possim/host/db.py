"""The host's SQLite database: durable settings, ordered migrations, transactions.

Durability: WAL journal with ``synchronous=FULL``, so a commit is on disk
(the WAL fsynced) before the call returns -- an approved entry survives a
``kill -9`` or power cut the moment its transaction commits.

Threads: one connection per thread. ``open_db`` keeps Python's default
``check_same_thread=True``, so handing a connection to another thread fails
loudly instead of corrupting a transaction in flight. Several connections
(threads or processes, e.g. the running host and ``possim host cases list``)
share one file safely through WAL; writers wait up to ``BUSY_TIMEOUT_S`` for
the write lock.

Transactions: ``with transaction(conn):`` starts ``BEGIN IMMEDIATE`` (the write
lock is taken up front, so a read-check-then-write step such as a state
transition cannot interleave with another writer), commits on success and
rolls back on any exception. Nested use joins the outer transaction, so a
case step can unbind a terminal and update its case in one commit.
``with conn:`` also still works for plain write batches.

Migrations: ``MIGRATIONS`` is an ordered list; ``PRAGMA user_version`` holds
how many have been applied. Adding tables (the ledger, say) is appending one
``Migration`` to the list -- never edit or reorder an entry that has shipped.
Each migration runs in its own transaction together with the version bump.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from possim.errors import PossimError

BUSY_TIMEOUT_S = 10.0


class DatabaseError(PossimError):
    """The database file cannot be used (newer schema, no WAL, bad path)."""


@dataclass(frozen=True)
class Migration:
    """One schema step: a name for humans and the SQL script that makes it."""

    name: str
    sql: str


_BACKOFFICE_V1 = """
CREATE TABLE merchants (
    mid                TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    deposit_fen        INTEGER NOT NULL CHECK (deposit_fen >= 0),
    deposit_refundable INTEGER NOT NULL CHECK (deposit_refundable IN (0, 1)),
    contract_start     TEXT NOT NULL,
    fee_schedule       TEXT NOT NULL,
    created_at         TEXT NOT NULL
);

CREATE TABLE terminals (
    tid             TEXT PRIMARY KEY,
    state           TEXT NOT NULL
                    CHECK (state IN ('registered', 'bound', 'unbound', 'deregistered')),
    mid             TEXT REFERENCES merchants(mid),
    tmk_ref         TEXT,
    registered_at   TEXT NOT NULL,
    bound_at        TEXT,
    unbound_at      TEXT,
    deregistered_at TEXT
);

CREATE TABLE terminal_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tid        TEXT NOT NULL REFERENCES terminals(tid),
    at         TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    mid        TEXT
);

CREATE TABLE deposits (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    mid                 TEXT NOT NULL REFERENCES merchants(mid),
    tid                 TEXT NOT NULL REFERENCES terminals(tid),
    amount_fen          INTEGER NOT NULL CHECK (amount_fen >= 0),
    refundable          INTEGER NOT NULL CHECK (refundable IN (0, 1)),
    paid_at             TEXT NOT NULL,
    refunded_fen        INTEGER CHECK (refunded_fen >= 0),
    refund_method       TEXT,
    refund_due          TEXT,
    refund_issued_at    TEXT,
    refund_confirmed_at TEXT
);
CREATE INDEX deposits_by_terminal ON deposits (tid, mid);

-- Review facts. The transaction ledger feeds these; no foreign keys so the
-- ledger may record traffic from a terminal the back office never saw.
CREATE TABLE txn_counters (
    tid        TEXT NOT NULL,
    mid        TEXT NOT NULL,
    txn_count  INTEGER NOT NULL DEFAULT 0,
    volume_fen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tid, mid)
);

CREATE TABLE batches (
    tid        TEXT NOT NULL,
    mid        TEXT NOT NULL,
    batch_no   TEXT NOT NULL,
    opened_at  TEXT NOT NULL,
    settled_at TEXT,
    PRIMARY KEY (tid, mid, batch_no)
);

CREATE TABLE disputes (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tid       TEXT NOT NULL,
    mid       TEXT NOT NULL,
    reference TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT
);

CREATE TABLE return_cases (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    mid                TEXT NOT NULL REFERENCES merchants(mid),
    tid                TEXT NOT NULL REFERENCES terminals(tid),
    state              TEXT NOT NULL,
    reason             TEXT NOT NULL,
    contact            TEXT NOT NULL,
    identity_proof_ref TEXT NOT NULL,
    purchase_proof_ref TEXT NOT NULL,
    applied_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    appeals            INTEGER NOT NULL DEFAULT 0,
    decided_at         TEXT,
    decision_json      TEXT,
    refund_fen         INTEGER,
    refund_due         TEXT,
    refund_method      TEXT,
    deposit_id         INTEGER REFERENCES deposits(id),
    overdue_flagged_at TEXT
);
CREATE INDEX return_cases_by_merchant ON return_cases (mid, state);

CREATE TABLE case_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id     INTEGER NOT NULL REFERENCES return_cases(id),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    detail_json TEXT NOT NULL
);
CREATE INDEX case_events_by_case ON case_events (case_id, id);
"""

# The transaction ledger (possim/host/ledger.py): card accounts, every
# financial request the host authorised or declined, reversals, per-terminal
# batches and key sessions. Full PANs are kept because the host must match
# voids and refunds to their originals; nothing here is ever printed unmasked.
_LEDGER_V1 = """
CREATE TABLE accounts (
    pan          TEXT PRIMARY KEY,
    pin_hash     TEXT,
    pin_required INTEGER NOT NULL DEFAULT 0 CHECK (pin_required IN (0, 1)),
    pin_tries    INTEGER NOT NULL DEFAULT 0,
    expiry       TEXT NOT NULL,
    balance_fen  INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('normal', 'lost', 'stolen', 'blocked')),
    limit_fen    INTEGER,
    kind         TEXT NOT NULL CHECK (kind IN ('debit', 'credit', 'foreign')),
    source       TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE ledger_txns (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT NOT NULL,
    local_date     TEXT NOT NULL,
    tid            TEXT NOT NULL,
    mid            TEXT NOT NULL,
    batch_no       TEXT NOT NULL,
    stan           TEXT NOT NULL,
    mti            TEXT NOT NULL,
    txn_type       TEXT NOT NULL,
    pan            TEXT,
    card_kind      TEXT,
    amount_fen     INTEGER NOT NULL,
    response_code  TEXT NOT NULL,
    rrn            TEXT,
    auth_code      TEXT,
    original_id    INTEGER REFERENCES ledger_txns(id),
    balance_effect INTEGER NOT NULL DEFAULT 0,
    refunded_fen   INTEGER NOT NULL DEFAULT 0,
    voided_by      INTEGER REFERENCES ledger_txns(id),
    reversed_at    TEXT,
    UNIQUE (tid, batch_no, stan, mti)
);
CREATE INDEX ledger_txns_by_rrn ON ledger_txns (rrn);
CREATE INDEX ledger_txns_by_batch ON ledger_txns (tid, batch_no);

CREATE TABLE ledger_reversals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    tid         TEXT NOT NULL,
    batch_no    TEXT NOT NULL,
    stan        TEXT NOT NULL,
    txn_type    TEXT NOT NULL,
    amount_fen  INTEGER NOT NULL,
    reason      TEXT,
    original_id INTEGER REFERENCES ledger_txns(id),
    applied     INTEGER NOT NULL CHECK (applied IN (0, 1)),
    answers     INTEGER NOT NULL DEFAULT 1,
    UNIQUE (tid, batch_no, stan)
);

CREATE TABLE ledger_batches (
    tid             TEXT NOT NULL,
    mid             TEXT NOT NULL,
    batch_no        TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    settled_at      TEXT,
    result          TEXT,
    terminal_totals TEXT,
    host_totals     TEXT,
    PRIMARY KEY (tid, batch_no)
);

CREATE TABLE batch_upload_lines (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tid        TEXT NOT NULL,
    batch_no   TEXT NOT NULL,
    at         TEXT NOT NULL,
    pan_last4  TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    stan       TEXT NOT NULL,
    matched    INTEGER NOT NULL CHECK (matched IN (0, 1))
);

CREATE TABLE key_sessions (
    tid           TEXT PRIMARY KEY,
    key_mode      TEXT NOT NULL,
    mac_algorithm TEXT NOT NULL,
    pik_wrapped   TEXT NOT NULL,
    mak_wrapped   TEXT NOT NULL,
    tdk_wrapped   TEXT,
    signed_in_at  TEXT NOT NULL,
    signed_off_at TEXT,
    operator      TEXT
);

CREATE TABLE host_counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

# ledger_txns_by_batch (tid, batch_no) repeats the first two columns of the UNIQUE (tid, batch_no, stan, mti)
# index, which serves every lookup by terminal and batch as well; each transaction row paid for both.
_LEDGER_V2 = """
DROP INDEX IF EXISTS ledger_txns_by_batch;
"""

#: Applied in order; ``PRAGMA user_version`` = number applied. Append only.
MIGRATIONS: list[Migration] = [
    Migration("back office: merchants, terminals, deposits, review facts, return cases", _BACKOFFICE_V1),
    Migration("ledger: accounts, transactions, reversals, batches, batch uploads, key sessions", _LEDGER_V1),
    Migration("ledger: drop ledger_txns_by_batch (the unique index's prefix serves the same lookups)", _LEDGER_V2),
]


def open_db(path: str | Path, migrations: Sequence[Migration] | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the host database and bring its schema up to date."""
    steps = MIGRATIONS if migrations is None else migrations
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open host database {path}: {exc}") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal" and str(path) != ":memory:":
            raise DatabaseError(f"host database {path}: journal_mode is {mode!r}, WAL is required")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn, steps, label=str(path))
    except BaseException:
        conn.close()
        raise
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], label: str = "database") -> int:
    """Apply the migrations not yet applied; return the resulting version."""
    current = schema_version(conn)
    if current > len(migrations):
        raise DatabaseError(
            f"{label}: schema version {current} is newer than this possim knows ({len(migrations)})")
    for number, step in enumerate(migrations[current:], start=current + 1):
        try:
            # executescript commits anything pending first, then runs the script;
            # the explicit BEGIN/COMMIT makes the step and its version bump atomic.
            conn.executescript(f"BEGIN IMMEDIATE;\n{step.sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            raise DatabaseError(f"{label}: migration {number} ({step.name}) failed: {exc}") from exc
    return schema_version(conn)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction: ``BEGIN IMMEDIATE`` .. commit, or rollback on error.

    Inside an open transaction it joins it (the outermost one commits)."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    try:
        conn.commit()
    except BaseException:
        # A failed COMMIT leaves the transaction open: end it, or the next caller would join it
        # (and never commit) instead of beginning its own.
        if conn.in_transaction:
            conn.rollback()
        raise
