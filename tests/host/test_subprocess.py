"""`possim host` as a real process: a real CUP terminal's 0200 gets a well-formed 0210, and a kill -9 in the
middle of a burst loses no answered approval.

The 0200 is the public qPBOC purchase from yangyongzhen/Easy8583Ans@62fbbb41, My8583Ans.java:788-792
(tests/iso8583/test_cup_traffic.py, id purchase_0200_easy8583), MACed with cup-ecb under MAK 313215FDA2C4AB4C.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from possim.host.example_config import EXAMPLE_CONFIG_YAML
from possim.iso8583 import Message
from possim.link import unframe
from possim.security import message

from tests.host.conftest import CUP, DEBIT, HANG_GUARD, MID, TID, recv_frame, send_frame

REAL_0200 = (
    "0118600501000061310031110802007024068020C0821119621081084000342494000000000000000000010000202706"
    "0720000100376210810840003424940D27062207001000100F3733373832323134383938343131333431333130303134"
    "31353601649F2608ED1D6BA78357FB259F2701809F101307010103A00000010A0100000000003B1637329F3704591D37"
    "169F360201C0950500000000009A031807119C01009F02060000000000015F2A02015682027C009F1A0201569F030600"
    "00000000009F3303E0E1C89F34030200009F3501229F1E0830303030303030308408A0000003330101019F0902008C9F"
    "4104000000209F6310303130353030303000000000000000000013220007570006004237313333423537"
)
REAL_MAK = "313215FDA2C4AB4C"
CAPTURE_TIME = "2018-07-11T10:00:00+08:00"  # the capture's field 55 carries 9A 180711


class HostProcess:
    def __init__(self, tmp: Path, *extra: str) -> None:
        config = tmp / "host.yaml"
        if not config.exists():
            config.write_text(EXAMPLE_CONFIG_YAML, encoding="utf-8")
        self.db = tmp / "host.db"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "possim", "host", "--config", str(config), "--db", str(self.db),
             "--listen", "tcp://127.0.0.1:0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("possim host listening on tcp://127.0.0.1:"):
            self.proc.kill()
            raise AssertionError(f"host did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.port = int(line.strip().rsplit(":", 1)[1])

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=HANG_GUARD)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(HANG_GUARD)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return code


@pytest.fixture
def procs() -> Iterator[list[HostProcess]]:
    started: list[HostProcess] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
        p.stop()


def _exchange(host: HostProcess, body: bytes) -> bytes:
    with host.connect() as sock:
        send_frame(sock, body)
        return recv_frame(sock)


def _check_0210(request: bytes, response: bytes, alg: str, mak: bytes) -> Message:
    req, resp = CUP.decode(request), CUP.decode(response)
    assert resp.mti == "0210" and resp["39"] == "00"
    assert req.tpdu == "6005010000" and resp.tpdu == "6000000501"  # destination and source swapped
    assert (resp["11"], resp["41"], resp["42"]) == ("000020", "73782214", "898411341310014")
    assert resp.header == "613100311108"  # the request's header, processing requirement 0
    assert message.verify(CUP, response, alg, mak)
    return resp


def test_real_cup_0200_with_its_cup_ecb_mac(tmp_path: Path, procs: list[HostProcess]) -> None:
    body = unframe("len2", bytes.fromhex(REAL_0200))
    assert message.verify(CUP, body, "cup-ecb", bytes.fromhex(REAL_MAK))  # the frame as captured
    # the card in the capture expires 2706: pin the host's clock before that so the test does not age
    host = HostProcess(tmp_path, "--mak", REAL_MAK, "--mac-alg", "cup-ecb", "--clock-start", CAPTURE_TIME)
    procs.append(host)
    resp = _check_0210(body, _exchange(host, body), "cup-ecb", bytes.fromhex(REAL_MAK))
    assert resp["4"] == "000000000001" and len(resp["37"]) == 12 and len(resp["38"]) == 6
    assert host.stop() == 0


def test_real_cup_0200_resigned_with_x99_under_a_command_line_key(tmp_path: Path,
                                                                 procs: list[HostProcess]) -> None:
    mak = bytes.fromhex("0123456789ABCDEF")
    body = message.sign(CUP, unframe("len2", bytes.fromhex(REAL_0200)), "x9.9", mak)
    host = HostProcess(tmp_path, "--mak", mak.hex(), "--mac-alg", "x9.9", "--clock-start", CAPTURE_TIME)
    procs.append(host)
    _check_0210(body, _exchange(host, body), "x9.9", mak)
    wrong = message.sign(CUP, body, "x9.9", bytes.fromhex("FEDCBA9876543210"))
    answer = CUP.decode(_exchange(host, wrong))
    assert answer["39"] == "A0" and "64" not in answer and answer.header[5] == "3"
    assert CUP.decode(_exchange(host, body))["39"] == "94"  # the good request again: a duplicate STAN
    assert host.stop() == 0


def test_accept_any_terminal_with_a_default_card(tmp_path: Path, procs: list[HostProcess]) -> None:
    (tmp_path / "host.yaml").write_text("default_card: {balance_fen: 500}\n", encoding="utf-8")
    body = unframe("len2", bytes.fromhex(REAL_0200))
    host = HostProcess(tmp_path, "--mak", REAL_MAK, "--mac-alg", "cup-ecb", "--accept-any-terminal")
    procs.append(host)
    _check_0210(body, _exchange(host, body), "cup-ecb", bytes.fromhex(REAL_MAK))
    assert host.stop() == 0
    with sqlite3.connect(str(host.db)) as db:
        assert db.execute("SELECT balance_fen, source FROM accounts").fetchall() == [(499, "default_card")]
        assert db.execute("SELECT state, mid FROM terminals").fetchall() == [("bound", "898411341310014")]


def test_kill_9_loses_no_answered_approval(tmp_path: Path, procs: list[HostProcess]) -> None:
    mak = bytes.fromhex("0123456789ABCDEF")
    host = HostProcess(tmp_path, "--mak", mak.hex(), "--mac-alg", "cup-ecb")
    procs.append(host)
    answered: list[tuple[str, str]] = []  # (STAN, RRN) of approvals the terminals were told about
    lock = threading.Lock()
    enough = threading.Event()

    def terminal(worker: int) -> None:
        try:
            with host.connect() as sock:
                for n in range(1, 5000):
                    stan = f"{worker}{n:05d}"
                    msg = CUP.message("0200", {
                        "2": DEBIT, "3": "000000", "4": "000000000100", "11": stan, "14": "3012", "22": "021",
                        "25": "00", "41": TID, "42": MID, "49": "156", "60": "22000001000", "64": "00" * 8},
                        tpdu="6000030000", header="603100000000")
                    send_frame(sock, message.sign(CUP, CUP.encode(msg), "cup-ecb", mak))
                    resp = CUP.decode(recv_frame(sock))
                    assert resp["39"] == "00", resp["39"]
                    with lock:
                        answered.append((stan, resp["37"]))
                        if len(answered) >= 200:
                            enough.set()
        except (ConnectionError, OSError):
            return  # the host died under us: expected

    threads = [threading.Thread(target=terminal, args=(w,)) for w in range(1, 5)]
    for t in threads:
        t.start()
    enough.wait(HANG_GUARD)
    os.kill(host.proc.pid, signal.SIGKILL)
    for t in threads:
        t.join(HANG_GUARD)
    assert host.proc.wait(HANG_GUARD) == -signal.SIGKILL
    with lock:
        told = list(answered)
    assert len(told) >= 200

    again = HostProcess(tmp_path, "--mak", mak.hex(), "--mac-alg", "cup-ecb")  # restart on the same database
    procs.append(again)
    assert again.stop() == 0
    with sqlite3.connect(str(again.db)) as db:
        rows = dict(db.execute("SELECT stan, rrn FROM ledger_txns WHERE response_code = '00'").fetchall())
        balance = db.execute("SELECT balance_fen FROM accounts WHERE pan = ?", (DEBIT,)).fetchone()[0]
    for stan, rrn in told:
        assert rows.get(stan) == rrn, f"approval STAN {stan} was answered but is not in the ledger"
    assert balance == 1_000_000 - 100 * len(rows)  # every committed approval moved the balance once
