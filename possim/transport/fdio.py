"""Non-blocking reads and writes on a file descriptor, driven by the event loop.

Serial ports and pseudo-terminals are file descriptors; watching them with
``add_reader``/``add_writer`` needs no thread per port and sees bytes as soon
as the kernel has them.
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import Any, Callable

from possim.transport.base import ConnectionClosed, Transport


class FdTransport(Transport):
    """A transport over a tty-like descriptor (a serial port, either side of a pty).

    ``on_close`` releases the descriptor (pyserial's ``close``, or ``os.close``).
    """

    def __init__(self, fd: int, peer: str, on_close: Callable[[], None] | None = None,
                 port: Any = None) -> None:
        self.fd = fd
        #: The pyserial object when the descriptor belongs to one (its settings live there).
        self.port = port
        self.peer = peer
        self._on_close = on_close if on_close is not None else (lambda: os.close(fd))
        self._loop = asyncio.get_running_loop()
        self._closed = False
        os.set_blocking(fd, False)

    async def _wait(self, for_write: bool) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()

        def ready() -> None:
            if not waiter.done():
                waiter.set_result(None)

        add, remove = ((self._loop.add_writer, self._loop.remove_writer) if for_write
                       else (self._loop.add_reader, self._loop.remove_reader))
        add(self.fd, ready)
        try:
            await waiter
        finally:
            if not self._closed:
                remove(self.fd)

    async def read(self, max_bytes: int = 65536) -> bytes:
        # A tty with VMIN=0/VTIME=0 (pyserial's setting) reads as b"" when empty, not EAGAIN.
        # Empty after the loop said "readable" is a hang-up, the line pyserial draws too.
        woken = False
        while not self._closed:
            try:
                data = os.read(self.fd, max_bytes)
            except BlockingIOError:
                data = b""
            except OSError as exc:
                if exc.errno == errno.EIO:  # the other side of a pty went away
                    return b""
                raise ConnectionClosed(f"{self.peer}: read failed ({exc.strerror})") from None
            if data or woken:
                return data
            await self._wait(False)
            woken = True
        return b""

    async def write(self, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            if self._closed:
                raise ConnectionClosed(f"{self.peer}: write on a closed port")
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                await self._wait(True)
                continue
            except OSError as exc:
                raise ConnectionClosed(f"{self.peer}: write failed ({exc.strerror})") from None
            view = view[written:]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self.fd)
        self._loop.remove_writer(self.fd)
        self._on_close()

    @property
    def closed(self) -> bool:
        return self._closed
