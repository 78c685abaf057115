"""The Locust user: one CUP POS terminal.

On start a user leases a TID (no two users share one), signs in (0800; the
working keys are installed only if their check values verify) and then
loops: before anything else it sends any stored reversal, then it picks a
purchase, balance inquiry, void or refund by the weights of the mix. A void
or refund takes one of the user's own approved purchases; with none left it
makes a purchase instead (reported as a purchase).

Every request fires Locust's ``request`` event (type ``CUP``, name
``sign-in``/``purchase``/``balance``/``void``/``refund``/``reversal``), so
Locust's statistics, CSV and HTML reports and distributed mode work as
usual. An answer other than approval is a failure whose text is the
response code and its meaning (``51 Insufficient funds``); a missing answer
is ``98 no answer within 10 s``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from locust import User, constant, task
from locust.exception import StopUser

from possim.errors import PossimError
from possim.load import hooks
from possim.load.fleet import Fleet
from possim.load.options import LoadOptions
from possim.load.session import Outcome, ResponseCodeError, TerminalSession

REQUEST_TYPE = "CUP"
#: After a refused sign-in, wait this long before trying again (a terminal the host does not know
#: would otherwise ask as fast as the host answers).
SIGN_IN_RETRY_PAUSE = 1.0


class PosTerminal(User):
    """A CUP POS terminal taking payments as fast as the host answers (``wait_time`` 0)."""

    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.tid: str | None = None
        self.session: TerminalSession | None = None
        self.options: LoadOptions = hooks.options(environment)
        self.fleet: Fleet | None = None
        self._names: list[str] = []
        self._weights: list[int] = []
        self._count = 0

    # --- lifecycle --------------------------------------------------------------------

    def on_start(self) -> None:
        self.options = hooks.options(self.environment)
        weights = self.options.weights
        self._names = [name for name, weight in weights.items() if weight > 0]
        self._weights = [weights[name] for name in self._names]
        self.fleet = self.options.fleet()
        self.tid = hooks.leases(self.environment).take()
        if self.tid is None:
            self._fire_error("lease", f"no free terminal: all {len(self.fleet.terminals)} of {self.fleet.source} "
                                      "are in use (give the host more terminals, or run fewer users)")
            return
        try:
            terminal = self.fleet.terminal(self.tid)
            self.session = TerminalSession(
                terminal, self.host or "", dialect=self.options.dialect, timeout=self.options.timeout,
                balance_processing_code=self.fleet.balance_processing_code)
        except PossimError as exc:
            self._fire_error("lease", str(exc))
            return
        self._sign_in()

    def on_stop(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.tid is not None:
            hooks.leases(self.environment).give_back(self.tid)
            self.tid = None

    # --- the one task: a transaction picked by the mix -----------------------------------

    @task
    def transact(self) -> None:
        session = self.session
        if session is None:
            raise StopUser()
        if not session.signed_in and not self._sign_in():
            return
        for outcome in session.send_reversals():
            self._fire(outcome)
        if session.pending_reversals or not session.signed_in:
            return  # no new transaction while a reversal is unanswered (as a real terminal)
        name = random.choices(self._names, self._weights)[0]
        if name == "balance":
            self._fire(session.balance(self._card()))
        elif name in ("void", "refund") and (original := session.take_purchase()) is not None:
            self._fire(session.void(original) if name == "void" else session.refund(original))
        else:
            card = self._card()
            low, high = self.options.min_amount_fen, self.options.max_amount_fen
            if card.limit_fen is not None:
                high = max(low, min(high, card.limit_fen))
            self._fire(session.purchase(random.randint(low, high), card))

    # --- helpers ---------------------------------------------------------------------------

    def _card(self) -> Any:
        assert self.fleet is not None and self.tid is not None
        self._count += 1
        return self.fleet.card_for(self.tid, self._count)

    def _sign_in(self) -> bool:
        assert self.session is not None
        outcome = self.session.sign_in()
        self._fire(outcome)
        if not outcome.ok:
            time.sleep(SIGN_IN_RETRY_PAUSE)
        return self.session.signed_in

    def _fire(self, outcome: Outcome) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE, name=outcome.name, response_time=outcome.response_time_ms,
            response_length=outcome.response_length, exception=outcome.error,
            context={**self.context(), **outcome.context})

    def _fire_error(self, name: str, text: str) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE, name=name, response_time=0.0, response_length=0,
            exception=ResponseCodeError("--", text), context=self.context())
