"""What follows /report: a unit and a period, in either order, each optional (``unit_and_period``,
a pure function, on the postal bank's units); and the period meant when none is typed."""

from __future__ import annotations

import datetime as dt

import pytest

from handlers.reports.periods import parse_period, unit_and_period
from storage.models import Unit

UNITS = [
    Unit(key="linhe-county", name_zh="临河县支行", name_en="Linhe County Branch"),
    Unit(key="chengdong", name_zh="城东支行", name_en="Chengdong Sub-branch"),
    Unit(key="renmin-road", name_zh="人民路网点", name_en="Renmin Road Outlet"),
    Unit(key="dongguan", name_zh="东关网点", name_en="Dongguan Outlet"),
    Unit(key="dev-zone", name_zh="开发区网点", name_en="Development Zone Outlet"),
    Unit(key="west-street", name_zh="西大街网点", name_en="West Street Outlet"),
]


@pytest.mark.parametrize(
    ("typed", "unit", "period"),
    [
        ("", None, ""),
        ("this month", None, "this month"),
        ("2027-01-01 to 2027-01-31", None, "2027-01-01 to 2027-01-31"),
        ("dongguan", "dongguan", ""),
        ("Dongguan", "dongguan", ""),
        ("dongguan 2027-01", "dongguan", "2027-01"),
        ("2027-01 dongguan", "dongguan", "2027-01"),
        ("dongguan this month", "dongguan", "this month"),
        ("last week  Dongguan Outlet", "dongguan", "last week"),
        ("Dongguan Outlet last week", "dongguan", "last week"),
        ("本月 东关网点", "dongguan", "本月"),
        ("本月东关网点", "dongguan", "本月"),
        ("东关网点本月", "dongguan", "本月"),
        ("本月 东关", "dongguan", "本月"),  # the start of one unit's name
        ("东关 上周", "dongguan", "上周"),
        ("人民路 2027-01", "renmin-road", "2027-01"),
        ("dev-zone campaign", "dev-zone", "campaign"),
        ("development this stage", "dev-zone", "this stage"),
        ("campaign dev-zone", "dev-zone", "campaign"),
        ("城东支行", "chengdong", ""),
        ("临河县支行 全程", "linhe-county", "全程"),
        ("west-street 2027-01-01 to 2027-01-31", "west-street", "2027-01-01 to 2027-01-31"),
        ("2027-01-01 to 2027-01-31 west street outlet", "west-street", "2027-01-01 to 2027-01-31"),
        ("dongguanx", None, "dongguanx"),  # no word boundary: not the unit
        ("d 2027-01", None, "d 2027-01"),  # begins two units' names: neither
        ("week", None, "week"),  # a period word is never read as a unit
    ],
)
def test_a_unit_and_a_period_in_either_order(typed: str, unit: str | None, period: str) -> None:
    found, rest = unit_and_period(typed, UNITS)
    assert (found.key if found else None, rest) == (unit, period)


CAMPAIGN = (dt.date(2027, 1, 1), dt.date(2027, 12, 31))
STAGE_1 = (dt.date(2027, 1, 1), dt.date(2027, 4, 30))


@pytest.mark.parametrize(
    ("today", "stage", "expected"),
    [
        (dt.date(2027, 2, 10), STAGE_1, STAGE_1),  # in a stage: the stage
        (dt.date(2026, 12, 20), None, (dt.date(2026, 12, 1), dt.date(2026, 12, 31))),  # before
        (dt.date(2028, 1, 5), None, CAMPAIGN),  # after the campaign: all of it, not an empty month
    ],
)
def test_no_period_typed_means_what_is_worth_reading(
    today: dt.date, stage: tuple[dt.date, dt.date] | None, expected: tuple[dt.date, dt.date]
) -> None:
    now = dt.datetime.combine(today, dt.time(10), dt.UTC)
    assert parse_period("", today, now, "Asia/Shanghai", stage, CAMPAIGN) == expected
