"""Many requests in flight on one framed link, each answered by its own response (QMUX style).

The matching itself is the sans-IO :class:`possim.link.mux.Mux`; this wrapper
only adds the reader and timer tasks and the futures callers await. Decoding
is passed in (``decode=dialect.decode``) so the transport layer does not depend
on any one dialect. Whatever is not an awaited response — late responses,
unsolicited ones, requests the peer started, frames that did not decode — is
queued for :meth:`MuxedConnection.next_unmatched` and shown to ``on_unmatched``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import Any, Callable

from possim.errors import PossimError
from possim.link.mux import Expired, Matched, Mux, MuxEvent
from possim.transport.base import ConnectionClosed
from possim.transport.framed import FramedConnection

log = logging.getLogger(__name__)


class RequestTimeout(PossimError):
    """No response arrived before the request's deadline."""


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A received frame the decoder rejected; kept with the reason rather than dropped."""

    payload: bytes
    error: str
    received_at: float


Unmatched = MuxEvent | Undecodable


class MuxedConnection:
    def __init__(self, conn: FramedConnection, *, encode: Callable[[Any], bytes],
                 decode: Callable[[bytes], Any], mux: Mux | None = None,
                 on_unmatched: Callable[[Unmatched], None] | None = None) -> None:
        self.conn = conn
        self.encode = encode
        self.decode = decode
        self.mux = mux or Mux()
        self.on_unmatched = on_unmatched
        self._unmatched: collections.deque[Unmatched] = collections.deque()
        self._unmatched_ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._ended: BaseException | None = None

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reader(), name=f"possim-mux-reader {self.conn.link}"),
                       loop.create_task(self._timer(), name=f"possim-mux-timer {self.conn.link}")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._fail_all(ConnectionClosed(f"{self.conn.link}: closed while awaiting a response"))
        await self.conn.close()

    async def __aenter__(self) -> "MuxedConnection":
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(self, message: Any, timeout: float | None = None) -> Any:
        """Send ``message`` and return its response; :class:`RequestTimeout` past the deadline."""
        self.start()
        if self._ended is not None:
            raise ConnectionClosed(f"{self.conn.link}: {self._ended}")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        key = self.mux.request(message, loop.time(), timeout=timeout, context=waiter)
        self._wake.set()
        try:
            await self.conn.send_frame(self.encode(message))
        except BaseException:
            self.mux.cancel(key)
            raise
        return await waiter

    async def send(self, message: Any) -> None:
        """Send without waiting for an answer (responses, advices the peer does not answer)."""
        self.start()
        await self.conn.send_frame(self.encode(message))

    async def next_unmatched(self) -> Unmatched:
        """The next late/unsolicited response, peer request or undecodable frame."""
        self.start()
        while not self._unmatched:
            if self._ended is not None:
                raise ConnectionClosed(f"{self.conn.link}: {self._ended}")
            self._unmatched_ready.clear()
            await self._unmatched_ready.wait()
        return self._unmatched.popleft()

    async def _reader(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                payload = await self.conn.recv_frame()
                now = loop.time()
                try:
                    message = self.decode(payload)
                except PossimError as exc:
                    self._report(Undecodable(payload, str(exc), now))
                    continue
                self._handle(self.mux.receive(message, now))
                self._wake.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._ended = exc
            self._fail_all(exc if isinstance(exc, PossimError) else ConnectionClosed(str(exc)))
            self._unmatched_ready.set()

    async def _timer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            deadline = self.mux.next_deadline()
            if deadline is None:
                await self._wake.wait()
                continue
            try:
                async with asyncio.timeout_at(deadline):
                    await self._wake.wait()
                continue
            except TimeoutError:
                pass
            self._handle(self.mux.expire(loop.time()))

    def _handle(self, events: list[MuxEvent]) -> None:
        for event in events:
            if isinstance(event, Matched):
                waiter = event.context
                if isinstance(waiter, asyncio.Future) and not waiter.done():
                    waiter.set_result(event.response)
            elif isinstance(event, Expired):
                waiter = event.context
                if isinstance(waiter, asyncio.Future) and not waiter.done():
                    waiter.set_exception(RequestTimeout(
                        f"{self.conn.link}: no response to {getattr(event.request, 'mti', 'request')} "
                        f"key {event.key!r} within {event.deadline - event.sent_at:g}s"))
            else:
                self._report(event)

    def _report(self, event: Unmatched) -> None:
        self._unmatched.append(event)
        self._unmatched_ready.set()
        if self.on_unmatched is not None:
            try:
                self.on_unmatched(event)
            except Exception:
                log.exception("%s: on_unmatched observer failed", self.conn.link)

    def _fail_all(self, exc: BaseException) -> None:
        for _key, _request, waiter in self.mux.cancel_all():
            if isinstance(waiter, asyncio.Future) and not waiter.done():
                waiter.set_exception(exc)
