"""MAC algorithms against published vectors, and the properties that tie them together."""

import pytest
from hypothesis import given, strategies as st

from possim.errors import PossimError
from possim.security import mac
from possim.security.cipher import KeyLengthError

H = bytes.fromhex


def test_x99_fips113_example() -> None:
    # FIPS PUB 113 (Computer Data Authentication), appendix example, as carried in
    # Crypto++ validat3.cpp ("mac1 ... from FIPS 113"): key 0123456789ABCDEF,
    # data "7654321 Now is the time for " (28 bytes, zero-padded), MAC F1D30F6849312CA4.
    assert mac.x99(H("0123456789ABCDEF"), b"7654321 Now is the time for ") == H("F1D30F6849312CA4")


@pytest.mark.parametrize(
    ("data", "mac4"),
    [
        # ISO/IEC 9797-1:2011 Annex B.4, MAC algorithm 3 (= ANSI X9.19), padding method 1,
        # as used in openemv/crypto test/crypto_tdes2_retail_mac_test.c.
        (b"Now is the time for all ", "A1C72E74"),
        (b"Now is the time for it", "2E2B1428"),
    ],
)
def test_x919_iso9797_annex_b4(data: bytes, mac4: str) -> None:
    key = H("0123456789ABCDEFFEDCBA9876543210")
    assert mac.x919(key, data)[:4] == H(mac4)


def test_cup_ecb_worked_example() -> None:
    # Worked example of the CUP POS "ECB" MAC in solo123/pgate
    # test/integration/pos_mac_test.rb: MAB 1234567890ABCDEFABCDEF1234567890, MAK
    # 2222222222222222 -> XOR B9F9B96AA4FDB57F -> ... -> MAC "E267B6E2".
    got = mac.cup_ecb(H("2222222222222222"), H("1234567890ABCDEFABCDEF1234567890"))
    assert got == b"E267B6E2"


def test_cup_ecb_intermediate_step_from_same_example() -> None:
    # Same source: encrypting the first 8 hex characters "B9F9B96A" under the MAK gives
    # 9FDE90A34CF73B2E. Checks the hex expansion is uppercase ASCII, as CUP sends it.
    from possim.security import cipher

    assert cipher.encrypt_ecb(H("2222222222222222"), b"B9F9B96A") == H("9FDE90A34CF73B2E")


def test_x919_with_equal_halves_is_x99() -> None:
    # X9.19's final decrypt/encrypt cancels out when K1 == K2: the standard's
    # compatibility with single-length terminals.
    data = b"7654321 Now is the time for "
    assert mac.x919(H("0123456789ABCDEF0123456789ABCDEF"), data) == mac.x99(H("0123456789ABCDEF"), data)


def test_x99_double_length_key_with_equal_halves_is_single_des() -> None:
    data = b"7654321 Now is the time for "
    assert mac.x99(H("0123456789ABCDEF0123456789ABCDEF"), data) == H("F1D30F6849312CA4")


def test_x99_double_length_differs_from_single() -> None:
    data = b"7654321 Now is the time for "
    assert mac.x99(H("0123456789ABCDEFFEDCBA9876543210"), data) != mac.x99(H("0123456789ABCDEF"), data)


def test_cup_ecb_double_length_key_with_equal_halves_is_single() -> None:
    data = H("1234567890ABCDEFABCDEF1234567890")
    assert mac.cup_ecb(H("22222222222222222222222222222222"), data) == b"E267B6E2"


@given(st.binary(min_size=1, max_size=64).filter(lambda d: len(d) % 8))
def test_zero_padding_means_trailing_zero_is_invisible(data: bytes) -> None:
    # Zero padding (ISO 9797-1 method 1) cannot tell "data" from "data + 00" when
    # the length is not a block multiple; any algorithm here must agree.
    key8, key16 = H("0123456789ABCDEF"), H("0123456789ABCDEFFEDCBA9876543210")
    assert mac.x99(key8, data) == mac.x99(key8, data + b"\0")
    assert mac.x919(key16, data) == mac.x919(key16, data + b"\0")
    assert mac.cup_ecb(key8, data) == mac.cup_ecb(key8, data + b"\0")


@given(st.binary(min_size=0, max_size=64), st.integers(0, 63), st.integers(1, 255))
def test_flipping_any_covered_byte_changes_the_mac(data: bytes, pos: int, flip: int) -> None:
    if not data:
        return
    pos %= len(data)
    altered = bytearray(data)
    altered[pos] ^= flip
    key16 = H("0123456789ABCDEFFEDCBA9876543210")
    assert mac.x919(key16, data) != mac.x919(key16, bytes(altered))


def test_compute_mac_by_name() -> None:
    assert mac.compute_mac("x9.9", H("0123456789ABCDEF"), b"7654321 Now is the time for ") == H("F1D30F6849312CA4")
    assert mac.compute_mac("cup-ecb", H("2222222222222222"), H("1234567890ABCDEFABCDEF1234567890")) == b"E267B6E2"
    assert sorted(mac.ALGORITHMS) == ["cup-ecb", "x9.19", "x9.9"]


def test_unknown_algorithm_is_a_user_error() -> None:
    with pytest.raises(PossimError, match="mac algorithm: expected one of x9.9, x9.19, cup-ecb, got 'md5'"):
        mac.compute_mac("md5", H("0123456789ABCDEF"), b"")


@pytest.mark.parametrize(
    ("alg", "key_len", "message"),
    [
        ("x9.19", 8, "x9.19: key must be 32 hex digits, got 16"),
        ("x9.9", 7, "x9.9: key must be 16 or 32 or 48 hex digits, got 14"),
        ("cup-ecb", 12, "cup-ecb: key must be 16 or 32 or 48 hex digits, got 24"),
    ],
)
def test_wrong_key_length_names_algorithm_and_expectation(alg: str, key_len: int, message: str) -> None:
    with pytest.raises(KeyLengthError, match=message):
        mac.compute_mac(alg, bytes(range(1, key_len + 1)), b"data")
