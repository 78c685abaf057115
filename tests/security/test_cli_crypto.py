"""``possim crypto`` end to end through the real dispatcher: output, exit codes, secrets kept out."""

import subprocess
import sys

import pytest

from possim.cli import main

PIK = "0123456789ABCDEFFEDCBA9876543210"
TMK1 = "0123456789ABCDEF"
FIPS113_DATA = b"7654321 Now is the time for ".hex().upper()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_mac_x99_fips113(capsys: pytest.CaptureFixture[str]) -> None:
    # FIPS PUB 113 example (see test_mac.py)
    code, out, err = run(capsys, "crypto", "mac", "--alg", "x9.9", "--key", TMK1, "--data", FIPS113_DATA)
    assert (code, out, err) == (0, "F1D30F6849312CA4\n", "")


def test_mac_cup_ecb_shows_ascii_too(capsys: pytest.CaptureFixture[str]) -> None:
    # solo123/pgate worked example (see test_mac.py)
    code, out, _ = run(capsys, "crypto", "mac", "--alg", "cup-ecb", "--key", "2222222222222222",
                       "--data", "1234567890ABCDEFABCDEF1234567890")
    assert code == 0 and out == '4532363742364532 ("E267B6E2")\n'


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["mac", "--alg", "x9.19", "--key", TMK1, "--data", "00"], "--key: expected 32 hex digits, got 16"),
        (["mac", "--alg", "x9.9", "--key", "0123", "--data", "00"], "--key: expected 16, 32 or 48 hex digits, got 4"),
        (["mac", "--alg", "x9.9", "--key", TMK1, "--data", "0G"], "--data: expected an even number of hex digits"),
        (["mac", "--alg", "x9.9", "--key", TMK1, "--data", "00", "--verify"], "go with --frame, not --data"),
        (["pinblock", "--pin", "12", "--pan", "4012345678909", "--key", PIK], "pin: expected 4 to 12 digits"),
        (["pinblock", "--pin", "1234", "--key", PIK], "pan: PIN block format 0 needs the card number"),
        (["pinblock", "--key", PIK], "--pin: required unless --decrypt is given"),
        (["kcv", "--key", "0123456789ABCDEF0"], "--key: expected 16, 32 or 48 hex digits, got 17"),
        (["unwrap", "--tmk", TMK1, "--field62", "00" * 24], "--mode: required with --field62"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "crypto", *argv)
    assert code == 2 and out == ""
    assert err.startswith("possim: ") and message in err and err.count("\n") == 1


def test_kcv(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "crypto", "kcv", "--key", PIK) == (0, "08D7B4FB\n", "")
    assert run(capsys, "crypto", "kcv", "--key", TMK1, "--length", "3") == (0, "D5D44F\n", "")


def test_pinblock_encipher_is_published_block_under_key(capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    code, out, err = run(capsys, "crypto", "pinblock", "--format", "iso0", "--pin", "1234",
                         "--pan", "4012345678909", "--key", PIK)
    assert code == 0 and err == ""
    # ANSI X9.24-1 A.4 clear block 041274EDCBA9876F, enciphered independently of possim.security.cipher:
    # straight through the library's 3DES with the double-length key written out as K1 K2 K1
    k1_k2 = bytes.fromhex(PIK)
    encryptor = Cipher(TripleDES(k1_k2 + k1_k2[:8]), modes.ECB()).encryptor()
    assert out.strip() == encryptor.update(bytes.fromhex("041274EDCBA9876F")).hex().upper()


@pytest.mark.parametrize("fmt", ["iso0", "iso1", "iso3"])
def test_pinblock_decrypt_masks_pin_unless_unmask(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    pan = "6212142000000000012"
    _, block, _ = run(capsys, "crypto", "pinblock", "--format", fmt, "--pin", "975310", "--pan", pan, "--key", PIK)
    block = block.strip()
    code, out, _ = run(capsys, "crypto", "pinblock", "--decrypt", block, "--pan", pan, "--key", PIK)
    assert code == 0 and "975310" not in out and "PIN length 6, PIN ******" in out
    code, out, _ = run(capsys, "--unmask", "crypto", "pinblock", "--decrypt", block, "--pan", pan, "--key", PIK)
    assert code == 0 and "PIN 975310" in out
    assert run(capsys, "crypto", "pinblock", "--decrypt", block, "--pan", pan, "--key", PIK, "--pin", "975310")[:2] \
        == (0, "PIN matches\n")
    assert run(capsys, "crypto", "pinblock", "--decrypt", block, "--pan", pan, "--key", PIK, "--pin", "975311")[:2] \
        == (1, "PIN does not match\n")


def test_unwrap_field62_checks_and_masks(capsys: pytest.CaptureFixture[str]) -> None:
    # all parts are published DES values (see test_keys.py): zero keys under TMK 0123456789ABCDEF
    f62 = "D5D44FF720683D0D8CA64DE9" * 2
    code, out, err = run(capsys, "crypto", "unwrap", "--tmk", TMK1, "--mode", "001", "--field62", f62)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "PIK  64-bit  kcv 8CA64DE9  check value OK",
        "MAK  64-bit  kcv 8CA64DE9  check value OK",
        "field 53 for these keys: 2000000000000000",
    ]
    assert TMK1 not in out and "0000000000000000 " not in out
    code, out, _ = run(capsys, "--unmask", "crypto", "unwrap", "--tmk", TMK1, "--mode", "001", "--field62", f62)
    assert "clear 0000000000000000" in out


def test_unwrap_bad_check_value_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    f62 = "D5D44FF720683D0D8CA64DE9" + "D5D44FF720683D0D8CA64DE8"
    code, out, err = run(capsys, "crypto", "unwrap", "--tmk", TMK1, "--mode", "001", "--field62", f62)
    assert code == 1 and out == ""
    assert "MAK: check value 8CA64DE8 does not match" in err


def test_no_command_ever_echoes_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    commands = [
        ["crypto", "mac", "--alg", "x9.19", "--key", PIK, "--data", "00112233"],
        ["crypto", "kcv", "--key", PIK],
        ["crypto", "pinblock", "--pin", "1234", "--pan", "4012345678909", "--key", PIK],
        ["crypto", "unwrap", "--tmk", PIK, "--key", PIK],
        ["crypto", "mac", "--alg", "x9.19", "--key", PIK[:-1] + "Z", "--data", "00"],
    ]
    for argv in commands:
        _, out, err = run(capsys, *argv)
        assert PIK not in out + err and PIK[:-1] not in out + err and PIK.lower() not in out + err


def test_console_entry_runs_as_a_process() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from possim.cli import main; sys.exit(main())",
         "crypto", "kcv", "--key", TMK1],
        capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "D5D44FF7\n", "")


def test_unwrap_single_key_with_and_without_check(capsys: pytest.CaptureFixture[str]) -> None:
    # DES_0123456789ABCDEF(00..00) = D5D44FF720683D0D, so it unwraps to the zero key, KCV 8CA64DE9
    assert run(capsys, "crypto", "unwrap", "--tmk", TMK1, "--key", "D5D44FF720683D0D") == \
        (0, "KEY  64-bit  kcv 8CA64DE9\n", "")
    code, out, err = run(capsys, "crypto", "unwrap", "--tmk", TMK1, "--key", "D5D44FF720683D0D", "--check", "8CA64DE0")
    assert code == 1 and out == ""
    assert err == "possim: --key: check value 8CA64DE0 does not match the decrypted key (8CA64DE9); wrong TMK?\n"
