"""TCP client and server on asyncio streams.

The server gives each accepted connection its own transport and handler task
(so each gets its own framer upstream) and tracks them, so closing the server
also ends its connections instead of leaving tasks behind. Handler exceptions
are kept in :attr:`TcpServer.errors` and logged, because an acquirer simulator
must keep serving other terminals when one connection misbehaves.
"""

from __future__ import annotations

import asyncio
import logging

from possim.transport.base import ConnectionClosed, Handler, Server, Transport, TransportError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"


class TcpTransport(Transport):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"tcp://{peer[0]}:{peer[1]}" if peer else "tcp://?"
        sock = writer.get_extra_info("sockname")
        self.local = f"tcp://{sock[0]}:{sock[1]}" if sock else "tcp://?"
        self._closed = False

    async def read(self, max_bytes: int = 65536) -> bytes:
        if self._closed:
            return b""
        try:
            return await self._reader.read(max_bytes)
        except (ConnectionResetError, BrokenPipeError):
            return b""

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionClosed(f"{self.peer}: write on a closed connection")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ConnectionClosed(f"{self.peer}: connection lost while writing ({exc})") from None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    @property
    def closed(self) -> bool:
        return self._closed


async def connect_tcp(host: str, port: int) -> TcpTransport:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        raise TransportError(f"tcp://{host}:{port}: cannot connect ({exc.strerror or exc})") from None
    return TcpTransport(reader, writer)


class TcpServer(Server):
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors: list[BaseException] = []
        self.accepted = 0

    async def _start(self, host: str, port: int) -> None:
        try:
            self._server = await asyncio.start_server(self._accept, host, port)
        except OSError as exc:
            raise TransportError(f"tcp://{host}:{port}: cannot listen ({exc.strerror or exc})") from None
        name = self._server.sockets[0].getsockname()
        self.host, self.port = name[0], name[1]
        self.url = f"tcp://{self.host}:{self.port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        transport = TcpTransport(reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handler(transport)
        except asyncio.CancelledError:
            # Only close() cancels these tasks; ending normally keeps asyncio's stream
            # callback (3.11) from logging a spurious traceback for a cancelled task.
            pass
        except Exception as exc:  # one bad connection must not stop the server
            self.errors.append(exc)
            log.warning("%s: handler failed: %s", transport.peer, exc)
        finally:
            self._tasks.discard(task)
            await transport.close()

    @property
    def connections(self) -> int:
        return len(self._tasks)

    async def close(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def serve_tcp(handler: Handler, host: str = DEFAULT_HOST, port: int = 0) -> TcpServer:
    """Listen on ``host:port`` (127.0.0.1 unless told otherwise; port 0 picks a free one)."""
    server = TcpServer(handler)
    await server._start(host, port)
    return server
