from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
HANG_GUARD = 300  # seconds; only stops a wedged subprocess from hanging CI, never asserted on


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def possim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "possim", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=HANG_GUARD)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """tmp_path/scenarios with the shipped shared files, so copied scenarios include them as in the repo."""
    target = tmp_path / "scenarios"
    (target / "shared").mkdir(parents=True)
    for item in (SCENARIOS / "shared").iterdir():
        (target / "shared" / item.name).write_bytes(item.read_bytes())
    return target
