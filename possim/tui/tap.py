"""``possim tui --tap LISTEN UPSTREAM``: a transparent proxy that publishes what passes.

A real terminal is pointed at LISTEN instead of its host; each link it opens
is joined to UPSTREAM (the real host), and bytes are forwarded unchanged in
both directions as they arrive -- no re-framing, so timing and odd bytes reach
the other side as sent. Beside the forwarding, one ``possim.link`` framer per
direction cuts the stream into frames and a ``LinkTap`` publishes each on the
bus (``out`` toward the host, ``in`` toward the terminal). Transports come from
``possim.transport`` (``serve_url``/``open_url``), so TCP-to-TCP and
serial-to-serial (pyserial URLs, pty pairs) take the same path.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from possim.errors import PossimError
from possim.link.events import Frame, FrameError
from possim.link.framing import Framer, get_framer
from possim.traffic import LinkTap, TrafficBus
from possim.transport import Server, Transport, open_url, serve_url

READ_SIZE = 65536


class TapServer:
    """The running proxy: ``url`` is where terminals connect; ``close()`` ends every link."""

    def __init__(self, listen: str, upstream: str, bus: TrafficBus, *, dialect: Any, framing: str) -> None:
        self.listen = listen
        self.upstream = upstream
        self.bus = bus
        self.dialect = dialect
        self.framing = framing
        get_framer(framing)  # refuse an unknown framing before listening
        self._server: Server | None = None
        self._numbers = itertools.count(1)
        self.links = 0
        self.errors: list[str] = []
        self.url = listen

    async def start(self) -> str:
        self._server = await serve_url(self.listen, self._join)
        self.url = getattr(self._server, "url", "") or self.listen
        return self.url

    async def _join(self, terminal: Transport) -> None:
        """One terminal link: connect upstream, then pump both ways until either side ends."""
        number = next(self._numbers)
        self.links += 1
        link = f"{self.url}#{number}" if self.url.startswith("tcp://") else self.url
        try:
            host = await open_url(self.upstream)
        except PossimError as exc:
            self.errors.append(str(exc))
            raise
        tap = LinkTap(self.bus, link, role="tap", dialect=self.dialect, framing=self.framing)
        try:
            to_host = asyncio.create_task(self._pump(terminal, host, get_framer(self.framing), tap.outbound))
            to_terminal = asyncio.create_task(self._pump(host, terminal, get_framer(self.framing), tap.inbound))
            done, pending = await asyncio.wait({to_host, to_terminal}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                if task.exception() is not None:
                    self.errors.append(str(task.exception()))
        finally:
            await host.close()

    async def _pump(self, src: Transport, dst: Transport, framer: Framer, publish: Any) -> None:
        decoding = True
        while True:
            data = await src.read(READ_SIZE)
            if not data:
                return
            await dst.write(data)  # forward first: watching must never delay the link
            if not decoding:
                continue
            for event in framer.feed(data):
                if isinstance(event, Frame):
                    publish(event.payload)
                elif isinstance(event, FrameError) and event.fatal:
                    # the stream cannot be re-synchronised; keep forwarding, stop decoding
                    self.errors.append(event.message)
                    decoding = False
                    break

    async def close(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.close()

    async def __aenter__(self) -> TapServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_tap(listen: str, upstream: str, bus: TrafficBus, *, dialect: Any, framing: str) -> TapServer:
    """Listen on ``listen`` and proxy each link to ``upstream``, publishing frames on ``bus``."""
    tap = TapServer(listen, upstream, bus, dialect=dialect, framing=framing)
    await tap.start()
    return tap
