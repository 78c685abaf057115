"""Framing overhead: possim's link layer against the bare minimum over the same wire.

Two side-by-side comparisons, each a request/response loop (send a frame,
wait for the whole echo), which is how a POS link is used:

pty   a raw pty pair; the far end is the same raw echo thread in both runs.
      baseline: pyserial on the slave path, ``write(frame)`` then ``read(len(frame))``
      possim:   ``open_url(path)`` + ``FramedConnection(..., "len2")`` send_frame/recv_frame
tcp   127.0.0.1, C concurrent connections.
      baseline: asyncio streams, 2-byte length prefix, ``readexactly`` (client and server)
      possim:   ``serve_url``/``open_url`` + ``FramedConnection(..., "len2")`` (client and server)

Reported: frames/s (round trips per second) and possim/baseline ratios.
Usage: ``.venv/bin/python benchmarks/link.py [--frames N] [--size BYTES] [--clients C] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import serial  # noqa: E402

from possim.link.framing import frame  # noqa: E402
from possim.transport import ConnectionClosed, FramedConnection, Transport, open_url, serve_url  # noqa: E402
from possim.transport.pty import open_pty_pair  # noqa: E402


def raw_echo_thread(master: int, stop: threading.Event) -> threading.Thread:
    """Echo every byte from the master side back, as fast as possible (same for both runs)."""
    import select

    def run() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            view = memoryview(data)
            while view:
                view = view[os.write(master, view):]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def bench_pty_raw(frames: int, payload: bytes) -> float:
    master, slave, path = open_pty_pair()
    stop = threading.Event()
    echo = raw_echo_thread(master, stop)
    port = serial.Serial(path, timeout=5)
    data = frame("len2", payload)
    try:
        start = time.perf_counter()
        for _ in range(frames):
            port.write(data)
            got = port.read(len(data))
            assert got == data
        elapsed = time.perf_counter() - start
    finally:
        port.close()
        stop.set()
        echo.join(2)
        os.close(master)
        os.close(slave)
    return frames / elapsed


def bench_pty_possim(frames: int, payload: bytes) -> float:
    master, slave, path = open_pty_pair()
    stop = threading.Event()
    echo = raw_echo_thread(master, stop)

    async def body() -> float:
        conn = FramedConnection(await open_url(path), "len2")
        try:
            start = time.perf_counter()
            for _ in range(frames):
                await conn.send_frame(payload)
                assert await conn.recv_frame() == payload
            return frames / (time.perf_counter() - start)
        finally:
            await conn.close()

    try:
        return asyncio.run(body())
    finally:
        stop.set()
        echo.join(2)
        os.close(master)
        os.close(slave)


async def _bare_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readexactly(2)
            body = await reader.readexactly(int.from_bytes(head, "big"))
            writer.write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def bench_tcp_bare(frames: int, payload: bytes, clients: int) -> float:
    data = frame("len2", payload)

    async def client(port: int, count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(data)
            await writer.drain()
            head = await reader.readexactly(2)
            body = await reader.readexactly(int.from_bytes(head, "big"))
            assert body == payload
        writer.close()
        await writer.wait_closed()

    async def body() -> float:
        server = await asyncio.start_server(_bare_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        per_client = frames // clients
        start = time.perf_counter()
        await asyncio.gather(*(client(port, per_client) for _ in range(clients)))
        elapsed = time.perf_counter() - start
        server.close()
        await server.wait_closed()
        return per_client * clients / elapsed

    return asyncio.run(body())


def bench_tcp_possim(frames: int, payload: bytes, clients: int) -> float:
    async def echo(transport: Transport) -> None:
        conn = FramedConnection(transport, "len2")
        try:
            while True:
                await conn.send_frame(await conn.recv_frame())
        except ConnectionClosed:
            pass
        finally:
            await conn.close()

    async def client(url: str, count: int) -> None:
        conn = FramedConnection(await open_url(url), "len2")
        try:
            for _ in range(count):
                await conn.send_frame(payload)
                assert await conn.recv_frame() == payload
        finally:
            await conn.close()

    async def body() -> float:
        server = await serve_url("tcp://127.0.0.1:0", echo)
        per_client = frames // clients
        try:
            start = time.perf_counter()
            await asyncio.gather(*(client(server.url, per_client) for _ in range(clients)))
            elapsed = time.perf_counter() - start
        finally:
            await server.close()
        return per_client * clients / elapsed

    return asyncio.run(body())


def run(frames: int = 5000, size: int = 200, clients: int = 10, repeat: int = 3) -> dict[str, Any]:
    """Every case, best of ``repeat``: frames/s per case and the possim/baseline ratios."""
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))

    def best(fn, *a) -> float:  # type: ignore[no-untyped-def]
        return max(fn(*a) for _ in range(repeat))

    results = {
        "pty_raw_pyserial": best(bench_pty_raw, frames, payload),
        "pty_possim_len2": best(bench_pty_possim, frames, payload),
        "tcp_bare_asyncio_1": best(bench_tcp_bare, frames, payload, 1),
        "tcp_possim_len2_1": best(bench_tcp_possim, frames, payload, 1),
        f"tcp_bare_asyncio_{clients}": best(bench_tcp_bare, frames, payload, clients),
        f"tcp_possim_len2_{clients}": best(bench_tcp_possim, frames, payload, clients),
    }
    ratios = {
        "pty": results["pty_possim_len2"] / results["pty_raw_pyserial"],
        "tcp_1": results["tcp_possim_len2_1"] / results["tcp_bare_asyncio_1"],
        f"tcp_{clients}": (results[f"tcp_possim_len2_{clients}"]
                           / results[f"tcp_bare_asyncio_{clients}"]),
    }
    return {"frames": frames, "size": size, "clients": clients, "repeat": repeat, "results": results,
            "ratios": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000, help="round trips per run (default 5000)")
    parser.add_argument("--size", type=int, default=200, help="payload bytes (default 200, a typical 0200)")
    parser.add_argument("--clients", type=int, default=10, help="concurrent TCP connections (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best is kept (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    out = run(args.frames, args.size, args.clients, args.repeat)
    results, ratios = out["results"], out["ratios"]
    if args.json:
        print(json.dumps({"frames": args.frames, "size": args.size, "results": results, "ratios": ratios}))
        return 0
    print(f"{args.frames} round trips, {args.size}-byte payload, len2 framing, best of {args.repeat}")
    for name, value in results.items():
        print(f"  {name:24s} {value:10.0f} frames/s")
    for name, value in ratios.items():
        print(f"  possim/baseline {name:8s} {value:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
