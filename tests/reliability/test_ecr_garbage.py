"""The terminal's ECR port stays up and keeps serving after garbage on its serial line.

`possim terminal --ecr <pty>` as a real child process, its host the real host simulator on loopback; the test
plays a cash register on the other end of a real pty pair: noise, a frame with a bad LRC, a frame whose
length promises more than comes (abandoned by the link's frame timer), an oversized length, a well-framed
command whose data is not TLV, and an unknown command. Then a sign-in and a sale must work as usual.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
from pathlib import Path

from possim.link.events import ACK, Frame
from possim.link.framing import Framer, frame, get_framer
from possim.terminal.ecr import EcrClient, get_protocol
from possim.transport import FdTransport, FramedConnection, open_pty_pair
from tests.terminal.conftest import run
from tests.terminal.hosting import DEBIT_PIN, DEBIT_TRACK2, real_host
from tests.terminal.processes import start_terminal

PROTOCOL = get_protocol("ecr-possim")


def _drain(fd: int, framer: Framer) -> bytes:
    """What the terminal wrote back so far (ACKs, NAKs, error results), ACKing each result as a till does."""
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        out += chunk
        for event in framer.feed(chunk):
            if isinstance(event, Frame):
                os.write(fd, bytes([ACK]))
    return out


def test_ecr_port_survives_garbage_and_serves_a_sale(tmp_path: Path) -> None:
    master, slave, path = open_pty_pair()
    bad_lrc = bytearray(frame("stx", PROTOCOL.encode({"command": "08"})))
    bad_lrc[-1] ^= 0xFF
    not_tlv = frame("stx", b"\x00\x01\x99")  # a tag whose length runs past the data
    unknown = frame("stx", PROTOCOL.encode({"command": "77"}))
    truncated = b"\x02\x00\x50" + b"A" * 10  # promises 50 bytes, sends 10
    oversized = b"\x02\x99\x99" + b"B" * 20

    async def scenario() -> None:
        async with real_host(tmp_path) as host:
            proc = await start_terminal(host.urls[0], tmp_path / "terminal.db", "--ecr", path)
            try:
                await _exercise(proc)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()

    async def _exercise(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).decode().strip() == f"possim terminal ecr on {path}"
        answers, framer = b"", get_framer("stx")
        for garbage in (b"\xff\x00noise\x15\x06", bytes(bad_lrc), not_tlv, unknown, truncated):
            os.write(master, garbage)
            await asyncio.sleep(0.3)
            answers += await asyncio.to_thread(_drain, master, framer)
        await asyncio.sleep(1.5)  # longer than the link's frame timer: the truncated frame is dropped
        os.write(master, oversized)
        await asyncio.sleep(1.5)
        answers += await asyncio.to_thread(_drain, master, framer)
        assert b"\x15" in answers  # the bad LRC was NAKed
        results = [PROTOCOL.decode(e.payload) for e in get_framer("stx").feed(answers) if isinstance(e, Frame)]
        assert [r["result_code"] for r in results] == ["E2", "E1"]  # not TLV; unknown command
        assert proc.returncode is None  # still running
        conn = FramedConnection(FdTransport(master, "till", on_close=lambda: None), "stx",
                                ack_timeout=PROTOCOL.ack_timeout, max_retries=PROTOCOL.max_retries)
        till = EcrClient(conn, PROTOCOL)
        signed = await till.call("sign_in", timeout=30)
        assert signed.approved, signed.values
        sale = await till.call("sale", amount=1500, card_track2=DEBIT_TRACK2, pin=DEBIT_PIN, timeout=30)
        assert sale.approved and sale["amount"] == 1500, sale.values
        await conn.close()
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0
    try:
        run(scenario())
    finally:
        os.close(master)
        os.close(slave)
