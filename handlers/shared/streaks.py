"""Streaks: consecutive working days on which a person answered the morning drill."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from handlers.shared.calendar import working_calendar

LOOK_BACK_DAYS = 400


def current_streak(answered: set[dt.date], calendar: Mapping[str, Any], today: dt.date) -> int:
    """Working days in a row with an answer, ending today (or yesterday's working day if today's
    drill is still open): a day off does not break a streak, a missed working day does."""
    working = working_calendar(calendar)
    day = today
    streak = 0
    for _ in range(LOOK_BACK_DAYS):
        if working.is_working_day(day):
            if day in answered:
                streak += 1
            elif day != today:  # only today's own drill may still be unanswered
                break
        day -= dt.timedelta(days=1)
    return streak
