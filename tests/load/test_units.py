"""The load package's pure parts: the mix, the fleet and its generated config, the pool, the summary,
and the CLI's refusals of bad input (exit 2 before any Locust process starts)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from possim.cli import main
from possim.errors import UsageError
from possim.host.config import load_config_text
from possim.host.example_config import example_config
from possim.load.fleet import fleet_from_config, generated_fleet, luhn_digit, make_config, provisioned_pan
from possim.load.mix import parse_mix
from possim.load.pool import TerminalPool
from possim.load.summary import EntryCounts, FailureCount, LoadSummary, summary_from_json


def test_mix_weights() -> None:
    assert parse_mix("purchase=70,balance=10,void=10,refund=10") == {
        "purchase": 70, "balance": 10, "void": 10, "refund": 10}
    assert parse_mix(" purchase = 1 ") == {"purchase": 1, "balance": 0, "void": 0, "refund": 0}


@pytest.mark.parametrize("text, says", [
    ("purchase=70,settle=1", "unknown transaction 'settle'"),
    ("purchase", "expected NAME=WEIGHT"),
    ("purchase=-1", "whole number"),
    ("purchase=1,purchase=2", "appears twice"),
    ("purchase=0", "at least one weight"),
])
def test_mix_refusals_name_the_item(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse_mix(text)


def test_generated_config_is_what_the_host_reads_and_what_the_users_use() -> None:
    config = load_config_text(make_config(5), source="make-config")
    assert [t.tid for t in config.terminals] == [f"LD00000{i}" for i in range(1, 6)]
    assert config.default_card is not None
    from_yaml = fleet_from_config(config)
    generated = generated_fleet(5)
    assert [(t.tid, t.mid, t.tmk, t.mac_alg, t.key_mode) for t in from_yaml.terminals] == \
        [(t.tid, t.mid, t.tmk, t.mac_alg, t.key_mode) for t in generated.terminals]
    assert len({t.tmk for t in generated.terminals}) == 5  # one master key per terminal
    assert generated.provisions_cards and not generated.cards


def test_example_config_offers_bound_terminals_and_cards_that_can_be_approved() -> None:
    fleet = fleet_from_config(example_config(), today=date(2026, 1, 1))
    assert [t.tid for t in fleet.terminals] == ["10000001", "10000002", "73782214"]  # 10000003 is unbound
    assert {t.tid: t.mac_alg for t in fleet.terminals}["10000002"] == "x9.19"
    # lost/stolen/blocked, expired (2001) and foreign cards are left out; PINs come along
    assert [(c.card.pan[-4:], c.pin is not None) for c in fleet.cards] == [
        ("0123", True), ("7890", True), ("4940", False)]


def test_provisioned_card_numbers_pass_the_luhn_check() -> None:
    # Luhn check digit of 7992739871 is 3: the worked example of ISO/IEC 7812-1 Annex B as quoted on
    # Wikipedia's "Luhn algorithm" page.
    assert luhn_digit("7992739871") == "3"
    pan = provisioned_pan("LD000001")
    assert len(pan) == 19 and pan.startswith("622299") and luhn_digit(pan[:-1]) == pan[-1]
    assert provisioned_pan("LD000002") != pan


def test_pool_hands_each_tid_to_one_user_at_a_time() -> None:
    pool = TerminalPool(["A", "B"])
    assert [pool.take(), pool.take(), pool.take()] == ["A", "B", None]
    pool.give_back("A")
    assert pool.take() == "A"
    assert pool.held == 2


def test_summary_closing_line_and_failure_codes() -> None:
    summary = LoadSummary(120, 2, 40.04, 15.0, 120.0,
                          {"purchase": EntryCounts("purchase", 100, 2)},
                          (FailureCount("purchase", "51 Insufficient funds", 2),))
    assert summary.closing_line() == "120 requests, 2 failures, 40.0 req/s, p50 15 ms, p99 120 ms"
    assert summary.failures_by_code("purchase") == {"51": 2}
    assert summary_from_json(summary.to_json()) == summary


@pytest.mark.parametrize("args, says", [
    (["load"], "--host is required"),
    (["load", "--host", "127.0.0.1:5000"], "expected tcp://HOST:PORT"),
    (["load", "--host", "tcp://127.0.0.1:5000", "--users", "0"], "--users 0"),
    (["load", "--host", "tcp://127.0.0.1:5000", "--mix", "purchase=x"], "--mix"),
    (["load", "--host", "tcp://127.0.0.1:5000", "--workers", "-1"], "--workers -1"),
    (["load", "--host", "tcp://127.0.0.1:5000", "--duration", "0"], "--duration 0"),
    (["load", "make-config", "--terminals", "0"], "--terminals 0"),
])
def test_cli_bad_input_exits_2(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert says in capsys.readouterr().err


def test_cli_refuses_more_users_than_the_config_has_terminals(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "host.yaml"
    config.write_text(make_config(2), encoding="utf-8")
    assert main(["load", "--host", "tcp://127.0.0.1:5000", "--config", str(config), "--users", "3"]) == 2
    assert "has 2 bound terminals" in capsys.readouterr().err


def test_cli_make_config_and_locustfile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["load", "make-config", "--terminals", "3", "--mac-alg", "x9.9"]) == 0
    config = load_config_text(capsys.readouterr().out)
    assert len(config.terminals) == 3 and config.terminals[0].mac_algorithm == "x9.9"
    assert main(["load", "locustfile"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path.name == "locustfile.py" and path.exists()
