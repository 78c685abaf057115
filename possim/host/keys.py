"""Per-terminal key sessions: the working keys the host holds for each terminal.

A sign-in (0800, 60.3 = 001/003/004) makes the host generate fresh working
keys, deliver them in field 62 under the terminal's TMK and keep them. The
session is stored in SQLite with every key wrapped under that TMK (never in
clear), so a restarted host still knows the keys and its terminals stay
signed in. A sign-off ends the session: financial requests are then refused
(22) until the terminal signs in again.

Pre-installed keys (``possim host --mak HEX --mac-alg ALG [--pik HEX]``) are
for a terminal whose working keys are already known, e.g. a real terminal
signed in elsewhere: they apply to a terminal that has no session of its own
in the database, and live in memory only (the command line gives them again
on every start).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from possim.host.config import HostConfig
from possim.security import keys as seckeys

RandomBytes = Callable[[int], bytes]

SOURCE_SIGN_IN = "sign-in"
SOURCE_PREINSTALLED = "preinstalled"


@dataclass(frozen=True)
class PreinstalledKeys:
    """Working keys given on the command line."""

    mak: bytes = field(repr=False)
    mac_algorithm: str
    pik: bytes | None = field(default=None, repr=False)
    accept_any_terminal: bool = False

    def __repr__(self) -> str:
        return (f"PreinstalledKeys(mak=<kcv {seckeys.kcv(self.mak).hex().upper()}>, "
                f"mac_algorithm={self.mac_algorithm!r}, accept_any_terminal={self.accept_any_terminal})")


@dataclass(frozen=True)
class Session:
    tid: str
    key_mode: str
    mac_algorithm: str
    mak: bytes = field(repr=False)
    pik: bytes | None = field(default=None, repr=False)
    tdk: bytes | None = field(default=None, repr=False)
    source: str = SOURCE_SIGN_IN

    def __repr__(self) -> str:
        return (f"Session(tid={self.tid!r}, key_mode={self.key_mode!r}, mac_algorithm={self.mac_algorithm!r}, "
                f"mak=<kcv {seckeys.kcv(self.mak).hex().upper()}>, source={self.source!r})")


class KeySessions:
    """The sessions of all terminals, cached in memory, persisted in ``key_sessions``.

    Writes join the caller's database transaction; the cache changes only
    through :meth:`install` / :meth:`forget`, which the processor calls after
    the commit, so a rolled-back sign-in leaves no keys behind."""

    def __init__(self, conn: sqlite3.Connection, config: HostConfig, random_bytes: RandomBytes,
                 preinstalled: PreinstalledKeys | None = None) -> None:
        self.conn = conn
        self.config = config
        self.random_bytes = random_bytes
        self.preinstalled = preinstalled
        self._cache: dict[str, Session | None] = {}
        self._preinstalled: dict[str, Session] = {}  # the command line's keys, per terminal served with them
        self._load()

    def tmk(self, tid: str) -> bytes | None:
        terminal = self.config.terminal(tid)
        return terminal.tmk if terminal else None

    def mac_algorithm(self, tid: str) -> str:
        terminal = self.config.terminal(tid)
        return terminal.mac_algorithm if terminal else self.config.defaults.mac_algorithm

    def _load(self) -> None:
        rows = self.conn.execute(
            "SELECT tid, key_mode, mac_algorithm, pik_wrapped, mak_wrapped, tdk_wrapped, signed_off_at "
            "FROM key_sessions").fetchall()
        for tid, mode, alg, pik, mak, tdk, off in rows:
            tmk = self.tmk(tid)
            if off is not None or tmk is None or not mak:
                self._cache[tid] = None  # signed off, or its TMK is no longer configured
                continue
            self._cache[tid] = Session(
                tid, mode, alg, seckeys.unwrap(tmk, bytes.fromhex(mak)),
                seckeys.unwrap(tmk, bytes.fromhex(pik)) if pik else None,
                seckeys.unwrap(tmk, bytes.fromhex(tdk)) if tdk else None)

    def get(self, tid: str) -> Session | None:
        if tid in self._cache:
            return self._cache[tid]
        pre = self.preinstalled
        if pre is None:
            return None
        session = self._preinstalled.get(tid)
        if session is None and (pre.accept_any_terminal or self.config.terminal(tid) is not None):
            session = self._preinstalled[tid] = Session(tid, self.config.defaults.key_mode, pre.mac_algorithm,
                                                        pre.mak, pre.pik, source=SOURCE_PREINSTALLED)
        return session

    def sign_in(self, tid: str, mode: str, now: datetime, operator: str | None) -> tuple[Session, bytes]:
        """New working keys for ``tid`` and the field 62 that delivers them (call :meth:`install` after commit)."""
        tmk = self.tmk(tid)
        assert tmk is not None, "the processor refuses a sign-in without a configured TMK"
        keys = seckeys.generate_working_keys(mode, self.random_bytes, mak_length=self.config.defaults.mak_length)
        field62 = seckeys.build_field62(mode, tmk, keys)
        session = Session(tid, mode, self.mac_algorithm(tid), keys.mak, keys.pik, keys.tdk)

        def wrapped(key: bytes | None) -> str | None:
            return None if key is None else seckeys.wrap(tmk, key).hex().upper()

        self.conn.execute(
            "INSERT INTO key_sessions (tid, key_mode, mac_algorithm, pik_wrapped, mak_wrapped, tdk_wrapped, "
            "signed_in_at, signed_off_at, operator) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?) "
            "ON CONFLICT (tid) DO UPDATE SET key_mode = excluded.key_mode, mac_algorithm = excluded.mac_algorithm, "
            "pik_wrapped = excluded.pik_wrapped, mak_wrapped = excluded.mak_wrapped, "
            "tdk_wrapped = excluded.tdk_wrapped, signed_in_at = excluded.signed_in_at, signed_off_at = NULL, "
            "operator = excluded.operator",
            (tid, mode, session.mac_algorithm, wrapped(keys.pik), wrapped(keys.mak), wrapped(keys.tdk),
             now.isoformat(), operator))
        return session, field62

    def sign_off(self, tid: str, now: datetime) -> None:
        """End the session (call :meth:`forget` after commit)."""
        self.conn.execute(
            "INSERT INTO key_sessions (tid, key_mode, mac_algorithm, pik_wrapped, mak_wrapped, signed_in_at, "
            "signed_off_at) VALUES (?, '', '', '', '', ?, ?) ON CONFLICT (tid) DO UPDATE SET "
            "signed_off_at = excluded.signed_off_at, pik_wrapped = '', mak_wrapped = '', tdk_wrapped = NULL",
            (tid, now.isoformat(), now.isoformat()))

    def install(self, session: Session) -> None:
        self._cache[session.tid] = session

    def forget(self, tid: str) -> None:
        self._cache[tid] = None

    def list_sessions(self) -> list[dict[str, object]]:
        """For ``possim host terminals``: who is signed in, with check values only."""
        out = []
        for tid, mode, alg, signed_in, signed_off in self.conn.execute(
                "SELECT tid, key_mode, mac_algorithm, signed_in_at, signed_off_at FROM key_sessions ORDER BY tid"):
            session = self._cache.get(tid)
            out.append({"tid": tid, "key_mode": mode, "mac_algorithm": alg, "signed_in_at": signed_in,
                        "signed_off_at": signed_off,
                        "mak_kcv": seckeys.kcv(session.mak).hex().upper() if session else None})
        return out
