"""Time: the injected clock (tests and the demo move it instead of sleeping) and the window a
scheduler tick covers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
    """The stretch of time a scheduler tick covers: pushes due in (since, until] fire now."""

    since: dt.datetime
    until: dt.datetime

    def covers(self, moment: dt.datetime) -> bool:
        return self.since < moment <= self.until
