"""A unit's calendar and local time: "today" in its own zone, and its working days (工作日):
its roster or weekdays, its country's official calendar with
China's make-up working weekends (调休), and the plan's own holidays and make-up days, which win."""

from __future__ import annotations

import datetime as dt
import json
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


def is_working_day(calendar: Mapping[str, Any], day: dt.date) -> bool:
    """Whether ``day`` is a working day under a plan's Calendar (as stored on the unit).

    Asked thousands of times a simulated month (each scheduler tick, for every unit and day it
    looks at), so the answer is kept per calendar (its stored form) and day."""
    return _working_day(json.dumps(calendar, sort_keys=True, default=str), day)


@lru_cache(maxsize=8192)
def _working_day(calendar_json: str, day: dt.date) -> bool:
    calendar = json.loads(calendar_json)
    iso = day.isoformat()
    if iso in {str(d) for d in calendar.get("make_up_days", ())}:
        return True
    if iso in {str(d) for d in calendar.get("holidays", ())}:
        return False
    roster = calendar.get("roster")
    if roster:
        start = dt.date.fromisoformat(str(roster["starts_on"]))
        pattern = roster["pattern"]
        return pattern[(day - start).days % len(pattern)] == "work"
    on_weekday = WEEKDAY_KEYS[day.weekday()] in calendar.get("working_days", WEEKDAY_KEYS[:5])
    country = calendar.get("country")
    if not country:
        return on_weekday
    official = _official(country, calendar.get("subdivision"), day.year)
    if day in official:
        return False
    if official.is_working_day(day) and day.weekday() in official.weekend:
        return True  # an official make-up working day (调休)
    return on_weekday


def working_days_between(
    calendar: Mapping[str, Any], first: dt.date, last: dt.date
) -> Iterator[dt.date]:
    day = first
    while day <= last:
        if is_working_day(calendar, day):
            yield day
        day += dt.timedelta(days=1)


def previous_working_day(
    calendar: Mapping[str, Any], day: dt.date, limit_days: int = 60
) -> dt.date | None:
    """The last working day before ``day``, looking back at most ``limit_days``."""
    for back in range(1, limit_days + 1):
        candidate = day - dt.timedelta(days=back)
        if is_working_day(calendar, candidate):
            return candidate
    return None


def first_working_day_from(unit: Unit, day: dt.date) -> dt.date:
    """``day`` or the first working day after it (within a month)."""
    for offset in range(SEARCH_DAYS):
        candidate = day + dt.timedelta(days=offset)
        if is_working_day(unit.calendar, candidate):
            return candidate
    return day


def last_working_day_until(unit: Unit, day: dt.date) -> dt.date:
    """``day`` or the last working day before it (within a month)."""
    for offset in range(SEARCH_DAYS):
        candidate = day - dt.timedelta(days=offset)
        if is_working_day(unit.calendar, candidate):
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
