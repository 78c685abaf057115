"""Match responses to requests so a response can show its latency.

A response pairs with the earlier request on the same link that has the same
terminal ID (field 41), the same STAN (field 11) and the request MTI of its
class (0210 answers 0200, 0810 answers 0800; a repeat such as 0201 counts as
its original). Pure: times come from the events themselves.
"""

from __future__ import annotations

from collections import OrderedDict

from possim.traffic.event import TrafficEvent

PairKey = tuple[str, str, str, str]  # link, TID, STAN, request MTI


def _mti_kind(mti: str) -> tuple[str, bool] | None:
    """(request MTI with the repeat digit cleared, is_response) or None."""
    if len(mti) != 4 or not mti.isdigit():
        return None
    function = int(mti[2])
    base = mti[:3] + "0"
    if function % 2 == 1:  # x1xx response, x3xx advice response ...
        return mti[:2] + str(function - 1) + "0", True
    return base, False


class RequestPairer:
    """Remembers open requests (bounded) and answers latency for responses."""

    def __init__(self, max_open: int = 4096) -> None:
        self._open: OrderedDict[PairKey, float] = OrderedDict()
        self._max_open = max_open

    def __len__(self) -> int:
        return len(self._open)

    def observe(self, event: TrafficEvent) -> float | None:
        """Record a request, or return the latency in ms of a matched response."""
        mti, tid, stan = event.mti, event.tid, event.stan
        if mti is None or tid is None or stan is None:
            return None
        kind = _mti_kind(str(mti))
        if kind is None:
            return None
        request_mti, is_response = kind
        key: PairKey = (event.link, tid, stan, request_mti)
        if not is_response:
            self._open[key] = event.time
            self._open.move_to_end(key)
            while len(self._open) > self._max_open:
                self._open.popitem(last=False)  # forget the oldest unanswered request
            return None
        sent = self._open.pop(key, None)
        if sent is None:
            return None
        return (event.time - sent) * 1000.0
