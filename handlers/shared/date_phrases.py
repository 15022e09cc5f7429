"""One function for the dates and times people type, in Chinese or English.

dateparser misses most Chinese forms (明天上午9点, 下周一, 周五前, 3天内, 每周五17:00), so
Chinese goes to jionlp's ``parse_time`` (points, spans and recurrences) and English to
dateparser, with a few English shapes dateparser does not know ("by Friday", "within 3 days",
"every Friday 17:00") handled here. Everything is read in the unit's own time zone with an
injected "now", and the result is echoed back to the person before it is saved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import dateparser

Kind = Literal["point", "deadline", "recurring"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
_DEADLINE_EN = re.compile(r"^(?:by|before|until|no later than)\s+(.+)$", re.IGNORECASE)
_WITHIN_EN = re.compile(r"^within\s+(\d+)\s+(day|days|week|weeks)$", re.IGNORECASE)
_EVERY_EN = re.compile(
    r"^every\s+(day|weekday|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"(?:\s+at)?\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?$",
    re.IGNORECASE,
)
_WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ELAPSED = re.compile(
    r"^in\s+\d+\s+(?:hours?|minutes?|mins?)$|(?:小时|分钟)(?:后|以后|之后)$", re.IGNORECASE
)
MAX_TEXT = 100


@dataclass(frozen=True)
class When:
    """A moment read from text: a point, a deadline (the end of a span), or a recurrence."""

    kind: Kind
    at: dt.datetime  # aware UTC: the moment, the deadline, or the first occurrence
    has_time: bool  # False when only a date was given
    every: dt.timedelta | None = None


def parse_when(text: str, now: dt.datetime, zone: str) -> When | None:
    """Read ``text`` relative to ``now`` in ``zone``; None when it cannot be read."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        return None
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz).replace(tzinfo=None, microsecond=0)
    found = _chinese(text, local_now) if _CJK.search(text) else _english(text, local_now)
    if found is None:
        return None
    kind, moment, has_time, every = found
    if _ELAPSED.search(text):
        # "in 2 hours", "2小时后": that much real time from now, even across a clock change.
        aware = now.astimezone(dt.UTC) + (moment - local_now)
    else:
        aware = moment.replace(tzinfo=tz).astimezone(dt.UTC)
    return When(kind=kind, at=aware, has_time=has_time, every=every)


def end_of_day(moment: dt.datetime, zone: str) -> dt.datetime:
    """23:59 local on the day of ``moment``: a date-only deadline means the end of that day."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    return dt.datetime.combine(local.date(), dt.time(23, 59), tz).astimezone(dt.UTC)


# --- Chinese ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _jionlp() -> Any:
    """Import jionlp once, quietly: it prints a banner on import."""
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp

    return jionlp


def warm_up() -> None:
    """Pay the import and first-call cost at start-up instead of on someone's message."""
    parse_when("明天上午9点", dt.datetime.now(dt.UTC), "Asia/Shanghai")
    parse_when("tomorrow 9am", dt.datetime.now(dt.UTC), "Asia/Shanghai")


Found = tuple[Kind, dt.datetime, bool, dt.timedelta | None]


def _chinese(text: str, local_now: dt.datetime) -> Found | None:
    try:
        # strict: trailing words are not ignored, so "明天上午9点检查设备" is not all a time.
        result = _jionlp().parse_time(text, time_base=local_now, strict=True)
        return _from_jionlp(result, local_now)
    except Exception:
        # jionlp says "not a time" with assorted exceptions; an open end is one of them: it gives
        # "-inf" as the start of "周五前" once Friday is past.
        return None


def _from_jionlp(result: dict[str, Any], local_now: dt.datetime) -> Found | None:
    kind = result.get("type")
    if kind == "time_point":
        start, end = (_stamp(v) for v in result["time"])
        has_time = (end - start) < dt.timedelta(hours=23)
        return "point", start, has_time, None
    if kind == "time_span":
        end = _stamp(result["time"][1])
        return "deadline", end.replace(second=0), True, None
    if kind == "time_period":
        period = result["time"]
        delta = _delta(period.get("delta", {}))
        point = period.get("point")
        if delta is None or not point:
            return None
        start, end = (_stamp(v) for v in point["time"])
        has_time = (end - start) < dt.timedelta(hours=23)
        while start <= local_now:  # jionlp may give this week's Monday when it is Friday
            start += delta
        return "recurring", start, has_time, delta
    if kind == "time_delta":
        delta = _delta(result["time"])
        return None if delta is None else ("point", local_now + delta, True, None)
    return None


def _stamp(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")


def _delta(parts: dict[str, Any]) -> dt.timedelta | None:
    units = {"day": 1, "week": 7}
    days = sum(float(parts.get(name, 0) or 0) * factor for name, factor in units.items())
    hours = float(parts.get("hour", 0) or 0)
    minutes = float(parts.get("minute", 0) or 0)
    delta = dt.timedelta(days=days, hours=hours, minutes=minutes)
    return delta if delta > dt.timedelta(0) else None


# --- English ---------------------------------------------------------------------------------


def _english(text: str, local_now: dt.datetime) -> Found | None:
    if match := _EVERY_EN.match(text):
        return _every(match, local_now)
    if match := _WITHIN_EN.match(text):
        amount = int(match[1]) * (7 if match[2].lower().startswith("week") else 1)
        day = (local_now + dt.timedelta(days=amount)).date()
        return "deadline", dt.datetime.combine(day, dt.time(23, 59)), True, None
    deadline = _DEADLINE_EN.match(text)
    target = deadline[1] if deadline else text
    moment = _dateparser(target, local_now)
    if moment is None:
        return None
    has_time = _mentions_time(target)
    if deadline:
        if not has_time:
            moment = dt.datetime.combine(moment.date(), dt.time(23, 59))
        return "deadline", moment, True, None
    return "point", moment, has_time, None


def _dateparser(text: str, local_now: dt.datetime) -> dt.datetime | None:
    moment = dateparser.parse(
        text,
        languages=["en"],
        settings={"RELATIVE_BASE": local_now, "PREFER_DATES_FROM": "future"},
    )
    return None if moment is None else moment.replace(tzinfo=None)


_TIME_EN = re.compile(
    r"\d{1,2}(:\d{2}|\s*(am|pm))|\bnoon\b|\bmidnight\b|\bhours?\b|\bminutes?\b", re.I
)


def _mentions_time(text: str) -> bool:
    return bool(_TIME_EN.search(text))


def _every(match: re.Match[str], local_now: dt.datetime) -> Found:
    day_word = match[1].lower()
    meridiem = (match[4] or "").lower()
    hour = int(match[2]) % 12 + (12 if meridiem == "pm" else 0) if meridiem else int(match[2])
    at = dt.time(hour, int(match[3] or 0))
    first = dt.datetime.combine(local_now.date(), at)
    if day_word in _WEEKDAYS_EN:
        first += dt.timedelta(days=(_WEEKDAYS_EN.index(day_word) - local_now.weekday()) % 7)
        every = dt.timedelta(days=7)
    else:
        every = dt.timedelta(days=1)
    if first <= local_now:
        first += every
    return "recurring", first, True, every
