"""The deposit/return policy and the review of a return application.

``review`` is a pure function of the facts, the policy and the time: the same
inputs always give the same decision, so a decision can be re-derived and
explained later. Every rejection reason carries a code (stable, for scripts),
a text that states the numbers involved and advice saying what the merchant
can do -- merchants are entitled to a reasonable explanation (DOMAIN.md,
"The return-and-deregister path").

Facts come from a ``FactsProvider`` so the transaction ledger can supply real
numbers; ``SqliteFactsProvider`` is the back office's own implementation over
the ``txn_counters``, ``batches`` and ``disputes`` tables, which the ledger
feeds through its ``record_*`` / ``open_*`` / ``settle_*`` methods.

Every policy key is documented in docs/return-path.md.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml

from possim.errors import PossimError
from possim.host.clock import Clock, local_date
from possim.host.db import transaction


class PolicyError(PossimError):
    """The policy file (or a reviewer's input checked against it) is not usable."""


# --- reason codes: one table, one meaning each ------------------------------

DEPOSIT_NON_REFUNDABLE = "DEPOSIT_NON_REFUNDABLE"
SERVICE_PERIOD_NOT_MET = "SERVICE_PERIOD_NOT_MET"
TRANSACTION_COUNT_NOT_MET = "TRANSACTION_COUNT_NOT_MET"
VOLUME_NOT_MET = "VOLUME_NOT_MET"
UNSETTLED_BATCH = "UNSETTLED_BATCH"
OPEN_DISPUTES = "OPEN_DISPUTES"

#: Codes a rejection can carry, with what they mean.
REASON_CODES: dict[str, str] = {
    DEPOSIT_NON_REFUNDABLE: "the contract makes the deposit non-refundable",
    SERVICE_PERIOD_NOT_MET: "the minimum service period has not been served",
    TRANSACTION_COUNT_NOT_MET: "the minimum number of transactions has not been reached",
    VOLUME_NOT_MET: "the minimum transaction volume has not been reached",
    UNSETTLED_BATCH: "the terminal has a batch not yet settled",
    OPEN_DISPUTES: "the merchant has open disputes (chargebacks, complaints) on this terminal",
}

# deduction codes
MISSING_ACCESSORY = "MISSING_ACCESSORY"
DAMAGE_FEE = "DAMAGE_FEE"
EARLY_TERMINATION_FEE = "EARLY_TERMINATION_FEE"

REFUND_METHODS = ("bank_transfer", "cash", "original_payment")


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d} yuan"


# --- the policy --------------------------------------------------------------

@dataclass(frozen=True)
class EarlyTermination:
    term_days: int
    fee_fen: int


@dataclass(frozen=True)
class ReturnPolicy:
    name: str
    min_service_days: int = 0
    min_transaction_count: int | None = None
    min_volume_fen: int | None = None
    volume_rule: str = "all"
    block_on_unsettled_batch: bool = True
    block_on_open_disputes: bool = True
    non_refundable_clause: str = "reject"
    missing_accessory_fen: Mapping[str, int] = field(default_factory=dict)
    damage_fee_fen: int = 0
    early_termination: EarlyTermination | None = None
    refund_due_days: int = 15
    refund_due_day_kind: str = "calendar"
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    refund_method: str = "bank_transfer"
    appeal_window_days: int = 30
    max_appeals: int = 1
    fingerprint: str = ""  # sha256 of the source text, so a decision names the exact policy

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name, "fingerprint": self.fingerprint,
            "min_service_days": self.min_service_days,
            "min_transaction_count": self.min_transaction_count, "min_volume_fen": self.min_volume_fen,
            "volume_rule": self.volume_rule, "block_on_unsettled_batch": self.block_on_unsettled_batch,
            "block_on_open_disputes": self.block_on_open_disputes,
            "non_refundable_clause": self.non_refundable_clause,
            "deductions": {
                "missing_accessory_fen": dict(self.missing_accessory_fen),
                "damage_fee_fen": self.damage_fee_fen,
                "early_termination": (None if self.early_termination is None else
                                      {"term_days": self.early_termination.term_days,
                                       "fee_fen": self.early_termination.fee_fen}),
            },
            "refund_due_days": self.refund_due_days, "refund_due_day_kind": self.refund_due_day_kind,
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "extra_workdays": sorted(d.isoformat() for d in self.extra_workdays),
            "refund_method": self.refund_method,
            "appeal_window_days": self.appeal_window_days, "max_appeals": self.max_appeals,
        }


