"""Working days (工作日) and streaks: China's official calendar with its make-up weekends (调休),
the plan's own holidays and make-up days, shift rosters, and streaks that a day off does not break.

Calendars are built with the plan schema and dumped the way a unit stores them (JSON)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from campaigns.schema import Calendar, Roster
from handlers.shared.calendar import (
    is_working_day,
    previous_working_day,
    working_calendar,
    working_days_between,
)
from handlers.shared.streaks import current_streak

D = dt.date


def calendar(**fields: Any) -> dict[str, Any]:
    """A unit's calendar as stored: the plan's Calendar, validated, as JSON."""
    return Calendar(**fields).model_dump(mode="json")


CN = calendar(country="CN")


# --- the country's calendar ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2026, 10, 10), True),  # Saturday, a make-up working day for National Day
        (D(2026, 1, 4), True),  # Sunday, a make-up working day for New Year
        (D(2026, 9, 20), True),  # Sunday, made up for the National Day week
        (D(2027, 10, 1), False),  # National Day, a Friday
        (D(2027, 10, 4), False),  # National Day week, a Monday
        (D(2027, 1, 1), False),  # New Year's Day, a Friday
        (D(2026, 10, 7), False),  # Wednesday, a day off swapped with 10 October
        (D(2026, 10, 17), False),  # an ordinary Saturday
        (D(2026, 10, 18), False),  # an ordinary Sunday
        (D(2027, 1, 9), False),  # an ordinary Saturday
        (D(2027, 1, 10), False),  # an ordinary Sunday
        (D(2027, 1, 4), True),  # an ordinary Monday
        (D(2027, 1, 8), True),  # an ordinary Friday
    ],
)
def test_china_official_calendar(day: dt.date, working: bool) -> None:
    assert is_working_day(CN, day) is working


def test_the_plans_holidays_and_make_up_days_win_over_the_country() -> None:
    own = calendar(
        country="CN",
        holidays=[D(2027, 1, 6)],  # an ordinary Wednesday the plan gives off
        make_up_days=[D(2027, 10, 1), D(2027, 1, 9)],  # National Day and a Saturday worked
    )
    assert is_working_day(CN, D(2027, 1, 6)) is True
    assert is_working_day(own, D(2027, 1, 6)) is False
    assert is_working_day(CN, D(2027, 10, 1)) is False
    assert is_working_day(own, D(2027, 10, 1)) is True
    assert is_working_day(own, D(2027, 1, 9)) is True
    # The plan's lists touch only their own dates.
    assert is_working_day(own, D(2027, 1, 7)) is True
    assert is_working_day(own, D(2027, 10, 2)) is False
    assert is_working_day(own, D(2027, 1, 10)) is False


def test_a_calendar_asked_about_again_is_recognised_and_an_equal_one_shares_its_parse() -> None:
    """A streak asks about one unit's calendar for hundreds of days: the same mapping is known
    at once, an equal one (another unit of the plan) shares the parse, and another content
    gets its own answers."""
    first = calendar(country="CN", holidays=[D(2031, 3, 5)])
    assert working_calendar(first) is working_calendar(first)
    assert working_calendar(dict(first)) is working_calendar(first)
    other = calendar(country="CN", make_up_days=[D(2031, 3, 8)])  # a Saturday worked
    assert working_calendar(other) is not working_calendar(first)
    assert is_working_day(first, D(2031, 3, 5)) is False
    assert is_working_day(other, D(2031, 3, 5)) is True
    assert is_working_day(other, D(2031, 3, 8)) is True
    assert is_working_day(first, D(2031, 3, 8)) is False


def test_dates_given_as_date_objects_work_as_well_as_stored_text() -> None:
    raw = {"country": "CN", "holidays": [D(2027, 1, 6)], "make_up_days": [D(2027, 1, 9)]}
    assert is_working_day(raw, D(2027, 1, 6)) is False
    assert is_working_day(raw, D(2027, 1, 9)) is True


def test_a_roster_decides_for_shift_units_regardless_of_weekday() -> None:
    # Two days on, two days off, from a Saturday; the country's calendar plays no part.
    shifts = calendar(
        country="CN",
        roster=Roster(starts_on=D(2027, 9, 25), pattern=["work", "work", "off", "off"]),
    )
    expected = {
        D(2027, 9, 25): True,  # Saturday
        D(2027, 9, 26): True,  # Sunday
        D(2027, 9, 27): False,  # Monday
        D(2027, 9, 28): False,  # Tuesday
        D(2027, 9, 29): True,
        D(2027, 9, 30): True,
        D(2027, 10, 1): False,  # National Day: off by the roster, not by the holiday
        D(2027, 10, 2): False,
        D(2027, 10, 3): True,  # National Day week, yet a roster working day
        D(2027, 10, 4): True,
    }
    assert {day: is_working_day(shifts, day) for day in expected} == expected
    # Before the roster starts, the pattern runs backwards the same way.
    assert is_working_day(shifts, D(2027, 9, 24)) is False
    assert is_working_day(shifts, D(2027, 9, 23)) is False
    assert is_working_day(shifts, D(2027, 9, 22)) is True


def test_the_plans_own_dates_win_over_a_roster() -> None:
    shifts = calendar(
        country=None,
        roster=Roster(starts_on=D(2027, 1, 1), pattern=["work", "off"]),
        holidays=[D(2027, 1, 1)],
        make_up_days=[D(2027, 1, 2)],
    )
    assert is_working_day(shifts, D(2027, 1, 1)) is False
    assert is_working_day(shifts, D(2027, 1, 2)) is True
    assert is_working_day(shifts, D(2027, 1, 3)) is True


def test_no_country_means_weekdays_only() -> None:
    plain = calendar(country=None)
    assert [is_working_day(plain, D(2027, 9, 27) + dt.timedelta(n)) for n in range(7)] == [
        True,
        True,
        True,
        True,
        True,  # 1 October 2027: National Day means nothing without a country
        False,
        False,
    ]
    assert is_working_day(plain, D(2026, 10, 10)) is False  # no Chinese make-up Saturday either


@pytest.mark.parametrize("country", ["CN", None])
def test_a_saturday_in_working_days_counts(country: str | None) -> None:
    six_days = calendar(country=country, working_days=["mon", "tue", "wed", "thu", "fri", "sat"])
    assert is_working_day(six_days, D(2027, 1, 9)) is True  # Saturday
    assert is_working_day(six_days, D(2027, 1, 10)) is False  # Sunday
    assert is_working_day(six_days, D(2027, 1, 4)) is True
    if country == "CN":
        assert is_working_day(six_days, D(2027, 10, 2)) is False  # a National Day Saturday


def test_working_days_between_and_the_previous_working_day() -> None:
    days = list(working_days_between(CN, D(2027, 1, 1), D(2027, 1, 12)))
    assert days == [D(2027, 1, n) for n in (4, 5, 6, 7, 8, 11, 12)]
    assert previous_working_day(CN, D(2027, 1, 11)) == D(2027, 1, 8)
    assert previous_working_day(CN, D(2026, 10, 10)) == D(2026, 10, 9)
    assert previous_working_day(CN, D(2026, 10, 8)) == D(2026, 9, 30)  # over National Day week


# --- streaks -------------------------------------------------------------------------------------


def days(*numbers: int) -> set[dt.date]:
    return {D(2027, 1, n) for n in numbers}


def test_weekends_and_holidays_do_not_break_a_streak() -> None:
    # 2027-01-01 is New Year's Day; Thursday 31 December was answered before it.
    answered = {D(2026, 12, 31)} | days(4, 5, 6, 7, 8, 11)
    assert current_streak(answered, CN, D(2027, 1, 11)) == 7
    assert current_streak(answered, CN, D(2027, 1, 9)) == 6  # Saturday
    assert current_streak(answered, CN, D(2027, 1, 10)) == 6  # Sunday


def test_a_missed_working_day_breaks_a_streak() -> None:
    answered = days(4, 5, 7, 8)  # Wednesday 6 January missed
    assert current_streak(answered, CN, D(2027, 1, 8)) == 2
    assert current_streak(answered, CN, D(2027, 1, 7)) == 1
    assert current_streak(set(), CN, D(2027, 1, 8)) == 0


def test_today_not_yet_answered_keeps_yesterdays_streak() -> None:
    answered = days(4, 5, 6)
    assert current_streak(answered, CN, D(2027, 1, 7)) == 3  # Thursday's drill still open
    assert current_streak(answered | days(7), CN, D(2027, 1, 7)) == 4
    # Over a weekend: Monday not answered yet, Friday was.
    assert current_streak(days(4, 5, 6, 7, 8), CN, D(2027, 1, 11)) == 5
    # But a working day before today that was missed still breaks it.
    assert current_streak(days(4, 5, 6), CN, D(2027, 1, 8)) == 0
    assert current_streak(days(4, 5, 6), CN, D(2027, 1, 11)) == 0


def test_a_missed_friday_breaks_the_streak_over_the_weekend() -> None:
    answered = days(4, 5, 6, 7)  # Friday 8 January missed
    assert current_streak(answered, CN, D(2027, 1, 9)) == 0  # Saturday
    assert current_streak(answered, CN, D(2027, 1, 10)) == 0  # Sunday
    assert current_streak(answered, CN, D(2027, 1, 11)) == 0  # Monday, not answered yet


def test_a_make_up_saturday_counts_in_a_streak() -> None:
    # 2026-10-10 (Saturday) is a working day; 2026-10-09 (Friday) too.
    answered = {D(2026, 10, 9), D(2026, 10, 10), D(2026, 10, 12)}
    assert current_streak(answered, CN, D(2026, 10, 12)) == 3
    assert current_streak(answered - {D(2026, 10, 10)}, CN, D(2026, 10, 12)) == 1
