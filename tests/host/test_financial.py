"""Purchase, balance inquiry, void, refund and reversal over real loopback TCP, and every decline path of
docs/protocol.md "Refusals and response codes" that a financial request can meet."""

from __future__ import annotations

import pytest

from possim.security import pinblock

from tests.host.conftest import (
    BLOCKED, CREDIT, CREDIT_PIN, DEBIT, DEBIT_PIN, EXPIRED, FOREIGN, LOST, MID, OTHER_MID, STOLEN, TID,
    TID_UNBOUND, Env, Terminal,
)


def test_purchase_is_approved_debited_and_answered_with_a_mac(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(DEBIT)
    response = signed_in.purchase(DEBIT, 1234)
    assert response.mti == "0210" and response["39"] == "00" and signed_in.mac_ok()
    assert response.header[5] == "0"
    assert (response["2"], response["3"], response["4"]) == (DEBIT, "000000", "000000001234")
    assert (response["41"], response["42"], response["60"]) == (TID, MID, "22" + signed_in.batch + "000")
    assert response["11"] == f"{signed_in.stan:06d}"
    assert len(response["37"]) == 12 and len(response["38"]) == 6
    assert response["12"] == "100000" and response["13"] == "0601" and response["15"] == "0601"
    assert response["32"] == "48021000" and response.get("63.1") == "CUP"
    assert env.balance_of(DEBIT) == before - 1234
    with env.db() as db:
        row = db.execute("SELECT txn_type, amount_fen, response_code, rrn FROM ledger_txns WHERE stan = ?",
                         (response["11"],)).fetchone()
        counters = db.execute("SELECT txn_count, volume_fen FROM txn_counters WHERE tid = ?", (TID,)).fetchone()
    assert row == ("purchase", 1234, "00", response["37"])
    assert counters == (1, 1234)  # the back office's review facts see the purchase


def test_duplicate_stan_is_94_and_applied_once(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(DEBIT)
    first = signed_in.purchase(DEBIT, 500)
    assert first["39"] == "00"
    fields = {"3": "000000", **signed_in.card_fields(DEBIT, 500, DEBIT_PIN), "60": "22" + signed_in.batch + "000"}
    again = signed_in.request("0200", fields, stan=first["11"])
    assert again["39"] == "94" and signed_in.mac_ok()
    assert env.balance_of(DEBIT) == before - 500


def test_bad_mac_is_A0_without_a_mac_and_sign_in_again(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(DEBIT)
    wrong = signed_in.request("0200", {"3": "000000", **signed_in.card_fields(DEBIT, 100, DEBIT_PIN),
                                       "60": "22" + signed_in.batch + "000"}, mak=bytes.fromhex("1F" * 16))
    assert wrong["39"] == "A0" and "64" not in wrong and wrong.header[5] == "3"
    missing = signed_in.request("0200", {"3": "000000", **signed_in.card_fields(DEBIT, 100, DEBIT_PIN),
                                         "60": "22" + signed_in.batch + "000"}, sign=False)
    assert missing["39"] == "A0"
    assert env.balance_of(DEBIT) == before


@pytest.mark.parametrize("pan, pin, amount, code", [
    ("6222029999999999990", None, 100, "14"),   # card unknown (no default_card in the example)
    (LOST, None, 100, "41"),
    (STOLEN, None, 100, "43"),
    (BLOCKED, None, 100, "05"),
    (EXPIRED, None, 100, "54"),                 # the card's expiry on file is 2001
    (DEBIT, "000000", 100, "55"),               # wrong PIN
    (DEBIT, DEBIT_PIN, 500_001, "61"),          # over the card's per-transaction limit (500000)
    (CREDIT, CREDIT_PIN, 2_000_001, "51"),      # more than the balance
    (DEBIT, DEBIT_PIN, 0, "13"),                # zero amount
    (CREDIT, None, 100, "55"),                  # this card needs a PIN and none was sent
])
def test_purchase_declines(env: Env, signed_in: Terminal, pan: str, pin: str | None, amount: int,
                           code: str) -> None:
    before = {p: env.balance_of(p) for p in (DEBIT, CREDIT)}
    response = signed_in.purchase(pan, amount, pin)
    assert response["39"] == code and signed_in.mac_ok()
    assert "38" not in response
    assert {p: env.balance_of(p) for p in (DEBIT, CREDIT)} == before
    with env.db() as db:
        assert db.execute("SELECT response_code FROM ledger_txns WHERE stan = ?",
                          (response["11"],)).fetchone() == (code,)


def test_expiry_sent_by_the_terminal_is_checked_too(signed_in: Terminal) -> None:
    assert signed_in.purchase(DEBIT, 100, DEBIT_PIN, **{"14": "2405"})["39"] == "54"  # host date 2024-06-01


def test_third_wrong_pin_is_75_and_then_even_the_right_pin_is_refused(signed_in: Terminal) -> None:
    assert signed_in.purchase(DEBIT, 100, "111111")["39"] == "55"
    assert signed_in.purchase(DEBIT, 100, "222222")["39"] == "55"
    assert signed_in.purchase(DEBIT, 100, "333333")["39"] == "75"
    assert signed_in.purchase(DEBIT, 100, DEBIT_PIN)["39"] == "75"


def test_right_pin_resets_the_try_counter(signed_in: Terminal) -> None:
    assert signed_in.purchase(DEBIT, 100, "111111")["39"] == "55"
    assert signed_in.purchase(DEBIT, 100, "222222")["39"] == "55"
    assert signed_in.purchase(DEBIT, 100, DEBIT_PIN)["39"] == "00"
    assert signed_in.purchase(DEBIT, 100, "111111")["39"] == "55"


def test_format_errors_are_30(signed_in: Terminal) -> None:
    no_card = signed_in.request("0200", {"3": "000000", "4": "000000000100", "60": "22" + signed_in.batch + "000"})
    assert no_card["39"] == "30"
    no_batch = signed_in.request("0200", {"3": "000000", **signed_in.card_fields(DEBIT, 100, DEBIT_PIN),
                                          "60": "22"})
    assert no_batch["39"] == "30"


@pytest.mark.parametrize("mti, pcode, ttype", [
    ("0200", "190000", "22"),   # unknown processing code
    ("0200", "000000", "99"),   # unknown 60.1
    ("0100", "030000", "10"),   # pre-authorisation is not offered
    ("0220", "000000", "25"),
])
def test_unknown_functions_are_declined_40(signed_in: Terminal, mti: str, pcode: str, ttype: str) -> None:
    response = signed_in.request(mti, {"3": pcode, **signed_in.card_fields(DEBIT, 100, None),
                                       "60": ttype + signed_in.batch + "000"})
    assert response["39"] == "40"
    assert response.mti == mti[:2] + str(int(mti[2]) + 1) + mti[3]


def test_batch_out_of_step_is_77(signed_in: Terminal) -> None:
    assert signed_in.purchase()["39"] == "00"
    signed_in.batch = "000002"
    response = signed_in.purchase()
    assert response["39"] == "77" and response.header[5] == "3"


def test_terminal_refusals(env: Env) -> None:
    unknown = env.terminal(tid="99999999")
    assert unknown.sign_in()["39"] == "97"
    unbound = env.terminal(tid=TID_UNBOUND)
    assert unbound.sign_in()["39"] == "58"
    wrong_merchant = env.terminal(mid=OTHER_MID)
    assert wrong_merchant.sign_in()["39"] == "03"


def test_deregistered_terminal_is_refused_97(env: Env, signed_in: Terminal) -> None:
    from possim.host.db import open_db
    from possim.host.merchants import MerchantRegistry

    conn = open_db(env.db_path)
    registry = MerchantRegistry(conn, env.clock)
    registry.unbind(TID)
    assert signed_in.purchase()["39"] == "58"
    registry.deregister(TID)
    conn.close()
    assert signed_in.purchase()["39"] == "97"
    assert signed_in.sign_in()["39"] == "97"


@pytest.mark.parametrize("code", ["310000", "300000"])
def test_balance_inquiry(env: Env, signed_in: Terminal, code: str) -> None:
    response = signed_in.balance(DEBIT, DEBIT_PIN, code)
    assert response["39"] == "00" and signed_in.mac_ok()
    assert response["54"] == f"1002156C{env.balance_of(DEBIT):012d}"
    assert signed_in.balance(CREDIT, CREDIT_PIN, code)["54"].startswith("3002156C")
    assert signed_in.balance(DEBIT, "999999", code)["39"] == "55"
    assert signed_in.balance(LOST, None, code)["39"] == "41"


def test_void_gives_the_money_back_once(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(DEBIT)
    original = signed_in.purchase(DEBIT, 2500)
    void = signed_in.void(original)
    assert void["39"] == "00" and signed_in.mac_ok()
    assert void["38"] == original["38"] and void["37"] != original["37"]
    assert env.balance_of(DEBIT) == before
    assert signed_in.void(original)["39"] == "12"  # already voided
    assert env.balance_of(DEBIT) == before
    with env.db() as db:
        assert db.execute("SELECT txn_count, volume_fen FROM txn_counters WHERE tid = ?",
                          (TID,)).fetchone() == (0, 0)


def test_void_declines(signed_in: Terminal) -> None:
    original = signed_in.purchase(DEBIT, 2500)
    assert signed_in.void(original, amount=2400)["39"] == "64"
    assert signed_in.void(original, **{"37": "000000000000"})["39"] == "25"
    assert signed_in.void(original, **{"38": "999999"})["39"] == "25"
    assert signed_in.void(original, pan=CREDIT)["39"] == "25"


def test_refund_partial_up_to_the_original(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(DEBIT)
    original = signed_in.purchase(DEBIT, 3000)
    first = signed_in.refund(original, 1000)
    assert first.mti == "0230" and first["39"] == "00" and signed_in.mac_ok()
    assert signed_in.refund(original, 2001)["39"] == "64"  # only 2000 left
    assert signed_in.refund(original, 2000)["39"] == "00"
    assert signed_in.refund(original, 1)["39"] == "64"
    assert env.balance_of(DEBIT) == before


def test_refund_window_with_the_simulated_clock(env: Env, signed_in: Terminal) -> None:
    original = signed_in.purchase(DEBIT, 3000)
    env.clock.advance(days=30)
    assert signed_in.refund(original, 100)["39"] == "00"  # day 30: inside the 30-day window
    env.clock.advance(days=1)
    assert signed_in.refund(original, 100)["39"] == "12"  # day 31: outside


def test_refund_declines(signed_in: Terminal) -> None:
    original = signed_in.purchase(DEBIT, 3000)
    missing = dict(original.fields, **{"37": "999999999999"})
    assert signed_in.refund(type(original)(original.mti, missing, dialect=original.dialect), 100)["39"] == "25"
    assert signed_in.refund(original, 0)["39"] == "13"
    assert signed_in.void(original)["39"] == "00"
    assert signed_in.refund(original, 100)["39"] == "12"  # the original is voided


def test_reversal_is_idempotent(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(DEBIT)
    original = signed_in.purchase(DEBIT, 4000)
    assert env.balance_of(DEBIT) == before - 4000
    first = signed_in.reverse(original)
    assert first.mti == "0410" and first["39"] == "00" and signed_in.mac_ok()
    second = signed_in.reverse(original)
    assert second["39"] == "00"
    assert env.balance_of(DEBIT) == before  # undone exactly once
    with env.db() as db:
        assert db.execute("SELECT applied, answers FROM ledger_reversals").fetchall() == [(1, 2)]
        assert db.execute("SELECT txn_count, volume_fen FROM txn_counters WHERE tid = ?",
                          (TID,)).fetchone() == (0, 0)
    assert signed_in.void(original)["39"] == "12"  # a reversed purchase cannot be voided


def test_reversal_of_a_declined_or_unknown_original_changes_nothing(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(CREDIT)
    declined = signed_in.purchase(CREDIT, 3_000_000, CREDIT_PIN)
    assert declined["39"] == "51"
    assert signed_in.reverse(declined)["39"] == "00"
    never_arrived = signed_in.build("0200", {"3": "000000", **signed_in.card_fields(CREDIT, 100, None),
                                              "60": "22" + signed_in.batch + "000"})
    assert signed_in.reverse(never_arrived)["39"] == "00"
    assert env.balance_of(CREDIT) == before
    with env.db() as db:
        assert db.execute("SELECT applied FROM ledger_reversals ORDER BY id").fetchall() == [(0,), (0,)]


def test_reversal_of_a_void_takes_the_money_again(env: Env, signed_in: Terminal) -> None:
    before = env.balance_of(DEBIT)
    original = signed_in.purchase(DEBIT, 700)
    void = signed_in.void(original)
    assert env.balance_of(DEBIT) == before
    void_request = signed_in.build("0200", {"2": DEBIT, "3": "200000", "4": f"{700:012d}", "25": "00",
                                            "60": "23" + signed_in.batch + "000"}, stan=void["11"])
    assert signed_in.reverse(void_request)["39"] == "00"
    assert env.balance_of(DEBIT) == before - 700
    assert signed_in.void(original)["39"] == "00"  # the purchase is live again, so it can be voided


def test_pin_under_a_single_length_pik(env: Env) -> None:
    term = env.terminal()
    term.sign_in("001")
    assert len(term.store.pik) == 8
    fields = {"3": "000000", **term.card_fields(DEBIT, 100, None), "60": "22" + term.batch + "000",
              "52": pinblock.encipher(0, DEBIT_PIN, DEBIT, term.store.pik).hex().upper(), "53": "2000000000000000"}
    assert term.request("0200", fields)["39"] == "00"


def test_foreign_card_purchase(signed_in: Terminal) -> None:
    assert signed_in.purchase(FOREIGN, 800, None)["39"] == "00"
