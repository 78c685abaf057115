"""``possim terminal`` as a real child process, the way a user or CI runs it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from .hosting import MID, TID

ROOT = Path(__file__).resolve().parents[2]
TERMINAL_ARGS = ["--tid", TID, "--mid", MID, "--name", "上海浦东测试便利店",
                 "--tmk", "0123456789ABCDEFFEDCBA9876543210"]


async def start_terminal(host_url: str, db: Path, *args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "possim", "terminal", "--host", host_url, "--db", str(db), *TERMINAL_ARGS, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=str(ROOT))


async def run_terminal(host_url: str, db: Path, *args: str) -> tuple[int, str, str]:
    proc = await start_terminal(host_url, db, *args)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8"), err.decode("utf-8")
