"""A transport plus a framer: whole messages in and out of any byte stream.

This is where the sans-IO link layer meets real I/O and a real clock. A pump
task reads the transport and feeds the framer (or, for ``stx``, the
ACK/NAK link state machine); a timer task serves the link's deadlines (ACK
timeouts, a frame cut short) and, when asked for, idle keep-alives, using the
event loop's monotonic clock. Received frames wait in a bounded buffer, so a
slow reader slows the peer down instead of growing memory.

Every frame in either direction is shown to ``on_frame(direction, payload,
link)`` (the traffic bus hooks in there); everything else the link reports
(noise, keep-alives, retries, framing errors) goes to ``on_event(event, link)``.
Both callbacks are observers: an exception they raise is logged, never allowed
to break the link.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Callable

from possim.errors import PossimError
from possim.link.events import (
    Delivered,
    Frame,
    FrameError,
    KeepAlive,
    LinkEvent,
    SendFailed,
)
from possim.link.framing import Framer, FramingError, get_framer
from possim.link.keepalive import KeepAliveTimer
from possim.link.stxlink import StxLink
from possim.transport.base import ConnectionClosed, Transport

log = logging.getLogger(__name__)

FrameObserver = Callable[[str, bytes, str], None]
EventObserver = Callable[[LinkEvent, str], None]


class FrameNotAcknowledged(PossimError):
    """An STX frame the peer never ACKed within the allowed retries."""


class FramedConnection:
    """Send and receive whole frames over a :class:`Transport`.

    ``framing`` is a name from :func:`possim.link.framing.list_framings`.
    For ``stx`` the ACK/NAK protocol runs underneath: :meth:`send_frame`
    returns once the peer ACKed, and raises :class:`FrameNotAcknowledged`
    after ``max_retries`` resends.
    """

    def __init__(self, transport: Transport, framing: str = "len2", *, link: str | None = None,
                 on_frame: FrameObserver | None = None, on_event: EventObserver | None = None,
                 keepalive: float | None = None, ack_timeout: float = 2.0, max_retries: int = 3,
                 frame_timeout: float = 1.0, max_pending: int = 1024, partial_timeout: float | None = None) -> None:
        self.transport = transport
        self.framing = framing
        self.link = link or transport.peer
        self.on_frame = on_frame
        self.on_event = on_event
        self._stx: StxLink | None = None
        self._framer: Framer | None = None
        self._encoder: Framer | None = None
        if framing == "stx":
            self._stx = StxLink(ack_timeout=ack_timeout, max_retries=max_retries, frame_timeout=frame_timeout)
        else:
            self._framer = get_framer(framing)
            self._encoder = get_framer(framing)
        if keepalive is not None and framing == "none":
            raise FramingError("none: a bare stream has no keep-alive frame")
        self._keepalive_interval = keepalive
        self._keepalive: KeepAliveTimer | None = None
        # length-prefix framings: a frame not completed this long after its first byte is dropped
        # (a slow-loris peer, a corrupted length on a serial line); stx has its own frame timer
        self._partial_timeout = partial_timeout if self._framer is not None else None
        self._partial_since: float | None = None
        self._frames: collections.deque[bytes] = collections.deque()
        self._max_pending = max_pending
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._acks: collections.deque[asyncio.Future[None] | None] = collections.deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._ended: BaseException | None = None
        self._closed = False
        self.frames_in = 0
        self.frames_out = 0
        # Start pumping at once when created inside a running loop: an STX peer expects its ACK
        # even before the application asks for a frame.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            self.start()

    # --- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Start the pump and timer tasks (done on first use; needs a running loop)."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        if self._keepalive_interval is not None:
            self._keepalive = KeepAliveTimer(self._keepalive_interval, loop.time())
        self._tasks = [loop.create_task(self._pump(), name=f"possim-pump {self.link}")]
        if self._stx is not None or self._keepalive is not None or self._partial_timeout is not None:
            self._tasks.append(loop.create_task(self._timer(), name=f"possim-timer {self.link}"))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        others = [t for t in self._tasks if t is not current]
        try:
            if others:
                await asyncio.gather(*others, return_exceptions=True)
        finally:  # even when this close is itself cancelled half-way, the stream is released
            self._end(ConnectionClosed(f"{self.link}: closed"))
            await self.transport.close()

    async def __aenter__(self) -> "FramedConnection":
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self._closed or self._ended is not None

    # --- the API ---------------------------------------------------------

    async def send_frame(self, payload: bytes) -> None:
        """Frame and write ``payload``; for ``stx``, wait for the peer's ACK."""
        self.start()
        if self._ended is not None:
            raise ConnectionClosed(f"{self.link}: {self._ended}")
        payload = bytes(payload)
        loop = asyncio.get_running_loop()
        if self._stx is not None:
            waiter: asyncio.Future[None] = loop.create_future()
            self._stx.send(payload, loop.time())
            self._acks.append(waiter)
            self._observe_frame("out", payload)
            await self._flush()
            self._wake.set()
            await waiter
            return
        assert self._encoder is not None
        data = self._encoder.encode(payload)
        self._observe_frame("out", payload)
        await self._write(data)
        if self._keepalive is not None:
            self._keepalive.activity(loop.time())

    async def recv_frame(self) -> bytes:
        """The next received frame's payload; :class:`ConnectionClosed` once the stream ends."""
        self.start()
        while not self._frames:
            if self._ended is not None:
                raise ConnectionClosed(f"{self.link}: {self._ended}") from (
                    self._ended if not isinstance(self._ended, ConnectionClosed) else None)
            self._readable.clear()
            await self._readable.wait()
        payload = self._frames.popleft()
        if len(self._frames) < self._max_pending:
            self._room.set()
        return payload

    # --- internals -------------------------------------------------------

    async def _write(self, data: bytes) -> None:
        if not data:
            return
        async with self._write_lock:
            await self.transport.write(data)

    async def _flush(self) -> None:
        if self._stx is not None:
            await self._write(self._stx.data_to_send())

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        reason: BaseException = ConnectionClosed(f"{self.link}: peer closed the link")
        try:
            while True:
                data = await self.transport.read(65536)
                now = loop.time()
                if not data:
                    ending = (self._stx.end_of_stream(now) if self._stx is not None
                              else self._framer.end_of_stream() if self._framer is not None else [])
                    await self._dispatch(ending, now)
                    break
                events = (self._stx.receive_data(data, now) if self._stx is not None
                          else self._framer.feed(data) if self._framer is not None else [])
                await self._dispatch(events, now)
                await self._flush()
                if self._partial_timeout is not None and self._framer is not None:
                    if not self._framer.buffered:
                        self._partial_since = None
                    elif self._partial_since is None or any(isinstance(e, Frame) for e in events):
                        self._partial_since = now  # a new frame has begun
                self._wake.set()
                fatal = next((e for e in events if isinstance(e, FrameError) and e.fatal), None)
                if fatal is not None:
                    reason = FramingError(fatal.message)
                    break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = exc
        self._end(reason)

    async def _timer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadlines = []
            if self._stx is not None and (d := self._stx.next_deadline()) is not None:
                deadlines.append(d)
            if self._keepalive is not None:
                deadlines.append(self._keepalive.next_deadline())
            if self._partial_since is not None and self._partial_timeout is not None:
                deadlines.append(self._partial_since + self._partial_timeout)
            self._wake.clear()
            if not deadlines:
                await self._wake.wait()
                continue
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel that races a wake-up.
            try:
                async with asyncio.timeout_at(min(deadlines)):
                    await self._wake.wait()
                continue  # something changed: recompute deadlines
            except TimeoutError:
                pass
            now = loop.time()
            if (self._partial_since is not None and self._partial_timeout is not None and self._framer is not None
                    and now >= self._partial_since + self._partial_timeout):
                self._partial_since = None
                await self._dispatch(self._framer.abandon_partial(), now)
            if self._stx is not None:
                await self._dispatch(self._stx.handle_timeout(now), now)
                await self._flush()
            if self._keepalive is not None and self._keepalive.due(now) and self._ended is None:
                self._keepalive.activity(now)
                if self._stx is not None:
                    if self._stx.idle:
                        self._stx.send_keepalive(now)
                        self._acks.append(None)
                        await self._flush()
                else:
                    assert self._encoder is not None
                    try:
                        await self._write(self._encoder.keepalive())
                    except ConnectionClosed:
                        return

    async def _dispatch(self, events: list[LinkEvent], now: float) -> None:
        for event in events:
            if isinstance(event, Frame):
                self.frames_in += 1
                self._observe_frame("in", event.payload)
                if self._keepalive is not None:
                    self._keepalive.activity(now)
                while len(self._frames) >= self._max_pending:
                    self._room.clear()
                    await self._room.wait()
                self._frames.append(event.payload)
                self._readable.set()
                continue
            if isinstance(event, KeepAlive) and self._keepalive is not None:
                self._keepalive.activity(now)  # hearing one means we need not send one: no ping-pong
            if isinstance(event, (Delivered, SendFailed)) and self._acks:
                waiter = self._acks.popleft()
                if waiter is not None and not waiter.done():
                    if isinstance(event, Delivered):
                        self.frames_out += 1
                        waiter.set_result(None)
                    else:
                        waiter.set_exception(FrameNotAcknowledged(
                            f"{self.link}: frame of {len(event.payload)} bytes not acknowledged after "
                            f"{event.attempts} attempts ({event.reason})"))
            self._observe_event(event)

    def _end(self, reason: BaseException) -> None:
        if self._ended is None:
            self._ended = reason
        self._readable.set()
        self._room.set()
        while self._acks:
            waiter = self._acks.popleft()
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionClosed(f"{self.link}: closed before the frame was ACKed"))

    def _observe_frame(self, direction: str, payload: bytes) -> None:
        if direction == "out" and self._stx is None:
            self.frames_out += 1
        if self.on_frame is None:
            return
        try:
            self.on_frame(direction, payload, self.link)
        except Exception:
            log.exception("%s: on_frame observer failed", self.link)

    def _observe_event(self, event: LinkEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event, self.link)
        except Exception:
            log.exception("%s: on_event observer failed", self.link)
