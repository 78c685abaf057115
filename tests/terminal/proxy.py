"""A man-in-the-middle on real loopback TCP: forwards len2 frames, and can lose or damage an answer.

Faults the terminal must survive happen between it and the host (a response
lost on the way, a byte flipped in the MAC), so the test puts this between
the two real peers rather than changing either of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Callable

from possim.iso8583 import Message, get_dialect
from possim.transport import ConnectionClosed, FramedConnection, Transport, open_url, serve_tcp

CUP = get_dialect("cup-pos")
FORWARD, DROP, TAMPER_MAC, HOLD = "forward", "drop", "tamper-mac", "hold"


@dataclass
class Proxy:
    upstream: str
    # per request: FORWARD it, or HOLD it (it reaches nobody; the terminal waits in vain)
    on_request: Callable[[Message], str] = lambda request: FORWARD
    # per answer: FORWARD, DROP (the host acted, the terminal never hears) or TAMPER_MAC
    on_response: Callable[[Message, Message], str] = lambda request, response: FORWARD
    seen: list[tuple[Message, Message, str]] = field(default_factory=list)
    requests: list[Message] = field(default_factory=list)

    async def start(self) -> str:
        self.server = await serve_tcp(self._handle)
        return self.server.url

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, transport: Transport) -> None:
        down = FramedConnection(transport, "len2")
        up = FramedConnection(await open_url(self.upstream), "len2")
        try:
            while True:
                body = await down.recv_frame()
                request = CUP.decode(body)
                self.requests.append(request)
                if self.on_request(request) == HOLD:  # the request reaches nobody; the terminal waits
                    self.seen.append((request, request, HOLD))
                    continue
                await up.send_frame(body)
                answer = await up.recv_frame()
                response = CUP.decode(answer)
                action = self.on_response(request, response)
                self.seen.append((request, response, action))
                if action == FORWARD:
                    await down.send_frame(answer)
                elif action == TAMPER_MAC:
                    await down.send_frame(answer[:-1] + bytes([answer[-1] ^ 0x01]))
        except ConnectionClosed:
            pass
        finally:
            await up.close()
            await down.close()

    def mtis(self) -> list[str]:
        return [r.mti for r in self.requests]
