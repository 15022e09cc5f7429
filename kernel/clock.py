"""Time: the injected clock (tests and the demo move it instead of sleeping) and the window a
scheduler tick covers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class MovableClock:
    """A clock that stands still until moved: the demo's ``/clock`` and the tests use it."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = _utc(start)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, moment: dt.datetime) -> None:
        moment = _utc(moment)
        if moment < self._now:
            raise ValueError("the clock only moves forward")
        self._now = moment

    def advance(self, delta: dt.timedelta) -> None:
        self.set(self._now + delta)


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("aware datetimes only")
    return moment.astimezone(dt.UTC)


@dataclass(frozen=True)
class Window:
    """The stretch of time a scheduler tick covers: pushes due in (since, until] fire now.

    A window that looks ahead (``ahead`` is a list) pushes nothing: each job notes there the
    moments something of its falls due in it, so the demo's clock can jump from one to the next
    instead of walking through every hour."""

    since: dt.datetime
    until: dt.datetime
    ahead: list[dt.datetime] | None = field(default=None, compare=False, repr=False)

    def covers(self, moment: dt.datetime) -> bool:
        return self.since < moment <= self.until

    @property
    def looking_ahead(self) -> bool:
        """Whether this window only looks ahead (a job then pushes and changes nothing)."""
        return self.ahead is not None

    def looks_ahead(self, moment: dt.datetime) -> bool:
        """In a window that looks ahead, note ``moment`` and say so: the job then does nothing
        for it. In a real tick, False: the job goes on."""
        if self.ahead is None:
            return False
        self.ahead.append(moment)
        return True
