"""The host on the wire: listens, frames, hands requests to the processor, answers.

asyncio serves any number of TCP connections (and serial ports, one terminal
each) on the event loop; the processor and its SQLite connection live on one
database thread. Requests from all connections queue for that thread, which
takes whatever has arrived, processes it as one group in one transaction,
commits once and hands the responses back -- a group commit, so fifty
terminals waiting share one fsync instead of queueing for fifty. No response
leaves before its commit.

Every frame in and out is published on the traffic bus when one is given
(``LinkTap``, role ``host``), including frames that do not decode: those are
logged and skipped, and the connection stays open, as a real host would keep
listening to a terminal that sent one bad message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from possim.errors import PossimError
from possim.host.clock import Clock, SystemClock
from possim.host.config import HostConfig
from possim.host.db import open_db
from possim.host.keys import PreinstalledKeys
from possim.host.processor import Processor, Response
from possim.iso8583 import Dialect, get_dialect
from possim.traffic import LinkTap, TrafficBus
from possim.transport import ConnectionClosed, FramedConnection, Server, Transport, serve_url

log = logging.getLogger(__name__)

RandomBytes = Callable[[int], bytes]

#: Most requests one group commit takes.
MAX_GROUP = 256
#: Seconds a frame may take from its first byte to its last before its bytes are dropped: a terminal
#: that stops half-way (or sends a byte a second) must not hold a buffer forever, and on a serial
#: line a corrupted length prefix is only recovered from by a silence.
FRAME_TIMEOUT = 30.0


class _Request:
    __slots__ = ("body", "future", "loop")

    def __init__(self, body: bytes, future: asyncio.Future[Response | None], loop: asyncio.AbstractEventLoop):
        self.body = body
        self.future = future
        self.loop = loop


def _deliver(batch: list[_Request], results: list[Response | None] | BaseException) -> None:
    for i, request in enumerate(batch):
        if request.future.done():
            continue
        if isinstance(results, BaseException):
            request.future.set_exception(results)
        else:
            request.future.set_result(results[i])


class DatabaseWorker:
    """The one thread that owns the processor (SQLite connections stay in their thread)."""

    def __init__(self, factory: Callable[[], Processor], max_group: int = MAX_GROUP) -> None:
        self._factory = factory
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="possim-host-db", daemon=True)
        self.groups = 0
        self.requests = 0

    async def start(self) -> None:
        self._thread.start()
        await asyncio.to_thread(self._ready.wait)
        if self._error is not None:
            raise self._error

    async def submit(self, body: bytes) -> Response | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response | None] = loop.create_future()
        self._queue.put(_Request(body, future, loop))
        return await future

    async def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        try:
            processor = self._factory()
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self._max_group:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                results: list[Response | None] | BaseException
                try:
                    results = processor.handle_batch([r.body for r in batch])
                except BaseException as exc:  # the commit failed: nobody gets an answer that was not kept
                    log.exception("group of %d requests failed", len(batch))
                    results = exc
                self.groups += 1
                self.requests += len(batch)
                for loop, group in _by_loop(batch):
                    try:
                        loop.call_soon_threadsafe(_deliver, group, _select(batch, group, results))
                    except RuntimeError:  # that loop has closed; its connections are gone
                        pass
                if stop:
                    return
        finally:
            processor.conn.close()


def _by_loop(batch: list[_Request]) -> list[tuple[asyncio.AbstractEventLoop, list[_Request]]]:
    loops: dict[int, tuple[asyncio.AbstractEventLoop, list[_Request]]] = {}
    for request in batch:
        loops.setdefault(id(request.loop), (request.loop, []))[1].append(request)
    return list(loops.values())


def _select(batch: list[_Request], group: list[_Request],
            results: list[Response | None] | BaseException) -> list[Response | None] | BaseException:
    if isinstance(results, BaseException) or len(group) == len(batch):
        return results
    index = {id(r): i for i, r in enumerate(batch)}
    return [results[index[id(r)]] for r in group]


class HostServer:
    """``possim host``: the processor served on every listen URL."""

    def __init__(self, config: HostConfig, db_path: str | Path, listen_urls: Sequence[str],
                 dialect: str | Dialect = "cup-pos", clock: Clock | None = None,
                 traffic_bus: TrafficBus | None = None, *, framing: str | None = None,
                 random_bytes: RandomBytes = os.urandom, preinstalled: PreinstalledKeys | None = None,
                 max_group: int = MAX_GROUP, frame_timeout: float | None = FRAME_TIMEOUT) -> None:
        if not listen_urls:
            raise PossimError("host: at least one listen URL is needed (e.g. tcp://127.0.0.1:5000)")
        self.config = config
        self.db_path = Path(db_path)
        self.listen_urls = list(listen_urls)
        self.dialect = get_dialect(dialect) if isinstance(dialect, str) else dialect
        self.framing = framing or self.dialect.default_framing
        self.clock = clock or SystemClock()
        self.traffic_bus = traffic_bus
        self.worker = DatabaseWorker(self._make_processor, max_group)
        self._random_bytes = random_bytes
        self._preinstalled = preinstalled
        self._servers: list[Server] = []
        self.undecodable = 0
        self.frame_timeout = frame_timeout

    def _make_processor(self) -> Processor:
        conn = open_db(self.db_path)
        try:
            return Processor(conn, self.config, self.dialect, self.clock, random_bytes=self._random_bytes,
                             preinstalled=self._preinstalled)
        except BaseException:
            conn.close()
            raise

    @property
    def urls(self) -> list[str]:
        """The URLs actually served (a ``:0`` port replaced by the real one)."""
        return [server.url or url for server, url in zip(self._servers, self.listen_urls)]

    async def start(self) -> list[str]:
        await self.worker.start()
        try:
            for url in self.listen_urls:
                self._servers.append(await serve_url(url, self._serve))
        except BaseException:
            await self.close()
            raise
        return self.urls

    async def close(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            await server.close()
        await self.worker.stop()

    async def __aenter__(self) -> HostServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, transport: Transport) -> None:
        tap = None
        if self.traffic_bus is not None:
            tap = LinkTap(self.traffic_bus, transport.peer or "host", role="host", dialect=self.dialect,
                          framing=self.framing)
        observer = (lambda direction, payload, link: tap.frame(direction, payload)) if tap else None
        link = FramedConnection(transport, self.framing, on_frame=observer, partial_timeout=self.frame_timeout)
        async with link:
            while True:
                try:
                    body = await link.recv_frame()
                except ConnectionClosed:
                    return
                response = await self.worker.submit(body)
                if response is None:
                    self.undecodable += 1
                    log.warning("%s: frame of %d bytes not answered (undecodable or not a request)",
                                transport.peer, len(body))
                    continue
                try:
                    await link.send_frame(response.body)
                except ConnectionClosed:
                    return


async def run_host(server: HostServer, *, traffic_url: str | None = None, unmask: bool = False,
                   on_ready: Callable[[list[str]], None] | None = None,
                   on_traffic: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then stop cleanly (what ``possim host`` runs)."""
    from possim.traffic import TrafficServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    traffic_server = None
    if traffic_url is not None:
        if server.traffic_bus is None:
            server.traffic_bus = TrafficBus()
        traffic_server = TrafficServer(server.traffic_bus, traffic_url, unmask=unmask)
        real = await traffic_server.start()
        if on_traffic:
            on_traffic(real)
    try:
        urls = await server.start()
        if on_ready:
            on_ready(urls)
        await stop.wait()
    finally:
        await server.close()
        if traffic_server is not None:
            await traffic_server.close()
