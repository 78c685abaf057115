"""The sans-IO message builder and response reader: no sockets, no clock."""

from __future__ import annotations

import pytest

from possim.errors import PossimError
from possim.iso8583 import get_dialect
from possim.security import message as mac_message
from possim.security import pinblock
from possim.security.keys import KeyStore
from possim.terminal.journal import JournalEntry, Totals
from possim.terminal.messages import (
    BadResponse,
    Card,
    CupMessages,
    MacMismatch,
    encode_usage_tags,
    parse_usage_tags,
    settlement_field48,
    settlement_result,
    upload_field48,
)

from .conftest import TMK, TRACK2, make_config
from .scripted_host import counter_bytes

CUP = get_dialect("cup-pos")


def signed_in_keys() -> KeyStore:
    keys, _ = KeyStore("12345678", TMK).issue_field62("003", counter_bytes(), mak_length=8)
    return keys


def builder(**config: object) -> CupMessages:
    return CupMessages(CUP, make_config(**config))


def answer_to(request, keys: KeyStore | None, **fields: str) -> bytes:  # type: ignore[no-untyped-def]
    values = {"11": request["11"], "41": request["41"], "42": request["42"], "39": "00", **fields}
    response = CUP.message(request.response_mti(), values, tpdu="6000000581", header=request.header)
    if keys is None:
        return CUP.encode(response)
    response["64"] = "0" * 16
    return mac_message.sign(CUP, CUP.encode(response), "cup-ecb", keys.mak)


def test_card_from_track2_and_masking() -> None:
    card = Card.from_track2(TRACK2)
    assert (card.pan, card.expiry, card.swiped) == ("6212142000000000012", "2512", True)
    assert card.entry_mode(with_pin=True) == "021" and Card(card.pan, "2512").entry_mode(False) == "012"
    assert "6212142000000000012" not in repr(card)
    with pytest.raises(PossimError, match="track 2"):
        Card.from_track2("6212142000000000012")
    with pytest.raises(PossimError, match="YYMM"):
        Card("6212142000000000012", "2513")


def test_purchase_carries_a_pin_block_under_the_pik_and_a_mac_under_the_mak() -> None:
    keys = signed_in_keys()
    msgs = builder()
    request = msgs.purchase("000007", "000003", 1234, Card.from_track2(TRACK2), "123456", keys)
    body = msgs.encode(request, keys)
    decoded = CUP.decode(body)
    assert decoded.mti == "0200" and decoded["3"] == "000000" and decoded["4"] == "000000001234"
    assert decoded["11"] == "000007" and decoded.get("60.1") == "22" and decoded.get("60.2") == "000003"
    assert decoded["35"] == TRACK2 and decoded["22"] == "021" and decoded["53"] == "2600000000000000"
    assert pinblock.verify(bytes.fromhex(decoded["52"]), "6212142000000000012", keys.pik, "123456")
    assert mac_message.verify(CUP, body, "cup-ecb", keys.mak)
    assert not mac_message.verify(CUP, body, "x9.9", keys.mak)


def test_sign_in_carries_no_mac_and_asks_for_the_configured_keys() -> None:
    msgs = builder(key_mode="004")
    body = msgs.encode(msgs.sign_in("000001", "000001"), None)
    decoded = CUP.decode(body)
    assert decoded.mti == "0800" and decoded.get("60.3") == "004" and decoded["63"] == "001" and "64" not in decoded


def test_reversal_is_built_from_the_stored_original() -> None:
    keys = signed_in_keys()
    msgs = builder()
    original = msgs.purchase("000009", "000001", 5000, Card("6212142000000000012", "2512"), "1234", keys)
    from possim.terminal.messages import request_for_journal
    stored = request_for_journal(original)
    assert "52" not in stored and "2" not in stored and "35" not in stored  # no PIN block, no card data
    entry = JournalEntry(1, "purchase", "0200", "000009", "000001", 5000, "6212142000000000012", "2512", "012",
                         "reversal", None, None, None, None, None, None, "98", 0, None, stored, "t", "t")
    reversal = msgs.reversal(entry, "98")
    assert reversal.mti == "0400" and reversal["11"] == "000009" and reversal["39"] == "98"
    assert reversal["2"] == "6212142000000000012" and reversal["4"] == "000000005000"
    assert reversal["3"] == "000000" and reversal.get("60.1") == "22" and reversal["61"] == "000001000009"
    assert "52" not in reversal and "6212142000000000012" not in repr(entry)


def test_settlement_and_upload_field48() -> None:
    f48 = settlement_field48(Totals(123456, 3, 500, 1))
    assert f48 == "000000123456003000000000500001" + "0" + "0" * 31
    assert settlement_result(f48[:30] + "2" + f48[31:]) == "2"
    entry = JournalEntry(1, "purchase", "0200", "000004", "000001", 1000, "6222021234567890123", "3012", "021",
                         "approved", "00", None, None, None, None, None, None, 0, None, {}, "t", "t")
    assert upload_field48([entry]) == "01" + "19" + "6222021234567890123" + "000000001000" + "000004"


def test_usage_tags_count_gb18030_bytes() -> None:
    text = encode_usage_tags({"RR": "店铺关闭", "RC": "138"})
    assert text == "RR008店铺关闭RC003138"
    assert parse_usage_tags(text) == {"RR": "店铺关闭", "RC": "138"}
    with pytest.raises(BadResponse, match="length says 9 bytes"):
        parse_usage_tags("CI0091")


def test_response_reading_rejects_what_is_not_our_answer() -> None:
    keys = signed_in_keys()
    msgs = builder()
    request = msgs.purchase("000005", "000001", 100, Card.from_track2(TRACK2), None, keys)
    msgs.encode(request, keys)
    good = msgs.read_response(answer_to(request, keys, **{"37": "000000000001"}), request, keys)
    assert good.code == "00" and good.text == "Approved" and not good.sign_in_again
    other = request.copy()
    other["11"] = "000006"
    with pytest.raises(BadResponse, match="field 11"):
        msgs.read_response(answer_to(other, keys), request, keys)
    tampered = bytearray(answer_to(request, keys))
    tampered[-1] ^= 1
    with pytest.raises(MacMismatch, match="does not verify"):
        msgs.read_response(bytes(tampered), request, keys)
    with pytest.raises(MacMismatch, match="approved without a MAC"):
        msgs.read_response(answer_to(request, None), request, keys)
    refusal = msgs.read_response(answer_to(request, None, **{"39": "A0"}), request, keys)
    assert refusal.code == "A0" and refusal.sign_in_again
    with pytest.raises(BadResponse, match="MTI"):
        msgs.read_response(CUP.encode(CUP.message("0810", {"11": "000005", "41": "12345678", "39": "00"},
                                                  tpdu="6000000581", header="603100000000")), request, keys)


def test_header_processing_requirement_3_means_sign_in_again() -> None:
    msgs = builder()
    request = msgs.echo("000002", "000001")
    response = CUP.message("0830", {"11": "000002", "41": "12345678", "39": "00"}, tpdu="6000000581",
                           header="603103000000")
    assert msgs.read_response(CUP.encode(response), request, None).sign_in_again
