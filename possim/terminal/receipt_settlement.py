"""The settlement slip (结算总计单) a terminal prints after closing a batch.

Counts and amounts are kept per card group, domestic then foreign, because
that is how the settlement request (0500, field 48) reports them and how the
host answers: each group is balanced (对账平) or not (对账不平). An unbalanced
group is what sends a terminal into batch upload, so the slip says so plainly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from possim.terminal.receipt import DATE_FORMAT, REPRINT, TransactionType, check_amount, check_format
from possim.terminal.receipt_text import (
    PrintLine,
    ReceiptError,
    check_printable,
    check_width,
    display_width,
    left,
    pair,
    right,
    separator,
    wrap,
)

COUNT_COLUMNS = 5
AMOUNT_COLUMNS = 14
BALANCED = "对账平 BALANCED"
NOT_BALANCED = "对账不平 NOT BALANCED"


@dataclass(frozen=True)
class SettlementLine:
    transaction: TransactionType
    count: int
    amount_fen: int

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or not 0 <= self.count <= 999:
            raise ReceiptError(f"count of {self.transaction.english}: {self.count!r} is not 0 to 999 (field 48 n3)")
        check_amount(f"amount of {self.transaction.english}", self.amount_fen)


@dataclass(frozen=True)
class SettlementTotals:
    """One card group's totals and whether the host agreed with them."""

    lines: tuple[SettlementLine, ...]
    balanced: bool


@dataclass(frozen=True)
class SettlementSlip:
    merchant_name: str
    merchant_no: str
    terminal_no: str
    operator_no: str
    batch_no: str
    when: datetime
    domestic: SettlementTotals
    foreign: SettlementTotals | None = None
    title: str = "结算总计单"
    reprint: bool = False

    def __post_init__(self) -> None:
        for name in ("merchant_no", "terminal_no", "operator_no", "batch_no"):
            check_format(name, getattr(self, name))
        for name in ("title", "merchant_name"):
            check_printable(name, getattr(self, name))
        if not self.merchant_name.strip():
            raise ReceiptError("merchant_name: must not be empty")
        if not isinstance(self.when, datetime):
            raise ReceiptError(f"when: {self.when!r} is not a datetime")

    @property
    def balanced(self) -> bool:
        return self.domestic.balanced and (self.foreign is None or self.foreign.balanced)

    def lines(self, width: int) -> list[PrintLine]:
        check_width(width)
        out = [PrintLine(self.title, "center", emphasis=True), PrintLine("SETTLEMENT SUMMARY", "center")]
        if self.reprint:
            out.append(PrintLine(REPRINT, "center"))
        out.append(separator(width))
        out += left([*wrap("商户名称(MERCHANT NAME):", width), *wrap(self.merchant_name, width)])
        for label, value in [
            ("商户编号(MERCHANT NO.):", self.merchant_no),
            ("终端编号(TERMINAL NO.):", self.terminal_no),
            ("操作员号(OPERATOR NO.):", self.operator_no),
            ("批次号(BATCH NO.):", self.batch_no),
            ("日期时间(DATE/TIME):", self.when.strftime(DATE_FORMAT)),
        ]:
            out += left(pair(label, value, width))
        groups = [("内卡 DOMESTIC CARDS", self.domestic)]
        if self.foreign is not None:
            groups.append(("外卡 FOREIGN CARDS", self.foreign))
        for heading, totals in groups:
            out.append(separator(width))
            out.append(PrintLine(heading))
            out += left(_row("类型(TYPE)", "笔数", "金额(RMB)", width))
            for line in totals.lines:
                out += left(_row(line.transaction.label, str(line.count), _yuan(line.amount_fen), width))
            out += left(pair("结果(RESULT):", BALANCED if totals.balanced else NOT_BALANCED, width))
        out.append(separator(width))
        return out


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _row(label: str, count: str, amount: str, width: int) -> list[str]:
    """A table row: the figures right-aligned in fixed columns; a label too long for the row gets its own line."""
    figures = right(count, COUNT_COLUMNS) + right(amount, AMOUNT_COLUMNS)
    if display_width(label) + 1 + display_width(figures) <= width:
        return [label + right(figures, width - display_width(label))]
    return [*wrap(label, width), right(figures, width)]
