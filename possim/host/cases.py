"""Return cases: a merchant gives a terminal back and, if the policy allows,
gets the deposit refunded.

The path (DOMAIN.md, "The return-and-deregister path")::

    applied -> under_review -> approved | rejected
    rejected -> appealed -> under_re_review -> approved | rejected
    approved -> settled -> unbound -> deregistered -> refund_issued -> refund_confirmed
    applied | under_review | appealed | under_re_review -> withdrawn   (merchant, before a decision)

Every step is one database transaction that changes the case and appends a
``case_events`` row (time from the injected clock, actor, action, states,
detail), so the timeline is complete and in order. Steps that touch the
terminal or the deposit (unbind, deregister, refund) change those in the same
transaction. A refund is overdue when the merchant's local date is past the
due date and the merchant has not confirmed receipt; ``flag_overdue`` records
that once per case.

Merchant-side steps (apply, withdraw, appeal, confirm_refund, follow_up)
take the acting MID and refuse any merchant but the case's own. Acquirer-side
steps take an ``actor`` name (an operator, or ``host`` for automatic steps).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from possim.errors import PossimError
from possim.host.clock import Clock, local_date
from possim.host.db import transaction
from possim.host.merchants import MerchantRegistry, TerminalState, check_mid
from possim.host.policy import (
    REFUND_METHODS, Decision, FactsProvider, Inspection, ReturnPolicy, SqliteFactsProvider, review,
)


class CaseState(str, Enum):
    APPLIED = "applied"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPEALED = "appealed"
    UNDER_RE_REVIEW = "under_re_review"
    SETTLED = "settled"
    UNBOUND = "unbound"
    DEREGISTERED = "deregistered"
    REFUND_ISSUED = "refund_issued"
    REFUND_CONFIRMED = "refund_confirmed"
    WITHDRAWN = "withdrawn"


S = CaseState
#: Cases that no longer block a new application for the same terminal.
CLOSED_STATES = frozenset({S.REJECTED, S.WITHDRAWN, S.REFUND_CONFIRMED})
#: Approved, refund not yet confirmed: the refund due date runs.
AWAITING_REFUND = frozenset({S.APPROVED, S.SETTLED, S.UNBOUND, S.DEREGISTERED, S.REFUND_ISSUED})

# action -> states it may be taken from (the target depends on the action)
_ALLOWED: dict[str, frozenset[CaseState]] = {
    "start_review": frozenset({S.APPLIED}),
    "decide": frozenset({S.UNDER_REVIEW, S.UNDER_RE_REVIEW}),
    "appeal": frozenset({S.REJECTED}),
    "start_re_review": frozenset({S.APPEALED}),
    "withdraw": frozenset({S.APPLIED, S.UNDER_REVIEW, S.APPEALED, S.UNDER_RE_REVIEW}),
    "settle": frozenset({S.APPROVED}),
    "unbind": frozenset({S.SETTLED}),
    "deregister": frozenset({S.UNBOUND}),
    "issue_refund": frozenset({S.DEREGISTERED}),
    "confirm_refund": frozenset({S.REFUND_ISSUED}),
    "follow_up": AWAITING_REFUND,
}


class CaseError(PossimError):
    """A return-case request that cannot be carried out."""


class UnknownCase(CaseError):
    pass


class IllegalCaseTransition(CaseError):
    def __init__(self, case_id: int, state: CaseState, action: str) -> None:
        allowed = ", ".join(s.value for s in CaseState if s in _ALLOWED[action])
        super().__init__(f"case {case_id}: cannot {action} while {state.value} (allowed from: {allowed})")
        self.case_id = case_id
        self.state = state
        self.action = action


class NotYourCase(CaseError):
    def __init__(self, case_id: int, acting_mid: str, action: str) -> None:
        super().__init__(f"case {case_id}: merchant {acting_mid} may not {action} "
                         "a case of another merchant")
        self.case_id = case_id
        self.acting_mid = acting_mid


class AppealRefused(CaseError):
    """An appeal outside the window, or beyond the allowed number."""


@dataclass(frozen=True)
class CaseEvent:
    seq: int
    case_id: int
    at: datetime
    actor: str
    action: str
    from_state: CaseState | None
    to_state: CaseState
    detail: dict[str, Any]

    def to_json(self) -> dict[str, object]:
        return {"seq": self.seq, "case_id": self.case_id, "at": self.at.isoformat(),
                "actor": self.actor, "action": self.action,
                "from": self.from_state.value if self.from_state else None,
                "to": self.to_state.value, "detail": self.detail}


@dataclass(frozen=True)
class Case:
    id: int
    mid: str
    tid: str
    state: CaseState
    reason: str
    contact: str
    identity_proof_ref: str
    purchase_proof_ref: str
    applied_at: datetime
    updated_at: datetime
    appeals: int
    decision: Decision | None  # the latest decision
    refund_fen: int | None
    refund_due: date | None
    refund_method: str | None
    deposit_id: int | None
    overdue_flagged_at: datetime | None
    refund_overdue: bool       # as of the clock when this was read

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id, "mid": self.mid, "tid": self.tid, "state": self.state.value,
            "reason": self.reason, "contact": self.contact,
            "identity_proof_ref": self.identity_proof_ref, "purchase_proof_ref": self.purchase_proof_ref,
            "applied_at": self.applied_at.isoformat(), "updated_at": self.updated_at.isoformat(),
            "appeals": self.appeals,
            "decision": self.decision.to_json() if self.decision else None,
            "refund_fen": self.refund_fen,
            "refund_due": self.refund_due.isoformat() if self.refund_due else None,
            "refund_method": self.refund_method, "deposit_id": self.deposit_id,
            "overdue_flagged_at": self.overdue_flagged_at.isoformat() if self.overdue_flagged_at else None,
            "refund_overdue": self.refund_overdue,
        }

    def status_line(self) -> str:
        """One ASCII line a terminal can show (e.g. in a management-message reply)."""
        parts = [f"CASE {self.id}", self.state.value.upper()]
        if self.state is S.REJECTED and self.decision:
            parts.append(",".join(r.code for r in self.decision.reasons))
        if self.refund_fen is not None and self.state in AWAITING_REFUND | {S.REFUND_CONFIRMED}:
            parts.append(f"REFUND {self.refund_fen / 100:.2f}")
            if self.refund_due:
                parts.append(f"DUE {self.refund_due.isoformat()}")
        if self.refund_overdue:
            parts.append("OVERDUE")
        return " ".join(parts)


_CASE_COLS = ("id, mid, tid, state, reason, contact, identity_proof_ref, purchase_proof_ref, applied_at, "
              "updated_at, appeals, decision_json, refund_fen, refund_due, refund_method, deposit_id, "
              "overdue_flagged_at")


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


def _required(what: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CaseError(f"return application: {what} is required")
    return value.strip()


class CaseDesk:
    """The acquirer's return desk over one host database connection.

    The registry and the facts provider default to ones over the same
    connection, so a step and its effects commit together. ``policy`` may be
    None for a read-only desk (``possim host cases list|show``); the steps that
    need it (decide, appeal) then refuse."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock, policy: ReturnPolicy | None,
                 facts: FactsProvider | None = None, registry: MerchantRegistry | None = None) -> None:
        self.conn = conn
        self.clock = clock
        self._policy = policy
        self.registry = registry or MerchantRegistry(conn, clock)
        self.facts = facts or SqliteFactsProvider(conn, clock)

    @property
    def policy(self) -> ReturnPolicy:
        if self._policy is None:
            raise CaseError("no return policy loaded: pass a policy file to review or appeal cases")
        return self._policy

    # -- read API -------------------------------------------------------------

    def get_case(self, case_id: int) -> Case:
        row = self.conn.execute(f"SELECT {_CASE_COLS} FROM return_cases WHERE id = ?", (case_id,)).fetchone()
        if row is None:
            raise UnknownCase(f"case {case_id} does not exist")
        return self._case(row, local_date(self.clock.now()))

    def list_cases(self, state: CaseState | str | None = None, mid: str | None = None,
                   tid: str | None = None) -> list[Case]:
        where, args = [], []
        if state is not None:
            try:
                where.append("state = ?")
                args.append(CaseState(state).value)
            except ValueError:
                known = ", ".join(s.value for s in CaseState)
                raise CaseError(f"case state {state!r} is not one of: {known}") from None
        if mid is not None:
            where.append("mid = ?")
            args.append(mid)
        if tid is not None:
            where.append("tid = ?")
            args.append(tid)
        sql = f"SELECT {_CASE_COLS} FROM return_cases"
        if where:
            sql += " WHERE " + " AND ".join(where)
        today = local_date(self.clock.now())
        return [self._case(r, today) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def case_timeline(self, case_id: int) -> list[CaseEvent]:
        self.get_case(case_id)
        rows = self.conn.execute(
            "SELECT id, case_id, at, actor, action, from_state, to_state, detail_json FROM case_events "
            "WHERE case_id = ? ORDER BY id", (case_id,)).fetchall()
        return [CaseEvent(i, c, datetime.fromisoformat(at), actor, action,
                          CaseState(frm) if frm else None, CaseState(to), json.loads(detail))
                for i, c, at, actor, action, frm, to, detail in rows]

    def latest_case_for_terminal(self, tid: str) -> Case | None:
        """What a terminal's management message asks: where is my return?"""
        row = self.conn.execute(f"SELECT {_CASE_COLS} FROM return_cases WHERE tid = ? ORDER BY id DESC LIMIT 1",
                                (tid,)).fetchone()
        return self._case(row, local_date(self.clock.now())) if row else None

    def overdue_cases(self) -> list[Case]:
        """Approved cases whose refund is past due and not confirmed."""
        return [c for c in self.list_cases() if c.refund_overdue]

    # -- merchant-side steps ----------------------------------------------------

    def apply(self, mid: str, tid: str, *, reason: str, contact: str, identity_proof_ref: str,
              purchase_proof_ref: str) -> Case:
        """A merchant applies to return a terminal bound to it."""
        check_mid(mid)
        fields = {
            "reason": _required("reason", reason), "contact": _required("contact", contact),
            "identity_proof_ref": _required("identity proof reference", identity_proof_ref),
            "purchase_proof_ref": _required("purchase proof reference", purchase_proof_ref),
        }
        now = self.clock.now()
        with transaction(self.conn):
            status = self.registry.terminal_status(tid)
            if status.state is None:
                raise CaseError(f"return application: terminal {tid!r} is not registered with the host")
            if status.state is not TerminalState.BOUND or status.mid != mid:
                raise CaseError(f"return application: terminal {tid} is not bound to merchant {mid} "
                                f"(terminal is {status.state.value})")
            closed = ", ".join(f"'{s.value}'" for s in CLOSED_STATES)
            open_case = self.conn.execute(
                f"SELECT id, state FROM return_cases WHERE tid = ? AND state NOT IN ({closed})",
                (tid,)).fetchone()
            if open_case:
                raise CaseError(f"return application: terminal {tid} already has case {open_case[0]} "
                                f"({open_case[1]})")
            cur = self.conn.execute(
                "INSERT INTO return_cases (mid, tid, state, reason, contact, identity_proof_ref, "
                "purchase_proof_ref, applied_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (mid, tid, S.APPLIED.value, fields["reason"], fields["contact"],
                 fields["identity_proof_ref"], fields["purchase_proof_ref"], now.isoformat(), now.isoformat()))
            case_id = int(cur.lastrowid or 0)
            self._event(case_id, now, f"merchant:{mid}", "apply", None, S.APPLIED, fields)
        return self.get_case(case_id)

    def withdraw(self, case_id: int, mid: str, note: str = "") -> Case:
        return self._merchant_step(case_id, mid, "withdraw", S.WITHDRAWN, {"note": note})

    def appeal(self, case_id: int, mid: str, statement: str) -> Case:
        """Appeal a rejection, within the policy's window and number of appeals."""
        statement = _required("appeal statement", statement)
        now = self.clock.now()
        with transaction(self.conn):
            case = self._for_merchant(case_id, mid, "appeal")
            self._check(case, "appeal")
            assert case.decision is not None
            last_day = local_date(case.decision.decided_at) + timedelta(days=self.policy.appeal_window_days)
            if local_date(now) > last_day:
                raise AppealRefused(
                    f"case {case_id}: appeal window closed on {last_day.isoformat()} "
                    f"({self.policy.appeal_window_days} days after the rejection)")
            if case.appeals >= self.policy.max_appeals:
                raise AppealRefused(f"case {case_id}: {case.appeals} appeal(s) already made, "
                                    f"policy allows {self.policy.max_appeals}")
            self.conn.execute("UPDATE return_cases SET appeals = appeals + 1 WHERE id = ?", (case_id,))
            self._transition(case, now, f"merchant:{mid}", "appeal", S.APPEALED,
                             {"statement": statement, "appeal_no": case.appeals + 1,
                              "window_closes": last_day.isoformat()})
        return self.get_case(case_id)

    def confirm_refund(self, case_id: int, mid: str, note: str = "") -> Case:
        """The merchant confirms the refund arrived."""
        now = self.clock.now()
        with transaction(self.conn):
            case = self._for_merchant(case_id, mid, "confirm_refund")
            self._check(case, "confirm_refund")
            if case.deposit_id is not None:
                self.registry.confirm_refund(case.deposit_id)
            self._transition(case, now, f"merchant:{mid}", "confirm_refund", S.REFUND_CONFIRMED,
                             {"note": note, "refund_fen": case.refund_fen,
                              "on_time": case.refund_due is None or local_date(now) <= case.refund_due})
        return self.get_case(case_id)

    def follow_up(self, case_id: int, mid: str, note: str) -> Case:
        """The merchant chases an approved case (e.g. the refund has not arrived)."""
        note = _required("follow-up note", note)
        now = self.clock.now()
        with transaction(self.conn):
            case = self._for_merchant(case_id, mid, "follow_up")
            self._check(case, "follow_up")
            self._event(case_id, now, f"merchant:{mid}", "follow_up", case.state, case.state,
                        {"note": note, "refund_overdue": case.refund_overdue})
        return self.get_case(case_id)

    # -- acquirer-side steps ----------------------------------------------------

    def start_review(self, case_id: int, actor: str) -> Case:
        return self._acquirer_step(case_id, actor, "start_review", S.UNDER_REVIEW, {})

    def start_re_review(self, case_id: int, actor: str) -> Case:
        return self._acquirer_step(case_id, actor, "start_re_review", S.UNDER_RE_REVIEW, {})

    def decide(self, case_id: int, actor: str, *, inspection: Inspection | None = None,
               waive: tuple[str, ...] = (), note: str = "") -> Case:
        """Review the case against the policy and record the approval or rejection.

        ``waive`` (reason codes) is for a re-review that sets a reason aside; the
        waived reasons stay in the recorded decision."""
        actor = _required("actor", actor)
        now = self.clock.now()
        with transaction(self.conn):
            case = self._load(case_id)
            self._check(case, "decide")
            if waive and case.state is not S.UNDER_RE_REVIEW:
                raise CaseError(f"case {case_id}: reasons can only be waived on re-review (case is "
                                f"{case.state.value})")
            facts = self.facts.facts_for(case.tid, case.mid, now)
            decision = review(facts, self.policy, now, inspection, waive)
            target = S.APPROVED if decision.approved else S.REJECTED
            self.conn.execute(
                "UPDATE return_cases SET decided_at = ?, decision_json = ?, refund_fen = ?, refund_due = ?, "
                "refund_method = ? WHERE id = ?",
                (now.isoformat(), _dumps(decision.to_json()),
                 decision.refund_fen if decision.approved else None,
                 decision.refund_due.isoformat() if decision.refund_due else None,
                 decision.refund_method, case_id))
            self._transition(case, now, actor, "approve" if decision.approved else "reject", target, {
                "facts": facts.to_json(), "inspection": (inspection or Inspection()).to_json(),
                "decision": decision.to_json(), "note": note})
        return self.get_case(case_id)

    def record_settlement(self, case_id: int, actor: str, batch_no: str) -> Case:
        """The caller reports the terminal's last batch settled; refused while a
        batch is still open in the facts."""
        batch_no = _required("batch number", batch_no)
        now = self.clock.now()
        with transaction(self.conn):
            case = self._load(case_id)
            self._check(case, "settle")
            facts = self.facts.facts_for(case.tid, case.mid, now)
            if facts.unsettled_batches:
                raise CaseError(f"case {case_id}: terminal {case.tid} still has unsettled batch "
                                f"{', '.join(facts.unsettled_batches)}")
            self._transition(case, now, _required("actor", actor), "settle", S.SETTLED,
                             {"batch_no": batch_no})
        return self.get_case(case_id)

    def unbind(self, case_id: int, actor: str) -> Case:
        now = self.clock.now()
        with transaction(self.conn):
            case = self._load(case_id)
            self._check(case, "unbind")
            terminal = self.registry.unbind(case.tid)
            self._transition(case, now, _required("actor", actor), "unbind", S.UNBOUND,
                             {"terminal_state": terminal.state.value})
        return self.get_case(case_id)

    def deregister(self, case_id: int, actor: str) -> Case:
        now = self.clock.now()
        with transaction(self.conn):
            case = self._load(case_id)
            self._check(case, "deregister")
            terminal = self.registry.deregister(case.tid)
            self._transition(case, now, _required("actor", actor), "deregister", S.DEREGISTERED,
                             {"terminal_state": terminal.state.value})
        return self.get_case(case_id)

    def issue_refund(self, case_id: int, actor: str, *, method: str | None = None,
                     reference: str = "") -> Case:
        """Pay the approved refund (amount and due date as decided)."""
        now = self.clock.now()
        with transaction(self.conn):
            case = self._load(case_id)
            self._check(case, "issue_refund")
            method = method or case.refund_method
            if method not in REFUND_METHODS:
                raise CaseError(f"case {case_id}: refund method {method!r} is not one of "
                                f"{', '.join(REFUND_METHODS)}")
            amount = case.refund_fen or 0
            assert case.refund_due is not None
            deposit = self.registry.open_deposit(case.tid, case.mid)
            deposit_id = None
            if deposit is not None:
                deposit_id = self.registry.issue_refund(deposit.id, amount, case.refund_due, method).id
            elif amount > 0:
                raise CaseError(f"case {case_id}: no unrefunded deposit for terminal {case.tid} "
                                f"to refund {amount} fen from")
            self.conn.execute("UPDATE return_cases SET refund_method = ?, deposit_id = ? WHERE id = ?",
                              (method, deposit_id, case_id))
            self._transition(case, now, _required("actor", actor), "issue_refund", S.REFUND_ISSUED,
                             {"amount_fen": amount, "due": case.refund_due.isoformat(),
                              "method": method, "reference": reference, "deposit_id": deposit_id})
        return self.get_case(case_id)

    def flag_overdue(self, actor: str = "host") -> list[Case]:
        """Record a ``refund_overdue`` event on each newly overdue case; return them."""
        now = self.clock.now()
        flagged = []
        with transaction(self.conn):
            for case in self.overdue_cases():
                if case.overdue_flagged_at is not None:
                    continue
                self.conn.execute("UPDATE return_cases SET overdue_flagged_at = ? WHERE id = ?",
                                  (now.isoformat(), case.id))
                assert case.refund_due is not None
                self._event(case.id, now, actor, "refund_overdue", case.state, case.state,
                            {"refund_due": case.refund_due.isoformat(),
                             "days_overdue": (local_date(now) - case.refund_due).days})
                flagged.append(case.id)
        return [self.get_case(i) for i in flagged]

    # -- internals ----------------------------------------------------------------

    def _merchant_step(self, case_id: int, mid: str, action: str, target: CaseState,
                       detail: dict[str, Any]) -> Case:
        now = self.clock.now()
        with transaction(self.conn):
            case = self._for_merchant(case_id, mid, action)
            self._check(case, action)
            self._transition(case, now, f"merchant:{mid}", action, target, detail)
        return self.get_case(case_id)

    def _acquirer_step(self, case_id: int, actor: str, action: str, target: CaseState,
                       detail: dict[str, Any]) -> Case:
        actor = _required("actor", actor)
        now = self.clock.now()
        with transaction(self.conn):
            case = self._load(case_id)
            self._check(case, action)
            self._transition(case, now, actor, action, target, detail)
        return self.get_case(case_id)

    def _load(self, case_id: int) -> Case:
        return self.get_case(case_id)

    def _for_merchant(self, case_id: int, mid: str, action: str) -> Case:
        case = self._load(case_id)
        if mid != case.mid:
            raise NotYourCase(case_id, mid, action)
        return case

    @staticmethod
    def _check(case: Case, action: str) -> None:
        if case.state not in _ALLOWED[action]:
            raise IllegalCaseTransition(case.id, case.state, action)

    def _transition(self, case: Case, now: datetime, actor: str, action: str, target: CaseState,
                    detail: dict[str, Any]) -> None:
        self.conn.execute("UPDATE return_cases SET state = ?, updated_at = ? WHERE id = ?",
                          (target.value, now.isoformat(), case.id))
        self._event(case.id, now, actor, action, case.state, target, detail)

    def _event(self, case_id: int, now: datetime, actor: str, action: str, frm: CaseState | None,
               to: CaseState, detail: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO case_events (case_id, at, actor, action, from_state, to_state, detail_json) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (case_id, now.isoformat(), actor, action, frm.value if frm else None, to.value, _dumps(detail)))

    @staticmethod
    def _case(row: tuple, today: date) -> Case:
        (id_, mid, tid, state, reason, contact, ident, purchase, applied, updated, appeals, decision_json,
         refund_fen, refund_due, refund_method, deposit_id, flagged) = row
        state = CaseState(state)
        due = date.fromisoformat(refund_due) if refund_due else None
        return Case(
            id=id_, mid=mid, tid=tid, state=state, reason=reason, contact=contact,
            identity_proof_ref=ident, purchase_proof_ref=purchase,
            applied_at=datetime.fromisoformat(applied), updated_at=datetime.fromisoformat(updated),
            appeals=appeals,
            decision=Decision.from_json(json.loads(decision_json)) if decision_json else None,
            refund_fen=refund_fen, refund_due=due, refund_method=refund_method, deposit_id=deposit_id,
            overdue_flagged_at=datetime.fromisoformat(flagged) if flagged else None,
            refund_overdue=state in AWAITING_REFUND and due is not None and today > due)
