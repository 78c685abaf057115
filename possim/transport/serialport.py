"""Serial links through pyserial: real ports, ptys and every pyserial URL.

Two ways of waiting for bytes, chosen per port:

* A plain POSIX port (``serial.Serial``: a USB adapter, a UART, a pty) has a
  file descriptor, which pyserial opens non-blocking. It is watched with the
  event loop's ``add_reader``/``add_writer``, so a host with many serial
  terminals needs no thread per port and bytes are seen as soon as the kernel
  has them (the benchmark against raw pyserial measures exactly this path).
* Everything else pyserial offers through ``serial_for_url`` (``loop://``,
  ``socket://``, ``rfc2217://``, ``spy://``, ``hwgrep://``) either has no
  descriptor or has protocol work of its own to do on each read (RFC 2217
  option negotiation, spy's hexdump), so a reader thread calls its blocking
  ``read`` with a short timeout and hands the bytes to the loop; writes go
  through one dedicated worker thread, which keeps them in order.

``serial:///dev/ttyUSB0?baudrate=115200&parity=E`` is handled here (pyserial
has no ``serial://`` scheme): the path is the port, the query its settings.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import serial

from possim.transport.base import ConnectionClosed, Transport, TransportError
from possim.transport.fdio import FdTransport

_SETTINGS: dict[str, Any] = {
    "baudrate": int,
    "bytesize": int,
    "parity": str,
    "stopbits": float,
    "xonxoff": lambda v: v.lower() in ("1", "true", "yes", "on"),
    "rtscts": lambda v: v.lower() in ("1", "true", "yes", "on"),
    "dsrdtr": lambda v: v.lower() in ("1", "true", "yes", "on"),
}

_POLL = 0.05  # how often a reader thread looks at its stop flag


def parse_serial_url(url: str) -> tuple[str, dict[str, Any]]:
    """``serial:///dev/ttyUSB0?baudrate=115200`` -> (``/dev/ttyUSB0``, {"baudrate": 115200})."""
    parts = urlsplit(url)
    if parts.scheme != "serial":
        raise TransportError(f"{url}: not a serial:// URL")
    port = parts.path if not parts.netloc else f"{parts.netloc}{parts.path}"
    if not port:
        raise TransportError(f"{url}: expected a device path after serial://, e.g. serial:///dev/ttyUSB0")
    settings: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        convert = _SETTINGS.get(name)
        if convert is None:
            known = ", ".join(_SETTINGS)
            raise TransportError(f"{url}: unknown serial setting {name!r}; expected one of {known}")
        try:
            settings[name] = convert(value)
        except ValueError:
            raise TransportError(f"{url}: {name}={value!r} is not a valid value") from None
    if "stopbits" in settings and settings["stopbits"] in (1.0, 2.0):
        settings["stopbits"] = int(settings["stopbits"])
    return port, settings


def open_serial_port(url: str, **settings: Any) -> serial.SerialBase:
    """Open ``url`` with pyserial; raise :class:`TransportError` with a one-line reason."""
    try:
        if url.startswith("serial:"):
            port, query = parse_serial_url(url)
            return serial.Serial(port=port, **{**query, **settings})
        with warnings.catch_warnings():
            # pyserial 3.5's rfc2217 client calls Thread.setDaemon() and setName(), deprecated since 3.10;
            # silence exactly that so rfc2217:// works under `python -W error`.
            warnings.filterwarnings("ignore", message=r"set(Daemon|Name)\(\) is deprecated",
                                    category=DeprecationWarning)
            return serial.serial_for_url(url, **settings)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise TransportError(f"{url}: cannot open serial link ({exc})") from None


class SerialTransport(Transport):
    """A pyserial port without a usable descriptor, served by a reader thread and a writer thread."""

    def __init__(self, port: serial.SerialBase, peer: str | None = None) -> None:
        self.port = port
        self.peer = peer or str(port.port)
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._start_thread()

    # --- the thread path -------------------------------------------------

    def _start_thread(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._leftover = bytearray()
        self._stop = threading.Event()
        self._writer = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                             thread_name_prefix="possim-serial-w")
        if self.port.timeout is None or self.port.timeout > _POLL:
            self.port.timeout = _POLL
        self._thread = threading.Thread(target=self._reader_thread, name="possim-serial-r", daemon=True)
        self._thread.start()

    def _reader_thread(self) -> None:
        try:
            while not self._stop.is_set():
                waiting = self.port.in_waiting
                data = self.port.read(waiting if waiting > 0 else 1)
                if data:
                    self._loop.call_soon_threadsafe(self._queue.put_nowait, bytes(data))
        except Exception:  # port closed under us, socket dropped: end of stream
            pass
        finally:
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, b"")
            except RuntimeError:
                pass  # loop already closed

    async def _read_thread(self, max_bytes: int) -> bytes:
        if not self._leftover:
            if self._closed:
                return b""
            data = await self._queue.get()
            if not data:
                self._queue.put_nowait(b"")  # stay at end of stream for later reads
                return b""
            self._leftover += data
        data = bytes(self._leftover[:max_bytes])
        del self._leftover[:max_bytes]
        return data

    async def _write_thread(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionClosed(f"{self.peer}: write on a closed port")
        try:
            await self._loop.run_in_executor(self._writer, self.port.write, data)
        except (serial.SerialException, OSError) as exc:
            raise ConnectionClosed(f"{self.peer}: write failed ({exc})") from None

    # --- the interface ---------------------------------------------------

    async def read(self, max_bytes: int = 65536) -> bytes:
        return await self._read_thread(max_bytes)

    async def write(self, data: bytes) -> None:
        await self._write_thread(bytes(data))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        await self._loop.run_in_executor(None, self._thread.join, 5.0)
        self._writer.shutdown(wait=True)
        self.port.close()
        _close_spy_log(self.port)
        self._queue.put_nowait(b"")

    @property
    def closed(self) -> bool:
        return self._closed


def _close_spy_log(port: serial.SerialBase) -> None:
    """pyserial's ``spy://...?file=`` opens its log file and never closes it; do it for it."""
    output = getattr(getattr(port, "formatter", None), "output", None)
    if output is not None and hasattr(output, "close") and output not in (sys.stderr, sys.stdout):
        output.close()


async def open_serial(url: str, **settings: Any) -> Transport:
    """Open any pyserial URL (or ``serial://`` URL, or device path) as a transport.

    A plain POSIX port gets an :class:`FdTransport` on pyserial's descriptor
    (pyserial has configured termios; we only read and write); every other
    pyserial class gets a :class:`SerialTransport` with its threads.
    """
    port = open_serial_port(url, **settings)
    fd = getattr(port, "fd", None)
    if type(port) is serial.Serial and isinstance(fd, int):
        return FdTransport(fd, url, on_close=port.close, port=port)
    return SerialTransport(port, peer=url)
