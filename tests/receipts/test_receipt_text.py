"""The plain-text slip: what scenarios assert on."""

from __future__ import annotations

import pytest

from possim.errors import PossimError
from possim.terminal.receipt import CONSENT_EN, CONSENT_ZH, CopyKind, EntryMode, ReceiptData, TransactionType
from possim.terminal.receipt_text import display_width, render_text, wrap
from tests.receipts.samples import FULL_PAN, MASKED_PAN, receipt

SALE_58MM = """\
           POS签购单
     商户存根 MERCHANT COPY
--------------------------------
商户名称(MERCHANT NAME):
上海测试商贸有限公司
商户编号(MERCHANT NO.):
                 898310048990001
终端编号(TERMINAL NO.): 10000001
操作员号(OPERATOR NO.):       01
--------------------------------
卡号(CARD NO.):
           622202*********0123 I
卡组织(CARD ORG.):           CUP
发卡行(ISSUER):         工商银行
收单行(ACQUIRER):       银联商务
有效期(EXP. DATE):         **/**
交易类型(TRANS. TYPE): 消费/SALE
批次号(BATCH NO.):        000001
凭证号(VOUCHER NO.):      000124
授权码(AUTH NO.):         123456
参考号(REFER NO.):  240501123456
日期时间(DATE/TIME):
             2024/05/01 12:34:56
金额(AMOUNT):          RMB 12.34
--------------------------------
持卡人签名(SIGNATURE):


________________________________
本人确认以上交易，同意将其记入本
卡账户
I ACKNOWLEDGE SATISFACTORY
RECEIPT OF RELATIVE
GOODS/SERVICES
"""


def test_sale_on_58mm_paper_reads_like_a_terminal_slip() -> None:
    assert render_text(receipt(), 32) == SALE_58MM


@pytest.mark.parametrize("width", [32, 48])
@pytest.mark.parametrize("transaction", list(TransactionType))
def test_every_transaction_type_fits_the_roll_and_names_itself(transaction: TransactionType, width: int) -> None:
    text = render_text(receipt(transaction), width)
    lines = text.splitlines()
    assert all(display_width(line) <= width for line in lines), [line for line in lines if display_width(line) > width]
    assert any(line.endswith(transaction.label) for line in lines)
    assert f"{transaction.chinese}/{transaction.english}" in text
    assert render_text(receipt(transaction), width) == text  # nothing read from a clock or a counter


@pytest.mark.parametrize("transaction, amount", [
    (TransactionType.SALE, "RMB 12.34"),
    (TransactionType.VOID, "RMB -12.34"),
    (TransactionType.REFUND, "RMB -12.34"),
    (TransactionType.PRE_AUTH, "RMB 12.34"),
    (TransactionType.PRE_AUTH_COMPLETION, "RMB 12.34"),
])
def test_amount_sign_follows_the_transaction_type(transaction: TransactionType, amount: str) -> None:
    lines = render_text(receipt(transaction), 48).splitlines()
    assert [line for line in lines if line.startswith("金额(AMOUNT):")] == ["金额(AMOUNT):" + amount.rjust(48 - 13)]


def test_void_shows_negative_amount_and_the_original_voucher() -> None:
    text = render_text(receipt(TransactionType.VOID), 32)
    assert "金额(AMOUNT):         RMB -12.34\n" in text
    assert "原凭证号(ORIG. VOUCHER):  000123\n" in text
    assert "原参考号(ORIG. REFER NO.):\n                    240501123456\n" in text


def test_a_void_without_its_original_voucher_is_refused() -> None:
    with pytest.raises(PossimError, match="original_voucher_no"):
        receipt(TransactionType.VOID, original_voucher_no=None)


def test_refund_needs_the_original_reference_and_pre_auth_completion_the_original_auth_code() -> None:
    with pytest.raises(PossimError, match="original_reference_no"):
        receipt(TransactionType.REFUND, original_reference_no=None)
    with pytest.raises(PossimError, match="original_auth_code"):
        receipt(TransactionType.PRE_AUTH_COMPLETION, original_auth_code=None)


