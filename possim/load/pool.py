"""The free terminals of one load run: a TID is handed to one user at a time.

Kept apart from the Locust glue (``leases``) so it can be used and tested
without importing Locust, whose import monkeypatches the standard library.
"""

from __future__ import annotations

from typing import Iterable


class TerminalPool:
    """Free TIDs in configuration order; the lowest free one is handed out first."""

    def __init__(self, tids: Iterable[str]) -> None:
        self._order = list(tids)
        self._held: set[str] = set()

    def take(self) -> str | None:
        for tid in self._order:
            if tid not in self._held:
                self._held.add(tid)
                return tid
        return None

    def give_back(self, tid: str) -> None:
        self._held.discard(tid)

    @property
    def held(self) -> int:
        return len(self._held)
