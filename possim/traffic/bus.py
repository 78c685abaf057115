"""The traffic bus: publishers never wait for subscribers.

A host answering a terminal must not slow down because a TUI is repainting or
a recorder is writing to a slow disk. Each subscriber therefore gets its own
bounded queue; when it falls behind, the oldest events are dropped and
counted. Publishers may be asyncio tasks or serial reader threads, so all
state sits behind a lock and asyncio readers are woken with
``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator

from possim.errors import PossimError
from possim.traffic.event import TrafficEvent
from possim.traffic.pairing import RequestPairer

DEFAULT_MAXSIZE = 1000


class Subscription:
    """One subscriber's bounded, drop-oldest view of the bus.

    Read it synchronously (``get``, iteration) from a thread, or with
    ``await aget()`` / ``async for`` from an event loop. ``dropped`` counts the
    events lost because this reader fell behind.
    """

    def __init__(self, bus: TrafficBus, maxsize: int) -> None:
        if maxsize < 1:
            raise PossimError(f"subscription maxsize: expected at least 1, got {maxsize}")
        self._bus = bus
        self._items: deque[TrafficEvent] = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition(threading.Lock())
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._closed = False
        self.dropped = 0

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    # called by the bus, under the bus lock; never blocks
    def _offer(self, event: TrafficEvent) -> None:
        with self._cond:
            if self._closed:
                return
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(event)
            self._wake_locked()

    def _wake_locked(self) -> None:
        self._cond.notify_all()
        waiters, self._async_waiters = self._async_waiters, []
        for loop, flag in waiters:
            try:
                loop.call_soon_threadsafe(flag.set)
            except RuntimeError:  # that loop is closed; its reader is gone
                pass

    def get_nowait(self) -> TrafficEvent | None:
        with self._cond:
            return self._items.popleft() if self._items else None

    def get(self, timeout: float | None = None) -> TrafficEvent | None:
        """Next event; None on timeout or once closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed, timeout)
            return self._items.popleft() if self._items else None

    def drain(self) -> list[TrafficEvent]:
        """Everything queued now, oldest first."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            return items

    async def aget(self) -> TrafficEvent | None:
        """Next event for an asyncio reader; None once closed and empty."""
        loop = asyncio.get_running_loop()
        while True:
            with self._cond:
                if self._items:
                    return self._items.popleft()
                if self._closed:
                    return None
                flag = asyncio.Event()
                self._async_waiters.append((loop, flag))
            await flag.wait()

    def __iter__(self) -> Iterator[TrafficEvent]:
        while True:
            event = self.get()
            if event is None:
                return
            yield event

    async def __aiter__(self) -> AsyncIterator[TrafficEvent]:
        while True:
            event = await self.aget()
            if event is None:
                return
            yield event

    def close(self) -> None:
        """Stop receiving; readers get what is queued, then end-of-stream."""
        self._bus._unsubscribe(self)
        self._close_local()

    def _close_local(self) -> None:
        with self._cond:
            self._closed = True
            self._wake_locked()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TrafficBus:
    """Fan-out of traffic events to any number of subscriptions.

    ``publish`` stamps the sequence number and, for a response that matches
    an earlier request, the latency; every subscriber sees events in one
    order, the order of publishing.
    """

    def __init__(self, pairer: RequestPairer | None = None) -> None:
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._seq = 0
        self._pairer = pairer if pairer is not None else RequestPairer()
        self._closed = False

    def subscribe(self, maxsize: int = DEFAULT_MAXSIZE) -> Subscription:
        sub = Subscription(self, maxsize)
        with self._lock:
            if self._closed:
                sub._close_local()
            else:
                self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, event: TrafficEvent) -> TrafficEvent:
        """Stamp and deliver; returns the stamped event. Never blocks on readers."""
        with self._lock:
            self._seq += 1
            latency = self._pairer.observe(event)
            stamped = dataclasses.replace(
                event, seq=self._seq, latency_ms=latency if latency is not None else event.latency_ms
            )
            if not self._closed:
                for sub in self._subs:
                    sub._offer(stamped)
        return stamped

    def close(self) -> None:
        """End every subscription (readers drain, then see end-of-stream)."""
        with self._lock:
            self._closed = True
            subs, self._subs = self._subs, []
        for sub in subs:
            sub._close_local()
