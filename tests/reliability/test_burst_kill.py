"""A `possim host` process is killed with SIGKILL in the middle of 1,000 purchases from several terminals.

Four real terminals (possim.terminal, each with its own SQLite journal, each on its own thread and
event loop, so their fsyncs overlap as real terminals' would) buy against one `possim host`
subprocess. When about 400 purchases have been approved, the host gets `kill -9`. The terminals see
the link die: a purchase in flight becomes a stored reversal (98), one not yet sent is dropped
(91). The host is started again on the same database and port; the terminals go on (each sends its
stored reversal before its next purchase) until 1,000 purchases have been attempted, then settle.

Then the books are checked: every purchase a terminal was told was approved is in the ledger
exactly once, with the same reference number, not reversed; every reversal the host acted on was
applied once; the card's balance is its opening balance less the sum of standing approvals; each
terminal's settlement is balanced without an upload.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from possim.host.example_config import EXAMPLE_CONFIG_YAML
from possim.terminal.config import TerminalConfig
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal
from possim.terminal.messages import Card

from .reconcile import balance, reconcile

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD = 60.0  # only stops a broken test from hanging; never asserted on
TOTAL = 1000
KILL_AFTER = 400  # approvals seen before the kill
TMK = "0123456789ABCDEFFEDCBA9876543210"
MID = "898310048120001"
TIDS = ["20000001", "20000002", "20000003", "20000004"]
PAN, EXPIRY, PIN = "6222021234567890123", "3012", "123456"
OPENING_FEN = 1_000_000


def _config_text() -> str:
    extra = "".join(f'  - tid: "{tid}"\n    mid: "{MID}"\n    tmk: {TMK}\n' for tid in TIDS)
    text = EXAMPLE_CONFIG_YAML.replace("terminals:\n", "terminals:\n" + extra, 1)
    # one card for everybody, without the per-transaction limit of the example
    return text.replace('balance_fen: 1000000, limit_fen: 500000,', f'balance_fen: {OPENING_FEN},', 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HostProcess:
    def __init__(self, tmp: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "possim", "host", "--config", str(tmp / "host.yaml"), "--db", str(tmp / "host.db"),
             "--listen", f"tcp://127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("possim host listening on"):
            self.proc.kill()
            raise AssertionError(f"host did not start: {line!r}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(HANG_GUARD) == -signal.SIGKILL
        self._close_pipes()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(HANG_GUARD)
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.proc.stdout:
            self.proc.stdout.close()


@dataclass
class Burst:
    attempts: int = 0
    approved: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    host_up: threading.Event = field(default_factory=threading.Event)
    kill_now: threading.Event = field(default_factory=threading.Event)
    settled: dict[str, dict] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)

    def take(self) -> bool:
        with self.lock:
            if self.attempts >= TOTAL:
                return False
            self.attempts += 1
            return True

    def seen(self, code: str, approved: bool) -> None:
        with self.lock:
            self.outcomes[code] = self.outcomes.get(code, 0) + 1
            if approved:
                self.approved += 1
                if self.approved >= KILL_AFTER:
                    self.kill_now.set()


def _terminal_thread(tmp: Path, tid: str, port: int, burst: Burst, index: int) -> None:
    async def main() -> None:
        config = TerminalConfig(tid=tid, mid=MID, merchant_name="上海浦东测试便利店", tmk=bytes.fromhex(TMK),
                                response_timeout=5.0)
        term = Terminal(config, Journal(tmp / f"terminal-{tid}.db"), HostLink(f"tcp://127.0.0.1:{port}"))
        card = Card(PAN, EXPIRY)
        try:
            await term.start()
            assert (await term.sign_in()).approved
            amount = 100 + index
            while burst.take():
                burst.host_up.wait(HANG_GUARD)
                result = await term.purchase(amount, card, PIN)
                burst.seen(result.code, result.approved)
                if result.local and not burst.host_up.is_set():
                    await asyncio.to_thread(burst.host_up.wait, HANG_GUARD)
            await term.send_reversals()
            settled = await term.settle()
            burst.settled[tid] = {"approved": settled.approved, **settled.data}
        finally:
            await term.close()
    try:
        asyncio.run(main())
    except BaseException as exc:  # reported by the test
        burst.errors.append(exc)


def test_kill_9_mid_burst_of_1000_purchases(tmp_path: Path) -> None:
    (tmp_path / "host.yaml").write_text(_config_text(), encoding="utf-8")
    port = _free_port()
    host = HostProcess(tmp_path, port)
    burst = Burst()
    burst.host_up.set()
    threads = [threading.Thread(target=_terminal_thread, args=(tmp_path, tid, port, burst, i))
               for i, tid in enumerate(TIDS)]
    try:
        for t in threads:
            t.start()
        assert burst.kill_now.wait(HANG_GUARD)
        burst.host_up.clear()
        host.kill9()
        host = HostProcess(tmp_path, port)  # same database, same port
        burst.host_up.set()
        for t in threads:
            t.join(HANG_GUARD * 2)
        assert not burst.errors, burst.errors
        assert burst.attempts == TOTAL
    finally:
        burst.host_up.set()
        host.stop()

    assert set(burst.settled) == set(TIDS)
    for tid, settled in burst.settled.items():
        assert settled["approved"] and settled["balanced"] is True and "uploaded" not in settled, (tid, settled)
    host_db = tmp_path / "host.db"
    total_fen = approved = reversed_ = host_reversed = 0
    for tid in TIDS:
        books = reconcile(tmp_path / f"terminal-{tid}.db", host_db, tid)
        total_fen += books.approved_fen
        approved += books.approved
        reversed_ += books.reversed
        host_reversed += books.host_reversed
    assert approved == burst.outcomes.get("00", 0)  # every approval a terminal saw stands, once
    assert balance(host_db, PAN) == OPENING_FEN - total_fen
    assert sum(burst.outcomes.values()) == TOTAL
    assert reversed_ == sum(n for code, n in burst.outcomes.items() if code == "98")
    print(f"burst: {TOTAL} purchases attempted, outcomes {burst.outcomes}, {approved} approved and reconciled, "
          f"{reversed_} reversed by the terminals ({host_reversed} of them committed at the host before the kill)")
