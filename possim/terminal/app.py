"""Wiring a running terminal: journal, host link, traffic tap, ECR port.

Kept apart from the CLI so a test or the demo can start exactly what
``possim terminal`` starts, in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from possim.iso8583 import get_dialect
from possim.terminal.config import TerminalConfig
from possim.terminal.ecr.protocol import get_protocol
from possim.terminal.ecr.server import EcrServer
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal
from possim.transport import Server, open_pty, serve_url


@dataclass
class TerminalOptions:
    host_url: str
    db_path: str | Path
    ecr_url: str | None = None
    ecr_protocol: str = "ecr-possim"
    traffic_url: str | None = None
    unmask: bool = False
    printer_url: str | None = None  # every slip's ESC/POS bytes go there too (tcp://HOST:9100 or a serial URL)


@contextlib.asynccontextmanager
async def running_terminal(config: TerminalConfig, options: TerminalOptions,
                           announce: Callable[[str], None] = print) -> AsyncIterator[Terminal]:
    """A started terminal (stored reversals already sent), its traffic stream open if asked for."""
    dialect = get_dialect(config.dialect)
    on_frame = None
    traffic = None
    if options.traffic_url:
        from possim.traffic import LinkTap, TrafficBus, TrafficServer

        bus = TrafficBus()
        traffic = TrafficServer(bus, options.traffic_url, unmask=options.unmask)
        announce(f"possim terminal traffic on {await traffic.start()}")
        tap = LinkTap(bus, options.host_url, role="terminal", dialect=dialect, framing=dialect.default_framing)

        def on_frame(direction: str, payload: bytes, link: str) -> None:
            tap.frame("out" if direction == "out" else "in", payload)

    printer = None
    if options.printer_url:
        from possim.terminal.printer import send_to_printer

        url = options.printer_url

        def printer(data: bytes) -> int:
            return send_to_printer(url, data)

    terminal = Terminal(config, Journal(options.db_path), HostLink(options.host_url, dialect.default_framing,
                                                                    on_frame=on_frame), dialect=dialect,
                        printer=printer)
    try:
        await terminal.start()
        yield terminal
    finally:
        await terminal.close()
        if traffic is not None:
            await traffic.close()


async def serve_ecr(terminal: Terminal, url: str, protocol: str = "ecr-possim",
                    announce: Callable[[str], None] = print,
                    stop: Awaitable[object] | None = None) -> None:
    """Serve the ECR port on a serial URL (``pty`` makes a virtual port and names it) until ``stop``."""
    server = EcrServer(terminal, get_protocol(protocol))
    link: Server
    if url == "pty":
        transport, path = await open_pty()
        link = await _serve_transport(server, transport)
        url = path
    else:
        link = await serve_url(url, server.serve)
    announce(f"possim terminal ecr on {url}")
    ended = getattr(link, "wait_closed", None)  # a serial line can end; a TCP listener cannot
    waiters = [asyncio.ensure_future(ended() if ended else asyncio.Event().wait())]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        await link.close()


async def _serve_transport(server: EcrServer, transport: object) -> Server:
    from possim.transport.urls import SerialServer

    return SerialServer(f"pty:{os.getpid()}", transport, server.serve)  # type: ignore[arg-type]
