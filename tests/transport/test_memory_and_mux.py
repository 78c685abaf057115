"""In-memory pipes, and QMUX-style request/response over a framed link."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from possim.errors import PossimError
from possim.link.mux import IncomingRequest, Late, Mux, Unsolicited
from possim.transport import (
    ConnectionClosed,
    FramedConnection,
    MuxedConnection,
    RequestTimeout,
    memory_pair,
)
from possim.transport.muxed import Undecodable

from .conftest import run


@dataclass
class Msg:
    """A duck-typed message (.mti, .fields) as the Mux expects from possim.iso8583."""

    mti: str
    fields: dict[str, str] = field(default_factory=dict)


def encode(msg: Msg) -> bytes:
    return json.dumps({"mti": msg.mti, "fields": msg.fields}).encode()


def decode(data: bytes) -> Msg:
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise PossimError(f"not JSON: {exc}") from None
    return Msg(obj["mti"], obj["fields"])


def test_memory_pair_applies_backpressure_and_ends_cleanly() -> None:
    async def body() -> None:
        a, b = memory_pair(limit=16)
        writer = asyncio.create_task(a.write(b"x" * 100))
        await asyncio.sleep(0)
        assert not writer.done()  # blocked: only 16 bytes fit until the reader drains
        received = b""
        while len(received) < 100:
            received += await b.read(10)
        await writer
        assert received == b"x" * 100
        await a.close()
        assert await b.read() == b""
        with pytest.raises(ConnectionClosed):
            await b.write(b"late")

    run(body())


def test_concurrent_requests_answered_out_of_order() -> None:
    async def host(conn: FramedConnection) -> None:
        requests = [decode(await conn.recv_frame()) for _ in range(3)]
        for req in reversed(requests):  # answer last-in first
            await conn.send_frame(encode(Msg("0210", {**req.fields, "39": "00"})))

    async def body() -> list[str]:
        a, b = memory_pair()
        terminal = MuxedConnection(FramedConnection(a, "len2"), encode=encode, decode=decode)
        host_task = asyncio.create_task(host(FramedConnection(b, "len2")))
        try:
            answers = await asyncio.gather(*(
                terminal.request(Msg("0200", {"11": f"00000{n}", "41": "TERM0001"}), timeout=5)
                for n in range(1, 4)))
            await host_task
        finally:
            await terminal.close()
        return [m.fields["11"] for m in answers]

    assert run(body()) == ["000001", "000002", "000003"]


def test_timeout_then_late_unsolicited_and_peer_request_are_reported() -> None:
    async def body() -> list:
        a, b = memory_pair()
        terminal = MuxedConnection(FramedConnection(a, "len2"), encode=encode, decode=decode,
                                   mux=Mux(timeout=30.0))
        host = FramedConnection(b, "len2")
        try:
            with pytest.raises(RequestTimeout, match="no response to 0200"):
                await terminal.request(Msg("0200", {"11": "000007", "41": "TERM0001"}), timeout=0.05)
            late_request = decode(await host.recv_frame())
            await host.send_frame(encode(Msg("0210", {**late_request.fields, "39": "00"})))
            await host.send_frame(encode(Msg("0210", {"11": "999999", "41": "TERM0001"})))
            await host.send_frame(encode(Msg("0820", {"11": "000100", "60": "00000000301"})))
            await host.send_frame(b"not json")
            return [await terminal.next_unmatched() for _ in range(4)]
        finally:
            await terminal.close()
            await host.close()

    late, stray, incoming, garbage = run(body())
    assert isinstance(late, Late) and late.request.fields["11"] == "000007"
    assert isinstance(stray, Unsolicited) and stray.reason == "no request"
    assert isinstance(incoming, IncomingRequest) and incoming.message.mti == "0820"
    assert isinstance(garbage, Undecodable) and garbage.payload == b"not json"


def test_pending_requests_fail_when_the_link_closes() -> None:
    async def body() -> None:
        a, b = memory_pair()
        terminal = MuxedConnection(FramedConnection(a, "len2"), encode=encode, decode=decode)
        pending = asyncio.create_task(terminal.request(Msg("0200", {"11": "000001"}), timeout=30))
        host = FramedConnection(b, "len2")
        await host.recv_frame()
        await host.close()
        with pytest.raises(ConnectionClosed):
            await pending
        await terminal.close()

    run(body())


def test_stx_over_memory_pipes_pairs_two_possim_ends() -> None:
    async def body() -> list[bytes]:
        a, b = memory_pair()
        ecr, pos = FramedConnection(a, "stx"), FramedConnection(b, "stx")
        try:
            await ecr.send_frame(b"SALE")
            got = [await pos.recv_frame()]
            await pos.send_frame(b"APPROVED")
            got.append(await ecr.recv_frame())
            return got
        finally:
            await ecr.close()
            await pos.close()

    assert run(body()) == [b"SALE", b"APPROVED"]
