"""What a cash register does on the ECR link: send a command, have it ACKed, wait for the result.

The scenario runner drives a terminal through this class -- possim's own
terminal or a real one, whose vendor protocol file then replaces
``ecr-possim``. The STX link underneath ACKs the result frame and resends
the command on NAK or silence.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from possim.terminal.ecr.protocol import EcrError, EcrProtocol, get_protocol
from possim.transport import FramedConnection, open_url


@dataclass(frozen=True)
class EcrReply:
    """The result frame's values by tag name."""

    values: dict[str, Any]

    @property
    def code(self) -> str | None:
        value = self.values.get("result_code")
        return None if value is None else str(value)

    @property
    def approved(self) -> bool:
        return self.code == "00"

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


class EcrClient:
    def __init__(self, conn: FramedConnection, protocol: EcrProtocol | None = None) -> None:
        self.conn = conn
        self.protocol = protocol or get_protocol()

    @classmethod
    async def open(cls, url: str, protocol: EcrProtocol | str | None = None, **serial_settings: Any) -> "EcrClient":
        proto = get_protocol(protocol) if isinstance(protocol, str) else (protocol or get_protocol())
        transport = await open_url(url, **serial_settings)
        conn = FramedConnection(transport, proto.framing, ack_timeout=proto.ack_timeout,
                                max_retries=proto.max_retries)
        conn.start()
        return cls(conn, proto)

    async def call(self, command: str, *, timeout: float | None = None, **params: Any) -> EcrReply:
        """Run one command (a name from the protocol file) and return the terminal's result."""
        spec = self.protocol.commands.get(command)
        if spec is None:
            raise EcrError(f"{self.protocol.name}: no command {command!r}; known: "
                           f"{', '.join(self.protocol.commands)}")
        await self.conn.send_frame(self.protocol.encode({"command": spec.code, **params}))
        async with asyncio.timeout(timeout if timeout is not None else self.protocol.response_timeout):
            while True:
                reply = self.protocol.decode(await self.conn.recv_frame())
                if reply.get("command") in (spec.code, None):
                    return EcrReply(reply)
                # a result for an earlier command the till gave up on: not ours, keep waiting

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> "EcrClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
