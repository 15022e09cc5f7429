"""Dates and times typed in English, read by fixed rules: "tomorrow morning", "next Friday 5pm",
"within a week", "by the end of the month", "in 3 working days", "every Friday 17:00".

A phrase is read as a day, a part of the day and a clock time in any order ("5pm next Friday"),
and every word must be used: one left over (other than at, on, in) means it is not a date. A bare
weekday is the coming one (today included); "this Friday" is this week's; "next Friday" is the
Friday of next week, whatever today is.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.shared.date_rules import (
    Clock,
    Day,
    Part,
    Period,
    Reading,
    add_months,
    add_working_days,
    assemble,
    coming_weekday,
    dated,
    day_of_month,
    elapsed,
    period_end,
    recurring,
    span,
    weekday_of_week,
)

_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NUMBERS = {word: str(n) for n, word in enumerate((*_WORDS, "eleven", "twelve"), start=1)}
_WEEKDAYS = {
    **dict.fromkeys(("mon", "monday"), 0),
    **dict.fromkeys(("tue", "tues", "tuesday"), 1),
    **dict.fromkeys(("wed", "weds", "wednesday"), 2),
    **dict.fromkeys(("thu", "thur", "thurs", "thursday"), 3),
    **dict.fromkeys(("fri", "friday"), 4),
    **dict.fromkeys(("sat", "saturday"), 5),
    **dict.fromkeys(("sun", "sunday"), 6),
}
_MONTHS = {
    name: n
    for n, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_PARTS: dict[str, Part] = {
    "morning": "morning",
    "afternoon": "afternoon",
    "evening": "evening",
    "night": "evening",
}


def _any(words: Mapping[str, object]) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


_WD = _any(_WEEKDAYS)
_MON = _any(_MONTHS)
_NUM = r"(?P<n>\d+|an?)"
_ORD = r"(?:st|nd|rd|th)"
_WORKDAYS = r"(?:working|business|work) ?days?|workdays?"
_DEADLINE = re.compile(r"^(?:by|before|until|till|til|(?:no|not) later than|due(?: by| on)?) ")
_FILLERS = {"at", "on", "in"}

_EVERY = re.compile(
    rf"^(?:(?:every|each) (?P<what>day|morning|afternoon|evening|night|{_WD})"
    rf"|(?P<daily>daily)|weekly on (?P<weekly>{_WD}))\b(?P<rest>.*)$"
)
_HOURS_AFTER = re.compile(
    r"^(?:in (?:(?P<n>\d+(?:\.\d+)?|an?|half an?) )?(?P<unit>hours?|hrs?|minutes?|mins?)"
    r"(?P<and_half> and a half)?"
    r"|(?P<n2>\d+(?:\.\d+)?|an?) (?P<unit2>hours?|hrs?|minutes?|mins?) from now)$"
)
_SPAN = re.compile(
    rf"^(?:(?:within|within next|in next|inside|inside of) {_NUM} "
    rf"(?P<unit>days?|weeks?|months?|fortnight|{_WORKDAYS})|(?P<n2>\d+) (?:{_WORKDAYS}))$"
)
_PERIOD = r"(?P<p>week|month|quarter|year)"
_PERIOD_ENDS = tuple(
    (re.compile(pattern), ahead)
    for pattern, ahead in (
        (rf"^(?:end of|within) (?:this )?{_PERIOD}$", 0),
        (rf"^(?:this )?{_PERIOD}[ -]?end$", 0),
        (rf"^this {_PERIOD}$", 0),
        (r"^eo(?P<abbr>[wmqy])$", 0),
        (rf"^(?:end of|within) next {_PERIOD}$", 1),
        (rf"^next {_PERIOD}[ -]?end$", 1),
    )
)
_ABBR: dict[str, Period] = {"w": "week", "m": "month", "q": "quarter", "y": "year"}

_TIMES = (
    re.compile(r"\b(?:at )?(?P<h>\d{1,2})(?:[:.](?P<mi>\d{2}))? ?(?P<ampm>am|pm)\b"),
    re.compile(r"\b(?:at )?(?P<hh>\d{1,2}):(?P<mm>\d{2})\b"),
    re.compile(r"\b(?:at )?(?P<word>noon|midday|midnight|eod|end of day|close of business)\b"),
    re.compile(r"\b(?:at (?P<bare>\d{1,2})(?: o'?clock)?|(?P<oclock>\d{1,2}) o'?clock)\b"),
)
_DAYS = (
    re.compile(
        rf"\b(?:in {_NUM} (?P<unit>days?|weeks?|fortnights?|months?|{_WORKDAYS})"
        rf"|(?P<n2>\d+|an?) (?P<unit2>days?|weeks?) from (?:now|today))\b"
    ),
    re.compile(r"\b(?P<rel>today|tonight|tomorrow|tmrw?|tmr|day after tomorrow|yesterday)\b"),
    re.compile(
        rf"\b(?:(?P<wmod>this|next|coming) )?(?P<wd>{_WD})(?: (?P<wweek>this|next) week)?\b"
    ),
    re.compile(r"\b(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})\b"),
    re.compile(rf"\b(?P<mon>{_MON}) (?P<d>\d{{1,2}}){_ORD}?(?: (?P<y>\d{{4}}))?\b"),
    re.compile(rf"\b(?P<d>\d{{1,2}}){_ORD}? (?:of )?(?P<mon>{_MON})(?: (?P<y>\d{{4}}))?\b"),
    re.compile(rf"\b(?P<dom>\d{{1,2}}){_ORD}(?: of (?P<mmod>this|next) month)?\b"),
)
_PART = re.compile(r"\b(?:(?P<this>this) |in )?(?P<part>morning|afternoon|evening|night)\b")
_RELATIVE = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1, "tmr": 1, "tmrw": 1}
_RELATIVE |= {"tmw": 1, "day after tomorrow": 2}


def normalise(text: str) -> str:
    """Lower case, single spaces, digits for number words, no "the", no closing full stop."""
    plain = unicodedata.normalize("NFKC", text).casefold().replace(",", " ")
    plain = re.sub(r"\b([ap])\.m\.?", r"\1m", plain).rstrip(".!")
    plain = re.sub(r"\bend of (?:the )?(today|tomorrow)\b", r"\1 eod", plain)
    words = [_NUMBERS.get(word, word) for word in plain.split() if word != "the"]
    return " ".join(words)


def read(
    text: str, local_now: dt.datetime, calendar: Mapping[str, Any] | None, future: bool = True
) -> Reading | None:
    """``text`` read by the English rules; None when no rule reads all of it."""
    plain = normalise(text)
    deadline = _DEADLINE.match(plain)
    if deadline:
        plain = plain[deadline.end() :]
    for reader in (_every, _hours_after, _span, _period_end):
        found = reader(plain, local_now, calendar)
        if found is not None:
            return found
    return _moment(plain, local_now, calendar, deadline is not None, future)


def _count(word: str | None) -> float:
    if word is None or word in ("a", "an"):
        return 1
    return 0.5 if word.startswith("half") else float(word)


def _every(plain: str, local_now: dt.datetime, _: Mapping[str, Any] | None) -> Reading | None:
    match = _EVERY.match(plain)
    if match is None:
        return None
    what = match["what"] or match["weekly"] or ""
    weekday = _WEEKDAYS.get(what)
    said = _time_and_part(match["rest"])
    if _leftover(said.rest) or said.end_of_day or (what in _PARTS and said.part is not None):
        return None
    return recurring(local_now, weekday, said.part or _PARTS.get(what), said.clock)


def _hours_after(plain: str, local_now: dt.datetime, _: Mapping[str, Any] | None) -> Reading | None:
    match = _HOURS_AFTER.match(plain)
    if match is None:
        return None
    amount = _count(match["n"] or match["n2"]) + (0.5 if match["and_half"] else 0)
    hours = (match["unit"] or match["unit2"]).startswith("h")
    step = dt.timedelta(hours=1) if hours else dt.timedelta(minutes=1)
    return elapsed(local_now, amount * step)


def _span(plain: str, local_now: dt.datetime, calendar: Mapping[str, Any] | None) -> Reading | None:
    match = _SPAN.match(plain)
    if match is None:
        return None
    count = int(_count(match["n"] or match["n2"]))
    last = _ahead(local_now.date(), count, match["unit"] or "working days", calendar)
    return None if last is None else span(local_now, last)


def _ahead(
    today: dt.date, count: int, unit: str, calendar: Mapping[str, Any] | None
) -> dt.date | None:
    """``count`` days, weeks, months or working days after today."""
    if count <= 0 or count > 3660:
        return None
    if unit.startswith("day"):
        return today + dt.timedelta(days=count)
    if unit.startswith("week"):
        return today + dt.timedelta(weeks=count)
    if unit.startswith("fortnight"):
        return today + dt.timedelta(weeks=2 * count)
    if unit.startswith("month"):
        return add_months(today, count)
    return add_working_days(today, count, calendar)


def _period_end(
    plain: str, local_now: dt.datetime, calendar: Mapping[str, Any] | None
) -> Reading | None:
    for pattern, ahead in _PERIOD_ENDS:
        if match := pattern.match(plain):
            period: Period = _ABBR[match["abbr"]] if "abbr" in pattern.groupindex else match["p"]
            return span(local_now, period_end(local_now.date(), period, ahead, calendar))
    return None


def _moment(
    plain: str,
    local_now: dt.datetime,
    calendar: Mapping[str, Any] | None,
    deadline: bool,
    future: bool,
) -> Reading | None:
    said = _time_and_part(plain)
    day = Day(local_now.date()) if said.today else None  # "this morning": never tomorrow's
    part, rest = said.part, said.rest
    for pattern in _DAYS:
        if match := pattern.search(rest):
            if day is not None:
                return None
            day = _day(match, local_now.date(), calendar, future)
            if day is None:
                return None
            rest = rest[: match.start()] + " " + rest[match.end() :]
            if match.groupdict().get("rel") == "tonight" and part is None:
                part = "evening"
            break
    if _leftover(rest):
        return None
    return assemble(local_now, day, part, said.clock, deadline or said.end_of_day, future)


@dataclass(frozen=True)
class _Said:
    """The clock time and part of the day found in a phrase, and the words left over."""

    clock: Clock | None
    part: Part | None
    today: bool  # "this morning", "this evening"
    end_of_day: bool  # "EOD", "end of day", "midnight": a deadline
    rest: str


def _time_and_part(text: str) -> _Said:
    clock, rest, end_of_day = None, text, False
    for pattern in _TIMES:
        if match := pattern.search(rest):
            clock = _clock(match)
            end_of_day = match.groupdict().get("word") not in (None, "noon", "midday")
            rest = rest[: match.start()] + " " + rest[match.end() :]
            break
    part: Part | None = None
    today = False
    if match := _PART.search(rest):
        part, today = _PARTS[match["part"]], match["this"] is not None
        rest = rest[: match.start()] + " " + rest[match.end() :]
    return _Said(clock, part, today, end_of_day, rest)


def _leftover(rest: str) -> bool:
    return any(word not in _FILLERS for word in rest.split())


def _clock(match: re.Match[str]) -> Clock:
    groups = match.groupdict()
    if groups.get("ampm"):
        hour = int(match["h"]) % 12 + (12 if match["ampm"] == "pm" else 0)
        return Clock(hour if 0 <= int(match["h"]) <= 12 else 99, int(match["mi"] or 0))
    if groups.get("hh"):
        return Clock(int(match["hh"]), int(match["mm"]))
    if groups.get("word"):
        return Clock(12, 0) if match["word"] in ("noon", "midday") else Clock(23, 59)
    return Clock(int(match["bare"] or match["oclock"]), 0, bare=True)


def _day(
    match: re.Match[str], today: dt.date, calendar: Mapping[str, Any] | None, future: bool
) -> Day | None:
    groups = match.groupdict()
    if groups.get("rel"):
        return Day(today + dt.timedelta(days=_RELATIVE[match["rel"]]))
    if groups.get("unit") or groups.get("unit2"):
        unit = match["unit"] or match["unit2"]
        found = _ahead(today, int(_count(match["n"] or match["n2"])), unit, calendar)
        return None if found is None else Day(found)
    if groups.get("wd"):
        return Day(_weekday(today, _WEEKDAYS[match["wd"]], match["wmod"], match["wweek"]))
    if groups.get("dom"):
        ahead = None if match["mmod"] is None else int(match["mmod"] == "next")
        return day_of_month(today, int(match["dom"]), ahead, future)
    month = _MONTHS[match["mon"]] if groups.get("mon") else int(match["m"])
    year = int(match["y"]) if match["y"] else None
    return dated(today, year, month, int(match["d"]), future)


def _weekday(today: dt.date, weekday: int, modifier: str | None, week: str | None) -> dt.date:
    if modifier == "next" or week == "next":
        return weekday_of_week(today, weekday, 1)
    if modifier == "this" or week == "this":
        return weekday_of_week(today, weekday, 0)
    return coming_weekday(today, weekday)
