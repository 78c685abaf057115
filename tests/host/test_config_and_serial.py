"""Configuration errors name the key; the host serves a terminal on a serial port (a real pty pair)."""

from __future__ import annotations

import os
import select
import struct
from pathlib import Path

import pytest

from possim.cli import main
from possim.host.config import ConfigError, load_config_text
from possim.host.example_config import example_config
from possim.transport.pty import open_pty_pair

from tests.host.conftest import CUP, HANG_GUARD, MID, TID, Env, HostThread


@pytest.mark.parametrize("text, message", [
    ("merchants: [{mid: '898310048120001', name: x, deposit: 1}]", "merchants[0]: unknown key 'deposit'"),
    ("terminals: [{tid: '1234567', tmk: '00'}]", "terminals[0].tid"),
    ("terminals: [{tid: '12345678', mid: '898310048120001', tmk: 'XYZ'}]", "terminals[0].tmk"),
    ("terminals: [{tid: '12345678', mid: '898310048120001', tmk: 0123456789ABCDEF}]",
     "merchant 898310048120001 is not in merchants"),
    ("cards: [{pan: '6222021234567890123', expiry: '2413'}]", "cards[0].expiry"),
    ("cards: [{pan: '6222021234567890123', status: frozen}]", "cards[0].status"),
    ("defaults: {mac_algorithm: md5}", "defaults.mac_algorithm"),
    ("colour: blue", "unknown key 'colour'"),
])
def test_config_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config_text(text)


def test_config_error_never_shows_a_pan_or_tmk() -> None:
    with pytest.raises(ConfigError) as err:
        load_config_text("cards: [{pan: '6222021234567890123'}, {pan: '6222021234567890123'}]")
    assert "6222021234567890123" not in str(err.value) and "ending 0123" in str(err.value)


def test_example_config_loads_with_policy_and_fees() -> None:
    config = example_config()
    assert config.return_policy is not None and config.return_policy.name == "example-2024"
    assert set(config.fee_schedules) == {"standard"} and len(config.terminals) == 4
    assert "0123456789" not in repr(config.terminals[0])  # the TMK is not in the repr


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("colour: blue\n", encoding="utf-8")
    assert main(["host", "--config", str(bad), "--listen", "tcp://127.0.0.1:0", "--db",
                 str(tmp_path / "h.db")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown key 'colour'" in err
    assert main(["host", "--mak", "0123456789ABCDEF", "--db", str(tmp_path / "h.db")]) == 2
    assert "--mak and --mac-alg go together" in capsys.readouterr().err
    assert main(["host", "--db", str(tmp_path / "none.db"), "ledger"]) == 2


def test_host_serves_a_terminal_on_a_serial_port(tmp_path: Path, env: Env) -> None:
    master, slave, path = open_pty_pair()
    host = HostThread(example_config(), tmp_path / "serial.db", env.clock, listen=(path,)).start()
    try:
        msg = CUP.message("0800", {"11": "000001", "41": TID, "42": MID, "60": "00000001003", "63": "001"},
                          tpdu="6000030000", header="603100000000")
        body = CUP.encode(msg)
        os.write(master, struct.pack(">H", len(body)) + body)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
            ready, _, _ = select.select([master], [], [], HANG_GUARD)
            assert ready, "no answer on the serial line"
            data += os.read(master, 4096)
        response = CUP.decode(data[2:])
        assert response.mti == "0810" and response["39"] == "00" and len(bytes.fromhex(response["62"])) == 40
    finally:
        host.stop()
        os.close(master)
        os.close(slave)
