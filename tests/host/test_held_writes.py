"""Writes held for a group of requests: a purchase's transaction row, balance move and review-facts count are
kept in memory and written once at the end of the group, before the commit -- and nothing a request of the
group reads may tell the difference.

Real SQLite files in tmp_path and the processor driven directly (groups as the server forms them), with the
example configuration and the MAK pre-installed as `possim host --mak` does it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from possim.errors import PossimError
from possim.host.clock import HOST_TZ, SimulatedClock
from possim.host.db import open_db, transaction
from possim.host.example_config import example_config
from possim.host.keys import PreinstalledKeys
from possim.host.ledger import Ledger
from possim.host.policy import SqliteFactsProvider
from possim.host.processor import Processor
from possim.iso8583 import get_dialect
from possim.security import message

CUP = get_dialect("cup-pos")
MAK = bytes.fromhex("0123456789ABCDEF")
TID, MID = "10000001", "898310048120001"
DEBIT = "6222021234567890123"  # the example configuration's debit card, no PIN checked without field 52
NOW = datetime(2024, 6, 1, 10, 0, tzinfo=HOST_TZ)


def frame(mti: str, fields: dict[str, str]) -> bytes:
    base = {"2": DEBIT, "14": "3012", "22": "021", "25": "00", "41": TID, "42": MID, "49": "156", "64": "00" * 8}
    msg = CUP.message(mti, {**base, **fields}, tpdu="6000030000", header="603100000000")
    return message.sign(CUP, CUP.encode(msg), "cup-ecb", MAK)


def purchase(stan: int, amount: int = 100) -> bytes:
    return frame("0200", {"3": "000000", "4": f"{amount:012d}", "11": f"{stan:06d}", "60": "22000001000"})


def void(stan: int, rrn: str, original_stan: int, amount: int = 100) -> bytes:
    return frame("0200", {"3": "200000", "4": f"{amount:012d}", "11": f"{stan:06d}", "37": rrn,
                          "60": "23000001000", "61": f"000001{original_stan:06d}"})


def processor(db: Path) -> Processor:
    return Processor(open_db(db), example_config(), CUP, SimulatedClock(NOW),
                     preinstalled=PreinstalledKeys(MAK, "cup-ecb"))


def answers(p: Processor, *bodies: bytes) -> list[dict[str, str]]:
    return [r.message.fields if r else {} for r in p.handle_batch(list(bodies))]


def stored(db: Path) -> tuple[int, list[tuple[str, str, str | None]], tuple[int, int]]:
    """What another connection sees: the debit balance, the ledger rows (STAN, code, voided_by) and the counts."""
    with sqlite3.connect(str(db)) as other:
        balance = int(other.execute("SELECT balance_fen FROM accounts WHERE pan = ?", (DEBIT,)).fetchone()[0])
        rows = [(r[0], r[1], r[2]) for r in other.execute(
            "SELECT stan, response_code, voided_by FROM ledger_txns ORDER BY id")]
        counts = other.execute("SELECT txn_count, volume_fen FROM txn_counters WHERE tid = ? AND mid = ?",
                               (TID, MID)).fetchone() or (0, 0)
    return balance, rows, (int(counts[0]), int(counts[1]))


def next_rrn(rrn: str, step: int = 1) -> str:
    return f"{rrn[:4]}{int(rrn[4:]) + step:08d}"


def fail_on(p: Processor, stan: str, after: Callable[[], None] = lambda: None) -> None:
    """Make the purchase with ``stan`` fail like a bug would: after its own writes, and after ``after``."""
    body = p._purchase_body

    def failing(ctx, batch_no: str) -> None:  # type: ignore[no-untyped-def]
        body(ctx, batch_no)
        if ctx.stan == stan:
            after()
            raise RuntimeError("a bug in the middle of a purchase")

    p._purchase_body = failing  # type: ignore[method-assign]


def test_a_void_finds_the_purchase_approved_earlier_in_its_group(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    p = processor(db)
    before, _, _ = stored(db)
    (first,) = answers(p, purchase(1))
    rrn = next_rrn(first["37"])  # the next purchase's RRN: the counter moves by one per approval
    second, voided, again = answers(p, purchase(2, amount=300), void(3, rrn, 2, amount=300), void(4, rrn, 2, amount=300))
    assert (second["39"], second["37"]) == ("00", rrn)
    assert voided["39"] == "00" and voided["38"] == second["38"]
    assert again["39"] == "12"  # already voided, seen within the same group
    p.conn.close()
    balance, rows, counts = stored(db)
    assert balance == before - 100
    assert [(stan, code) for stan, code, _ in rows] == [("000001", "00"), ("000002", "00"), ("000003", "00"),
                                                         ("000004", "12")]
    assert rows[1][2] is not None  # the purchase points at its void
    assert counts == (1, 100)


def test_a_duplicate_stan_within_one_group_is_refused_and_recorded_once(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    p = processor(db)
    codes = [a["39"] for a in answers(p, purchase(7), purchase(8), purchase(7), purchase(8))]
    assert codes == ["00", "00", "94", "94"]
    p.conn.close()
    _, rows, counts = stored(db)
    assert [stan for stan, _, _ in rows] == ["000007", "000008"] and counts == (2, 200)


@pytest.mark.parametrize("with_write", [False, True], ids=["held-writes-only", "after-a-direct-write"])
def test_a_failing_request_is_undone_alone_and_the_rest_of_its_group_stands(tmp_path: Path, with_write: bool) -> None:
    db = tmp_path / "h.db"
    p = processor(db)
    before, _, _ = stored(db)
    # with_write: the failing request also writes in SQL (its savepoint opens, the group's held writes
    # are written inside it) and is rolled back to that savepoint.
    fail_on(p, "000002", (lambda: p.ledger.set_pin_tries(DEBIT, 2)) if with_write else (lambda: None))
    result = answers(p, purchase(1), purchase(2), purchase(3))
    assert [a["39"] for a in result] == ["00", "96", "00"]
    assert int(result[2]["37"][4:]) == int(result[0]["37"][4:]) + 2  # the failed request's RRN is not reused
    balance, rows, counts = stored(db)
    assert balance == before - 200 and counts == (2, 200)
    assert [stan for stan, _, _ in rows] == ["000001", "000003"]
    with sqlite3.connect(str(db)) as other:
        assert other.execute("SELECT pin_tries FROM accounts WHERE pan = ?", (DEBIT,)).fetchone()[0] == 0
    assert [a["39"] for a in answers(p, purchase(2), purchase(4))] == ["96", "00"]  # STAN 2 was never stored
    p.conn.close()


def test_a_request_that_fails_after_writing_outside_its_savepoint_fails_its_whole_group(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    p = processor(db)
    answers(p, purchase(1))
    before = stored(db)
    fail_on(p, "000003", lambda: p.conn.execute("UPDATE accounts SET pin_tries = 2 WHERE pan = ?", (DEBIT,)))
    with pytest.raises(PossimError, match="outside its savepoint"):
        p.handle_batch([purchase(2), purchase(3), purchase(4)])
    assert stored(db) == before  # nothing of the group was committed
    assert [a["39"] for a in answers(p, purchase(2), purchase(4))] == ["00", "00"]
    p.conn.close()


def test_review_facts_read_inside_a_group_count_what_the_ledger_holds(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "h.db")
    facts = SqliteFactsProvider(conn, SimulatedClock(NOW))
    ledger = Ledger(conn, facts)
    conn.execute("INSERT INTO merchants (mid, name, deposit_fen, deposit_refundable, contract_start, fee_schedule, "
                 "created_at) VALUES (?, 'shop', 0, 1, '2024-01-01', 'standard', ?)", (MID, NOW.isoformat()))
    conn.commit()
    with transaction(conn):
        ledger.hold()
        ledger.count_purchase(TID, MID, 500, 1)
        ledger.count_purchase(TID, MID, 700, 1)
        seen = facts.facts_for(TID, MID, NOW)
        ledger.count_purchase(TID, MID, -500, -1)
        ledger.write_held()
    assert (seen.transaction_count, seen.volume_fen) == (2, 1200)
    again = facts.facts_for(TID, MID, NOW)
    assert (again.transaction_count, again.volume_fen) == (1, 700)
    conn.close()


def test_a_response_that_cannot_be_built_after_the_commit_is_not_answered_and_the_others_are(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A bug after the commit (building one response) must not cost the rest of the group its answers; the
    one request stays committed and unanswered, so its terminal reverses it as after any lost answer."""
    db = tmp_path / "h.db"
    p = processor(db)
    before, _, _ = stored(db)
    finish = p._finish

    def failing(ctx):  # type: ignore[no-untyped-def]
        if ctx.stan == "000002":
            raise RuntimeError("a bug while building a response")
        return finish(ctx)

    p._finish = failing  # type: ignore[method-assign]
    results = p.handle_batch([purchase(1), purchase(2), purchase(3)])
    assert [r.message.fields["39"] if r else None for r in results] == ["00", None, "00"]
    assert "STAN 000002: committed, but its response could not be built" in caplog.text
    p.conn.close()
    balance, rows, _ = stored(db)
    assert balance == before - 300 and [r[:2] for r in rows] == [("000001", "00"), ("000002", "00"),
                                                                  ("000003", "00")]
