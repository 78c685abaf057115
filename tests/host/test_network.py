"""Sign-in, sign-off, echo and parameter download over real loopback TCP.

Field 62 layouts and check values as in DOMAIN.md / docs/security.md (60.3 = 001 -> 24 bytes,
003 -> 40, 004 -> 60); the terminal side verifies every check value with possim.security.keys.
"""

from __future__ import annotations

import pytest

from possim.host.management import parse_tags
from possim.security import keys

from tests.host.conftest import CUP, DEBIT, MID, TID, TMK, Env, Terminal


@pytest.mark.parametrize("mode, size", [("001", 24), ("003", 40), ("004", 60)])
def test_sign_in_delivers_working_keys_under_the_tmk(env: Env, mode: str, size: int) -> None:
    term = env.terminal()
    response = term.sign_in(mode)
    assert response.mti == "0810" and response["39"] == "00"
    assert response.tpdu == "6000000003"  # 60 0003 0000 with destination and source swapped
    assert response["11"] == f"{term.stan:06d}" and response["41"] == TID and response["42"] == MID
    assert len(bytes.fromhex(response["62"])) == size
    assert response.get("60.3") == mode and response.get("60.2") == "000001"
    assert response["32"] == env.config.acquirer.institution_id and len(response["37"]) == 12
    assert "64" not in response  # sign-in carries no MAC
    # the keys decrypt under the TMK with matching check values (apply_field62 raises otherwise)
    assert term.store.signed_in and term.store.key_mode == mode
    if mode == "004":
        assert term.store.tdk is not None
    # and the host uses them: a MACed echo is answered with a MAC under the delivered MAK
    echo = term.request("0820", {"60": "00" + term.batch + "301"})
    assert echo["39"] == "00" and term.mac_ok()


def test_sign_in_with_a_wrong_tmk_gives_keys_the_terminal_rejects(env: Env) -> None:
    term = env.terminal(tmk=bytes.fromhex("11" * 16))
    with pytest.raises(keys.KeyCheckError):
        term.sign_in()


def test_echo_and_financial_before_sign_in_are_refused_22_with_sign_in_again(env: Env) -> None:
    term = env.terminal()
    response = term.request("0820", {"60": "00000001301"}, sign=False)
    assert response["39"] == "22"
    assert response.header[5] == "3"  # processing requirement: sign in again
    assert "64" not in response


def test_sign_off_ends_the_session(signed_in: Terminal) -> None:
    assert signed_in.purchase()["39"] == "00"
    off = signed_in.request("0820", {"60": "00" + signed_in.batch + "002"})
    assert off.mti == "0830" and off["39"] == "00" and signed_in.mac_ok()
    refused = signed_in.purchase()
    assert refused["39"] == "22" and refused.header[5] == "3"
    assert signed_in.sign_in()["39"] == "00"
    assert signed_in.purchase()["39"] == "00"


def test_parameter_download(signed_in: Terminal) -> None:
    response = signed_in.request("0800", {"60": "00" + signed_in.batch + "360"})
    assert response["39"] == "00" and signed_in.mac_ok()
    params = parse_tags(bytes.fromhex(response["62"]).decode("gb18030"))
    assert params["MN"] == "上海浦东测试便利店"
    assert params["AI"] == "48021000" and params["RW"] == "30" and params["HT"] == "20240601100000"


def test_unknown_network_management_code_is_40(signed_in: Terminal) -> None:
    assert signed_in.request("0800", {"60": "00" + signed_in.batch + "399"})["39"] == "40"
    assert signed_in.request("0820", {"60": "00" + signed_in.batch + "999"})["39"] == "40"


def test_a_restarted_host_keeps_its_terminals_signed_in(env: Env) -> None:
    term = env.terminal()
    term.sign_in()
    assert term.purchase()["39"] == "00"
    term.close()
    env.restart()
    again = env.terminal()
    again.store, again.stan, again.batch = term.store, term.stan, term.batch  # same keys, no new sign-in
    response = again.purchase()
    assert response["39"] == "00" and again.mac_ok()


def test_sign_in_answers_the_hosts_open_batch(env: Env) -> None:
    term = env.terminal()
    term.sign_in()
    term.batch = "000007"
    assert term.purchase()["39"] == "00"  # a new number opens batch 000007
    other = env.terminal()
    other.batch = "000001"
    assert other.sign_in().get("60.2") == "000007"
    term.close()
    other.close()


def test_undecodable_frame_is_skipped_and_the_connection_stays_open(signed_in: Terminal) -> None:
    from tests.host.conftest import send_frame

    send_frame(signed_in.sock, b"\x60\x00\x03\x00\x00\x60\x31\x00\x00\x00\x00\x02\x00\xff")
    response = signed_in.purchase(DEBIT)  # the next request on the same connection is answered
    assert response["39"] == "00"
    assert CUP.transaction_name(response) == "Purchase"
