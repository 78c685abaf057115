"""``possim demo --tui``: the same run as ``possim demo``, watched in the traffic TUI.

The demo runs on a thread of its own and publishes every frame on a bus the
screen reads; the live log goes to a buffer and is printed when the screen
closes, so the terminal shows the TUI while it runs and the summary after.
"""

from __future__ import annotations

import io
import sys
import tempfile
import threading
from pathlib import Path

from possim.demo.run import DemoOutcome, Pace, run_demo
from possim.traffic import TrafficBus

FINISH_WAIT = 120.0  # seconds to let the run finish after the screen closes (the pauses are cut short)


class DemoRunSource:
    """A TUI source that subscribes to the demo's bus first, then starts the run, so no frame is missed."""

    def __init__(self, bus: TrafficBus, run: threading.Thread) -> None:
        from possim.tui.sources import BusSource

        self._bus_source = BusSource(bus, "possim demo: host and terminal in-process over loopback TCP")
        self.description = self._bus_source.description
        self._run = run

    def start(self, deliver, on_end) -> None:  # type: ignore[no-untyped-def] - the TUI's Source protocol
        self._bus_source.start(deliver, on_end)
        self._run.start()

    def stop(self) -> None:
        self._bus_source.stop()


class DemoRun:
    """The demo on its own thread, its log buffered, and the TUI app that watches it."""

    def __init__(self, workdir: Path, *, unmask: bool = False, pace: float = 1.0) -> None:
        from possim.tui.app import TrafficApp

        self.bus = TrafficBus()
        self.log = io.StringIO()
        self.pace = Pace(pace)
        self.outcome: DemoOutcome | BaseException | None = None
        self.thread = threading.Thread(target=self._work, args=(workdir, unmask), name="possim-demo", daemon=True)
        self.app = TrafficApp(DemoRunSource(self.bus, self.thread), unmask=unmask, cases_db=workdir / "host.db")

    def _work(self, workdir: Path, unmask: bool) -> None:
        try:
            self.outcome = run_demo(self.log, unmask=unmask, bus=self.bus, pace=self.pace, workdir=workdir)
        except BaseException as exc:  # noqa: BLE001 - reported after the screen closes
            self.outcome = exc

    def finish(self, timeout: float = FINISH_WAIT) -> None:
        """After the screen closed: cut the pauses short and let the run end."""
        self.pace.stop()
        if self.thread.ident is not None:
            self.thread.join(timeout)


def watch_demo(*, unmask: bool = False, pace: float = 1.0) -> int:
    with tempfile.TemporaryDirectory(prefix="possim-demo-") as tmp:
        run = DemoRun(Path(tmp), unmask=unmask, pace=pace)
        run.app.run()
        run.finish()
    sys.stdout.write(run.log.getvalue())
    if isinstance(run.outcome, BaseException):
        print(f"possim: the demo stopped: {run.outcome}", file=sys.stderr)
        return 1
    return 0 if run.outcome is not None and run.outcome.ok else 1
