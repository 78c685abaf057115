"""Purchase round trips per second through `possim host`, beside a bare asyncio echo server.

Both servers run as their own processes (`possim host` itself, and a bare asyncio echo server) and are
driven by the same client over loopback TCP: C connections, each sending its requests one after another (a
terminal waits for its answer). The host verifies the cup-ecb MAC, authorizes against the ledger and
commits in SQLite (WAL, synchronous=FULL unless `--sync normal`) before it answers; the echo server
answers each len2 frame with a frame of the size of a real 0210. Requests are built and MACed before the
clock starts, so the client's cost is the same for both.

Each row runs R rounds, host and echo alternately (a busy machine then slows both alike); the rates are
the rounds' medians, p50/p99 are over every round trip of all rounds, and "cpu us" is the server
process's own CPU time (user + system, from /proc) per round trip. After the run every host answer is
checked (39 = 00, MAC verifies) and the ledger must hold exactly one approved purchase per answer.

    .venv/bin/python benchmarks/host.py [--requests N] [--connections C ...] [--rounds R] [--sync full|normal]

Prints rate, p50 and p99 latency for each, and the ratio host/echo (goal >= 0.5). A third server, "floor",
answers like the echo server but on possim's own callback transport (the one `possim host` serves TCP
on): floor/echo shows what the transport costs, host/floor what the host's work costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from possim.host.example_config import EXAMPLE_CONFIG_YAML  # noqa: E402
from possim.iso8583 import get_dialect  # noqa: E402
from possim.security import message  # noqa: E402

CUP = get_dialect("cup-pos")
MAK = bytes.fromhex("0123456789ABCDEF")
TID, MID, PAN = "10000001", "898310048120001", "6222021234567890123"
RESPONSE_SIZE = 151  # the host's 0210 to `purchase`, checked after every run
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


async def start_possim_echo(reply_size: int):  # noqa: ANN201 - a FramedTcpServer
    """The same answers from possim's own callback transport (what `possim host` serves TCP on): the floor
    the host's socket path sits on, so the table shows how much of the gap is transport and how much work."""
    from possim.transport import serve_framed_tcp

    reply = bytes(reply_size)

    class Answer:
        def __init__(self, channel) -> None:  # noqa: ANN001
            self.channel = channel

        def frame_received(self, payload: bytes) -> None:
            self.channel.send_frame(reply)

        def connection_lost(self) -> None:
            pass

    return await serve_framed_tcp(Answer, "len2", "127.0.0.1", 0, partial_timeout=30.0)


async def drive(port: int, frames: list[list[bytes]]) -> tuple[float, list[float], list[bytes]]:
    """Send each connection's frames in turn; return elapsed seconds, latencies and every response body."""
    latencies: list[float] = []
    answers: list[bytes] = []

    async def one(batch: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for body in batch:
            t0 = time.perf_counter()
            writer.write(struct.pack(">H", len(body)) + body)
            head = await reader.readexactly(2)
            answers.append(await reader.readexactly(struct.unpack(">H", head)[0]))
            latencies.append(time.perf_counter() - t0)
        writer.close()
        await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in frames))
    return time.perf_counter() - start, latencies, answers


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Side:
    """One server's measurements over the rounds of a row."""

    rates: list[float] = field(default_factory=list)
    cpu_per_rt: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    answers: list[bytes] = field(default_factory=list)

    def measure(self, proc: subprocess.Popen[str], port: int, frames: list[list[bytes]]) -> None:
        before = cpu_seconds(proc.pid)
        elapsed, latencies, answers = asyncio.run(drive(port, frames))
        done = len(latencies)
        self.cpu_per_rt.append((cpu_seconds(proc.pid) - before) / done)
        self.rates.append(done / elapsed)
        self.latencies += latencies
        self.answers += answers

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu_us(self) -> float:
        return statistics.median(self.cpu_per_rt) * 1e6


