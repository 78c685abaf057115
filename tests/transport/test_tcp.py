"""TCP on 127.0.0.1: fragmented writes, many concurrent connections, keep-alives, errors."""

from __future__ import annotations

import asyncio
import random
import socket

import pytest

from possim.link.events import KeepAlive
from possim.link.framing import frame
from possim.transport import (
    ConnectionClosed,
    FramedConnection,
    Transport,
    TransportError,
    open_url,
    serve_url,
)

from .conftest import run


async def echo_handler(transport: Transport) -> None:
    """A host that answers each frame with its payload reversed, on its own framer."""
    conn = FramedConnection(transport, "len2")
    try:
        while True:
            payload = await conn.recv_frame()
            await conn.send_frame(payload[::-1])
    except ConnectionClosed:
        pass
    finally:
        await conn.close()


def test_server_binds_loopback_by_default() -> None:
    async def body() -> None:
        server = await serve_url("tcp://:0", echo_handler)
        try:
            assert server.url.startswith("tcp://127.0.0.1:")
        finally:
            await server.close()

    run(body())


def test_fragmented_writes_are_reassembled() -> None:
    rng = random.Random(8583)
    payloads = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 700))) for _ in range(30)]
    stream = b"".join(frame("len2", p) for p in payloads)

    async def body() -> None:
        server = await serve_url("tcp://127.0.0.1:0", echo_handler)
        try:
            host, port = server.url[len("tcp://"):].rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.transport.set_write_buffer_limits(0)  # hand each fragment to the kernel on its own
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            position = 0
            while position < len(stream):
                size = rng.choice([1, 1, 2, 3, 5, 13, 64, 333])
                writer.write(stream[position:position + size])
                await writer.drain()
                position += size
                if rng.random() < 0.2:
                    await asyncio.sleep(0)
            expected = b"".join(frame("len2", p[::-1]) for p in payloads)
            assert await reader.readexactly(len(expected)) == expected
            writer.close()
            await writer.wait_closed()
        finally:
            await server.close()

    run(body())


def test_fifty_concurrent_connections_each_get_their_own_framer() -> None:
    clients, rounds = 50, 20

    async def client(url: str, number: int) -> list[bytes]:
        conn = FramedConnection(await open_url(url), "len2")
        answers = []
        try:
            for n in range(rounds):
                payload = f"client {number:02d} message {n:03d} ".encode() * (1 + n % 4)
                await conn.send_frame(payload)
                answers.append(await conn.recv_frame())
        finally:
            await conn.close()
        return answers

    async def body() -> None:
        server = await serve_url("tcp://127.0.0.1:0", echo_handler)
        try:
            results = await asyncio.gather(*(client(server.url, i) for i in range(clients)))
            assert server.accepted == clients
            assert server.errors == []
        finally:
            await server.close()
        for number, answers in enumerate(results):
            assert answers == [(f"client {number:02d} message {n:03d} ".encode() * (1 + n % 4))[::-1]
                               for n in range(rounds)]

    run(body())


def test_keepalives_are_heard_and_not_answered() -> None:
    heard: list = []
    host_sent: list = []

    async def quiet_host(transport: Transport) -> None:
        conn = FramedConnection(transport, "len2", on_event=lambda e, link: heard.append(e),
                                on_frame=lambda d, p, link: host_sent.append((d, p)))
        try:
            await conn.recv_frame()
        except ConnectionClosed:
            pass
        finally:
            await conn.close()

    async def body() -> None:
        server = await serve_url("tcp://127.0.0.1:0", quiet_host)
        terminal = FramedConnection(await open_url(server.url), "len2", keepalive=0.02)
        try:
            while sum(isinstance(e, KeepAlive) for e in heard) < 3:  # bounded by the hang guard
                await asyncio.sleep(0.01)
        finally:
            await terminal.close()
            await server.close()

    run(body())
    assert sum(isinstance(e, KeepAlive) for e in heard) >= 3
    assert host_sent == []  # the host never sent anything back, keep-alives included


