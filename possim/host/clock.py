"""Time for the host, injected so a policy about days can be checked at once.

Every back-office timestamp and due date comes from a ``Clock`` passed in by the
caller. ``SystemClock`` is the only place in the host that reads the wall clock;
tests and scenarios use ``SimulatedClock`` and advance it by 95 days instead of
waiting.

Time zone: the host works in China Standard Time (UTC+08:00, what
``Asia/Shanghai`` resolves to; China has kept no daylight saving since 1991, so
a fixed offset is exact and needs no tz database). Calendar days -- service
periods, refund due dates, appeal windows -- are counted on the merchant's
local date, which is this zone's date. Clocks return timezone-aware datetimes
in that zone; a naive datetime is refused because it would silently mean
"whatever zone the machine is in".
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

from possim.errors import PossimError

#: China Standard Time; the zone every host timestamp is expressed in.
HOST_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


class ClockError(PossimError):
    """A clock was given a time it cannot use (naive, or moved backwards)."""


@runtime_checkable
class Clock(Protocol):
    """Anything that can say what time it is, in ``HOST_TZ``."""

    def now(self) -> datetime: ...


def local_date(moment: datetime) -> date:
    """The merchant's calendar date of ``moment`` (its date in ``HOST_TZ``)."""
    if moment.tzinfo is None:
        raise ClockError(f"naive datetime {moment.isoformat()}: a time zone is required")
    return moment.astimezone(HOST_TZ).date()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ClockError(f"naive datetime {moment.isoformat()}: a time zone is required")
    return moment.astimezone(HOST_TZ)


class SystemClock:
    """The wall clock, read here and nowhere else in the host."""

    def now(self) -> datetime:
        return datetime.now(HOST_TZ)


class ShiftedClock:
    """Another clock moved to a chosen start: it runs at the base clock's pace from there.

    ``possim host --clock-start`` uses it, so a host can be pinned to a date (a test card's expiry, a policy's
    day count) and still see seconds pass between messages.
    """

    def __init__(self, start: datetime, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = _aware(start) - self._base.now()

    def now(self) -> datetime:
        return self._base.now() + self._offset


class SimulatedClock:
    """A clock that only moves when told to; scenarios advance it by days."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, *, days: float = 0, hours: float = 0, minutes: float = 0,
                seconds: float = 0) -> datetime:
        """Move forward and return the new time; backwards steps are refused
        because recorded events must stay in time order."""
        step = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if step < timedelta(0):
            raise ClockError(f"cannot advance by a negative step ({step})")
        self._now = self._now + step
        return self._now

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (not earlier than now) and return it."""
        moment = _aware(moment)
        if moment < self._now:
            raise ClockError(
                f"cannot set clock back from {self._now.isoformat()} to {moment.isoformat()}")
        self._now = moment
        return self._now
