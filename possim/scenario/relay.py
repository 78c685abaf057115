"""A frame relay between the terminal and the host: the scenario's eyes and its fault injector.

Every driver puts one in the path (terminal -> relay -> host), so each step
can be checked on the wire -- which MTIs went out, the request and the
response -- whichever terminal and whichever host play. It is also where the
faults a real link suffers are made on purpose: an answer lost on the way
back (the terminal times out and must reverse) or a request whose MAC is
damaged in transit (the host answers A0 and the terminal must sign in again).
Every frame is published on the traffic bus with role ``tap``: ``out`` toward
the host, ``in`` toward the terminal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from possim.iso8583 import Dialect
from possim.traffic import LinkTap, TrafficBus
from possim.transport import ConnectionClosed, FramedConnection, Server, Transport, TransportError, open_url, serve_url

log = logging.getLogger(__name__)


@dataclass
class Faults:
    drop_responses: int = 0
    corrupt_mac: int = 0

    @property
    def armed(self) -> bool:
        return bool(self.drop_responses or self.corrupt_mac)


class Relay:
    def __init__(self, listen_url: str, upstream_url: str, bus: TrafficBus, dialect: Dialect,
                 framing: str | None = None) -> None:
        self.listen_url = listen_url
        self.upstream_url = upstream_url
        self.bus = bus
        self.dialect = dialect
        self.framing = framing or dialect.default_framing
        self.faults = Faults()
        self.url = ""
        self._server: Server | None = None
        self._links: set[FramedConnection] = set()

    async def start(self) -> str:
        self._server = await serve_url(self.listen_url, self._serve)
        self.url = self._server.url or self.listen_url
        return self.url

    async def close(self) -> None:
        # The server first: cancelling each handler lets its own ``finally`` close both of its links
        # (closing them from here instead could cancel a handler halfway through closing one).
        if self._server is not None:
            server, self._server = self._server, None
            await server.close()
        for link in list(self._links):
            await link.close()
        self._links.clear()

    def _corrupt(self, body: bytes) -> bytes:
        if self.faults.corrupt_mac <= 0 or len(body) < 8:
            return body
        self.faults.corrupt_mac -= 1
        return body[:-1] + bytes([body[-1] ^ 0xFF])  # F64 is the last field: flip its last byte

    async def _serve(self, terminal_side: Transport) -> None:
        tap = LinkTap(self.bus, f"relay {terminal_side.peer or self.listen_url}", role="tap",
                      dialect=self.dialect, framing=self.framing)
        terminal = FramedConnection(terminal_side, self.framing)
        terminal.start()
        self._links.add(terminal)
        host: FramedConnection | None = None
        try:
            while True:
                try:
                    request = await terminal.recv_frame()
                except ConnectionClosed:
                    return
                request = self._corrupt(request)
                tap.outbound(request)
                if host is None or host.closed:
                    try:
                        host = FramedConnection(await open_url(self.upstream_url), self.framing)
                    except (TransportError, OSError) as exc:
                        log.warning("relay: host %s unreachable: %s", self.upstream_url, exc)
                        return
                    host.start()
                    self._links.add(host)
                try:
                    await host.send_frame(request)
                    response = await host.recv_frame()
                except ConnectionClosed:
                    return
                if self.faults.drop_responses > 0:
                    self.faults.drop_responses -= 1
                    continue  # lost on the way back: the terminal hears nothing
                tap.inbound(response)
                try:
                    await terminal.send_frame(response)
                except ConnectionClosed:
                    return
        finally:
            for link in (terminal, host):
                if link is not None:
                    self._links.discard(link)
                    await link.close()


def mask_line(event: object, unmask: bool = False) -> str:
    """One line per traffic event: sequence, direction, MTI, the fields, masked."""
    from possim.traffic import TrafficEvent

    assert isinstance(event, TrafficEvent)
    arrow = "terminal -> host" if event.direction == "out" else "host -> terminal"
    if event.message is None:
        return f"#{event.seq} {arrow}  {event.raw_len} bytes, not decoded: {event.error}"
    msg = event.message
    dialect = getattr(msg, "dialect", None)
    parts = []
    for number in sorted(msg.fields, key=int):
        value = msg.fields[number]
        if dialect is not None and not unmask:
            value = dialect.masked_value(int(number), value)
        if len(value) > 40:
            value = value[:37] + "..."
        parts.append(f"{number}={value}")
    return f"#{event.seq} {arrow}  {msg.mti}  " + " ".join(parts)

