"""The return-and-deregister path through the private management messages (0800, 60.3 = 801..807, field 59
usage tags, docs/protocol.md) and the acquirer's back-office steps, over loopback TCP. Every outcome:
approval through refund confirmation, rejection with reasons and advice, appeal and re-review, withdrawal,
and the refusals (12 with a reason, 25 unknown case, 03 another merchant's case)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator

import pytest

from possim.cli import main
from possim.host.cases import CaseDesk
from possim.host.db import open_db
from possim.host.settlement import BatchTotals, PartTotals

from tests.host.conftest import DEBIT, MID, OTHER_MID, TID, Env, Terminal

APPLICATION = {"RR": "店铺停业，退还终端", "RC": "张三 13800000000", "RI": "ID-310101199001011234",
               "RP": "INV-2024-0001"}


@pytest.fixture
def desk(env: Env) -> Iterator[CaseDesk]:
    conn = open_db(env.db_path)
    yield CaseDesk(conn, env.clock, env.config.return_policy)
    conn.close()


def _trade_and_settle(term: Terminal, count: int = 3, amount: int = 1000) -> None:
    for _ in range(count):
        assert term.purchase(DEBIT, amount)["39"] == "00"
    totals = BatchTotals(PartTotals(count * amount, count, 0, 0))
    assert term.settle(totals.field48())["48"][30] == "1"


def test_approved_return_through_refund_confirmation(env: Env, signed_in: Terminal, desk: CaseDesk,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _trade_and_settle(signed_in)
    response, tags = signed_in.manage("801", APPLICATION)
    assert response.mti == "0810" and response["39"] == "00" and signed_in.mac_ok()
    assert tags["CS"] == "applied"
    case_id = int(tags["CI"])
    assert desk.get_case(case_id).reason == APPLICATION["RR"]

    desk.start_review(case_id, "reviewer-li")
    env.clock.advance(hours=2)
    assert desk.decide(case_id, "reviewer-li").state.value == "approved"

    _, status = signed_in.manage("802", {"CI": str(case_id)})
    assert status["CS"] == "approved" and status["RA"] == "29900" and status["RD"] == "20240616"
    _, latest = signed_in.manage("802")  # no CI: the terminal's latest case
    assert latest["CI"] == str(case_id)

    _, unbound = signed_in.manage("806", {"CI": str(case_id)})
    assert unbound["CS"] == "unbound"
    assert signed_in.purchase(DEBIT, 100)["39"] == "58"  # an unbound terminal no longer transacts

    _, dereg = signed_in.manage("807", {"CI": str(case_id)})
    assert dereg["CS"] == "deregistered"
    assert signed_in.purchase(DEBIT, 100)["39"] == "97"

    env.clock.advance(days=3)
    assert desk.issue_refund(case_id, "finance-wang", reference="TRF-77").state.value == "refund_issued"
    _, issued = signed_in.manage("802")
    assert issued["CS"] == "refund_issued"
    _, confirmed = signed_in.manage("804", {"CI": str(case_id)})
    assert confirmed["CS"] == "refund_confirmed"

    timeline = [(e.actor, e.action, e.to_state.value) for e in desk.case_timeline(case_id)]
    assert timeline == [
        (f"merchant:{MID}", "apply", "applied"), ("reviewer-li", "start_review", "under_review"),
        ("reviewer-li", "approve", "approved"), (f"terminal:{TID}", "settle", "settled"),
        (f"terminal:{TID}", "unbind", "unbound"), (f"terminal:{TID}", "deregister", "deregistered"),
        ("finance-wang", "issue_refund", "refund_issued"), (f"merchant:{MID}", "confirm_refund", "refund_confirmed"),
    ]
    times = [e.at for e in desk.case_timeline(case_id)]
    assert times == sorted(times) and times[2] > times[1] and times[6] > times[5]

    # the same steps are visible from the CLI against the same database
    assert main(["host", "--db", str(env.db_path), "cases", "show", str(case_id), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["state"] == "refund_confirmed" and len(shown["timeline"]) == 8
    assert main(["host", "--db", str(env.db_path), "cases", "list"]) == 0
    assert f"CASE {case_id} REFUND_CONFIRMED" in capsys.readouterr().out


def test_rejection_gives_reasons_and_advice_then_appeal_and_re_review(env: Env, signed_in: Terminal,
                                                                      desk: CaseDesk) -> None:
    assert signed_in.purchase(DEBIT, 1000)["39"] == "00"  # one purchase, batch left open
    _, tags = signed_in.manage("801", APPLICATION)
    case_id = int(tags["CI"])
    desk.start_review(case_id, "reviewer-li")
    assert desk.decide(case_id, "reviewer-li").state.value == "rejected"

    response, status = signed_in.manage("802")
    assert response["39"] == "00" and status["CS"] == "rejected"
    codes = [item.split(":", 1)[0] for item in status["DR"].split(";")]
    assert codes == ["TRANSACTION_COUNT_NOT_MET", "VOLUME_NOT_MET", "UNSETTLED_BATCH"]
    assert "settle" in status["DA"]

    refused, why = signed_in.manage("806", {"CI": str(case_id)})
    assert refused["39"] == "12" and "cannot unbind while rejected" in why["DR"]

    # the merchant settles, trades more, settles again and appeals
    signed_in.settle(BatchTotals(PartTotals(1000, 1, 0, 0)).field48())
    signed_in.batch = "000002"
    _trade_and_settle(signed_in, count=2)
    _, appealed = signed_in.manage("803", {"CI": str(case_id), "AS": "已结算并补足交易笔数"})
    assert appealed["CS"] == "appealed"
    desk.start_re_review(case_id, "reviewer-zhao")
    assert desk.decide(case_id, "reviewer-zhao").state.value == "approved"
    _, status = signed_in.manage("802")
    assert status["CS"] == "approved" and "DR" not in status

    again, _ = signed_in.manage("803", {"CI": str(case_id), "AS": "again"})
    assert again["39"] == "12"


def test_withdrawal_and_refusals(env: Env, signed_in: Terminal, desk: CaseDesk) -> None:
    _, tags = signed_in.manage("801", APPLICATION)
    case_id = tags["CI"]
    second, why = signed_in.manage("801", APPLICATION)
    assert second["39"] == "12" and "already has case" in why["DR"]
    assert signed_in.manage("802", {"CI": "999"})[0]["39"] == "25"
    assert signed_in.manage("807", {"CI": case_id})[0]["39"] == "12"  # not unbound yet
    assert signed_in.manage("899")[0]["39"] == "40"
    missing = signed_in.request("0800", {"60": "00" + signed_in.batch + "802"}, sign=False)
    assert missing["39"] == "A0"

    other = env.terminal(tid="73782214", mid=OTHER_MID, tmk=bytes.fromhex("258FB0AB70D025CDB99DF2C4D302D646"))
    assert other.sign_in()["39"] == "00"
    assert other.manage("805", {"CI": case_id})[0]["39"] == "03"

    _, withdrawn = signed_in.manage("805", {"CI": case_id})
    assert withdrawn["CS"] == "withdrawn"
    assert signed_in.purchase(DEBIT, 100)["39"] == "00"  # still bound and trading


def test_return_application_fields_are_required(signed_in: Terminal) -> None:
    response, why = signed_in.manage("801", {"RR": "closing"})
    assert response["39"] == "12" and "contact is required" in why["DR"]
    bad, why = signed_in.manage("802", {"CI": "x1"})
    assert bad["39"] == "30"


def test_back_office_cli_steps(env: Env, signed_in: Terminal, tmp_path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    from possim.host.example_config import EXAMPLE_CONFIG_YAML

    config = tmp_path / "host.yaml"
    config.write_text(EXAMPLE_CONFIG_YAML, encoding="utf-8")
    _trade_and_settle(signed_in)
    _, tags = signed_in.manage("801", APPLICATION)
    case_id = tags["CI"]
    base = ["host", "--db", str(env.db_path), "--config", str(config), "cases"]
    assert main([*base, "review", case_id]) == 0
    assert main([*base, "decide", case_id, "--missing", "charger"]) == 0
    out = capsys.readouterr().out
    assert "APPROVED REFUND 269.00" in out  # 299 yuan deposit less the 30 yuan charger
    assert main([*base, "review", case_id]) == 2  # already decided
    assert "cannot start_review while approved" in capsys.readouterr().err
    with sqlite3.connect(str(env.db_path)) as db:
        assert db.execute("SELECT count(*) FROM case_events WHERE case_id = ?", (int(case_id),)).fetchone()[0] == 3
