"""What the traffic screen knows, kept apart from how it is drawn.

The app feeds batches of bus events into a :class:`TrafficModel`; widgets
ask it for rows, the selected message, its partner and the counters. It is
pure -- the arrival time comes in as an argument -- so filtering, pairing and
statistics are unit-tested without a screen, and the bounded buffer means a
night of traffic cannot eat the machine's memory.

Nothing here decides anything about payments: names, response-code meanings
and field layouts come from the dialect (``possim.iso8583``), the approval
code from the host's one table (``possim.host.codes``).
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from possim.errors import PossimError
from possim.host.codes import RESPONSE_CODE, Situation
from possim.iso8583 import Dialect, get_dialect
from possim.traffic import TrafficEvent

DEFAULT_CAPACITY = 50_000
RATE_WINDOW_S = 5
APPROVED = RESPONSE_CODE[Situation.APPROVED]

PairKey = tuple[str, str, str, str]  # link, TID, STAN, MTI class of the response ("021")


class DialectCache:
    """Dialects by name; an unknown name is remembered as None instead of raising per event."""

    def __init__(self) -> None:
        self._by_name: dict[str, Dialect | None] = {}

    def get(self, name: str | None) -> Dialect | None:
        if not name:
            return None
        if name not in self._by_name:
            try:
                self._by_name[name] = get_dialect(name)
            except PossimError:
                self._by_name[name] = None
        return self._by_name[name]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the message list: the event and what is shown of it."""

    number: int  # arrival order in this model (1, 2, ...); unlike seq, unique even across sources
    event: TrafficEvent
    mti: str
    name: str
    stan: str
    tid: str
    amount: str
    rc: str
    rc_text: str
    error: str | None
    request_key: PairKey | None
    response_key: PairKey | None

    @property
    def seq(self) -> int:
        return self.event.seq

    @property
    def toward_host(self) -> bool:
        """Whether the frame travelled terminal -> host (``dir`` is relative to its publisher)."""
        event = self.event
        if event.role == "host":
            return event.direction == "in"
        return event.direction == "out"  # a terminal sends out; a tap's "out" is toward the host

    @property
    def problem(self) -> bool:
        """A frame that did not decode, or a response that was not approved."""
        return self.error is not None or (self.rc != "" and self.rc != APPROVED)


def format_amount(value: str | None) -> str:
    """Field 4 in minor units (fen) as yuan with two decimals; other text shown as is."""
    if not value:
        return ""
    if not value.isdigit():
        return value
    units = int(value)
    return f"{units // 100}.{units % 100:02d}"


def _pair_keys(event: TrafficEvent) -> tuple[PairKey | None, PairKey | None]:
    """(key as a request, key as a response), matching ``possim.traffic.pairing``'s rule."""
    msg = event.message
    tid, stan = event.tid, event.stan
    if msg is None or tid is None or stan is None:
        return None, None
    mti = str(msg.mti)
    if len(mti) != 4 or not mti.isdigit():
        return None, None
    try:
        if msg.is_request():
            return (event.link, tid, stan, msg.response_mti()[:3]), None
        if msg.is_response():
            return None, (event.link, tid, stan, mti[:3])
    except PossimError:
        pass
    return None, None


def summarize(number: int, event: TrafficEvent, dialects: DialectCache) -> Row:
    """The list columns of one event, computed once when it arrives."""
    msg = event.message
    dialect = dialects.get(event.dialect)
    mti = str(event.mti or "")
    name = ""
    rc = ""
    rc_text = ""
    amount = ""
    if msg is not None:
        if dialect is not None:
            try:
                name = dialect.transaction_name(msg) or ""
            except Exception:  # noqa: BLE001 - a subfield path that does not fit this message
                name = ""
        rc = event.field("39") or ""
        if rc and dialect is not None:
            rc_text = dialect.response_text(rc) or "unknown code"
        amount = format_amount(event.field("4"))
    request_key, response_key = _pair_keys(event)
    return Row(number=number, event=event, mti=mti, name=name, stan=event.stan or "", tid=event.tid or "",
               amount=amount, rc=rc, rc_text=rc_text, error=event.error,
               request_key=request_key, response_key=response_key)


# --- filtering -------------------------------------------------------------------------------------

FILTER_KEYS = ("mti", "stan", "tid", "rc", "link", "dir", "role")


