"""Match responses to outstanding requests, the way jPOS's QMUX does.

Several requests can be in flight on one link; each response names its
request through a few fields. The default key is the response MTI class plus
TID (field 41) and STAN (field 11): a 0200 and a 0400 reversal that reuses the
same STAN (CUP reversals carry the original STAN) are then kept apart. When a
response has no field 41 the Mux falls back to STAN alone, provided exactly
one outstanding request fits.

Nothing is dropped silently. A response whose request already expired comes
back as :class:`Late` (with the request), one for which no request is known as
:class:`Unsolicited`, a second response to an answered request as
:class:`Unsolicited` with reason ``duplicate``, and a request the peer
initiated as :class:`IncomingRequest`.

Sans-IO: time is the ``now`` argument. Messages are duck-typed: anything with
``.mti`` (4 digits) and ``.fields`` (a mapping of field number strings to
values) works, which covers :class:`possim.iso8583.Message`.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable

from possim.errors import PossimError

KeyFunc = Callable[[Any], "Hashable | None"]


class MuxError(PossimError):
    """A request the Mux cannot track (no key, or the same key already outstanding)."""


def response_mti(mti: str) -> str:
    """The MTI a response to ``mti`` carries: 0200/0201 -> 0210, 0420/0421 -> 0430.

    A response MTI maps to itself, so requests and responses share one key space.
    Anything that is not 4 digits is returned unchanged.
    """
    if len(mti) != 4 or not mti.isdigit():
        return mti
    function = int(mti[2]) | 1          # request (even) -> response (odd)
    origin = int(mti[3]) & ~1           # a repeat (odd) answers like the original
    return f"{mti[:2]}{function}{origin}"


def is_request(message: Any) -> bool:
    """True for request/advice MTIs (third digit even): the peer expects an answer from us."""
    mti = getattr(message, "mti", None)
    return isinstance(mti, str) and len(mti) == 4 and mti.isdigit() and int(mti[2]) % 2 == 0


def key_fields(*numbers: str, match_mti: bool = True) -> KeyFunc:
    """A key function built from field numbers, e.g. ``key_fields("41", "11")``.

    Returns None (no key) when the last named field is missing; earlier ones
    may be missing and then count as None, which is what lets a STAN-only
    response still produce a key.
    """
    if not numbers:
        raise ValueError("key_fields needs at least one field number")

    def key(message: Any) -> Hashable | None:
        fields = getattr(message, "fields", None) or {}
        values = tuple(fields.get(n) for n in numbers)
        if values[-1] is None:
            return None
        if match_mti:
            return (response_mti(str(getattr(message, "mti", ""))),) + values
        return values

    key.__name__ = f"key_fields({', '.join(numbers)})"
    return key


tid_stan_key: KeyFunc = key_fields("41", "11")
stan_key: KeyFunc = key_fields("11")


@dataclass(frozen=True, slots=True)
class Matched:
    request: Any
    response: Any
    key: Hashable
    sent_at: float
    received_at: float
    context: Any = None

    @property
    def elapsed(self) -> float:
        return self.received_at - self.sent_at


@dataclass(frozen=True, slots=True)
class Expired:
    request: Any
    key: Hashable
    sent_at: float
    deadline: float
    context: Any = None


@dataclass(frozen=True, slots=True)
class Late:
    """A response that arrived after its request had expired."""

    response: Any
    request: Any
    key: Hashable
    expired_at: float
    received_at: float


@dataclass(frozen=True, slots=True)
class Unsolicited:
    """A response nobody is waiting for; ``reason`` is ``no request``, ``duplicate`` or ``no key``."""

    message: Any
    key: Hashable | None
    reason: str
    received_at: float


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    """A request the peer started; the application should answer it."""

    message: Any
    received_at: float


MuxEvent = Matched | Expired | Late | Unsolicited | IncomingRequest


@dataclass(slots=True)
class _Pending:
    request: Any
    key: Hashable
    sent_at: float
    deadline: float
    context: Any
    fallback: Hashable | None = field(default=None)


class Mux:
    """Outstanding requests keyed by ``key(message)``; see the module docstring."""

    def __init__(self, *, key: KeyFunc = tid_stan_key, fallback_key: KeyFunc | None | str = "default",
                 timeout: float = 30.0, late_window: float = 300.0, history: int = 4096) -> None:
        """``fallback_key`` defaults to STAN alone with the default key, and to none with a custom key."""
        self.key = key
        if isinstance(fallback_key, str):
            fallback_key = stan_key if key is tid_stan_key else None
        self.fallback_key: KeyFunc | None = fallback_key
        self.timeout = timeout
        self.late_window = late_window
        self.history = history
        self._pending: dict[Hashable, _Pending] = {}
        self._deadlines: list[tuple[float, int, Hashable]] = []
        self._seq = itertools.count()
        # Bounded memories so late and duplicate responses can be named, not guessed.
        self._expired: OrderedDict[Hashable, tuple[_Pending, float]] = OrderedDict()
        self._answered: OrderedDict[Hashable, float] = OrderedDict()

    @property
    def outstanding(self) -> int:
        return len(self._pending)

    def pending_requests(self) -> list[Any]:
        return [p.request for p in self._pending.values()]

    def request(self, message: Any, now: float, *, timeout: float | None = None,
                context: Any = None) -> Hashable:
        """Record ``message`` as sent at ``now``; returns its key."""
        key = self.key(message)
        if key is None:
            raise MuxError(f"request {getattr(message, 'mti', '?')}: no matching key "
                           f"({getattr(self.key, '__name__', 'key')} found nothing); field 11 missing?")
        if key in self._pending:
            raise MuxError(f"request {getattr(message, 'mti', '?')}: key {key!r} is already outstanding")
        deadline = now + (self.timeout if timeout is None else timeout)
        fallback = self.fallback_key(message) if self.fallback_key is not None else None
        self._pending[key] = _Pending(message, key, now, deadline, context, fallback)
        self._expired.pop(key, None)
        self._answered.pop(key, None)
        heapq.heappush(self._deadlines, (deadline, next(self._seq), key))
        return key

    def cancel(self, key: Hashable) -> Any | None:
        """Stop waiting for ``key`` without an event (the caller gave up on purpose)."""
        pending = self._pending.pop(key, None)
        return pending.request if pending is not None else None

    def cancel_all(self) -> list[tuple[Hashable, Any, Any]]:
        """Stop waiting for everything (the link closed); returns (key, request, context) per request."""
        dropped = [(p.key, p.request, p.context) for p in self._pending.values()]
        self._pending.clear()
        self._deadlines.clear()
        return dropped

    def next_deadline(self) -> float | None:
        while self._deadlines:
            deadline, _, key = self._deadlines[0]
            pending = self._pending.get(key)
            if pending is not None and pending.deadline == deadline:
                return deadline
            heapq.heappop(self._deadlines)  # stale entry: answered or cancelled
        return None

    def expire(self, now: float) -> list[Expired]:
        """Expire every request whose deadline is at or before ``now``."""
        events: list[Expired] = []
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > now:
                break
            _, _, key = heapq.heappop(self._deadlines)
            pending = self._pending.pop(key)
            self._remember(self._expired, key, (pending, pending.deadline))
            events.append(Expired(pending.request, key, pending.sent_at, pending.deadline, pending.context))
        self._forget_old(now)
        return events

    def receive(self, message: Any, now: float) -> list[MuxEvent]:
        """Classify one received message; expiries due by ``now`` come first in the list."""
        events: list[MuxEvent] = list(self.expire(now))
        if is_request(message):
            events.append(IncomingRequest(message, now))
            return events
        key = self.key(message)
        pending = self._pending.pop(key, None) if key is not None else None
        if pending is None:
            pending = self._fallback_match(message)
        if pending is not None:
            self._remember(self._answered, pending.key, now)
            events.append(Matched(pending.request, message, pending.key, pending.sent_at, now, pending.context))
            return events
        if key is None:
            events.append(Unsolicited(message, None, "no key", now))
        elif key in self._expired:
            expired, expired_at = self._expired.pop(key)
            events.append(Late(message, expired.request, key, expired_at, now))
        elif key in self._answered:
            events.append(Unsolicited(message, key, "duplicate", now))
        else:
            events.append(Unsolicited(message, key, "no request", now))
        return events

    def _fallback_match(self, message: Any) -> _Pending | None:
        if self.fallback_key is None:
            return None
        fallback = self.fallback_key(message)
        if fallback is None:
            return None
        fields = getattr(message, "fields", None) or {}
        if "41" in fields:
            return None  # the response names its terminal; a different TID is a different request
        candidates = [p for p in self._pending.values() if p.fallback == fallback]
        if len(candidates) != 1:
            return None
        return self._pending.pop(candidates[0].key)

    def _remember(self, memory: OrderedDict, key: Hashable, value: Any) -> None:
        memory[key] = value
        memory.move_to_end(key)
        while len(memory) > self.history:
            memory.popitem(last=False)

    def _forget_old(self, now: float) -> None:
        cutoff = now - self.late_window
        for memory in (self._expired, self._answered):
            while memory:
                oldest = next(iter(memory.values()))
                when = oldest[1] if isinstance(oldest, tuple) else oldest
                if when >= cutoff:
                    break
                memory.popitem(last=False)
