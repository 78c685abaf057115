"""From the journal to the receipt renderer: which slip a transaction prints, with what on it.

The renderer (possim.terminal.receipt, receipt_settlement, escpos_out) lays a
slip out; this module only fills it from what the terminal knows -- its
configuration and a journal entry -- so the slip printed after a sale and
the one reprinted a day later come from the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from possim.terminal.config import TerminalConfig
from possim.terminal.escpos_out import render_escpos
from possim.terminal.journal import JournalEntry, Totals
from possim.terminal.receipt import EntryMode, ReceiptData, TransactionType
from possim.terminal.receipt_settlement import SettlementLine, SettlementSlip, SettlementTotals
from possim.terminal.receipt_text import Printable, render_text

SLIP_TYPES = {"purchase": TransactionType.SALE, "void": TransactionType.VOID, "refund": TransactionType.REFUND}


@dataclass(frozen=True)
class RenderedSlip:
    text: str
    escpos: bytes


def transaction_time(entry: JournalEntry, fallback: datetime) -> datetime:
    """The host's date and time (fields 13 and 12) in the fallback's year; the terminal clock if absent."""
    if entry.host_date and entry.host_time:
        try:
            return fallback.replace(month=int(entry.host_date[:2]), day=int(entry.host_date[2:]),
                                    hour=int(entry.host_time[:2]), minute=int(entry.host_time[2:4]),
                                    second=int(entry.host_time[4:]), microsecond=0, tzinfo=None)
        except ValueError:
            pass
    return fallback.replace(microsecond=0, tzinfo=None)


def sales_slip(config: TerminalConfig, entry: JournalEntry, original: JournalEntry | None, when: datetime,
               *, reprint: bool = False) -> ReceiptData:
    if entry.kind not in SLIP_TYPES:
        raise ValueError(f"no sales slip for a {entry.kind}")
    request = entry.request
    return ReceiptData(
        merchant_name=config.merchant_name, merchant_no=config.mid, terminal_no=config.tid,
        operator_no=config.operator, card_no=entry.pan or "", transaction=SLIP_TYPES[entry.kind],
        batch_no=entry.batch, voucher_no=entry.stan, when=when, amount_fen=entry.amount_fen or 0,
        entry_mode=EntryMode.SWIPE if (entry.entry_mode or "").startswith("02") else EntryMode.MANUAL,
        expiry=entry.expiry, auth_code=entry.auth_code or None, reference_no=entry.rrn or None,
        original_voucher_no=original.stan if (entry.kind == "void" and original) else None,
        original_reference_no=request.get("37") if entry.kind in ("void", "refund") else None,
        original_auth_code=request.get("38") if entry.kind == "void" else None,
        reprint=reprint,
    )


def settlement_slip(config: TerminalConfig, batch: str, totals: Totals, balanced: bool,
                    when: datetime) -> SettlementSlip:
    lines = (SettlementLine(TransactionType.SALE, totals.debit_count, totals.debit_fen),
             SettlementLine(TransactionType.REFUND, totals.credit_count, totals.credit_fen))
    return SettlementSlip(merchant_name=config.merchant_name, merchant_no=config.mid, terminal_no=config.tid,
                          operator_no=config.operator, batch_no=batch, when=when,
                          domestic=SettlementTotals(lines, balanced))


def render(slip: Printable, config: TerminalConfig) -> RenderedSlip:
    width = config.receipt_width
    return RenderedSlip(render_text(slip, width), render_escpos(slip, width))
