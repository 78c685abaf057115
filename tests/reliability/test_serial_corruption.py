"""Corrupted bytes on a serial line between a real terminal and a real host.

The host serves one pty, the terminal opens another, and a relay thread copies bytes between the
two masters, damaging chosen frames the way line noise does: a bit flipped in an answer, a bit
flipped in a request, a length prefix hit so the host waits for bytes that never come. The
terminal must end each fault with money safe (a reversal where the host may have acted, nothing
where it cannot have), the host must recover the line (its frame timer drops a frame whose length
was corrupted), and the journal and the ledger must reconcile with a balanced settlement.
"""

from __future__ import annotations

import asyncio
import os
import select
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path

from possim.host.example_config import example_config
from possim.host.server import HostServer
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal
from possim.terminal.messages import Card
from possim.transport.pty import open_pty_pair

from tests.terminal.hosting import DEBIT_BALANCE_FEN, DEBIT_CARD, DEBIT_EXPIRY, DEBIT_PIN, TID, terminal_config

from .reconcile import balance, reconcile

HANG_GUARD = 60.0
FRAME_TIMEOUT = 1.0  # the host's; the terminal waits longer than this for an answer
CARD = Card(DEBIT_CARD, DEBIT_EXPIRY)

Damage = Callable[[bytes], bytes]


class NoisyLine:
    """Copies len2 frames between two pty masters; ``damage[(direction, n)]`` spoils the n-th frame."""

    def __init__(self, terminal_master: int, host_master: int) -> None:
        self.ends = {"to_host": (terminal_master, host_master), "to_terminal": (host_master, terminal_master)}
        self.damage: dict[tuple[str, int], Damage] = {}
        self.counts = {"to_host": 0, "to_terminal": 0}
        self.buffers = {"to_host": b"", "to_terminal": b""}
        self.damaged: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(HANG_GUARD)

    def _run(self) -> None:
        fds = {src: direction for direction, (src, _) in self.ends.items()}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(fds), [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the terminal closed its side between exchanges
                    time.sleep(0.01)
                    continue
                self._pass(fds[fd], data)

    def _pass(self, direction: str, data: bytes) -> None:
        """Cut the stream into len2 frames as the real sender wrote them, damage the chosen one, forward."""
        buf = self.buffers[direction] + data
        out = b""
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
            size = 2 + struct.unpack(">H", buf[:2])[0]
            frame, buf = buf[:size], buf[size:]
            key = (direction, self.counts[direction])
            self.counts[direction] += 1
            if key in self.damage:
                frame = self.damage[key](frame)
                self.damaged.append(key)
            out += frame
        self.buffers[direction] = buf
        if out:
            os.write(self.ends[direction][1], out)


def flip(offset_from_end: int) -> Damage:
    return lambda frame: frame[:-offset_from_end] + bytes([frame[-offset_from_end] ^ 0x10]) + \
        frame[len(frame) - offset_from_end + 1:]


def longer_length(frame: bytes) -> bytes:
    return bytes([frame[0] + 1]) + frame[1:]  # the length prefix now says 256 bytes more


def test_noise_on_a_serial_line(tmp_path: Path) -> None:
    t_master, t_slave, t_path = open_pty_pair()
    h_master, h_slave, h_path = open_pty_pair()
    line = NoisyLine(t_master, h_master)
    # frames to the host: 0 sign-in, 1 sale A, 2 reversal of A, 3 sale B, 4 sale C (length hit), 5 reversal of C,
    # 6 sale D (a bit flipped: the host refuses its MAC), 7 sign-in, 8 sale E, 9 settlement
    line.damage[("to_terminal", 1)] = flip(12)  # the answer to sale A: its MAC no longer verifies
    line.damage[("to_host", 4)] = longer_length
    line.damage[("to_host", 6)] = flip(20)
    line.start()

    async def scenario() -> None:
        async with asyncio.timeout(HANG_GUARD):
            host = HostServer(example_config(), tmp_path / "host.db", [h_path], frame_timeout=FRAME_TIMEOUT)
            async with host:
                term = Terminal(terminal_config(response_timeout=FRAME_TIMEOUT * 2), Journal(tmp_path / "t.db"),
                                HostLink(t_path))
                try:
                    assert (await term.sign_in()).approved
                    a = await term.purchase(1000, CARD, DEBIT_PIN)
                    assert a.local and a.code in ("A0", "96"), a  # an answer it cannot trust: reversal stored
                    if not term.state.signed_in:  # an A0 also means "sign in again"
                        line.damage = {(d, n + (1 if d == "to_host" and n >= 2 else 0)): f
                                       for (d, n), f in line.damage.items()}
                        assert (await term.sign_in()).approved  # and the stored reversal goes right after
                    b = await term.purchase(2000, CARD, DEBIT_PIN)
                    assert b.approved, b
                    c = await term.purchase(3000, CARD, DEBIT_PIN)
                    assert c.code == "98" and c.local  # the host never got a whole frame
                    await asyncio.sleep(FRAME_TIMEOUT * 1.5)  # let the host's frame timer clear the line
                    d = await term.purchase(4000, CARD, DEBIT_PIN)  # C's reversal first, then D, damaged
                    assert d.code == "A0" and not d.approved, d  # the host refused D's MAC: nothing happened
                    assert (await term.sign_in()).approved
                    e = await term.purchase(5000, CARD, DEBIT_PIN)
                    assert e.approved, e
                    settled = await term.settle()
                    assert settled.approved and settled.data["balanced"] is True, settled
                finally:
                    await term.close()
    try:
        asyncio.run(scenario())
    finally:
        line.stop()
        for fd in (t_master, t_slave, h_master, h_slave):
            os.close(fd)
    assert len(line.damaged) == 3, line.damaged
    books = reconcile(tmp_path / "t.db", tmp_path / "host.db", TID)
    assert (books.approved, books.reversed) == (2, 2)
    assert books.host_reversed == 1  # A was approved at the host and reversed; C never arrived
    assert balance(tmp_path / "host.db", DEBIT_CARD) == DEBIT_BALANCE_FEN - 2000 - 5000
