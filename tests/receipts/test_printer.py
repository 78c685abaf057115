"""send_to_printer over a real loopback socket and a real pty pair, as a printer would receive the job."""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Iterator

import pytest

from possim.errors import PossimError
from possim.terminal.escpos_out import render_escpos
from possim.terminal.printer import send_to_printer
from tests.receipts.escpos_decode import decode
from tests.receipts.samples import receipt, settlement


class RawPrinterPort:
    """A one-job 'port 9100' on 127.0.0.1: takes bytes until the sender closes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(10)
            while chunk := conn.recv(4096):
                self.received += chunk

    def job(self) -> bytes:
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        return bytes(self.received)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def raw_port() -> Iterator[RawPrinterPort]:
    port = RawPrinterPort()
    yield port
    port.close()


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def read_exactly(fd: int, size: int) -> bytes:
    data = b""
    for _ in range(1000):  # bounded: a pty hands over at most a few KB per read
        if len(data) >= size:
            break
        ready, _, _ = select.select([fd], [], [], 5)
        assert ready, f"pty gave {len(data)} of {size} bytes"
        data += os.read(fd, 65536)
    return data


def test_job_reaches_a_raw_tcp_printer_port(raw_port: RawPrinterPort) -> None:
    job = render_escpos(receipt(), 32)
    assert send_to_printer(f"tcp://127.0.0.1:{raw_port.port}", job) == len(job)
    assert raw_port.job() == job


def test_pyserial_socket_url_works_too(raw_port: RawPrinterPort) -> None:
    job = render_escpos(settlement(), 48)
    send_to_printer(f"socket://127.0.0.1:{raw_port.port}", job)
    assert raw_port.job() == job


def test_job_reaches_a_serial_printer_through_a_pty(pty_pair: tuple[int, str]) -> None:
    master, device = pty_pair
    job = render_escpos(receipt(), 48)
    send_to_printer(device, job)
    received = read_exactly(master, len(job))
    assert received == job  # raw mode: no LF -> CR LF translation on the way
    assert decode(received).names()[-1] == "GS V"


def test_serial_url_with_settings(pty_pair: tuple[int, str]) -> None:
    master, device = pty_pair
    job = render_escpos(receipt(), 32)
    send_to_printer(f"serial://{device}?baudrate=9600", job)
    assert read_exactly(master, len(job)) == job


def test_loop_url_takes_the_job() -> None:
    job = render_escpos(receipt(), 32)
    assert send_to_printer("loop://", job) == len(job)


def test_unreachable_printer_is_a_one_line_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
    with pytest.raises(PossimError, match=rf"tcp://127.0.0.1:{port}: cannot send to printer"):
        send_to_printer(f"tcp://127.0.0.1:{port}", b"\x1b@")


@pytest.mark.parametrize("url", ["tcp://127.0.0.1", "tcp://:9100", "tcp://127.0.0.1:notaport"])
def test_bad_tcp_url(url: str) -> None:
    with pytest.raises(PossimError, match="expected tcp://HOST:PORT"):
        send_to_printer(url, b"\x1b@")


def test_missing_serial_device() -> None:
    with pytest.raises(PossimError, match="/dev/no-such-printer"):
        send_to_printer("/dev/no-such-printer", b"\x1b@")
