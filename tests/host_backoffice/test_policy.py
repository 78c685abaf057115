"""The return policy file and the pure review function."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from possim.host.clock import HOST_TZ
from possim.host.policy import (
    DAMAGE_FEE, DEPOSIT_NON_REFUNDABLE, EARLY_TERMINATION_FEE, MISSING_ACCESSORY, OPEN_DISPUTES,
    REASON_CODES, SERVICE_PERIOD_NOT_MET, TRANSACTION_COUNT_NOT_MET, UNSETTLED_BATCH, VOLUME_NOT_MET,
    Inspection, PolicyError, ReviewFacts, load_policy, load_policy_text, policy_from_mapping,
    refund_due_date, review,
)

from .conftest import POLICY_YAML

NOW = datetime(2024, 4, 10, 10, 0, tzinfo=HOST_TZ)
POLICY = load_policy_text(POLICY_YAML)
GOOD = ReviewFacts(tid="T0000001", mid="898310048120001", contract_start=date(2024, 1, 1),
                   service_days=100, transaction_count=12, volume_fen=24_000, unsettled_batches=(),
                   open_disputes=(), deposit_fen=29_900, deposit_refundable=True)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "return-path.md"


def test_eligible_terminal_gets_full_refund_due_in_15_calendar_days() -> None:
    d = review(GOOD, POLICY, NOW)
    assert d.approved and d.reasons == () and d.deductions == ()
    assert (d.refund_fen, d.refund_due, d.refund_method) == (29_900, date(2024, 4, 25), "bank_transfer")
    assert d.policy_name == "test-policy-2024" and len(d.policy_fingerprint) == 64


def test_deductions_reduce_refund_never_below_zero() -> None:
    d = review(GOOD, POLICY, NOW, Inspection(missing_accessories=("charger", "base"), damaged=True,
                                             damage_note="cracked screen"))
    assert d.approved
    assert [(x.code, x.amount_fen) for x in d.deductions] == \
        [(MISSING_ACCESSORY, 3000), (MISSING_ACCESSORY, 5000), (DAMAGE_FEE, 10000)]
    assert d.refund_fen == 29_900 - 18_000
    assert "cracked screen" in d.deductions[2].text
    small = replace(GOOD, deposit_fen=5_000)
    assert review(small, POLICY, NOW, Inspection(damaged=True)).refund_fen == 0


def test_unpriced_accessory_is_an_input_error() -> None:
    with pytest.raises(PolicyError, match="accessory 'stylus' has no price"):
        review(GOOD, POLICY, NOW, Inspection(missing_accessories=("stylus",)))


def test_early_termination_fee_is_pro_rata_rounded_down() -> None:
    policy = replace(POLICY, early_termination=policy_from_mapping(
        {"name": "x", "deductions": {"early_termination": {"term_days": 365, "fee_fen": 10_000}}}
    ).early_termination)
    d = review(GOOD, policy, NOW)
    # 265 of 365 days unserved: 10000 * 265 / 365 = 7260.27 -> 7260
    assert [(x.code, x.amount_fen) for x in d.deductions] == [(EARLY_TERMINATION_FEE, 7260)]
    assert d.refund_fen == 29_900 - 7260
    assert review(replace(GOOD, service_days=365), policy, NOW).deductions == ()


@pytest.mark.parametrize(("change", "code", "text", "advice"), [
    ({"unsettled_batches": ("000042",)}, UNSETTLED_BATCH, "batch 000042 on terminal T0000001 is not settled",
     "run settlement"),
    ({"service_days": 40}, SERVICE_PERIOD_NOT_MET, "service period is 40 days since 2024-01-01; "
     "the policy requires 90 days", "apply again on or after 2024-03-31"),
    ({"open_disputes": ("CB-7781",)}, OPEN_DISPUTES, "1 open dispute(s) on terminal T0000001: CB-7781",
     "answer the open dispute"),
    ({"deposit_refundable": False}, DEPOSIT_NON_REFUNDABLE, "makes the deposit of 299.00 yuan "
     "non-refundable", "appeal with the contract page"),
])
def test_each_rejection_carries_code_reason_and_advice(change: dict, code: str, text: str,
                                                       advice: str) -> None:
    d = review(replace(GOOD, **change), POLICY, NOW)
    assert not d.approved
    assert [r.code for r in d.reasons] == [code]
    assert text in d.reasons[0].text
    assert advice in d.reasons[0].advice
    assert (d.refund_fen, d.refund_due, d.refund_method) == (0, None, None)


def test_all_reasons_reported_together() -> None:
    bad = replace(GOOD, service_days=10, unsettled_batches=("000001", "000002"), open_disputes=("A", "B"))
    codes = [r.code for r in review(bad, POLICY, NOW).reasons]
    assert codes == [SERVICE_PERIOD_NOT_MET, UNSETTLED_BATCH, OPEN_DISPUTES]


def test_volume_rule_any_needs_one_threshold_all_needs_both() -> None:
    few = replace(GOOD, transaction_count=3, volume_fen=150_000)   # count short, volume met
    assert review(few, POLICY, NOW).approved                        # policy says any
    strict = replace(POLICY, volume_rule="all")
    d = review(few, strict, NOW)
    assert [r.code for r in d.reasons] == [TRANSACTION_COUNT_NOT_MET]
    assert d.reasons[0].advice == "make 7 more transactions, then apply again"
    neither = replace(GOOD, transaction_count=3, volume_fen=20_000)
    d = review(neither, POLICY, NOW)
    assert [r.code for r in d.reasons] == [TRANSACTION_COUNT_NOT_MET, VOLUME_NOT_MET]
    assert "reach 800.00 yuan more" in d.reasons[1].advice


def test_non_refundable_clause_can_approve_without_refund() -> None:
    policy = replace(POLICY, non_refundable_clause="approve_without_refund")
    d = review(replace(GOOD, deposit_refundable=False), policy, NOW)
    assert d.approved and d.refund_fen == 0 and d.refund_due == date(2024, 4, 25)


def test_waiver_sets_reason_aside_but_keeps_it_on_record() -> None:
    d = review(replace(GOOD, service_days=40), POLICY, NOW, waive=(SERVICE_PERIOD_NOT_MET,))
    assert d.approved and [r.code for r in d.waived] == [SERVICE_PERIOD_NOT_MET]
    with pytest.raises(PolicyError, match="unknown reason code 'NICE'"):
        review(GOOD, POLICY, NOW, waive=("NICE",))


def test_refund_due_date_business_days_skip_weekends_and_holidays() -> None:
    policy = replace(POLICY, refund_due_days=5, refund_due_day_kind="business",
                     holidays=frozenset({date(2024, 10, d) for d in range(1, 8)}),
                     extra_workdays=frozenset({date(2024, 10, 12)}))
    # Fri 2024-09-27 + 5 business days: Mon 30 Sep, (1-7 Oct holiday), Tue 8, Wed 9, Thu 10, Fri 11
    assert refund_due_date(date(2024, 9, 27), policy) == date(2024, 10, 11)
    # Sat 12 Oct is a make-up workday
    assert refund_due_date(date(2024, 10, 10), policy) == date(2024, 10, 16)
    assert refund_due_date(date(2024, 9, 27), POLICY) == date(2024, 10, 12)  # 15 calendar days


def test_policy_loaded_from_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY_YAML, encoding="utf-8")
    policy = load_policy(path)
    assert policy == POLICY
    assert policy.missing_accessory_fen == {"charger": 3000, "base": 5000}
    with pytest.raises(PolicyError, match="policy file .*missing.yaml"):
        load_policy(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nmin_service_dayz: 3\n", "unknown key 'min_service_dayz'"),
    ("min_service_days: 3\n", "name: a non-empty name is required"),
    ("name: x\nmin_service_days: -1\n", "min_service_days: expected a whole number >= 0"),
    ("name: x\nblock_on_open_disputes: maybe\n", "block_on_open_disputes: expected true or false"),
    ("name: x\nrefund_method: cheque\n", "refund_method: expected one of"),
    ("name: x\ndeductions: {damage_fee: 5}\n", "deductions.damage_fee: unknown"),
    ("name: x\nholidays: [2024-13-01]\n", "not valid YAML: month must be in 1..12"),
    ("name: x\nholidays: ['2024-02-30']\n", "holidays: '2024-02-30' is not a date"),
    ("name: [x\n", "not valid YAML"),
])
def test_bad_policy_names_the_key(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(message)):
        load_policy_text(text, "p.yaml")


def test_every_policy_key_and_reason_code_is_documented() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    keys = set(POLICY.to_json()) - {"fingerprint"}
    keys |= {"missing_accessory_fen", "damage_fee_fen", "early_termination", "term_days", "fee_fen"}
    missing = sorted(k for k in keys | set(REASON_CODES) if f"`{k}`" not in doc)
    assert missing == []
