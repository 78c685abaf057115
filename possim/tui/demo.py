"""``possim tui --demo``: a real host and a real terminal trading on loopback, watched live.

Nothing here is a stand-in: the host is ``possim.host.server.HostServer`` on
``tcp://127.0.0.1:<free port>`` with the example configuration and a SQLite
file, the terminal is ``possim.terminal.functions.Terminal`` with its own
journal, and they meet only on the wire. Both publish on one traffic bus that
the screen reads. The terminal goes round a trading day -- sign-in, sales
(some declined by the host's card rules), a void, a refund, a balance query,
settlement, the return path's apply/status/withdraw -- pausing between steps
so a person can follow it, until the screen quits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from possim.host.example_config import example_config
from possim.host.server import HostServer
from possim.iso8583 import get_dialect
from possim.terminal.config import TerminalConfig
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal
from possim.terminal.messages import Card
from possim.traffic import LinkTap, TrafficBus
from possim.tui.background import LoopThread
from possim.tui.reader import Deliver
from possim.tui.sources import BusSource, OnEnd

log = logging.getLogger(__name__)

# A terminal, merchant and cards of the example host configuration (possim/host/example_config.py).
TID, MID, MERCHANT = "10000001", "898310048120001", "上海浦东测试便利店"
TMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
DEBIT = Card("6222021234567890123", "3012")
DEBIT_PIN = "123456"
CREDIT = Card("6225881234567890", "2912")
CREDIT_PIN = "654321"
LOST = Card("6222020000000000011", "3012")
EXPIRED = Card("6222020000000000045", "2001")
MAX_ROUNDS = 100_000  # the day repeats until the screen quits; this only bounds the loop


class DemoSource:
    """Starts the host and terminal on a background loop; the screen reads their shared bus."""

    def __init__(self, *, pace: float = 0.3, workdir: str | Path | None = None,
                 rounds: int = MAX_ROUNDS) -> None:
        self.pace = pace
        self.rounds = rounds
        self.bus = TrafficBus()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="possim-demo-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.host_db = self.workdir / "host.db"
        self.description = "demo: possim host + terminal on loopback"
        self._reader = BusSource(self.bus, self.description)
        self._loop: LoopThread | None = None
        self._host: HostServer | None = None
        self._trading: concurrent.futures.Future[None] | None = None
        self.host_url: str | None = None
        self.results: list[str] = []  # "function code" of each step, newest last (bounded)

    def open(self) -> str:
        """Start the host (so its database exists for the cases panel); returns its URL."""
        self._loop = LoopThread("possim-tui-demo")
        self._host = HostServer(example_config(), self.host_db, ["tcp://127.0.0.1:0"], traffic_bus=self.bus)
        try:
            self.host_url = self._loop.run(self._host.start())[0]
        except BaseException:
            self._loop.close()
            raise
        self.description = f"demo: possim host {self.host_url} + terminal {TID}"
        self._reader.description = self.description
        return self.host_url

    def start(self, deliver: Deliver, on_end: OnEnd) -> None:
        if self._host is None:
            self.open()
        self._reader.start(deliver, on_end)
        assert self._loop is not None and self.host_url is not None
        self._trading = self._loop.submit(self._trade(self.host_url))

    def stop(self) -> None:
        self._reader.stop()
        loop, self._loop = self._loop, None
        if loop is not None:
            if self._trading is not None:
                self._trading.cancel()
                try:
                    self._trading.result(timeout=5)
                except BaseException:  # noqa: BLE001 - cancelled, or it had already failed
                    pass
            if self._host is not None:
                try:
                    loop.run(self._host.close(), timeout=10)
                except Exception as exc:  # noqa: BLE001 - best effort on the way out
                    log.warning("demo host did not close cleanly: %s", exc)
            loop.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _trade(self, url: str) -> None:
        dialect = get_dialect("cup-pos")
        tap = LinkTap(self.bus, url, role="terminal", dialect=dialect, framing=dialect.default_framing)
        link = HostLink(url, dialect.default_framing,
                        on_frame=lambda direction, payload, _link: tap.frame("out" if direction == "out" else "in",
                                                                           payload))
        config = TerminalConfig(tid=TID, mid=MID, merchant_name=MERCHANT, tmk=TMK, response_timeout=10.0)
        terminal = Terminal(config, Journal(self.workdir / "terminal.db"), link, dialect=dialect)
        try:
            await terminal.start()
            for _ in range(self.rounds):
                await self._day(terminal)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the demo ends; the screen says why
            log.warning("demo terminal stopped: %s", exc)
            self.results.append(f"stopped: {exc}")
        finally:
            await terminal.close()

    async def _step(self, name: str, call: Callable[[], Awaitable[object]]) -> object:
        result = await call()
        self.results.append(f"{name} {getattr(result, 'code', '')}")
        del self.results[:-200]
        await asyncio.sleep(self.pace)
        return result

    async def _day(self, t: Terminal) -> None:
        await self._step("sign-in", t.sign_in)
        sale = await self._step("purchase", lambda: t.purchase(1234, DEBIT, DEBIT_PIN))
        await self._step("purchase", lambda: t.purchase(8800, CREDIT, CREDIT_PIN))
        await self._step("purchase lost card", lambda: t.purchase(500, LOST, None))
        await self._step("purchase wrong PIN", lambda: t.purchase(2000, DEBIT, "000000"))
        await self._step("purchase expired", lambda: t.purchase(300, EXPIRED, None))
        second = await self._step("purchase", lambda: t.purchase(4500, DEBIT, DEBIT_PIN))
        await self._step("balance", lambda: t.balance(DEBIT, DEBIT_PIN))
        if getattr(second, "approved", False):
            await self._step("void", lambda: t.void(second.stan))  # type: ignore[attr-defined]
        if getattr(sale, "approved", False):
            await self._step("refund", lambda: t.refund(200, DEBIT, sale.rrn, sale.host_date))  # type: ignore[attr-defined]
        await self._step("echo", t.echo)
        await self._step("settle", t.settle)
        applied = await self._step("return apply",
                                   lambda: t.return_apply("demo: closing the shop", "13800000000",
                                                          "ID-DEMO", "INV-DEMO"))
        if getattr(applied, "approved", False):
            await self._step("return status", t.return_status)
            await self._step("return withdraw", t.return_withdraw)
        await self._step("sign-off", t.sign_off)
