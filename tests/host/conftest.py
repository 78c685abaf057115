"""Fixtures for the host simulator: a real HostServer on 127.0.0.1 (its own
event loop in a thread), a real SQLite file per test, a simulated clock, a
deterministic random source, and a small blocking-socket terminal that signs
in, builds requests with the cup-pos dialect and MACs them with
possim.security.message.sign.

The configuration is the shipped example (possim.host.example_config), so
what the tests prove is what a user gets from `possim host example-config`.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sqlite3
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from possim.host.clock import HOST_TZ, SimulatedClock
from possim.host.config import HostConfig
from possim.host.example_config import example_config
from possim.host.keys import PreinstalledKeys
from possim.host.server import HostServer
from possim.iso8583 import Message, get_dialect
from possim.security import keys, message, pinblock
from possim.traffic import TrafficBus

CUP = get_dialect("cup-pos")
START = datetime(2024, 6, 1, 10, 0, tzinfo=HOST_TZ)
TMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TID, TID2, TID_UNBOUND = "10000001", "10000002", "10000003"
MID = "898310048120001"
OTHER_MID = "898411341310014"
DEBIT, DEBIT_PIN = "6222021234567890123", "123456"
CREDIT, CREDIT_PIN = "6225881234567890", "654321"
FOREIGN = "4761739001010010"
LOST, STOLEN, BLOCKED, EXPIRED = ("6222020000000000011", "6222020000000000029", "6222020000000000037",
                                  "6222020000000000045")
HANG_GUARD = 20.0  # seconds; only stops a broken test from hanging, never asserted on


def counter_random() -> Callable[[int], bytes]:
    """A deterministic random source (keys, auth codes) so runs repeat exactly."""
    seq = itertools.count(1)

    def random_bytes(n: int) -> bytes:
        k = next(seq)
        return bytes((k * 37 + i * 11) % 256 for i in range(n))

    return random_bytes


class HostThread:
    """A HostServer running in its own event loop on a thread, so tests talk to it with plain sockets."""

    def __init__(self, config: HostConfig, db_path: Path, clock: SimulatedClock, *,
                 preinstalled: PreinstalledKeys | None = None, listen: tuple[str, ...] = ("tcp://127.0.0.1:0",),
                 traffic_bus: TrafficBus | None = None) -> None:
        self.server = HostServer(config, db_path, list(listen), "cup-pos", clock, traffic_bus,
                                 random_bytes=counter_random(), preinstalled=preinstalled)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.server.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            await self._stop.wait()
            await self.server.close()
        asyncio.run(main())

    def start(self) -> "HostThread":
        self._thread.start()
        self._ready.wait(HANG_GUARD)
        if self._error is not None:
            raise self._error
        return self

    @property
    def port(self) -> int:
        return int(self.server.urls[0].rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(HANG_GUARD)


def recv_frame(sock: socket.socket) -> bytes:
    head = _recv_exact(sock, 2)
    return _recv_exact(sock, struct.unpack(">H", head)[0])


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("host closed the connection")
        data += chunk
    return data


def send_frame(sock: socket.socket, body: bytes) -> None:
    sock.sendall(struct.pack(">H", len(body)) + body)


class Terminal:
    """A minimal CUP terminal for tests: sign in, build, MAC, send, receive, check the MAC."""

    def __init__(self, port: int, tid: str = TID, mid: str = MID, tmk: bytes = TMK, mac_alg: str = "cup-ecb",
                 tpdu: str = "6000030000", header: str = "603100000000") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        self.tid, self.mid, self.mac_alg = tid, mid, mac_alg
        self.tpdu, self.header = tpdu, header
        self.store = keys.KeyStore(tid, tmk)
        self.stan = 0
        self.batch = "000001"
        self.last_body = b""

    def close(self) -> None:
        self.sock.close()

    def next_stan(self) -> str:
        self.stan += 1
        return f"{self.stan:06d}"

    def build(self, mti: str, fields: dict[str, str], *, stan: str | None = None) -> Message:
        base = {"11": stan or self.next_stan(), "41": self.tid, "42": self.mid}
        base.update(fields)
        return CUP.message(mti, base, tpdu=self.tpdu, header=self.header)

    def exchange_body(self, body: bytes) -> tuple[Message, bytes]:
        send_frame(self.sock, body)
        raw = recv_frame(self.sock)
        self.last_body = raw
        return CUP.decode(raw), raw

    def send(self, msg: Message, *, sign: bool = True, mak: bytes | None = None) -> Message:
        if sign:
            msg.fields["64"] = "00" * 8
        body = CUP.encode(msg)
        if sign:
            body = message.sign(CUP, body, self.mac_alg, mak or self.store.require("mak"))
        response, _ = self.exchange_body(body)
        return response

    def request(self, mti: str, fields: dict[str, str], *, sign: bool = True, stan: str | None = None,
                mak: bytes | None = None) -> Message:
        return self.send(self.build(mti, fields, stan=stan), sign=sign, mak=mak)

    def mac_ok(self) -> bool:
        """The last response carries a MAC that verifies under the terminal's MAK."""
        return message.verify(CUP, self.last_body, self.mac_alg, self.store.require("mak"))

    # -- transactions ---------------------------------------------------------------

    def sign_in(self, mode: str = "003") -> Message:
        response = self.request("0800", {"60": "00" + self.batch + mode, "63": "001"}, sign=False)
        if response.get("39") == "00":
            self.store = self.store.apply_field62(mode, bytes.fromhex(response["62"]))
            self.batch = response.get("60.2") or self.batch
        return response

    def card_fields(self, pan: str, amount: int | None, pin: str | None, expiry: str = "3012") -> dict[str, str]:
        fields = {"2": pan, "14": expiry, "22": "021" if pin is None else "021", "25": "00", "49": "156"}
        if amount is not None:
            fields["4"] = f"{amount:012d}"
        if pin is not None:
            fields["26"] = "12"
            fields["52"] = pinblock.encipher(0, pin, pan, self.store.require("pik")).hex().upper()
            fields["53"] = "2600000000000000"
        return fields

    def purchase(self, pan: str = DEBIT, amount: int = 1000, pin: str | None = DEBIT_PIN, **extra: str) -> Message:
        fields = {"3": "000000", **self.card_fields(pan, amount, pin), "60": "22" + self.batch + "000"}
        fields.update(extra)
        return self.request("0200", fields)

    def balance(self, pan: str = DEBIT, pin: str | None = DEBIT_PIN, code: str = "310000") -> Message:
        fields = {"3": code, **self.card_fields(pan, None, pin), "60": "01" + self.batch + "000"}
        return self.request("0200", fields)

    def void(self, original: Message, pan: str = DEBIT, amount: int | None = None, **extra: str) -> Message:
        amt = int(original["4"]) if amount is None else amount
        fields = {"3": "200000", **self.card_fields(pan, amt, None), "37": original["37"], "38": original["38"],
                  "60": "23" + self.batch + "000", "61": original["60"][2:8] + original["11"]}
        fields.update(extra)
        return self.request("0200", fields)

    def refund(self, original: Message, amount: int, pan: str = DEBIT) -> Message:
        fields = {"3": "200000", **self.card_fields(pan, amount, None), "37": original["37"],
                  "60": "25" + self.batch + "000", "61": original["60"][2:8] + original["11"] + original["13"]}
        return self.request("0220", fields)

    def reverse(self, original: Message, reason: str = "98") -> Message:
        fields = {k: original.fields[k] for k in ("2", "3", "4", "14", "22", "25", "49") if k in original.fields}
        fields.update({"39": reason, "60": original["60"][:8] + "000",
                       "61": original["60"][2:8] + original["11"]})
        return self.request("0400", fields, stan=original["11"])

    def settle(self, field48: str, batch: str | None = None) -> Message:
        return self.request("0500", {"48": field48, "49": "156", "60": "00" + (batch or self.batch) + "201",
                                     "63": "001"})

    def manage(self, code: str, tags: dict[str, str] | None = None) -> tuple[Message, dict[str, str]]:
        from possim.host.management import build_tags, parse_tags

        fields = {"60": "00" + self.batch + code}
        if tags:
            fields["59"] = build_tags(tags)
        response = self.request("0800", fields)
        return response, parse_tags(response.get("59"))


