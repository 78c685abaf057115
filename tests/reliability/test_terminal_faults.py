"""Faults between a real terminal and a real host: late, duplicate, half and lost answers, a request cut
mid-frame, and a reversal whose answer is lost. After each: no approved purchase lost, every reversal
applied exactly once, the card's balance conserved, the journal and the ledger reconcile, and the
terminal's settlement is balanced (no upload needed).

Terminal (possim.terminal, real SQLite journal) -> FaultProxy (real loopback TCP) -> HostServer
(real SQLite ledger), all on one event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from possim.host.server import HostServer
from possim.host.example_config import example_config
from possim.iso8583 import Message
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal
from possim.terminal.messages import Card

from tests.terminal.hosting import DEBIT_BALANCE_FEN, DEBIT_CARD, DEBIT_EXPIRY, DEBIT_PIN, TID, terminal_config

from .faultproxy import CUT_ANSWER, CUT_REQUEST, DROP, FORWARD, LATE_TWICE, TWICE, FaultProxy
from .reconcile import balance, reconcile

HANG_GUARD = 60.0  # only stops a broken test from hanging; never asserted on
CARD = Card(DEBIT_CARD, DEBIT_EXPIRY)
TIMEOUT = 0.6  # the terminal's response timeout in these tests


def run(tmp_path: Path, plan: Callable[[Message, int], str],
        body: Callable[[Terminal, FaultProxy], Awaitable[Any]]) -> None:
    async def scenario() -> None:
        async with asyncio.timeout(HANG_GUARD):
            async with HostServer(example_config(), tmp_path / "host.db", ["tcp://127.0.0.1:0"]) as host:
                proxy = FaultProxy(host.urls[0], plan)
                url = await proxy.start()
                term = Terminal(terminal_config(response_timeout=TIMEOUT), Journal(tmp_path / "terminal.db"),
                                HostLink(url))
                try:
                    assert (await term.start()) == []
                    assert (await term.sign_in()).approved
                    await body(term, proxy)
                    settled = await term.settle()
                    assert settled.approved and settled.data["balanced"] is True, settled
                    assert "uploaded" not in settled.data
                finally:
                    await term.close()
                    await proxy.close()
    asyncio.run(scenario())


def check_books(tmp_path: Path, *, approved: int, reversed_: int, host_reversed: int) -> None:
    books = reconcile(tmp_path / "terminal.db", tmp_path / "host.db", TID)
    assert (books.approved, books.reversed, books.host_reversed) == (approved, reversed_, host_reversed)
    assert balance(tmp_path / "host.db", DEBIT_CARD) == DEBIT_BALANCE_FEN - books.approved_fen


def on_nth(mti: str, n: int, action: str) -> Callable[[Message, int], str]:
    return lambda request, count: action if (request.mti, count) == (mti, n) else FORWARD


def test_a_late_answer_sent_twice_after_the_reversal_went_out(tmp_path: Path) -> None:
    async def body(term: Terminal, proxy: FaultProxy) -> None:
        first = await term.purchase(1000, CARD, DEBIT_PIN)
        assert first.code == "98" and first.local  # gave up waiting: reversal stored
        second = await term.purchase(2000, CARD, DEBIT_PIN)  # the reversal goes first, then the sale
        assert second.approved, second
        proxy.release.set()  # now the host's approval of the first sale arrives, twice
        await proxy.late_sent.wait()
        third = await term.purchase(3000, CARD, DEBIT_PIN)
        assert third.approved, third
        assert proxy.actions("0400") == [FORWARD]  # reversed exactly once
    run(tmp_path, on_nth("0200", 0, LATE_TWICE), body)
    check_books(tmp_path, approved=2, reversed_=1, host_reversed=1)


def test_a_duplicate_answer_is_not_taken_for_the_next_one(tmp_path: Path) -> None:
    async def body(term: Terminal, proxy: FaultProxy) -> None:
        first = await term.purchase(1000, CARD, DEBIT_PIN)
        assert first.approved
        second = await term.purchase(2000, CARD, DEBIT_PIN)  # the copy of the first answer is still queued
        assert second.approved, second
        assert proxy.actions("0400") == []
    run(tmp_path, on_nth("0200", 0, TWICE), body)
    check_books(tmp_path, approved=2, reversed_=0, host_reversed=0)


def test_every_answer_doubled(tmp_path: Path) -> None:
    async def body(term: Terminal, proxy: FaultProxy) -> None:
        for amount in (100, 200, 300):
            assert (await term.purchase(amount, CARD, DEBIT_PIN)).approved
        assert (await term.balance(CARD, DEBIT_PIN)).balance_fen == DEBIT_BALANCE_FEN - 600
    run(tmp_path, lambda request, n: TWICE, body)
    check_books(tmp_path, approved=3, reversed_=0, host_reversed=0)


def test_a_lost_reversal_answer_means_it_is_sent_again_and_applied_once(tmp_path: Path) -> None:
    def plan(request: Message, n: int) -> str:
        if (request.mti, n) in (("0200", 0), ("0400", 0)):
            return DROP
        return FORWARD

    async def body(term: Terminal, proxy: FaultProxy) -> None:
        assert (await term.purchase(1000, CARD, DEBIT_PIN)).code == "98"
        blocked = await term.purchase(2000, CARD, DEBIT_PIN)  # its reversal's answer is lost: nothing new goes
        assert blocked.local and not blocked.approved
        assert proxy.counts["0200"] == 1
        assert (await term.purchase(3000, CARD, DEBIT_PIN)).approved  # the reversal again, answered this time
        assert proxy.actions("0400") == [DROP, FORWARD]
    run(tmp_path, plan, body)
    check_books(tmp_path, approved=1, reversed_=1, host_reversed=1)


@pytest.mark.parametrize("fault", [CUT_ANSWER, CUT_REQUEST])
def test_the_link_drops_mid_frame(tmp_path: Path, fault: str) -> None:
    async def body(term: Terminal, proxy: FaultProxy) -> None:
        cut = await term.purchase(1000, CARD, DEBIT_PIN)
        assert cut.code == "98" and cut.local
        assert (await term.purchase(2000, CARD, DEBIT_PIN)).approved
    run(tmp_path, on_nth("0200", 0, fault), body)
    # a cut answer: the host approved and then reversed it; a cut request never reached the host
    check_books(tmp_path, approved=1, reversed_=1, host_reversed=1 if fault == CUT_ANSWER else 0)
