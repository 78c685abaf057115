"""The terminal's counters, keys and standing, persisted in the journal database.

STAN and batch numbers must never repeat within a batch, even across a
restart (the host refuses a duplicate STAN with 94), so each new STAN is
committed before the request that carries it is built. Working keys are kept
only wrapped under the TMK with their check values, the way a terminal's
secure memory holds them: the database file alone gives nothing away.
"""

from __future__ import annotations

import enum

from possim.errors import PossimError
from possim.security.keys import KeyCheckError, KeyStore, kcv, unwrap_checked, wrap
from possim.terminal.journal import Journal

MAX_COUNTER = 999999


class TerminalStatus(str, enum.Enum):
    """Where the terminal stands with its acquirer; only an active terminal transacts."""

    ACTIVE = "active"
    UNBOUND = "unbound"
    DEREGISTERED = "deregistered"


# The refusal a terminal gives locally in each state, with the code the host would give.
REFUSAL_CODES = {TerminalStatus.UNBOUND: "58", TerminalStatus.DEREGISTERED: "97"}


def next_counter(value: int) -> int:
    """000001 .. 999999, then 000001 again (0 is never used)."""
    return value + 1 if value < MAX_COUNTER else 1


class TerminalState:
    def __init__(self, journal: Journal, tid: str, tmk: bytes) -> None:
        self.journal = journal
        self.tid = tid
        self._tmk = tmk

    # --- counters ---------------------------------------------------------

    def next_stan(self) -> str:
        """A fresh STAN, committed before it is used so a crash cannot hand it out twice."""
        with self.journal.transaction() as conn:
            row = conn.execute("SELECT value FROM state WHERE name = 'stan'").fetchone()
            stan = next_counter(int(row[0]) if row else 0)
            conn.execute("INSERT INTO state(name, value) VALUES('stan', ?) "
                         "ON CONFLICT(name) DO UPDATE SET value = excluded.value", (str(stan),))
        return f"{stan:06d}"

    @property
    def last_stan(self) -> str:
        return f"{int(self.journal.get_state('stan') or 0):06d}"

    @property
    def batch(self) -> str:
        return f"{int(self.journal.get_state('batch') or 1):06d}"

    def set_batch(self, batch: str) -> None:
        if not (batch.isdigit() and len(batch) <= 6 and int(batch) > 0):
            raise PossimError(f"batch: expected 1 to 999999, got {batch!r}")
        self.journal.set_state(batch=str(int(batch)))

    def close_batch(self) -> str:
        """After settlement: the next batch number, persisted."""
        new = next_counter(int(self.batch))
        self.journal.set_state(batch=str(new))
        return f"{new:06d}"

    # --- standing ---------------------------------------------------------

    @property
    def status(self) -> TerminalStatus:
        return TerminalStatus(self.journal.get_state("status") or TerminalStatus.ACTIVE.value)

    def set_status(self, status: TerminalStatus) -> None:
        self.journal.set_state(status=status.value)

    @property
    def case_id(self) -> str | None:
        """The return case this terminal last heard of (802-807 default to it)."""
        return self.journal.get_state("case_id")

    def set_case_id(self, case_id: str | None) -> None:
        self.journal.set_state(case_id=case_id)

    # --- keys -------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.journal.get_state("signed_in") == "1" and self.keys().signed_in

    def keys(self) -> KeyStore:
        """The TMK and the working keys from the last sign-in (unwrapped and checked)."""
        store = KeyStore(terminal_id=self.tid, tmk=self._tmk)
        mode = self.journal.get_state("key_mode")
        found: dict[str, bytes] = {}
        for name in ("pik", "mak", "tdk"):
            wrapped, check = self.journal.get_state(name), self.journal.get_state(f"{name}_kcv")
            if wrapped is None or check is None:
                continue
            try:
                found[name] = unwrap_checked(self._tmk, bytes.fromhex(wrapped), bytes.fromhex(check), name.upper())
            except KeyCheckError:
                return store  # the TMK changed since: the stored keys are useless, sign in again
        if "pik" not in found or "mak" not in found or mode is None:
            return store
        return KeyStore(terminal_id=self.tid, tmk=self._tmk, pik=found["pik"], mak=found["mak"],
                        tdk=found.get("tdk"), key_mode=mode)

    def install_keys(self, keys: KeyStore) -> None:
        """Keep the keys of a successful sign-in, wrapped under the TMK, and mark the terminal signed in."""
        values: dict[str, str | None] = {"key_mode": keys.key_mode, "signed_in": "1"}
        for name in ("pik", "mak", "tdk"):
            key = getattr(keys, name)
            values[name] = None if key is None else wrap(self._tmk, key).hex().upper()
            values[f"{name}_kcv"] = None if key is None else kcv(key).hex().upper()
        self.journal.set_state(**values)

    def sign_out(self) -> None:
        """Sign-off, or the host asked for a new sign-in: keys kept, but no transaction until signed in."""
        self.journal.set_state(signed_in="0")
