"""TPDU parsing and the destination/source swap on replies (DOMAIN.md "Frame layout")."""

from __future__ import annotations

import pytest

from possim.link.tpdu import Tpdu, TpduError, parse_tpdu, reply_tpdu, swap_in_message


def test_reply_swaps_destination_and_source() -> None:
    # The example from DOMAIN.md: 6005810000 -> 6000000581.
    assert reply_tpdu("6005810000") == "6000000581"
    assert reply_tpdu(bytes.fromhex("6005810000")) == bytes.fromhex("6000000581")


def test_parse_fields_and_round_trip() -> None:
    tpdu = parse_tpdu(bytes.fromhex("6005810000") + b"rest of message")
    assert tpdu == Tpdu(destination="0581", source="0000")
    assert tpdu.to_bytes() == bytes.fromhex("6005810000")
    assert tpdu.reply().reply() == tpdu


def test_swap_in_message_keeps_the_body() -> None:
    body = bytes.fromhex("6005810000603100000000") + b"\x02\x00"
    assert swap_in_message(body) == bytes.fromhex("6000000581603100000000") + b"\x02\x00"


@pytest.mark.parametrize(
    "data, message",
    [
        ("600581", "TPDU: expected 5 bytes at offset 0, got 3"),
        ("7005810000", "TPDU: expected id 60 at offset 0, got 70"),
        ("60058100zz", "expected hex digits"),
    ],
)
def test_bad_tpdu_is_reported(data: str, message: str) -> None:
    with pytest.raises(TpduError, match=message):
        parse_tpdu(data)


def test_other_id_accepted_when_asked() -> None:
    assert parse_tpdu("6812340000", expected_id=None).id == 0x68
    with pytest.raises(TpduError, match="4 hex digits"):
        Tpdu(destination="581", source="0000")