_TOP_KEYS = {
    "name", "min_service_days", "min_transaction_count", "min_volume_fen", "volume_rule",
    "block_on_unsettled_batch", "block_on_open_disputes", "non_refundable_clause", "deductions",
    "refund_due_days", "refund_due_day_kind", "holidays", "extra_workdays", "refund_method",
    "appeal_window_days", "max_appeals",
}
_DEDUCTION_KEYS = {"missing_accessory_fen", "damage_fee_fen", "early_termination"}


def _int(where: str, value: Any, *, optional: bool = False, minimum: int = 0) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyError(f"policy key {where}: expected a whole number >= {minimum}, got {value!r}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"policy key {where}: expected true or false, got {value!r}")
    return value


def _choice(where: str, value: Any, choices: Iterable[str]) -> str:
    options = tuple(choices)
    if value not in options:
        raise PolicyError(f"policy key {where}: expected one of {', '.join(options)}, got {value!r}")
    return str(value)


def _dates(where: str, value: Any) -> frozenset[date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise PolicyError(f"policy key {where}: expected a list of dates (YYYY-MM-DD)")
    out = set()
    for item in value:
        if isinstance(item, datetime) or not isinstance(item, (date, str)):
            raise PolicyError(f"policy key {where}: {item!r} is not a date (YYYY-MM-DD)")
        try:
            out.add(item if isinstance(item, date) else date.fromisoformat(item))
        except ValueError as exc:
            raise PolicyError(f"policy key {where}: {item!r} is not a date (YYYY-MM-DD)") from exc
    return frozenset(out)


def policy_from_mapping(data: Mapping[str, Any], fingerprint: str = "") -> ReturnPolicy:
    """Build a policy from parsed YAML, refusing unknown keys (a typo must not
    silently drop a rule)."""
    if not isinstance(data, Mapping):
        raise PolicyError("policy: expected a mapping of keys at the top level")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise PolicyError(f"policy: unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise PolicyError("policy key name: a non-empty name is required")
    deductions = data.get("deductions") or {}
    if not isinstance(deductions, Mapping):
        raise PolicyError("policy key deductions: expected a mapping")
    unknown = sorted(set(deductions) - _DEDUCTION_KEYS)
    if unknown:
        raise PolicyError(f"policy key deductions.{unknown[0]}: unknown "
                          f"(known: {', '.join(sorted(_DEDUCTION_KEYS))})")
    accessories = deductions.get("missing_accessory_fen") or {}
    if not isinstance(accessories, Mapping):
        raise PolicyError("policy key deductions.missing_accessory_fen: expected item: fen pairs")
    accessory_fen = {str(k): int(_int(f"deductions.missing_accessory_fen.{k}", v) or 0)
                     for k, v in accessories.items()}
    early = deductions.get("early_termination")
    early_termination = None
    if early is not None:
        if not isinstance(early, Mapping) or set(early) != {"term_days", "fee_fen"}:
            raise PolicyError("policy key deductions.early_termination: expected term_days and fee_fen")
        early_termination = EarlyTermination(
            term_days=int(_int("deductions.early_termination.term_days", early["term_days"], minimum=1) or 1),
            fee_fen=int(_int("deductions.early_termination.fee_fen", early["fee_fen"]) or 0))
    return ReturnPolicy(
        name=name.strip(),
        min_service_days=int(_int("min_service_days", data.get("min_service_days", 0)) or 0),
        min_transaction_count=_int("min_transaction_count", data.get("min_transaction_count"), optional=True),
        min_volume_fen=_int("min_volume_fen", data.get("min_volume_fen"), optional=True),
        volume_rule=_choice("volume_rule", data.get("volume_rule", "all"), ("all", "any")),
        block_on_unsettled_batch=_bool("block_on_unsettled_batch", data.get("block_on_unsettled_batch", True)),
        block_on_open_disputes=_bool("block_on_open_disputes", data.get("block_on_open_disputes", True)),
        non_refundable_clause=_choice("non_refundable_clause", data.get("non_refundable_clause", "reject"),
                                      ("reject", "approve_without_refund")),
        missing_accessory_fen=accessory_fen,
        damage_fee_fen=int(_int("deductions.damage_fee_fen", deductions.get("damage_fee_fen", 0)) or 0),
        early_termination=early_termination,
        refund_due_days=int(_int("refund_due_days", data.get("refund_due_days", 15)) or 0),
        refund_due_day_kind=_choice("refund_due_day_kind", data.get("refund_due_day_kind", "calendar"),
                                    ("calendar", "business")),
        holidays=_dates("holidays", data.get("holidays")),
        extra_workdays=_dates("extra_workdays", data.get("extra_workdays")),
        refund_method=_choice("refund_method", data.get("refund_method", "bank_transfer"), REFUND_METHODS),
        appeal_window_days=int(_int("appeal_window_days", data.get("appeal_window_days", 30)) or 0),
        max_appeals=int(_int("max_appeals", data.get("max_appeals", 1)) or 0),
        fingerprint=fingerprint,
    )


def load_policy_text(text: str, source: str = "<policy>") -> ReturnPolicy:
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for a date like 2024-13-01
        raise PolicyError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    try:
        return policy_from_mapping(data, hashlib.sha256(text.encode("utf-8")).hexdigest())
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from exc


def load_policy(path: str | Path) -> ReturnPolicy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"policy file {path}: {exc.strerror or exc}") from exc
    return load_policy_text(text, str(path))


# --- due dates ---------------------------------------------------------------

def refund_due_date(decided_on: date, policy: ReturnPolicy) -> date:
    """The date by which the refund must reach the merchant.

    Counted from the approval date: calendar days, or business days (Monday to
    Friday, minus ``holidays``, plus ``extra_workdays`` -- the weekend days
    China works to make up for a holiday)."""
    if policy.refund_due_day_kind == "calendar":
        return decided_on + timedelta(days=policy.refund_due_days)
    day, left = decided_on, policy.refund_due_days
    while left > 0:
        day += timedelta(days=1)
        workday = (day.weekday() < 5 and day not in policy.holidays) or day in policy.extra_workdays
        if workday:
            left -= 1
    return day


# --- review ------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewFacts:
    """What the acquirer knows about a terminal when it reviews a return."""

    tid: str
    mid: str
    contract_start: date
    service_days: int
    transaction_count: int
    volume_fen: int
    unsettled_batches: tuple[str, ...]
    open_disputes: tuple[str, ...]
    deposit_fen: int
    deposit_refundable: bool

    @property
    def unsettled_batch(self) -> bool:
        return bool(self.unsettled_batches)

    def to_json(self) -> dict[str, object]:
        return {
            "tid": self.tid, "mid": self.mid, "contract_start": self.contract_start.isoformat(),
            "service_days": self.service_days, "transaction_count": self.transaction_count,
            "volume_fen": self.volume_fen, "unsettled_batches": list(self.unsettled_batches),
            "open_disputes": list(self.open_disputes), "deposit_fen": self.deposit_fen,
            "deposit_refundable": self.deposit_refundable,
        }


@dataclass(frozen=True)
class Inspection:
    """What the acquirer found on the returned device."""

    missing_accessories: tuple[str, ...] = ()
    damaged: bool = False
    damage_note: str = ""

    def to_json(self) -> dict[str, object]:
        return {"missing_accessories": list(self.missing_accessories), "damaged": self.damaged,
                "damage_note": self.damage_note}


@dataclass(frozen=True)
class Reason:
    code: str
    text: str
    advice: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text, "advice": self.advice}


@dataclass(frozen=True)
class Deduction:
    code: str
    text: str
    amount_fen: int

    def to_json(self) -> dict[str, object]:
        return {"code": self.code, "text": self.text, "amount_fen": self.amount_fen}


@dataclass(frozen=True)
class Decision:
    approved: bool
    reasons: tuple[Reason, ...]          # why rejected (empty when approved)
    waived: tuple[Reason, ...]           # reasons a reviewer set aside, kept on record
    deductions: tuple[Deduction, ...]
    deposit_fen: int
    refund_fen: int                      # deposit minus deductions, never below 0; 0 if rejected
    refund_due: date | None              # None if rejected
    refund_method: str | None
    policy_name: str
    policy_fingerprint: str
    decided_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "approved": self.approved,
            "reasons": [r.to_json() for r in self.reasons],
            "waived": [r.to_json() for r in self.waived],
            "deductions": [d.to_json() for d in self.deductions],
            "deposit_fen": self.deposit_fen, "refund_fen": self.refund_fen,
            "refund_due": self.refund_due.isoformat() if self.refund_due else None,
            "refund_method": self.refund_method,
            "policy": {"name": self.policy_name, "fingerprint": self.policy_fingerprint},
            "decided_at": self.decided_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Decision:
        return cls(
            approved=bool(data["approved"]),
            reasons=tuple(Reason(**r) for r in data["reasons"]),
            waived=tuple(Reason(**r) for r in data["waived"]),
            deductions=tuple(Deduction(**d) for d in data["deductions"]),
            deposit_fen=int(data["deposit_fen"]), refund_fen=int(data["refund_fen"]),
            refund_due=date.fromisoformat(data["refund_due"]) if data["refund_due"] else None,
            refund_method=data["refund_method"],
            policy_name=data["policy"]["name"], policy_fingerprint=data["policy"]["fingerprint"],
            decided_at=datetime.fromisoformat(data["decided_at"]),
        )


def _blocking_reasons(facts: ReviewFacts, policy: ReturnPolicy) -> list[Reason]:
    reasons: list[Reason] = []
    if (policy.non_refundable_clause == "reject" and not facts.deposit_refundable
            and facts.deposit_fen > 0):
        reasons.append(Reason(
            DEPOSIT_NON_REFUNDABLE,
            f"the contract (signed {facts.contract_start.isoformat()}) makes the deposit of "
            f"{yuan(facts.deposit_fen)} non-refundable",
            "if you believe the clause does not apply, appeal with the contract page that says "
            "otherwise; to return the terminal without a refund, ask support"))
    if facts.service_days < policy.min_service_days:
        eligible = facts.contract_start + timedelta(days=policy.min_service_days)
        reasons.append(Reason(
            SERVICE_PERIOD_NOT_MET,
            f"service period is {facts.service_days} days since {facts.contract_start.isoformat()}; "
            f"the policy requires {policy.min_service_days} days",
            f"apply again on or after {eligible.isoformat()}"))
    count_short = (policy.min_transaction_count is not None
                   and facts.transaction_count < policy.min_transaction_count)
    volume_short = policy.min_volume_fen is not None and facts.volume_fen < policy.min_volume_fen
    rules_set = (policy.min_transaction_count is not None) + (policy.min_volume_fen is not None)
    # with "any", one rule met is enough; with "all", each unmet rule is a reason
    report = (count_short or volume_short) if policy.volume_rule == "all" or rules_set < 2 \
        else (count_short and volume_short)
    if report and count_short:
        assert policy.min_transaction_count is not None
        missing = policy.min_transaction_count - facts.transaction_count
        reasons.append(Reason(
            TRANSACTION_COUNT_NOT_MET,
            f"{facts.transaction_count} transactions made; the policy requires "
            f"{policy.min_transaction_count}",
            f"make {missing} more transactions, then apply again"))
    if report and volume_short:
        assert policy.min_volume_fen is not None
        missing = policy.min_volume_fen - facts.volume_fen
        reasons.append(Reason(
            VOLUME_NOT_MET,
            f"transaction volume is {yuan(facts.volume_fen)}; the policy requires "
            f"{yuan(policy.min_volume_fen)}",
            f"reach {yuan(missing)} more in volume, then apply again"))
    if policy.block_on_unsettled_batch and facts.unsettled_batches:
        batches = ", ".join(facts.unsettled_batches)
        reasons.append(Reason(
            UNSETTLED_BATCH,
            f"batch {batches} on terminal {facts.tid} is not settled",
            "run settlement on the terminal, then appeal (or apply again)"))
    if policy.block_on_open_disputes and facts.open_disputes:
        refs = ", ".join(facts.open_disputes)
        reasons.append(Reason(
            OPEN_DISPUTES,
            f"{len(facts.open_disputes)} open dispute(s) on terminal {facts.tid}: {refs}",
            "answer the open dispute(s) with your receipts; once closed, appeal (or apply again)"))
    return reasons


def _deductions(facts: ReviewFacts, policy: ReturnPolicy, inspection: Inspection) -> list[Deduction]:
    out: list[Deduction] = []
    for item in inspection.missing_accessories:
        if item not in policy.missing_accessory_fen:
            known = ", ".join(sorted(policy.missing_accessory_fen)) or "none"
            raise PolicyError(f"inspection: accessory {item!r} has no price in policy "
                              f"{policy.name!r} (deductions.missing_accessory_fen: {known})")
        fen = policy.missing_accessory_fen[item]
        out.append(Deduction(MISSING_ACCESSORY, f"missing accessory: {item} ({yuan(fen)})", fen))
    if inspection.damaged and policy.damage_fee_fen:
        note = f": {inspection.damage_note}" if inspection.damage_note else ""
        out.append(Deduction(DAMAGE_FEE, f"device damaged{note} ({yuan(policy.damage_fee_fen)})",
                             policy.damage_fee_fen))
    early = policy.early_termination
    if early is not None and facts.service_days < early.term_days and early.fee_fen:
        unserved = early.term_days - facts.service_days
        # pro rata for the unserved part of the term, rounded down (in the merchant's favour)
        fen = early.fee_fen * unserved // early.term_days
        out.append(Deduction(
            EARLY_TERMINATION_FEE,
            f"early termination: {unserved} of {early.term_days} contract days unserved, "
            f"{yuan(early.fee_fen)} x {unserved}/{early.term_days} = {yuan(fen)}", fen))
    return out


def review(facts: ReviewFacts, policy: ReturnPolicy, now: datetime,
           inspection: Inspection | None = None, waive: Iterable[str] = ()) -> Decision:
    """Decide a return application.

    All blocking reasons are reported at once, so the merchant can fix them
    together. ``waive`` lists reason codes a reviewer sets aside on re-review
    (a negotiated exception); waived reasons stay on record in the decision.
    """
    inspection = inspection or Inspection()
    waive_set = set(waive)
    unknown = sorted(waive_set - set(REASON_CODES))
    if unknown:
        raise PolicyError(f"waive: unknown reason code {unknown[0]!r}")
    blocking = _blocking_reasons(facts, policy)
    reasons = tuple(r for r in blocking if r.code not in waive_set)
    waived = tuple(r for r in blocking if r.code in waive_set)
    deductions = tuple(_deductions(facts, policy, inspection))
    approved = not reasons
    refundable = facts.deposit_refundable or DEPOSIT_NON_REFUNDABLE in waive_set
    if approved and refundable:
        refund = max(0, facts.deposit_fen - sum(d.amount_fen for d in deductions))
    else:
        refund = 0
    return Decision(
        approved=approved, reasons=reasons, waived=waived, deductions=deductions,
        deposit_fen=facts.deposit_fen, refund_fen=refund,
        refund_due=refund_due_date(local_date(now), policy) if approved else None,
        refund_method=policy.refund_method if approved else None,
        policy_name=policy.name, policy_fingerprint=policy.fingerprint, decided_at=now)


# --- facts -------------------------------------------------------------------

class FactsProvider(Protocol):
    def facts_for(self, tid: str, mid: str, now: datetime) -> ReviewFacts: ...


_COUNT_TRANSACTIONS = (
    "INSERT INTO txn_counters (tid, mid, txn_count, volume_fen) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (tid, mid) DO UPDATE SET txn_count = txn_count + excluded.txn_count, "
    "volume_fen = volume_fen + excluded.volume_fen")


def _nothing() -> None:
    pass


class SqliteFactsProvider:
    """Review facts from the host database; the ledger feeds the counters.

    ``before_read`` runs before the facts are read: the ledger sets it to write
    the counts it holds back within a group of requests, so a review in the
    same group counts the purchases before it."""

    def __init__(self, conn: sqlite3.Connection, clock: Clock) -> None:
        self.conn = conn
        self.clock = clock
        self.before_read: Callable[[], None] = _nothing

    def facts_for(self, tid: str, mid: str, now: datetime) -> ReviewFacts:
        self.before_read()
        row = self.conn.execute(
            "SELECT contract_start, deposit_fen, deposit_refundable FROM merchants WHERE mid = ?",
            (mid,)).fetchone()
        if row is None:
            raise PolicyError(f"review facts: merchant {mid!r} is not known to the host")
        contract_start = date.fromisoformat(row[0])
        refundable = bool(row[2])
        deposit = self.conn.execute(
            "SELECT amount_fen, refundable FROM deposits WHERE tid = ? AND mid = ? "
            "AND refund_issued_at IS NULL ORDER BY id DESC LIMIT 1", (tid, mid)).fetchone()
        deposit_fen = 0
        if deposit is not None:
            deposit_fen, refundable = int(deposit[0]), bool(deposit[1])
        counters = self.conn.execute(
            "SELECT txn_count, volume_fen FROM txn_counters WHERE tid = ? AND mid = ?",
            (tid, mid)).fetchone() or (0, 0)
        batches = tuple(r[0] for r in self.conn.execute(
            "SELECT batch_no FROM batches WHERE tid = ? AND mid = ? AND settled_at IS NULL "
            "ORDER BY batch_no", (tid, mid)))
        disputes = tuple(r[0] for r in self.conn.execute(
            "SELECT reference FROM disputes WHERE tid = ? AND mid = ? AND closed_at IS NULL "
            "ORDER BY id", (tid, mid)))
        return ReviewFacts(
            tid=tid, mid=mid, contract_start=contract_start,
            service_days=max(0, (local_date(now) - contract_start).days),
            transaction_count=int(counters[0]), volume_fen=int(counters[1]),
            unsettled_batches=batches, open_disputes=disputes,
            deposit_fen=deposit_fen, deposit_refundable=refundable)

    # feeding: called by the transaction ledger (and by tests, scenarios)

    def record_transaction(self, tid: str, mid: str, amount_fen: int, count: int = 1) -> None:
        """Count an approved transaction towards the volume thresholds."""
        with transaction(self.conn):
            self.write_counts(tid, mid, amount_fen, count)

    def write_counts(self, tid: str, mid: str, amount_fen: int, count: int) -> None:
        """:meth:`record_transaction` inside the caller's open transaction (the ledger's held counts)."""
        self.conn.execute(_COUNT_TRANSACTIONS, (tid, mid, count, amount_fen))

    def open_batch(self, tid: str, mid: str, batch_no: str) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO batches (tid, mid, batch_no, opened_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tid, mid, batch_no) DO NOTHING",
                (tid, mid, batch_no, self.clock.now().isoformat()))

    def settle_batch(self, tid: str, mid: str, batch_no: str) -> None:
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE batches SET settled_at = ? WHERE tid = ? AND mid = ? AND batch_no = ? "
                "AND settled_at IS NULL", (self.clock.now().isoformat(), tid, mid, batch_no))
            if cur.rowcount != 1:
                raise PolicyError(f"terminal {tid}: no open batch {batch_no} to settle")

    def open_dispute(self, tid: str, mid: str, reference: str) -> int:
        with transaction(self.conn):
            cur = self.conn.execute(
                "INSERT INTO disputes (tid, mid, reference, opened_at) VALUES (?, ?, ?, ?)",
                (tid, mid, reference, self.clock.now().isoformat()))
            return int(cur.lastrowid or 0)

    def close_dispute(self, reference: str) -> None:
        with transaction(self.conn):
            cur = self.conn.execute(
                "UPDATE disputes SET closed_at = ? WHERE reference = ? AND closed_at IS NULL",
                (self.clock.now().isoformat(), reference))
            if cur.rowcount == 0:
                raise PolicyError(f"dispute {reference!r}: none open with that reference")
