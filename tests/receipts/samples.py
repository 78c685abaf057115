"""Slips the receipt tests share. The PAN is a made-up 19-digit CUP-range number."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from possim.terminal.receipt import ReceiptData, TransactionType
from possim.terminal.receipt_settlement import SettlementLine, SettlementSlip, SettlementTotals

FULL_PAN = "6222021234567890123"
MASKED_PAN = "622202*********0123"
WHEN = datetime(2024, 5, 1, 12, 34, 56)

# what each type needs beyond the common fields
_EXTRA: dict[TransactionType, dict[str, Any]] = {
    TransactionType.SALE: {"auth_code": "123456", "reference_no": "240501123456"},
    TransactionType.VOID: {"auth_code": "123456", "reference_no": "240501123457",
                           "original_voucher_no": "000123", "original_reference_no": "240501123456"},
    TransactionType.REFUND: {"reference_no": "240502000001", "original_reference_no": "240501123456"},
    TransactionType.BALANCE: {"reference_no": "240501000009"},
    TransactionType.PRE_AUTH: {"auth_code": "654321", "reference_no": "240501000010"},
    TransactionType.PRE_AUTH_COMPLETION: {"auth_code": "654321", "reference_no": "240501000011",
                                          "original_auth_code": "654321"},
}


def receipt(transaction: TransactionType = TransactionType.SALE, **overrides: Any) -> ReceiptData:
    fields: dict[str, Any] = {
        "merchant_name": "上海测试商贸有限公司",
        "merchant_no": "898310048990001",
        "terminal_no": "10000001",
        "operator_no": "01",
        "card_no": FULL_PAN,
        "transaction": transaction,
        "batch_no": "000001",
        "voucher_no": "000124",
        "when": WHEN,
        "amount_fen": 1234,
        "issuer": "工商银行",
        "acquirer": "银联商务",
        "card_org": "CUP",
        "expiry": "2812",
        **_EXTRA[transaction],
    }
    fields.update(overrides)
    return ReceiptData(**fields)


def settlement(*, domestic_balanced: bool = True, foreign_balanced: bool | None = True,
               **overrides: Any) -> SettlementSlip:
    domestic = SettlementTotals((
        SettlementLine(TransactionType.SALE, 3, 3600),
        SettlementLine(TransactionType.VOID, 1, 1234),
        SettlementLine(TransactionType.REFUND, 1, 500),
        SettlementLine(TransactionType.PRE_AUTH_COMPLETION, 2, 20000),
    ), domestic_balanced)
    foreign = None if foreign_balanced is None else SettlementTotals(
        (SettlementLine(TransactionType.SALE, 1, 100),), foreign_balanced)
    fields: dict[str, Any] = {
        "merchant_name": "上海测试商贸有限公司",
        "merchant_no": "898310048990001",
        "terminal_no": "10000001",
        "operator_no": "01",
        "batch_no": "000001",
        "when": datetime(2024, 5, 1, 23, 0, 0),
        "domestic": domestic,
        "foreign": foreign,
    }
    fields.update(overrides)
    return SettlementSlip(**fields)
