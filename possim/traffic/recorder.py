"""Recorders: a bus subscriber that writes every event to a file.

The writing happens on the recorder's own thread so a slow disk only ever
costs the recorder (its subscription drops the oldest events and counts
them), never the host or terminal that publishes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from possim.traffic.bus import DEFAULT_MAXSIZE, TrafficBus
from possim.traffic.event import TrafficEvent
from possim.traffic.jsonl import JsonlWriter
from possim.traffic.pcap import PcapWriter


class EventWriter(Protocol):
    def write(self, event: TrafficEvent) -> None: ...

    def close(self) -> None: ...


class Recorder:
    """Pumps a bus subscription into a writer until stopped."""

    def __init__(self, bus: TrafficBus, writer: EventWriter, *, maxsize: int = DEFAULT_MAXSIZE) -> None:
        self.writer = writer
        self._sub = bus.subscribe(maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name="possim-traffic-recorder", daemon=True)
        self._error: BaseException | None = None
        self._thread.start()

    @property
    def dropped(self) -> int:
        return self._sub.dropped

    def _run(self) -> None:
        try:
            for event in self._sub:
                self.writer.write(event)
        except BaseException as exc:  # surfaced by stop(); a recorder must not kill the publisher
            self._error = exc
            self._sub.close()

    def stop(self) -> None:
        """Write what is queued, close the file; re-raise a write failure."""
        self._sub.close()
        self._thread.join()
        self.writer.close()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def record_jsonl(bus: TrafficBus, path: str | Path, *, unmask: bool = False,
                 maxsize: int = DEFAULT_MAXSIZE) -> Recorder:
    return Recorder(bus, JsonlWriter(path, unmask=unmask), maxsize=maxsize)


def record_pcap(bus: TrafficBus, path: str | Path, *, unmask: bool = False,
                maxsize: int = DEFAULT_MAXSIZE) -> Recorder:
    return Recorder(bus, PcapWriter(path, unmask=unmask), maxsize=maxsize)
