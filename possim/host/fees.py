"""Merchant fee schedules (MDR) and the fee and net amount of a settlement batch.

A schedule gives, per card kind (debit, credit, foreign) and transaction type,
a percentage rate with an optional fixed part, minimum and cap -- e.g. domestic
debit 0.5% capped at 20 yuan. All amounts are integer fen; rates are held as
integer parts per million (``"0.38%"`` -> 3800), so no float ever touches money.

Rounding rule: the fee of each transaction is ``amount x rate`` rounded half up
to a whole fen, plus the fixed part, then raised to the minimum, lowered to the
cap, and never more than the amount itself. Caps and minimums apply per
transaction. A batch's fee is the sum of its transactions' fees (never a rate
applied to the batch total), so it is the same however the batch is split.

Transaction types: ``purchase`` and ``preauth_completion`` bring money in;
``refund`` sends it back. A void cancels its original inside the batch, so
neither appears in the settlement lines. Whether the acquirer gives back the
fee on a refund is the schedule's ``refund_fee``: ``kept`` (the refund costs
the merchant the full amount, fee 0) or ``returned`` (a negative fee computed
on the refunded amount at the purchase rate).

File form (YAML), one or more schedules by name::

    standard:
      refund_fee: kept
      rates:
        debit:   {purchase: {rate: "0.5%", cap_fen: 2000}}
        credit:  {purchase: {rate: "0.6%"}}
        foreign: {purchase: {rate: "2.5%", min_fen: 100}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from possim.errors import PossimError

PPM = 1_000_000


class FeeError(PossimError):
    """A fee schedule or a settlement line that cannot be used."""


class CardKind(str, Enum):
    DEBIT = "debit"
    CREDIT = "credit"
    FOREIGN = "foreign"


#: +1: money to the merchant; -1: money back to the cardholder.
TXN_SIGN: dict[str, int] = {"purchase": 1, "preauth_completion": 1, "refund": -1}


def parse_rate(text: Any) -> int:
    """``"0.38%"`` -> 3800 parts per million; refuses rates finer than 0.0001%."""
    if not isinstance(text, str) or not text.strip().endswith("%"):
        raise FeeError(f"rate {text!r}: expected a percentage string such as \"0.5%\"")
    try:
        ppm = Decimal(text.strip()[:-1]) * 10_000
    except InvalidOperation:
        raise FeeError(f"rate {text!r}: not a number") from None
    if ppm != ppm.to_integral_value() or ppm < 0 or ppm > PPM:
        raise FeeError(f"rate {text!r}: expected 0%..100% in steps of 0.0001%")
    return int(ppm)


@dataclass(frozen=True)
class Rate:
    ppm: int
    fixed_fen: int = 0
    min_fen: int = 0
    cap_fen: int | None = None

    def fee(self, amount_fen: int) -> int:
        fee = (amount_fen * self.ppm + PPM // 2) // PPM + self.fixed_fen
        fee = max(fee, self.min_fen)
        if self.cap_fen is not None:
            fee = min(fee, self.cap_fen)
        return min(fee, amount_fen)

    def to_json(self) -> dict[str, object]:
        pct = (Decimal(self.ppm) / 10_000).normalize()
        return {"rate": f"{pct:f}%", "fixed_fen": self.fixed_fen, "min_fen": self.min_fen,
                "cap_fen": self.cap_fen}


@dataclass(frozen=True)
class FeeSchedule:
    name: str
    rates: Mapping[tuple[CardKind, str], Rate]
    refund_fee: str = "kept"

    def rate(self, card_kind: CardKind | str, txn_type: str) -> Rate:
        kind = _card_kind(card_kind)
        try:
            return self.rates[(kind, txn_type)]
        except KeyError:
            raise FeeError(f"fee schedule {self.name!r}: no rate for {kind.value} {txn_type}") from None

    def fee_for(self, card_kind: CardKind | str, txn_type: str, amount_fen: int) -> int:
        """Signed fee for one transaction: positive is charged, negative given back."""
        if txn_type not in TXN_SIGN:
            raise FeeError(f"transaction type {txn_type!r}: expected one of {', '.join(TXN_SIGN)}")
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0:
            raise FeeError(f"amount_fen {amount_fen!r}: expected a whole number of fen >= 0")
        if TXN_SIGN[txn_type] > 0:
            return self.rate(card_kind, txn_type).fee(amount_fen)
        if self.refund_fee == "returned":
            return -self.rate(card_kind, "purchase").fee(amount_fen)
        return 0

    def to_json(self) -> dict[str, object]:
        rates: dict[str, dict[str, object]] = {}
        for (kind, txn), rate in sorted(self.rates.items(), key=lambda kv: (kv[0][0].value, kv[0][1])):
            rates.setdefault(kind.value, {})[txn] = rate.to_json()
        return {"name": self.name, "refund_fee": self.refund_fee, "rates": rates}


def _card_kind(value: CardKind | str) -> CardKind:
    try:
        return CardKind(value)
    except ValueError:
        raise FeeError(f"card kind {value!r}: expected one of "
                       f"{', '.join(k.value for k in CardKind)}") from None


def _fen(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FeeError(f"fee schedule {where}: expected a whole number of fen >= 0, got {value!r}")
    return value


def schedule_from_mapping(name: str, data: Mapping[str, Any]) -> FeeSchedule:
    if not isinstance(data, Mapping):
        raise FeeError(f"fee schedule {name!r}: expected a mapping")
    unknown = sorted(set(data) - {"rates", "refund_fee"})
    if unknown:
        raise FeeError(f"fee schedule {name!r}: unknown key {unknown[0]!r} (known: rates, refund_fee)")
    refund_fee = data.get("refund_fee", "kept")
    if refund_fee not in ("kept", "returned"):
        raise FeeError(f"fee schedule {name!r}: refund_fee {refund_fee!r}: expected kept or returned")
    rates: dict[tuple[CardKind, str], Rate] = {}
    for kind_name, by_type in (data.get("rates") or {}).items():
        kind = _card_kind(kind_name)
        if not isinstance(by_type, Mapping):
            raise FeeError(f"fee schedule {name!r}: rates.{kind_name}: expected transaction type: rate")
        for txn_type, spec in by_type.items():
            where = f"{name!r} rates.{kind_name}.{txn_type}"
            if txn_type not in TXN_SIGN or TXN_SIGN[txn_type] < 0:
                raise FeeError(f"fee schedule {where}: expected purchase or preauth_completion "
                               "(refunds follow refund_fee)")
            if not isinstance(spec, Mapping) or "rate" not in spec:
                raise FeeError(f"fee schedule {where}: expected a mapping with 'rate'")
            extra = sorted(set(spec) - {"rate", "fixed_fen", "min_fen", "cap_fen"})
            if extra:
                raise FeeError(f"fee schedule {where}: unknown key {extra[0]!r}")
            cap = spec.get("cap_fen")
            rates[(kind, txn_type)] = Rate(
                ppm=parse_rate(spec["rate"]), fixed_fen=_fen(where, spec.get("fixed_fen", 0)),
                min_fen=_fen(where, spec.get("min_fen", 0)),
                cap_fen=None if cap is None else _fen(where, cap))
    return FeeSchedule(name=name, rates=rates, refund_fee=refund_fee)


def fee_schedules_from_mapping(data: Mapping[str, Any]) -> dict[str, FeeSchedule]:
    if not isinstance(data, Mapping) or not data:
        raise FeeError("fee schedules: expected a mapping of schedule name to schedule")
    return {str(name): schedule_from_mapping(str(name), body) for name, body in data.items()}


def load_fee_schedules(path: str | Path) -> dict[str, FeeSchedule]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise FeeError(f"fee schedule file {path}: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise FeeError(f"fee schedule file {path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    try:
        return fee_schedules_from_mapping(data)
    except FeeError as exc:
        raise FeeError(f"{path}: {exc}") from exc


# --- settlement --------------------------------------------------------------

@dataclass(frozen=True)
class SettlementLine:
    """One approved, unvoided transaction of the batch."""

    card_kind: CardKind | str
    txn_type: str
    amount_fen: int
    ref: str = ""  # e.g. the RRN or voucher number, for the detail slip


@dataclass(frozen=True)
class LineFee:
    card_kind: CardKind
    txn_type: str
    amount_fen: int   # as the cardholder paid it (always >= 0)
    fee_fen: int      # signed
    net_fen: int      # what this line moves to (+) or from (-) the merchant's account
    ref: str

    def to_json(self) -> dict[str, object]:
        return {"card_kind": self.card_kind.value, "txn_type": self.txn_type, "amount_fen": self.amount_fen,
                "fee_fen": self.fee_fen, "net_fen": self.net_fen, "ref": self.ref}


@dataclass(frozen=True)
class KindTotals:
    count: int
    gross_fen: int
    fee_fen: int
    net_fen: int

    def to_json(self) -> dict[str, int]:
        return {"count": self.count, "gross_fen": self.gross_fen, "fee_fen": self.fee_fen,
                "net_fen": self.net_fen}


@dataclass(frozen=True)
class BatchFees:
    schedule: str
    lines: tuple[LineFee, ...]
    by_card_kind: Mapping[CardKind, KindTotals]
    gross_fen: int   # purchases minus refunds
    fee_fen: int
    net_fen: int     # gross minus fees: what the acquirer pays the merchant

    def to_json(self) -> dict[str, object]:
        return {"schedule": self.schedule, "gross_fen": self.gross_fen, "fee_fen": self.fee_fen,
                "net_fen": self.net_fen,
                "by_card_kind": {k.value: t.to_json() for k, t in self.by_card_kind.items()},
                "lines": [line.to_json() for line in self.lines]}


def compute_batch(schedule: FeeSchedule, lines: Iterable[SettlementLine]) -> BatchFees:
    out: list[LineFee] = []
    for line in lines:
        kind = _card_kind(line.card_kind)
        fee = schedule.fee_for(kind, line.txn_type, line.amount_fen)
        gross = TXN_SIGN[line.txn_type] * line.amount_fen
        out.append(LineFee(kind, line.txn_type, line.amount_fen, fee, gross - fee, line.ref))
    by_kind: dict[CardKind, KindTotals] = {}
    for kind in CardKind:
        mine = [x for x in out if x.card_kind is kind]
        if mine:
            by_kind[kind] = KindTotals(
                count=len(mine), gross_fen=sum(x.net_fen + x.fee_fen for x in mine),
                fee_fen=sum(x.fee_fen for x in mine), net_fen=sum(x.net_fen for x in mine))
    fee_total = sum(x.fee_fen for x in out)
    net_total = sum(x.net_fen for x in out)
    return BatchFees(schedule=schedule.name, lines=tuple(out), by_card_kind=by_kind,
                     gross_fen=net_total + fee_total, fee_fen=fee_total, net_fen=net_total)
