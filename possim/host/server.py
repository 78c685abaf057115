"""The host on the wire: listens, frames, hands requests to the processor, answers.

asyncio serves any number of TCP connections (and serial ports, one terminal
each) on the event loop, and the processor runs on that same loop: requests
that arrive together (everything the loop received before it next gets
round to the processor) are processed as one group in one transaction, with
one commit -- a group commit, so fifty terminals waiting share one fsync
instead of queueing for fifty. No response leaves before its commit.

Why on the loop and not on a database thread: the processor is Python, so a
thread would not run beside the loop anyway (one interpreter lock), and
handing each request to a thread and its answer back costs two thread
wake-ups -- more than the processing itself for one terminal. While a group
commits, frames from other terminals wait in the socket buffers and form the
next group.

The one wait that must not block the loop is another connection holding the
database's write lock (``possim host cases ...`` in another process, a
scenario's back office): the processor's connection does not wait for the
lock (busy timeout 0); a group that finds it taken is tried again a moment
later, for up to ``db.BUSY_TIMEOUT_S``, then fails like any database error.

Every frame in and out is published on the traffic bus when one is given
(``LinkTap``, role ``host``), including frames that do not decode: those are
logged and skipped, and the connection stays open, as a real host would keep
listening to a terminal that sent one bad message.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from possim.errors import PossimError
from possim.host.clock import Clock, SystemClock
from possim.host.config import SYNCHRONOUS, HostConfig
from possim.host.db import BUSY_TIMEOUT_S, open_db
from possim.host.keys import PreinstalledKeys
from possim.host.processor import Processor, Response
from possim.iso8583 import Dialect, get_dialect
from possim.traffic import LinkTap, TrafficBus
from possim.transport import (
    CALLBACK_FRAMINGS, ConnectionClosed, FrameChannel, FramedConnection, Server, Transport, serve_framed_tcp,
    serve_url, tcp_address,
)

log = logging.getLogger(__name__)

RandomBytes = Callable[[int], bytes]
#: Told a request's outcome: ``done(response, None)``, or ``done(None, error)`` if its group failed.
Done = Callable[["Response | None", "BaseException | None"], None]

#: Most requests one group commit takes.
MAX_GROUP = 256
#: Seconds a frame may take from its first byte to its last before its bytes are dropped: a terminal
#: that stops half-way (or sends a byte a second) must not hold a buffer forever, and on a serial
#: line a corrupted length prefix is only recovered from by a silence.
FRAME_TIMEOUT = 30.0
#: First and longest pause before trying a group again when another connection holds the write lock.
BUSY_RETRY_S = (0.001, 0.05)
#: Loop turns a group may wait for connections that are not in it yet (each turn polls the sockets once).
GATHER_TURNS = 3
#: Frames a terminal may send ahead of its answers before the host stops reading from it.
MAX_AHEAD = 16
#: Loop turns :meth:`HostServer.close` leaves to peers on the same loop to notice their connections ended.
CLOSE_TURNS = 5


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc))


class GroupCommitter:
    """The processor on the event loop: requests submitted together are handled as one group.

    A group is everything submitted before the loop runs the processor (it is
    scheduled with ``call_soon`` by the first request, so every connection the
    loop woke in the same round gets in), or, as soon as every open connection
    has a request in, those requests at once. Each request's outcome goes to
    the ``done`` callback it was enqueued with (:meth:`submit` wraps that in an
    awaitable for coroutine callers)."""

    def __init__(self, factory: Callable[[], Processor], max_group: int = MAX_GROUP,
                 busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self._factory = factory
        self._max_group = max_group
        self._busy_timeout = busy_timeout
        self._processor: Processor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[bytes, Done]] = []
        self._scheduled = False
        self._running = False
        self._busy_since: float | None = None
        self._busy_pause = BUSY_RETRY_S[0]
        self.groups = 0
        self.requests = 0
        self.lock_retries = 0  # times a group found the write lock held by another connection
        self.connections = 0  # open connections: each has at most one request waiting
        self._turns = 0

    @property
    def processor(self) -> Processor:
        if self._processor is None:
            raise PossimError("host: the server is not started")
        return self._processor

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        processor = self._factory()
        # From now on a held write lock is waited for by retrying, never by blocking the loop.
        processor.conn.execute("PRAGMA busy_timeout = 0")
        self._processor = processor

    def enqueue(self, body: bytes, done: Done) -> None:
        """Queue ``body`` for the next group; ``done(response, error)`` is called once it is answered.

        The response is None for a frame that cannot be answered (undecodable, not a request); error
        is set instead when the group failed or the server stopped first."""
        loop = self._loop
        if loop is None or self._processor is None:
            raise PossimError("host: the server is not started")
        self._pending.append((body, done))
        if len(self._pending) >= self.connections and not self._running and self._busy_since is None:
            self._process()  # every open connection is in: no reason to wait for another loop turn
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._run)

    async def submit(self, body: bytes) -> Response | None:
        """:meth:`enqueue` for a coroutine: the response (or the error raised)."""
        loop = self._loop
        if loop is None:
            raise PossimError("host: the server is not started")
        future: asyncio.Future[Response | None] = loop.create_future()

        def done(response: Response | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(response)

        self.enqueue(body, done)
        return await future

    async def stop(self) -> None:
        processor, self._processor = self._processor, None
        pending, self._pending = self._pending, []
        for _, done in pending:
            done(None, ConnectionClosed("host: stopped before this request was processed"))
        if processor is not None:
            processor.conn.close()

    def _run(self, retry: bool = False) -> None:
        self._scheduled = False
        if not self._pending:  # already processed when the last connection came in
            self._turns = 0
            return
        if self._busy_since is not None and not retry:
            return  # waiting for the write lock: the retry timer runs the group
        # Connections that are open but not in the group may be a loop turn or two from submitting
        # (their bytes are in, their frames not yet parsed): a few turns more make one commit serve
        # them too. One connection alone never waits.
        if not retry and len(self._pending) < self.connections and self._turns < GATHER_TURNS:
            self._turns += 1
            self._scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._run)
            return
        self._turns = 0
        self._process()

    def _process(self) -> None:
        """Process the pending requests, a group at a time, and tell each its outcome."""
        self._running = True
        try:
            self._process_groups()
        finally:
            self._running = False

    def _process_groups(self) -> None:
        processor = self._processor
        while self._pending and processor is not None:
            group = self._pending[:self._max_group]
            try:
                results = processor.handle_batch([body for body, _ in group])
            except BaseException as exc:  # nothing of this group was committed
                if _is_busy(exc) and self._retry_later():
                    return
                self._busy_since = None
                del self._pending[:len(group)]
                log.error("group of %d requests failed: %s", len(group), exc, exc_info=not _is_busy(exc))
                for _, done in group:
                    done(None, exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            self._busy_since = None
            self._busy_pause = BUSY_RETRY_S[0]
            del self._pending[:len(group)]
            self.groups += 1
            self.requests += len(group)
            for (_, done), result in zip(group, results):
                done(result, None)

    def _retry_later(self) -> bool:
        """Another connection holds the write lock: try the pending requests again soon (False: waited long enough)."""
        now = time.monotonic()
        if self._busy_since is None:
            self._busy_since = now
        elif now - self._busy_since >= self._busy_timeout:
            return False
        assert self._loop is not None
        self.lock_retries += 1
        self._loop.call_later(self._busy_pause, self._run, True)
        self._busy_pause = min(self._busy_pause * 2, BUSY_RETRY_S[1])
        return True


class HostServer:
    """``possim host``: the processor served on every listen URL."""

    def __init__(self, config: HostConfig, db_path: str | Path, listen_urls: Sequence[str],
                 dialect: str | Dialect = "cup-pos", clock: Clock | None = None,
                 traffic_bus: TrafficBus | None = None, *, framing: str | None = None,
                 random_bytes: RandomBytes = os.urandom, preinstalled: PreinstalledKeys | None = None,
                 max_group: int = MAX_GROUP, frame_timeout: float | None = FRAME_TIMEOUT,
                 synchronous: str | None = None) -> None:
        if not listen_urls:
            raise PossimError("host: at least one listen URL is needed (e.g. tcp://127.0.0.1:5000)")
        self.config = config
        self.db_path = Path(db_path)
        self.listen_urls = list(listen_urls)
        self.dialect = get_dialect(dialect) if isinstance(dialect, str) else dialect
        self.framing = framing or self.dialect.default_framing
        self.clock = clock or SystemClock()
        self.traffic_bus = traffic_bus
        self.committer = GroupCommitter(self._make_processor, max_group)
        self._random_bytes = random_bytes
        self._preinstalled = preinstalled
        self._servers: list[Server] = []
        self.undecodable = 0
        self.frame_timeout = frame_timeout
        self.synchronous = (synchronous or config.synchronous).lower()
        if self.synchronous not in SYNCHRONOUS:
            raise PossimError(f"host: synchronous: expected one of {', '.join(SYNCHRONOUS)}, "
                              f"got {synchronous!r}")

    def _make_processor(self) -> Processor:
        conn = open_db(self.db_path)
        try:
            # open_db makes every connection FULL; NORMAL is the host's own, documented choice.
            conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
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
        await self.committer.start()
        try:
            for url in self.listen_urls:
                address = tcp_address(url)
                if address is not None and self.framing in CALLBACK_FRAMINGS:
                    self._servers.append(await serve_framed_tcp(
                        self._peer, self.framing, *address, partial_timeout=self.frame_timeout))
                else:
                    self._servers.append(await serve_url(url, self._serve))
        except BaseException:
            await self.close()
            raise
        return self.urls

    async def close(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            await server.close()
        committer = self.committer
        if committer.groups:
            log.info("served %d requests in %d commits (%.1f a commit)", committer.requests, committer.groups,
                     committer.requests / committer.groups)
        await committer.stop()
        # Let peers on this same loop (a scenario's relay, a terminal under test) see their connections
        # end before the caller goes on and closes the loop: the database thread this server used to
        # join here gave them that time, and some close their side only when they notice.
        for _ in range(CLOSE_TURNS):
            await asyncio.sleep(0)

    async def __aenter__(self) -> HostServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _peer(self, channel: FrameChannel) -> _Peer:
        if self.traffic_bus is not None:
            tap = LinkTap(self.traffic_bus, channel.peer or "host", role="host", dialect=self.dialect,
                          framing=self.framing)
            channel.on_frame = lambda direction, payload, link: tap.frame(direction, payload)
        return _Peer(self, channel)

    def _not_answered(self, peer: str, body: bytes) -> None:
        self.undecodable += 1
        log.warning("%s: frame of %d bytes not answered (undecodable, not a request, or its answer could not be "
                    "built)", peer, len(body))

    async def _serve(self, transport: Transport) -> None:
        """One terminal on a transport that needs a coroutine (serial ports, STX, memory pipes)."""
        tap = None
        if self.traffic_bus is not None:
            tap = LinkTap(self.traffic_bus, transport.peer or "host", role="host", dialect=self.dialect,
                          framing=self.framing)
        observer = (lambda direction, payload, link: tap.frame(direction, payload)) if tap else None
        link = FramedConnection(transport, self.framing, on_frame=observer, partial_timeout=self.frame_timeout)
        self.committer.connections += 1
        try:
            async with link:
                while True:
                    try:
                        body = await link.recv_frame()
                    except ConnectionClosed:
                        return
                    response = await self.committer.submit(body)
                    if response is None:
                        self._not_answered(transport.peer, body)
                        continue
                    try:
                        await link.send_frame(response.body)
                    except ConnectionClosed:
                        return
        finally:
            self.committer.connections -= 1


class _Peer:
    """One terminal on a callback TCP connection: its frames are answered one at a time, in order.

    A terminal waits for each answer, so normally one request is in flight; frames sent ahead wait
    here (up to ``MAX_AHEAD``, then the host stops reading from that terminal until it catches up)."""

    def __init__(self, server: HostServer, channel: FrameChannel) -> None:
        self._server = server
        self._channel = channel
        self._waiting: collections.deque[bytes] = collections.deque()
        self._in_flight = False
        self._gone = False
        server.committer.connections += 1

    def frame_received(self, payload: bytes) -> None:
        if self._in_flight:
            self._waiting.append(payload)
            if len(self._waiting) >= MAX_AHEAD:
                self._channel.pause_reading("ahead")
            return
        self._submit(payload)

    def connection_lost(self) -> None:
        if not self._gone:
            self._gone = True
            self._server.committer.connections -= 1
        self._waiting.clear()

    def _submit(self, payload: bytes) -> None:
        self._in_flight = True
        try:
            self._server.committer.enqueue(payload, lambda response, error: self._answered(payload, response, error))
        except PossimError as exc:  # the server is stopping
            log.info("%s: %s", self._channel.peer, exc)
            self._in_flight = False
            self._channel.close()

    def _answered(self, payload: bytes, response: Response | None, error: BaseException | None) -> None:
        self._in_flight = False
        channel = self._channel
        if error is not None:
            # The group failed (logged by the committer) or the host is stopping: nothing was
            # committed for this request, and the terminal hears no answer, as on a dropped line.
            log.warning("%s: request not answered: %s", channel.peer, error)
            channel.close()
            return
        if response is None:
            self._server._not_answered(channel.peer, payload)
        elif not channel.closed:
            try:
                channel.send_frame(response.body)
            except ConnectionClosed:
                pass
        if self._waiting and not channel.closed:
            self._submit(self._waiting.popleft())
            if len(self._waiting) < MAX_AHEAD // 2:
                channel.resume_reading("ahead")


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
