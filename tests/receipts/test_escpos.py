"""ESC/POS bytes: decoded back, they must print exactly the plain-text slip and end with a cut."""

from __future__ import annotations

import pytest

from possim.terminal.escpos_out import render_escpos
from possim.terminal.receipt import CopyKind, TransactionType
from possim.terminal.receipt_text import center, render_text
from tests.receipts.escpos_decode import Decoded, EscposDecodeError, decode
from tests.receipts.samples import FULL_PAN, MASKED_PAN, receipt, settlement


def as_plain(decoded: Decoded, width: int) -> list[str]:
    """What the paper reads, in the plain-text form's terms (centred lines padded the same way)."""
    return [center(line.text, width) if line.align == "center" else line.text for line in decoded.lines]


SLIPS = [
    *[pytest.param(receipt(t), id=t.name) for t in TransactionType],
    pytest.param(receipt(copy=CopyKind.CARDHOLDER, reprint=True), id="cardholder-reprint"),
    pytest.param(receipt(TransactionType.VOID, tip_fen=100, signature_required=False,
                         remarks="备注 REMARK"), id="void-tip-remarks"),
    pytest.param(settlement(), id="settlement-balanced"),
    pytest.param(settlement(domestic_balanced=False, reprint=True), id="settlement-unbalanced"),
]


@pytest.mark.parametrize("width", [32, 48])
@pytest.mark.parametrize("slip", SLIPS)
def test_decoded_bytes_print_the_plain_text_slip(slip: object, width: int) -> None:
    job = render_escpos(slip, width)  # type: ignore[arg-type]
    decoded = decode(job)
    assert as_plain(decoded, width) == render_text(slip, width).splitlines()  # type: ignore[arg-type]
    assert all(line.chinese for line in decoded.lines)


@pytest.mark.parametrize("width", [32, 48])
def test_job_starts_in_chinese_mode_and_ends_with_feed_and_full_cut(width: int) -> None:
    job = render_escpos(receipt(), width)
    decoded = decode(job)
    assert job.startswith(b"\x1b@\x1bR\x0f\x1c&")
    assert decoded.names()[:3] == ["ESC @", "ESC R", "FS &"]
    assert decoded.commands[1].args == b"\x0f"  # China
    assert decoded.names()[-2:] == ["ESC d", "GS V"]
    assert decoded.commands[-1].args == b"\x00"  # full cut
    assert job.endswith(b"\x1bd\x06\x1dV\x00")  # nothing follows the cut
    assert decoded.names().count("GS V") == 1


def test_title_is_bold_double_size_and_centred_the_rest_normal() -> None:
    decoded = decode(render_escpos(receipt(), 32))
    title, copy = decoded.lines[0], decoded.lines[1]
    assert (title.text, title.align, title.bold, title.size) == ("POS签购单", "center", True, 0x11)
    assert (copy.text, copy.align, copy.bold, copy.size) == ("商户存根 MERCHANT COPY", "center", False, 0)
    assert all(line.align == "left" and not line.bold and line.size == 0 for line in decoded.lines[2:])


def test_a_title_too_wide_to_double_is_bold_at_normal_size() -> None:
    title = "中国银联股份有限公司 POS签购单"  # 29 columns: doubled it would wrap on 58 mm paper
    for width in (32, 48):
        line = decode(render_escpos(receipt(title=title), width)).lines[0]
        assert (line.text, line.bold, line.size) == (title, True, 0)
    assert decode(render_escpos(receipt(title="中国银联 POS签购单"), 48)).lines[0].size == 0x11


def test_chinese_goes_out_as_gb2312_codes() -> None:
    # GB 2312-80 code table: 消 CFFB, 费 B7D1, 签 C7A9, 购 B9BA, 单 B5A5, 撤 B3B7, 销 CFFA
    assert bytes.fromhex("c7a9b9bab5a5") in render_escpos(receipt(), 32)
    assert bytes.fromhex("cffbb7d1") + b"/SALE" in render_escpos(receipt(), 32)
    assert bytes.fromhex("b3b7cffa") + b"/VOID" in render_escpos(receipt(TransactionType.VOID), 32)
    assert "消费".encode("utf-8") not in render_escpos(receipt(), 32)


def test_the_full_pan_is_not_in_the_bytes() -> None:
    for transaction in TransactionType:
        for width in (32, 48):
            job = render_escpos(receipt(transaction, card_no=FULL_PAN), width)
            assert FULL_PAN.encode() not in job and FULL_PAN[6:15].encode() not in job
            assert MASKED_PAN.encode() in job


@pytest.mark.parametrize("job, message", [
    (b"\x1b@\x1b\x99", "unknown command 1b 99"),
    (b"\x1b@\x1c&ABC", "ends inside a line"),
    (b"\x1b@\xcf\xfb\n", "outside Chinese mode"),
    (b"\x1b@\x1c&AB\x1bE\x01C\n", "inside a line"),
    (b"\x1b@\x1dV\x07", "argument 7"),
    (b"\x1b@\x1c&\xff\xff\n", "not GB18030"),
])
def test_the_test_decoder_refuses_what_the_renderer_must_not_send(job: bytes, message: str) -> None:
    with pytest.raises(EscposDecodeError, match=message):
        decode(job)
