"""In-process byte pipes: two transports joined back to back.

Used by ``possim demo`` and by tests that pair a terminal with a host in one
process (the h11 habit of testing two protocol cores over an in-memory link).
Each direction is a bounded buffer, so a writer waits when its reader falls
behind, like a socket would. ``memory://NAME`` servers let code that only
knows URLs connect in-process.
"""

from __future__ import annotations

import asyncio
import itertools

from possim.transport.base import ConnectionClosed, Handler, Server, Transport, TransportError, run_handler

_ids = itertools.count(1)


class _Pipe:
    """One direction: a byte buffer with end-of-stream and a high-water mark."""

    def __init__(self, limit: int) -> None:
        self.buffer = bytearray()
        self.limit = limit
        self.eof = False
        self.readable = asyncio.Event()
        self.writable = asyncio.Event()
        self.writable.set()

    def _update(self) -> None:
        if self.buffer or self.eof:
            self.readable.set()
        else:
            self.readable.clear()
        if len(self.buffer) < self.limit or self.eof:
            self.writable.set()
        else:
            self.writable.clear()


class MemoryTransport(Transport):
    def __init__(self, incoming: _Pipe, outgoing: _Pipe, peer: str) -> None:
        self._in = incoming
        self._out = outgoing
        self.peer = peer
        self._closed = False

    async def read(self, max_bytes: int = 65536) -> bytes:
        while True:
            if self._in.buffer:
                data = bytes(self._in.buffer[:max_bytes])
                del self._in.buffer[:max_bytes]
                self._in._update()
                return data
            if self._in.eof or self._closed:
                return b""
            await self._in.readable.wait()

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionClosed(f"{self.peer}: write on a closed pipe")
        view = memoryview(bytes(data))
        while view:
            if self._out.eof:
                raise ConnectionClosed(f"{self.peer}: peer closed the pipe")
            await self._out.writable.wait()
            if self._out.eof:
                raise ConnectionClosed(f"{self.peer}: peer closed the pipe")
            room = max(1, self._out.limit - len(self._out.buffer))
            self._out.buffer += view[:room]
            view = view[room:]
            self._out._update()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for pipe in (self._in, self._out):
            pipe.eof = True
            pipe._update()

    @property
    def closed(self) -> bool:
        return self._closed


def memory_pair(name: str = "", *, limit: int = 1 << 20) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected transports: what one writes, the other reads."""
    label = name or f"pipe{next(_ids)}"
    a_to_b, b_to_a = _Pipe(limit), _Pipe(limit)
    return (MemoryTransport(b_to_a, a_to_b, f"memory://{label}#b"),
            MemoryTransport(a_to_b, b_to_a, f"memory://{label}#a"))


_servers: dict[str, "MemoryServer"] = {}


class MemoryServer(Server):
    def __init__(self, name: str, handler: Handler) -> None:
        self.name = name
        self.url = f"memory://{name}"
        self._handler = handler
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors: list[BaseException] = []

    def _connect(self) -> MemoryTransport:
        client, server_side = memory_pair(self.name)
        task = asyncio.get_running_loop().create_task(self._run(server_side))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return client

    async def _run(self, transport: MemoryTransport) -> None:
        await run_handler(self._handler, transport, self.errors, self.url)

    async def close(self) -> None:
        if _servers.get(self.name) is self:
            del _servers[self.name]
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


async def serve_memory(name: str, handler: Handler) -> MemoryServer:
    if not name:
        raise TransportError("memory://: a server needs a name, e.g. memory://host")
    if name in _servers:
        raise TransportError(f"memory://{name}: already served in this process")
    server = MemoryServer(name, handler)
    _servers[name] = server
    return server


async def connect_memory(name: str) -> MemoryTransport:
    server = _servers.get(name)
    if server is None:
        raise TransportError(f"memory://{name}: nothing is serving that name in this process")
    return server._connect()
