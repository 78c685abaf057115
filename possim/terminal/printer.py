"""``--printer URL``: hand a finished ESC/POS job to a real printer.

Receipt printers take raw bytes and answer nothing, so sending is a single
blocking write: ``tcp://HOST:PORT`` for a network printer's raw port (9100 by
convention), or any serial URL possim accepts (a device path,
``serial:///dev/ttyUSB0?baudrate=9600``, ``loop://``, ``socket://`` ...) for
one on a serial line. The URL rules are the transport layer's, so a printer
URL reads like every other link URL.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import serial

from possim.errors import PossimError
from possim.transport.serialport import open_serial_port

DEFAULT_TIMEOUT = 10.0


class PrinterError(PossimError):
    """The printer could not be reached or did not take the job."""


def send_to_printer(url: str, data: bytes, *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Write one job to the printer at ``url``; returns the number of bytes sent."""
    if url.lower().startswith("tcp://"):
        _send_tcp(url, data, timeout)
    else:
        _send_serial(url, data, timeout)
    return len(data)


def _send_tcp(url: str, data: bytes, timeout: float) -> None:
    parts = urlsplit(url)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or port is None:
        raise PrinterError(f"{url}: expected tcp://HOST:PORT, e.g. tcp://192.168.1.50:9100")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)  # the printer sees the end of the job
    except OSError as exc:
        raise PrinterError(f"{url}: cannot send to printer ({exc.strerror or exc})") from None


def _send_serial(url: str, data: bytes, timeout: float) -> None:
    port = open_serial_port(url, write_timeout=timeout)
    try:
        written = port.write(data)
        port.flush()
    except (serial.SerialException, OSError) as exc:
        raise PrinterError(f"{url}: cannot send to printer ({exc})") from None
    finally:
        port.close()
    if written != len(data):
        raise PrinterError(f"{url}: printer took {written} of {len(data)} bytes before the write timed out")
