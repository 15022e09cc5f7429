"""Report periods typed in Chinese or English: this week, last month, this stage, or dates."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from handlers.shared.date_phrases import parse_when
from messages.vocabulary import shipped_vocabulary

# The periods a report may name; the words for each are in messages/<locale>/reports/words.yaml.
NAMED_PERIODS = ("week", "last_week", "month", "last_month", "stage", "campaign")
_RANGE = re.compile(r"\s*(?:\.\.|~|～|到|至|—|–|\bto\b|-(?=\s))\s*")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def named_period(text: str) -> str | None:
    vocabulary = shipped_vocabulary()
    return next((name for name in NAMED_PERIODS if vocabulary.means(text, f"reports/{name}")), None)


def parse_period(
    text: str,
    today: dt.date,
    now: dt.datetime,
    zone: str,
    stage: tuple[dt.date, dt.date] | None,
    campaign: tuple[dt.date, dt.date],
) -> tuple[dt.date, dt.date] | None:
    """The first and last local dates ``text`` names; None when it cannot be read.

    An empty text means the current stage, or this month outside any stage."""
    text = text.strip()
    name = named_period(text) if text else ("stage" if stage else "month")
    if name == "week":
        start = today - dt.timedelta(days=today.weekday())
        return start, start + dt.timedelta(days=6)
    if name == "last_week":
        start = today - dt.timedelta(days=today.weekday() + 7)
        return start, start + dt.timedelta(days=6)
    if name == "month":
        return _month(today.year, today.month)
    if name == "last_month":
        previous = today.replace(day=1) - dt.timedelta(days=1)
        return _month(previous.year, previous.month)
    if name == "stage":
        return stage or _month(today.year, today.month)
    if name == "campaign":
        return campaign
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        return _month(year, month) if 1 <= month <= 12 else None
    parts = [p for p in _RANGE.split(text) if p]
    if len(parts) != 2:
        return None
    first, last = (parse_when(part, now, zone) for part in parts)
    if first is None or last is None or first.kind == "recurring" or last.kind == "recurring":
        return None
    first_day = first.at.astimezone(ZoneInfo(zone)).date()
    last_day = last.at.astimezone(ZoneInfo(zone)).date()
    return (first_day, last_day) if first_day <= last_day else None


def _month(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)
