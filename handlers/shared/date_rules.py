"""What the Chinese and English date rules share: a reading, the calendar arithmetic behind "end of
the month" or "3 working days", and one way to put a day, a part of the day and a clock time
together, noting every guess made on the way (a default hour, a date rolled into next year).

All of it works on naive local wall-clock times in the unit's zone; ``date_phrases`` turns them
into aware UTC moments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from handlers.shared.calendar import is_working_day

Kind = Literal["point", "deadline", "recurring"]
# Why a reading may not be what the person meant; the echo names each and asks to confirm.
Doubt = Literal["library", "default_hour", "half_of_day", "next_day", "next_month", "next_year"]
DOUBTS: tuple[Doubt, ...] = (
    "library",
    "default_hour",
    "half_of_day",
    "next_day",
    "next_month",
    "next_year",
)
Period = Literal["week", "month", "quarter", "year"]
Part = Literal["small_hours", "morning", "noon", "afternoon", "dusk", "evening"]

# The hour a part of the day means when no clock time is given ("明早", "tomorrow morning").
PART_HOURS: dict[Part, int] = {
    "small_hours": 6,
    "morning": 9,
    "noon": 12,
    "afternoon": 14,
    "dusk": 18,
    "evening": 20,
}
END_OF_DAY = dt.time(23, 59)
LONGEST = dt.timedelta(days=3660)  # ten years: anything further is not a deadline anyone means


@dataclass(frozen=True)
class Reading:
    """What a rule read, in local wall-clock time; ``after``: real time from now ("in 2 hours")."""

    kind: Kind
    moment: dt.datetime
    has_time: bool
    every: dt.timedelta | None = None
    doubts: tuple[Doubt, ...] = ()
    after: dt.timedelta | None = None


@dataclass(frozen=True)
class Clock:
    """A clock time as typed: ``bare`` when neither a part of the day nor hh:mm said am or pm."""

    hour: int
    minute: int = 0
    bare: bool = False


@dataclass(frozen=True)
class Day:
    """A local date and the guesses that gave it."""

    date: dt.date
    doubts: tuple[Doubt, ...] = ()


def ordered(doubts: set[Doubt] | tuple[Doubt, ...]) -> tuple[Doubt, ...]:
    return tuple(d for d in DOUBTS if d in doubts)


def working(calendar: Mapping[str, Any] | None, day: dt.date) -> bool:
    """A working day under the unit's calendar; Monday to Friday when none is known."""
    return is_working_day(calendar or {}, day)


# --- calendar arithmetic ---------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, or the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _last_of_month(year, month + 1)
    return last.replace(day=min(day.day, last.day))


def _last_of_month(year: int, month: int) -> dt.date:
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def period_end(
    today: dt.date, period: Period, ahead: int, calendar: Mapping[str, Any] | None
) -> dt.date:
    """The last day of this (``ahead`` = 0) or a following week, month, quarter or year.

    A week ends on its last working day from today on ("本周内", "by the end of the week" mean the
    working week: Friday in most weeks); a month, quarter or year on its calendar last day, which
    the echo flags when it is not a working day."""
    if period == "week":
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=ahead)
        days = [monday + dt.timedelta(days=n) for n in range(7)]
        open_days = [d for d in days if d >= today and working(calendar, d)]
        return open_days[-1] if open_days else days[-1]
    if period == "month":
        first = add_months(today.replace(day=1), ahead)
        return _last_of_month(first.year, first.month)
    if period == "quarter":
        last_month = (today.month - 1) // 3 * 3 + 3
        end = add_months(dt.date(today.year, last_month, 1), 3 * ahead)
        return _last_of_month(end.year, end.month)
    return dt.date(today.year + ahead, 12, 31)


def add_working_days(today: dt.date, count: int, calendar: Mapping[str, Any] | None) -> dt.date:
    """The ``count``-th working day after today (today itself not counted)."""
    day, found = today, 0
    while found < count:
        day += dt.timedelta(days=1)
        found += working(calendar, day)
    return day


def weekday_of_week(today: dt.date, weekday: int, weeks_ahead: int) -> dt.date:
    """Weekday ``weekday`` (Monday 0) of this week (0), next week (1), last week (-1)…"""
    monday = today - dt.timedelta(days=today.weekday())
    return monday + dt.timedelta(weeks=weeks_ahead, days=weekday)


def coming_weekday(today: dt.date, weekday: int) -> dt.date:
    """The first ``weekday`` from today on: "Friday" said on a Saturday is six days later."""
    return today + dt.timedelta(days=(weekday - today.weekday()) % 7)


