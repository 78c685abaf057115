"""Settlement (0500, field 48 totals) balanced and unbalanced, batch upload (0320) and its end message."""

from __future__ import annotations

from possim.host.settlement import BatchTotals, PartTotals, UploadLine, build_upload

from tests.host.conftest import CREDIT, CREDIT_PIN, DEBIT, FOREIGN, TID, Env, Terminal


def _business(term: Terminal) -> None:
    """Two debit purchases (one voided), a credit purchase partly refunded, a foreign purchase."""
    keep = term.purchase(DEBIT, 1000)
    voided = term.purchase(DEBIT, 300)
    term.void(voided)
    credit = term.purchase(CREDIT, 5000, CREDIT_PIN)
    assert term.refund(credit, 1200, pan=CREDIT)["39"] == "00"
    term.purchase(FOREIGN, 800, None)
    assert keep["39"] == "00"


EXPECTED = BatchTotals(PartTotals(6000, 2, 1200, 1), PartTotals(800, 1, 0, 0))


def test_balanced_settlement_closes_the_batch(env: Env, signed_in: Terminal) -> None:
    _business(signed_in)
    response = signed_in.settle(EXPECTED.field48())
    assert response.mti == "0510" and response["39"] == "00" and signed_in.mac_ok()
    assert response["48"] == EXPECTED.field48("1", "1")
    assert response["15"] == "0601"
    with env.db() as db:
        assert db.execute("SELECT result, settled_at IS NOT NULL FROM ledger_batches").fetchone() == ("balanced", 1)
        assert db.execute("SELECT settled_at IS NOT NULL FROM batches WHERE tid = ?", (TID,)).fetchone() == (1,)
    # the batch is closed: the old number is out of step, the next number opens a new batch
    assert signed_in.purchase(DEBIT, 100)["39"] == "77"
    signed_in.batch = "000002"
    assert signed_in.purchase(DEBIT, 100)["39"] == "00"


def test_unbalanced_settlement_then_batch_upload_and_end(env: Env, signed_in: Terminal) -> None:
    _business(signed_in)
    wrong = BatchTotals(PartTotals(6100, 3, 1200, 1), EXPECTED.foreign)
    response = signed_in.settle(wrong.field48())
    assert response["39"] == "00" and response["48"] == wrong.field48("2", "1")
    with env.db() as db:
        assert db.execute("SELECT result, settled_at FROM ledger_batches").fetchone() == ("unbalanced", None)
    lines = [UploadLine(DEBIT, 1000, "000001"), UploadLine(DEBIT, 100, "000099")]
    upload = signed_in.request("0320", {"48": build_upload(lines), "60": "00" + signed_in.batch + "201"})
    assert upload.mti == "0330" and upload["39"] == "00" and signed_in.mac_ok()
    end = signed_in.request("0320", {"48": "0002", "60": "00" + signed_in.batch + "202"})
    assert end["39"] == "00"
    with env.db() as db:
        assert db.execute("SELECT result, settled_at IS NOT NULL FROM ledger_batches").fetchone() == ("reconciled", 1)
        matched = db.execute("SELECT stan, matched FROM batch_upload_lines ORDER BY id").fetchall()
    # STAN 000001 was the sign-in, not a purchase, and 000099 was never sent: neither line matches the ledger
    assert matched == [("000001", 0), ("000099", 0)]


def test_upload_lines_are_matched_against_the_ledger(env: Env, signed_in: Terminal) -> None:
    first = signed_in.purchase(DEBIT, 1000)
    signed_in.settle(BatchTotals().field48())
    line = UploadLine(DEBIT, 1000, first["11"])
    assert signed_in.request("0320", {"48": build_upload([line]), "60": "00" + signed_in.batch + "201"})["39"] == "00"
    with env.db() as db:
        assert db.execute("SELECT matched, pan_last4 FROM batch_upload_lines").fetchall() == [(1, DEBIT[-4:])]


def test_empty_batch_settles_balanced(signed_in: Terminal) -> None:
    response = signed_in.settle(BatchTotals().field48())
    assert response["48"] == BatchTotals().field48("1", "1")


def test_settlement_format_and_out_of_step(signed_in: Terminal) -> None:
    signed_in.purchase(DEBIT, 100)
    assert signed_in.settle("12345")["39"] == "30"
    assert signed_in.settle(BatchTotals().field48(), batch="000009")["39"] == "77"
    assert signed_in.request("0500", {"60": "00" + signed_in.batch + "201"})["39"] == "30"

