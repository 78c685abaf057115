"""When to send a keep-alive (a zero-length frame) on an idle link.

The rule that prevents ping-pong: a keep-alive is sent only because *this* side
has been idle for ``interval``, never in answer to one, and any traffic in
either direction (a received keep-alive included) counts as activity. Two
peers with the same interval therefore settle into one keep-alive each per
interval instead of echoing each other.
"""

from __future__ import annotations


class KeepAliveTimer:
    def __init__(self, interval: float, now: float) -> None:
        if interval <= 0:
            raise ValueError("keep-alive interval must be positive")
        self.interval = interval
        self._last = now

    def activity(self, now: float) -> None:
        """Any frame sent or received, keep-alives included."""
        self._last = max(self._last, now)

    def next_deadline(self) -> float:
        return self._last + self.interval

    def due(self, now: float) -> bool:
        return now >= self.next_deadline()
