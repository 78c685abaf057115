"""``--traffic URL``: the bus over real loopback TCP to several subscribers."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest

from possim.errors import PossimError
from possim.traffic import (
    LinkTap,
    TrafficBus,
    TrafficServer,
    TrafficServerThread,
    attach,
    parse_traffic_url,
)

from .toydialect import PAN, TOY, echo, purchase, purchase_response, toy_resolver

LINK = "tcp://127.0.0.1:5000#7"


def _publish_conversation(bus: TrafficBus) -> list:
    times = iter([50.0, 50.125, 50.2, 50.3])
    tap = LinkTap(bus, LINK, role="host", dialect=TOY, framing="len2", clock=lambda: next(times))
    return [tap.inbound(TOY.encode(purchase())), tap.outbound(TOY.encode(purchase_response())),
            tap.inbound(TOY.encode(echo())), tap.inbound(b"\x00\x01junk")]


def test_two_subscribers_over_loopback_get_every_event_masked() -> None:
    async def main() -> None:
        bus = TrafficBus()
        async with TrafficServer(bus, "tcp://127.0.0.1:0") as server:
            assert server.url.startswith("tcp://127.0.0.1:") and not server.url.endswith(":0")
            async with attach(server.url, dialect_resolver=toy_resolver) as one, \
                    attach(server.url, dialect_resolver=toy_resolver) as two:
                assert server.client_count == 2  # the hello line means "you are subscribed"
                # publish from another thread, as a serial reader would
                publisher = threading.Thread(target=_publish_conversation, args=(bus,))
                publisher.start()
                got_one = [await one.next_event() for _ in range(4)]
                got_two = [await two.next_event() for _ in range(4)]
                publisher.join()
        for got in (got_one, got_two):
            assert [e.seq for e in got] == [1, 2, 3, 4]
            assert [e.direction for e in got] == ["in", "out", "in", "in"]
            assert got[0].message.mti == "0200" and got[0].message.fields["2"] != PAN
            assert got[1].latency_ms == pytest.approx(125.0)
            assert got[2].raw == TOY.encode(echo())
            assert got[3].raw is None and got[3].raw_len == 6 and got[3].error
        assert one.server_dropped == 0

    asyncio.run(main())


def test_raw_stream_lines_are_json_and_carry_no_pan() -> None:
    """What ``nc 127.0.0.1 PORT`` would show: hello, then one masked JSON event per line."""
    bus = TrafficBus()
    with TrafficServerThread(bus, "tcp://127.0.0.1:0") as server:
        url = parse_traffic_url(server.url)
        with socket.create_connection((url.host, url.port)) as sock:
            stream = sock.makefile("rb")
            assert json.loads(stream.readline()) == {"possim_traffic": 1}
            _publish_conversation(bus)
            lines = [stream.readline() for _ in range(4)]
    text = b"".join(lines).decode()
    assert PAN not in text and PAN.encode().hex().upper() not in text
    objs = [json.loads(line) for line in lines]
    assert [o["seq"] for o in objs] == [1, 2, 3, 4]
    assert objs[0]["message"]["fields"]["2"] == "621214*********0012"
    assert all(o["dropped"] == 0 for o in objs)


def test_unmasked_server_sends_real_values() -> None:
    bus = TrafficBus()
    with TrafficServerThread(bus, "tcp://127.0.0.1:0", unmask=True) as server:
        url = parse_traffic_url(server.url)
        with socket.create_connection((url.host, url.port)) as sock:
            stream = sock.makefile("rb")
            stream.readline()
            _publish_conversation(bus)
            first = json.loads(stream.readline())
    assert first["message"]["fields"]["2"] == PAN and first["unmasked"] is True


def test_server_close_ends_the_attached_stream() -> None:
    async def main() -> None:
        bus = TrafficBus()
        server = TrafficServer(bus, "tcp://127.0.0.1:0")
        await server.start()
        async with attach(server.url, dialect_resolver=toy_resolver) as events:
            _publish_conversation(bus)
            first = [await events.next_event() for _ in range(4)]
            await server.close()
            assert await events.next_event() is None
            assert [e.seq async for e in events] == []
        assert [e.seq for e in first if e is not None] == [1, 2, 3, 4]
        assert bus.subscriber_count == 0

    asyncio.run(main())


def test_client_hanging_up_unsubscribes_it() -> None:
    bus = TrafficBus()
    with TrafficServerThread(bus, "tcp://127.0.0.1:0") as server:
        url = parse_traffic_url(server.url)
        with socket.create_connection((url.host, url.port)) as sock:
            sock.makefile("rb").readline()
            assert bus.subscriber_count == 1
        for _ in range(500):  # bounded wait for the server to notice the EOF
            if bus.subscriber_count == 0 and server.client_count == 0:
                break
            threading.Event().wait(0.01)
        assert bus.subscriber_count == 0
        assert server.client_count == 0


def test_slow_client_loses_oldest_events_and_is_told() -> None:
    async def main() -> None:
        bus = TrafficBus()
        async with TrafficServer(bus, "tcp://127.0.0.1:0", maxsize=2) as server:
            async with attach(server.url, dialect_resolver=toy_resolver) as events:
                sub_before = bus.subscriber_count
                # the server task cannot run while we publish synchronously: its queue overflows
                for i in range(10):
                    LinkTap(bus, LINK, role="host", clock=lambda: 1.0).inbound(f"x{i}".encode())
                got = [await events.next_event() for _ in range(2)]
        assert sub_before == 1
        assert [e.seq for e in got] == [9, 10]
        assert events.server_dropped == 8

    asyncio.run(main())


@pytest.mark.parametrize("url,match", [
    ("udp://127.0.0.1:1", "expected tcp://HOST:PORT"),
    ("tcp://127.0.0.1", "expected tcp://HOST:PORT"),
    ("tcp://127.0.0.1:99999", "port 0..65535"),
    ("tcp://0.0.0.0:0", "loopback only"),
])
def test_bad_listen_urls_are_user_errors(url: str, match: str) -> None:
    with pytest.raises(PossimError, match=match):
        TrafficServer(TrafficBus(), url)


def test_attach_to_something_else_is_a_clear_error() -> None:
    async def main() -> None:
        async def not_traffic(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"SSH-2.0-OpenSSH\r\n")
            await writer.drain()
            writer.close()

        other = await asyncio.start_server(not_traffic, "127.0.0.1", 0)
        port = other.sockets[0].getsockname()[1]
        try:
            with pytest.raises(PossimError, match="not a possim traffic stream"):
                async with attach(f"tcp://127.0.0.1:{port}"):
                    pass
        finally:
            other.close()
            await other.wait_closed()

    asyncio.run(main())


def test_attach_to_nothing_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def main() -> None:
        with pytest.raises(PossimError, match="cannot connect"):
            async with attach(f"tcp://127.0.0.1:{port}"):
                pass

    asyncio.run(main())
