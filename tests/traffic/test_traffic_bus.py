"""The bus: fan-out across threads, one order for everyone, drop-oldest, async readers, pairing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from possim.errors import PossimError
from possim.traffic import LinkTap, RequestPairer, TrafficBus, make_event

from .toydialect import TOY, echo, purchase, purchase_response


def _event(n: int, link: str = "tcp://127.0.0.1:5000#1", direction: str = "in"):
    return make_event(direction, f"frame-{n}".encode(), link, time=1000.0 + n, role="host")


def test_fan_out_from_several_threads_reaches_every_subscriber_in_one_order() -> None:
    bus = TrafficBus()
    subs = [bus.subscribe(maxsize=10_000) for _ in range(3)]
    per_thread = 250

    def publisher(t: int) -> None:
        for i in range(per_thread):
            bus.publish(_event(i, link=f"thread-{t}"))

    threads = [threading.Thread(target=publisher, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    seen = [sub.drain() for sub in subs]
    for events in seen:
        assert [e.seq for e in events] == list(range(1, 4 * per_thread + 1))
        assert all(sub.dropped == 0 for sub in subs)
        # each publisher's own frames arrive in the order it sent them
        for t in range(4):
            mine = [e.raw for e in events if e.link == f"thread-{t}"]
            assert mine == [f"frame-{i}".encode() for i in range(per_thread)]
    # every subscriber sees the very same sequence
    assert [(e.seq, e.link, e.raw) for e in seen[0]] == [(e.seq, e.link, e.raw) for e in seen[1]]
    assert [(e.seq, e.link, e.raw) for e in seen[0]] == [(e.seq, e.link, e.raw) for e in seen[2]]


def test_slow_subscriber_drops_oldest_and_counts_without_touching_others() -> None:
    bus = TrafficBus()
    slow = bus.subscribe(maxsize=5)
    roomy = bus.subscribe(maxsize=100)
    for i in range(12):
        bus.publish(_event(i))
    assert len(slow) == 5
    assert slow.dropped == 7
    assert [e.seq for e in slow.drain()] == [8, 9, 10, 11, 12]
    assert roomy.dropped == 0
    assert [e.seq for e in roomy.drain()] == list(range(1, 13))


def test_publisher_never_waits_for_a_reader_that_never_reads() -> None:
    bus = TrafficBus()
    stuck = bus.subscribe(maxsize=3)
    for i in range(5000):
        bus.publish(_event(i))
    assert len(stuck) == 3
    assert stuck.dropped == 4997


def test_subscription_rejects_zero_size() -> None:
    with pytest.raises(PossimError, match="maxsize"):
        TrafficBus().subscribe(maxsize=0)


def test_closed_subscription_stops_receiving_and_iteration_ends() -> None:
    bus = TrafficBus()
    sub = bus.subscribe()
    bus.publish(_event(1))
    sub.close()
    bus.publish(_event(2))
    assert bus.subscriber_count == 0
    assert [e.seq for e in sub] == [1]  # what was queued, then end-of-stream


def test_bus_close_ends_blocking_readers_in_threads() -> None:
    bus = TrafficBus()
    sub = bus.subscribe()
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.extend(e.seq for e in sub))
    reader.start()
    bus.publish(_event(1))
    bus.publish(_event(2))
    bus.close()
    reader.join()
    assert got == [1, 2]
    assert bus.subscribe().get(timeout=0) is None  # subscribing to a closed bus gives an ended stream


def test_asyncio_reader_is_woken_by_a_publishing_thread() -> None:
    bus = TrafficBus()

    async def main() -> list[int]:
        sub = bus.subscribe()

        def publish_all() -> None:
            for i in range(50):
                bus.publish(_event(i))

        done = asyncio.get_running_loop().run_in_executor(None, publish_all)  # a worker thread
        seqs = []
        while len(seqs) < 50:
            event = await sub.aget()
            assert event is not None
            seqs.append(event.seq)
        await done
        bus.close()
        assert await sub.aget() is None
        return seqs

    assert asyncio.run(main()) == list(range(1, 51))


def test_async_iteration_ends_on_close() -> None:
    bus = TrafficBus()

    async def main() -> list[int]:
        sub = bus.subscribe()
        for i in range(3):
            bus.publish(_event(i))
        bus.close()
        return [e.seq async for e in sub]

    assert asyncio.run(main()) == [1, 2, 3]


# --- pairing ------------------------------------------------------------------------------------

def _tap(bus: TrafficBus, link: str, times: list[float]) -> LinkTap:
    clock = iter(times).__next__
    return LinkTap(bus, link, role="terminal", dialect=TOY, framing="none", clock=clock)


def test_response_gets_latency_of_its_request() -> None:
    bus = TrafficBus()
    sub = bus.subscribe()
    tap = _tap(bus, "tcp://127.0.0.1:5000", [10.0, 10.1, 10.25, 10.5])
    tap.outbound(TOY.encode(purchase(stan="000001")))
    tap.outbound(TOY.encode(echo(stan="000002")))
    tap.inbound(TOY.encode(purchase_response(stan="000001")))
    tap.inbound(TOY.encode(purchase_response(stan="000001")))  # a duplicate answer pairs with nothing
    events = sub.drain()
    assert [e.latency_ms for e in events[:2]] == [None, None]
    assert events[2].latency_ms == pytest.approx(250.0)
    assert events[3].latency_ms is None
    assert [e.time for e in events] == [10.0, 10.1, 10.25, 10.5]  # the tap's clock, not the wall clock


@pytest.mark.parametrize("stan,tid,link", [
    ("000009", "12345678", "tcp://127.0.0.1:5000"),  # other STAN
    ("000001", "87654321", "tcp://127.0.0.1:5000"),  # other terminal
    ("000001", "12345678", "tcp://127.0.0.1:5001"),  # other link
])
def test_response_that_does_not_match_gets_no_latency(stan: str, tid: str, link: str) -> None:
    pairer = RequestPairer()
    req = make_event("out", TOY.encode(purchase()), "tcp://127.0.0.1:5000", time=1.0, role="terminal", dialect=TOY)
    resp = make_event("in", TOY.encode(purchase_response(stan=stan, tid=tid)), link, time=2.0,
                      role="terminal", dialect=TOY)
    assert pairer.observe(req) is None
    assert pairer.observe(resp) is None
    assert len(pairer) == 1  # the request stays open


def test_tap_does_no_work_while_nobody_listens() -> None:
    bus = TrafficBus()
    tap = LinkTap(bus, "pty:/dev/pts/4", role="terminal", dialect=TOY, clock=lambda: 1.0)
    assert tap.outbound(TOY.encode(echo())) is None
    with bus.subscribe() as sub:
        published = tap.outbound(TOY.encode(echo()))
        assert published is not None and published.seq == 1
        assert sub.drain() == [published]
    assert tap.outbound(TOY.encode(echo())) is None


def test_repeat_request_and_advice_pair_with_their_responses() -> None:
    pairer = RequestPairer()
    link = "pty:/dev/pts/4"
    rep = make_event("in", TOY.encode(purchase()).replace(b"0200", b"0201", 1), link, time=5.0,
                     role="host", dialect=TOY)
    ans = make_event("out", TOY.encode(purchase_response()), link, time=5.5, role="host", dialect=TOY)
    assert pairer.observe(rep) is None
    assert pairer.observe(ans) == pytest.approx(500.0)


def test_pairer_forgets_oldest_open_requests_beyond_its_bound() -> None:
    pairer = RequestPairer(max_open=2)
    link = "tcp://127.0.0.1:5000"
    for i, stan in enumerate(["000001", "000002", "000003"]):
        pairer.observe(make_event("out", TOY.encode(purchase(stan=stan)), link, time=float(i),
                                  role="terminal", dialect=TOY))
    assert len(pairer) == 2
    first = make_event("in", TOY.encode(purchase_response(stan="000001")), link, time=9.0,
                       role="terminal", dialect=TOY)
    third = make_event("in", TOY.encode(purchase_response(stan="000003")), link, time=9.0,
                       role="terminal", dialect=TOY)
    assert pairer.observe(first) is None
    assert pairer.observe(third) == pytest.approx(7000.0)
