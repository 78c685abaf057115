"""A framed TCP server on asyncio's protocol callbacks, for a host answering many terminals.

:class:`~possim.transport.framed.FramedConnection` gives each connection a
pump task, a frame queue and awaitable reads: the right shape for a client
that sends and waits. A host serving hundreds of terminals pays for that on
every message -- a task switch to read, an event to wake the reader, another
task to write -- and on loopback those hops cost more than the frame itself.
Here the bytes go straight from ``data_received`` into the framer, each
complete frame is handed to the application's ``frame_received`` at once,
and :meth:`FrameChannel.send_frame` writes without awaiting: asyncio's write
buffer with ``pause_writing``/``resume_writing`` is the flow control (a peer
that stops reading stops being read).

Only the framings that need no link protocol of their own are served here
(length prefixes, and ``none``); STX with its ACK/NAK exchange stays on
``FramedConnection``. The behaviour matches it otherwise: frames in and out
are shown to the ``on_frame`` observer, a frame not completed within
``partial_timeout`` of its first byte is dropped (a slow-loris peer, a
corrupted length), and a fatal framing error (a length prefix that is not a
length) closes the connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable, Protocol

from possim.link.events import Frame, FrameError
from possim.link.framing import Framer, FramingError, get_framer
from possim.transport.base import ConnectionClosed, Server, TransportError

log = logging.getLogger(__name__)

FrameObserver = Callable[[str, bytes, str], None]

#: Framings that are plain byte framings (no acknowledgements), so they can run on callbacks.
CALLBACK_FRAMINGS = frozenset({"none", "len2", "len2i", "len4", "bcd2"})


class FrameHandler(Protocol):
    """The application's side of one connection."""

    def frame_received(self, payload: bytes) -> None: ...

    def connection_lost(self) -> None: ...


class FrameChannel(asyncio.Protocol):
    """One accepted connection: frames in through its handler, frames out with :meth:`send_frame`."""

    def __init__(self, server: FramedTcpServer) -> None:
        self._server = server
        self._framer: Framer = get_framer(server.framing)
        self._encode = get_framer(server.framing).encode
        self._transport: asyncio.Transport | None = None
        self._handler: FrameHandler | None = None
        self._closed = False
        self._paused_by: set[str] = set()
        self._partial_since: float | None = None
        self._partial_timer: asyncio.TimerHandle | None = None
        self.on_frame: FrameObserver | None = server.on_frame
        self.peer = "tcp://?"
        self.local = "tcp://?"
        self.frames_in = 0
        self.frames_out = 0

    # --- asyncio.Protocol ------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.peer = f"tcp://{peer[0]}:{peer[1]}" if peer else "tcp://?"
        self.local = f"tcp://{sock[0]}:{sock[1]}" if sock else "tcp://?"
        server = self._server
        server.accepted += 1
        server._channels.add(self)
        try:
            self._handler = server.factory(self)
        except Exception as exc:  # one connection's set-up must not stop the server
            server.errors.append(exc)
            log.warning("%s: handler failed: %s", self.peer, exc)
            self.close()

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            events = self._framer.feed(data)
        except FramingError as exc:  # fed again after a fatal error: the stream is lost
            self._fail(str(exc))
            return
        fatal: FrameError | None = None
        completed = False
        for event in events:
            if type(event) is Frame:
                completed = True
                self.frames_in += 1
                payload = event.payload
                if self.on_frame is not None:
                    self._observe("in", payload)
                self._deliver(payload)
                if self._closed:
                    return
            elif isinstance(event, FrameError):
                if event.fatal:
                    fatal = event
                else:
                    log.info("%s: %s", self.peer, event.message)
        if fatal is not None:
            self._fail(fatal.message)
            return
        if self._server.partial_timeout is not None:
            self._track_partial(completed)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._cancel_partial()
        self._server._channels.discard(self)
        for event in self._framer.end_of_stream():
            if isinstance(event, FrameError):
                log.info("%s: %s", self.peer, event.message)
        handler, self._handler = self._handler, None
        if handler is not None:
            try:
                handler.connection_lost()
            except Exception as err:  # noqa: BLE001 - logged; the server goes on
                self._server.errors.append(err)
                log.warning("%s: handler failed on close: %s", self.peer, err)

    def pause_writing(self) -> None:
        self.pause_reading("writing")

    def resume_writing(self) -> None:
        self.resume_reading("writing")

    # --- what the application calls ------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def send_frame(self, payload: bytes) -> None:
        """Frame and queue ``payload`` for writing (asyncio writes it as soon as the socket takes it)."""
        if self._closed or self._transport is None or self._transport.is_closing():
            raise ConnectionClosed(f"{self.peer}: write on a closed connection")
        data = self._encode(payload)
        self.frames_out += 1
        if self.on_frame is not None:
            self._observe("out", payload)
        self._transport.write(data)

    def pause_reading(self, reason: str = "application") -> None:
        """Stop reading from the peer until :meth:`resume_reading` with the same reason."""
        if not self._paused_by and self._transport is not None and not self._closed:
            self._transport.pause_reading()
        self._paused_by.add(reason)

    def resume_reading(self, reason: str = "application") -> None:
        self._paused_by.discard(reason)
        if not self._paused_by and self._transport is not None and not self._closed:
            self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # --- internals -------------------------------------------------------

    def _deliver(self, payload: bytes) -> None:
        handler = self._handler
        if handler is None:
            return
        try:
            handler.frame_received(payload)
        except Exception as exc:  # a handler bug ends this connection, never the server
            self._server.errors.append(exc)
            log.warning("%s: handler failed: %s", self.peer, exc)
            self.close()

    def _fail(self, message: str) -> None:
        log.info("%s: closing: %s", self.peer, message)
        self.close()

    def _observe(self, direction: str, payload: bytes) -> None:
        assert self.on_frame is not None
        try:
            self.on_frame(direction, payload, self.peer)
        except Exception:
            log.exception("%s: on_frame observer failed", self.peer)

    def _track_partial(self, completed: bool) -> None:
        """Time a frame from its first byte: one that never completes is dropped after ``partial_timeout``."""
        if not self._framer.buffered:
            self._partial_since = None
            return
        if self._partial_since is not None and not completed:
            return  # the same frame is still arriving
        loop = asyncio.get_running_loop()
        self._partial_since = loop.time()
        if self._partial_timer is None:
            timeout = self._server.partial_timeout
            assert timeout is not None
            self._partial_timer = loop.call_at(self._partial_since + timeout, self._partial_expired)

    def _partial_expired(self) -> None:
        self._partial_timer = None
        since, timeout = self._partial_since, self._server.partial_timeout
        if since is None or timeout is None or self._closed:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < since + timeout:  # a newer frame began since the timer was set
            self._partial_timer = loop.call_at(since + timeout, self._partial_expired)
            return
        self._partial_since = None
        for event in self._framer.abandon_partial():
            if isinstance(event, FrameError):
                log.info("%s: %s", self.peer, event.message)

    def _cancel_partial(self) -> None:
        if self._partial_timer is not None:
            self._partial_timer.cancel()
            self._partial_timer = None


