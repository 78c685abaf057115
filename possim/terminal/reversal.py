"""Stored reversals: sent before anything else until the host has answered each one.

A reversal is stored in the journal the moment an answer fails to come (or
cannot be trusted), so it outlives the process. Each stored reversal is sent
as a 0400 built from the original request, oldest first; it counts as done
when the host answers it with any code that shows the host processed it. A
code saying the host could not (system trouble) or would not yet (sign in
again) keeps it stored for the next attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from possim.errors import PossimError
from possim.security.keys import KeyStore
from possim.terminal.hostlink import HostLink, LinkDown, NoAnswer
from possim.terminal.journal import Journal, JournalEntry
from possim.terminal.messages import SIGN_IN_AGAIN, BadResponse, CupMessages, MacMismatch

# Answers after which the reversal must be tried again later.
RETRY_CODES = SIGN_IN_AGAIN | {"91", "92", "96", "98"}


@dataclass(frozen=True)
class ReversalOutcome:
    entry_id: int
    stan: str
    reason: str
    answered: bool
    code: str | None  # the host's 39 to the 0400, if an answer came
    detail: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"entry_id": self.entry_id, "stan": self.stan, "reason": self.reason, "answered": self.answered,
                "code": self.code, "detail": self.detail}


class ReversalQueue:
    def __init__(self, journal: Journal, messages: CupMessages, link: HostLink,
                 clock: Callable[[], datetime], timeout: Callable[[], float]) -> None:
        self.journal = journal
        self.messages = messages
        self.link = link
        self.clock = clock
        self.timeout = timeout

    def pending(self) -> list[JournalEntry]:
        return self.journal.reversals()

    async def flush(self, keys: KeyStore | None) -> list[ReversalOutcome]:
        """Send every stored reversal once, oldest first; stop at the first one the host does not take."""
        outcomes: list[ReversalOutcome] = []
        for entry in self.journal.reversals():
            outcome = await self._send(entry, keys)
            outcomes.append(outcome)
            if not outcome.answered:
                break
        return outcomes

    async def _send(self, entry: JournalEntry, keys: KeyStore | None) -> ReversalOutcome:
        reason = entry.reversal_reason or "98"
        request = self.messages.reversal(entry, reason)
        body = self.messages.encode(request, keys if keys is not None and keys.signed_in else None)
        self.journal.reversal_attempted(entry.id, self.clock())

        def kept(detail: str, code: str | None = None) -> ReversalOutcome:
            return ReversalOutcome(entry.id, entry.stan, reason, False, code, detail)

        try:
            answer_body = await self.link.exchange(body, self.timeout())
            answer = self.messages.read_response(answer_body, request, keys)
        except (LinkDown, NoAnswer, BadResponse, MacMismatch) as exc:
            return kept(str(exc))
        except PossimError as exc:
            return kept(f"reversal: {exc}")
        if answer.code in RETRY_CODES:
            return kept(f"host answered {answer.code} {answer.text}", answer.code)
        self.journal.reversal_answered(entry.id, answer.code, self.clock())
        return ReversalOutcome(entry.id, entry.stan, reason, True, answer.code)
