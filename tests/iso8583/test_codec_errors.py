"""Errors name the field, the offset and what was expected; nothing but DecodeError/EncodeError escapes."""

from __future__ import annotations

import pytest

from possim.iso8583 import DecodeError, Dialect, DialectError, EncodeError, Message, get_dialect

CUP = get_dialect("cup-pos")
A87 = get_dialect("iso87-ascii")


def _purchase() -> Message:
    return CUP.message("0200", {"2": "6212142000000000012", "3": "000000", "4": "000000000100", "11": "000123",
                                "35": "6212142000000000012=25122200000000000", "41": "12345678",
                                "42": "123456789012345", "49": "156", "60": "22000001000"},
                       tpdu="6005810000", header="603100000000")


def test_truncated_track_names_field_prefix_and_offset() -> None:
    raw = CUP.encode(_purchase())
    # 21 bytes of TPDU, header, MTI and bitmap; then 2 (11 bytes), 3 (3), 4 (6), 11 (3): field 35 starts at 44
    with pytest.raises(DecodeError, match=r"^field 35: length prefix says 37 digits, 6 bytes left at offset 45$"):
        CUP.decode(raw[:51])


def test_error_on_fixed_field_names_expected_size() -> None:
    raw = A87.encode(A87.message("0200", {"3": "000000", "11": "000001"}))
    with pytest.raises(DecodeError, match=r"^field 11: expected 6 bytes \(n6\), 3 bytes left at offset 26$"):
        A87.decode(raw[:-3])


def test_non_digit_in_numeric_field() -> None:
    raw = bytearray(A87.encode(A87.message("0200", {"3": "000000"})))
    raw[-2] = ord("X")
    with pytest.raises(DecodeError, match=r"^field 3: ASCII digits expected at offset 20"):
        A87.decode(bytes(raw))


def test_bad_length_prefix_and_over_maximum() -> None:
    raw = A87.encode(A87.message("0200", {"2": "4111111111111111"}))
    with pytest.raises(DecodeError, match=r"^field 2: length prefix is not 2 ASCII digits at offset 20"):
        A87.decode(raw[:20] + b"1A" + raw[22:])
    with pytest.raises(DecodeError, match=r"^field 2: length prefix says 25 digits, maximum is 19 at offset 20$"):
        A87.decode(raw[:20] + b"25" + raw[22:])


def test_pan_is_never_echoed_in_errors() -> None:
    raw = bytearray(A87.encode(A87.message("0200", {"2": "4111111111111111"})))
    raw[25] = ord("Z")
    with pytest.raises(DecodeError) as err:
        A87.decode(bytes(raw))
    assert "4111" not in str(err.value) and "got" not in str(err.value)
    with pytest.raises(EncodeError) as err2:
        A87.encode(A87.message("0200", {"2": "41111111111111X1"}))
    assert "4111" not in str(err2.value)
    assert "str of length 16" in str(err2.value)


def test_trailing_bytes_and_undefined_field() -> None:
    raw = A87.encode(A87.message("0200", {"3": "000000"}))
    with pytest.raises(DecodeError, match=r"^2 bytes left over after field 3 at offset 26$"):
        A87.decode(raw + b"00")
    bitmap = bytes.fromhex("8000000000000000" "0000000000000000")
    with pytest.raises(DecodeError, match=r"^MTI: expected 4 bytes, 0 left at offset 0$"):
        A87.decode(b"")
    with pytest.raises(DecodeError, match=r"^TPDU: expected 5 bytes, 3 left at offset 0$"):
        CUP.decode(b"\x60\x05\x81")
    with pytest.raises(DecodeError, match=r"secondary bitmap: expected 8 bytes"):
        CUP.decode(bytes.fromhex("6005810000603100000000" "0200") + bitmap[:8])


def test_bcd_pad_nibble_checked() -> None:
    raw = bytearray(CUP.encode(CUP.message("0200", {"22": "051"}, tpdu="6005810000", header="603100000000")))
    raw[-1] |= 0x0F  # 051 -> 05 1F
    with pytest.raises(DecodeError, match=r"^field 22: pad nibble is not 0 at offset"):
        CUP.decode(bytes(raw))


@pytest.mark.parametrize("fields,message", [
    ({"3": "12345"}, r"^field 3: expected exactly 6 digits \(n6\), got '12345'$"),
    ({"3": "12345a"}, r"^field 3: digits expected, got '12345a'$"),
    ({"41": "TOOLONGTERMINAL"}, r"^field 41: expected exactly 8 characters \(ans8\), got 'TOOLONGTERMINAL'$"),
    ({"52": "00112233"}, r"^field 52: expected exactly 8 bytes \(b8\), got str of length 8$"),
    ({"52": "0011223344556G77"}, r"^field 52: an even number of hex characters expected"),
    ({"1": "00"}, r"^field 1: iso87-ascii does not define it$"),
    ({"3": 0}, r"^field 3: expected a string, got int$"),
])
def test_encode_errors(fields: dict, message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        A87.encode(A87.message("0200", fields))


def test_cup_needs_tpdu_and_header() -> None:
    with pytest.raises(EncodeError, match="TPDU"):
        CUP.encode(CUP.message("0800", {"11": "000001"}))
    with pytest.raises(EncodeError, match="TPDU: expected 10 hex characters"):
        CUP.encode(CUP.message("0800", {"11": "000001"}, tpdu="60058100", header="603100000000"))


def test_plain_json_form_is_validated() -> None:
    with pytest.raises(EncodeError, match="not a field number"):
        Message.from_json({"mti": "0200", "fields": {"x": "1"}})
    with pytest.raises(EncodeError, match="field 3: expected a string value, got int"):
        Message.from_json({"mti": "0200", "fields": {"3": 0}})
    with pytest.raises(EncodeError, match="unknown key"):
        Message.from_json({"mti": "0200", "feilds": {}})


def test_bad_dialect_files_are_reported() -> None:
    base = {"name": "x", "fields": {2: {"type": "n", "max": 19, "prefix": "LL"}}}
    Dialect(base)
    with pytest.raises(DialectError, match="field 2: type 'q'"):
        Dialect({**base, "fields": {2: {"type": "q", "length": 3}}})
    with pytest.raises(DialectError, match="unknown key"):
        Dialect({**base, "fields": {2: {"name": "Amount", "transaction": None, "type": "n", "length": 3}}})
    with pytest.raises(DialectError, match="max 1000 does not fit a LLL prefix"):
        Dialect({**base, "fields": {2: {"type": "ans", "max": 1000, "prefix": "LLL"}}})
    with pytest.raises(DialectError, match="unknown dialect 'nope'"):
        get_dialect("nope")
