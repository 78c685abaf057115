"""Field 53 (security control information) built and read consistently with the keys."""

import pytest

from possim.errors import PossimError
from possim.security import cipher, field53, pinblock

H = bytes.fromhex
PIK1 = H("0123456789ABCDEF")
PIK2 = H("0123456789ABCDEFFEDCBA9876543210")


def test_typical_double_length_value() -> None:
    # DOMAIN.md / CUP POS spec: "2600000000000000" = format 0 with PAN, double-length key, no track encryption
    assert field53.for_keys(PIK2).to_field() == "2600000000000000"
    assert field53.parse("2600000000000000") == field53.SecurityControl(True, True, False)


def test_single_length_and_track_encryption() -> None:
    assert field53.for_keys(PIK1).to_field() == "2000000000000000"
    assert field53.for_keys(PIK2, tdk=bytes(16), track_encrypted=True).to_field() == "2610000000000000"
    assert field53.for_keys(PIK2, pin_with_pan=False).to_field() == "1600000000000000"


def test_track_encryption_needs_tdk() -> None:
    with pytest.raises(PossimError, match="track encryption needs a TDK"):
        field53.for_keys(PIK2, track_encrypted=True)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("26000000", "expected 16 digits"),
        ("3600000000000000", "digit 1 \\(PIN format\\) must be 1 or 2, got 3"),
        ("2500000000000000", "digit 2 \\(key length\\) must be 0 or 6, got 5"),
        ("2620000000000000", "digit 3 \\(track encryption\\) must be 0 or 1, got 2"),
    ],
)
def test_parse_errors(value: str, message: str) -> None:
    with pytest.raises(PossimError, match=message):
        field53.parse(value)


def test_check_against_terminal_keys() -> None:
    assert field53.check("2600000000000000", PIK2).double_length
    with pytest.raises(PossimError, match="digit 2 says a 64-bit key but the terminal's PIK is 128-bit"):
        field53.check("2000000000000000", PIK2)
    with pytest.raises(PossimError, match="tracks are encrypted but the terminal has no TDK"):
        field53.check("2610000000000000", PIK2)


def test_pin_with_and_without_pan() -> None:
    pan = "4012345678909"
    with_pan = field53.parse("2600000000000000")
    without = field53.parse("1600000000000000")
    f52 = field53.encipher_pin(with_pan, "1234", pan, PIK2)
    # with the PAN it is the ANSI X9.24-1 A.4 format-0 block enciphered
    assert cipher.decrypt_ecb(PIK2, f52) == H("041274EDCBA9876F")
    f52_no_pan = field53.encipher_pin(without, "1234", pan, PIK2)
    # without the PAN it is the bare PIN field
    assert cipher.decrypt_ecb(PIK2, f52_no_pan) == pinblock.pin_field(0, "1234")
    assert field53.decipher_pin(with_pan, f52, pan, PIK2) == "1234"
    assert field53.decipher_pin(without, f52_no_pan, None, PIK2) == "1234"


def test_encipher_refuses_key_that_disagrees_with_field53() -> None:
    with pytest.raises(PossimError, match="says a 128-bit PIK, got 64-bit"):
        field53.encipher_pin(field53.parse("2600000000000000"), "1234", "4012345678909", PIK1)