def dated(today: dt.date, year: int | None, month: int, day: int, future: bool) -> Day | None:
    """A typed date; without a year, this year's, or next year's once this year's has passed."""
    try:
        found = dt.date(year or today.year, month, day)
        if year is None and future and found < today:
            return Day(found.replace(year=today.year + 1), ("next_year",))
    except ValueError:
        return None
    return Day(found)


def day_of_month(today: dt.date, day: int, months_ahead: int | None, future: bool) -> Day | None:
    """ "15号": this month's, or next month's once this month's has passed."""
    try:
        if months_ahead is not None:
            return Day(add_months(today.replace(day=1), months_ahead).replace(day=day))
        found = today.replace(day=day)
        if future and found < today:
            return Day(add_months(today.replace(day=1), 1).replace(day=day), ("next_month",))
    except ValueError:
        return None
    return Day(found)


# --- putting a day, a part of the day and a clock time together ------------------------------


def hour_in_part(clock: Clock, part: Part | None) -> tuple[int, tuple[Doubt, ...]] | None:
    """The 24-hour hour for ``clock`` read in ``part``; a bare 1 to 6 means the afternoon."""
    hour = clock.hour
    if not (0 <= hour <= 24 and 0 <= clock.minute <= 59):
        return None
    if part in ("afternoon", "dusk", "evening") and hour < 12:
        return hour + 12, ()
    if part == "evening" and hour == 12:
        return 24, ()  # "晚上12点", "12 at night": midnight at the end of that day
    if part == "noon" and 1 <= hour <= 5:
        return hour + 12, ()
    if part in ("small_hours", "morning") and hour == 12:
        return (0, ()) if part == "small_hours" else (12, ())
    if part is None and clock.bare and 1 <= hour <= 6:
        return hour + 12, ("half_of_day",)  # "3点", "at 3": three in the afternoon, said so
    return hour, ()


def assemble(
    local_now: dt.datetime,
    day: Day | None,
    part: Part | None,
    clock: Clock | None,
    deadline: bool,
    future: bool = True,
) -> Reading | None:
    """One reading from what was typed; None when nothing at all was given."""
    if day is None and part is None and clock is None:
        return None
    doubts: set[Doubt] = set(day.doubts) if day else set()
    date = day.date if day else local_now.date()
    if clock is None and part is None:
        kind: Kind = "deadline" if deadline else "point"
        moment = dt.datetime.combine(date, END_OF_DAY if deadline else dt.time())
        return Reading(kind, moment, deadline, doubts=ordered(doubts))
    said = _time_of_day(clock, part, doubts)
    if said is None:
        return None
    hour, minute = said
    moment = dt.datetime.combine(date, dt.time()) + dt.timedelta(hours=hour, minutes=minute)
    if day is None and future and moment <= local_now:
        moment += dt.timedelta(days=1)
        doubts.add("next_day")
    return Reading("deadline" if deadline else "point", moment, True, doubts=ordered(doubts))


def _time_of_day(
    clock: Clock | None, part: Part | None, doubts: set[Doubt]
) -> tuple[int, int] | None:
    """The hour and minute said: a part of the day alone gives its default hour (a doubt, noted
    in ``doubts``); None when neither is said or the hour does not fit the part."""
    if clock is None:
        if part is None:
            return None
        doubts.add("default_hour")
        return PART_HOURS[part], 0
    read = hour_in_part(clock, part)
    if read is None:
        return None
    doubts.update(read[1])
    return read[0], clock.minute


def span(local_now: dt.datetime, last: dt.date) -> Reading | None:
    """A deadline at the end of ``last``: "within 3 days", "月底前"."""
    if last - local_now.date() > LONGEST:
        return None
    return Reading("deadline", dt.datetime.combine(last, END_OF_DAY), True)


def recurring(
    local_now: dt.datetime, weekday: int | None, part: Part | None, clock: Clock | None
) -> Reading | None:
    """Every day or every ``weekday`` at a time: the first occurrence after now."""
    doubts: set[Doubt] = set()
    said = _time_of_day(clock, part, doubts)
    if said is None:
        return None
    hour, minute = said
    first = dt.datetime.combine(local_now.date(), dt.time()) + dt.timedelta(
        hours=hour, minutes=minute
    )
    every = dt.timedelta(days=1 if weekday is None else 7)
    if weekday is not None:
        first += dt.timedelta(days=(weekday - local_now.weekday()) % 7)
    if first <= local_now:
        first += every
    return Reading("recurring", first, True, every, ordered(doubts))


def elapsed(local_now: dt.datetime, delta: dt.timedelta) -> Reading | None:
    """So much real time from now ("in 2 hours", "2小时后")."""
    if delta <= dt.timedelta(0) or delta > LONGEST:
        return None
    return Reading("point", local_now + delta, True, after=delta)
