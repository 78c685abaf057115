"""One place that turns a link URL into a transport or a server.

Accepted forms (DESIGN.md "URLs"):
``tcp://HOST:PORT``; ``memory://NAME`` (in-process); ``serial:///dev/ttyUSB0?baudrate=115200``;
and anything pyserial's ``serial_for_url`` understands: a device path
(``/dev/pts/3``, ``COM3``), ``loop://``, ``socket://HOST:PORT``,
``rfc2217://HOST:PORT``, ``spy://PORT``, ``hwgrep://REGEX``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from possim.transport.base import Handler, Server, Transport, TransportError, run_handler
from possim.transport.memory import connect_memory, serve_memory
from possim.transport.serialport import open_serial
from possim.transport.tcp import DEFAULT_HOST, connect_tcp, serve_tcp

# pyserial's own URL schemes, plus ours for serial ports.
SERIAL_SCHEMES = ("serial", "loop", "socket", "rfc2217", "spy", "hwgrep", "alt", "cp2110")


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def _host_port(url: str, *, default_host: str | None) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or default_host
    if port is None or host is None:
        raise TransportError(f"{url}: expected tcp://HOST:PORT")
    return host, port


def tcp_address(url: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``tcp://`` URL (127.0.0.1 when it names no host); None for other schemes."""
    if _scheme(url) != "tcp":
        return None
    return _host_port(url, default_host=DEFAULT_HOST)


async def open_url(url: str, **serial_settings: Any) -> Transport:
    """Connect to ``url``; serial settings (``baudrate=...``) apply to pyserial URLs only."""
    scheme = _scheme(url)
    if scheme == "tcp":
        host, port = _host_port(url, default_host=None)
        return await connect_tcp(host, port)
    if scheme == "memory":
        return await connect_memory(url[len("memory://"):])
    if scheme in SERIAL_SCHEMES or not scheme:
        return await open_serial(url, **serial_settings)
    known = ", ".join(["tcp", "memory", *SERIAL_SCHEMES])
    raise TransportError(f"{url}: unknown link URL scheme {scheme!r}; expected a device path or one of {known}")


class SerialServer(Server):
    """A serial port "served": it is point to point, so the handler runs once on the open port."""

    def __init__(self, url: str, transport: Transport, handler: Handler) -> None:
        self.url = url
        self.transport = transport
        self.errors: list[BaseException] = []
        self.task = asyncio.get_running_loop().create_task(self._run(handler))

    async def _run(self, handler: Handler) -> None:
        await run_handler(handler, self.transport, self.errors, self.url)

    async def wait_closed(self) -> None:
        await asyncio.gather(self.task, return_exceptions=True)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.transport.close()


async def serve_url(url: str, handler: Handler, **serial_settings: Any) -> Server:
    """Accept links on ``url`` and run ``handler(transport)`` for each.

    TCP binds 127.0.0.1 unless the URL names another host (``tcp://:9000`` means 127.0.0.1).
    """
    scheme = _scheme(url)
    if scheme == "tcp":
        host, port = _host_port(url, default_host=DEFAULT_HOST)
        return await serve_tcp(handler, host, port)
    if scheme == "memory":
        return await serve_memory(url[len("memory://"):], handler)
    transport = await open_url(url, **serial_settings)
    return SerialServer(url, transport, handler)