@dataclass(frozen=True)
class Filter:
    """What the list shows. Each set allows any of its values; empty sets allow all."""

    mti: frozenset[str] = frozenset()
    stan: frozenset[str] = frozenset()
    tid: frozenset[str] = frozenset()
    rc: frozenset[str] = frozenset()
    link: frozenset[str] = frozenset()
    dir: frozenset[str] = frozenset()
    role: frozenset[str] = frozenset()
    errors_only: bool = False

    @property
    def active(self) -> bool:
        return self != Filter()

    def matches(self, row: Row) -> bool:
        if self.errors_only and not row.problem:
            return False
        if self.mti and row.mti not in self.mti:
            return False
        if self.stan and row.stan not in self.stan:
            return False
        if self.tid and row.tid not in self.tid:
            return False
        if self.rc and row.rc not in self.rc:
            return False
        if self.link and row.event.link not in self.link:
            return False
        if self.dir and row.event.direction not in self.dir:
            return False
        if self.role and row.event.role not in self.role:
            return False
        return True

    def text(self) -> str:
        """The filter as the user would type it (round-trips through ``parse_filter``)."""
        terms = [f"{key}={','.join(sorted(getattr(self, key)))}" for key in FILTER_KEYS if getattr(self, key)]
        if self.errors_only:
            terms.append("errors")
        return " ".join(terms)

    def with_errors_only(self, on: bool) -> Filter:
        return Filter(**{k: getattr(self, k) for k in FILTER_KEYS}, errors_only=on)


def parse_filter(text: str) -> Filter:
    """``mti=0200,0210 tid=12345678 rc=05 errors`` -> Filter; an empty text shows everything.

    Terms are ANDed; commas give alternatives within a term. A term that is
    not understood is refused by name rather than silently ignored, since a
    typo would otherwise hide traffic the user expects to see.
    """
    values: dict[str, set[str]] = {k: set() for k in FILTER_KEYS}
    errors_only = False
    for term in text.split():
        if term.lower() in ("errors", "error", "err"):
            errors_only = True
            continue
        key, sep, value = term.partition("=")
        key = key.lower()
        if not sep or key not in values:
            raise PossimError(f"filter term {term!r}: expected KEY=VALUE with KEY one of "
                              f"{', '.join(FILTER_KEYS)}, or 'errors'")
        parts = [p for p in value.split(",") if p]
        if not parts:
            raise PossimError(f"filter term {term!r}: no value after '='")
        if key == "rc":
            parts = [p.upper() for p in parts]
        values[key].update(parts)
    return Filter(**{k: frozenset(v) for k, v in values.items()}, errors_only=errors_only)


# --- statistics ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stats:
    """Counters since the screen started (not just what the buffer still holds)."""

    total: int
    shown: int
    buffered: int
    rate: float  # events per second over the last RATE_WINDOW_S seconds of arrival
    requests: int
    responses: int
    decode_errors: int
    declined: int
    response_codes: dict[str, int] = field(default_factory=dict)
    dropped: int = 0  # lost by the subscription because the screen fell behind
    evicted: int = 0  # pushed out of the bounded buffer


# --- the model -------------------------------------------------------------------------------------

class _Window:
    """The visible rows: O(1) append, index and drop-from-front (a list with a moving start)."""

    def __init__(self) -> None:
        self._items: list[Row] = []
        self._start = 0

    def __len__(self) -> int:
        return len(self._items) - self._start

    def __getitem__(self, index: int) -> Row:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._items[self._start + index]

    def __iter__(self) -> Iterator[Row]:
        return iter(self._items[self._start:])

    def append(self, row: Row) -> None:
        self._items.append(row)

    def drop_front(self) -> Row:
        row = self._items[self._start]
        self._start += 1
        if self._start > 4096 and self._start * 2 > len(self._items):
            del self._items[:self._start]
            self._start = 0
        return row

    def index_of(self, number: int) -> int | None:
        """Position of the row with this arrival number (rows are in arrival order)."""
        lo, hi = self._start, len(self._items)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._items[mid].number < number:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._items) and self._items[lo].number == number:
            return lo - self._start
        return None

    def clear(self) -> None:
        self._items = []
        self._start = 0


