"""The injected clock and the database plumbing (WAL, FULL sync, migrations)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from possim.errors import PossimError
from possim.host.clock import HOST_TZ, ClockError, SimulatedClock, SystemClock, local_date
from possim.host.db import MIGRATIONS, DatabaseError, Migration, open_db, schema_version, transaction


def test_simulated_clock_advances_and_refuses_going_back() -> None:
    clock = SimulatedClock(datetime(2024, 1, 1, 23, 30, tzinfo=HOST_TZ))
    assert clock.advance(days=95, hours=1) == datetime(2024, 4, 6, 0, 30, tzinfo=HOST_TZ)
    with pytest.raises(ClockError, match="negative"):
        clock.advance(seconds=-1)
    with pytest.raises(ClockError, match="cannot set clock back"):
        clock.set(datetime(2024, 1, 1, tzinfo=HOST_TZ))
    assert clock.set(datetime(2024, 5, 1, tzinfo=HOST_TZ)).month == 5


def test_clock_refuses_naive_times_and_normalises_to_host_zone() -> None:
    with pytest.raises(ClockError, match="naive"):
        SimulatedClock(datetime(2024, 1, 1))
    utc = SimulatedClock(datetime(2024, 1, 1, 20, 0, tzinfo=timezone.utc))
    # 20:00 UTC is 04:00 the next day in Shanghai: the merchant's date is the 2nd
    assert utc.now().utcoffset() == timedelta(hours=8)
    assert local_date(utc.now()).day == 2
    assert SystemClock().now().utcoffset() == timedelta(hours=8)


def test_open_db_sets_wal_full_sync_foreign_keys(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "h.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert schema_version(conn) == len(MIGRATIONS)
    with pytest.raises(sqlite3.IntegrityError):
        with conn:
            conn.execute("INSERT INTO terminals (tid, state, mid, registered_at) "
                         "VALUES ('T0000001', 'bound', 'NO SUCH MERCHNT', 'x')")
    conn.close()


def test_appending_a_migration_upgrades_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    open_db(path).close()
    extended = [*MIGRATIONS, Migration("ledger test table", "CREATE TABLE ledger_probe (x INTEGER);")]
    conn = open_db(path, extended)
    assert schema_version(conn) == len(MIGRATIONS) + 1
    conn.execute("INSERT INTO ledger_probe VALUES (1)")
    conn.commit()
    conn.close()
    conn = open_db(path, extended)  # idempotent: nothing re-applied
    assert conn.execute("SELECT count(*) FROM ledger_probe").fetchone()[0] == 1
    conn.close()
    with pytest.raises(DatabaseError, match="newer than this possim knows"):
        open_db(path)


def test_failed_migration_leaves_version_and_schema_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    open_db(path).close()
    broken = [*MIGRATIONS, Migration("broken", "CREATE TABLE half (x INTEGER); CREATE TABLE half (y);")]
    with pytest.raises(DatabaseError, match=rf"migration {len(MIGRATIONS) + 1} \(broken\) failed"):
        open_db(path, broken)
    conn = open_db(path)
    assert schema_version(conn) == len(MIGRATIONS)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0
    conn.close()


def test_transaction_rolls_back_on_error_and_joins_outer(tmp_path: Path) -> None:
    conn = open_db(tmp_path / "h.db")
    sql = ("INSERT INTO merchants VALUES (?, 'n', 0, 1, '2024-01-01', 'std', 't')")
    with pytest.raises(PossimError):
        with transaction(conn):
            conn.execute(sql, ("A" * 15,))
            with transaction(conn):  # joins; the outer rollback undoes both
                conn.execute(sql, ("B" * 15,))
            raise PossimError("boom")
    assert conn.execute("SELECT count(*) FROM merchants").fetchone()[0] == 0
    with transaction(conn):
        conn.execute(sql, ("C" * 15,))
    other = sqlite3.connect(tmp_path / "h.db")  # committed: visible to another connection
    assert other.execute("SELECT mid FROM merchants").fetchall() == [("C" * 15,)]
    other.close()
    conn.close()


def test_a_commit_that_fails_ends_the_transaction(tmp_path: Path) -> None:
    """A COMMIT can fail and leave the transaction open (a deferred foreign key is the classic case);
    transaction() must end it, or the next transaction() would join it and never commit."""
    conn = open_db(tmp_path / "h.db")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError):
        with transaction(conn):
            conn.execute("INSERT INTO child VALUES (7)")  # checked only at COMMIT
    assert not conn.in_transaction
    with transaction(conn):
        conn.execute("INSERT INTO parent VALUES (1)")
    other = sqlite3.connect(tmp_path / "h.db")
    assert other.execute("SELECT id FROM parent").fetchall() == [(1,)]
    assert other.execute("SELECT count(*) FROM child").fetchone() == (0,)
    other.close()
    conn.close()


def test_shifted_clock_starts_where_told_and_keeps_the_base_pace() -> None:
    from datetime import datetime, timedelta

    from possim.host.clock import HOST_TZ, ShiftedClock, SimulatedClock

    base = SimulatedClock(datetime(2030, 1, 1, 12, 0, tzinfo=HOST_TZ))
    shifted = ShiftedClock(datetime(2018, 7, 11, 10, 0, tzinfo=HOST_TZ), base)
    assert shifted.now() == datetime(2018, 7, 11, 10, 0, tzinfo=HOST_TZ)
    base.advance(minutes=5)
    assert shifted.now() - datetime(2018, 7, 11, 10, 0, tzinfo=HOST_TZ) == timedelta(minutes=5)
