"""handlers.shared.date_phrases.parse_when: the dates people type, in Chinese and English, read
in the unit's own zone against an injected "now" (never the system clock), including across a
daylight-saving change.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handlers.shared.date_phrases import MAX_TEXT, When, end_of_day, parse_when

SHANGHAI = "Asia/Shanghai"
LONDON = "Europe/London"
WEEK = dt.timedelta(days=7)
DAY = dt.timedelta(days=1)


def local(zone: str, *parts: int) -> dt.datetime:
    """An aware UTC moment from a local wall-clock time in ``zone``."""
    return dt.datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)  # type: ignore[misc]


# Monday 11 May 2026, 08:30 in Shanghai.
MONDAY = local(SHANGHAI, 2026, 5, 11, 8, 30)


def sh(*parts: int) -> dt.datetime:
    return local(SHANGHAI, *parts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Chinese: points, spans (deadlines) and recurrences.
        ("明天上午9点", When("point", sh(2026, 5, 12, 9, 0), True)),
        ("下周一下午3点", When("point", sh(2026, 5, 18, 15, 0), True)),
        ("周五前", When("deadline", sh(2026, 5, 15, 23, 59), True)),
        ("3天内", When("deadline", sh(2026, 5, 14, 23, 59), True)),
        ("三天内", When("deadline", sh(2026, 5, 14, 23, 59), True)),
        ("每周五17:00", When("recurring", sh(2026, 5, 15, 17, 0), True, WEEK)),
        ("5月20日", When("point", sh(2026, 5, 20, 0, 0), False)),
        ("两小时后", When("point", sh(2026, 5, 11, 10, 30), True)),
        # English.
        ("by Friday", When("deadline", sh(2026, 5, 15, 23, 59), True)),
        ("By Friday", When("deadline", sh(2026, 5, 15, 23, 59), True)),
        ("within 3 days", When("deadline", sh(2026, 5, 14, 23, 59), True)),
        ("within 2 weeks", When("deadline", sh(2026, 5, 25, 23, 59), True)),
        ("in 2 hours", When("point", sh(2026, 5, 11, 10, 30), True)),
        ("next Monday 9am", When("point", sh(2026, 5, 18, 9, 0), True)),
        ("tomorrow 9:00", When("point", sh(2026, 5, 12, 9, 0), True)),
        ("every Friday 17:00", When("recurring", sh(2026, 5, 15, 17, 0), True, WEEK)),
        ("every day at 9am", When("recurring", sh(2026, 5, 11, 9, 0), True, DAY)),
        ("every day at 8am", When("recurring", sh(2026, 5, 12, 8, 0), True, DAY)),
        ("  tomorrow 9:00  ", When("point", sh(2026, 5, 12, 9, 0), True)),
    ],
)
def test_phrases_in_shanghai(text: str, expected: When) -> None:
    when = parse_when(text, MONDAY, SHANGHAI)
    assert when == expected
    assert when is not None and when.at.tzinfo == dt.UTC


def test_a_date_without_a_time_says_so() -> None:
    when = parse_when("5月20日", MONDAY, SHANGHAI)
    assert when is not None and not when.has_time
    # A date-only deadline means the end of that day, in the unit's zone.
    assert end_of_day(when.at, SHANGHAI) == sh(2026, 5, 20, 23, 59)


@pytest.mark.parametrize(
    "text",
    ["nonsense", "月底前", "", "   ", "明天" * (MAX_TEXT // 2 + 1), "x" * (MAX_TEXT + 1)],
)
def test_unreadable_or_over_long_text_is_none(text: str) -> None:
    assert parse_when(text, MONDAY, SHANGHAI) is None


def test_the_limit_itself_is_read() -> None:
    padded = "tomorrow 9:00".ljust(MAX_TEXT)
    assert len(padded) == MAX_TEXT
    assert parse_when(padded, MONDAY, SHANGHAI) == When("point", sh(2026, 5, 12, 9, 0), True)


def test_the_clock_is_injected_not_read() -> None:
    later = sh(2031, 2, 3, 10, 0)  # a Monday, years away from the system clock
    assert parse_when("明天上午9点", later, SHANGHAI) == When("point", sh(2031, 2, 4, 9, 0), True)
    assert parse_when("by Friday", later, SHANGHAI) == When(
        "deadline", sh(2031, 2, 7, 23, 59), True
    )


# --- Europe/London, across the change to summer time (Sun 28 Mar 2027, 01:00 UTC) -------------

SATURDAY_LONDON = local(LONDON, 2027, 3, 27, 8, 0)  # 08:00 GMT = 08:00 UTC


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Sunday 09:00 is summer time (BST, UTC+1): 08:00 UTC, one hour earlier than on Saturday.
        ("明天上午9点", When("point", utc(2027, 3, 28, 8, 0), True)),
        ("tomorrow 9:00", When("point", utc(2027, 3, 28, 8, 0), True)),
        ("3天内", When("deadline", utc(2027, 3, 30, 22, 59), True)),
        ("within 3 days", When("deadline", utc(2027, 3, 30, 22, 59), True)),
        ("by Friday", When("deadline", utc(2027, 4, 2, 22, 59), True)),
        # The next Friday after this Saturday, in summer time.
        ("每周五17:00", When("recurring", utc(2027, 4, 2, 16, 0), True, WEEK)),
        ("every Friday 17:00", When("recurring", utc(2027, 4, 2, 16, 0), True, WEEK)),
        ("every day at 9am", When("recurring", utc(2027, 3, 27, 9, 0), True, DAY)),
        ("next Monday 9am", When("point", utc(2027, 3, 29, 8, 0), True)),
    ],
)
def test_phrases_in_london_across_the_clock_change(text: str, expected: When) -> None:
    assert parse_when(text, SATURDAY_LONDON, LONDON) == expected


def test_a_weekday_already_past_this_week_is_a_past_deadline_not_a_crash() -> None:
    # On Saturday, 周五前 is yesterday (jionlp gives the span an open "-inf" start): the
    # self-check then says the date has passed instead of failing.
    when = parse_when("周五前", SATURDAY_LONDON, LONDON)
    assert when == When("deadline", utc(2027, 3, 26, 23, 59), True)
    assert when.at < SATURDAY_LONDON


@pytest.mark.parametrize("text", ["in 2 hours", "2小时后", "两小时后"])
def test_hours_from_now_are_real_hours_across_the_change(text: str) -> None:
    # 00:30 GMT; at 01:00 UTC the clocks go forward. Two hours later is 02:30 UTC (03:30 BST).
    night = utc(2027, 3, 28, 0, 30)
    assert parse_when(text, night, LONDON) == When("point", utc(2027, 3, 28, 2, 30), True)


def test_hours_from_now_when_the_clocks_go_back() -> None:
    # 00:30 UTC on Sun 31 Oct 2027 is 01:30 BST; at 01:00 UTC the clocks go back to GMT.
    night = utc(2027, 10, 31, 0, 30)
    assert parse_when("in 2 hours", night, LONDON) == When("point", utc(2027, 10, 31, 2, 30), True)


def test_same_words_different_zones() -> None:
    moment = utc(2026, 5, 11, 0, 30)  # 08:30 in Shanghai, 01:30 in London (BST)
    shanghai = parse_when("明天上午9点", moment, SHANGHAI)
    london = parse_when("明天上午9点", moment, LONDON)
    assert shanghai is not None and london is not None
    assert shanghai.at == utc(2026, 5, 12, 1, 0)
    assert london.at == utc(2026, 5, 12, 8, 0)


# --- end_of_day ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        (sh(2026, 5, 11, 8, 30), SHANGHAI, sh(2026, 5, 11, 23, 59)),
        # 20:00 UTC is already 04:00 the next day in Shanghai: that day ends.
        (utc(2026, 5, 11, 20, 0), SHANGHAI, utc(2026, 5, 12, 15, 59)),
        (sh(2026, 5, 11, 23, 59), SHANGHAI, sh(2026, 5, 11, 23, 59)),
        # London: a winter day ends at 23:59 UTC, the day the clocks change at 22:59 UTC.
        (utc(2027, 3, 27, 12, 0), LONDON, utc(2027, 3, 27, 23, 59)),
        (utc(2027, 3, 28, 0, 30), LONDON, utc(2027, 3, 28, 22, 59)),
        (utc(2027, 10, 31, 12, 0), LONDON, utc(2027, 10, 31, 23, 59)),
    ],
)
def test_end_of_day(moment: dt.datetime, zone: str, expected: dt.datetime) -> None:
    assert end_of_day(moment, zone) == expected
    assert end_of_day(moment, zone).tzinfo == dt.UTC