def test_balance_inquiry_shows_the_balance_and_no_signature() -> None:
    text = render_text(receipt(TransactionType.BALANCE, amount_fen=1234567), 48)
    assert "余额(BALANCE):" in text and text.count("RMB 12345.67") == 1
    assert "金额(AMOUNT)" not in text
    assert "签名" not in text and CONSENT_ZH not in text


def test_merchant_copy_carries_the_signature_line_and_cardholder_copy_does_not() -> None:
    merchant = render_text(receipt(), 48)
    cardholder = render_text(receipt().as_copy(CopyKind.CARDHOLDER), 48)
    bank = render_text(receipt().as_copy(CopyKind.BANK), 48)
    assert merchant.splitlines()[1] == " " * 13 + "商户存根 MERCHANT COPY"  # (48 - 22) // 2
    assert cardholder.splitlines()[1] == " " * 11 + "持卡人存根 CARDHOLDER COPY"  # (48 - 26) // 2
    assert bank.splitlines()[1].strip() == "银行存根 BANK COPY"
    assert "_" * 48 in merchant and "持卡人签名(SIGNATURE):" in merchant and "_" * 48 in bank
    assert "_" * 48 not in cardholder and "签名" not in cardholder
    for text in (merchant, cardholder, bank):
        assert CONSENT_ZH + "\n" in text
        assert "\n" + CONSENT_EN.replace("RELATIVE ", "RELATIVE\n") + "\n" in text  # 61 columns: wrapped at 48
    # everything else is the same slip
    signature = merchant.splitlines().index("持卡人签名(SIGNATURE):")
    assert merchant.splitlines()[2:signature] == cardholder.splitlines()[2:signature]
    assert cardholder.splitlines()[signature] == CONSENT_ZH


def test_reprint_mark_appears_only_on_reprints() -> None:
    original = render_text(receipt(), 32).splitlines()
    reprint = render_text(receipt().as_copy(CopyKind.MERCHANT, reprint=True), 32).splitlines()
    assert "重打印" not in "\n".join(original) and "REPRINT" not in "\n".join(original)
    assert reprint[2] == " " * 9 + "重打印 REPRINT"
    assert reprint[:2] + reprint[3:] == original


def test_chinese_merchant_name_and_values_align_by_printed_columns() -> None:
    name = "北京市海淀区中关村大街一号数码科技有限公司第一分店"  # 25 hanzi = 50 columns
    lines = render_text(receipt(merchant_name=name), 32).splitlines()
    start = lines.index("商户名称(MERCHANT NAME):") + 1
    assert lines[start:start + 2] == ["北京市海淀区中关村大街一号数码科", "技有限公司第一分店"]  # 16 hanzi a line
    issuer = next(line for line in lines if line.startswith("发卡行"))
    assert issuer == "发卡行(ISSUER):" + " " * 9 + "工商银行"
    assert display_width(issuer) == 32 and len(issuer) == 25  # 7 hanzi among them
    for width in (32, 48):
        for line in render_text(receipt(merchant_name=name, acquirer="中国银联股份有限公司上海分公司"),
                                width).splitlines():
            assert display_width(line) <= width


def test_the_full_pan_never_reaches_the_slip_or_the_object() -> None:
    slip = receipt(card_no=FULL_PAN)
    assert slip.card_no == MASKED_PAN
    assert FULL_PAN not in repr(slip)
    assert FULL_PAN[6:15] not in repr(slip)  # the hidden middle digits
    for transaction in TransactionType:
        for width in (32, 48):
            text = render_text(receipt(transaction, card_no=FULL_PAN), width)
            assert FULL_PAN not in text and FULL_PAN[6:15] not in text.replace(" ", "")
            assert MASKED_PAN in text


