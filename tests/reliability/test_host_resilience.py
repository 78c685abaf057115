"""The host keeps serving through garbage, oversized lengths, truncated frames and slow-loris peers.

A real HostServer on 127.0.0.1 (its own loop on a thread), a real SQLite file, raw sockets. After
each abuse a well-formed, MACed purchase must be approved on a *new* connection and, where the
len2 stream can be resynchronised, on the *same* one. The host drops a frame that is not
completed ``frame_timeout`` seconds after its first byte (set to 1 s here; 30 s by default), so a
half-sent frame neither holds its connection forever nor -- being one task among many -- delays
another terminal.

No assertion is on time: the sleeps below only give the host's frame timer room to fire.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from possim.host.clock import SimulatedClock
from possim.host.example_config import example_config
from possim.security import message

from tests.host.conftest import CUP, DEBIT, HANG_GUARD, START, HostThread, Terminal, recv_frame, send_frame

FRAME_TIMEOUT = 1.0
AFTER_TIMEOUT = FRAME_TIMEOUT * 2.5  # a wait long enough for the host's frame timer to have fired


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "host.db"
        self.host = HostThread(example_config(), self.db, SimulatedClock(START))
        self.host.server.frame_timeout = FRAME_TIMEOUT
        self.host.start()
        self.terminal = Terminal(self.host.port)
        assert self.terminal.sign_in()["39"] == "00"
        self.lock = threading.Lock()  # STANs and the key store are shared by connections of one terminal

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.host.port), timeout=HANG_GUARD)

    def purchase_frame(self, amount: int = 100) -> tuple[str, bytes]:
        with self.lock:
            msg = self.terminal.build("0200", {"3": "000000", **self.terminal.card_fields(DEBIT, amount, "123456"),
                                               "60": "22" + self.terminal.batch + "000", "64": "00" * 8})
            body = message.sign(CUP, CUP.encode(msg), "cup-ecb", self.terminal.store.require("mak"))
        return msg["11"], body

    def purchase_on(self, sock: socket.socket, amount: int = 100) -> dict[str, str]:
        """Send a purchase and read answers until the one for its STAN (answers to garbage are skipped)."""
        stan, body = self.purchase_frame(amount)
        send_frame(sock, body)
        for _ in range(50):
            raw = recv_frame(sock)
            answer = CUP.decode(raw)
            if answer.get("11") == stan and answer.mti == "0210":
                assert message.verify(CUP, raw, "cup-ecb", self.terminal.store.require("mak"))
                return dict(answer.fields)
        raise AssertionError(f"no answer for STAN {stan}")

    def served_on_new_connection(self) -> None:
        with self.connect() as sock:
            assert self.purchase_on(sock)["39"] == "00"

    def approvals(self) -> int:
        import sqlite3
        with sqlite3.connect(str(self.db)) as conn:
            return conn.execute("SELECT COUNT(*) FROM ledger_txns WHERE response_code = '00' "
                                "AND txn_type = 'purchase'").fetchone()[0]

    def close(self) -> None:
        self.terminal.close()
        self.host.stop()
        assert not self.host._thread.is_alive()


@pytest.fixture
def bench(tmp_path: Path) -> Iterator[Bench]:
    b = Bench(tmp_path)
    yield b
    b.close()


@pytest.fixture(scope="module")
def shared_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    b = Bench(tmp_path_factory.mktemp("garbage"))
    yield b
    b.close()


_GARBAGE_FRAMES = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.binary(min_size=1, max_size=40).map(lambda b: bytes.fromhex("6000030000603100000000") + b),  # TPDU+header
    st.binary(min_size=1, max_size=40).map(lambda b: bytes.fromhex("60000300006031000000000200") + b),
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(garbage=st.lists(_GARBAGE_FRAMES, min_size=1, max_size=4))
def test_garbage_frames_then_a_purchase_on_the_same_connection(shared_bench: Bench, garbage: list[bytes]) -> None:
    with shared_bench.connect() as sock:
        for blob in garbage:
            send_frame(sock, blob)
        assert shared_bench.purchase_on(sock)["39"] == "00"


def test_a_garbage_stream_then_purchases_on_the_same_and_a_new_connection(bench: Bench) -> None:
    import random
    rng = random.Random(8583)
    with bench.connect() as sock:
        for _ in range(20):  # unframed noise: the len2 framer reads lengths out of it
            sock.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        bench.served_on_new_connection()  # served while that connection is in a mess
        time.sleep(AFTER_TIMEOUT)  # whatever partial frame the noise left is dropped
        assert bench.purchase_on(sock)["39"] == "00"
    bench.served_on_new_connection()


def test_an_oversized_length_prefix_neither_blocks_nor_kills(bench: Bench) -> None:
    with bench.connect() as liar:
        liar.sendall(b"\xff\xff" + b"\x00" * 100)  # says 65535 bytes, sends 100
        bench.served_on_new_connection()
        time.sleep(AFTER_TIMEOUT)
        assert bench.purchase_on(liar)["39"] == "00"  # the same connection resynchronised after the silence
        liar.sendall(b"\xff\xff" + b"\xa5" * 0xFFFF)  # a full 64 KiB frame of nothing: not answered
        assert bench.purchase_on(liar)["39"] == "00"
    bench.served_on_new_connection()


def test_a_truncated_frame_is_never_processed(bench: Bench) -> None:
    before = bench.approvals()
    _, body = bench.purchase_frame(777)
    with bench.connect() as sock:
        sock.sendall(struct.pack(">H", len(body)) + body[: len(body) // 2])
    bench.served_on_new_connection()
    with bench.connect() as sock:  # cut inside the length prefix, too
        sock.sendall(struct.pack(">H", len(body))[:1])
    bench.served_on_new_connection()
    assert bench.approvals() == before + 2  # the two served purchases; the truncated one never happened


def test_slow_loris_connections_do_not_hold_up_other_terminals(bench: Bench) -> None:
    _, body = bench.purchase_frame()
    framed = struct.pack(">H", len(body)) + body
    lorises = [bench.connect() for _ in range(10)]
    try:
        for sock in lorises:  # ten connections, each part-way into a frame
            sock.sendall(framed[:5])
        trickle = lorises[0]
        for i in range(5, 13):  # one byte at a time, slower than the frame timeout allows in total
            trickle.sendall(framed[i:i + 1])
            bench.served_on_new_connection()  # another terminal is served meanwhile, every time
            time.sleep(FRAME_TIMEOUT / 4)
        time.sleep(AFTER_TIMEOUT)
        for sock in lorises[:3]:  # the half frames were dropped: the same connections work again
            assert bench.purchase_on(sock)["39"] == "00"
        trickle.settimeout(0.2)
        with pytest.raises(socket.timeout):
            trickle.recv(1)  # nothing was ever answered to the dropped half frame
    finally:
        for sock in lorises:
            sock.close()
    bench.served_on_new_connection()


def test_the_default_host_has_a_bounded_frame_timeout() -> None:
    from possim.host.server import FRAME_TIMEOUT as DEFAULT, HostServer

    server = HostServer(example_config(), ":memory:", ["tcp://127.0.0.1:0"])
    assert server.frame_timeout == DEFAULT and 0 < DEFAULT <= 60
