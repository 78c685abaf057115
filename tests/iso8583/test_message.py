"""Message helpers, subfields, TLV, describe and masking."""

from __future__ import annotations

import pytest

from possim.iso8583 import EncodeError, Message, get_dialect
from possim.iso8583.describe import describe
from possim.iso8583.masking import mask_pan, mask_track
from possim.iso8583.tlv import build_tlv, parse_tlv

CUP = get_dialect("cup-pos")


@pytest.mark.parametrize("mti,response,is_request,reversal", [
    ("0200", "0210", True, False), ("0800", "0810", True, False), ("0400", "0410", True, True),
    ("0420", "0430", True, True), ("0220", "0230", True, False), ("0100", "0110", True, False),
])
def test_mti_helpers(mti: str, response: str, is_request: bool, reversal: bool) -> None:
    msg = Message(mti)
    assert msg.response_mti() == response
    assert msg.is_request() is is_request
    assert msg.is_reversal() is reversal


def test_response_has_no_response_mti() -> None:
    with pytest.raises(EncodeError, match="0210 is not a request"):
        Message("0210").response_mti()


def test_positional_subfields_get_and_set() -> None:
    msg = CUP.message("0200", {"60": "22000001000"})
    assert [msg.get(f"60.{i}") for i in range(1, 5)] == ["22", "000001", "000", None]
    msg.set("60.2", "000042")
    assert msg["60"] == "22000042000"
    msg.set("60.5", "6")  # setting a later subfield fills the gap before it with zeros
    assert msg["60"] == "220000420000" + "6"
    fresh = CUP.message("0800", {})
    fresh.set("60.1", "00")
    fresh.set("60.2", "000001")
    fresh.set("60.3", "003")
    assert fresh["60"] == "00000001003"
    with pytest.raises(EncodeError, match=r"60\.2: expected 6 characters, got 3"):
        fresh.set("60.2", "001")
    with pytest.raises(EncodeError, match="has subfields"):
        fresh.set("60.9", "1")


def test_tlv_subfields_and_byte_exact_lengths() -> None:
    msg = CUP.message("0200", {"55": "9F2608AABBCCDDEEFF0011" "9F360200FF"})
    assert msg.get("55.9F26") == "AABBCCDDEEFF0011"
    assert msg.get("55.9f36") == "00FF"
    assert msg.get("55.95") is None
    msg.set("55.95", "0000000000")
    msg.set("55.9F36", "0101")
    assert msg["55"] == "9F2608AABBCCDDEEFF0011" "9F36020101" "95050000000000"
    # a non-minimal length encoding (81 05) survives a round trip untouched
    odd = "9F2681050102030405"
    assert build_tlv(parse_tlv(odd)) == odd
    with pytest.raises(Exception, match=r"^TLV: tag 9F26: length says 9 bytes, 6 left at offset 3$"):
        parse_tlv("9F2609010203040506")


def test_subfield_needs_dialect() -> None:
    with pytest.raises(EncodeError, match="needs the message's dialect"):
        Message("0200", {"60": "22"}).get("60.1")


def test_masking_rules() -> None:
    assert mask_pan("6212142000000000012") == "621214*********0012"
    assert mask_pan("4111111111111111") == "411111******1111"
    assert mask_track("6212142000000000012=2512220") == "621214*********0012=*******"


def test_describe_masks_by_default_and_unmasks_on_request() -> None:
    msg = CUP.message("0200", {"2": "6212142000000000012", "3": "000000", "39": "51", "52": "0123456789ABCDEF",
                               "35": "6212142000000000012=2512", "55": "5A0862121420000000009F360200FF",
                               "60": "22000001000"},
                      tpdu="6005810000", header="603100000000")
    text = describe(CUP, msg)
    assert "6212142000000000012" not in text and "0123456789ABCDEF" not in text and "=2512" not in text
    assert "621214*********0012" in text
    assert "Insufficient funds" in text
    assert "60.1" in text and "Transaction type code" in text
    assert "55.9F36" in text and "Application transaction counter" in text
    assert "Purchase (request)" in text
    assert "destination 0581, source 0000" in text
    opened = describe(CUP, msg, unmask=True)
    assert "6212142000000000012" in opened and "0123456789ABCDEF" in opened
    assert "4111" not in repr(CUP.message("0200", {"2": "4111111111111111"}))


def test_masked_json_hides_pan_but_keeps_other_fields() -> None:
    msg = CUP.message("0200", {"2": "6212142000000000012", "4": "000000000100"})
    assert msg.to_json(mask=True)["fields"] == {"2": "621214*********0012", "4": "000000000100"}
    assert msg.to_json()["fields"]["2"] == "6212142000000000012"


def test_transaction_names_cover_requests_and_responses() -> None:
    assert CUP.transaction_name(CUP.message("0210", {"3": "000000", "60": "22000001"})) == "Purchase"
    assert CUP.transaction_name(CUP.message("0200", {"3": "200000", "60": "23000001"})) == "Void"
    assert CUP.transaction_name(CUP.message("0810", {"60": "00000001003"})) == "Sign-in"
    assert CUP.transaction_name(CUP.message("0410", {"60": "22000001"})) == "Purchase reversal"
    assert CUP.transaction_name(CUP.message("0900", {})) is None


def test_mac_input_covers_mti_to_before_field_64() -> None:
    msg = CUP.message("0200", {"3": "000000", "11": "000001", "64": "0000000000000000"},
                      tpdu="6005810000", header="603100000000")
    body = CUP.encode(msg)
    assert CUP.mac_input(body) == body[11:-8]
    assert CUP.mac_input(body)[:2] == b"\x02\x00"
    msg.remove("64")
    with pytest.raises(Exception, match="field 64: absent"):
        CUP.mac_input(CUP.encode(msg))


def test_emv_masking_reaches_into_templates() -> None:
    from possim.iso8583.masking import mask_emv

    inner = "5A086212142000000000" "9F360200FF"
    field55 = "7013" + inner + "5F3401" "01"
    masked = mask_emv(field55)
    assert "6212142000000000" not in masked
    assert masked == "7013" + "5A08" + "*" * 16 + "9F360200FF" + "5F340101"
    assert mask_emv("9F26FF") == "******"  # not TLV: hidden whole
