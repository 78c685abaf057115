"""Merchants, their terminals and the deposits they paid.

A terminal's life at the acquirer: ``registered`` (in the acquirer's stock,
known by TID) -> ``bound`` to one merchant (it may transact) -> ``unbound``
(returned; it may be bound again, to the same or another merchant) ->
``deregistered`` (closed for good; it must never transact again). A
registered terminal that was never handed out may be deregistered directly.

The contract terms that matter to the return path live on the merchant: the
deposit per terminal, whether the contract makes it refundable, the contract
start date (the service period counts from it) and which fee schedule applies.

Key material never lives here: a terminal carries only a reference to its TMK
in the key store.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import Enum

from possim.errors import PossimError
from possim.host.clock import Clock
from possim.host.db import transaction


class TerminalState(str, Enum):
    REGISTERED = "registered"
    BOUND = "bound"
    UNBOUND = "unbound"
    DEREGISTERED = "deregistered"


class BackOfficeError(PossimError):
    """A back-office request that cannot be carried out as asked."""


class UnknownMerchant(BackOfficeError):
    pass


class UnknownTerminal(BackOfficeError):
    pass


class IllegalTerminalTransition(BackOfficeError):
    """The terminal's current state does not allow the action."""

    def __init__(self, tid: str, state: TerminalState, action: str, allowed: str) -> None:
        super().__init__(
            f"terminal {tid}: cannot {action} while {state.value} (allowed from: {allowed})")
        self.tid = tid
        self.state = state
        self.action = action


# action -> (states it may start from, state it leads to)
_TRANSITIONS: dict[str, tuple[frozenset[TerminalState], TerminalState]] = {
    "bind": (frozenset({TerminalState.REGISTERED, TerminalState.UNBOUND}), TerminalState.BOUND),
    "unbind": (frozenset({TerminalState.BOUND}), TerminalState.UNBOUND),
    "deregister": (frozenset({TerminalState.REGISTERED, TerminalState.UNBOUND}),
                   TerminalState.DEREGISTERED),
}


def _check_ans(value: str, length: int, what: str) -> str:
    """CUP field 41 (TID) is ans8 and field 42 (MID) ans15, both fixed length."""
    if not isinstance(value, str) or len(value) != length or not all(" " <= c <= "~" for c in value):
        raise BackOfficeError(
            f"{what} {value!r}: expected exactly {length} printable ASCII characters (ans{length})")
    return value


def check_mid(mid: str) -> str:
    return _check_ans(mid, 15, "MID")


def check_tid(tid: str) -> str:
    return _check_ans(tid, 8, "TID")


@dataclass(frozen=True)
class Merchant:
    mid: str
    name: str
    deposit_fen: int
    deposit_refundable: bool
    contract_start: date
    fee_schedule: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["contract_start"] = self.contract_start.isoformat()
        out["created_at"] = self.created_at.isoformat()
        return out


@dataclass(frozen=True)
class Terminal:
    tid: str
    state: TerminalState
    mid: str | None
    tmk_ref: str | None
    registered_at: datetime
    bound_at: datetime | None
    unbound_at: datetime | None
    deregistered_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "tid": self.tid, "state": self.state.value, "mid": self.mid, "tmk_ref": self.tmk_ref,
            "registered_at": _iso(self.registered_at), "bound_at": _iso(self.bound_at),
            "unbound_at": _iso(self.unbound_at), "deregistered_at": _iso(self.deregistered_at),
        }


@dataclass(frozen=True)
class TerminalStatus:
    """What the transaction layer needs to accept or refuse a request.

    ``may_transact`` is true only for a terminal bound to ``mid``; an unknown,
    registered-only, unbound or deregistered terminal is refused."""

    tid: str
    state: TerminalState | None  # None: the host has never heard of this TID
    mid: str | None
    may_transact: bool

    def to_json(self) -> dict[str, object]:
        return {"tid": self.tid, "state": self.state.value if self.state else None,
                "mid": self.mid, "may_transact": self.may_transact}


