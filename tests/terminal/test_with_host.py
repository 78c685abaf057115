"""The terminal against the real host simulator over loopback TCP: every POS function, end to end."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from possim.iso8583 import get_dialect
from possim.security import message as mac_message
from possim.terminal.messages import Card
from possim.terminal.state import TerminalStatus

from .conftest import run
from .hosting import (
    DEBIT_BALANCE_FEN,
    DEBIT_CARD,
    DEBIT_EXPIRY,
    DEBIT_PIN,
    DEBIT_TRACK2,
    UNBOUND_TID,
    back_office,
    make_terminal,
    real_host,
)
from .proxy import DROP, FORWARD, TAMPER_MAC, Proxy

CUP = get_dialect("cup-pos")
CARD = Card(DEBIT_CARD, DEBIT_EXPIRY)


def test_sign_in_sale_void_refund_balance_settle(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            term = make_terminal(tmp_path, host.urls[0])
            await term.start()
            signed = await term.sign_in()
            assert signed.approved and term.state.signed_in
            sale = await term.purchase(1234, Card.from_track2(DEBIT_TRACK2), DEBIT_PIN)
            assert sale.approved, sale.summary()
            assert sale.rrn and sale.auth_code and sale.masked_pan == "622202*********0123"
            # the slip is produced and kept for reprint; the PAN on it is masked
            assert "消费/SALE" in sale.receipt_text and "622202*********0123" in sale.receipt_text
            assert DEBIT_CARD not in sale.receipt_text and sale.receipt_escpos.startswith(b"\x1b@")
            assert DEBIT_CARD.encode() not in sale.receipt_escpos
            second = await term.purchase(500, CARD, DEBIT_PIN)
            balance = await term.balance(CARD, DEBIT_PIN)
            assert balance.approved and balance.balance_fen == DEBIT_BALANCE_FEN - 1234 - 500
            void = await term.void(second.stan)
            assert void.approved, void.summary()
            assert "撤销/VOID" in void.receipt_text
            assert term.journal.get(term.journal.find(stan=second.stan).id).status == "voided"
            again = await term.void(second.stan)
            assert again.code == "12" and again.local
            refund = await term.refund(200, CARD, sale.rrn, sale.host_date)
            assert refund.approved, refund.summary()
            after = await term.balance(CARD, DEBIT_PIN)
            assert after.balance_fen == DEBIT_BALANCE_FEN - 1234 + 200
            reprint = await term.reprint()
            assert "退货/REFUND" in reprint.receipt_text and "REPRINT" in reprint.receipt_text
            settled = await term.settle()
            assert settled.approved and settled.data["balanced"] is True
            assert settled.data["totals"] == {"debit_fen": 1234, "debit_count": 1, "credit_fen": 200,
                                              "credit_count": 1}
            assert settled.data["next_batch"] == "000002" and term.state.batch == "000002"
            assert "结算总计单" in settled.receipt_text
            records = await term.records()
            assert [r["kind"] for r in records.data["records"]][:4] == ["balance", "refund", "void", "balance"]
            assert all(DEBIT_CARD not in str(r) for r in records.data["records"])
            off = await term.sign_off()
            assert off.approved and not term.state.signed_in
            refused = await term.purchase(100, CARD, DEBIT_PIN)
            assert refused.code == "22" and refused.local
            await term.close()
    run(scenario())


def test_unbalanced_settlement_uploads_the_batch(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            proxy = Proxy(host.urls[0])
            term = make_terminal(tmp_path, await proxy.start())
            await term.sign_in()
            for amount in (1000, 2000, 3000):
                assert (await term.purchase(amount, CARD, DEBIT_PIN)).approved
            # the terminal's journal lost one approval (say, a power cut before the write on an old model):
            # its totals now differ from the host's ledger
            with sqlite3.connect(tmp_path / "terminal.db") as conn:
                conn.execute("DELETE FROM transactions WHERE amount_fen = 2000")
            settled = await term.settle()
            assert settled.approved, settled.summary()
            assert settled.data["balanced"] is False and settled.data["host_result"] == "2"
            assert settled.data["uploaded"] == 2
            mtis = [(m.mti, m.get("60.3")) for m in proxy.requests[-3:]]
            assert mtis == [("0500", "201"), ("0320", "201"), ("0320", "202")]
            upload = proxy.requests[-2]
            assert upload["48"][:2] == "02" and DEBIT_CARD in upload["48"]
            assert term.state.batch == "000002"
            await term.close()
            await proxy.close()
    run(scenario())


def test_lost_answer_is_reversed_before_the_next_sale(tmp_path: Path) -> None:
    """The host approves and debits, the answer is lost: the terminal reverses (98) and the money comes back."""
    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            lost = {"done": False}

            def lose_first_sale(request, response):  # type: ignore[no-untyped-def]
                if request.mti == "0200" and request["3"] == "000000" and not lost["done"]:
                    lost["done"] = True
                    return DROP
                return FORWARD

            proxy = Proxy(host.urls[0], on_response=lose_first_sale)
            term = make_terminal(tmp_path, await proxy.start(), response_timeout=0.5)
            await term.sign_in()
            sale = await term.purchase(5000, CARD, DEBIT_PIN)
            assert sale.code == "98" and sale.local and not sale.approved
            stored = term.journal.reversals()
            assert [(e.stan, e.reversal_reason) for e in stored] == [(sale.stan, "98")]
            term.config = term.config.with_changes(response_timeout=10.0)
            balance = await term.balance(CARD, DEBIT_PIN)  # the stored reversal goes first
            assert balance.approved
            assert [m.mti for m in proxy.requests[-2:]] == ["0400", "0200"]
            reversal = proxy.requests[-2]
            assert reversal["11"] == sale.stan and reversal["39"] == "98" and reversal["4"] == "000000005000"
            assert balance.balance_fen == DEBIT_BALANCE_FEN
            assert term.journal.reversals() == []
            assert term.journal.find(stan=sale.stan).status == "reversed"
            await term.close()
            await proxy.close()
    run(scenario())


def test_bad_response_mac_is_not_an_approval(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            proxy = Proxy(host.urls[0], on_response=lambda req, resp: TAMPER_MAC if req.mti == "0200" else FORWARD)
            term = make_terminal(tmp_path, await proxy.start())
            await term.sign_in()
            sale = await term.purchase(700, CARD, DEBIT_PIN)
            assert sale.code == "A0" and not sale.approved and sale.local
            assert [e.reversal_reason for e in term.journal.reversals()] == ["A0"]
            assert not term.state.signed_in  # keys out of step: sign in again
            proxy.on_response = lambda req, resp: FORWARD
            signed = await term.sign_in()  # the stored reversal follows the new sign-in
            assert signed.approved and signed.data["reversals"][0]["answered"] is True
            reversal = proxy.requests[-1]
            assert reversal.mti == "0400" and reversal["39"] == "A0"
            assert mac_message.verify(CUP, CUP.encode(reversal), "cup-ecb", term.state.keys().mak)
            assert (await term.balance(CARD, DEBIT_PIN)).balance_fen == DEBIT_BALANCE_FEN
            await term.close()
            await proxy.close()
    run(scenario())


def test_a_wrong_request_mac_is_refused_by_the_host(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            term = make_terminal(tmp_path, host.urls[0], mac_alg="x9.9")  # the host expects cup-ecb
            await term.sign_in()
            sale = await term.purchase(100, CARD, DEBIT_PIN)
            assert sale.code == "A0" and not sale.local
            assert term.journal.find(stan=sale.stan).status == "declined"
            assert not term.state.signed_in
            await term.close()
    run(scenario())


def test_return_path_from_the_terminal(tmp_path: Path) -> None:
    """801 apply, back-office approval, settle, 806 unbind, 807 deregister, refund, 804 confirm; then refused."""
    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            term = make_terminal(tmp_path, host.urls[0])
            await term.sign_in()
            for amount in (40000, 40000, 40000):
                assert (await term.purchase(amount, CARD, DEBIT_PIN)).approved
            assert (await term.settle()).approved  # the policy wants the batch settled before review
            applied = await term.return_apply("closing the shop", "13800000000", "ID-310101", "INV-2024-001")
            assert applied.approved, applied.summary()
            case_id = applied.data["case_id"]
            assert applied.data["case_state"] == "applied" and term.state.case_id == case_id
            too_soon = await term.unbind()
            assert too_soon.code == "12" and not too_soon.local and "applied" in too_soon.detail
            assert term.state.status is TerminalStatus.ACTIVE
            conn, desk = back_office(tmp_path)
            desk.start_review(int(case_id), "reviewer")
            decided = desk.decide(int(case_id), "reviewer")
            assert decided.state.value == "approved", str(decided.to_json()["decision"])
            status = await term.return_status()
            assert status.data["case_state"] == "approved" and status.data.get("refund_fen", 0) > 0
            unbound = await term.unbind()
            assert unbound.approved and term.state.status is TerminalStatus.UNBOUND
            refused = await term.purchase(100, CARD, DEBIT_PIN)
            assert refused.code == "58" and refused.local
            deregistered = await term.deregister()
            assert deregistered.approved and term.state.status is TerminalStatus.DEREGISTERED
            desk.issue_refund(int(case_id), "cashier", reference="TX-1")
            conn.close()
            confirmed = await term.refund_confirm()
            assert confirmed.approved, confirmed.summary()
            assert confirmed.data["case_state"] == "refund_confirmed"
            local = await term.purchase(100, CARD, DEBIT_PIN)
            assert local.code == "97" and local.local
            assert (await term.sign_in()).code == "97"
            await term.close()
            # the same TID on a fresh terminal (a new journal): the host refuses it too
            fresh = make_terminal(tmp_path, host.urls[0], db="fresh.db")
            at_host = await fresh.sign_in()
            assert at_host.code == "97" and not at_host.local
            assert fresh.state.status is TerminalStatus.DEREGISTERED
            assert (await fresh.purchase(100, CARD, DEBIT_PIN)).local
            await fresh.close()
    run(scenario())


def test_unbound_terminal_is_refused_at_the_host_then_locally(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            term = make_terminal(tmp_path, host.urls[0], tid=UNBOUND_TID)
            answer = await term.sign_in()
            assert answer.code == "58" and not answer.local
            assert term.state.status is TerminalStatus.UNBOUND
            sale = await term.purchase(100, CARD, DEBIT_PIN)
            assert sale.code == "58" and sale.local
            await term.close()
    run(scenario())
