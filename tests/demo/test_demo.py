"""``possim demo`` as a newcomer runs it: a subprocess, its live log, receipts, summary and exit code."""

from __future__ import annotations

import re
import subprocess
import sys

from possim.demo.progress import Tally, outcome


def test_possim_demo_runs_the_whole_life_and_exits_0() -> None:
    done = subprocess.run([sys.executable, "-m", "possim", "demo"], capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Traceback" not in done.stderr
    # live progress: every step, with response codes and their meaning
    for line in ("51 Insufficient funds", "reasons UNSETTLED_BATCH", "case 1 deregistered",
                 "97 Terminal not registered  (decided by the terminal)", "0210 97 Terminal not registered",
                 "deposit refund RMB 299.00 due 2025-03-18 by bank_transfer"):
        assert line in out
    assert len(re.findall(r"^\s*\d+\s+\d+\.\d\ds  ", out, re.M)) == 21
    # receipts, masked as terminals print them
    assert "消费/SALE" in out and "撤销/VOID" in out and "退货/REFUND" in out and "结算总计单" in out
    assert "622202*********0123" in out and "6222021234567890123" not in out
    # the summary table
    summary = out[out.index("\nsummary\n"):]
    assert re.search(r"approved\s+5\n", summary)
    assert re.search(r"declined by the host\s+1\n", summary)
    assert re.search(r"refused by the terminal\s+1\n", summary)
    assert re.search(r"deposit refunded\s+RMB 299\.00, due 2025-03-18", summary)
    assert re.search(r"settlement\s+balanced", summary)
    assert "every step behaved as expected (21 steps" in out


def test_progress_lines_and_tally() -> None:
    tally = Tally()
    tally.add("purchase", "sale", {"code": "00", "message": "Approved", "approved": True, "amount_fen": 1234,
                                   "masked_pan": "622202*********0123", "receipt": "SLIP"})
    tally.add("purchase", "sale", {"code": "51", "message": "Insufficient funds", "approved": False})
    tally.add("purchase", "sale", {"code": "97", "message": "Terminal not registered", "approved": False,
                                   "local": True})
    assert (tally.transactions, tally.approved, tally.declined, tally.refused_locally) == (3, 1, 1, 1)
    assert tally.receipts == [("sale", "SLIP")]
    assert any("sale" in row and "RMB 12.34" in row for row in tally.table())
    assert outcome("purchase", {"code": "00", "message": "Approved", "amount_fen": 1234,
                                "masked_pan": "622202*********0123"}, lambda c: None) \
        == "00 Approved  RMB 12.34  622202*********0123"
    assert outcome("review", {"state": "rejected", "reasons": "UNSETTLED_BATCH", "reason_texts": "batch open",
                              "advice": "settle, then appeal"}, lambda c: None) \
        == "rejected  reasons UNSETTLED_BATCH: batch open  advice: settle, then appeal"
    assert outcome("send", {"mti": "0210", "fields": {"39": "97"}}, {"97": "Terminal not registered"}.get) \
        == "0210 97 Terminal not registered"


def test_demo_in_the_tui_shows_the_same_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from possim.demo.watch import DemoRun

    run = DemoRun(tmp_path, pace=0.0)

    async def main_() -> None:
        async with run.app.run_test(size=(160, 45)) as pilot:
            for _ in range(1500):  # bounded: until the run has ended and the last refusal is on screen
                if run.outcome is not None and any(r.rc == "97" for r in run.app.model.visible()):
                    break
                await pilot.pause(0.02)
            rows = run.app.model.visible()
            assert {"0200", "0210", "0220", "0230", "0500", "0510", "0800", "0810"} <= {r.mti for r in rows}
            assert {"00", "51", "97"} <= {r.rc for r in rows}
            sale = next(r for r in rows if r.mti == "0200" and r.name == "Purchase")
            run.app.message_list.select_number(sale.number)
            run.app.show_selected()
            shown = " ".join(str(n.label) for n in run.app.field_tree.root.children)
            assert "6222021234567890123" not in shown

    asyncio.run(main_())
    run.finish(timeout=60)
    assert run.outcome is not None and not isinstance(run.outcome, BaseException) and run.outcome.ok
    assert "every step behaved as expected" in run.log.getvalue()