def run(requests: int, connections: int, rounds: int, workdir: Path, batch_no: int,
        sync: str) -> dict[str, float]:
    batch = f"{batch_no:06d}"
    per = requests // connections
    stans = iter(range(1, 999_999))
    warm = [[purchase(next(stans), batch) for _ in range(50)] for _ in range(connections)]
    plans = [[[purchase(next(stans), batch) for _ in range(per)] for _ in range(connections)]
             for _ in range(rounds)]

    config = workdir / "host.yaml"
    config.write_text(EXAMPLE_CONFIG_YAML, encoding="utf-8")
    db = workdir / f"bench-{batch}.db"
    host, port = spawn(["-m", "possim", "host", "--config", str(config), "--db", str(db), "--sync", sync,
                        "--listen", "tcp://127.0.0.1:0", "--mak", MAK.hex(), "--mac-alg", "cup-ecb"])
    echo, echo_port = spawn([__file__, "--echo-server", str(RESPONSE_SIZE)])
    floor, floor_port = spawn([__file__, "--echo-server", str(RESPONSE_SIZE), "--possim-echo"])
    h, e, f = Side(), Side(), Side()
    try:
        asyncio.run(drive(port, warm))
        asyncio.run(drive(echo_port, warm))
        asyncio.run(drive(floor_port, warm))
        for frames in plans:
            h.measure(host, port, frames)
            e.measure(echo, echo_port, frames)
            f.measure(floor, floor_port, frames)
    finally:
        stop(host)
        stop(echo)
        stop(floor)

    # Every timed answer was a signed approval, and the ledger holds each one.
    for answer in h.answers:
        resp = CUP.decode(answer)
        assert resp["39"] == "00" and len(answer) == RESPONSE_SIZE, resp.fields.get("39")
        assert message.verify(CUP, answer, "cup-ecb", MAK), "response MAC does not verify"
    with sqlite3.connect(str(db)) as conn:
        kept = conn.execute("SELECT COUNT(*) FROM ledger_txns WHERE response_code = '00' AND txn_type = 'purchase' "
                            "AND batch_no = ?", (batch,)).fetchone()[0]
    assert kept == len(h.answers) + len(warm) * 50, (kept, len(h.answers))

    return {"connections": connections, "requests": len(h.latencies), "host_rate": h.rate, "echo_rate": e.rate,
            "host_p50": pct(h.latencies, 50), "host_p99": pct(h.latencies, 99), "echo_p50": pct(e.latencies, 50),
            "echo_p99": pct(e.latencies, 99), "ratio": h.rate / e.rate, "host_cpu": h.cpu_us, "echo_cpu": e.cpu_us,
            "request_bytes": len(plans[0][0][0]), "response_bytes": RESPONSE_SIZE,
            "floor_rate": f.rate, "floor_cpu": f.cpu_us, "floor_ratio": f.rate / e.rate}


async def echo_main(size: int, possim: bool) -> None:
    if possim:
        server = await start_possim_echo(size)
        port = server.port
    else:
        bare = await start_echo(size)
        port = bare.sockets[0].getsockname()[1]
    print(f"echo listening on tcp://127.0.0.1:{port}", flush=True)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    if possim:
        await server.close()
    else:
        bare.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="purchases per round (default 3000)")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=3, help="host/echo rounds per row (default 3)")
    parser.add_argument("--sync", choices=("full", "normal"), default="full",
                        help="the host's SQLite synchronous setting (default full)")
    parser.add_argument("--echo-server", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--possim-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(echo_main(args.echo_server, args.possim_echo))
        return
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} cpus; load average {os.getloadavg()[0]:.2f}; "
          f"{args.requests} purchases x {args.rounds} rounds per row; "
          f"SQLite WAL synchronous={args.sync.upper()} on the working directory's disk")
    print(f"{'conns':>5} {'host rt/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'cpu us':>7} {'echo rt/s':>10} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'cpu us':>7} {'ratio':>6} {'floor rt/s':>10} {'cpu us':>7} {'floor':>6}")
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        for n, c in enumerate(args.connections, 1):
            r = run(args.requests, c, args.rounds, Path(tmp), n, args.sync)
            print(f"{r['connections']:>5} {r['host_rate']:>10.0f} {r['host_p50']:>7.2f} {r['host_p99']:>7.2f} "
                  f"{r['host_cpu']:>7.0f} {r['echo_rate']:>10.0f} {r['echo_p50']:>7.2f} {r['echo_p99']:>7.2f} "
                  f"{r['echo_cpu']:>7.0f} {r['ratio']:>6.2f} {r['floor_rate']:>10.0f} {r['floor_cpu']:>7.0f} "
                  f"{r['floor_ratio']:>6.2f}", flush=True)
    print(f"frames: request {r['request_bytes']} bytes, response {r['response_bytes']} bytes; servers in their "
          f"own processes; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