@dataclass
class Env:
    clock: SimulatedClock
    db_path: Path
    config: HostConfig
    host: HostThread
    terminals: list[Terminal]

    def terminal(self, tid: str = TID, mid: str = MID, **kw: Any) -> Terminal:
        term = Terminal(self.host.port, tid, mid, **kw)
        self.terminals.append(term)  # closed at teardown
        return term

    def db(self) -> sqlite3.Connection:
        """A second, read-side connection (WAL lets it read beside the host's writer)."""
        conn = sqlite3.connect(str(self.db_path), timeout=10)
        return conn

    def balance_of(self, pan: str) -> int:
        with self.db() as conn:
            return int(conn.execute("SELECT balance_fen FROM accounts WHERE pan = ?", (pan,)).fetchone()[0])

    def restart(self, **kw: Any) -> None:
        self.host.stop()
        self.host = HostThread(self.config, self.db_path, self.clock, **kw).start()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def env(tmp_path: Path, clock: SimulatedClock) -> Iterator[Env]:
    config = example_config()
    host = HostThread(config, tmp_path / "host.db", clock).start()
    e = Env(clock, tmp_path / "host.db", config, host, [])
    yield e
    for term in e.terminals:
        term.close()
    e.host.stop()


@pytest.fixture
def signed_in(env: Env) -> Terminal:
    term = env.terminal()
    assert term.sign_in()["39"] == "00"
    return term
