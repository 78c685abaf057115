"""`kill -9` of a `possim terminal` process while its stored reversal is on the wire.

tests/terminal/test_restart.py kills a terminal with a *purchase* in flight. Here the purchase has
already become a stored reversal (its answer was lost), the terminal sends that reversal, the host
applies it -- and its answer is lost too, and the terminal is killed while it waits. On restart
the reversal is still stored, so it goes out again: the host must answer it without undoing the
purchase a second time. Host in-process (real SQLite); the killed terminal and the restarted one are real
child processes (the first sale runs through the library on the same journal file); a
man-in-the-middle proxy on loopback TCP losing the answers.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from tests.terminal.conftest import run
from possim.terminal.messages import Card

from tests.terminal.hosting import DEBIT_BALANCE_FEN, DEBIT_CARD, DEBIT_EXPIRY, DEBIT_PIN, TID, make_terminal, real_host
from tests.terminal.processes import run_terminal, start_terminal
from tests.terminal.proxy import DROP, FORWARD, Proxy

from .reconcile import balance, reconcile


def _journal(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT kind, status, amount_fen, reversal_attempts FROM transactions "
                            "ORDER BY id").fetchall()


def test_kill_9_with_a_reversal_pending_applies_it_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "terminal.db"
    host_db = tmp_path / "host.db"

    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            lose = {"0200"}
            proxy = Proxy(host.urls[0], on_response=lambda req, resp: DROP if req.mti in lose else FORWARD)
            url = await proxy.start()
            # sign-in and the sale whose answer is lost: the library terminal on the same journal file
            term = make_terminal(tmp_path, url, response_timeout=1.0)
            assert (await term.sign_in()).approved
            assert (await term.purchase(4200, Card(DEBIT_CARD, DEBIT_EXPIRY), DEBIT_PIN)).code == "98"
            await term.close()
            assert _journal(db) == [("purchase", "reversal", 4200, 0)]
            assert balance(host_db, DEBIT_CARD) == DEBIT_BALANCE_FEN - 4200  # the host did approve it

            lose.add("0400")  # the host will apply the reversal, and its answer will be lost
            waiting = await start_terminal(url, db, "--timeout", "120", "reversal")
            for _ in range(400):
                if any(req.mti == "0400" and action == DROP for req, _, action in proxy.seen):
                    break
                await asyncio.sleep(0.05)
            assert any(req.mti == "0400" and action == DROP for req, _, action in proxy.seen)
            waiting.kill()  # SIGKILL while it waits for the reversal's answer
            await waiting.wait()
            assert balance(host_db, DEBIT_CARD) == DEBIT_BALANCE_FEN  # applied once at the host
            kind, status, amount, attempts = _journal(db)[0]
            assert (kind, status, amount) == ("purchase", "reversal", 4200) and attempts >= 1  # still pending

            lose.clear()
            code, out, err = await run_terminal(url, db, "--json", "status")  # start-up sends it again
            assert code == 0, err
            assert json.loads(out.strip().splitlines()[-1])["data"]["stored_reversals"] == 0
            reversals = [req for req in proxy.requests if req.mti == "0400"]
            assert len(reversals) == 2 and reversals[0]["11"] == reversals[1]["11"]  # the same reversal, twice
            assert _journal(db)[0][:3] == ("purchase", "reversed", 4200)
            assert balance(host_db, DEBIT_CARD) == DEBIT_BALANCE_FEN  # and not applied a second time

            code, out, err = await run_terminal(url, db, "--json", "settle")
            assert code == 0, err
            settled = json.loads(out.strip().splitlines()[-1])
            assert settled["data"]["balanced"] is True and "uploaded" not in settled["data"]
            await proxy.close()
    run(scenario())
    books = reconcile(db, host_db, TID)
    assert (books.approved, books.reversed, books.host_reversed) == (0, 1, 1)
    assert balance(host_db, DEBIT_CARD) == DEBIT_BALANCE_FEN
