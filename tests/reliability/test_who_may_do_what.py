"""Who may do what, one test per rule, at the wire level (real HostServer on loopback, real SQLite).

1. a MAC on every financial and lifecycle message (absent or wrong: A0, and nothing changes);
2. key check values verified (the host's field 62 checks out only under the terminal's own TMK,
   and a possim terminal shown a wrong check value installs nothing);
3. a terminal acts only for its own merchant (TID/MID binding: 03; another terminal's sale: 25);
4. return-case steps only on one's own cases (another merchant's case: 03, and it is untouched);
5. unbound, deregistered and unknown terminals are refused (58 / 97 / 97);
6. the host listens on loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from possim.host.config import load_config_text
from possim.host.example_config import EXAMPLE_CONFIG_YAML, example_config
from possim.host.management import build_tags
from possim.host.server import HostServer
from possim.host.settlement import BatchTotals, PartTotals
from possim.iso8583 import Message
from possim.security import keys
from possim.security.keys import KeyCheckError
from possim.terminal.functions import Terminal as PosTerminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal
from possim.transport import serve_url

from tests.host.conftest import (  # noqa: F401  (clock, env and signed_in are fixtures)
    CUP, DEBIT, MID, OTHER_MID, START, TID, TID2, TID_UNBOUND, TMK, Env, HostThread, Terminal, clock, env, signed_in,
)
from tests.terminal.hosting import terminal_config

from .faultproxy import FaultProxy

EASY_TID, EASY_TMK = "73782214", bytes.fromhex("258FB0AB70D025CDB99DF2C4D302D646")
APPLICATION = {"RR": "店铺停业，退还终端", "RC": "张三 13800000000", "RI": "ID-1", "RP": "INV-1"}


def _state(env: Env) -> tuple:
    """Everything a refused request must leave alone."""
    with env.db() as conn:
        return (conn.execute("SELECT COUNT(*), COALESCE(SUM(balance_effect), 0) FROM ledger_txns "
                             "WHERE response_code = '00'").fetchone(),
                conn.execute("SELECT SUM(balance_fen) FROM accounts").fetchone(),
                conn.execute("SELECT id, state FROM return_cases ORDER BY id").fetchall(),
                conn.execute("SELECT tid, state FROM terminals ORDER BY tid").fetchall())


# --- 1. MAC ------------------------------------------------------------------------------------

def _requests(term: Terminal, original: Message) -> dict[str, tuple[str, dict[str, str]]]:
    card = term.card_fields(DEBIT, 500, None)
    batch = term.batch
    totals = BatchTotals(PartTotals(1000, 1, 0, 0)).field48()
    requests = {
        "purchase": ("0200", {"3": "000000", **card, "60": "22" + batch + "000"}),
        "balance": ("0200", {"3": "310000", **term.card_fields(DEBIT, None, None), "60": "01" + batch + "000"}),
        "void": ("0200", {"3": "200000", **term.card_fields(DEBIT, 1000, None), "37": original["37"],
                          "38": original["38"], "60": "23" + batch + "000", "61": batch + original["11"]}),
        "refund": ("0220", {"3": "200000", **card, "37": original["37"], "60": "25" + batch + "000",
                            "61": batch + original["11"] + original["13"]}),
        "reversal": ("0400", {k: original.fields[k] for k in ("2", "3", "4", "14", "22", "25", "49")}
                     | {"39": "98", "60": original["60"][:8] + "000", "61": batch + original["11"]}),
        "settlement": ("0500", {"48": totals, "49": "156", "60": "00" + batch + "201", "63": "001"}),
        "batch upload": ("0320", {"48": "01" + "19" + DEBIT + "000000001000" + original["11"],
                                  "60": "00" + batch + "201"}),
        "upload end": ("0320", {"48": "0001", "60": "00" + batch + "202"}),
    }
    for code in ("801", "802", "803", "804", "805", "806", "807"):
        tags = APPLICATION if code == "801" else {"CI": "1", "AS": "please"} if code == "803" else {"CI": "1"}
        requests[f"lifecycle {code}"] = ("0800", {"59": build_tags(tags), "60": "00" + batch + code})
    return requests


@pytest.mark.parametrize("how", ["absent", "wrong key", "one bit off"])
def test_mac_is_required_on_every_financial_and_lifecycle_message(env: Env, signed_in: Terminal, how: str) -> None:
    original = signed_in.purchase(DEBIT, 1000)
    assert original["39"] == "00"
    before = _state(env)
    for name, (mti, fields) in _requests(signed_in, original).items():
        msg = signed_in.build(mti, fields)
        if how == "absent":
            answer = signed_in.send(msg, sign=False)
        elif how == "wrong key":
            answer = signed_in.send(msg, mak=bytes.fromhex("FEDCBA98765432100123456789ABCDEF"))
        else:
            msg.fields["64"] = "00" * 8
            from possim.security import message
            body = bytearray(message.sign(CUP, CUP.encode(msg), "cup-ecb", signed_in.store.require("mak")))
            body[-1] ^= 0x01
            answer, _ = signed_in.exchange_body(bytes(body))
        assert answer["39"] == "A0", (name, answer["39"])
        assert "64" not in answer and answer.header[5] == "3", name  # no MAC back; "sign in again"
        assert signed_in.store.mak is not None  # (the test terminal keeps its keys to go on)
    assert _state(env) == before  # nothing refused changed anything


# --- 2. key check values ------------------------------------------------------------------------

def test_field62_check_values_verify_only_under_the_terminals_own_tmk(env: Env) -> None:
    term = env.terminal()
    answer = term.request("0800", {"60": "00000001003", "63": "001"}, sign=False)
    field62 = bytes.fromhex(answer["62"])
    working = keys.parse_field62("003", field62, TMK)  # every check value verifies
    assert working.mak is not None and working.pik is not None
    with pytest.raises(KeyCheckError, match="check value"):
        keys.parse_field62("003", field62, EASY_TMK)  # another terminal's TMK: refused, named


def _spoil_check_value(request: Message, answer: bytes) -> bytes:
    if request.mti != "0800":
        return answer
    msg = CUP.decode(answer)
    f62 = bytearray(bytes.fromhex(msg["62"]))
    f62[-1] ^= 0xFF  # the MAK's check value
    msg.fields["62"] = f62.hex().upper()
    return CUP.encode(msg)


def test_a_terminal_installs_no_key_whose_check_value_fails(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with HostServer(example_config(), tmp_path / "host.db", ["tcp://127.0.0.1:0"]) as host:
            proxy = FaultProxy(host.urls[0], rewrite=_spoil_check_value)
            term = PosTerminal(terminal_config(), Journal(tmp_path / "t.db"), HostLink(await proxy.start()))
            try:
                result = await term.sign_in()
                assert result.code == "96" and result.local and "check value" in result.detail
                assert not term.state.signed_in and term.state.keys().mak is None
                from possim.terminal.messages import Card
                sale = await term.purchase(100, Card(DEBIT, "3012"), None)
                assert sale.code == "22" and sale.local  # nothing goes out without keys
                assert proxy.counts == {"0800": 1}
            finally:
                await term.close()
                await proxy.close()
    asyncio.run(scenario())


# --- 3. TID/MID binding -------------------------------------------------------------------------

def test_a_terminal_acts_only_for_its_own_merchant(env: Env, signed_in: Terminal) -> None:
    signed_in.mid = OTHER_MID
    before = _state(env)
    assert signed_in.purchase(DEBIT, 1000)["39"] == "03"
    assert signed_in.balance(DEBIT)["39"] == "03"
    assert _state(env) == before
    signed_in.mid = MID
    sale = signed_in.purchase(DEBIT, 1000)
    assert sale["39"] == "00"

    thief = env.terminal(tid=TID2, mac_alg="x9.19")  # same merchant, another terminal
    assert thief.sign_in()["39"] == "00"
    thief.batch = signed_in.batch
    before = _state(env)
    assert thief.void(sale)["39"] == "25"  # a void of another terminal's sale
    assert _state(env) == before
    easy = env.terminal(tid=EASY_TID, mid=MID, tmk=EASY_TMK)  # a terminal of another merchant claiming ours
    assert easy.sign_in()["39"] == "03"


# --- 4. return cases ------------------------------------------------------------------------------

def test_return_case_steps_only_on_ones_own_case(env: Env, signed_in: Terminal) -> None:
    answer, tags = signed_in.manage("801", APPLICATION)
    assert answer["39"] == "00"
    case_id = tags["CI"]
    other = env.terminal(tid=EASY_TID, mid=OTHER_MID, tmk=EASY_TMK)
    assert other.sign_in()["39"] == "00"
    before = _state(env)
    for code, extra in (("802", {}), ("803", {"AS": "mine"}), ("804", {}), ("805", {}), ("806", {}), ("807", {})):
        refused, why = other.manage(code, {"CI": case_id, **extra})
        assert refused["39"] == "03", (code, refused["39"])
        assert why.get("DR"), code  # every refusal says why
    assert _state(env) == before
    assert signed_in.manage("802", {"CI": case_id})[0]["39"] == "00"  # the owner still can


# --- 5. unbound, deregistered, unknown ----------------------------------------------------------------

DEREGISTERED = "10000009"


def test_unbound_deregistered_and_unknown_terminals_are_refused(tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    text = EXAMPLE_CONFIG_YAML.replace(
        "terminals:\n", f'terminals:\n  - tid: "{DEREGISTERED}"\n    mid: "{MID}"\n    tmk: {TMK.hex()}\n'
                        "    state: deregistered\n", 1)
    host = HostThread(load_config_text(text, tmp_path, "test"), tmp_path / "host.db", clock).start()
    env = Env(clock, tmp_path / "host.db", example_config(), host, [])
    try:
        before = _state(env)
        for tid, code in ((TID_UNBOUND, "58"), (DEREGISTERED, "97"), ("99999999", "97")):
            term = env.terminal(tid=tid)
            assert term.sign_in()["39"] == code, tid
            term.store = keys.KeyStore(tid, TMK, pik=TMK, mak=TMK[:8], key_mode="003")  # keys it should not have
            assert term.purchase(DEBIT, 100)["39"] == code, tid
            assert term.balance(DEBIT)["39"] == code, tid
        assert _state(env) == before
    finally:
        for term in env.terminals:
            term.close()
        host.stop()


# --- 6. loopback ---------------------------------------------------------------------------------------

def test_the_host_listens_on_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    from possim.cli.host import DEFAULT_LISTEN

    assert DEFAULT_LISTEN.startswith("tcp://127.0.0.1:")

    async def scenario() -> None:
        async def nothing(transport) -> None:  # type: ignore[no-untyped-def]
            await transport.close()
        for url in ("tcp://:0", "tcp://127.0.0.1:0"):
            server = await serve_url(url, nothing)
            try:
                assert server.url.startswith("tcp://127.0.0.1:"), server.url
                addresses = {s.getsockname()[0] for s in server._server.sockets}  # type: ignore[attr-defined]
                assert addresses == {"127.0.0.1"}
            finally:
                await server.close()
        async with HostServer(example_config(), tmp_path / "host.db", ["tcp://:0"]) as host:
            assert host.urls[0].startswith("tcp://127.0.0.1:")
            port = int(host.urls[0].rsplit(":", 1)[1])
            other = _non_loopback_address()
            if other is not None:  # the same port on this machine's other address is not served
                with pytest.raises(OSError):
                    await asyncio.wait_for(asyncio.open_connection(other, port), 5)
    asyncio.run(scenario())


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent, the kernel only picks a source
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address

