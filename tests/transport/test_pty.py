"""The link over real pseudo-terminal pairs, the slave side opened through pyserial.

The master side plays the other device (a cash register, a terminal) with the
sans-IO :class:`StxLink`, or with raw bytes when the test needs to misbehave.
"""

from __future__ import annotations

import asyncio
import os
import termios

import serial

from possim.link.events import ACK, NAK, Frame, FrameError, KeepAlive, Noise, Retrying
from possim.link.framing import frame, get_framer
from possim.link.stxlink import StxLink
from possim.transport import (
    ConnectionClosed,
    FdTransport,
    FrameNotAcknowledged,
    FramedConnection,
    open_url,
)

from .conftest import run


def master_side(fd: int) -> FdTransport:
    """The master end as a transport that leaves closing the fd to the fixture."""
    return FdTransport(fd, "pty-master", on_close=lambda: None)


async def read_until(transport: FdTransport, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = await transport.read(4096)
        assert chunk, "line closed early"
        data += chunk
    return data


def test_pyserial_opens_the_slave_in_raw_mode(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair

    async def body() -> None:
        transport = await open_url(f"serial://{path}?baudrate=115200&parity=N")
        try:
            port = transport.port  # type: ignore[attr-defined]
            assert isinstance(port, serial.Serial) and port.baudrate == 115200
            lflag = termios.tcgetattr(transport.fd)[3]  # type: ignore[attr-defined]
            assert not lflag & (termios.ICANON | termios.ECHO)
        finally:
            await transport.close()

    run(body())


def test_len2_frames_split_and_byte_at_a_time(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    payloads = [b"\x60\x05\x81\x00\x00" + bytes(range(40)), b"B" * 300, b"C"]
    stream = b"".join(frame("len2", p) for p in payloads)

    async def body() -> None:
        conn = FramedConnection(await open_url(path), "len2")
        peer = master_side(master)
        try:
            # Split frames: odd-sized chunks that straddle frame boundaries.
            for start in range(0, len(stream), 7):
                await peer.write(stream[start:start + 7])
            assert [await conn.recv_frame() for _ in payloads] == payloads
            # Byte at a time, yielding between bytes so the reader sees them one by one.
            for byte in stream:
                await peer.write(bytes([byte]))
                await asyncio.sleep(0)
            assert [await conn.recv_frame() for _ in payloads] == payloads
            # And the other way: what possim writes arrives framed on the master side.
            await conn.send_frame(b"reply")
            assert await read_until(peer, 7) == frame("len2", b"reply")
        finally:
            await conn.close()

    run(body())


def test_stx_noise_nak_retry_and_ack(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    events: list = []

    async def body() -> None:
        pos = FramedConnection(await open_url(path), "stx", on_event=lambda e, link: events.append(e))
        ecr = master_side(master)
        try:
            good = frame("stx", b"SALE 000000000100")
            bad = bytearray(good)
            bad[-1] ^= 0x5A
            # Line noise, then a frame with a broken LRC: the terminal must NAK it.
            await ecr.write(b"\xff\xfe+++" + bytes(bad))
            assert await read_until(ecr, 1) == bytes([NAK])
            # The register resends it, byte at a time; the terminal ACKs and delivers it once.
            for byte in good:
                await ecr.write(bytes([byte]))
            assert await read_until(ecr, 1) == bytes([ACK])
            assert await pos.recv_frame() == b"SALE 000000000100"
        finally:
            await pos.close()

    run(body())
    assert Noise(b"\xff\xfe+++", 0) in events
    assert [e.kind for e in events if isinstance(e, FrameError)] == ["lrc"]


def test_stx_send_retries_on_nak_and_succeeds(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    events: list = []

    async def ecr_side(ecr: FdTransport) -> list[bytes]:
        """Refuse the first copy, accept the second: a real StxLink on the master side."""
        link = StxLink()
        loop = asyncio.get_running_loop()
        got: list[bytes] = []
        refused = False
        while not got:
            data = await ecr.read(4096)
            if not refused and data.startswith(b"\x02"):
                refused = True
                await ecr.write(bytes([NAK]))
                continue
            for event in link.receive_data(data, loop.time()):
                if isinstance(event, Frame):
                    got.append(event.payload)
            await ecr.write(link.data_to_send())
        return got

    async def body() -> None:
        pos = FramedConnection(await open_url(path), "stx", on_event=lambda e, link: events.append(e))
        try:
            peer = asyncio.create_task(ecr_side(master_side(master)))
            await pos.send_frame(b"APPROVED 00")  # returns once ACKed
            assert await peer == [b"APPROVED 00"]
        finally:
            await pos.close()

    run(body())
    assert [e for e in events if isinstance(e, Retrying)] == [Retrying(b"APPROVED 00", 2, "nak")]


def test_stx_retry_exhaustion_by_nak(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair

    async def body() -> int:
        pos = FramedConnection(await open_url(path), "stx", max_retries=3)
        ecr = master_side(master)
        copies = 0

        async def refuse_everything() -> None:
            nonlocal copies
            framer = get_framer("stx")
            while True:
                for event in framer.feed(await ecr.read(4096)):
                    if isinstance(event, Frame):
                        copies += 1
                        await ecr.write(bytes([NAK]))

        refuser = asyncio.create_task(refuse_everything())
        try:
            try:
                await pos.send_frame(b"VOID")
            except FrameNotAcknowledged as exc:
                assert "after 4 attempts (nak)" in str(exc)
            else:
                raise AssertionError("send_frame should have failed")
        finally:
            refuser.cancel()
            await asyncio.gather(refuser, return_exceptions=True)
            await pos.close()
        return copies

    assert run(body()) == 4


def test_stx_ack_timeout_when_the_peer_is_silent(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair

    async def body() -> bytes:
        pos = FramedConnection(await open_url(path), "stx", ack_timeout=0.05, max_retries=2)
        try:
            try:
                await pos.send_frame(b"QUERY")
            except FrameNotAcknowledged as exc:
                assert "after 3 attempts (timeout)" in str(exc)
            else:
                raise AssertionError("send_frame should have failed")
        finally:
            await pos.close()
        return await read_until(master_side(master), 3 * len(frame("stx", b"QUERY")))

    assert run(body()) == frame("stx", b"QUERY") * 3


def test_stx_keepalive_is_acked_not_echoed(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    events: list = []

    async def body() -> bytes:
        pos = FramedConnection(await open_url(path), "stx", on_event=lambda e, link: events.append(e))
        ecr = master_side(master)
        try:
            await ecr.write(frame("stx", b"") + frame("stx", b"after"))
            assert await pos.recv_frame() == b"after"
            return await read_until(ecr, 2)
        finally:
            await pos.close()

    assert run(body()) == bytes([ACK, ACK])
    assert [e for e in events if isinstance(e, KeepAlive)] == [KeepAlive(0)]


def test_hang_up_ends_the_connection(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair

    async def body() -> None:
        conn = FramedConnection(await open_url(path), "len2")
        try:
            os.write(master, frame("len2", b"last"))
            assert await conn.recv_frame() == b"last"
            os.close(master)  # the far end goes away
            try:
                await conn.recv_frame()
            except ConnectionClosed:
                pass
            else:
                raise AssertionError("expected ConnectionClosed")
        finally:
            await conn.close()

    run(body())


def test_spy_url_over_a_pty_logs_and_transfers(pty_pair: tuple[int, str], tmp_path) -> None:
    master, path = pty_pair
    log_file = tmp_path / "spy.txt"

    async def body() -> None:
        conn = FramedConnection(await open_url(f"spy://{path}?file={log_file}"), "len4")
        peer = master_side(master)
        try:
            await conn.send_frame(b"HELLO")
            assert await read_until(peer, 9) == b"0005HELLO"
            await peer.write(b"0003abc")
            assert await conn.recv_frame() == b"abc"
        finally:
            await conn.close()

    run(body())
    text = log_file.read_text()
    # spy's hexdump: the frame we sent as one TX line; what we received as RX line(s).
    assert "TX" in text and "0005HELLO" in text
    assert "RX" in text and "61 62 63" in text
