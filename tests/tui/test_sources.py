"""--attach against a real TrafficServer, and the tap proxying real loopback TCP and a pty pair."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from possim.errors import PossimError
from possim.link.framing import frame, get_framer
from possim.link.events import Frame
from possim.traffic import TrafficBus, TrafficServerThread
from possim.transport import open_pty_pair, open_url, serve_url
from possim.tui.reader import AttachReader
from possim.tui.sources import AttachSource
from possim.tui.tap import TapServer

from .frames import CUP, PAN, purchase, purchase_response, publish_script


def test_attach_reads_a_real_traffic_server_in_batches() -> None:
    bus = TrafficBus()
    got: list = []
    ended: list = []
    done = threading.Event()
    with TrafficServerThread(bus, "tcp://127.0.0.1:0") as server:
        source = AttachSource(server.url, interval=0.02)

        def deliver(batch: list, dropped: int) -> None:
            got.extend(batch)
            if len(got) >= 16:
                done.set()

        source.start(deliver, ended.append)
        for _ in range(500):  # bounded: wait until the client has subscribed
            if server.client_count:
                break
            threading.Event().wait(0.01)
        publish_script(bus)
        assert done.wait(30)
        source.stop()
    assert [e.seq for e in got] == list(range(1, 17))
    assert got[2].mti == "0200" and got[3].latency_ms == pytest.approx(125.0)
    assert PAN not in str(got[2].message.fields.get("2"))  # the stream is masked; the stand-in PAN decodes
    assert ended == [None]


def test_attach_to_nothing_reports_why() -> None:
    reasons: list = []
    reader = AttachReader("tcp://127.0.0.1:1", lambda b, d: None, on_end=reasons.append)
    reader.run()
    assert reasons and "cannot connect" in reasons[0]


def _echo_host(responses: dict[bytes, bytes]):  # type: ignore[no-untyped-def]
    async def handler(transport) -> None:  # type: ignore[no-untyped-def]
        framer = get_framer("len2")
        while True:
            data = await transport.read()
            if not data:
                return
            for event in framer.feed(data):
                if isinstance(event, Frame):
                    await transport.write(frame("len2", responses[event.payload]))
    return handler


def test_tap_proxies_loopback_tcp_unchanged_and_publishes_both_directions() -> None:
    request, response = purchase("000002", 1200), purchase_response("000002", 1200, "00")

    async def main() -> list:
        bus = TrafficBus()
        sub = bus.subscribe()
        host = await serve_url("tcp://127.0.0.1:0", _echo_host({request: response}))
        async with TapServer("tcp://127.0.0.1:0", host.url, bus, dialect=CUP, framing="len2") as tap:
            terminal = await open_url(tap.url)
            wire = frame("len2", request)
            await terminal.write(wire[:7])  # split: the tap must forward fragments and still decode
            await terminal.write(wire[7:])
            answer = b""
            while len(answer) < len(response) + 2:
                chunk = await terminal.read()
                assert chunk, "tap closed the link"
                answer += chunk
            assert answer == frame("len2", response)  # byte for byte
            await terminal.close()
        await host.close()
        return sub.drain()

    events = asyncio.run(main())
    assert [(e.role, e.direction, e.mti) for e in events] == [("tap", "out", "0200"), ("tap", "in", "0210")]
    assert events[1].latency_ms is not None and events[0].raw == request


def test_tap_serial_to_serial_over_pty_pairs() -> None:
    request, response = purchase("000003", 500), purchase_response("000003", 500, "51")
    t_master, t_slave, t_name = open_pty_pair()  # the "terminal" talks on t_master; the tap listens on t_name
    h_master, h_slave, h_name = open_pty_pair()  # the "host" answers on h_master; the tap opens h_name

    async def main() -> list:
        bus = TrafficBus()
        sub = bus.subscribe()
        os.close(t_slave)
        os.close(h_slave)
        async with TapServer(t_name, h_name, bus, dialect=CUP, framing="len2"):
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, os.write, t_master, frame("len2", request))
            got = b""
            while len(got) < len(request) + 2:
                got += await loop.run_in_executor(None, os.read, h_master, 4096)
            assert got == frame("len2", request)
            await loop.run_in_executor(None, os.write, h_master, frame("len2", response))
            back = b""
            while len(back) < len(response) + 2:
                back += await loop.run_in_executor(None, os.read, t_master, 4096)
            assert back == frame("len2", response)
            for _ in range(200):
                if len(sub) >= 2:
                    break
                await asyncio.sleep(0.01)
        return sub.drain()

    try:
        events = asyncio.run(main())
    finally:
        os.close(t_master)
        os.close(h_master)
    assert [(e.direction, e.mti, e.field("39")) for e in events] == [("out", "0200", None), ("in", "0210", "51")]


def test_tap_refuses_an_unknown_framing() -> None:
    with pytest.raises(PossimError):
        TapServer("tcp://127.0.0.1:0", "tcp://127.0.0.1:1", TrafficBus(), dialect=CUP, framing="bogus")
