"""Real CUP POS traffic with known keys: the key delivery and the MAC must verify.

Frames and keys are from yangyongzhen/Easy8583Ans @ 62fbbb41f49f3c4cb6f561485951ae8ca8371efb
(collected and checked in /work/notes/cup_frames.md, sections 2.1 and 2.3):
- the 0810 sign-in response is README.md:178 / My8583Ans.java:734; its TMK is in
  utils/DesUtil.java:118-121; README.md:228-266 prints the program's own result
  "pinkey:d931648f3de313a4a22c15dca4f4299e", "mackey:ab7c577cc7a18045...".
- the 0200 purchase and its MAK "313215FDA2C4AB4C" are My8583Ans.java:788-792.
"""

import pytest

from possim.cli import main
from possim.iso8583 import get_dialect
from possim.link import unframe
from possim.security import keys, message

H = bytes.fromhex

SIGN_IN_0810 = (
    "007960000001386131003111080810003800010AC0001450021122130107200800085500323231333031343931333239303039393939"
    "393930363030313433303137303131393939390011000005190030004046F161A743497B32EAC760DF5EA57DF5900ECCE3977731A7EA"
    "402DDF0000000000000000CFF1592A"
)
TMK = H("258FB0AB70D025CDB99DF2C4D302D646")

PURCHASE_0200 = (
    "0118600501000061310031110802007024068020C08211196210810840003424940000000000000000000100002027060720000100376210"
    "810840003424940D27062207001000100F373337383232313438393834313133343133313030313431353601649F2608ED1D6BA78357FB25"
    "9F2701809F101307010103A00000010A0100000000003B1637329F3704591D37169F360201C0950500000000009A031807119C01009F0206"
    "0000000000015F2A02015682027C009F1A0201569F03060000000000009F3303E0E1C89F34030200009F3501229F1E083030303030303030"
    "8408A0000003330101019F0902008C9F4104000000209F6310303130353030303000000000000000000013220007570006004237313333423537"
)
MAK = H("313215FDA2C4AB4C")


def test_sign_in_field62_decrypts_and_check_values_match() -> None:
    cup = get_dialect("cup-pos")
    msg = cup.decode(unframe("len2", H(SIGN_IN_0810)))
    assert msg.mti == "0810" and msg.get("60.3") == "003"
    got = keys.parse_field62("003", H(msg.fields["62"]), TMK)
    # the program output printed in the source README
    assert got.pik == H("D931648F3DE313A4A22C15DCA4F4299E")
    # a single-length MAK in the double-length slot (second encrypted half is zero)
    assert got.mak == H("AB7C577CC7A18045")


def test_sign_in_with_wrong_tmk_fails_on_check_value() -> None:
    f62 = get_dialect("cup-pos").decode(unframe("len2", H(SIGN_IN_0810))).fields["62"]
    with pytest.raises(keys.KeyCheckError, match="^PIK: check value 900ECCE3"):
        keys.parse_field62("003", H(f62), H("31" * 16))  # the repo's default mainKey, which is not the TMK


def test_rebuilding_field62_the_way_the_host_did_gives_the_same_bytes() -> None:
    f62 = get_dialect("cup-pos").decode(unframe("len2", H(SIGN_IN_0810))).fields["62"]
    delivered = keys.parse_field62("003", H(f62), TMK)
    assert keys.build_field62("003", TMK, delivered) == H(f62)


def test_purchase_mac_verifies_with_cup_ecb() -> None:
    cup = get_dialect("cup-pos")
    body = unframe("len2", H(PURCHASE_0200))
    check = message.check(cup, body, "cup-ecb", MAK)
    assert check.found == b"B7133B57"
    assert check.ok
    # and it is not X9.9 (the notes' finding that CUP POS hosts use the ECB algorithm)
    assert not message.verify(cup, body, "x9.9", MAK)


def test_cli_verifies_the_real_purchase(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["crypto", "mac", "--frame", PURCHASE_0200, "--dialect", "cup-pos", "--framing", "len2",
                 "--alg", "cup-ecb", "--key", MAK.hex(), "--verify"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (0, 'F64 OK: 4237313333423537 ("B7133B57")\n', "")

    code = main(["crypto", "mac", "--frame", PURCHASE_0200, "--dialect", "cup-pos", "--framing", "len2",
                 "--alg", "x9.9", "--key", MAK.hex(), "--verify"])
    out, _ = capsys.readouterr()
    assert code == 1 and out.startswith("F64 mismatch: expected ") and out.endswith(", found 4237313333423537\n")


def test_cli_unwraps_the_real_field62(capsys: pytest.CaptureFixture[str]) -> None:
    f62 = get_dialect("cup-pos").decode(unframe("len2", H(SIGN_IN_0810))).fields["62"]
    code = main(["crypto", "unwrap", "--tmk", TMK.hex(), "--mode", "003", "--field62", f62])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines() == [
        "PIK  128-bit  kcv 900ECCE3  check value OK",
        "MAK  64-bit  kcv CFF1592A  check value OK",
        "field 53 for these keys: 2600000000000000",
    ]


@pytest.mark.parametrize(
    ("encrypted", "check"),
    [("6F01391A6BA24F40", "1033F8BD"), ("90FA9C9089E81A90", "2A4D1BB8")],
    ids=["pik", "mak"],
)
def test_ccb_working_keys_check_under_single_length_master(encrypted: str, check: str) -> None:
    # A CCB acquirer's MAC utility (calcMacCCB / calcPinCheckValue, cup_frames.md section 2.7) lists
    # "MASTER KEY: 133E07D9193E0EFD", "PIN: 6F01391A6BA24F40 1033F8BD", "MAC: 90FA9C9089E81A90 2A4D1BB8".
    assert len(keys.unwrap_checked(H("133E07D9193E0EFD"), H(encrypted), H(check))) == 8
