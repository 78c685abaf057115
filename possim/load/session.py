"""One terminal's conversation with the host over a plain blocking socket.

Locust runs users as gevent greenlets and patches the socket module, so a
blocking ``socket`` here waits cooperatively; nothing asyncio is involved.
Requests are built and answers checked by the terminal simulator's
:class:`~possim.terminal.messages.CupMessages` (the same code ``possim
terminal`` uses), framed with the dialect's framing.

The session behaves as a terminal does where money is concerned: a
purchase, void or refund whose answer never came (or could not be trusted) is
reversed (0400) before the next transaction, so the host's ledger and the
terminal's count of approvals agree. A STAN the host already has (94, left
by an earlier run against the same database) moves the STAN on and sends
the request again: a 94 is not recorded by the host, so nothing is counted
twice.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from possim.errors import PossimError, UsageError
from possim.iso8583 import Dialect, Message, get_dialect
from possim.link.events import Frame, FrameError
from possim.link.framing import Framer, get_framer
from possim.load.fleet import LoadCard, LoadTerminal
from possim.security.keys import KeyStore
from possim.terminal.journal import JournalEntry
from possim.terminal.messages import BadResponse, CupMessages, HostAnswer, MacMismatch, request_for_journal

APPROVED = "00"
DUPLICATE = "94"
NO_ANSWER = "98"
BAD_ANSWER = "96"
MAC_ERROR = "A0"
UNREACHABLE = "91"
#: Answers after which a reversal has not been processed and must be sent again.
REVERSAL_NOT_TAKEN = frozenset({"22", "77", "A0", "91", "92", "96", "98"})
SIGN_IN_AGAIN = frozenset({"22", "77", "A0"})
MAX_STAN_JUMPS = 21  # 1 + 2 + 4 ... passes 999999
MAX_PENDING_REVERSALS = 100
MAX_OWN_PURCHASES = 1000
RECV_CHUNK = 4096


class ResponseCodeError(Exception):
    """A request that did not get the answer its task expects: text is the code and its meaning.

    ``repr`` is the text itself, so Locust's failure table (which groups by
    repr) reads ``51 Insufficient funds`` rather than a class name."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code

    def __repr__(self) -> str:
        return str(self)


class _LinkFailure(Exception):
    def __init__(self, code: str, text: str, sent: bool) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.sent = sent


@dataclass
class Outcome:
    """One request and its answer, as Locust's request event wants it."""

    name: str
    code: str
    text: str
    ok: bool
    response_time_ms: float
    response_length: int
    answered: bool
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def error(self) -> ResponseCodeError | None:
        return None if self.ok else ResponseCodeError(self.code, self.text)


@dataclass(frozen=True)
class OwnPurchase:
    """An approved purchase of this session, kept so it can be voided or refunded."""

    entry: JournalEntry
    card: LoadCard


