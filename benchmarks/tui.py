"""How many traffic events per second the TUI absorbs from the bus without falling behind.

A publisher thread puts real cup-pos 0200/0210 events on a ``TrafficBus`` at a
fixed rate for a few seconds; the TUI (``TrafficApp`` headless via
``run_test`` at 160x45, reading through its ``BusSource`` thread in 50 ms
batches, following the newest row, stats bar and detail panes live) takes
them. For each rate it reports what reached the screen's model, what the
subscription dropped, and the largest backlog (events queued in the
subscription) seen at any sample: keeping up means nothing dropped and a
backlog that stays around one batch instead of growing. A last run publishes
as fast as possible into a large subscription and reports the drain rate.
Decoding happens in the publisher (as ``LinkTap`` does), so this measures the
screen, not the codec.

Usage: ``.venv/bin/python benchmarks/tui.py [--seconds S] [--rates 1000,2000,...] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from possim.iso8583 import Message, get_dialect  # noqa: E402
from possim.traffic import TrafficBus, TrafficEvent, make_event  # noqa: E402
from possim.tui.app import TrafficApp  # noqa: E402
from possim.tui.sources import BusSource  # noqa: E402

CUP = get_dialect("cup-pos")


def _events(count: int) -> list[TrafficEvent]:
    """count events: alternating 0200 requests and 0210 responses with distinct STANs."""
    out = []
    for i in range(count // 2):
        stan = f"{i % 1_000_000:06d}"
        head = {"tpdu": "6005810000", "header": "603100000000"}
        req = Message("0200", {"2": "6222021234567890123", "3": "000000", "4": "000000001234", "11": stan,
                               "22": "021", "25": "00", "41": "10000001", "42": "898310048120001",
                               "49": "156", "60": "22000001000"}, **head)
        rsp = Message("0210", {"3": "000000", "4": "000000001234", "11": stan, "37": f"31{stan}0000",
                               "39": "00" if i % 10 else "51", "41": "10000001", "42": "898310048120001",
                               "49": "156", "60": "22000001000"}, **head)
        for direction, msg in (("in", req), ("out", rsp)):
            out.append(make_event(direction, CUP.encode(msg), "tcp://127.0.0.1:5000#1", time=0.0, role="host",
                                  dialect=CUP, framing="len2"))
    return out


def _publish(bus: TrafficBus, events: list[TrafficEvent], rate: float | None, stop: threading.Event) -> float:
    start = time.perf_counter()
    for i, event in enumerate(events):
        if stop.is_set():
            break
        if rate is not None:
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        bus.publish(event)
    return time.perf_counter() - start


async def _run(rate: float | None, events: list[TrafficEvent], maxsize: int) -> dict[str, float]:
    bus = TrafficBus()
    source = BusSource(bus, "benchmark", maxsize=maxsize)
    app = TrafficApp(source, capacity=50_000)
    stop = threading.Event()
    result: dict[str, float] = {}
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        elapsed: list[float] = []
        publisher = threading.Thread(target=lambda: elapsed.append(_publish(bus, events, rate, stop)))
        t0 = time.perf_counter()
        publisher.start()
        backlog = 0
        while publisher.is_alive() or app.model.stats(0).total + (source.subscription.dropped if source.subscription else 0) < len(events):
            await pilot.pause(0.05)
            sub = source.subscription
            if sub is not None:
                backlog = max(backlog, len(sub))
            if time.perf_counter() - t0 > 120:  # bounded
                break
        absorbed_at = time.perf_counter() - t0
        publisher.join()
        sub = source.subscription
        result = {
            "offered_per_s": rate or 0.0,
            "published": float(len(events)),
            "publish_s": elapsed[0] if elapsed else 0.0,
            "absorbed": float(app.model.stats(0).total),
            "dropped": float(sub.dropped if sub else 0),
            "max_backlog": float(backlog),
            "absorbed_per_s": app.model.stats(0).total / absorbed_at,
        }
    stop.set()
    return result


def run(seconds: float = 5.0, rates: tuple[float, ...] = (1000, 2000, 4000, 8000)) -> dict[str, Any]:
    """One row per offered rate, then the drain row (offered_per_s None): what ``main`` prints."""
    pool = _events(int(max(rates) * seconds) + 2)
    rows = []
    for rate in rates:
        count = int(rate * seconds) // 2 * 2
        rows.append(asyncio.run(_run(rate, pool[:count], maxsize=50_000)))
    rows.append(asyncio.run(_run(None, pool[:100_000] if len(pool) >= 100_000 else pool, maxsize=200_000)))
    return {"seconds": seconds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="1000,2000,4000,8000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rates = tuple(float(r) for r in args.rates.split(",") if r)
    rows = run(args.seconds, rates)["rows"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'offered/s':>10} {'published':>10} {'absorbed':>10} {'dropped':>8} {'max backlog':>12} {'absorbed/s':>11}")
    for r in rows:
        offered = f"{r['offered_per_s']:.0f}" if r["offered_per_s"] else "max"
        print(f"{offered:>10} {r['published']:>10.0f} {r['absorbed']:>10.0f} {r['dropped']:>8.0f} "
              f"{r['max_backlog']:>12.0f} {r['absorbed_per_s']:>11.0f}")


if __name__ == "__main__":
    main()
