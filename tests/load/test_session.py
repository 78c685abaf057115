"""One load terminal's session against a real ``possim host`` process over loopback TCP.

A lost answer is made real with a relay between the session and the host
that swallows one response frame after the host has committed it.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from possim.load.fleet import fleet_from_config, load_fleet
from possim.load.reconcile import ledger_rows, reconcile_rows
from possim.load.session import TerminalSession
from possim.load.summary import EntryCounts, FailureCount, LoadSummary
from possim.host.config import load_config_text

from tests.load.conftest import HostProcess


class DroppingRelay:
    """Forwards len2 frames both ways; the ``drop``-th response (1-based) is read and thrown away."""

    def __init__(self, port: int, drop: int) -> None:
        self.upstream = port
        self.drop = drop
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.responses = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _read_frame(sock: socket.socket) -> bytes | None:
        head = b""
        while len(head) < 2:
            chunk = sock.recv(2 - len(head))
            if not chunk:
                return None
            head += chunk
        size = int.from_bytes(head, "big")
        body = b""
        while len(body) < size:
            chunk = sock.recv(size - len(body))
            if not chunk:
                return None
            body += chunk
        return head + body

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pump, args=(client,), daemon=True).start()

    def _pump(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self.upstream)) as host:
            while (request := self._read_frame(client)) is not None:
                host.sendall(request)
                response = self._read_frame(host)
                if response is None:
                    return
                self.responses += 1
                if self.responses != self.drop:
                    client.sendall(response)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def fleet(load_host: HostProcess):
    return load_fleet(load_host.config)


def test_sign_in_then_every_transaction_is_approved(load_host: HostProcess, fleet) -> None:
    terminal = fleet.terminals[0]
    session = TerminalSession(terminal, load_host.url, timeout=30)
    try:
        assert not session.signed_in
        outcome = session.sign_in()
        assert (outcome.name, outcome.code, outcome.ok) == ("sign-in", "00", True)
        assert session.signed_in
        card = fleet.card_for(terminal.tid, 0)
        purchases = [session.purchase(1000 + i, card) for i in range(3)]
        assert [(o.code, o.ok, o.answered) for o in purchases] == [("00", True, True)] * 3
        assert session.balance(card).code == "00"
        assert session.void(session.take_purchase()).code == "00"
        assert session.refund(session.take_purchase()).code == "00"
    finally:
        session.close()
    rows = ledger_rows(load_host.db)
    assert [(r.txn_type, r.response_code) for r in rows] == [
        ("purchase", "00"), ("purchase", "00"), ("purchase", "00"), ("balance", "00"), ("void", "00"),
        ("refund", "00")]
    assert rows[0].voided_by == rows[4].id  # the void took the oldest purchase
    assert rows[1].refunded_fen == 1001      # the refund the next one, in full


def test_a_new_session_moves_past_stans_the_host_already_has(load_host: HostProcess, fleet) -> None:
    terminal = fleet.terminals[1]
    card = fleet.card_for(terminal.tid, 0)
    for _ in range(2):  # the second session starts again at STAN 1, as a load run against the same DB does
        session = TerminalSession(terminal, load_host.url, timeout=30)
        try:
            assert session.sign_in().ok
            assert [session.purchase(500, card).code for _ in range(3)] == ["00"] * 3
        finally:
            session.close()
    rows = ledger_rows(load_host.db)
    assert len(rows) == 6  # 94s are not recorded: nothing counted twice
    assert len({(r.tid, r.batch_no, r.stan) for r in rows}) == 6


def test_a_lost_answer_is_reversed_and_the_ledger_still_reconciles(load_host: HostProcess, fleet) -> None:
    terminal = fleet.terminals[2]
    card = fleet.card_for(terminal.tid, 0)
    relay = DroppingRelay(load_host.port, drop=3)  # sign-in, purchase, then the second purchase's answer
    session = TerminalSession(terminal, f"tcp://127.0.0.1:{relay.port}", timeout=1)
    try:
        assert session.sign_in().ok
        first = session.purchase(700, card)
        lost = session.purchase(800, card)
        assert first.ok
        assert (lost.code, lost.ok, lost.answered) == ("98", False, False)
        assert str(lost.error).startswith("98 no answer within 1 s")
        assert len(session.pending_reversals) == 1
        reversals = session.send_reversals()
        assert [(o.name, o.code, o.ok) for o in reversals] == [("reversal", "00", True)]
        assert not session.pending_reversals
        assert session.purchase(900, card).ok
    finally:
        session.close()
        relay.close()
    rows = ledger_rows(load_host.db)
    assert [(r.amount_fen, r.response_code, r.reversed_at is not None) for r in rows] == [
        (700, "00", False), (800, "00", True), (900, "00", False)]
    # What Locust would have counted: 3 purchases, 1 failed for want of an answer.
    summary = LoadSummary(4, 1, 0.0, 0.0, 0.0,
                          {"purchase": EntryCounts("purchase", 3, 1), "reversal": EntryCounts("reversal", 1, 0)},
                          (FailureCount("purchase", str(lost.error), 1),))
    assert reconcile_rows(rows, summary).ok


def test_declines_carry_the_response_code_and_match_the_ledger(tmp_path: Path) -> None:
    text = """\
merchants: [{mid: "898310048129001", name: load}]
terminals: [{tid: "LD000001", mid: "898310048129001", tmk: "0123456789ABCDEFFEDCBA9876543210"}]
cards: [{pan: "6222021234567890123", expiry: "3012", balance_fen: 1500}]
"""
    host = HostProcess(tmp_path, text)
    try:
        fleet = fleet_from_config(load_config_text(text))
        session = TerminalSession(fleet.terminals[0], host.url, timeout=30)
        try:
            assert session.sign_in().ok
            card = fleet.card_for("LD000001", 0)
            outcomes = [session.purchase(1000, card) for _ in range(2)]
        finally:
            session.close()
    finally:
        host.stop()
    assert [(o.code, o.ok) for o in outcomes] == [("00", True), ("51", False)]
    assert repr(outcomes[1].error) == "51 Insufficient funds"
    rows = ledger_rows(host.db)
    good = LoadSummary(2, 1, 0.0, 0.0, 0.0, {"purchase": EntryCounts("purchase", 2, 1)},
                       (FailureCount("purchase", repr(outcomes[1].error), 1),))
    assert reconcile_rows(rows, good).ok
    missing_decline = LoadSummary(2, 0, 0.0, 0.0, 0.0, {"purchase": EntryCounts("purchase", 2, 0)}, ())
    assert not reconcile_rows(rows, missing_decline).ok
