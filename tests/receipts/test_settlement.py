"""The settlement slip: per-group totals and the host's balanced / not balanced answer."""

from __future__ import annotations

import pytest

from possim.errors import PossimError
from possim.terminal.receipt import TransactionType
from possim.terminal.receipt_settlement import SettlementLine
from possim.terminal.receipt_text import display_width, render_text
from tests.receipts.samples import settlement

BALANCED_58MM = """\
           结算总计单
       SETTLEMENT SUMMARY
--------------------------------
商户名称(MERCHANT NAME):
上海测试商贸有限公司
商户编号(MERCHANT NO.):
                 898310048990001
终端编号(TERMINAL NO.): 10000001
操作员号(OPERATOR NO.):       01
批次号(BATCH NO.):        000001
日期时间(DATE/TIME):
             2024/05/01 23:00:00
--------------------------------
内卡 DOMESTIC CARDS
类型(TYPE)    笔数     金额(RMB)
消费/SALE        3         36.00
撤销/VOID        1         12.34
退货/REFUND      1          5.00
预授权完成/AUTH COMP
                 2        200.00
结果(RESULT):    对账平 BALANCED
--------------------------------
"""


def test_balanced_domestic_only_settlement_on_58mm() -> None:
    slip = settlement(foreign_balanced=None)
    assert slip.balanced
    assert render_text(slip, 32) == BALANCED_58MM


def test_unbalanced_foreign_group_is_reported_as_such() -> None:
    slip = settlement(foreign_balanced=False)
    assert not slip.balanced
    text = render_text(slip, 48)
    domestic, foreign = text.split("外卡 FOREIGN CARDS\n")
    assert domestic.endswith("结果(RESULT):" + " " * 20 + "对账平 BALANCED\n" + "-" * 48 + "\n")
    assert foreign.splitlines() == [
        "类型(TYPE)                    笔数     金额(RMB)",
        "消费/SALE                        1          1.00",
        "结果(RESULT):              对账不平 NOT BALANCED",
        "-" * 48,
    ]


def test_unbalanced_domestic_group_makes_the_slip_unbalanced() -> None:
    slip = settlement(domestic_balanced=False, foreign_balanced=True)
    assert not slip.balanced
    text = render_text(slip, 32)
    assert text.count("对账不平 NOT BALANCED") == 1 and text.count("对账平 BALANCED") == 1
    assert text.index("对账不平") < text.index("外卡")


@pytest.mark.parametrize("width", [32, 48])
def test_settlement_fits_the_roll(width: int) -> None:
    for line in render_text(settlement(reprint=True), width).splitlines():
        assert display_width(line) <= width


def test_reprinted_settlement_says_so() -> None:
    assert render_text(settlement(reprint=True), 32).splitlines()[2] == " " * 9 + "重打印 REPRINT"


@pytest.mark.parametrize("count, amount, field", [(-1, 0, "count"), (1000, 0, "count"), (1, -5, "amount")])
def test_bad_totals_are_refused(count: int, amount: int, field: str) -> None:
    with pytest.raises(PossimError, match=field):
        SettlementLine(TransactionType.SALE, count, amount)


def test_bad_batch_number_is_refused() -> None:
    with pytest.raises(PossimError, match="batch_no"):
        settlement(batch_no="12")