def parse_host_url(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` (Locust's ``--host``) -> address."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise UsageError(f"--host {url!r}: expected tcp://HOST:PORT")
    return parts.hostname, parts.port


def _entry(kind: str, request: Message, answer: HostAnswer | None, card: LoadCard | None,
           batch: str) -> JournalEntry:
    """The journal's record of a request, which CupMessages needs to void, refund or reverse it."""
    get = answer.get if answer is not None else (lambda key: None)
    amount = request.get("4")
    return JournalEntry(
        id=0, kind=kind, mti=request.mti, stan=request.get("11") or "", batch=batch,
        amount_fen=int(amount) if amount else None, pan=card.card.pan if card else None,
        expiry=card.card.expiry if card else None, entry_mode=request.get("22"),
        status="approved" if answer is not None and answer.code == APPROVED else "pending",
        response_code=answer.code if answer is not None else None, rrn=get("37"), auth_code=get("38"),
        host_date=get("13"), host_time=get("12"), original_id=None, reversal_reason=None, reversal_attempts=0,
        reversal_code=None, request=request_for_journal(request), created_at="", updated_at="")


class TerminalSession:
    """Sign-in, purchase, balance, void, refund and reversal for one terminal, one at a time."""

    def __init__(self, terminal: LoadTerminal, host_url: str, *, dialect: str | Dialect = "cup-pos",
                 balance_processing_code: str = "310000", timeout: float = 10.0,
                 random_bytes: Callable[[int], bytes] = os.urandom,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.terminal = terminal
        self.address = parse_host_url(host_url)
        self.dialect = get_dialect(dialect) if isinstance(dialect, str) else dialect
        self.messages = CupMessages(self.dialect, terminal.terminal_config(balance_processing_code), random_bytes)
        self.timeout = timeout
        self.clock = clock
        self.keys: KeyStore | None = None
        self.batch = "000001"
        self._stan = 0
        self._sock: socket.socket | None = None
        self._framer: Framer | None = None
        self.purchases: deque[OwnPurchase] = deque(maxlen=MAX_OWN_PURCHASES)
        self.pending_reversals: deque[JournalEntry] = deque(maxlen=MAX_PENDING_REVERSALS)

    # --- the link ---------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        return self.keys is not None

    def next_stan(self, step: int = 1) -> str:
        self._stan = (self._stan + step - 1) % 999_999 + 1
        return f"{self._stan:06d}"

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
                self._framer = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            try:
                sock = socket.create_connection(self.address, timeout=self.timeout)
            except OSError as exc:
                raise _LinkFailure(UNREACHABLE, f"host unreachable: {exc.strerror or exc}", sent=False) from None
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.timeout)
            self._sock = sock
            self._framer = get_framer(self.dialect.default_framing)
        return self._sock

    def _round_trip(self, body: bytes) -> bytes:
        """Send one frame and wait for the next one; on any trouble the connection is dropped."""
        sock = self._connect()
        assert self._framer is not None
        try:
            sock.sendall(self._framer.encode(body))
        except OSError as exc:
            self.close()
            raise _LinkFailure(NO_ANSWER, f"connection lost while sending: {exc}", sent=True) from None
        try:
            while True:
                try:
                    chunk = sock.recv(RECV_CHUNK)
                except socket.timeout:
                    raise _LinkFailure(NO_ANSWER, f"no answer within {self.timeout:g} s", sent=True) from None
                except OSError as exc:
                    raise _LinkFailure(NO_ANSWER, f"connection lost: {exc}", sent=True) from None
                if not chunk:
                    raise _LinkFailure(NO_ANSWER, "the host closed the connection without answering", sent=True)
                for event in self._framer.feed(chunk):
                    if isinstance(event, Frame):
                        return event.payload
                    if isinstance(event, FrameError):
                        raise _LinkFailure(BAD_ANSWER, f"bad frame: {event.message}", sent=True)
        except _LinkFailure:
            self.close()
            raise

    def _exchange(self, name: str, build: Callable[[str], Message], keys: KeyStore | None,
                  expected: Callable[[str], bool] = lambda code: code == APPROVED,
                  ) -> tuple[Outcome, Message, HostAnswer | None]:
        """One request, its STAN moved on past any the host already has (94)."""
        started = self.clock()
        step = 1
        for _ in range(MAX_STAN_JUMPS):
            request = build(self.next_stan(step))
            body = self.messages.encode(request, keys)
            try:
                raw = self._round_trip(body)
                answer = self.messages.read_response(raw, request, keys)
            except _LinkFailure as exc:
                return self._outcome(name, started, exc.code, exc.text, False, 0, False, request), request, None
            except MacMismatch as exc:
                self.close()
                self.keys = None
                return self._outcome(name, started, MAC_ERROR, str(exc), False, len(raw), False, request), \
                    request, None
            except BadResponse as exc:
                self.close()
                return self._outcome(name, started, BAD_ANSWER, str(exc), False, len(raw), False, request), \
                    request, None
            if answer.code == DUPLICATE:
                step *= 2
                continue
            if answer.sign_in_again:
                self.keys = None
            outcome = self._outcome(name, started, answer.code, answer.text, expected(answer.code), len(raw),
                                    True, request)
            return outcome, request, answer
        return self._outcome(name, started, DUPLICATE, "every STAN tried was a duplicate", False, 0, True,
                             request), request, None

    def _outcome(self, name: str, started: float, code: str, text: str, ok: bool, length: int, answered: bool,
                 request: Message) -> Outcome:
        return Outcome(name, code, text, ok, (self.clock() - started) * 1000.0, length, answered,
                       {"tid": self.terminal.tid, "stan": request.get("11"), "batch": request.get("60.2"),
                        "code": code})

    def _lost(self, kind: str, outcome: Outcome, request: Message, card: LoadCard | None) -> None:
        """A money request without a trusted answer: reverse it before anything else."""
        if not outcome.answered:
            self.pending_reversals.append(_entry(kind, request, None, card, request.get("60.2") or self.batch))

    # --- network management ----------------------------------------------------------

    def sign_in(self) -> Outcome:
        """0800 for working keys; they are installed only if every check value verifies."""
        base = KeyStore(self.terminal.tid, self.terminal.tmk)
        outcome, _, answer = self._exchange("sign-in", lambda stan: self.messages.sign_in(stan, self.batch), None)
        if answer is None or answer.code != APPROVED:
            return outcome
        try:
            field62 = answer.get("62")
            if field62 is None:
                raise PossimError("field 62 (working keys) is absent")
            self.keys = base.apply_field62(self.terminal.key_mode, bytes.fromhex(field62))
        except (PossimError, ValueError) as exc:
            self.keys = None
            outcome.code, outcome.text, outcome.ok = BAD_ANSWER, f"sign-in keys refused: {exc}", False
            return outcome
        batch = answer.get("60.2")
        if batch and batch.isdigit():
            self.batch = batch
        return outcome

    def send_reversals(self) -> list[Outcome]:
        """Stored reversals, oldest first, until one is not taken (then it stays for next time)."""
        outcomes: list[Outcome] = []
        while self.pending_reversals and self.keys is not None:
            original = self.pending_reversals[0]
            started = self.clock()
            request = self.messages.reversal(original, NO_ANSWER)
            try:
                raw = self._round_trip(self.messages.encode(request, self.keys))
                answer = self.messages.read_response(raw, request, self.keys)
            except (_LinkFailure, BadResponse, MacMismatch) as exc:
                code = exc.code if isinstance(exc, _LinkFailure) else BAD_ANSWER
                self.close()
                outcomes.append(self._outcome("reversal", started, code, str(exc), False, 0, False, request))
                return outcomes
            taken = answer.code not in REVERSAL_NOT_TAKEN
            if answer.sign_in_again:
                self.keys = None
            outcomes.append(self._outcome("reversal", started, answer.code, answer.text, taken, len(raw), True,
                                          request))
            if not taken:
                return outcomes
            self.pending_reversals.popleft()
        return outcomes

    # --- financial ------------------------------------------------------------------

    def _keys(self) -> KeyStore:
        if self.keys is None:
            raise UsageError(f"terminal {self.terminal.tid}: not signed in")
        return self.keys

    def purchase(self, amount_fen: int, card: LoadCard) -> Outcome:
        keys = self._keys()
        outcome, request, answer = self._exchange(
            "purchase", lambda stan: self.messages.purchase(stan, self.batch, amount_fen, card.card, card.pin, keys),
            keys)
        if answer is not None and answer.code == APPROVED:
            self.purchases.append(OwnPurchase(_entry("purchase", request, answer, card, self.batch), card))
        self._lost("purchase", outcome, request, card)
        return outcome

    def balance(self, card: LoadCard) -> Outcome:
        keys = self._keys()
        outcome, _, _ = self._exchange(
            "balance", lambda stan: self.messages.balance(stan, self.batch, card.card, card.pin, keys), keys)
        return outcome

    def void(self, original: OwnPurchase) -> Outcome:
        """Void one of this session's approved purchases (the caller has taken it off ``purchases``)."""
        keys = self._keys()
        outcome, request, _ = self._exchange(
            "void", lambda stan: self.messages.void(stan, self.batch, original.entry, original.card.card,
                                                     original.card.pin, keys), keys)
        self._lost("void", outcome, request, original.card)
        return outcome

    def refund(self, original: OwnPurchase, amount_fen: int | None = None) -> Outcome:
        """Refund (0220) one of this session's approved purchases, in full unless told otherwise."""
        keys = self._keys()
        entry = original.entry
        amount = (entry.amount_fen or 0) if amount_fen is None else amount_fen
        outcome, request, _ = self._exchange(
            "refund", lambda stan: self.messages.refund(
                stan, self.batch, amount, original.card.card, entry.rrn or "", entry.host_date or "0000", keys,
                original_batch=entry.batch, original_stan=entry.stan, pin=original.card.pin), keys)
        self._lost("refund", outcome, request, original.card)
        return outcome

    def take_purchase(self) -> OwnPurchase | None:
        """The oldest approved purchase not yet voided or refunded."""
        return self.purchases.popleft() if self.purchases else None
