"""A real ``possim host`` process on loopback, with a load configuration of a few terminals."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from possim.load.fleet import make_config

ROOT = Path(__file__).parents[2]
#: Only a guard against a hung child; no assertion depends on timing.
HANG_GUARD = 120


class HostProcess:
    def __init__(self, tmp: Path, config_text: str) -> None:
        self.config = tmp / "host.yaml"
        self.config.write_text(config_text, encoding="utf-8")
        self.db = tmp / "host.db"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "possim", "host", "--config", str(self.config), "--db", str(self.db),
             "--listen", "tcp://127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("possim host listening on tcp://127.0.0.1:"):
            self.proc.kill()
            raise AssertionError(f"host did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.url = line.split(" on ", 1)[1].strip()
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(HANG_GUARD)
        finally:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def load_host(tmp_path: Path) -> Iterator[HostProcess]:
    host = HostProcess(tmp_path, make_config(6))
    try:
        yield host
    finally:
        host.stop()
