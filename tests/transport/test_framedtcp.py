"""The callback framed TCP server over real loopback sockets."""

from __future__ import annotations

import asyncio
import struct

import pytest

from possim.link.framing import FramingError
from possim.transport import FrameChannel, serve_framed_tcp


def len2(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


class Echo:
    """Answers each frame with b"re:" + frame; remembers what it saw."""

    def __init__(self, channel: FrameChannel, seen: list[bytes], lost: list[str]) -> None:
        self.channel = channel
        self.seen = seen
        self.lost = lost

    def frame_received(self, payload: bytes) -> None:
        self.seen.append(payload)
        if payload == b"boom":
            raise RuntimeError("handler bug")
        self.channel.send_frame(b"re:" + payload)

    def connection_lost(self) -> None:
        self.lost.append(self.channel.peer)


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(2)
    return await reader.readexactly(struct.unpack(">H", head)[0])


async def start(framing: str = "len2", partial_timeout: float | None = None,
                observed: list[tuple[str, bytes]] | None = None):
    seen: list[bytes] = []
    lost: list[str] = []

    def factory(channel: FrameChannel) -> Echo:
        if observed is not None:
            channel.on_frame = lambda direction, payload, link: observed.append((direction, payload))
        return Echo(channel, seen, lost)

    server = await serve_framed_tcp(factory, framing, "127.0.0.1", 0, partial_timeout=partial_timeout)
    return server, seen, lost


def test_frames_split_anywhere_and_batched_are_each_answered_in_order() -> None:
    async def main() -> None:
        observed: list[tuple[str, bytes]] = []
        server, seen, _ = await start(observed=observed)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        # one byte at a time
        for byte in len2(b"first"):
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0)
        assert await read_frame(reader) == b"re:first"
        # three frames in one write
        writer.write(len2(b"a") + len2(b"bb") + len2(b"ccc"))
        assert [await read_frame(reader) for _ in range(3)] == [b"re:a", b"re:bb", b"re:ccc"]
        assert seen == [b"first", b"a", b"bb", b"ccc"]
        assert observed[:2] == [("in", b"first"), ("out", b"re:first")]
        assert server.accepted == 1 and server.connections == 1
        writer.close()
        await writer.wait_closed()
        await server.close()

    asyncio.run(main())


def test_a_frame_left_half_way_is_dropped_after_the_partial_timeout_and_the_link_goes_on() -> None:
    async def main() -> None:
        server, seen, _ = await start(partial_timeout=0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(struct.pack(">H", 50) + b"only ten b")  # says 50, sends 10, then stops
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.write(len2(b"after"))
        assert await read_frame(reader) == b"re:after"
        assert seen == [b"after"]
        writer.close()
        await writer.wait_closed()
        await server.close()

    asyncio.run(main())


def test_without_the_timeout_a_slow_frame_still_completes() -> None:
    async def main() -> None:
        server, seen, _ = await start(partial_timeout=None)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        frame = len2(b"slowly")
        writer.write(frame[:3])
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(frame[3:])
        assert await read_frame(reader) == b"re:slowly"
        writer.close()
        await writer.wait_closed()
        await server.close()

    asyncio.run(main())


def test_a_fatal_framing_error_closes_that_connection_only() -> None:
    async def main() -> None:
        server, seen, lost = await start(framing="len4")
        bad_r, bad_w = await asyncio.open_connection("127.0.0.1", server.port)
        good_r, good_w = await asyncio.open_connection("127.0.0.1", server.port)
        bad_w.write(b"XY12hello")  # len4 wants 4 ASCII digits
        assert await bad_r.read() == b""  # closed by the server
        good_w.write(b"0002ok")
        assert await good_r.readexactly(9) == b"0005re:ok"
        assert len(lost) == 1 and seen == [b"ok"]
        for w in (bad_w, good_w):
            w.close()
            await w.wait_closed()
        await server.close()

    asyncio.run(main())


def test_a_handler_exception_ends_its_connection_and_is_kept() -> None:
    async def main() -> None:
        server, seen, lost = await start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(len2(b"boom"))
        assert await reader.read() == b""
        assert [str(e) for e in server.errors] == ["handler bug"]
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", server.port)
        writer2.write(len2(b"still here"))
        assert await read_frame(reader2) == b"re:still here"
        for w in (writer, writer2):
            w.close()
            await w.wait_closed()
        await server.close()

    asyncio.run(main())


def test_closing_the_server_ends_open_connections_and_tells_their_handlers() -> None:
    async def main() -> None:
        server, _, lost = await start()
        clients = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(5)]
        for reader, writer in clients:
            writer.write(len2(b"hi"))
            assert await read_frame(reader) == b"re:hi"
        await server.close()
        assert len(lost) == 5 and server.connections == 0
        for reader, writer in clients:
            assert await reader.read() == b""
            writer.close()
            await writer.wait_closed()

    asyncio.run(main())


def test_a_peer_that_does_not_read_is_no_longer_read_from() -> None:
    """Back-pressure: when the answers pile up unread, the server pauses reading that peer."""

    async def main() -> None:
        server, seen, _ = await start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        big = b"x" * 60000
        sent = 0
        for _ in range(400):  # 24 MB of requests; the answers are as big and nobody reads them
            writer.write(len2(big))
            sent += 1
            try:
                await asyncio.wait_for(writer.drain(), 0.5)
            except TimeoutError:
                break
        assert sent < 400, "the server kept reading although its answers were not read"
        answered = len(seen)
        # Reading the answers lets it go on with the rest.
        for _ in range(sent):
            assert await read_frame(reader) == b"re:" + big
        assert len(seen) == sent >= answered
        writer.close()
        await writer.wait_closed()
        await server.close()

    asyncio.run(main())


def test_framings_with_a_link_protocol_are_refused() -> None:
    async def main() -> None:
        with pytest.raises(FramingError, match="stx"):
            await serve_framed_tcp(lambda channel: None, "stx", "127.0.0.1", 0)  # type: ignore[arg-type,return-value]

    asyncio.run(main())
