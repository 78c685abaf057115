"""URL dispatch: pyserial's own URL forms, serial://, memory://, and bad URLs."""

from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest
import serial
import serial.rfc2217

from possim.transport import (
    ConnectionClosed,
    FramedConnection,
    SerialTransport,
    Transport,
    TransportError,
    open_url,
    parse_serial_url,
    serve_url,
)

from .conftest import run


async def echo_len2(transport: Transport) -> None:
    conn = FramedConnection(transport, "len2")
    try:
        while True:
            await conn.send_frame(await conn.recv_frame())
    except ConnectionClosed:
        pass
    finally:
        await conn.close()


def test_loop_url_echoes_through_pyserial() -> None:
    async def body() -> None:
        transport = await open_url("loop://")
        assert isinstance(transport, SerialTransport)  # no descriptor: the thread path
        conn = FramedConnection(transport, "bcd2")
        try:
            for n in range(20):
                await conn.send_frame(b"x" * n + b"!")
                assert await conn.recv_frame() == b"x" * n + b"!"
        finally:
            await conn.close()

    run(body())


def test_socket_url_reaches_a_possim_tcp_server() -> None:
    async def body() -> None:
        server = await serve_url("tcp://127.0.0.1:0", echo_len2)
        try:
            port = server.url.rsplit(":", 1)[1]
            conn = FramedConnection(await open_url(f"socket://127.0.0.1:{port}"), "len2")
            try:
                await conn.send_frame(b"via pyserial socket://")
                assert await conn.recv_frame() == b"via pyserial socket://"
            finally:
                await conn.close()
        finally:
            await server.close()

    run(body())


@pytest.fixture
def rfc2217_server() -> Iterator[int]:
    """A small RFC 2217 server (pyserial's PortManager) in front of a loop:// port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.settimeout(0.05)
        device = serial.serial_for_url("loop://", timeout=0.05)

        class Wrapped:
            def write(self, data: bytes) -> None:
                conn.sendall(data)

        manager = serial.rfc2217.PortManager(device, Wrapped())
        try:
            while not stop.is_set():
                try:
                    data = conn.recv(4096)
                    if not data:
                        break
                    device.write(b"".join(manager.filter(data)))
                except socket.timeout:
                    pass
                echoed = device.read(device.in_waiting)
                if echoed:
                    conn.sendall(b"".join(manager.escape(echoed)))
        except OSError:
            pass
        finally:
            device.close()
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    listener.close()
    thread.join(5)


def test_rfc2217_url(rfc2217_server: int) -> None:
    async def body() -> None:
        conn = FramedConnection(await open_url(f"rfc2217://127.0.0.1:{rfc2217_server}"), "len2")
        try:
            await conn.send_frame(b"\xff\x00 escaped IAC too")  # 0xFF must survive telnet escaping
            assert await conn.recv_frame() == b"\xff\x00 escaped IAC too"
        finally:
            await conn.close()

    run(body())


def test_memory_url_serves_in_process() -> None:
    async def body() -> None:
        server = await serve_url("memory://host", echo_len2)
        try:
            with pytest.raises(TransportError, match="already served"):
                await serve_url("memory://host", echo_len2)
            conn = FramedConnection(await open_url("memory://host"), "len2")
            await conn.send_frame(b"in process")
            assert await conn.recv_frame() == b"in process"
            await conn.close()
        finally:
            await server.close()
        with pytest.raises(TransportError, match="nothing is serving"):
            await open_url("memory://host")

    run(body())


def test_serial_url_parsing() -> None:
    assert parse_serial_url("serial:///dev/ttyUSB0?baudrate=115200&parity=E&stopbits=1&rtscts=1") == (
        "/dev/ttyUSB0", {"baudrate": 115200, "parity": "E", "stopbits": 1, "rtscts": True})
    assert parse_serial_url("serial:///dev/ttyS1") == ("/dev/ttyS1", {})
    with pytest.raises(TransportError, match="unknown serial setting 'speed'"):
        parse_serial_url("serial:///dev/ttyS1?speed=9600")
    with pytest.raises(TransportError, match="baudrate='fast' is not a valid value"):
        parse_serial_url("serial:///dev/ttyS1?baudrate=fast")
    with pytest.raises(TransportError, match="expected a device path"):
        parse_serial_url("serial://")


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://example", "unknown link URL scheme 'http'"),
        ("tcp://127.0.0.1", "expected tcp://HOST:PORT"),
        ("/dev/possim-no-such-port", "cannot open serial link"),
        ("serial:///dev/possim-no-such-port?baudrate=9600", "cannot open serial link"),
    ],
)
def test_bad_urls_are_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(TransportError, match=message):
        run(open_url(url))
