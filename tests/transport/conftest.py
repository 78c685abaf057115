from __future__ import annotations

import asyncio
import os
from typing import Any, Awaitable, Iterator

import pytest

from possim.transport.pty import open_pty_pair

HANG_GUARD = 20.0  # seconds; only stops a broken test from hanging CI, never asserted on


def run(coro: Awaitable[Any]) -> Any:
    async def guarded() -> Any:
        async with asyncio.timeout(HANG_GUARD):
            return await coro
    return asyncio.run(guarded())


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A raw pty pair: (master fd, slave path). The slave is opened by the test through pyserial."""
    master, slave, path = open_pty_pair()
    state = {"master": master}
    yield master, path
    os.close(slave)
    try:
        os.close(state["master"])
    except OSError:
        pass  # the test closed it already
