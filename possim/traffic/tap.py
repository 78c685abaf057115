"""The adapter a host, terminal or tap calls for every frame it moves.

This is the one place in the traffic layer that reads the clock: a link
reader knows a frame arrived *now*, and passes nothing else. Tests and
simulated-time runs give their own ``clock``.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

from possim.traffic.bus import TrafficBus
from possim.traffic.event import DialectLike, Direction, Role, TrafficEvent, make_event


class LinkTap:
    """Publishes the frames of one link (one connection or one serial port)."""

    def __init__(
        self,
        bus: TrafficBus,
        link: str,
        *,
        role: Role,
        dialect: DialectLike | None = None,
        framing: str | None = None,
        clock: Callable[[], float] = _time.time,
    ) -> None:
        self.bus = bus
        self.link = link
        self.role = role
        self.dialect = dialect
        self.framing = framing
        self._clock = clock

    def frame(self, direction: Direction, payload: bytes) -> TrafficEvent | None:
        """Publish one frame; None when nobody is subscribed (then nothing is decoded or kept).

        Skipping the decode when no one watches keeps a load test's host as
        fast as one run without ``--traffic``.
        """
        if not self.bus.subscriber_count:
            return None
        event = make_event(
            direction, payload, self.link,
            time=self._clock(), role=self.role, dialect=self.dialect, framing=self.framing,
        )
        return self.bus.publish(event)

    def inbound(self, payload: bytes) -> TrafficEvent | None:
        """A frame received by the publisher (unframed body)."""
        return self.frame("in", payload)

    def outbound(self, payload: bytes) -> TrafficEvent | None:
        """A frame sent by the publisher (unframed body)."""
        return self.frame("out", payload)