class FramedTcpServer(Server):
    """Listens on TCP; each connection is a :class:`FrameChannel` whose frames go to ``factory(channel)``."""

    def __init__(self, factory: Callable[[FrameChannel], FrameHandler], framing: str, *,
                 on_frame: FrameObserver | None = None, partial_timeout: float | None = None) -> None:
        if framing not in CALLBACK_FRAMINGS:
            raise FramingError(f"framing {framing!r} cannot be served on callbacks; expected one of "
                               f"{', '.join(sorted(CALLBACK_FRAMINGS))}")
        self.factory = factory
        self.framing = framing
        self.on_frame = on_frame
        self.partial_timeout = partial_timeout
        self.accepted = 0
        self.errors: list[BaseException] = []
        self._channels: set[FrameChannel] = set()
        self._server: asyncio.base_events.Server | None = None
        self.host = ""
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: FrameChannel(self), host, port)
        except OSError as exc:
            raise TransportError(f"tcp://{host}:{port}: cannot listen ({exc.strerror or exc})") from None
        name = self._server.sockets[0].getsockname()
        self.host, self.port = name[0], name[1]
        self.url = f"tcp://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._channels)

    async def close(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        channels = list(self._channels)
        for channel in channels:
            channel.close()
        # Give the transports their turn to call connection_lost (they close on the next loop turn).
        for _ in range(3):
            if not self._channels:
                break
            await asyncio.sleep(0)
        for channel in list(self._channels):
            channel.abort()
        await server.wait_closed()


async def serve_framed_tcp(factory: Callable[[FrameChannel], FrameHandler], framing: str,
                           host: str, port: int, *, on_frame: FrameObserver | None = None,
                           partial_timeout: float | None = None) -> FramedTcpServer:
    """Listen on ``host:port`` (port 0 picks a free one) and serve framed connections on callbacks."""
    server = FramedTcpServer(factory, framing, on_frame=on_frame, partial_timeout=partial_timeout)
    await server.start(host, port)
    return server
