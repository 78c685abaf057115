"""The sales slip (签购单) a CUP terminal prints after a transaction.

Everything on the slip comes in as data; nothing is read from the clock or the
journal here, so the same slip always prints the same way and a scenario can
assert on its text. The card number is masked the moment a slip is built (first
6 and last 4, as terminals print it): a full PAN is never stored, so it cannot
leak into the text, the ESC/POS bytes or a repr.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace
from datetime import datetime

from possim.iso8583.masking import mask_pan
from possim.terminal.receipt_text import (
    PrintLine,
    ReceiptError,
    check_printable,
    check_width,
    left,
    pair,
    separator,
    wrap,
)

CONSENT_ZH = "本人确认以上交易，同意将其记入本卡账户"
CONSENT_EN = "I ACKNOWLEDGE SATISFACTORY RECEIPT OF RELATIVE GOODS/SERVICES"
REPRINT = "重打印 REPRINT"
NO_SIGNATURE_ZH = "免密免签"
NO_SIGNATURE_EN = "NO PIN/SIGNATURE REQUIRED"
DATE_FORMAT = "%Y/%m/%d %H:%M:%S"
MAX_AMOUNT_FEN = 10**12 - 1  # field 4 is n12


class TransactionType(enum.Enum):
    """What the slip is for, with the labels CUP terminals print."""

    SALE = ("消费", "SALE")
    VOID = ("撤销", "VOID")
    REFUND = ("退货", "REFUND")
    BALANCE = ("余额查询", "BALANCE")
    PRE_AUTH = ("预授权", "PRE-AUTH")
    PRE_AUTH_COMPLETION = ("预授权完成", "AUTH COMP")

    def __init__(self, chinese: str, english: str) -> None:
        self.chinese = chinese
        self.english = english

    @property
    def label(self) -> str:
        return f"{self.chinese}/{self.english}"

    @property
    def takes_money_back(self) -> bool:
        """Voids and refunds print their amount negative, as terminals do."""
        return self in (TransactionType.VOID, TransactionType.REFUND)


class EntryMode(enum.Enum):
    """How the card was read; the letter follows the card number on the slip."""

    SWIPE = ("S", "刷卡")
    INSERT = ("I", "插卡")
    CONTACTLESS = ("C", "挥卡")
    MANUAL = ("M", "手输")

    def __init__(self, letter: str, chinese: str) -> None:
        self.letter = letter
        self.chinese = chinese


class CopyKind(enum.Enum):
    MERCHANT = ("商户存根", "MERCHANT COPY")
    CARDHOLDER = ("持卡人存根", "CARDHOLDER COPY")
    BANK = ("银行存根", "BANK COPY")

    def __init__(self, chinese: str, english: str) -> None:
        self.chinese = chinese
        self.english = english

    @property
    def label(self) -> str:
        return f"{self.chinese} {self.english}"


_FORMATS = {
    "merchant_no": (re.compile(r"[0-9A-Za-z]{15}"), "15 letters or digits (field 42)"),
    "terminal_no": (re.compile(r"[0-9A-Za-z]{8}"), "8 letters or digits (field 41)"),
    "operator_no": (re.compile(r"[0-9]{1,3}"), "1 to 3 digits"),
    "batch_no": (re.compile(r"[0-9]{6}"), "6 digits (field 60.2)"),
    "voucher_no": (re.compile(r"[0-9]{6}"), "6 digits (field 11)"),
    "original_voucher_no": (re.compile(r"[0-9]{6}"), "6 digits (field 11)"),
    "auth_code": (re.compile(r"[0-9A-Za-z ]{6}"), "6 characters (field 38)"),
    "original_auth_code": (re.compile(r"[0-9A-Za-z ]{6}"), "6 characters (field 38)"),
    "reference_no": (re.compile(r"[0-9A-Za-z]{12}"), "12 characters (field 37)"),
    "original_reference_no": (re.compile(r"[0-9A-Za-z]{12}"), "12 characters (field 37)"),
    "expiry": (re.compile(r"[0-9]{2}(0[1-9]|1[0-2])"), "YYMM (field 14)"),
}
_MASKED_PAN = re.compile(r"[0-9]{0,6}\*+[0-9]{0,4}")


def check_format(name: str, value: str | None) -> None:
    if value is None:
        return
    pattern, expected = _FORMATS[name]
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ReceiptError(f"{name}: {value!r} is not {expected}")


def check_amount(name: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_AMOUNT_FEN:
        raise ReceiptError(f"{name}: {value!r} is not an amount in fen from 0 to {MAX_AMOUNT_FEN}")


def mask_card_no(card_no: str) -> str:
    """A full PAN becomes its printed form; an already masked number is kept (a reprint, a copy)."""
    if card_no.isdigit():
        if not 12 <= len(card_no) <= 19:
            raise ReceiptError(f"card_no: a PAN has 12 to 19 digits, got {len(card_no)}")
        return mask_pan(card_no)
    if not _MASKED_PAN.fullmatch(card_no) or not 12 <= len(card_no) <= 19:
        raise ReceiptError("card_no: expected a 12 to 19 digit PAN or its masked form (first 6, stars, last 4)")
    return card_no


def format_rmb(fen: int, negative: bool = False) -> str:
    return f"RMB {'-' if negative and fen else ''}{fen // 100}.{fen % 100:02d}"


@dataclass(frozen=True)
class ReceiptData:
    """Everything a CUP sales slip carries.

    ``card_no`` may be given as the full PAN: it is masked on construction and
    only the masked form is kept. Amounts are in fen, never negative: the
    transaction type decides the printed sign.
    """

    merchant_name: str
    merchant_no: str
    terminal_no: str
    operator_no: str
    card_no: str
    transaction: TransactionType
    batch_no: str
    voucher_no: str
    when: datetime
    amount_fen: int
    title: str = "POS签购单"
    entry_mode: EntryMode = EntryMode.INSERT
    card_org: str | None = None  # CUP, VIS, MCC ... (first 3 characters of field 63)
    issuer: str | None = None
    acquirer: str | None = None
    expiry: str | None = None  # YYMM, as in field 14
    mask_expiry: bool = True
    auth_code: str | None = None
    reference_no: str | None = None
    tip_fen: int | None = None
    original_voucher_no: str | None = None
    original_reference_no: str | None = None
    original_auth_code: str | None = None
    remarks: str | None = None
    copy: CopyKind = CopyKind.MERCHANT
    reprint: bool = False
    signature_required: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.card_no, str):
            raise ReceiptError("card_no: expected a string of digits")
        object.__setattr__(self, "card_no", mask_card_no(self.card_no))
        if not isinstance(self.transaction, TransactionType):
            raise ReceiptError(f"transaction: {self.transaction!r} is not a TransactionType")
        if not isinstance(self.when, datetime):
            raise ReceiptError(f"when: {self.when!r} is not a datetime")
        for name in _FORMATS:
            check_format(name, getattr(self, name))
        check_amount("amount_fen", self.amount_fen)
        check_amount("tip_fen", self.tip_fen)
        check_amount("total", self.total_fen)
        for name in ("title", "merchant_name", "card_org", "issuer", "acquirer", "remarks"):
            value = getattr(self, name)
            if value is not None:
                check_printable(name, value)
        if not self.merchant_name.strip():
            raise ReceiptError("merchant_name: must not be empty")
        self._check_originals()

    def _check_originals(self) -> None:
        needed = {
            TransactionType.VOID: "original_voucher_no",
            TransactionType.REFUND: "original_reference_no",
            TransactionType.PRE_AUTH_COMPLETION: "original_auth_code",
        }.get(self.transaction)
        if needed and getattr(self, needed) is None:
            raise ReceiptError(f"{needed}: a {self.transaction.english} slip must show the original transaction")

    @property
    def total_fen(self) -> int:
        return self.amount_fen + (self.tip_fen or 0)

    def as_copy(self, copy: CopyKind, *, reprint: bool | None = None) -> "ReceiptData":
        """The same slip for another copy (or as a reprint); the masked card number carries over."""
        return replace(self, copy=copy, reprint=self.reprint if reprint is None else reprint)

    def lines(self, width: int) -> list[PrintLine]:
        check_width(width)
        out = [PrintLine(self.title, "center", emphasis=True), PrintLine(self.copy.label, "center")]
        if self.reprint:
            out.append(PrintLine(REPRINT, "center"))
        out.append(separator(width))
        out += left([*wrap("商户名称(MERCHANT NAME):", width), *wrap(self.merchant_name, width)])
        out += self._pairs(width, [
            ("商户编号(MERCHANT NO.):", self.merchant_no),
            ("终端编号(TERMINAL NO.):", self.terminal_no),
            ("操作员号(OPERATOR NO.):", self.operator_no),
        ])
        out.append(separator(width))
        out += self._pairs(width, [
            ("卡号(CARD NO.):", f"{self.card_no} {self.entry_mode.letter}"),
            ("卡组织(CARD ORG.):", self.card_org),
            ("发卡行(ISSUER):", self.issuer),
            ("收单行(ACQUIRER):", self.acquirer),
            ("有效期(EXP. DATE):", self._expiry()),
            ("交易类型(TRANS. TYPE):", self.transaction.label),
            ("批次号(BATCH NO.):", self.batch_no),
            ("凭证号(VOUCHER NO.):", self.voucher_no),
            ("授权码(AUTH NO.):", self.auth_code),
            ("参考号(REFER NO.):", self.reference_no),
            ("日期时间(DATE/TIME):", self.when.strftime(DATE_FORMAT)),
            ("原凭证号(ORIG. VOUCHER):", self.original_voucher_no),
            ("原参考号(ORIG. REFER NO.):", self.original_reference_no),
            ("原授权码(ORIG. AUTH NO.):", self.original_auth_code),
        ])
        out += self._amount_lines(width)
        if self.remarks:
            out.append(separator(width))
            out += left([*wrap("备注(REFERENCE):", width), *wrap(self.remarks, width)])
        if self.transaction is not TransactionType.BALANCE:
            out.append(separator(width))
            out += self._signature_lines(width)
        return out

    def _expiry(self) -> str | None:
        if self.expiry is None:
            return None
        return "**/**" if self.mask_expiry else f"{self.expiry[:2]}/{self.expiry[2:]}"

    def _amount_lines(self, width: int) -> list[PrintLine]:
        negative = self.transaction.takes_money_back
        if self.transaction is TransactionType.BALANCE:
            return self._pairs(width, [("余额(BALANCE):", format_rmb(self.amount_fen))])
        rows: list[tuple[str, str | None]] = [("金额(AMOUNT):", format_rmb(self.amount_fen, negative))]
        if self.tip_fen is not None:
            rows += [("小费(TIP):", format_rmb(self.tip_fen, negative)),
                     ("总计(TOTAL):", format_rmb(self.total_fen, negative))]
        return self._pairs(width, rows)

    def _signature_lines(self, width: int) -> list[PrintLine]:
        """The signature line belongs on the copies the merchant keeps; the cardholder's copy has none."""
        texts: list[str] = []
        if not self.signature_required:
            texts += [NO_SIGNATURE_ZH, *wrap(NO_SIGNATURE_EN, width)]
        elif self.copy is not CopyKind.CARDHOLDER:
            texts += [*wrap("持卡人签名(SIGNATURE):", width), "", "", "_" * width]
        texts += [*wrap(CONSENT_ZH, width), *wrap(CONSENT_EN, width)]
        return left(texts)

    @staticmethod
    def _pairs(width: int, rows: list[tuple[str, str | None]]) -> list[PrintLine]:
        return [PrintLine(text) for label, value in rows if value is not None for text in pair(label, value, width)]
