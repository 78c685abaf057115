"""Purchase round trips per second through `possim host`, beside a bare asyncio echo server.

Both servers run as their own processes (`possim host` itself, and a bare asyncio echo server), one after
the other, driven by the same client over loopback TCP: C connections, each sending its requests one after another (a terminal waits for
its answer). The host verifies the cup-ecb MAC, authorizes against the ledger and commits in SQLite (WAL,
synchronous=FULL) before it answers; the echo server answers each len2 frame with a frame of the size of a
real 0210. Requests are built and MACed before the clock starts, so the client's cost is the same for both.

    .venv/bin/python benchmarks/host.py [--requests N] [--connections C ...]

Prints rate, p50 and p99 latency for each, and the ratio host/echo (goal >= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from possim.host.example_config import EXAMPLE_CONFIG_YAML  # noqa: E402
from possim.iso8583 import get_dialect  # noqa: E402
from possim.security import message  # noqa: E402

CUP = get_dialect("cup-pos")
MAK = bytes.fromhex("0123456789ABCDEF")
TID, MID, PAN = "10000001", "898310048120001", "6222021234567890123"


def purchase(stan: int, batch: str) -> bytes:
    msg = CUP.message("0200", {
        "2": PAN, "3": "000000", "4": "000000000001", "11": f"{stan:06d}", "14": "3012", "22": "021", "25": "00",
        "41": TID, "42": MID, "49": "156", "60": "22" + batch + "000", "64": "00" * 8},
        tpdu="6000030000", header="603100000000")
    return message.sign(CUP, CUP.encode(msg), "cup-ecb", MAK)


async def start_echo(reply_size: int) -> asyncio.base_events.Server:
    reply = struct.pack(">H", reply_size) + bytes(reply_size)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(2)
                await reader.readexactly(struct.unpack(">H", head)[0])
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


async def drive(port: int, frames: list[list[bytes]]) -> tuple[float, list[float], bytes]:
    """Send each connection's frames in turn; return elapsed seconds, latencies, one response body."""
    latencies: list[float] = []
    sample = b""

    async def one(batch: list[bytes]) -> None:
        nonlocal sample
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for body in batch:
            t0 = time.perf_counter()
            writer.write(struct.pack(">H", len(body)) + body)
            head = await reader.readexactly(2)
            sample = await reader.readexactly(struct.unpack(">H", head)[0])
            latencies.append(time.perf_counter() - t0)
        writer.close()
        await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in frames))
    return time.perf_counter() - start, latencies, sample


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def spawn(args: list[str]) -> tuple[subprocess.Popen[str], int]:
    """Start a server process and read the port from its first line."""
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, int(line.strip().rsplit(":", 1)[1])


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    if proc.stdout:
        proc.stdout.close()


def run(requests: int, connections: int, workdir: Path, batch_no: int) -> dict[str, float]:
    batch = f"{batch_no:06d}"
    per = requests // connections
    frames = [[purchase(c * per + i + 1, batch) for i in range(per)] for c in range(connections)]
    warm = [[purchase(900000 + c * 50 + i, batch) for i in range(50)] for c in range(connections)]

    config = workdir / "host.yaml"
    config.write_text(EXAMPLE_CONFIG_YAML, encoding="utf-8")
    host, port = spawn(["-m", "possim", "host", "--config", str(config), "--db", str(workdir / f"bench-{batch}.db"),
                        "--listen", "tcp://127.0.0.1:0", "--mak", MAK.hex(), "--mac-alg", "cup-ecb"])
    try:
        asyncio.run(drive(port, warm))
        host_s, host_lat, sample = asyncio.run(drive(port, frames))
    finally:
        stop(host)
    resp = CUP.decode(sample)
    assert resp["39"] == "00" and message.verify(CUP, sample, "cup-ecb", MAK), resp.fields.get("39")

    echo, echo_port = spawn([__file__, "--echo-server", str(len(sample))])
    try:
        asyncio.run(drive(echo_port, warm))
        echo_s, echo_lat, _ = asyncio.run(drive(echo_port, frames))
    finally:
        stop(echo)

    done = per * connections
    return {"connections": connections, "requests": done, "host_rate": done / host_s, "echo_rate": done / echo_s,
            "host_p50": pct(host_lat, 50), "host_p99": pct(host_lat, 99), "echo_p50": pct(echo_lat, 50),
            "echo_p99": pct(echo_lat, 99), "ratio": (done / host_s) / (done / echo_s),
            "request_bytes": len(frames[0][0]), "response_bytes": len(sample)}


async def echo_main(size: int) -> None:
    server = await start_echo(size)
    print(f"echo listening on tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--echo-server", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(echo_main(args.echo_server))
        return
    print(f"python {sys.version.split()[0]}; {args.requests} purchases per run; "
          "SQLite WAL synchronous=FULL on the working directory's disk")
    print(f"{'conns':>5} {'host rt/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'echo rt/s':>10} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'ratio':>6}")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        for n, c in enumerate(args.connections, 1):
            r = run(args.requests, c, Path(tmp), n)
            print(f"{r['connections']:>5} {r['host_rate']:>10.0f} {r['host_p50']:>7.2f} {r['host_p99']:>7.2f} "
                  f"{r['echo_rate']:>10.0f} {r['echo_p50']:>7.2f} {r['echo_p99']:>7.2f} {r['ratio']:>6.2f}", flush=True)
    print(f"frames: request {r['request_bytes']} bytes, response {r['response_bytes']} bytes; "
          "servers in their own processes")


if __name__ == "__main__":
    main()
