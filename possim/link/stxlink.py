"""The ECR <-> terminal serial link: STX frames acknowledged by ACK, refused by NAK.

One side sends a frame and waits for ACK (06). NAK (15) or silence past the
ACK timeout makes it send the same frame again, up to ``max_retries`` more
times (3 by default, so at most 4 transmissions), after which the frame is
reported as failed. The receiving side ACKs every good frame, NAKs a frame
whose LRC is wrong, and reports EOT (04) as the end of an exchange.

Sans-IO in the h11 manner: the caller feeds received bytes and the current
time, collects the bytes to write with :meth:`StxLink.data_to_send`, and calls
:meth:`StxLink.handle_timeout` when :meth:`StxLink.next_deadline` has passed.
Nothing here reads a clock, so tests drive time by hand.

A zero-length frame is a keep-alive: it is ACKed like any frame (the sender
waits for that ACK) and reported, but never answered with a keep-alive of our
own, so two peers cannot ping-pong. Only LRC errors are NAKed: a broken ETX
usually means the STX was line noise, and NAKing noise would make the peer
resend a frame it may never have sent; a genuinely lost frame is recovered by
the sender's ACK timeout.
"""

from __future__ import annotations

from collections import deque

from possim.errors import PossimError
from possim.link.events import (
    ACK,
    EOT,
    NAK,
    Control,
    Delivered,
    EndOfTransmission,
    Frame,
    FrameError,
    KeepAlive,
    LinkEvent,
    Retrying,
    SendFailed,
)
from possim.link.framing import StxFramer


class LinkBusy(PossimError):
    """Too many frames queued on an STX link that is not getting them acknowledged."""


class StxLink:
    """One end of an STX/ACK/NAK link (either end: the protocol is symmetric)."""

    def __init__(self, *, ack_timeout: float = 2.0, max_retries: int = 3,
                 frame_timeout: float | None = 1.0, max_queue: int = 64) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.frame_timeout = frame_timeout
        self.max_queue = max_queue
        self._rx = StxFramer()
        self._encoder = StxFramer()
        self._out = bytearray()
        self._queue: deque[bytes] = deque()
        self._inflight: bytes | None = None
        self._attempts = 0
        self._ack_deadline: float | None = None
        self._frame_deadline: float | None = None

    # --- sending ---------------------------------------------------------

    def send(self, payload: bytes, now: float) -> None:
        """Queue a frame; it goes out as soon as every earlier frame was ACKed or failed."""
        self._encoder.encode(payload)  # reject oversize frames now, not when dequeued
        if len(self._queue) >= self.max_queue:
            raise LinkBusy(f"stx link: {len(self._queue)} frames already queued awaiting ACK")
        self._queue.append(bytes(payload))
        if self._inflight is None:
            self._next(now)

    def send_keepalive(self, now: float) -> None:
        self.send(b"", now)

    def send_eot(self) -> None:
        """Write EOT now (it is never acknowledged)."""
        self._out.append(EOT)

    def data_to_send(self) -> bytes:
        """Bytes the caller must write to the line now."""
        data = bytes(self._out)
        self._out.clear()
        return data

    @property
    def awaiting_ack(self) -> bytes | None:
        """The frame sent and not yet ACKed, if any."""
        return self._inflight

    @property
    def idle(self) -> bool:
        return self._inflight is None and not self._queue

    # --- receiving -------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[LinkEvent]:
        events = self._handle(self._rx.feed(data), now)
        self._frame_deadline = (now + self.frame_timeout
                                if self.frame_timeout is not None and self._rx.in_frame else None)
        return events

    def end_of_stream(self, now: float) -> list[LinkEvent]:
        """The line closed: report a partial frame and fail whatever was waiting for an ACK."""
        events = self._rx.end_of_stream()
        if self._inflight is not None:
            events.append(SendFailed(self._inflight, self._attempts, "closed"))
        events.extend(SendFailed(payload, 0, "closed") for payload in self._queue)
        self._inflight = None
        self._queue.clear()
        self._ack_deadline = self._frame_deadline = None
        return events

    # --- time ------------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self._ack_deadline, self._frame_deadline) if d is not None]
        return min(deadlines) if deadlines else None

    def handle_timeout(self, now: float) -> list[LinkEvent]:
        events: list[LinkEvent] = []
        if self._frame_deadline is not None and now >= self._frame_deadline:
            self._frame_deadline = None
            events += self._handle(self._rx.abandon_partial(), now)
            if self._rx.in_frame and self.frame_timeout is not None:
                self._frame_deadline = now + self.frame_timeout
        if self._ack_deadline is not None and now >= self._ack_deadline:
            events += self._retry("timeout", now)
        return events

    # --- internals -------------------------------------------------------

    def _handle(self, incoming: list[LinkEvent], now: float) -> list[LinkEvent]:
        events: list[LinkEvent] = []
        for event in incoming:
            if isinstance(event, (Frame, KeepAlive)):
                self._out.append(ACK)
                events.append(event)
            elif isinstance(event, FrameError) and event.kind == "lrc":
                self._out.append(NAK)
                events.append(event)
            elif isinstance(event, Control) and event.byte == EOT:
                events.append(EndOfTransmission(event.offset))
            elif isinstance(event, Control) and self._inflight is not None and event.byte == ACK:
                events.append(Delivered(self._inflight, self._attempts))
                self._next(now)
            elif isinstance(event, Control) and self._inflight is not None and event.byte == NAK:
                events += self._retry("nak", now)
            else:
                events.append(event)  # noise, stray ACK/NAK, framing errors: reported, not acted on
        return events

    def _retry(self, reason: str, now: float) -> list[LinkEvent]:
        payload = self._inflight
        if payload is None:
            self._ack_deadline = None
            return []
        if self._attempts > self.max_retries:
            failed = SendFailed(payload, self._attempts, reason)
            self._next(now)
            return [failed]
        self._attempts += 1
        self._transmit(now)
        return [Retrying(payload, self._attempts, reason)]

    def _next(self, now: float) -> None:
        self._inflight = self._queue.popleft() if self._queue else None
        self._attempts = 0
        self._ack_deadline = None
        if self._inflight is not None:
            self._attempts = 1
            self._transmit(now)

    def _transmit(self, now: float) -> None:
        assert self._inflight is not None
        self._out += self._encoder.encode(self._inflight)
        self._ack_deadline = now + self.ack_timeout
