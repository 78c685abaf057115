"""The example host configuration: what ``possim host example-config`` prints,
what the tests and ``possim demo`` run against.

It lives in a module (not a loose YAML file) so it ships inside the wheel.
Its keys are documented in docs/host.md. The TMKs and PINs are test values;
the Easy8583 terminal and card are those of the public capture used in
tests/iso8583/test_cup_traffic.py (yangyongzhen/Easy8583Ans), so that real
frame can be answered.
"""

from __future__ import annotations

from pathlib import Path

from possim.host.config import HostConfig, load_config_text

EXAMPLE_CONFIG_YAML = """\
# possim host configuration (docs/host.md lists every key)
acquirer:
  institution_id: "48021000"        # field 32 of every financial response
  name: possim 模拟收单机构
defaults:
  mac_algorithm: cup-ecb            # x9.9 | x9.19 | cup-ecb, per terminal unless overridden there
  key_mode: "003"                   # assumed for keys pre-installed with --mak
  refund_window_days: 30            # a refund (0220) must come within this many days of the purchase
  balance_processing_codes: ["310000", "300000"]
  max_pin_tries: 3                  # the third wrong PIN answers 75 and locks the PIN
merchants:
  - mid: "898310048120001"
    name: 上海浦东测试便利店
    deposit_fen: 29900              # 299 yuan per terminal
    deposit_refundable: true
    contract_start: 2024-01-01
    fee_schedule: standard
  - mid: "898411341310014"
    name: Easy8583 test merchant
    deposit_fen: 0
    deposit_refundable: false
    contract_start: 2024-01-01
    fee_schedule: standard
terminals:
  - tid: "10000001"
    mid: "898310048120001"
    tmk: 0123456789ABCDEFFEDCBA9876543210
  - tid: "10000002"
    mid: "898310048120001"
    tmk: 0123456789ABCDEFFEDCBA9876543210
    mac_algorithm: x9.19
  - tid: "10000003"
    mid: "898310048120001"
    tmk: 0123456789ABCDEFFEDCBA9876543210
    state: unbound
  - tid: "73782214"                 # the terminal of the public Easy8583 capture
    mid: "898411341310014"
    tmk: 258FB0AB70D025CDB99DF2C4D302D646
cards:
  - {pan: "6222021234567890123", pin: "123456", expiry: "3012", balance_fen: 1000000, limit_fen: 500000, kind: debit}
  - {pan: "6225881234567890", pin: "654321", pin_required: true, expiry: "2912", balance_fen: 2000000, kind: credit}
  - {pan: "4761739001010010", expiry: "2812", balance_fen: 500000, kind: foreign}
  - {pan: "6222020000000000011", expiry: "3012", balance_fen: 100000, status: lost}
  - {pan: "6222020000000000029", expiry: "3012", balance_fen: 100000, status: stolen}
  - {pan: "6222020000000000037", expiry: "3012", balance_fen: 100000, status: blocked}
  - {pan: "6222020000000000045", expiry: "2001", balance_fen: 100000}
  - {pan: "6210810840003424940", expiry: "2706", balance_fen: 100000}
# default_card: {balance_fen: 100000000}   # uncomment to accept any card number
return_policy:
  name: example-2024
  min_service_days: 90
  min_transaction_count: 3
  min_volume_fen: 100000
  volume_rule: any
  block_on_unsettled_batch: true
  block_on_open_disputes: true
  non_refundable_clause: reject
  deductions:
    missing_accessory_fen: {charger: 3000, base: 5000}
    damage_fee_fen: 10000
  refund_due_days: 15
  refund_method: bank_transfer
  appeal_window_days: 30
  max_appeals: 1
fee_schedules:
  standard:
    refund_fee: kept
    rates:
      debit: {purchase: {rate: "0.5%", cap_fen: 2000}}
      credit: {purchase: {rate: "0.6%"}}
      foreign: {purchase: {rate: "2.5%", min_fen: 100}}
"""


def example_config() -> HostConfig:
    return load_config_text(EXAMPLE_CONFIG_YAML, Path("."), "example config")
