"""The host's transaction ledger in SQLite: card accounts, transactions,
reversals, batches and uploads.

Durability is the point of this module: the processor calls it inside one
database transaction per request (or per group of requests, see
``Processor.handle_batch``) and only builds the responses after the commit, so
an approval that was answered is on disk (WAL, ``synchronous=FULL``) and a
``kill -9`` loses nothing that a terminal was told.

The ledger also feeds the back office's review facts
(``SqliteFactsProvider``): approved purchases count towards the
transaction-count and volume thresholds (a void or reversal takes them back),
and every batch a terminal opens stays "unsettled" for the return review
until it is settled.

The ledger decides nothing: which code a request gets is decided by the
callers (``cards.py``, ``processor.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from possim.host.clock import local_date
from possim.host.config import CardConfig, DefaultCard
from possim.host.policy import SqliteFactsProvider
from possim.host.settlement import BatchTotals, PartTotals


def pin_hash(pan: str, pin: str) -> str:
    """What the ledger keeps instead of a PIN."""
    return hashlib.sha256(f"{pan}:{pin}".encode("ascii")).hexdigest()


def mask_pan(pan: str | None) -> str:
    if not pan:
        return ""
    return pan[:6] + "*" * max(0, len(pan) - 10) + pan[-4:] if len(pan) > 10 else "*" * len(pan)


@dataclass(frozen=True)
class Account:
    pan: str
    pin_hash: str | None
    pin_required: bool
    pin_tries: int
    expiry: str
    balance_fen: int
    status: str
    limit_fen: int | None
    kind: str

    def pin_matches(self, pin: str) -> bool:
        return self.pin_hash is not None and hmac.compare_digest(self.pin_hash, pin_hash(self.pan, pin))

    def __repr__(self) -> str:
        return (f"Account(pan={mask_pan(self.pan)}, kind={self.kind}, status={self.status}, "
                f"balance_fen={self.balance_fen})")


@dataclass(frozen=True)
class Txn:
    id: int
    at: str
    local_date: str
    tid: str
    mid: str
    batch_no: str
    stan: str
    mti: str
    txn_type: str
    pan: str | None
    card_kind: str | None
    amount_fen: int
    response_code: str
    rrn: str | None
    auth_code: str | None
    original_id: int | None
    balance_effect: int
    refunded_fen: int
    voided_by: int | None
    reversed_at: str | None

    @property
    def approved(self) -> bool:
        return self.response_code == "00"

    def to_json(self, unmask: bool = False) -> dict[str, object]:
        out = {k: getattr(self, k) for k in _TXN_COLS.split(", ")}
        out["pan"] = self.pan if unmask else mask_pan(self.pan)
        return out

    def __repr__(self) -> str:
        return f"Txn(id={self.id}, {self.txn_type}, tid={self.tid}, stan={self.stan}, rc={self.response_code})"


@dataclass(frozen=True)
class Reversal:
    id: int
    tid: str
    batch_no: str
    stan: str
    original_id: int | None
    applied: bool
    answers: int


@dataclass(frozen=True)
class Batch:
    tid: str
    mid: str
    batch_no: str
    opened_at: str
    settled_at: str | None
    result: str | None

    def to_json(self) -> dict[str, object]:
        return {"tid": self.tid, "mid": self.mid, "batch_no": self.batch_no, "opened_at": self.opened_at,
                "settled_at": self.settled_at, "result": self.result}


_ACCOUNT_COLS = "pan, pin_hash, pin_required, pin_tries, expiry, balance_fen, status, limit_fen, kind"
_TXN_COLS = ("id, at, local_date, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind, amount_fen, "
             "response_code, rrn, auth_code, original_id, balance_effect, refunded_fen, voided_by, reversed_at")


def _account(row: tuple) -> Account:
    pan, ph, req, tries, expiry, balance, status, limit, kind = row
    return Account(pan, ph, bool(req), tries, expiry, balance, status, limit, kind)


def _txn(row: tuple) -> Txn:
    return Txn(*row)


#: ``INSERT .. RETURNING`` (SQLite 3.35) bumps a counter and reads it in one statement.
_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)


class Ledger:
    """Ledger reads and writes over the processor's connection.

    Every write joins the caller's open transaction; nothing here commits.

    Card accounts and each terminal's open batch are read on every purchase,
    so they are cached; every write here keeps the cache right, and the
    owner calls :meth:`clear_cache` whenever something else may have written
    (another connection, a rolled-back request)."""

    def __init__(self, conn: sqlite3.Connection, facts: SqliteFactsProvider) -> None:
        self.conn = conn
        self.facts = facts
        self._accounts: dict[str, Account] = {}
        self._open_batches: dict[str, Batch | None] = {}
        self._counters: dict[str, list[int]] = {}  # name -> [value handed out, value in the table]
        self._holding = False
        self._rrn_day: tuple[tuple[int, int, int], str] | None = None  # (y, m, d) and its 4-character prefix

    def clear_cache(self, *, counters: bool = True) -> None:
        """Forget what was read. ``counters=False`` keeps the held counters: after one request of a
        group is undone, numbers the others already took must not be handed out again."""
        self._accounts.clear()
        self._open_batches.clear()
        if counters:
            self._counters.clear()

    @contextmanager
    def counters_held(self) -> Iterator[None]:
        """Inside the caller's transaction: counters move in memory and are written once, at the end
        (one statement per group of requests instead of one per RRN). On an error they are forgotten
        (the transaction that would have stored them is being rolled back)."""
        self._holding = True
        try:
            yield
            for name, entry in self._counters.items():
                if entry[0] != entry[1]:
                    self.conn.execute("INSERT INTO host_counters (name, value) VALUES (?, ?) "
                                      "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, entry[0]))
                    entry[1] = entry[0]
        except BaseException:
            self._counters.clear()
            raise
        finally:
            self._holding = False

    # -- accounts -----------------------------------------------------------------

    def seed_card(self, card: CardConfig, now: datetime) -> bool:
        """Create the account if it does not exist; an existing account is left as the ledger has it."""
        cur = self.conn.execute(
            f"INSERT INTO accounts ({_ACCOUNT_COLS}, source, created_at) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, "
            "'config', ?) ON CONFLICT (pan) DO NOTHING",
            (card.pan, pin_hash(card.pan, card.pin) if card.pin else None, int(card.pin_required),
             card.expiry, card.balance_fen, card.status, card.limit_fen, card.kind, now.isoformat()))
        self._accounts.pop(card.pan, None)
        return cur.rowcount == 1

    def account(self, pan: str) -> Account | None:
        cached = self._accounts.get(pan)
        if cached is not None:
            return cached
        row = self.conn.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE pan = ?", (pan,)).fetchone()
        if row is None:
            return None
        account = self._accounts[pan] = _account(row)
        return account

    def provision(self, pan: str, default: DefaultCard, expiry: str, now: datetime) -> Account:
        """An unknown card met for the first time, created from the ``default_card`` block."""
        self.conn.execute(
            f"INSERT INTO accounts ({_ACCOUNT_COLS}, source, created_at) VALUES (?, NULL, 0, 0, ?, ?, 'normal', "
            "?, ?, 'default_card', ?) ON CONFLICT (pan) DO NOTHING",
            (pan, expiry, default.balance_fen, default.limit_fen, default.kind, now.isoformat()))
        account = self.account(pan)
        assert account is not None
        return account

    def set_pin_tries(self, pan: str, tries: int) -> None:
        self.conn.execute("UPDATE accounts SET pin_tries = ? WHERE pan = ?", (tries, pan))
        self._accounts.pop(pan, None)

    def adjust_balance(self, pan: str, delta_fen: int) -> None:
        self.conn.execute("UPDATE accounts SET balance_fen = balance_fen + ? WHERE pan = ?", (delta_fen, pan))
        a = self._accounts.get(pan)
        if a is not None:
            self._accounts[pan] = Account(a.pan, a.pin_hash, a.pin_required, a.pin_tries, a.expiry,
                                          a.balance_fen + delta_fen, a.status, a.limit_fen, a.kind)

    def list_accounts(self) -> list[Account]:
        return [_account(r) for r in self.conn.execute(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY pan")]

    # -- counters -----------------------------------------------------------------

    def next_counter(self, name: str) -> int:
        if self._holding:
            entry = self._counters.get(name)
            if entry is None:
                row = self.conn.execute("SELECT value FROM host_counters WHERE name = ?", (name,)).fetchone()
                stored = int(row[0]) if row else 0
                entry = self._counters[name] = [stored, stored]
            entry[0] += 1
            return entry[0]
        self._counters.pop(name, None)
        upsert = ("INSERT INTO host_counters (name, value) VALUES (?, 1) "
                  "ON CONFLICT (name) DO UPDATE SET value = value + 1")
        if _HAS_RETURNING:
            return int(self.conn.execute(upsert + " RETURNING value", (name,)).fetchall()[0][0])
        self.conn.execute(upsert, (name,))
        return int(self.conn.execute("SELECT value FROM host_counters WHERE name = ?", (name,)).fetchone()[0])

    def next_rrn(self, now: datetime) -> str:
        """12 characters: the year's last digit and day of year (4), then a 8-digit sequence."""
        day = (now.year, now.month, now.day)
        if self._rrn_day is None or self._rrn_day[0] != day:
            self._rrn_day = (day, f"{now.year % 10}{now.timetuple().tm_yday:03d}")
        return f"{self._rrn_day[1]}{self.next_counter('rrn') % 10**8:08d}"

    # -- transactions -------------------------------------------------------------

    def seen(self, tid: str, batch_no: str, stan: str, mti: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM ledger_txns WHERE tid = ? AND batch_no = ? AND stan = ? AND mti = ?",
            (tid, batch_no, stan, mti)).fetchone() is not None

    def record(self, *, now: datetime, tid: str, mid: str, batch_no: str, stan: str, mti: str, txn_type: str,
               pan: str | None, card_kind: str | None, amount_fen: int, response_code: str,
               rrn: str | None = None, auth_code: str | None = None, original_id: int | None = None,
               balance_effect: int = 0) -> Txn:
        """Append one transaction; an approved one moves the card's balance by ``balance_effect``."""
        at, day = now.isoformat(), local_date(now).isoformat()
        txn_id = self.insert_txn(at=at, day=day, tid=tid, mid=mid, batch_no=batch_no, stan=stan, mti=mti,
                                 txn_type=txn_type, pan=pan, card_kind=card_kind, amount_fen=amount_fen,
                                 response_code=response_code, rrn=rrn, auth_code=auth_code,
                                 original_id=original_id, balance_effect=balance_effect)
        # The row as the table now holds it (the columns not inserted start at their defaults),
        # without reading it back.
        return Txn(txn_id, at, day, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind,
                   amount_fen, response_code, rrn, auth_code, original_id, balance_effect, 0, None, None)

    def record_id(self, *, now: datetime, tid: str, mid: str, batch_no: str, stan: str, mti: str, txn_type: str,
                  pan: str | None, card_kind: str | None, amount_fen: int, response_code: str,
                  rrn: str | None = None, auth_code: str | None = None, original_id: int | None = None,
                  balance_effect: int = 0) -> int:
        """:meth:`record` for a caller that needs only the new row's id (no ``Txn`` built)."""
        return self.insert_txn(at=now.isoformat(), day=local_date(now).isoformat(), tid=tid, mid=mid,
                               batch_no=batch_no, stan=stan, mti=mti, txn_type=txn_type, pan=pan,
                               card_kind=card_kind, amount_fen=amount_fen, response_code=response_code, rrn=rrn,
                               auth_code=auth_code, original_id=original_id, balance_effect=balance_effect)

    def insert_txn(self, *, at: str, day: str, tid: str, mid: str, batch_no: str, stan: str, mti: str,
                   txn_type: str, pan: str | None, card_kind: str | None, amount_fen: int, response_code: str,
                   rrn: str | None, auth_code: str | None, original_id: int | None, balance_effect: int) -> int:
        cur = self.conn.execute(
            "INSERT INTO ledger_txns (at, local_date, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind, "
            "amount_fen, response_code, rrn, auth_code, original_id, balance_effect) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (at, day, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind,
             amount_fen, response_code, rrn, auth_code, original_id, balance_effect))
        if response_code == "00" and balance_effect and pan:
            self.adjust_balance(pan, balance_effect)
        return int(cur.lastrowid or 0)

    def txn(self, txn_id: int) -> Txn | None:
        row = self.conn.execute(f"SELECT {_TXN_COLS} FROM ledger_txns WHERE id = ?", (txn_id,)).fetchone()
        return _txn(row) if row else None

    def approved_by_rrn(self, rrn: str, txn_type: str) -> Txn | None:
        row = self.conn.execute(
            f"SELECT {_TXN_COLS} FROM ledger_txns WHERE rrn = ? AND txn_type = ? AND response_code = '00' "
            "ORDER BY id DESC LIMIT 1", (rrn, txn_type)).fetchone()
        return _txn(row) if row else None

    def by_stan(self, tid: str, batch_no: str, stan: str, mti: str) -> Txn | None:
        row = self.conn.execute(
            f"SELECT {_TXN_COLS} FROM ledger_txns WHERE tid = ? AND batch_no = ? AND stan = ? AND mti = ?",
            (tid, batch_no, stan, mti)).fetchone()
        return _txn(row) if row else None

    def mark_voided(self, original_id: int, void_id: int | None) -> None:
        self.conn.execute("UPDATE ledger_txns SET voided_by = ? WHERE id = ?", (void_id, original_id))

    def mark_reversed(self, txn_id: int, now: datetime) -> None:
        self.conn.execute("UPDATE ledger_txns SET reversed_at = ? WHERE id = ?", (now.isoformat(), txn_id))

    def add_refunded(self, original_id: int, amount_fen: int) -> None:
        self.conn.execute("UPDATE ledger_txns SET refunded_fen = refunded_fen + ? WHERE id = ?",
                          (amount_fen, original_id))

    def count_purchase(self, tid: str, mid: str, amount_fen: int, count: int) -> None:
        """Feed (or take back from) the review facts' transaction count and volume."""
        self.facts.record_transaction(tid, mid, amount_fen, count)

    def list_txns(self, tid: str | None = None, limit: int = 100) -> list[Txn]:
        sql = f"SELECT {_TXN_COLS} FROM ledger_txns"
        args: list[object] = []
        if tid:
            sql += " WHERE tid = ?"
            args.append(tid)
        rows = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [_txn(r) for r in reversed(rows)]

    # -- reversals -----------------------------------------------------------------

    def reversal(self, tid: str, batch_no: str, stan: str) -> Reversal | None:
        row = self.conn.execute(
            "SELECT id, tid, batch_no, stan, original_id, applied, answers FROM ledger_reversals "
            "WHERE tid = ? AND batch_no = ? AND stan = ?", (tid, batch_no, stan)).fetchone()
        return Reversal(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6]) if row else None

    def record_reversal(self, *, now: datetime, tid: str, batch_no: str, stan: str, txn_type: str,
                        amount_fen: int, reason: str | None, original_id: int | None, applied: bool) -> None:
        self.conn.execute(
            "INSERT INTO ledger_reversals (at, tid, batch_no, stan, txn_type, amount_fen, reason, original_id, "
            "applied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now.isoformat(), tid, batch_no, stan, txn_type, amount_fen, reason, original_id, int(applied)))

    def count_repeat_reversal(self, reversal_id: int) -> None:
        self.conn.execute("UPDATE ledger_reversals SET answers = answers + 1 WHERE id = ?", (reversal_id,))

    # -- batches -------------------------------------------------------------------

    def open_batch(self, tid: str) -> Batch | None:
        try:
            return self._open_batches[tid]
        except KeyError:
            pass
        row = self.conn.execute(
            "SELECT tid, mid, batch_no, opened_at, settled_at, result FROM ledger_batches "
            "WHERE tid = ? AND settled_at IS NULL ORDER BY opened_at DESC LIMIT 1", (tid,)).fetchone()
        batch = self._open_batches[tid] = Batch(*row) if row else None
        return batch

    def batch(self, tid: str, batch_no: str) -> Batch | None:
        row = self.conn.execute(
            "SELECT tid, mid, batch_no, opened_at, settled_at, result FROM ledger_batches "
            "WHERE tid = ? AND batch_no = ?", (tid, batch_no)).fetchone()
        return Batch(*row) if row else None

    def start_batch(self, tid: str, mid: str, batch_no: str, now: datetime) -> Batch:
        self.conn.execute(
            "INSERT INTO ledger_batches (tid, mid, batch_no, opened_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (tid, batch_no) DO NOTHING", (tid, mid, batch_no, now.isoformat()))
        self._open_batches.pop(tid, None)
        self.facts.open_batch(tid, mid, batch_no)
        batch = self.batch(tid, batch_no)
        assert batch is not None
        return batch

    def totals(self, tid: str, batch_no: str) -> BatchTotals:
        """What the host's ledger says the terminal's batch holds (voided and reversed left out)."""
        parts: dict[bool, dict[str, tuple[int, int]]] = {False: {}, True: {}}
        for txn_type, foreign, total, count in self.conn.execute(
                "SELECT txn_type, card_kind = 'foreign', COALESCE(SUM(amount_fen), 0), COUNT(*) FROM ledger_txns "
                "WHERE tid = ? AND batch_no = ? AND response_code = '00' AND voided_by IS NULL "
                "AND reversed_at IS NULL AND txn_type IN ('purchase', 'refund') GROUP BY 1, 2",
                (tid, batch_no)):
            parts[bool(foreign)][txn_type] = (int(total), int(count))

        def part(p: dict[str, tuple[int, int]]) -> PartTotals:
            debit, credit = p.get("purchase", (0, 0)), p.get("refund", (0, 0))
            return PartTotals(debit[0], debit[1], credit[0], credit[1])

        return BatchTotals(part(parts[False]), part(parts[True]))

    def close_batch(self, tid: str, batch_no: str, now: datetime, result: str,
                    terminal_totals: BatchTotals | None, host_totals: BatchTotals) -> None:
        batch = self.batch(tid, batch_no)
        assert batch is not None
        self.conn.execute(
            "UPDATE ledger_batches SET settled_at = ?, result = ?, terminal_totals = ?, host_totals = ? "
            "WHERE tid = ? AND batch_no = ?",
            (now.isoformat(), result, json.dumps(terminal_totals.to_json()) if terminal_totals else None,
             json.dumps(host_totals.to_json()), tid, batch_no))
        self._open_batches.pop(tid, None)
        self.facts.settle_batch(tid, batch.mid, batch_no)

    def mark_batch(self, tid: str, batch_no: str, result: str, terminal_totals: BatchTotals,
                   host_totals: BatchTotals) -> None:
        """Record an unbalanced settlement; the batch stays open until the upload ends."""
        self.conn.execute(
            "UPDATE ledger_batches SET result = ?, terminal_totals = ?, host_totals = ? WHERE tid = ? "
            "AND batch_no = ?",
            (result, json.dumps(terminal_totals.to_json()), json.dumps(host_totals.to_json()), tid, batch_no))
        self._open_batches.pop(tid, None)

    def add_upload_line(self, tid: str, batch_no: str, now: datetime, pan: str, amount_fen: int, stan: str) -> bool:
        """Keep one uploaded line and say whether the ledger has that approved transaction."""
        found = self.conn.execute(
            "SELECT 1 FROM ledger_txns WHERE tid = ? AND batch_no = ? AND stan = ? AND pan = ? AND amount_fen = ? "
            "AND response_code = '00'", (tid, batch_no, stan, pan, amount_fen)).fetchone() is not None
        self.conn.execute(
            "INSERT INTO batch_upload_lines (tid, batch_no, at, pan_last4, amount_fen, stan, matched) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", (tid, batch_no, now.isoformat(), pan[-4:], amount_fen, stan, int(found)))
        return found

    def list_batches(self, tid: str | None = None) -> list[Batch]:
        sql = "SELECT tid, mid, batch_no, opened_at, settled_at, result FROM ledger_batches"
        args: tuple = ()
        if tid:
            sql += " WHERE tid = ?"
            args = (tid,)
        return [Batch(*r) for r in self.conn.execute(sql + " ORDER BY opened_at, tid", args)]
