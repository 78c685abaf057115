"""The journal and the persisted state on real SQLite files: what survives a reopen, what never gets stored."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from possim.security.keys import KeyStore
from possim.terminal.journal import Journal
from possim.terminal.state import TerminalState, TerminalStatus, next_counter

from .conftest import TMK
from .scripted_host import counter_bytes

NOW = datetime(2025, 3, 4, 5, 6, 7)
PAN = "6222021234567890123"


def pending(journal: Journal, stan: str, amount: int, kind: str = "purchase", original_id: int | None = None) -> int:
    return journal.record_pending(kind=kind, mti="0200", stan=stan, batch="000001", amount_fen=amount, pan=PAN,
                                  expiry="3012", entry_mode="021", request={"3": "000000"}, now=NOW,
                                  original_id=original_id)


def test_counters_persist_and_wrap(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "t.db")
    state = TerminalState(journal, "12345678", TMK)
    assert [state.next_stan(), state.next_stan()] == ["000001", "000002"]
    assert state.batch == "000001" and state.close_batch() == "000002"
    journal.close()
    reopened = TerminalState(Journal(tmp_path / "t.db"), "12345678", TMK)
    assert reopened.next_stan() == "000003" and reopened.batch == "000002"
    assert next_counter(999999) == 1


def test_keys_are_stored_wrapped_and_checked(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "t.db")
    state = TerminalState(journal, "12345678", TMK)
    assert not state.signed_in
    keys, _ = KeyStore("12345678", TMK).issue_field62("003", counter_bytes(), mak_length=8)
    state.install_keys(keys)
    assert state.signed_in and state.keys().mak == keys.mak and state.keys().pik == keys.pik
    journal.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for key in (keys.pik, keys.mak):
        assert key.hex().upper().encode() not in raw and key not in raw
    other_tmk = TerminalState(Journal(tmp_path / "t.db"), "12345678", bytes.fromhex("11" * 16))
    assert not other_tmk.signed_in  # stored keys do not unwrap under another TMK: sign in again


def test_outcomes_totals_and_void(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "t.db")
    a = pending(journal, "000001", 1000)
    journal.approve(a, code="00", rrn="000000000001", auth_code="AB1234", host_date="0304", host_time="050607",
                    now=NOW)
    b = pending(journal, "000002", 2000)
    journal.approve(b, code="00", rrn="000000000002", auth_code="AB1235", host_date="0304", host_time="050607",
                    now=NOW)
    declined = pending(journal, "000003", 9999)
    journal.decline(declined, code="51", now=NOW)
    void = pending(journal, "000004", 2000, kind="void", original_id=b)
    journal.approve(void, code="00", rrn="000000000003", auth_code=None, host_date=None, host_time=None, now=NOW)
    refund = pending(journal, "000005", 300, kind="refund")
    journal.approve(refund, code="00", rrn="000000000004", auth_code=None, host_date=None, host_time=None, now=NOW)
    assert journal.get(b).status == "voided"
    totals = journal.totals("000001")
    assert (totals.debit_fen, totals.debit_count, totals.credit_fen, totals.credit_count) == (1000, 1, 300, 1)
    assert [e.stan for e in journal.batch_lines("000001")] == ["000001", "000005"]
    assert journal.find(rrn="000000000001").stan == "000001"
    assert PAN not in repr(journal.get(a)) and PAN not in str(journal.get(a).to_json())


def test_a_request_left_pending_becomes_a_reversal_on_reopen(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "t.db")
    entry = pending(journal, "000001", 1000)
    timed_out = pending(journal, "000002", 500)
    journal.store_reversal(timed_out, reason="96", now=NOW)
    journal.close()  # the process dies with 000001 in flight
    reopened = Journal(tmp_path / "t.db")
    assert reopened.recover(NOW) == [entry]
    assert [(e.stan, e.reversal_reason) for e in reopened.reversals()] == [("000001", "98"), ("000002", "96")]  # oldest first
    reopened.reversal_answered(entry, "00", NOW)
    assert reopened.get(entry).status == "reversed" and len(reopened.reversals()) == 1


def test_status_and_last_receipt_persist(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "t.db")
    state = TerminalState(journal, "12345678", TMK)
    assert state.status is TerminalStatus.ACTIVE
    state.set_status(TerminalStatus.UNBOUND)
    journal.save_receipt(None, "slip", b"\x1b@slip", NOW)
    journal.close()
    again = Journal(tmp_path / "t.db")
    assert TerminalState(again, "12345678", TMK).status is TerminalStatus.UNBOUND
    stored = again.last_receipt()
    assert stored is not None and (stored.text, stored.escpos) == ("slip", b"\x1b@slip")
