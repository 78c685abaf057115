"""``--traffic URL``: the bus streamed as JSON Lines on a local TCP socket.

A running host or terminal publishes its traffic here; ``possim tui
--attach URL`` and any script (``nc 127.0.0.1 PORT``) subscribe. The stream
is unauthenticated, so the server only binds loopback and sends the masked
form unless the process was started with ``--unmask``.

Protocol: the server first sends ``{"possim_traffic": 1}`` -- once a client
has read it, it is subscribed and misses nothing published after. Then one
event per line (``jsonform``), each with ``"dropped"``: how many events this
client has lost so far by reading too slowly.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from possim.errors import PossimError
from possim.traffic.bus import DEFAULT_MAXSIZE, Subscription, TrafficBus
from possim.traffic.event import TrafficEvent
from possim.traffic.jsonform import DialectResolver, MessageFactory, event_from_json, event_to_json

HELLO_KEY = "possim_traffic"
PROTOCOL_VERSION = 1
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_LINE = 1 << 20


@dataclass(frozen=True, slots=True)
class TrafficUrl:
    host: str
    port: int

    def __str__(self) -> str:
        return f"tcp://{self.host}:{self.port}"


def parse_traffic_url(url: str) -> TrafficUrl:
    """``tcp://HOST:PORT``; port 0 asks the system for a free one (listen only)."""
    if not url.startswith("tcp://"):
        raise PossimError(f"traffic URL {url!r}: expected tcp://HOST:PORT")
    rest = url[len("tcp://"):].rstrip("/")
    host, sep, port_text = rest.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise PossimError(f"traffic URL {url!r}: expected tcp://HOST:PORT with a port 0..65535")
    return TrafficUrl(host, int(port_text))


class TrafficServer:
    """Streams a bus to every connected client; one subscription per client."""

    def __init__(self, bus: TrafficBus, url: str, *, unmask: bool = False,
                 maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.bus = bus
        self._requested = parse_traffic_url(url)
        if self._requested.host not in LOOPBACK_HOSTS:
            raise PossimError(f"traffic URL {url!r}: the traffic stream listens on loopback only (127.0.0.1)")
        self.unmask = unmask
        self.maxsize = maxsize
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._subs: set[Subscription] = set()
        self.url: str = str(self._requested)

    @property
    def client_count(self) -> int:
        return len(self._subs)

    async def start(self) -> str:
        """Bind and listen; returns the URL with the real port."""
        try:
            self._server = await asyncio.start_server(self._serve, self._requested.host, self._requested.port)
        except OSError as exc:
            raise PossimError(f"traffic URL {self.url}: cannot listen ({exc.strerror})") from None
        port = self._server.sockets[0].getsockname()[1]
        self.url = str(TrafficUrl(self._requested.host, port))
        return self.url

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        sub = self.bus.subscribe(maxsize=self.maxsize)
        self._subs.add(sub)
        # a client that hangs up is noticed even while no traffic flows
        watcher = asyncio.create_task(self._close_on_eof(reader, sub))
        try:
            writer.write((json.dumps({HELLO_KEY: PROTOCOL_VERSION}) + "\n").encode())
            await writer.drain()
            while True:
                event = await sub.aget()
                if event is None:
                    break
                line = event_to_json(event, unmask=self.unmask)
                line["dropped"] = sub.dropped
                writer.write((json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass  # the client went away mid-write
        finally:
            watcher.cancel()
            sub.close()
            self._subs.discard(sub)
            self._clients.discard(task)
            writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass

    @staticmethod
    async def _close_on_eof(reader: asyncio.StreamReader, sub: Subscription) -> None:
        try:
            while await reader.read(4096):
                pass  # clients have nothing to say; ignore it
        except ConnectionError:
            pass
        sub.close()

    async def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # stop accepting first
        for sub in list(self._subs):
            sub.close()  # each client loop ends and closes its connection
        tasks = list(self._clients)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> TrafficServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class TrafficServerThread:
    """A ``TrafficServer`` on its own event loop thread, for thread-based publishers."""

    def __init__(self, bus: TrafficBus, url: str, *, unmask: bool = False,
                 maxsize: int = DEFAULT_MAXSIZE) -> None:
        self._server = TrafficServer(bus, url, unmask=unmask, maxsize=maxsize)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="possim-traffic-server", daemon=True)
        self._thread.start()
        try:
            self.url = asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result()
        except BaseException:
            self._shutdown_loop()
            raise

    @property
    def client_count(self) -> int:
        return self._server.client_count

    def _shutdown_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result()
        self._shutdown_loop()

    def __enter__(self) -> TrafficServerThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrafficAttachment:
    """A client of a traffic server: ``async with attach(url) as events: async for ev in events``.

    ``server_dropped`` is the server's count of events this client lost.
    """

    def __init__(self, url: str, *, message_factory: MessageFactory | None = None,
                 dialect_resolver: DialectResolver | None = None) -> None:
        self.url = parse_traffic_url(url)
        self._factory = message_factory
        self._resolver = dialect_resolver
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.server_dropped = 0

    async def connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_connection(self.url.host, self.url.port, limit=MAX_LINE)
        except OSError as exc:
            raise PossimError(f"traffic URL {self.url}: cannot connect ({exc.strerror})") from None
        hello = await self._reader.readline()
        try:
            ok = json.loads(hello).get(HELLO_KEY) == PROTOCOL_VERSION
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            await self.close()
            raise PossimError(f"traffic URL {self.url}: not a possim traffic stream (first line {hello[:40]!r})")

    async def next_event(self) -> TrafficEvent | None:
        """The next event, or None when the server ends the stream."""
        if self._reader is None:
            await self.connect()
        assert self._reader is not None
        line = await self._reader.readline()
        if not line:
            return None
        try:
            obj: dict[str, Any] = json.loads(line)
        except ValueError:
            raise PossimError(f"traffic URL {self.url}: bad line from server {line[:40]!r}") from None
        self.server_dropped = int(obj.pop("dropped", self.server_dropped) or 0)
        return event_from_json(obj, message_factory=self._factory, dialect_resolver=self._resolver)

    def __aiter__(self) -> AsyncIterator[TrafficEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[TrafficEvent]:
        while True:
            event = await self.next_event()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except ConnectionError:
                pass
            self._writer = None
            self._reader = None

    async def __aenter__(self) -> TrafficAttachment:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def attach(url: str, *, message_factory: MessageFactory | None = None,
           dialect_resolver: DialectResolver | None = None) -> TrafficAttachment:
    """Subscribe to a running traffic server (``possim tui --attach URL``)."""
    return TrafficAttachment(url, message_factory=message_factory, dialect_resolver=dialect_resolver)
