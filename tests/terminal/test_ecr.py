"""The ECR protocol file, its TLV codec, and the link over a real pty pair (NAK and resend included)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from possim.link.events import Frame
from possim.link.framing import frame, get_framer, lrc
from possim.terminal.ecr import EcrClient, EcrError, EcrProtocol, EcrServer, get_protocol
from possim.terminal.ecr.protocol import protocol_files
from possim.transport import FdTransport, FramedConnection, open_pty_pair, open_url

from .conftest import run

PROTOCOL = get_protocol("ecr-possim")


def test_the_protocol_file_ships_and_loads() -> None:
    assert "ecr-possim" in protocol_files()
    assert PROTOCOL.framing == "stx" and PROTOCOL.commands["sale"].code == "01"
    assert PROTOCOL.by_name["amount"].type == "bcd"


def test_tlv_bytes_are_exact() -> None:
    data = PROTOCOL.encode({"command": "01", "amount": 1234, "pin": "123456"})
    # tag 0001, BCD length 0002, "01"; tag 0002, length 0006, amount n12 as packed BCD; tag 0104 ...
    assert data.hex().upper() == ("0001" "0002" "3031"
                                  "0002" "0006" "000000001234"
                                  "0104" "0006" "313233343536")
    assert PROTOCOL.decode(data) == {"command": "01", "amount": 1234, "pin": "123456"}
    text = PROTOCOL.encode({"message": "交易成功"})
    assert text[2:4] == b"\x00\x08" and PROTOCOL.decode(text) == {"message": "交易成功"}


def test_malformed_data_is_refused_with_a_reason() -> None:
    good = PROTOCOL.encode({"command": "01"})
    with pytest.raises(EcrError, match="malformed TLV"):
        PROTOCOL.decode(good + b"\x00")
    with pytest.raises(EcrError, match="BCD"):
        PROTOCOL.decode(bytes.fromhex("0002" "0006" "00000000123A"))
    with pytest.raises(EcrError, match="expected digits"):
        PROTOCOL.encode({"voucher_no": "12a"})
    assert PROTOCOL.decode(bytes.fromhex("7F7F" "0001" "AA")) == {"7F7F": "AA"}  # a vendor tag we do not know


def test_secrets_are_hidden_in_descriptions() -> None:
    shown = PROTOCOL.describe({"card_track2": "6222021234567890123=30122201234500000", "pin": "123456",
                               "card_pan": "6222021234567890123"})
    assert "6222021234567890123" not in str(shown) and "123456" not in str(shown)


def test_protocol_file_errors_name_the_entry(tmp_path: Path) -> None:
    with pytest.raises(EcrError, match="tag 0001: type must be one of"):
        EcrProtocol({"tags": {"0001": {"name": "command", "type": "zz"}}})
    with pytest.raises(EcrError, match="'result_code' is required"):
        EcrProtocol({"tags": {"0001": {"name": "command", "type": "an"}}})
    vendor = tmp_path / "vendor.yaml"
    vendor.write_text("tags: {'01': {name: command, type: an}, '02': {name: result_code, type: an}}\n"
                      "tlv: {tag_bytes: 1}\ncommands: {sale: {code: 'S', function: purchase, card: required}}\n",
                      encoding="utf-8")
    loaded = get_protocol(str(vendor))
    assert loaded.encode({"command": "S"}) == b"\x01\x00\x01S"


async def read_frame(line: FdTransport, *, ack_first: bool) -> bytes:
    framer = get_framer("stx")
    data = b""
    if ack_first:
        assert await line.read(1) == b"\x06"
    for _ in range(100):
        data += await line.read(4096)
        frames = [e for e in framer.feed(data) if isinstance(e, Frame)]
        data = b""
        if frames:
            return frames[0].payload
    raise AssertionError("no frame")


def test_server_and_till_over_a_pty_with_a_nak_and_resend(tmp_path: Path, open_terminal) -> None:  # type: ignore[no-untyped-def]
    master, slave, path = open_pty_pair()

    async def scenario() -> None:
        terminal = open_terminal("tcp://127.0.0.1:1")  # local functions only: no host is needed
        server = EcrServer(terminal, PROTOCOL)
        serving = asyncio.ensure_future(server.serve(await open_url(path)))
        till_line = FdTransport(master, "till", on_close=lambda: None)
        # a command whose LRC was hit by line noise: the terminal NAKs it
        command = PROTOCOL.encode({"command": "10"})
        damaged = bytearray(frame("stx", command))
        damaged[-1] ^= 0xFF
        await till_line.write(bytes(damaged))
        assert await till_line.read(1) == b"\x15"
        # the command sent again intact: ACKed, answered; the till NAKs the answer once and gets it again
        await till_line.write(frame("stx", command))
        first = await read_frame(till_line, ack_first=True)
        await till_line.write(b"\x15")
        again = await read_frame(till_line, ack_first=False)
        await till_line.write(b"\x06")
        assert first == again and PROTOCOL.decode(first)["result_code"] == "00"
        conn = FramedConnection(till_line, "stx", ack_timeout=1.0)
        till = EcrClient(conn, PROTOCOL)
        status = await till.call("status", timeout=10)
        assert status.approved and status["terminal_status"] == "active" and status["local"] == "1"
        unknown = PROTOCOL.encode({"command": "99"})
        await conn.send_frame(unknown)
        reply = PROTOCOL.decode(await conn.recv_frame())
        assert reply["result_code"] == "E1"
        blank_sale = await till.call("sale", amount=100, timeout=10)
        assert blank_sale.code == "E2"
        records = await till.call("reprint", timeout=10)
        assert records.code == "25"  # nothing printed yet
        await conn.close()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await terminal.close()

    try:
        run(scenario())
    finally:
        os.close(master)
        os.close(slave)


def test_lrc_matches_the_link_definition() -> None:
    data = PROTOCOL.encode({"command": "05"})
    framed = frame("stx", data)
    assert framed[0] == 0x02 and framed[-2] == 0x03 and framed[-1] == lrc(framed[1:-1])
