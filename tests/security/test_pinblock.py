"""ISO 9564-1 PIN blocks: published format-0 vectors, structure of formats 1 and 3, host-side checks."""

import itertools

import pytest
from hypothesis import given, strategies as st

from possim.errors import PossimError
from possim.security import cipher, pinblock
from possim.security.pinblock import PinBlockError

H = bytes.fromhex
PIK1 = H("0123456789ABCDEF")
PIK2 = H("0123456789ABCDEFFEDCBA9876543210")


def counting_bytes(start: int = 0):
    """A deterministic stand-in for os.urandom: 00 01 02 ... from ``start``."""
    counter = itertools.count(start)

    def random_bytes(n: int) -> bytes:
        return bytes(next(counter) % 256 for _ in range(n))

    return random_bytes


def test_format0_ansi_x9_24_example() -> None:
    # ANSI X9.24-1:2009 A.4 (DUKPT test data): PIN 1234, PAN 4012345678909 ->
    # clear PIN block 041274EDCBA9876F; as used in openemv/pinblock test/pinblock_format0_test.c.
    assert pinblock.build(0, "1234", "4012345678909") == H("041274EDCBA9876F")


def test_format0_eftlab_example() -> None:
    # EFTlab "Complete list of PIN blocks", ISO-0 example: PIN 1234, PAN 43219876543210987
    # -> 0412AC89ABCDEF67.
    assert pinblock.build(0, "1234", "43219876543210987") == H("0412AC89ABCDEF67")


def test_format0_decode_of_published_block_and_wrong_pan_rejected() -> None:
    # Same X9.24-1 block; openemv/pinblock also checks that PAN 4022345678909 does not decode it.
    decoded = pinblock.parse(H("041274EDCBA9876F"), "4012345678909")
    assert (decoded.format, decoded.pin) == (0, "1234")
    with pytest.raises(PinBlockError):
        pinblock.parse(H("041274EDCBA9876F"), "4022345678909")


def test_account_field_uses_twelve_digits_before_check_digit() -> None:
    assert pinblock.account_field("6212142000000000012") == H("0000200000000001")
    assert pinblock.account_field("123456") == H("0000000000012345")


def test_format1_structure_and_round_trip() -> None:
    block = pinblock.build(1, "12345", random_bytes=counting_bytes(0))
    digits = block.hex().upper()
    assert digits[:7] == "1512345"
    # fill is taken in order from the random source: bytes 00..08 -> digits 0..8
    assert digits[7:] == "012345678"
    assert pinblock.parse(block).pin == "12345"


def test_format3_fill_is_a_to_f_and_round_trip() -> None:
    pan = "4012345678909"
    block = pinblock.build(3, "12345", pan, random_bytes=counting_bytes(0))
    clear = cipher.xor(block, pinblock.account_field(pan)).hex().upper()
    assert clear[:7] == "3512345"
    assert set(clear[7:]) <= set("ABCDEF")
    assert clear[7:] == "ABCDEFABC"  # bytes 00..08 map to A..F in turn
    # openemv/pinblock test/pinblock_format3_test.c: first two bytes for PIN 12345, PAN 4012345678909 are 35 12
    assert block[:2] == H("3512")
    assert pinblock.parse(block, pan).pin == "12345"


def test_fill_rejects_bytes_that_would_bias_digits() -> None:
    # 252..255 would over-weight A..D in format 3 fill; they are skipped
    block = pinblock.pin_field(3, "1234", counting_bytes(252))
    assert block.hex().upper() == "341234" + "ABCDEFABCD"


def test_random_formats_need_a_random_source() -> None:
    with pytest.raises(ValueError, match="format 3 needs random fill"):
        pinblock.build(3, "1234", "4012345678909")


def test_same_random_source_same_block() -> None:
    a = pinblock.build(3, "9876", "4012345678909", counting_bytes(7))
    b = pinblock.build(3, "9876", "4012345678909", counting_bytes(7))
    c = pinblock.build(3, "9876", "4012345678909", counting_bytes(8))
    assert a == b and a != c


@pytest.mark.parametrize("pik", [PIK1, PIK2], ids=["single", "double"])
@pytest.mark.parametrize("fmt", [0, 1, 3])
def test_encipher_decipher_verify(pik: bytes, fmt: int) -> None:
    pan = "6212142000000000012"
    enc = pinblock.encipher(fmt, "123456", pan, pik, counting_bytes(3))
    assert enc != pinblock.build(fmt, "123456", pan, counting_bytes(3))
    assert cipher.decrypt_ecb(pik, enc) == pinblock.build(fmt, "123456", pan, counting_bytes(3))
    assert pinblock.decipher(enc, pan, pik).pin == "123456"
    assert pinblock.verify(enc, pan, pik, "123456")
    assert not pinblock.verify(enc, pan, pik, "654321")


def test_verify_with_wrong_key_is_false_not_an_exception() -> None:
    enc = pinblock.encipher(0, "1234", "4012345678909", PIK2)
    assert not pinblock.verify(enc, "4012345678909", H("FEDCBA98765432100123456789ABCDEF"), "1234")


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4", ""])
def test_bad_pin(pin: str) -> None:
    with pytest.raises(PossimError, match="pin: expected 4 to 12 digits"):
        pinblock.build(0, pin, "4012345678909")


def test_bad_pan() -> None:
    with pytest.raises(PossimError, match="pan: expected 2 to 19 digits"):
        pinblock.build(0, "1234", "4012-3456")


def test_decoded_repr_hides_pin() -> None:
    decoded = pinblock.parse(H("041274EDCBA9876F"), "4012345678909")
    assert "1234" not in repr(decoded) and "1234" not in str(decoded)


@given(pin=st.text("0123456789", min_size=4, max_size=12), pan=st.text("0123456789", min_size=13, max_size=19),
       fmt=st.sampled_from([0, 1, 3]), seed=st.integers(0, 255))
def test_round_trip_any_pin_and_pan(pin: str, pan: str, fmt: int, seed: int) -> None:
    block = pinblock.build(fmt, pin, pan, counting_bytes(seed))
    assert pinblock.parse(block, pan) == pinblock.DecodedPinBlock(fmt, pin)
