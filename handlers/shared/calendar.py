"""A unit's calendar and local time: "today" in its own zone, and its working days (工作日):
its roster or weekdays, its country's official calendar with
China's make-up working weekends (调休), and the plan's own holidays and make-up days, which win."""

from __future__ import annotations

import datetime as dt
import json
from collections import deque
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from kernel import Window
from storage.models import Unit

SEARCH_DAYS = 31
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=64)
def _official(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)


class WorkingCalendar:
    """One plan Calendar, parsed once: its own holidays and make-up days as sets, its roster,
    weekdays and country; each day's answer is kept once worked out.

    Built by ``working_calendar`` once per calendar content (a plan version: every unit of a
    plan shares its calendar unless it has its own), not once per question: a scheduler tick
    asks about every unit and day it looks at."""

    def __init__(self, calendar: Mapping[str, Any]) -> None:
        self._make_up = frozenset(str(d) for d in calendar.get("make_up_days", ()))
        self._holidays = frozenset(str(d) for d in calendar.get("holidays", ()))
        roster = calendar.get("roster")
        self._roster: tuple[dt.date, tuple[str, ...]] | None = (
            (dt.date.fromisoformat(str(roster["starts_on"])), tuple(roster["pattern"]))
            if roster
            else None
        )
        self._weekdays = frozenset(calendar.get("working_days", WEEKDAY_KEYS[:5]))
        self._country: str | None = calendar.get("country") or None
        self._subdivision: str | None = calendar.get("subdivision")
        self._answers: dict[dt.date, bool] = {}

    def is_working_day(self, day: dt.date) -> bool:
        known = self._answers.get(day)
        if known is None:
            known = self._answers[day] = self._work_out(day)
        return known

    def _work_out(self, day: dt.date) -> bool:
        iso = day.isoformat()
        if iso in self._make_up:
            return True
        if iso in self._holidays:
            return False
        if self._roster is not None:
            start, pattern = self._roster
            return pattern[(day - start).days % len(pattern)] == "work"
        on_weekday = WEEKDAY_KEYS[day.weekday()] in self._weekdays
        if not self._country:
            return on_weekday
        official = _official(self._country, self._subdivision, day.year)
        if day in official:
            return False
        if official.is_working_day(day) and day.weekday() in official.weekend:
            return True  # an official make-up working day (调休)
        return on_weekday


def working_calendar(calendar: Mapping[str, Any]) -> WorkingCalendar:
    """The parsed form of ``calendar`` (as stored on a unit), shared by every caller with the
    same content: parsed once per plan version, however many units and ticks ask.

    A mapping asked about recently (one of the last eight) is recognised by identity, without
    writing it out as JSON: a streak asks about one unit's calendar for hundreds of days in a
    row. The cache holds each such mapping, so its identity stays its own while it is there."""
    for known, parsed in _RECENT:
        if known is calendar:
            return parsed
    parsed = _parsed(json.dumps(calendar, sort_keys=True, default=str))
    _RECENT.appendleft((calendar, parsed))
    return parsed


_RECENT: deque[tuple[Mapping[str, Any], WorkingCalendar]] = deque(maxlen=8)


@lru_cache(maxsize=256)
def _parsed(calendar_json: str) -> WorkingCalendar:
    return WorkingCalendar(json.loads(calendar_json))


def parses() -> int:
    """How many calendars have been parsed so far (the cache's misses): for tests."""
    return _parsed.cache_info().misses


def is_working_day(calendar: Mapping[str, Any], day: dt.date) -> bool:
    """Whether ``day`` is a working day under a plan's Calendar (as stored on the unit)."""
    return working_calendar(calendar).is_working_day(day)


def unit_calendar(unit: Unit) -> WorkingCalendar:
    """The unit's parsed calendar."""
    return working_calendar(unit.calendar)


def working_days_between(
    calendar: Mapping[str, Any], first: dt.date, last: dt.date
) -> Iterator[dt.date]:
    parsed = working_calendar(calendar)
    day = first
    while day <= last:
        if parsed.is_working_day(day):
            yield day
        day += dt.timedelta(days=1)


def previous_working_day(
    calendar: Mapping[str, Any], day: dt.date, limit_days: int = 60
) -> dt.date | None:
    """The last working day before ``day``, looking back at most ``limit_days``."""
    parsed = working_calendar(calendar)
    for back in range(1, limit_days + 1):
        candidate = day - dt.timedelta(days=back)
        if parsed.is_working_day(candidate):
            return candidate
    return None


def first_working_day_from(unit: Unit, day: dt.date) -> dt.date:
    """``day`` or the first working day after it (within a month)."""
    calendar = unit_calendar(unit)
    for offset in range(SEARCH_DAYS):
        candidate = day + dt.timedelta(days=offset)
        if calendar.is_working_day(candidate):
            return candidate
    return day


def last_working_day_until(unit: Unit, day: dt.date) -> dt.date:
    """``day`` or the last working day before it (within a month)."""
    calendar = unit_calendar(unit)
    for offset in range(SEARCH_DAYS):
        candidate = day - dt.timedelta(days=offset)
        if calendar.is_working_day(candidate):
            return candidate
    return day


def local_date(unit: Unit, moment: dt.datetime) -> dt.date:
    """The unit's own date at ``moment``: "today" always means this."""
    return moment.astimezone(ZoneInfo(unit.timezone)).date()


def local_time(unit: Unit, day: dt.date, hhmm: str) -> dt.datetime:
    """``day`` at ``hhmm`` in the unit's zone, as UTC (daylight saving included)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(unit.timezone)).astimezone(
        dt.UTC
    )


def local_days(unit: Unit, window: Window) -> list[dt.date]:
    """The unit's local dates a scheduler window touches."""
    first, last = local_date(unit, window.since), local_date(unit, window.until)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
