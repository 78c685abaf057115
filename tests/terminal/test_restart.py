"""A reversal that survives the process: kill -9 while the terminal waits for an answer, start it again."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from .conftest import run
from .hosting import DEBIT_BALANCE_FEN, DEBIT_CARD, DEBIT_EXPIRY, DEBIT_PIN, real_host
from .processes import run_terminal, start_terminal
from .proxy import DROP, FORWARD, Proxy

CARD_ARGS = ["--card-pan", DEBIT_CARD, "--card-expiry", DEBIT_EXPIRY, "--pin", DEBIT_PIN]


def test_pending_request_is_reversed_once_after_a_kill(tmp_path: Path) -> None:
    db = tmp_path / "terminal.db"

    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            proxy = Proxy(host.urls[0], on_response=lambda req, resp: DROP if req.mti == "0200" else FORWARD)
            url = await proxy.start()
            code, out, err = await run_terminal(url, db, "sign-in")
            assert code == 0, err
            sale = await start_terminal(url, db, "--timeout", "120", "sale", "--amount", "50.00", *CARD_ARGS)
            for _ in range(400):  # until the host has approved and the answer was dropped
                if any(action == DROP for _, _, action in proxy.seen):
                    break
                await asyncio.sleep(0.05)
            assert any(action == DROP for _, _, action in proxy.seen)
            sale.kill()  # SIGKILL: no clean-up runs
            await sale.wait()
            with sqlite3.connect(db) as conn:
                rows = conn.execute("SELECT kind, status, amount_fen FROM transactions").fetchall()
            assert rows == [("purchase", "pending", 5000)]

            proxy.on_response = lambda req, resp: FORWARD
            code, out, err = await run_terminal(url, db, "--json", "status")  # start-up sends the reversal
            assert code == 0, err
            status = json.loads(out.strip().splitlines()[-1])
            assert status["data"]["stored_reversals"] == 0
            reversals = [m for m in proxy.requests if m.mti == "0400"]
            assert len(reversals) == 1 and reversals[0]["39"] == "98" and reversals[0]["4"] == "000000005000"
            with sqlite3.connect(db) as conn:
                assert conn.execute("SELECT status, reversal_code FROM transactions WHERE kind = 'purchase'"
                                    ).fetchall() == [("reversed", "00")]

            code, out, err = await run_terminal(url, db, "--json", "balance", *CARD_ARGS)
            assert code == 0, err
            assert json.loads(out.strip().splitlines()[-1])["balance_fen"] == DEBIT_BALANCE_FEN
            assert len([m for m in proxy.requests if m.mti == "0400"]) == 1  # sent once, never again
            await proxy.close()
    run(scenario())
