from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from possim.terminal.config import TerminalConfig
from possim.terminal.functions import Terminal
from possim.terminal.hostlink import HostLink
from possim.terminal.journal import Journal

HANG_GUARD = 60.0  # seconds; only stops a broken test from hanging CI, never asserted on
TMK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
TRACK2 = "6212142000000000012=25121010000"


def run(coro: Awaitable[Any]) -> Any:
    async def guarded() -> Any:
        async with asyncio.timeout(HANG_GUARD):
            return await coro
    return asyncio.run(guarded())


def make_config(**changes: Any) -> TerminalConfig:
    base = dict(tid="12345678", mid="123456789012345", merchant_name="possim 测试商户", tmk=TMK)
    base.update(changes)
    return TerminalConfig(**base)  # type: ignore[arg-type]


class FixedClock:
    def __init__(self, start: datetime = datetime(2025, 1, 2, 10, 11, 12)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def open_terminal(tmp_path: Path) -> Callable[..., Terminal]:
    """A terminal on a real SQLite file in tmp_path, pointed at ``url``."""
    def make(url: str, db: str = "terminal.db", **config: Any) -> Terminal:
        return Terminal(make_config(**config), Journal(tmp_path / db), HostLink(url), clock=FixedClock())
    return make