class TrafficModel:
    """A bounded buffer of traffic rows with a filtered view, pairing and counters."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, flt: Filter | None = None) -> None:
        if capacity < 1:
            raise PossimError(f"traffic buffer capacity: expected at least 1, got {capacity}")
        self.capacity = capacity
        self.filter = flt or Filter()
        self.dialects = DialectCache()
        self._rows: deque[Row] = deque()
        self._visible = _Window()
        self._number = 0
        self._open_requests: OrderedDict[PairKey, int] = OrderedDict()
        self._partner: dict[int, int] = {}
        self._by_number: dict[int, Row] = {}
        self._arrivals: deque[tuple[int, int]] = deque()  # (whole second, count)
        self._codes: Counter[str] = Counter()
        self._requests = 0
        self._responses = 0
        self._decode_errors = 0
        self._declined = 0
        self._evicted = 0
        self.dropped = 0

    # -- feeding ------------------------------------------------------------------------------------
    def add(self, events: Iterable[TrafficEvent], now: float) -> list[Row]:
        """Take a batch that arrived at ``now``; returns the new rows (shown or not)."""
        added: list[Row] = []
        count = 0
        for event in events:
            count += 1
            self._number += 1
            row = summarize(self._number, event, self.dialects)
            self._count(row)
            self._pair(row)
            self._rows.append(row)
            self._by_number[row.number] = row
            added.append(row)
            if self.filter.matches(row):
                self._visible.append(row)
            if len(self._rows) > self.capacity:
                self._evict()
        if count:
            second = int(now)
            if self._arrivals and self._arrivals[-1][0] == second:
                self._arrivals[-1] = (second, self._arrivals[-1][1] + count)
            else:
                self._arrivals.append((second, count))
            while self._arrivals and self._arrivals[0][0] <= second - RATE_WINDOW_S - 1:
                self._arrivals.popleft()
        return added

    def note_dropped(self, total_dropped: int) -> None:
        """The subscription's running count of events it lost before the screen read them."""
        self.dropped = max(self.dropped, total_dropped)

    def _count(self, row: Row) -> None:
        if row.error is not None:
            self._decode_errors += 1
        if row.request_key is not None:
            self._requests += 1
        elif row.response_key is not None:
            self._responses += 1
        if row.rc:
            self._codes[row.rc] += 1
            if row.rc != APPROVED:
                self._declined += 1

    def _pair(self, row: Row) -> None:
        if row.request_key is not None:
            self._open_requests[row.request_key] = row.number
            self._open_requests.move_to_end(row.request_key)
            while len(self._open_requests) > self.capacity:
                self._open_requests.popitem(last=False)
        elif row.response_key is not None:
            request = self._open_requests.pop(row.response_key, None)
            if request is not None and request in self._by_number:
                self._partner[request] = row.number
                self._partner[row.number] = request

    def _evict(self) -> None:
        row = self._rows.popleft()
        self._evicted += 1
        del self._by_number[row.number]
        other = self._partner.pop(row.number, None)
        if other is not None:
            self._partner.pop(other, None)
        if row.request_key is not None and self._open_requests.get(row.request_key) == row.number:
            del self._open_requests[row.request_key]
        if len(self._visible) and self._visible[0].number == row.number:
            self._visible.drop_front()

    # -- filtering ----------------------------------------------------------------------------------
    def set_filter(self, flt: Filter) -> None:
        self.filter = flt
        self._visible.clear()
        for row in self._rows:
            if flt.matches(row):
                self._visible.append(row)

    # -- reading ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Rows shown (after filtering)."""
        return len(self._visible)

    @property
    def buffered(self) -> int:
        return len(self._rows)

    def row(self, index: int) -> Row:
        return self._visible[index]

    def visible(self) -> list[Row]:
        return list(self._visible)

    def index_of(self, number: int) -> int | None:
        """Where a row (by arrival number) sits in the filtered view, or None if hidden or evicted."""
        return self._visible.index_of(number)

    def get(self, number: int) -> Row | None:
        return self._by_number.get(number)

    def partner(self, row: Row) -> Row | None:
        """The request of a response, or the response of a request, while both are buffered."""
        other = self._partner.get(row.number)
        return self._by_number.get(other) if other is not None else None

    def stats(self, now: float) -> Stats:
        second = int(now)
        recent = sum(c for s, c in self._arrivals if second - RATE_WINDOW_S < s <= second)
        return Stats(total=self._number, shown=len(self._visible), buffered=len(self._rows),
                     rate=recent / RATE_WINDOW_S, requests=self._requests, responses=self._responses,
                     decode_errors=self._decode_errors, declined=self._declined,
                     response_codes=dict(self._codes.most_common()), dropped=self.dropped,
                     evicted=self._evicted)
