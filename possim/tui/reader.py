"""Readers that move traffic from a source to the screen in batches.

Repainting per event would fall behind at a few hundred messages a second,
so a reader runs off the UI's event loop, collects what arrives for a short
interval (default 50 ms) and hands the whole batch over at once -- the
Toolong/Posting pattern of a reader thread posting typed messages. Two
sources exist: a ``TrafficBus`` in this process (``--demo``, ``--tap``) and
a ``--traffic`` socket of another process (``--attach``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from possim.errors import PossimError
from possim.traffic import Subscription, TrafficEvent, attach

Deliver = Callable[[list[TrafficEvent], int], None]  # (batch, source's running dropped count)
DEFAULT_INTERVAL = 0.05


def read_subscription(sub: Subscription, deliver: Deliver, stop: threading.Event, *,
                      interval: float = DEFAULT_INTERVAL) -> None:
    """Pull from a bus subscription until ``stop`` is set or the bus closes.

    Blocks in ``get`` while the link is idle (so idling costs nothing); once
    an event arrives, lets the batch fill for the rest of the interval, then
    delivers everything queued at once. The subscription's own bound caps a batch.
    """
    last = 0.0
    while not stop.is_set():
        first = sub.get(timeout=interval)
        if first is None:
            if sub.closed:
                break
            continue
        wait = interval - (time.monotonic() - last)
        if wait > 0:
            stop.wait(wait)
        batch = [first, *sub.drain()]
        deliver(batch, sub.dropped)
        last = time.monotonic()


class AttachReader:
    """Reads a ``--traffic`` socket on its own thread and event loop.

    Decoding each JSON line (and re-decoding its frame with the dialect) is
    the expensive part of attaching, so it happens here, never on the UI loop.
    """

    def __init__(self, url: str, deliver: Deliver, *, interval: float = DEFAULT_INTERVAL,
                 on_end: Callable[[str | None], None] | None = None) -> None:
        self.url = url
        self._deliver = deliver
        self._interval = interval
        self._on_end = on_end
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    def run(self) -> None:
        """The thread body: returns when the server ends the stream or ``stop`` is called."""
        self._loop = asyncio.new_event_loop()
        reason: str | None = None
        try:
            self._task = self._loop.create_task(self._main())
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            reason = None
        except PossimError as exc:
            reason = str(exc)
        finally:
            self._loop.close()
        if self._on_end is not None:
            self._on_end(reason)

    async def _main(self) -> None:
        batch: list[TrafficEvent] = []
        attachment = attach(self.url)
        await attachment.connect()
        done = asyncio.Event()

        async def pull() -> None:
            try:
                async for event in attachment:
                    batch.append(event)
            finally:
                done.set()

        puller = asyncio.create_task(pull())
        try:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(done.wait(), self._interval)
                except TimeoutError:
                    pass
                if batch:
                    out = batch[:]
                    batch.clear()
                    self._deliver(out, attachment.server_dropped)
                if done.is_set():
                    break
        finally:
            puller.cancel()
            await asyncio.gather(puller, return_exceptions=True)
            await attachment.close()
        if puller.done() and not puller.cancelled() and puller.exception() is not None:
            raise puller.exception()  # type: ignore[misc]
        if done.is_set() and not self._stop.is_set():
            raise PossimError(f"traffic URL {self.url}: the server ended the stream")

    def stop(self) -> None:
        self._stop.set()