def test_observer_sees_every_frame_both_ways_and_cannot_break_the_link() -> None:
    seen: list[tuple[str, bytes, str]] = []

    def observer(direction: str, payload: bytes, link: str) -> None:
        seen.append((direction, payload, link))
        raise RuntimeError("a broken observer")

    async def body() -> str:
        server = await serve_url("tcp://127.0.0.1:0", echo_handler)
        try:
            conn = FramedConnection(await open_url(server.url), "len2", on_frame=observer, link="to-host")
            await conn.send_frame(b"abc")
            assert await conn.recv_frame() == b"cba"
            await conn.close()
            return server.url
        finally:
            await server.close()

    run(body())
    assert seen == [("out", b"abc", "to-host"), ("in", b"cba", "to-host")]


def test_peer_closing_mid_frame_is_a_clean_close() -> None:
    async def half_frame(transport: Transport) -> None:
        await transport.write(bytes.fromhex("0010") + b"abc")
        await transport.close()

    async def body() -> None:
        server = await serve_url("tcp://127.0.0.1:0", half_frame)
        try:
            conn = FramedConnection(await open_url(server.url), "len2")
            with pytest.raises(ConnectionClosed):
                await conn.recv_frame()
            await conn.close()
        finally:
            await server.close()

    run(body())


def test_garbage_length_prefix_drops_the_connection() -> None:
    async def garbage(transport: Transport) -> None:
        await transport.write(b"00x1hello")
        await asyncio.sleep(1)

    async def body() -> str:
        server = await serve_url("tcp://127.0.0.1:0", garbage)
        try:
            conn = FramedConnection(await open_url(server.url), "len4")
            try:
                await conn.recv_frame()
            except ConnectionClosed as exc:
                return str(exc)
            finally:
                await conn.close()
            raise AssertionError("expected the connection to end")
        finally:
            await server.close()

    assert "len4: length prefix '00x1' at offset 0 is not 4 ASCII digits" in run(body())


def test_connection_refused_is_a_one_line_error() -> None:
    async def body() -> int:
        server = await serve_url("tcp://127.0.0.1:0", echo_handler)
        port = int(server.url.rsplit(":", 1)[1])
        await server.close()
        return port

    port = run(body())
    with pytest.raises(TransportError, match=f"tcp://127.0.0.1:{port}: cannot connect"):
        run(open_url(f"tcp://127.0.0.1:{port}"))


def test_handler_failure_is_recorded_and_the_server_keeps_serving() -> None:
    async def picky(transport: Transport) -> None:
        conn = FramedConnection(transport, "len2")
        payload = await conn.recv_frame()
        if payload == b"bad":
            raise ValueError("cannot handle")
        await conn.send_frame(b"ok")
        await conn.close()

    async def body() -> None:
        server = await serve_url("tcp://127.0.0.1:0", picky)
        try:
            first = FramedConnection(await open_url(server.url), "len2")
            await first.send_frame(b"bad")
            with pytest.raises(ConnectionClosed):
                await first.recv_frame()
            await first.close()
            second = FramedConnection(await open_url(server.url), "len2")
            await second.send_frame(b"good")
            assert await second.recv_frame() == b"ok"
            await second.close()
            assert [str(e) for e in server.errors] == ["cannot handle"]  # type: ignore[attr-defined]
        finally:
            await server.close()

    run(body())


def test_a_close_cancelled_half_way_still_releases_the_stream() -> None:
    """close() waits for the pump task to end; if close itself is cancelled while it waits (a caller's
    timeout, a task group shutting down), the TCP stream must still be closed, not leaked."""

    async def body() -> None:
        server = await serve_url("tcp://127.0.0.1:0", echo_handler)
        try:
            transport = await open_url(server.url)
            conn = FramedConnection(transport, "len2")
            await conn.send_frame(b"ping")
            assert await conn.recv_frame() == b"gnip"
            closing = asyncio.ensure_future(conn.close())
            await asyncio.sleep(0)  # close() is now waiting for the cancelled pump task
            assert not closing.done()
            closing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await closing
            assert transport.closed and conn.closed
        finally:
            await server.close()

    run(body())
