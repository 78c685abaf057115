"""A tiny scripted acquirer for terminal tests: real TCP on 127.0.0.1, canned CUP answers.

It is not the host simulator (possim.host): it knows no cards and no ledger. It
issues working keys at sign-in, signs its answers with the MAK it issued,
records every request it received, and answers each with whatever the test's
script says: a response code, extra fields, or silence.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Callable

from possim.iso8583 import Message, get_dialect
from possim.security import message as mac_message
from possim.security.keys import KeyStore
from possim.transport import ConnectionClosed, FramedConnection, serve_tcp

CUP = get_dialect("cup-pos")
TMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
SILENCE = object()


def counter_bytes(seed: int = 1) -> Callable[[int], bytes]:
    """Deterministic "random" bytes, so issued keys are reproducible."""
    counter = itertools.count(seed)
    return lambda n: bytes((next(counter) * 37) % 256 for _ in range(n))


@dataclass
class ScriptedHost:
    """``script(request) -> fields dict | SILENCE | None`` (None: answer 00 with the standard fields)."""

    script: Callable[[Message], object] = lambda msg: None
    mac_alg: str = "cup-ecb"
    requests: list[Message] = field(default_factory=list)
    keys: KeyStore = field(default_factory=lambda: KeyStore("12345678", TMK))
    rrn: itertools.count = field(default_factory=lambda: itertools.count(1))
    tamper_mac: bool = False

    async def start(self) -> str:
        self.server = await serve_tcp(self._handle)
        return self.server.url

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, transport: object) -> None:
        conn = FramedConnection(transport, "len2")  # type: ignore[arg-type]
        try:
            while True:
                body = await conn.recv_frame()
                request = CUP.decode(body)
                self.requests.append(request)
                answer = self.answer(request)
                if answer is not None:
                    await conn.send_frame(answer)
        except ConnectionClosed:
            pass
        finally:
            await conn.close()

    def answer(self, request: Message) -> bytes | None:
        scripted = self.script(request)
        if scripted is SILENCE:
            return None
        fields = {k: request[k] for k in ("11", "41", "42") if k in request}
        if "60" in request:
            fields["60"] = request["60"]
        for k in ("2", "3", "4", "25", "49", "48", "59"):
            if k in request and request.mti != "0800":
                fields[k] = request[k]
        fields.update({"12": "101112", "13": "0102", "37": f"{next(self.rrn):012d}", "39": "00"})
        if request.mti in ("0200", "0220"):
            fields["38"] = "AB1234"
        if request.mti == "0800" and request.get("60.3") in ("001", "003", "004"):
            self.keys, f62 = self.keys.issue_field62(request.get("60.3"), counter_bytes(), mak_length=8)
            fields["62"] = f62.hex().upper()
        if isinstance(scripted, dict):
            fields.update(scripted)
            fields = {k: v for k, v in fields.items() if v is not None}
        response = CUP.message(request.response_mti(), fields, tpdu="6000000581", header=request.header)
        signed = "64" in request and fields.get("39") != "A0" and self.keys.mak is not None
        if not signed:
            return CUP.encode(response)
        response["64"] = "0" * 16
        body = mac_message.sign(CUP, CUP.encode(response), self.mac_alg, self.keys.mak)
        if self.tamper_mac:
            body = body[:-1] + bytes([body[-1] ^ 0x01])
        return body


async def started(host: ScriptedHost) -> str:
    return await host.start()


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]
