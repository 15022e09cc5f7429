"""One function for the dates and times people type, in Chinese or English.

Fixed rules read what people type for deadlines and reminders (date_rules_zh, date_rules_en):
relative days and weeks, "within N days", the end of a week, month, quarter or year, weekdays with
这/下/next/this, parts of the day with a default hour, dates with or without a year, and N working
days on the unit's own calendar. They beat the general libraries on these forms (jionlp read 一周内
as tomorrow, dateparser "next Friday" as this Friday), so jionlp only reads the Chinese no rule
does (春节前, 下个月初), and such a reading is marked as a guess. Every guess (a default hour, a
date rolled into next year) and a day that is not a working day is kept on the result, so the
echo can say so and ask.
Everything is read in the unit's own time zone with an injected "now".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from handlers.shared import date_rules_en, date_rules_zh
from handlers.shared.date_rules import Doubt, Kind, Reading, working
from kernel import Text

_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_TEXT = 100
# What the echo says about each guess, in the person's language.
_NOTES: dict[Doubt, str] = {
    "library": "shared/date_library",
    "default_hour": "shared/date_default_hour",
    "half_of_day": "shared/date_half_of_day",
    "next_day": "shared/date_next_day",
    "next_month": "shared/date_next_month",
    "next_year": "shared/date_next_year",
}


@dataclass(frozen=True)
class When:
    """A moment read from text: a point, a deadline (the end of a span), or a recurrence.

    ``doubts`` name what was guessed rather than read; ``off_day`` says the day is not a working
    day on the unit's calendar (known only when the calendar was given)."""

    kind: Kind
    at: dt.datetime  # aware UTC: the moment, the deadline, or the first occurrence
    has_time: bool  # False when only a date was given
    every: dt.timedelta | None = None
    doubts: tuple[Doubt, ...] = ()
    off_day: bool = False

    @property
    def to_confirm(self) -> bool:
        """Whether the echo should ask before saving: something was guessed, or a day off."""
        return bool(self.doubts) or self.off_day


def parse_when(
    text: str,
    now: dt.datetime,
    zone: str,
    *,
    calendar: Mapping[str, Any] | None = None,
    future: bool = True,
) -> When | None:
    """Read ``text`` relative to ``now`` in ``zone``; None when it cannot be read.

    ``calendar`` (a unit's) counts working days and flags a day off; without it, Monday to Friday
    are working days and nothing is flagged. ``future`` reads a date without a year that has
    passed as next year's (a deadline); a report period keeps this year's."""
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        return None
    tz = ZoneInfo(zone)
    local_now = now.astimezone(tz).replace(tzinfo=None, microsecond=0)
    rules = date_rules_zh if _CJK.search(text) else date_rules_en
    found = rules.read(text, local_now, calendar, future) or _library(text, local_now)
    if found is None:
        return None
    if found.after is not None:
        # "in 2 hours", "2小时后": that much real time from now, even across a clock change.
        aware = now.astimezone(dt.UTC).replace(microsecond=0) + found.after
    else:
        aware = found.moment.replace(tzinfo=tz).astimezone(dt.UTC)
    day = aware.astimezone(tz).date() if found.has_time else found.moment.date()
    off_day = calendar is not None and found.kind != "recurring" and not working(calendar, day)
    return When(found.kind, aware, found.has_time, found.every, found.doubts, off_day)


def notes(when: When, zone: str) -> list[Text]:
    """What the echo adds before asking to confirm: each guess, and a day off."""
    local = when.at.astimezone(ZoneInfo(zone))
    data = {"hour": f"{local:%H:%M}", "day": local.date()}
    said = [Text(_NOTES[doubt], data) for doubt in when.doubts]
    if when.off_day:
        said.append(Text("shared/date_off_day", data))
    return said


def end_of_day(moment: dt.datetime, zone: str) -> dt.datetime:
    """23:59 local on the day of ``moment``: a date-only deadline means the end of that day."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    return dt.datetime.combine(local.date(), dt.time(23, 59), tz).astimezone(dt.UTC)


def _library(text: str, local_now: dt.datetime) -> Reading | None:
    """jionlp's reading of a Chinese form no rule knows (春节前, 下个月初, 三月中旬), marked as a
    guess; never a recurrence, which it gets wrong (每个工作日 as every day). English has no such
    fallback: dateparser read "1" and "tuesday 3" as dates and "2 weeks from today" in the past."""
    found = _chinese(text, local_now) if _CJK.search(text) else None
    if found is None or found[0] == "recurring":
        return None
    kind, moment, has_time, every = found
    return Reading(kind, moment, has_time, every, ("library",))


# --- Chinese ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _jionlp() -> Any:
    """Import jionlp once, quietly: it prints a banner on import."""
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp

    return jionlp


def warm_up() -> None:
    """Pay the import and first-call cost at start-up instead of on someone's message."""
    _library("春节前", dt.datetime.now())


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
