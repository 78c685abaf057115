"""The host's fast path keeps its promises: the synchronous setting, a write lock held elsewhere, read caches
that see every outside write, and RRNs counted in memory within a group of requests.

Real SQLite files in tmp_path, a real HostServer on 127.0.0.1 and the processor driven directly, with the
example configuration and the MAK pre-installed as `possim host --mak` does it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
from datetime import datetime
from pathlib import Path

import pytest

from possim.cli import main as cli_main
from possim.host.clock import HOST_TZ, SimulatedClock
from possim.host.config import ConfigError, load_config_text
from possim.host.db import open_db
from possim.host.example_config import EXAMPLE_CONFIG_YAML, example_config
from possim.host.keys import PreinstalledKeys
from possim.host.processor import Processor
from possim.host.server import HostServer
from possim.iso8583 import get_dialect
from possim.security import message

CUP = get_dialect("cup-pos")
MAK = bytes.fromhex("0123456789ABCDEF")
TID, MID = "10000001", "898310048120001"
DEBIT = "6222021234567890123"  # the example configuration's debit card, no PIN checked without field 52
HANG_GUARD = 20.0  # seconds; only stops a broken test from hanging, never asserted on


def purchase(stan: int, amount: int = 100, batch: str = "000001") -> bytes:
    msg = CUP.message("0200", {
        "2": DEBIT, "3": "000000", "4": f"{amount:012d}", "11": f"{stan:06d}", "14": "3012", "22": "021",
        "25": "00", "41": TID, "42": MID, "49": "156", "60": "22" + batch + "000", "64": "00" * 8},
        tpdu="6000030000", header="603100000000")
    return message.sign(CUP, CUP.encode(msg), "cup-ecb", MAK)


def processor(db: Path) -> Processor:
    clock = SimulatedClock(datetime(2024, 6, 1, 10, 0, tzinfo=HOST_TZ))
    return Processor(open_db(db), example_config(), CUP, clock, preinstalled=PreinstalledKeys(MAK, "cup-ecb"))


def codes(p: Processor, *bodies: bytes) -> list[str]:
    return [r.message["39"] if r else "none" for r in p.handle_batch(list(bodies))]


# -- synchronous ------------------------------------------------------------------------------------


def test_database_synchronous_is_full_unless_configured(tmp_path: Path) -> None:
    assert example_config().synchronous == "full"
    config = load_config_text(EXAMPLE_CONFIG_YAML + "database:\n  synchronous: normal\n")
    assert config.synchronous == "normal"
    with pytest.raises(ConfigError, match="database.synchronous: expected one of full, normal, got 'off'"):
        load_config_text(EXAMPLE_CONFIG_YAML + "database:\n  synchronous: 'off'\n")
    with pytest.raises(ConfigError, match="database: unknown key 'journal'"):
        load_config_text(EXAMPLE_CONFIG_YAML + "database:\n  journal: memory\n")


@pytest.mark.parametrize(("config_value", "option", "pragma"), [
    (None, None, 2), ("normal", None, 1), ("normal", "full", 2), (None, "normal", 1)])
def test_host_connection_uses_the_chosen_synchronous(tmp_path: Path, config_value: str | None,
                                                     option: str | None, pragma: int) -> None:
    text = EXAMPLE_CONFIG_YAML + (f"database:\n  synchronous: {config_value}\n" if config_value else "")

    async def main() -> int:
        async with HostServer(load_config_text(text), tmp_path / "h.db", ["tcp://127.0.0.1:0"],
                              synchronous=option) as host:
            return int(host.committer.processor.conn.execute("PRAGMA synchronous").fetchone()[0])

    assert asyncio.run(main()) == pragma  # 2 = FULL, 1 = NORMAL


def test_cli_refuses_an_unknown_sync_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["host", "--sync", "off"])
    assert exit_.value.code == 2
    assert "--sync: invalid choice: 'off'" in capsys.readouterr().err


# -- a write lock held by another connection ------------------------------------------------------------


def test_a_held_write_lock_delays_the_answer_without_blocking_the_loop(tmp_path: Path) -> None:
    """The host retries instead of waiting inside SQLite, so the event loop goes on: the lock is held by a
    connection on the host's own loop, the host tries again and again (a host that waited inside SQLite
    would stall the loop for the whole busy timeout at each try), and once the lock is free the purchase
    is approved."""
    db = tmp_path / "h.db"

    async def main() -> tuple[bool, str]:
        async with HostServer(example_config(), db, ["tcp://127.0.0.1:0"],
                              preinstalled=PreinstalledKeys(MAK, "cup-ecb")) as host:
            port = int(host.urls[0].rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            holder = sqlite3.connect(str(db), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")

            async def exchange() -> bytes:
                body = purchase(1)
                writer.write(struct.pack(">H", len(body)) + body)
                head = await reader.readexactly(2)
                return await reader.readexactly(struct.unpack(">H", head)[0])

            answer = asyncio.create_task(exchange())
            async with asyncio.timeout(HANG_GUARD):
                while host.committer.lock_retries < 3:
                    await asyncio.sleep(0.001)
            waited = not answer.done()
            holder.execute("ROLLBACK")
            holder.close()
            async with asyncio.timeout(HANG_GUARD):
                response = CUP.decode(await answer)
            writer.close()
            await writer.wait_closed()
            return waited, response["39"]

    waited, code = asyncio.run(main())
    assert waited and code == "00"


# -- read caches -----------------------------------------------------------------------------------------


def test_a_balance_changed_by_another_connection_is_seen(tmp_path: Path) -> None:
    p = processor(tmp_path / "h.db")
    assert codes(p, purchase(1)) == ["00"]
    with sqlite3.connect(str(tmp_path / "h.db")) as other:
        other.execute("UPDATE accounts SET balance_fen = 50 WHERE pan = ?", (DEBIT,))
    assert codes(p, purchase(2, amount=100)) == ["51"]
    assert codes(p, purchase(3, amount=50)) == ["00"]
    p.conn.close()


def test_a_write_through_the_processors_own_connection_is_seen(tmp_path: Path) -> None:
    p = processor(tmp_path / "h.db")
    assert codes(p, purchase(1)) == ["00"]
    with p.conn:
        p.conn.execute("UPDATE accounts SET status = 'lost' WHERE pan = ?", (DEBIT,))
        p.conn.execute("UPDATE terminals SET state = 'unbound' WHERE tid = ?", (TID,))
    assert codes(p, purchase(2)) == ["58"]
    with p.conn:
        p.conn.execute("UPDATE terminals SET state = 'bound' WHERE tid = ?", (TID,))
    assert codes(p, purchase(3)) == ["41"]
    p.conn.close()


def test_balance_moves_once_per_approval_in_a_group(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    p = processor(db)
    before = int(p.conn.execute("SELECT balance_fen FROM accounts WHERE pan = ?", (DEBIT,)).fetchone()[0])
    assert codes(p, *(purchase(n, amount=1000) for n in range(1, 6)), purchase(3)) == ["00"] * 5 + ["94"]
    with sqlite3.connect(str(db)) as other:
        after = int(other.execute("SELECT balance_fen FROM accounts WHERE pan = ?", (DEBIT,)).fetchone()[0])
    assert after == before - 5000
    p.conn.close()


def test_rrns_of_a_group_are_distinct_kept_and_continued_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    p = processor(db)
    first = [r.message["37"] for r in p.handle_batch([purchase(n) for n in range(1, 5)]) if r]
    p.conn.close()
    with sqlite3.connect(str(db)) as other:
        stored = other.execute("SELECT value FROM host_counters WHERE name = 'rrn'").fetchone()[0]
        ledger = [row[0] for row in other.execute("SELECT rrn FROM ledger_txns ORDER BY id")]
    assert ledger == first and len(set(first)) == 4
    assert [int(r[4:]) for r in first] == list(range(stored - 3, stored + 1))
    again = processor(db)
    (response,) = again.handle_batch([purchase(5)])
    assert response is not None and int(response.message["37"][4:]) == stored + 1
    again.conn.close()
