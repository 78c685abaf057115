"""MAC over a whole CUP message: the MAC block comes from the dialect, F64 is written and checked.

Also ``possim crypto mac --frame HEX --dialect cup-pos --framing len2`` end to end.
"""

import pytest

from possim.cli import main
from possim.errors import PossimError
from possim.iso8583 import Dialect, Message, get_dialect
from possim.link import frame
from possim.security import mac, message

H = bytes.fromhex
MAK8 = H("0123456789ABCDEF")
MAK16 = H("0123456789ABCDEFFEDCBA9876543210")
TPDU_AND_HEADER = 5 + 6  # DOMAIN.md: TPDU 5 bytes, CUP header 6 bytes, not covered by the MAC


@pytest.fixture(scope="module")
def cup() -> Dialect:
    return get_dialect("cup-pos")


def purchase(f64: str = "0000000000000000") -> Message:
    return Message(
        mti="0200",
        fields={"2": "6212142000000000012", "3": "000000", "4": "000000000100", "11": "000001",
                "22": "021", "25": "00", "41": "12345678", "42": "123456789012345", "49": "156",
                "53": "2600000000000000", "60": "22000001000", "64": f64},
        tpdu="6005810000", header="603100000000")


@pytest.mark.parametrize(("alg", "key"), [("x9.9", MAK8), ("x9.19", MAK16), ("cup-ecb", MAK8), ("cup-ecb", MAK16)])
def test_sign_covers_mti_through_byte_before_f64(cup: Dialect, alg: str, key: bytes) -> None:
    body = cup.encode(purchase())
    signed = message.sign(cup, body, alg, key)
    # independent of the dialect: skip TPDU + header, stop before the 8 bytes of F64
    covered = body[TPDU_AND_HEADER:-8]
    assert covered[:2] == H("0200") and covered[2 + 7] & 0x01  # MTI first; bit 64 set in the bitmap
    assert signed[-8:] == mac.compute_mac(alg, key, covered)
    assert signed[:-8] == body[:-8]
    assert message.verify(cup, signed, alg, key)
    assert cup.decode(signed).fields["64"] == signed[-8:].hex().upper()


def test_changing_a_covered_field_breaks_the_mac(cup: Dialect) -> None:
    signed = message.sign(cup, cup.encode(purchase()), "x9.19", MAK16)
    msg = cup.decode(signed)
    msg.fields["4"] = "000000000200"
    tampered = cup.encode(msg)
    check = message.check(cup, tampered, "x9.19", MAK16)
    assert not check.ok and check.found == signed[-8:]


def test_tpdu_and_header_are_not_covered(cup: Dialect) -> None:
    signed = message.sign(cup, cup.encode(purchase()), "x9.9", MAK8)
    # the response TPDU swaps source and destination; the MAC must not care
    swapped = H("6000000581") + signed[5:]
    assert message.verify(cup, swapped, "x9.9", MAK8)


def test_message_without_f64_is_refused_by_the_dialect(cup: Dialect) -> None:
    msg = purchase()
    del msg.fields["64"]
    with pytest.raises(PossimError, match="field 64"):
        message.check(cup, cup.encode(msg), "x9.9", MAK8)


def test_cli_frame_computes_and_verifies_f64(cup: Dialect, capsys: pytest.CaptureFixture[str]) -> None:
    signed = message.sign(cup, cup.encode(purchase()), "cup-ecb", MAK8)
    framed = frame("len2", signed).hex().upper()
    assert framed[:4] == f"{len(signed):04X}"

    code = main(["crypto", "mac", "--alg", "cup-ecb", "--key", MAK8.hex(), "--frame", framed,
                 "--dialect", "cup-pos", "--framing", "len2"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert out.split()[0] == signed[-8:].hex().upper()

    code = main(["crypto", "mac", "--alg", "cup-ecb", "--key", MAK8.hex(), "--frame", framed,
                 "--dialect", "cup-pos", "--framing", "len2", "--verify"])
    out, _ = capsys.readouterr()
    assert code == 0 and out.startswith("F64 OK: " + signed[-8:].hex().upper())

    # the dialect's default framing (len2 for cup-pos) is used when --framing is left out
    code = main(["crypto", "mac", "--alg", "cup-ecb", "--key", MAK8.hex(), "--frame", framed, "--verify"])
    capsys.readouterr()
    assert code == 0


def test_cli_frame_verify_mismatch_exits_1_with_expected_and_found(cup: Dialect, capsys: pytest.CaptureFixture[str]) -> None:
    signed = message.sign(cup, cup.encode(purchase()), "x9.19", MAK16)
    bad = signed[:-1] + bytes([signed[-1] ^ 0xFF])
    code = main(["crypto", "mac", "--alg", "x9.19", "--key", MAK16.hex(), "--frame", frame("len2", bad).hex(),
                 "--framing", "len2", "--verify"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert out == f"F64 mismatch: expected {signed[-8:].hex().upper()}, found {bad[-8:].hex().upper()}\n"
    assert MAK16.hex().upper() not in out


def test_cli_frame_with_bare_message(cup: Dialect, capsys: pytest.CaptureFixture[str]) -> None:
    signed = message.sign(cup, cup.encode(purchase()), "x9.9", MAK8)
    code = main(["crypto", "mac", "--alg", "x9.9", "--key", MAK8.hex(), "--frame", signed.hex(),
                 "--framing", "none", "--verify"])
    capsys.readouterr()
    assert code == 0


def test_cli_frame_bad_length_prefix_is_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["crypto", "mac", "--alg", "x9.9", "--key", MAK8.hex(), "--frame", "00FF6005", "--framing", "len2"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("possim: ") and err.count("\n") == 1
