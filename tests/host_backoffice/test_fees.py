"""Fee schedules and the fee/net computation of a settlement batch (integer fen)."""

from __future__ import annotations

from pathlib import Path

import pytest

from possim.host.fees import (
    CardKind, FeeError, SettlementLine, compute_batch, fee_schedules_from_mapping, load_fee_schedules,
    parse_rate,
)

SCHEDULES_YAML = """\
standard:
  refund_fee: kept
  rates:
    debit:
      purchase: {rate: "0.5%", cap_fen: 2000}
      preauth_completion: {rate: "0.5%", cap_fen: 2000}
    credit:
      purchase: {rate: "0.6%"}
    foreign:
      purchase: {rate: "2.5%", fixed_fen: 50, min_fen: 300}
generous:
  refund_fee: returned
  rates:
    credit:
      purchase: {rate: "0.38%"}
"""


@pytest.fixture
def schedules(tmp_path: Path) -> dict:
    path = tmp_path / "fees.yaml"
    path.write_text(SCHEDULES_YAML, encoding="utf-8")
    return load_fee_schedules(path)


@pytest.mark.parametrize(("text", "ppm"), [("0.5%", 5000), ("0.38%", 3800), ("2.5%", 25000),
                                           ("0.0125%", 125), ("0%", 0), ("100%", 1_000_000)])
def test_rate_parsed_exactly_to_parts_per_million(text: str, ppm: int) -> None:
    assert parse_rate(text) == ppm


@pytest.mark.parametrize("text", ["0.5", 0.005, "abc%", "0.00001%", "-1%", "101%"])
def test_bad_rates_refused(text: object) -> None:
    with pytest.raises(FeeError, match="rate"):
        parse_rate(text)


def test_debit_half_percent_capped_at_20_yuan(schedules: dict) -> None:
    std = schedules["standard"]
    assert std.fee_for("debit", "purchase", 100_000) == 500       # 1000 yuan -> 5 yuan
    assert std.fee_for("debit", "purchase", 400_000) == 2000      # exactly at the cap
    assert std.fee_for("debit", "purchase", 1_000_000) == 2000    # 10000 yuan: capped at 20 yuan
    assert std.fee_for(CardKind.DEBIT, "preauth_completion", 1_000_000) == 2000


def test_rounding_half_up_to_whole_fen(schedules: dict) -> None:
    std = schedules["standard"]
    assert std.fee_for("debit", "purchase", 100) == 1     # 0.5 fen -> 1
    assert std.fee_for("debit", "purchase", 99) == 0      # 0.495 fen -> 0
    assert std.fee_for("credit", "purchase", 250) == 2    # 1.5 fen -> 2
    assert std.fee_for("credit", "purchase", 249) == 1    # 1.494 fen -> 1


def test_fixed_part_minimum_and_never_more_than_amount(schedules: dict) -> None:
    std = schedules["standard"]
    assert std.fee_for("foreign", "purchase", 100_000) == 2500 + 50
    assert std.fee_for("foreign", "purchase", 1_000) == 300   # 25 + 50 raised to the minimum
    assert std.fee_for("foreign", "purchase", 200) == 200     # but never above the amount


def test_refund_fee_kept_or_returned(schedules: dict) -> None:
    assert schedules["standard"].fee_for("debit", "refund", 100_000) == 0
    assert schedules["generous"].fee_for("credit", "refund", 100_000) == -380


def test_missing_rate_and_bad_inputs_named(schedules: dict) -> None:
    std = schedules["standard"]
    with pytest.raises(FeeError, match="no rate for credit preauth_completion"):
        std.fee_for("credit", "preauth_completion", 100)
    with pytest.raises(FeeError, match="card kind 'amex'"):
        std.fee_for("amex", "purchase", 100)
    with pytest.raises(FeeError, match="transaction type 'void'"):
        std.fee_for("debit", "void", 100)
    with pytest.raises(FeeError, match="amount_fen -1"):
        std.fee_for("debit", "purchase", -1)


def test_batch_fees_and_net(schedules: dict) -> None:
    lines = [
        SettlementLine("debit", "purchase", 100_000, "000001"),    # fee 500
        SettlementLine("debit", "purchase", 1_000_000, "000002"),  # fee 2000 (cap)
        SettlementLine("credit", "purchase", 12_345, "000003"),    # 74.07 -> 74
        SettlementLine("credit", "refund", 5_000, "000004"),       # fee kept: 0
        SettlementLine("foreign", "purchase", 20_000, "000005"),   # 500 + 50
    ]
    batch = compute_batch(schedules["standard"], lines)
    assert [x.fee_fen for x in batch.lines] == [500, 2000, 74, 0, 550]
    assert [x.net_fen for x in batch.lines] == [99_500, 998_000, 12_271, -5_000, 19_450]
    assert batch.gross_fen == 100_000 + 1_000_000 + 12_345 - 5_000 + 20_000
    assert batch.fee_fen == 3124
    assert batch.net_fen == batch.gross_fen - batch.fee_fen
    debit = batch.by_card_kind[CardKind.DEBIT]
    assert (debit.count, debit.gross_fen, debit.fee_fen, debit.net_fen) == (2, 1_100_000, 2500, 1_097_500)
    credit = batch.by_card_kind[CardKind.CREDIT]
    assert (credit.count, credit.gross_fen, credit.fee_fen) == (2, 7_345, 74)
    assert batch.to_json()["lines"][4] == {"card_kind": "foreign", "txn_type": "purchase",
                                           "amount_fen": 20_000, "fee_fen": 550, "net_fen": 19_450,
                                           "ref": "000005"}


def test_empty_batch(schedules: dict) -> None:
    batch = compute_batch(schedules["standard"], [])
    assert (batch.gross_fen, batch.fee_fen, batch.net_fen, batch.by_card_kind) == (0, 0, 0, {})


@pytest.mark.parametrize(("data", "message"), [
    ({"s": {"ratez": {}}}, "unknown key 'ratez'"),
    ({"s": {"refund_fee": "maybe"}}, "refund_fee 'maybe'"),
    ({"s": {"rates": {"debit": {"refund": {"rate": "1%"}}}}}, "refunds follow refund_fee"),
    ({"s": {"rates": {"debit": {"purchase": {"cap_fen": 5}}}}}, "with 'rate'"),
    ({"s": {"rates": {"debit": {"purchase": {"rate": "1%", "cap": 5}}}}}, "unknown key 'cap'"),
    ({"s": {"rates": {"debit": {"purchase": {"rate": "1%", "cap_fen": -5}}}}}, "fen >= 0"),
    ({}, "expected a mapping of schedule name"),
])
def test_bad_schedules_named(data: dict, message: str) -> None:
    with pytest.raises(FeeError, match=message):
        fee_schedules_from_mapping(data)


def test_schedule_round_trips_to_json(schedules: dict) -> None:
    assert schedules["standard"].to_json()["rates"]["debit"]["purchase"] == \
        {"rate": "0.5%", "fixed_fen": 0, "min_fen": 0, "cap_fen": 2000}
    assert schedules["generous"].to_json()["rates"]["credit"]["purchase"]["rate"] == "0.38%"
