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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

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


class Account(NamedTuple):
    """A card account as the ledger holds it. A named tuple: read on every financial request and
    rebuilt on every balance move, which a frozen dataclass makes several times dearer."""

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

_INSERT_TXN = ("INSERT INTO ledger_txns (at, local_date, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind, "
               "amount_fen, response_code, rrn, auth_code, original_id, balance_effect) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_TXN_WITH_ID = ("INSERT INTO ledger_txns (id, at, local_date, tid, mid, batch_no, stan, mti, txn_type, pan, "
                       "card_kind, amount_fen, response_code, rrn, auth_code, original_id, balance_effect) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_ADJUST_BALANCE = "UPDATE accounts SET balance_fen = balance_fen + ? WHERE pan = ?"
_SET_COUNTER = ("INSERT INTO host_counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
#: The highest transaction id ever handed out (AUTOINCREMENT keeps it in sqlite_sequence).
_LAST_TXN_ID = ("SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'ledger_txns'), 0), "
                "COALESCE((SELECT MAX(id) FROM ledger_txns), 0))")

# What a held write is: a new transaction row, a balance move, a review-facts count.
_ROW, _BALANCE, _COUNT = 0, 1, 2


def _nothing() -> None:
    pass


class Ledger:
    """Ledger reads and writes over the processor's connection.

    Every write joins the caller's open transaction; nothing here commits.

    Card accounts and each terminal's open batch are read on every purchase,
    so they are cached; every write here keeps the cache right, and the
    owner calls :meth:`clear_cache` whenever something else may have written
    (another connection, a rolled-back request).

    Held writes (between :meth:`hold` and :meth:`write_held`, the processor's
    group of requests): a purchase's own writes -- its transaction row, the
    balance move, the review-facts count, the RRN counter -- are kept in
    memory and written at the end of the group with one statement per
    account, terminal and counter (the rows in one ``executemany``), still
    inside the group's transaction, so they are committed before any
    response of the group is built. Whatever the ledger reads or writes in
    SQL meanwhile first writes what is held (:meth:`flush`), so every read
    sees every earlier request of the group. ``before_write`` is called
    before any SQL write while holding: the processor opens the request's
    savepoint there, so a request that writes nothing needs none; a request
    that fails is undone with :meth:`undo_request`. Duplicates are found in
    memory too: the (STAN, MTI) pairs of a terminal's batch are read once
    and kept up to date by every row the ledger adds."""

    def __init__(self, conn: sqlite3.Connection, facts: SqliteFactsProvider) -> None:
        self.conn = conn
        self.facts = facts
        facts.before_read = self.flush  # the review facts count what this ledger holds
        self.before_write: Callable[[], None] = _nothing
        self._accounts: dict[str, Account] = {}
        self._open_batches: dict[str, Batch | None] = {}
        self._txn_keys: dict[tuple[str, str], set[tuple[str, str]]] = {}  # (tid, batch) -> {(stan, mti)} stored
        self._counters: dict[str, list[int]] = {}  # name -> [value handed out, value in the table]
        self._last_txn_id = -1  # the highest id handed out; -1: not read yet
        self._held: list[tuple] = []  # writes not yet in SQL, in order: (_ROW, row) (_BALANCE, pan, fen) ...
        self._held_written = 0  # how many of ``_held`` are written (within the open transaction)
        self._holding = False
        # the last ``now``, its (y, m, d) and the RRN's 4-character prefix for that day
        self._rrn_day: tuple[datetime, tuple[int, int, int], str] | None = None
        self._day: tuple[datetime, str, str] | None = None  # the last ``now`` and its isoformat, local date

    def clear_cache(self, *, counters: bool = True) -> None:
        """Forget what was read. ``counters=False`` keeps the held counters and writes: after one
        request of a group is undone, numbers the others already took must not be handed out
        again, and their writes stand. ``counters=True`` also drops whatever is held (the
        transaction that would have stored it is being rolled back)."""
        self._accounts.clear()
        self._open_batches.clear()
        self._txn_keys.clear()
        if counters:
            self._counters.clear()
            self._last_txn_id = -1
            self._held.clear()
            self._held_written = 0

    # -- held writes ---------------------------------------------------------------

    def hold(self) -> None:
        """Inside the caller's transaction: from now on counters and a transaction's own writes are held."""
        self._holding = True

    def write_held(self) -> None:
        """Write everything held (still inside the caller's transaction) and stop holding."""
        try:
            self.flush()
            for name, entry in self._counters.items():
                if entry[0] != entry[1]:
                    self.conn.execute(_SET_COUNTER, (name, entry[0]))
                    entry[1] = entry[0]
        except BaseException:
            self.drop_held()
            raise
        finally:
            self._holding = False
        self._held.clear()
        self._held_written = 0

    def drop_held(self) -> None:
        """The caller's transaction is being rolled back: forget the held writes and counters."""
        self._holding = False
        self.clear_cache()

    def request_mark(self) -> tuple[int, int]:
        """Where the held writes stand before a request (for :meth:`undo_request`)."""
        return len(self._held), self._held_written

    def undo_request(self, mark: tuple[int, int]) -> None:
        """The request begun at ``mark`` was rolled back to its savepoint (or wrote nothing in SQL):
        forget what it held, and anything written since is no longer written."""
        del self._held[mark[0]:]
        self._held_written = mark[1]
        self.clear_cache(counters=False)

    def flush(self) -> None:
        """Write the held writes not yet written (a read or write in SQL is about to follow)."""
        held = self._held
        start = self._held_written
        if start == len(held):
            return
        self.before_write()
        rows: list[tuple] = []
        balances: dict[str, int] = {}
        counts: dict[tuple[str, str], list[int]] = {}
        for entry in held[start:] if start else held:
            kind = entry[0]
            if kind == _ROW:
                rows.append(entry[1])
            elif kind == _BALANCE:
                balances[entry[1]] = balances.get(entry[1], 0) + entry[2]
            else:
                total = counts.get((entry[1], entry[2]))
                if total is None:
                    counts[(entry[1], entry[2])] = [entry[3], entry[4]]
                else:
                    total[0] += entry[3]
                    total[1] += entry[4]
        execute = self.conn.execute
        if rows:
            self.conn.executemany(_INSERT_TXN_WITH_ID, rows)
        for pan, delta in balances.items():
            if delta:
                execute(_ADJUST_BALANCE, (delta, pan))
        for (tid, mid), (count, amount) in counts.items():
            self.facts.write_counts(tid, mid, amount, count)
        self._held_written = len(held)

    def _sql(self) -> sqlite3.Connection:
        """The connection, for a read or write that must see every held write first."""
        if self._held_written != len(self._held):
            self.flush()
        return self.conn

    def _write(self) -> sqlite3.Connection:
        """The connection, for a write (the caller's savepoint opened, held writes written first)."""
        if self._holding:
            self.before_write()
            if self._held_written != len(self._held):
                self.flush()
        return self.conn

    def _stamp(self, now: datetime) -> tuple[datetime, str, str]:
        """``now`` as stored: its isoformat and local date (a group shares one ``now``)."""
        day = self._day
        if day is None or day[0] != now:
            day = self._day = (now, now.isoformat(), local_date(now).isoformat())
        return day

    # -- accounts -----------------------------------------------------------------

    def seed_card(self, card: CardConfig, now: datetime) -> bool:
        """Create the account if it does not exist; an existing account is left as the ledger has it."""
        cur = self._write().execute(
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
        row = self._sql().execute(f"SELECT {_ACCOUNT_COLS} FROM accounts WHERE pan = ?", (pan,)).fetchone()
        if row is None:
            return None
        account = self._accounts[pan] = _account(row)
        return account

    def provision(self, pan: str, default: DefaultCard, expiry: str, now: datetime) -> Account:
        """An unknown card met for the first time, created from the ``default_card`` block."""
        self._write().execute(
            f"INSERT INTO accounts ({_ACCOUNT_COLS}, source, created_at) VALUES (?, NULL, 0, 0, ?, ?, 'normal', "
            "?, ?, 'default_card', ?) ON CONFLICT (pan) DO NOTHING",
            (pan, expiry, default.balance_fen, default.limit_fen, default.kind, now.isoformat()))
        account = self.account(pan)
        assert account is not None
        return account

    def set_pin_tries(self, pan: str, tries: int) -> None:
        self._write().execute("UPDATE accounts SET pin_tries = ? WHERE pan = ?", (tries, pan))
        self._accounts.pop(pan, None)

    def adjust_balance(self, pan: str, delta_fen: int) -> None:
        if self._holding:
            self._held.append((_BALANCE, pan, delta_fen))
        else:
            self.conn.execute(_ADJUST_BALANCE, (delta_fen, pan))
        a = self._accounts.get(pan)
        if a is not None:
            self._accounts[pan] = Account(a[0], a[1], a[2], a[3], a[4], a[5] + delta_fen, a[6], a[7], a[8])

    def list_accounts(self) -> list[Account]:
        return [_account(r) for r in self._sql().execute(f"SELECT {_ACCOUNT_COLS} FROM accounts ORDER BY pan")]

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
        rrn_day = self._rrn_day
        if rrn_day is None or rrn_day[0] is not now:
            day = (now.year, now.month, now.day)
            if rrn_day is None or rrn_day[1] != day:
                rrn_day = (now, day, f"{now.year % 10}{now.timetuple().tm_yday:03d}")
            else:
                rrn_day = (now, day, rrn_day[2])
            self._rrn_day = rrn_day
        return f"{rrn_day[2]}{self.next_counter('rrn') % 10**8:08d}"

    # -- transactions -------------------------------------------------------------

    def seen(self, tid: str, batch_no: str, stan: str, mti: str) -> bool:
        """Whether the batch already has a transaction with this STAN and MTI (a duplicate)."""
        if not self._holding:
            return self.conn.execute(
                "SELECT 1 FROM ledger_txns WHERE tid = ? AND batch_no = ? AND stan = ? AND mti = ?",
                (tid, batch_no, stan, mti)).fetchone() is not None
        keys = self._txn_keys.get((tid, batch_no))
        if keys is None:
            if len(self._txn_keys) >= 4096:
                self._txn_keys.clear()
            keys = self._txn_keys[(tid, batch_no)] = set(self._sql().execute(
                "SELECT stan, mti FROM ledger_txns WHERE tid = ? AND batch_no = ?", (tid, batch_no)))
        return (stan, mti) in keys

    def record(self, *, now: datetime, tid: str, mid: str, batch_no: str, stan: str, mti: str, txn_type: str,
               pan: str | None, card_kind: str | None, amount_fen: int, response_code: str,
               rrn: str | None = None, auth_code: str | None = None, original_id: int | None = None,
               balance_effect: int = 0) -> Txn:
        """Append one transaction; an approved one moves the card's balance by ``balance_effect``."""
        _, at, day = self._stamp(now)
        txn_id = self.add_txn(now, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind, amount_fen,
                              response_code, rrn, auth_code, original_id, balance_effect)
        # The row as the table now holds it (the columns not inserted start at their defaults),
        # without reading it back.
        return Txn(txn_id, at, day, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind,
                   amount_fen, response_code, rrn, auth_code, original_id, balance_effect, 0, None, None)

    def record_id(self, *, now: datetime, tid: str, mid: str, batch_no: str, stan: str, mti: str, txn_type: str,
                  pan: str | None, card_kind: str | None, amount_fen: int, response_code: str,
                  rrn: str | None = None, auth_code: str | None = None, original_id: int | None = None,
                  balance_effect: int = 0) -> int:
        """:meth:`record` for a caller that needs only the new row's id (no ``Txn`` built)."""
        return self.add_txn(now, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind, amount_fen,
                            response_code, rrn, auth_code, original_id, balance_effect)

    def add_txn(self, now: datetime, tid: str, mid: str, batch_no: str, stan: str, mti: str, txn_type: str,
                pan: str | None, card_kind: str | None, amount_fen: int, response_code: str, rrn: str | None,
                auth_code: str | None, original_id: int | None, balance_effect: int) -> int:
        """:meth:`record_id` with its arguments in column order (the processor's per-request call)."""
        day = self._day
        if day is None or (day[0] is not now and day[0] != now):
            day = self._stamp(now)
        if not self._holding:
            return self.insert_txn(at=day[1], day=day[2], tid=tid, mid=mid, batch_no=batch_no, stan=stan, mti=mti,
                                   txn_type=txn_type, pan=pan, card_kind=card_kind, amount_fen=amount_fen,
                                   response_code=response_code, rrn=rrn, auth_code=auth_code,
                                   original_id=original_id, balance_effect=balance_effect)
        # held: :meth:`insert_txn`'s held branch, without its keyword call (this runs on every request)
        txn_id = self._last_txn_id
        if txn_id < 0:
            txn_id = int(self._sql().execute(_LAST_TXN_ID).fetchone()[0])
        txn_id = self._last_txn_id = txn_id + 1
        self._held.append((_ROW, (txn_id, day[1], day[2], tid, mid, batch_no, stan, mti, txn_type, pan, card_kind,
                                  amount_fen, response_code, rrn, auth_code, original_id, balance_effect)))
        keys = self._txn_keys.get((tid, batch_no))
        if keys is not None:
            keys.add((stan, mti))
        if balance_effect and pan and response_code == "00":
            self._held.append((_BALANCE, pan, balance_effect))
            a = self._accounts.get(pan)
            if a is not None:
                self._accounts[pan] = Account(a[0], a[1], a[2], a[3], a[4], a[5] + balance_effect, a[6], a[7], a[8])
        return txn_id

    def insert_txn(self, *, at: str, day: str, tid: str, mid: str, batch_no: str, stan: str, mti: str,
                   txn_type: str, pan: str | None, card_kind: str | None, amount_fen: int, response_code: str,
                   rrn: str | None, auth_code: str | None, original_id: int | None, balance_effect: int) -> int:
        if self._holding:
            txn_id = self._last_txn_id
            if txn_id < 0:
                txn_id = int(self._sql().execute(_LAST_TXN_ID).fetchone()[0])
            txn_id = self._last_txn_id = txn_id + 1
            self._held.append((_ROW, (txn_id, at, day, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind,
                                      amount_fen, response_code, rrn, auth_code, original_id, balance_effect)))
        else:
            cur = self.conn.execute(_INSERT_TXN, (at, day, tid, mid, batch_no, stan, mti, txn_type, pan, card_kind,
                                                  amount_fen, response_code, rrn, auth_code, original_id,
                                                  balance_effect))
            txn_id = int(cur.lastrowid or 0)
            self._last_txn_id = -1
        keys = self._txn_keys.get((tid, batch_no))
        if keys is not None:
            keys.add((stan, mti))
        if response_code == "00" and balance_effect and pan:
            self.adjust_balance(pan, balance_effect)
        return txn_id

    def txn(self, txn_id: int) -> Txn | None:
        row = self._sql().execute(f"SELECT {_TXN_COLS} FROM ledger_txns WHERE id = ?", (txn_id,)).fetchone()
        return _txn(row) if row else None

    def approved_by_rrn(self, rrn: str, txn_type: str) -> Txn | None:
        row = self._sql().execute(
            f"SELECT {_TXN_COLS} FROM ledger_txns WHERE rrn = ? AND txn_type = ? AND response_code = '00' "
            "ORDER BY id DESC LIMIT 1", (rrn, txn_type)).fetchone()
        return _txn(row) if row else None

    def by_stan(self, tid: str, batch_no: str, stan: str, mti: str) -> Txn | None:
        row = self._sql().execute(
            f"SELECT {_TXN_COLS} FROM ledger_txns WHERE tid = ? AND batch_no = ? AND stan = ? AND mti = ?",
            (tid, batch_no, stan, mti)).fetchone()
        return _txn(row) if row else None

    def mark_voided(self, original_id: int, void_id: int | None) -> None:
        self._write().execute("UPDATE ledger_txns SET voided_by = ? WHERE id = ?", (void_id, original_id))

    def mark_reversed(self, txn_id: int, now: datetime) -> None:
        self._write().execute("UPDATE ledger_txns SET reversed_at = ? WHERE id = ?", (now.isoformat(), txn_id))

    def add_refunded(self, original_id: int, amount_fen: int) -> None:
        self._write().execute("UPDATE ledger_txns SET refunded_fen = refunded_fen + ? WHERE id = ?",
                              (amount_fen, original_id))

    def count_purchase(self, tid: str, mid: str, amount_fen: int, count: int) -> None:
        """Feed (or take back from) the review facts' transaction count and volume."""
        if self._holding:
            self._held.append((_COUNT, tid, mid, count, amount_fen))
        else:
            self.facts.record_transaction(tid, mid, amount_fen, count)

    def list_txns(self, tid: str | None = None, limit: int = 100) -> list[Txn]:
        sql = f"SELECT {_TXN_COLS} FROM ledger_txns"
        args: list[object] = []
        if tid:
            sql += " WHERE tid = ?"
            args.append(tid)
        rows = self._sql().execute(sql + " ORDER BY id DESC LIMIT ?", [*args, limit]).fetchall()
        return [_txn(r) for r in reversed(rows)]

    # -- reversals -----------------------------------------------------------------

    def reversal(self, tid: str, batch_no: str, stan: str) -> Reversal | None:
        row = self.conn.execute(
            "SELECT id, tid, batch_no, stan, original_id, applied, answers FROM ledger_reversals "
            "WHERE tid = ? AND batch_no = ? AND stan = ?", (tid, batch_no, stan)).fetchone()
        return Reversal(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6]) if row else None

    def record_reversal(self, *, now: datetime, tid: str, batch_no: str, stan: str, txn_type: str,
                        amount_fen: int, reason: str | None, original_id: int | None, applied: bool) -> None:
        self._write().execute(
            "INSERT INTO ledger_reversals (at, tid, batch_no, stan, txn_type, amount_fen, reason, original_id, "
            "applied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now.isoformat(), tid, batch_no, stan, txn_type, amount_fen, reason, original_id, int(applied)))

    def count_repeat_reversal(self, reversal_id: int) -> None:
        self._write().execute("UPDATE ledger_reversals SET answers = answers + 1 WHERE id = ?", (reversal_id,))

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
        self._write().execute(
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
        for txn_type, foreign, total, count in self._sql().execute(
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
        self._write().execute(
            "UPDATE ledger_batches SET settled_at = ?, result = ?, terminal_totals = ?, host_totals = ? "
            "WHERE tid = ? AND batch_no = ?",
            (now.isoformat(), result, json.dumps(terminal_totals.to_json()) if terminal_totals else None,
             json.dumps(host_totals.to_json()), tid, batch_no))
        self._open_batches.pop(tid, None)
        self.facts.settle_batch(tid, batch.mid, batch_no)

    def mark_batch(self, tid: str, batch_no: str, result: str, terminal_totals: BatchTotals,
                   host_totals: BatchTotals) -> None:
        """Record an unbalanced settlement; the batch stays open until the upload ends."""
        self._write().execute(
            "UPDATE ledger_batches SET result = ?, terminal_totals = ?, host_totals = ? WHERE tid = ? "
            "AND batch_no = ?",
            (result, json.dumps(terminal_totals.to_json()), json.dumps(host_totals.to_json()), tid, batch_no))
        self._open_batches.pop(tid, None)

    def add_upload_line(self, tid: str, batch_no: str, now: datetime, pan: str, amount_fen: int, stan: str) -> bool:
        """Keep one uploaded line and say whether the ledger has that approved transaction."""
        found = self._write().execute(
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
