"""China's calendar in 2027, what tests/handlers/test_workdays.py does not already cover.

Every official 2027 holiday the ``holidays`` package lists is a day off and the days around it
are not; every make-up working weekend (调休) the package knows (2025 and 2026; it publishes a
year's make-up days when the State Council announces them) is a working day; 2027's make-up days
and extra days off can be given by the plan, and they reach the units through the database: a
plan loaded on SQLite and on PostgreSQL decides the first working day of a stage and the day of a
reminder the same way.
"""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.schema import Calendar, Plan
from handlers.shared.calendar import (
    first_working_day_from,
    is_working_day,
    last_working_day_until,
    working_days_between,
)
from storage.database import Database
from storage.plans import load_plan
from storage.store import Store
from tests.harness import read_plan

D = dt.date
CN = Calendar(country="CN").model_dump(mode="json")

HOLIDAYS_2027 = {
    "New Year": [D(2027, 1, 1)],
    "Spring Festival": [D(2027, 2, n) for n in range(5, 11)],
    "Tomb-Sweeping Day": [D(2027, 4, 5)],
    "Labour Day": [D(2027, 5, n) for n in range(1, 5)],
    "Dragon Boat Festival": [D(2027, 6, 9)],
    "Mid-Autumn Festival": [D(2027, 9, 15)],
    "National Day": [D(2027, 10, n) for n in range(1, 6)],
}
MAKE_UP_WEEKENDS = {
    2025: [D(2025, 1, 26), D(2025, 2, 8), D(2025, 4, 27), D(2025, 9, 28), D(2025, 10, 11)],
    2026: [
        D(2026, 1, 4),
        D(2026, 2, 14),
        D(2026, 2, 28),
        D(2026, 5, 9),
        D(2026, 9, 20),
        D(2026, 10, 10),
    ],
}


@pytest.mark.parametrize("name", list(HOLIDAYS_2027))
def test_every_official_2027_holiday_is_a_day_off(name: str) -> None:
    days = HOLIDAYS_2027[name]
    assert [is_working_day(CN, day) for day in days] == [False] * len(days)
    # The working days around the holiday are working days (a weekday before and after).
    before, after = days[0] - dt.timedelta(days=1), days[-1] + dt.timedelta(days=1)
    while before.weekday() >= 5:
        before -= dt.timedelta(days=1)
    while after.weekday() >= 5:
        after += dt.timedelta(days=1)
    assert is_working_day(CN, before) and is_working_day(CN, after)


def test_the_working_weekdays_of_2027_add_up() -> None:
    weekdays = sum(1 for n in range(365) if (D(2027, 1, 1) + dt.timedelta(days=n)).weekday() < 5)
    off_on_weekdays = sum(1 for days in HOLIDAYS_2027.values() for d in days if d.weekday() < 5)
    working = list(working_days_between(CN, D(2027, 1, 1), D(2027, 12, 31)))
    assert weekdays == 261 and off_on_weekdays == 13
    assert sum(1 for day in working if day.weekday() < 5) == weekdays - off_on_weekdays


@pytest.mark.parametrize("year", list(MAKE_UP_WEEKENDS))
def test_every_make_up_weekend_the_package_knows_is_a_working_day(year: int) -> None:
    first, last = D(year, 1, 1), D(year, 12, 31)
    weekends_worked = [d for d in working_days_between(CN, first, last) if d.weekday() >= 5]
    assert weekends_worked == MAKE_UP_WEEKENDS[year]


def test_2027_make_up_days_and_extra_days_off_come_from_the_plan() -> None:
    # A plan that follows a (hypothetical) 2027 notice: the Golden Week made eight days long,
    # with Sunday 26 September and Saturday 9 October worked instead.
    golden_week = Calendar(
        country="CN",
        holidays=[D(2027, 10, 6), D(2027, 10, 7)],
        make_up_days=[D(2027, 9, 26), D(2027, 10, 9)],
    ).model_dump(mode="json")
    days = list(working_days_between(golden_week, D(2027, 9, 24), D(2027, 10, 11)))
    assert days == [
        D(2027, 9, 24),
        D(2027, 9, 26),  # Sunday, made up
        D(2027, 9, 27),
        D(2027, 9, 28),
        D(2027, 9, 29),
        D(2027, 9, 30),
        D(2027, 10, 8),
        D(2027, 10, 9),  # Saturday, made up
        D(2027, 10, 11),
    ]
    assert list(working_days_between(CN, D(2027, 10, 1), D(2027, 10, 11))) == [
        D(2027, 10, n) for n in (6, 7, 8, 11)
    ]


@pytest.fixture(scope="module")
def golden_week_plan() -> Plan:
    """The university plan with the plan's own 2027 Golden Week, and a shift unit of its own."""
    data = read_plan("university-facilities").model_dump()
    data["calendar"]["holidays"] = [D(2027, 10, 6), D(2027, 10, 7)]
    data["calendar"]["make_up_days"] = [D(2027, 9, 26), D(2027, 10, 9)]
    residences = next(u for u in data["units"][0]["children"] if u["key"] == "residences")
    residences["calendar"] = {
        "country": "CN",
        "roster": {"starts_on": D(2027, 10, 1), "pattern": ["work", "work", "off"]},
        "holidays": [D(2027, 10, 4)],
    }
    return Plan.model_validate(data)


async def test_the_plans_calendar_reaches_the_units_through_the_database(
    database: Database, golden_week_plan: Plan
) -> None:
    async with database.transaction() as session:
        summary = await load_plan(session, golden_week_plan, dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        store = Store(session)
        units = {u.key: u for u in await store.units.of_organisation(summary.organisation_id)}
    maintenance, residences = units["maintenance"], units["residences"]

    assert is_working_day(maintenance.calendar, D(2027, 10, 9)) is True  # the plan's Saturday
    assert is_working_day(maintenance.calendar, D(2027, 10, 6)) is False  # the plan's day off
    # A stage starting on National Day is announced on the first working day after the
    # extended holiday; a reminder due on the 6th moves back to the last working day before.
    assert first_working_day_from(maintenance, D(2027, 10, 1)) == D(2027, 10, 8)
    assert last_working_day_until(maintenance, D(2027, 10, 7)) == D(2027, 9, 30)
    assert last_working_day_until(maintenance, D(2027, 9, 26)) == D(2027, 9, 26)

    # The residences work shifts: their roster decides, the plan-wide days do not apply, but
    # the unit's own holiday does.
    shifts = [is_working_day(residences.calendar, D(2027, 10, n)) for n in range(1, 10)]
    assert shifts == [True, True, False, False, True, False, True, True, False]
    assert first_working_day_from(residences, D(2027, 10, 3)) == D(2027, 10, 5)
