"""Key check values, key delivery under the TMK (CUP field 62) and the per-terminal key store."""

import itertools

import pytest

from possim.errors import PossimError
from possim.security import keys
from possim.security.keys import KeyCheckError, KeyStore, WorkingKeys

H = bytes.fromhex
TMK1 = H("0123456789ABCDEF")
TMK2 = H("0123456789ABCDEFFEDCBA9876543210")


def counting_bytes(start: int = 1):
    counter = itertools.count(start)
    return lambda n: bytes(next(counter) % 256 for _ in range(n))


@pytest.mark.parametrize(
    ("key", "check"),
    [
        # OpenSSL destest.c / mbedTLS "des_encrypt_openssl_test_vector": DES(0123456789ABCDEF, 0...0) = D5D44FF7...
        ("0123456789ABCDEF", "D5D44FF7"),
        # DES(0000000000000000, 0...0) = 8CA64DE9C1B123A7, same OpenSSL ECB table
        ("0000000000000000", "8CA64DE9"),
        # two-key TDEA EDE of zeros under 0123456789ABCDEF FEDCBA9876543210 = 08D7B4FB629D0885
        # (widely published; e.g. the QPOS SDK demo's setMasterKey KCV "08D7B4FB629D0885")
        ("0123456789ABCDEFFEDCBA9876543210", "08D7B4FB"),
        # mooronsi/MoorTools tests/MoorTools.Keys.UnitTests/KeyChecksumValueTests.cs (3-byte KCVs)
        ("CFC46B6B23196D85B5162F05465064BB", "38B7DF"),
        ("3D4585932F5922CEF93E729083B812E798C1F34C9113BD40", "FAAFB1"),
    ],
)
def test_published_check_values(key: str, check: str) -> None:
    assert keys.kcv(H(key), len(check) // 2) == H(check)


def test_kcv_default_is_four_bytes_as_cup_field62_uses() -> None:
    assert keys.kcv(TMK1) == H("D5D44FF7")


def test_wrap_unwrap() -> None:
    pik = H("89ABCDEF01234567FEDCBA9801234567")
    wrapped = keys.wrap(TMK2, pik)
    assert wrapped != pik and len(wrapped) == 16
    assert keys.unwrap(TMK2, wrapped) == pik


def test_field62_001_layout_from_published_des_values() -> None:
    # With TMK 0123456789ABCDEF and all-zero working keys, every part of field 62 is a
    # published DES value: DES_TMK(00..00) = D5D44FF720683D0D, KCV(00..00) = 8CA64DE9.
    zero = bytes(8)
    f62 = keys.build_field62("001", TMK1, WorkingKeys(pik=zero, mak=zero))
    assert f62 == H("D5D44FF720683D0D" "8CA64DE9" "D5D44FF720683D0D" "8CA64DE9")
    assert keys.parse_field62("001", f62, TMK1) == WorkingKeys(pik=zero, mak=zero)


@pytest.mark.parametrize(("mode", "size", "has_tdk"), [("001", 24, False), ("003", 40, False), ("004", 60, True)])
def test_field62_round_trip_per_mode(mode: str, size: int, has_tdk: bool) -> None:
    delivered = keys.generate_working_keys(mode, counting_bytes())
    f62 = keys.build_field62(mode, TMK2, delivered)
    assert len(f62) == size == keys.LAYOUTS[mode].size
    got = keys.parse_field62(mode, f62, TMK2)
    assert got == delivered
    assert (got.tdk is not None) == has_tdk
    # each check value in the field is the KCV of the clear key, right after its key
    step = keys.LAYOUTS[mode].key_length + 4
    for i, name in enumerate(keys.LAYOUTS[mode].keys):
        assert f62[i * step + step - 4:(i + 1) * step] == keys.kcv(getattr(got, name))


def test_field62_wrong_tmk_is_caught_by_check_value() -> None:
    f62 = keys.build_field62("003", TMK2, keys.generate_working_keys("003", counting_bytes()))
    with pytest.raises(KeyCheckError, match=r"PIK: check value [0-9A-F]{8} does not match .*wrong TMK\?"):
        keys.parse_field62("003", f62, H("FEDCBA98765432100123456789ABCDEF"))


def test_field62_tampered_mak_check_value_names_the_mak() -> None:
    f62 = bytearray(keys.build_field62("004", TMK2, keys.generate_working_keys("004", counting_bytes())))
    f62[39] ^= 0x01  # last byte of the MAK check value
    with pytest.raises(KeyCheckError, match="^MAK: check value"):
        keys.parse_field62("004", bytes(f62), TMK2)


def test_field62_wrong_length_for_mode() -> None:
    with pytest.raises(PossimError, match=r"field 62: 60.3 = 003 expects 40 bytes \(double-length PIK and MAK\), got 24"):
        keys.parse_field62("003", bytes(24), TMK2)


def test_unknown_mode() -> None:
    with pytest.raises(PossimError, match="60.3 key mode: expected one of 001, 003, 004, got '002'"):
        keys.layout("002")


def test_build_rejects_key_of_wrong_length_for_mode() -> None:
    with pytest.raises(PossimError, match="tdk: 60.3 = 004 needs a 16-byte key, got none"):
        keys.build_field62("004", TMK2, WorkingKeys(pik=bytes(16), mak=bytes(16)))


def test_generated_keys_have_odd_parity_and_distinct_halves() -> None:
    for key in (keys.generate_working_keys("004", counting_bytes(0)).pik,
                keys.generate_working_keys("003", lambda n: b"\x80" * (n // 2) + b"\x01" * (n - n // 2)).mak):
        assert all(bin(b).count("1") % 2 == 1 for b in key)
        assert key[:8] != key[8:]


def test_random_source_that_only_gives_degenerate_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="did not give a usable key"):
        keys.generate_working_keys("003", lambda n: bytes(n))


def test_key_store_sign_in_host_and_terminal_agree() -> None:
    terminal = KeyStore("12345678", tmk=TMK2)
    assert not terminal.signed_in
    host_side, f62 = KeyStore("12345678", tmk=TMK2).issue_field62("004", counting_bytes(9))
    terminal = terminal.apply_field62("004", f62)
    assert terminal.signed_in and terminal == host_side and terminal.key_mode == "004"
    assert terminal.require("tdk") == host_side.tdk


def test_key_store_never_shows_keys() -> None:
    store, _ = KeyStore("12345678", tmk=TMK2).issue_field62("004", counting_bytes(9))
    text = repr(store) + str(store) + repr(WorkingKeys(pik=store.pik, mak=store.mak, tdk=store.tdk))
    for key in (store.tmk, store.pik, store.mak, store.tdk):
        assert key.hex().upper() not in text and key.hex() not in text
    assert "kcv 08D7B4FB" in text  # what is shown is the check value


def test_key_store_require_before_sign_in() -> None:
    with pytest.raises(PossimError, match="terminal 12345678: no MAK \\(not signed in\\)"):
        KeyStore("12345678", tmk=TMK2).require("mak")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0123", "--key: expected 16, 32 or 48 hex digits, got 4"),
        ("0123456789ABCDEZ", "--key: expected 16, 32 or 48 hex digits, got 16 characters that are not all hex"),
    ],
)
def test_parse_hex_key_errors_name_option_and_do_not_echo(text: str, message: str) -> None:
    with pytest.raises(PossimError) as info:
        keys.parse_hex_key(text, "--key")
    assert str(info.value) == message
    assert text not in str(info.value)


def test_parse_hex_key_restricted_lengths() -> None:
    with pytest.raises(PossimError, match="--tmk: expected 16 or 32 hex digits, got 48"):
        keys.parse_hex_key("00" * 24, "--tmk", (8, 16))
    assert keys.parse_hex_key("01 23 45 67 89 AB CD EF", "--key") == TMK1


def test_single_length_mak_in_double_length_slot_as_real_hosts_send_it() -> None:
    # cup_frames.md 2.1/2.8/2.9/2.12: under 003 the MAK slot is enc(8-byte MAK) + 8 zero bytes + KCV(8-byte MAK)
    host, f62 = KeyStore("12345678", tmk=TMK2).issue_field62("003", counting_bytes(5), mak_length=8)
    assert len(f62) == 40 and f62[28:36] == bytes(8)
    assert f62[36:40] == keys.kcv(host.mak) and len(host.mak) == 8 and len(host.pik) == 16
    assert KeyStore("12345678", tmk=TMK2).apply_field62("003", f62) == host


def test_mak_length_must_fit_the_mode() -> None:
    with pytest.raises(PossimError, match="mak length: 60.3 = 001 allows 8 bytes, got 16"):
        keys.generate_working_keys("001", counting_bytes(), mak_length=16)