@dataclass(frozen=True)
class Deposit:
    id: int
    mid: str
    tid: str
    amount_fen: int
    refundable: bool
    paid_at: datetime
    refunded_fen: int | None
    refund_method: str | None
    refund_due: date | None
    refund_issued_at: datetime | None
    refund_confirmed_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id, "mid": self.mid, "tid": self.tid, "amount_fen": self.amount_fen,
            "refundable": self.refundable, "paid_at": _iso(self.paid_at),
            "refunded_fen": self.refunded_fen, "refund_method": self.refund_method,
            "refund_due": self.refund_due.isoformat() if self.refund_due else None,
            "refund_issued_at": _iso(self.refund_issued_at),
            "refund_confirmed_at": _iso(self.refund_confirmed_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _merchant(row: sqlite3.Row | tuple) -> Merchant:
    mid, name, dep, refundable, start, fees, created = row
    return Merchant(mid, name, dep, bool(refundable), date.fromisoformat(start), fees,
                    datetime.fromisoformat(created))


def _terminal(row: tuple) -> Terminal:
    tid, state, mid, tmk, reg, bound, unbound, dereg = row
    return Terminal(tid, TerminalState(state), mid, tmk, datetime.fromisoformat(reg),
                    _dt(bound), _dt(unbound), _dt(dereg))


def _deposit(row: tuple) -> Deposit:
    (id_, mid, tid, amount, refundable, paid, refunded, method, due, issued, confirmed) = row
    return Deposit(id_, mid, tid, amount, bool(refundable), datetime.fromisoformat(paid), refunded,
                   method, date.fromisoformat(due) if due else None, _dt(issued), _dt(confirmed))


_MERCHANT_COLS = "mid, name, deposit_fen, deposit_refundable, contract_start, fee_schedule, created_at"
_TERMINAL_COLS = "tid, state, mid, tmk_ref, registered_at, bound_at, unbound_at, deregistered_at"
_DEPOSIT_COLS = ("id, mid, tid, amount_fen, refundable, paid_at, refunded_fen, refund_method, "
                 "refund_due, refund_issued_at, refund_confirmed_at")


class MerchantRegistry:
    """Merchants, terminals and deposits over one host database connection."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock

    # -- merchants ---------------------------------------------------------

    def add_merchant(self, mid: str, name: str, *, deposit_fen: int, deposit_refundable: bool,
                     contract_start: date, fee_schedule: str) -> Merchant:
        check_mid(mid)
        if not name.strip():
            raise BackOfficeError(f"merchant {mid}: name is empty")
        if not isinstance(deposit_fen, int) or deposit_fen < 0:
            raise BackOfficeError(f"merchant {mid}: deposit_fen {deposit_fen!r} must be a whole number of fen >= 0")
        with transaction(self.conn):
            if self.conn.execute("SELECT 1 FROM merchants WHERE mid = ?", (mid,)).fetchone():
                raise BackOfficeError(f"merchant {mid} already exists")
            self.conn.execute(
                f"INSERT INTO merchants ({_MERCHANT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mid, name, deposit_fen, int(deposit_refundable), contract_start.isoformat(),
                 fee_schedule, self.clock.now().isoformat()))
        return self.merchant(mid)

    def merchant(self, mid: str) -> Merchant:
        row = self.conn.execute(f"SELECT {_MERCHANT_COLS} FROM merchants WHERE mid = ?", (mid,)).fetchone()
        if row is None:
            raise UnknownMerchant(f"merchant {mid!r} is not known to the host")
        return _merchant(row)

    def list_merchants(self) -> list[Merchant]:
        rows = self.conn.execute(f"SELECT {_MERCHANT_COLS} FROM merchants ORDER BY mid").fetchall()
        return [_merchant(r) for r in rows]

    # -- terminals ---------------------------------------------------------

    def register_terminal(self, tid: str, *, tmk_ref: str | None = None) -> Terminal:
        check_tid(tid)
        now = self.clock.now().isoformat()
        with transaction(self.conn):
            if self.conn.execute("SELECT 1 FROM terminals WHERE tid = ?", (tid,)).fetchone():
                raise BackOfficeError(f"terminal {tid} is already registered")
            self.conn.execute(
                "INSERT INTO terminals (tid, state, tmk_ref, registered_at) VALUES (?, ?, ?, ?)",
                (tid, TerminalState.REGISTERED.value, tmk_ref, now))
            self._event(tid, now, "register", None, TerminalState.REGISTERED, None)
        return self.terminal(tid)

    def terminal(self, tid: str) -> Terminal:
        row = self.conn.execute(f"SELECT {_TERMINAL_COLS} FROM terminals WHERE tid = ?", (tid,)).fetchone()
        if row is None:
            raise UnknownTerminal(f"terminal {tid!r} is not registered with the host")
        return _terminal(row)

    def list_terminals(self, mid: str | None = None) -> list[Terminal]:
        if mid is None:
            rows = self.conn.execute(f"SELECT {_TERMINAL_COLS} FROM terminals ORDER BY tid").fetchall()
        else:
            rows = self.conn.execute(
                f"SELECT {_TERMINAL_COLS} FROM terminals WHERE mid = ? ORDER BY tid", (mid,)).fetchall()
        return [_terminal(r) for r in rows]

    def terminal_status(self, tid: str) -> TerminalStatus:
        """The one question the transaction layer asks before processing a request."""
        row = self.conn.execute("SELECT state, mid FROM terminals WHERE tid = ?", (tid,)).fetchone()
        if row is None:
            return TerminalStatus(tid, None, None, False)
        state = TerminalState(row[0])
        mid = row[1] if state is TerminalState.BOUND else None
        return TerminalStatus(tid, state, mid, state is TerminalState.BOUND)

    def terminal_history(self, tid: str) -> list[dict[str, object]]:
        self.terminal(tid)
        rows = self.conn.execute(
            "SELECT at, action, from_state, to_state, mid FROM terminal_events WHERE tid = ? ORDER BY id",
            (tid,)).fetchall()
        return [{"at": at, "action": action, "from": frm, "to": to, "mid": mid}
                for at, action, frm, to, mid in rows]

    def set_tmk_ref(self, tid: str, tmk_ref: str | None) -> Terminal:
        with transaction(self.conn):
            self.terminal(tid)
            self.conn.execute("UPDATE terminals SET tmk_ref = ? WHERE tid = ?", (tmk_ref, tid))
        return self.terminal(tid)

    def bind(self, tid: str, mid: str) -> Terminal:
        """Hand the terminal to ``mid``; from now on it may transact for that merchant."""
        with transaction(self.conn):
            self.merchant(mid)
            self._move(tid, "bind", mid=mid)
        return self.terminal(tid)

    def unbind(self, tid: str) -> Terminal:
        """Take the terminal back from its merchant; it stops transacting at once."""
        with transaction(self.conn):
            self._move(tid, "unbind")
        return self.terminal(tid)

    def deregister(self, tid: str) -> Terminal:
        """Close the terminal for good."""
        with transaction(self.conn):
            self._move(tid, "deregister")
        return self.terminal(tid)

    def _move(self, tid: str, action: str, mid: str | None = None) -> None:
        terminal = self.terminal(tid)
        sources, target = _TRANSITIONS[action]
        if terminal.state not in sources:
            allowed = ", ".join(sorted(s.value for s in sources))
            raise IllegalTerminalTransition(tid, terminal.state, action, allowed)
        now = self.clock.now().isoformat()
        column = {"bind": "bound_at", "unbind": "unbound_at", "deregister": "deregistered_at"}[action]
        new_mid = mid if action == "bind" else terminal.mid
        self.conn.execute(
            f"UPDATE terminals SET state = ?, mid = ?, {column} = ? WHERE tid = ?",
            (target.value, new_mid, now, tid))
        self._event(tid, now, action, terminal.state, target, new_mid)

    def _event(self, tid: str, at: str, action: str, frm: TerminalState | None, to: TerminalState,
               mid: str | None) -> None:
        self.conn.execute(
            "INSERT INTO terminal_events (tid, at, action, from_state, to_state, mid) VALUES (?, ?, ?, ?, ?, ?)",
            (tid, at, action, frm.value if frm else None, to.value, mid))

    # -- deposits ----------------------------------------------------------

    def record_deposit(self, tid: str, mid: str, amount_fen: int | None = None) -> Deposit:
        """Record the deposit ``mid`` paid for ``tid`` (default: the contract amount).

        Whether it is refundable is copied from the contract at payment time,
        so a later contract change does not rewrite what was agreed then."""
        merchant = self.merchant(mid)
        self.terminal(tid)
        amount = merchant.deposit_fen if amount_fen is None else amount_fen
        if not isinstance(amount, int) or amount < 0:
            raise BackOfficeError(f"deposit for terminal {tid}: amount_fen {amount!r} must be >= 0")
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO deposits (mid, tid, amount_fen, refundable, paid_at) VALUES (?, ?, ?, ?, ?)",
                (mid, tid, amount, int(merchant.deposit_refundable), self.clock.now().isoformat()))
            deposit_id = int(cur.lastrowid or 0)
        return self.deposit(deposit_id)

    def deposit(self, deposit_id: int) -> Deposit:
        row = self.conn.execute(f"SELECT {_DEPOSIT_COLS} FROM deposits WHERE id = ?", (deposit_id,)).fetchone()
        if row is None:
            raise BackOfficeError(f"deposit {deposit_id} does not exist")
        return _deposit(row)

    def open_deposit(self, tid: str, mid: str) -> Deposit | None:
        """The latest deposit for this terminal and merchant not yet refunded."""
        row = self.conn.execute(
            f"SELECT {_DEPOSIT_COLS} FROM deposits WHERE tid = ? AND mid = ? AND refund_issued_at IS NULL "
            "ORDER BY id DESC LIMIT 1", (tid, mid)).fetchone()
        return _deposit(row) if row else None

    def deposits(self, mid: str) -> list[Deposit]:
        rows = self.conn.execute(
            f"SELECT {_DEPOSIT_COLS} FROM deposits WHERE mid = ? ORDER BY id", (mid,)).fetchall()
        return [_deposit(r) for r in rows]

    def issue_refund(self, deposit_id: int, amount_fen: int, due: date, method: str) -> Deposit:
        with transaction(self.conn):
            deposit = self.deposit(deposit_id)
            if deposit.refund_issued_at is not None:
                raise BackOfficeError(f"deposit {deposit_id}: refund already issued")
            if amount_fen < 0 or amount_fen > deposit.amount_fen:
                raise BackOfficeError(
                    f"deposit {deposit_id}: refund {amount_fen} fen outside 0..{deposit.amount_fen}")
            self.conn.execute(
                "UPDATE deposits SET refunded_fen = ?, refund_method = ?, refund_due = ?, "
                "refund_issued_at = ? WHERE id = ?",
                (amount_fen, method, due.isoformat(), self.clock.now().isoformat(), deposit_id))
        return self.deposit(deposit_id)

    def confirm_refund(self, deposit_id: int) -> Deposit:
        with transaction(self.conn):
            deposit = self.deposit(deposit_id)
            if deposit.refund_issued_at is None:
                raise BackOfficeError(f"deposit {deposit_id}: no refund issued to confirm")
            if deposit.refund_confirmed_at is not None:
                raise BackOfficeError(f"deposit {deposit_id}: refund already confirmed")
            self.conn.execute("UPDATE deposits SET refund_confirmed_at = ? WHERE id = ?",
                              (self.clock.now().isoformat(), deposit_id))
        return self.deposit(deposit_id)

