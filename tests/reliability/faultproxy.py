"""A scripted responder in the middle of a real loopback link: it forwards len2 frames to the real
host and, per exchange, answers late, twice, half, or not at all -- the faults a real network
or a confused host produces. The host behind it really processes each request it is given.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import Callable

from possim.iso8583 import Message, get_dialect
from possim.transport import ConnectionClosed, FramedConnection, Transport, open_url, serve_tcp

CUP = get_dialect("cup-pos")

FORWARD = "forward"
TWICE = "twice"  # the answer, then the same answer again in the same write
LATE_TWICE = "late-twice"  # held until released, then sent twice (the terminal has given up by then)
DROP = "drop"  # the host acted; the answer is lost
CUT_ANSWER = "cut-answer"  # half of the answer frame, then the link drops
CUT_REQUEST = "cut-request"  # half of the request reaches the host, then both links drop


@dataclass
class FaultProxy:
    upstream: str
    # (request, how many requests of this MTI came before) -> action
    plan: Callable[[Message, int], str] = lambda request, n: FORWARD
    log: list[tuple[str, str, str]] = field(default_factory=list)  # (MTI, STAN, action)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    late_sent: asyncio.Event = field(default_factory=asyncio.Event)
    counts: dict[str, int] = field(default_factory=dict)
    rewrite: Callable[[Message, bytes], bytes] | None = None  # applied to every answer before the action

    async def start(self) -> str:
        self.server = await serve_tcp(self._handle)
        return self.server.url

    async def close(self) -> None:
        self.release.set()
        await self.server.close()

    def actions(self, mti: str) -> list[str]:
        return [a for m, _, a in self.log if m == mti]

    async def _handle(self, transport: Transport) -> None:
        down = FramedConnection(transport, "len2")
        up_transport = await open_url(self.upstream)
        up = FramedConnection(up_transport, "len2")
        try:
            while True:
                body = await down.recv_frame()
                request = CUP.decode(body)
                n = self.counts.get(request.mti, 0)
                self.counts[request.mti] = n + 1
                action = self.plan(request, n)
                self.log.append((request.mti, request.get("11") or "", action))
                if action == CUT_REQUEST:
                    await up_transport.write(struct.pack(">H", len(body)) + body[: len(body) // 2])
                    return
                await up.send_frame(body)
                answer = await up.recv_frame()
                if self.rewrite is not None:
                    answer = self.rewrite(request, answer)
                framed = struct.pack(">H", len(answer)) + answer
                if action == FORWARD:
                    await transport.write(framed)
                elif action == TWICE:
                    await transport.write(framed + framed)
                elif action == CUT_ANSWER:
                    await transport.write(framed[: len(framed) // 2])
                    return
                elif action == LATE_TWICE:
                    await self.release.wait()
                    try:
                        await transport.write(framed + framed)
                    except ConnectionClosed:
                        pass  # the terminal hung up after its timeout: the late answers go nowhere
                    self.late_sent.set()
                # DROP: nothing
        except ConnectionClosed:
            pass
        finally:
            await up.close()
            await down.close()