def test_a_masked_number_is_kept_and_a_bad_one_refused() -> None:
    assert receipt(card_no="621700******1234").card_no == "621700******1234"
    for bad in ("1234", "62220212345678901234", "6222-0212-3456-7890", "622202*****X0123"):
        with pytest.raises(PossimError, match="card_no"):
            receipt(card_no=bad)


def test_expiry_is_masked_unless_asked_to_show_it() -> None:
    assert "有效期(EXP. DATE):         **/**" in render_text(receipt(), 32)
    assert "有效期(EXP. DATE):         28/12" in render_text(receipt(mask_expiry=False), 32)
    assert "有效期" not in render_text(receipt(expiry=None), 32)


@pytest.mark.parametrize("mode", list(EntryMode))
def test_entry_mode_letter_follows_the_card_number(mode: EntryMode) -> None:
    assert f"{MASKED_PAN} {mode.letter}\n" in render_text(receipt(entry_mode=mode), 48)


def test_tip_and_total() -> None:
    text = render_text(receipt(amount_fen=10000, tip_fen=1550), 32)
    assert "金额(AMOUNT):         RMB 100.00\n小费(TIP):             RMB 15.50\n总计(TOTAL):          RMB 115.50\n" in text
    void = render_text(receipt(TransactionType.VOID, amount_fen=10000, tip_fen=1550), 32)
    assert "总计(TOTAL):         RMB -115.50\n" in void


def test_no_signature_small_amount_prints_the_mark_instead_of_the_signature_line() -> None:
    text = render_text(receipt(amount_fen=9900, signature_required=False), 32)
    assert "免密免签\nNO PIN/SIGNATURE REQUIRED\n" in text
    assert "签名" not in text and "_" * 32 not in text


def test_remarks_are_wrapped_under_their_label() -> None:
    text = render_text(receipt(remarks="会员卡号 VIP-0001，积分 120 分 POINTS ADDED TO MEMBER ACCOUNT"), 32)
    assert "备注(REFERENCE):\n会员卡号 VIP-0001，积分 120 分\nPOINTS ADDED TO MEMBER ACCOUNT\n" in text


def test_title_is_centred_by_printed_columns() -> None:
    assert render_text(receipt(title="中国银联 POS签购单"), 32).splitlines()[0] == " " * 7 + "中国银联 POS签购单"


@pytest.mark.parametrize("field, value", [
    ("terminal_no", "1000001"),
    ("merchant_no", "89831004899000"),
    ("batch_no", "1"),
    ("voucher_no", "00012A"),
    ("reference_no", "24050112345"),
    ("auth_code", "1234567"),
    ("expiry", "2813"),
    ("operator_no", "0001"),
    ("amount_fen", -1),
    ("amount_fen", 10**12),
    ("amount_fen", 12.34),
    ("merchant_name", " "),
    ("merchant_name", "商户\n名称"),
    ("merchant_name", "吉野家𠮷"),
    ("issuer", "银行\x1b@"),
    ("acquirer", 42),
])
def test_bad_fields_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(PossimError, match=field):
        receipt(**{field: value})


def test_only_the_two_roll_widths_are_accepted() -> None:
    with pytest.raises(PossimError, match="width 40"):
        render_text(receipt(), 40)


def test_slip_is_immutable() -> None:
    slip = receipt()
    with pytest.raises(AttributeError):
        slip.card_no = FULL_PAN  # type: ignore[misc]
    assert isinstance(slip, ReceiptData)


@pytest.mark.parametrize("text, width, expected", [
    ("ABC DEF GHI", 7, ["ABC DEF", "GHI"]),
    ("本人确认以上交易", 5, ["本人", "确认", "以上", "交易"]),
    ("ABCDEFGHIJ", 4, ["ABCD", "EFGH", "IJ"]),
    ("消费 SALE", 8, ["消费", "SALE"]),
    ("", 8, [""]),
])
def test_wrap_counts_hanzi_as_two_columns(text: str, width: int, expected: list[str]) -> None:
    assert wrap(text, width) == expected
