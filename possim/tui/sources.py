"""Where the screen's traffic comes from, behind one small interface.

The app calls ``start(deliver, on_end)`` once mounted and ``stop()`` on the
way out; each source runs its reader on its own daemon thread, so a stuck
socket never freezes the screen and quitting never waits on the network.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from possim.traffic import Subscription, TrafficBus
from possim.tui.reader import DEFAULT_INTERVAL, AttachReader, Deliver, read_subscription

if TYPE_CHECKING:
    from possim.tui.background import LoopThread
    from possim.tui.tap import TapServer

OnEnd = Callable[[str | None], None]  # why the source ended (None: stopped on purpose)
SUBSCRIPTION_SIZE = 50_000


class Source(Protocol):
    description: str

    def start(self, deliver: Deliver, on_end: OnEnd) -> None: ...

    def stop(self) -> None: ...


class BusSource:
    """A ``TrafficBus`` in this process (the demo's or the tap's)."""

    def __init__(self, bus: TrafficBus, description: str = "traffic bus", *,
                 maxsize: int = SUBSCRIPTION_SIZE, interval: float = DEFAULT_INTERVAL) -> None:
        self.bus = bus
        self.description = description
        self._maxsize = maxsize
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.subscription: Subscription | None = None

    def start(self, deliver: Deliver, on_end: OnEnd) -> None:
        # subscribe here, not in the thread, so nothing published after start() is missed
        self.subscription = self.bus.subscribe(maxsize=self._maxsize)
        sub = self.subscription

        def body() -> None:
            read_subscription(sub, deliver, self._stop, interval=self._interval)
            on_end(None if self._stop.is_set() else "the traffic bus closed")

        self._thread = threading.Thread(target=body, name="possim-tui-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.subscription is not None:
            self.subscription.close()
        if self._thread is not None:
            self._thread.join(timeout=2)


class AttachSource:
    """The ``--traffic`` socket of a running ``possim host`` or ``possim terminal``."""

    def __init__(self, url: str, *, interval: float = DEFAULT_INTERVAL) -> None:
        self.url = url
        self.description = f"attached to {url}"
        self._interval = interval
        self._reader: AttachReader | None = None
        self._thread: threading.Thread | None = None

    def start(self, deliver: Deliver, on_end: OnEnd) -> None:
        self._reader = AttachReader(self.url, deliver, interval=self._interval, on_end=on_end)
        self._thread = threading.Thread(target=self._reader.run, name="possim-tui-attach", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.stop()
        if self._thread is not None:
            self._thread.join(timeout=2)


class TapSource:
    """``--tap LISTEN UPSTREAM``: the proxy runs on its own loop and publishes on a bus the screen reads."""

    def __init__(self, listen: str, upstream: str, *, dialect: str = "cup-pos", framing: str | None = None) -> None:
        from possim.iso8583 import get_dialect

        self.dialect = get_dialect(dialect)
        self.framing = framing or self.dialect.default_framing
        self.listen = listen
        self.upstream = upstream
        self.bus = TrafficBus()
        self.description = f"tap {listen} → {upstream} ({self.dialect.name}, {self.framing})"
        self._loop: LoopThread | None = None
        self._tap: TapServer | None = None
        self._reader = BusSource(self.bus, self.description)

    def open(self) -> str:
        """Start listening now (so a bad URL is reported before the screen opens); returns the URL."""
        from possim.tui.background import LoopThread
        from possim.tui.tap import TapServer

        loop = LoopThread("possim-tui-tap")
        tap = TapServer(self.listen, self.upstream, self.bus, dialect=self.dialect, framing=self.framing)
        try:
            url = loop.run(tap.start())
        except BaseException:
            loop.close()
            raise
        self._loop, self._tap = loop, tap
        self.description = f"tap {url} → {self.upstream} ({self.dialect.name}, {self.framing})"
        self._reader.description = self.description
        return url

    def start(self, deliver: Deliver, on_end: OnEnd) -> None:
        if self._tap is None:
            self.open()
        self._reader.start(deliver, on_end)

    def stop(self) -> None:
        self._reader.stop()
        loop, tap = self._loop, self._tap
        if loop is not None and tap is not None:
            try:
                loop.run(tap.close(), timeout=5)
            finally:
                loop.close()
        self._loop = self._tap = None
