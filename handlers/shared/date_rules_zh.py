"""Dates and times typed in Chinese, read by fixed rules: 明早9点, 下周五下午5点前, 一周内, 月底前,
3个工作日内, 每周五17:00, 两小时后.

The text is first made plain (full-width digits, 星期/礼拜 as 周, Chinese numerals as digits, 明早
as 明天早上), then read whole: a word left over means it is not a date, so "明天上午9点检查设备"
is not all a time. Bare 周五 is this week's Friday, as 这周五 and 本周五 are.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
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
    dated,
    day_of_month,
    elapsed,
    period_end,
    recurring,
    span,
    weekday_of_week,
)

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十]+")
_SHORT_DAY = re.compile(r"^(今|明)(早上?|早晨|晨|晚上?|夜里?)")
_SHORT_PART = {"早": "早上", "早上": "早上", "早晨": "早晨", "晨": "早晨", "晚": "晚上"}
_SHORT_PART |= {"晚上": "晚上", "夜": "夜里", "夜里": "夜里"}

_BEFORE = r"(?:之前|以前|前|之内|以内|内)"
_WITHIN = r"(?:之内|以内|内)"
_ENDS = r"(?:之前|以前|前)"
_PARTS: dict[str, Part] = {
    "凌晨": "small_hours",
    "早上": "morning",
    "早晨": "morning",
    "清晨": "morning",
    "上午": "morning",
    "早": "morning",
    "中午": "noon",
    "正午": "noon",
    "午间": "noon",
    "下午": "afternoon",
    "午后": "afternoon",
    "傍晚": "dusk",
    "晚上": "evening",
    "晚间": "evening",
    "夜里": "evening",
    "夜间": "evening",
    "晚": "evening",
}
_PART = "(?P<part>" + "|".join(sorted(_PARTS, key=len, reverse=True)) + ")"
_TIME = (
    r"(?:(?P<h>\d{1,2})(?:点|时)(?:(?P<half>半)|(?P<q>[13])刻|(?P<mi>\d{1,2})分?|整|钟)?"
    r"|(?P<hh>\d{1,2}):(?P<mm>\d{2}))"
)
_DAY = (
    r"(?:(?P<rel>今天|今日|明天|明日|大后天|后天|昨天|昨日|前天)"
    r"|(?P<wmod>下下个?|下个?|这个?|本|上个?)?周(?P<wd>[1-7])"
    r"|(?P<nd>\d+)天(?:后|以后|之后)"
    r"|(?P<nw>\d+)个?周(?:后|以后|之后)"
    r"|(?P<nm>\d+)个月(?:后|以后|之后)"
    r"|(?P<nwd>\d+)个?工作日(?:后|以后|之后)"
    r"|(?:(?P<y>\d{4})年)?(?P<m>\d{1,2})月(?P<d>\d{1,2})(?:日|号)?"
    r"|(?P<y2>\d{4})[-/.](?P<m2>\d{1,2})[-/.](?P<d2>\d{1,2})(?:日|号)?"
    r"|(?P<m3>\d{1,2})[/.](?P<d3>\d{1,2})(?:日|号)?"
    r"|(?P<mmod>下个?月|本月|这个?月)?(?P<dd>\d{1,2})(?:日|号))"
)
_WHOLE = re.compile(rf"^(?:{_DAY})?的?(?:{_PART})?(?:{_TIME})?(?P<before>{_BEFORE})?$")
_EVERY = re.compile(rf"^每(?:天|日|周(?P<wd>[1-7]))(?:{_PART})?(?:{_TIME})?$")
_HOURS_AFTER = re.compile(
    r"^(?:(?P<n>\d+)个?(?P<half>半)?|(?P<only_half>半)个?)(?P<unit>小时|钟头|分钟)(?:后|以后|之后)$"
)
_SPAN = re.compile(
    rf"^(?P<n>\d+)(?:(?P<days>天{_WITHIN}?|日{_WITHIN})|(?P<weeks>个?周{_WITHIN}?)"
    rf"|(?P<months>个月{_WITHIN}?)|(?P<work>个?工作日{_WITHIN}?))$"
)
_PREFIX = re.compile(r"^(?:(?P<until>截止到|截止|截至|到)|在|于)")
_WEEK_MOD = {None: 0, "这": 0, "这个": 0, "本": 0, "下": 1, "下个": 1, "下下": 2, "下下个": 2}
_WEEK_MOD |= {"上": -1, "上个": -1}
_RELATIVE = {"前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "明天": 1, "明日": 1}
_RELATIVE |= {"后天": 2, "大后天": 3}
_THIS = r"(?:本|这个?|当)"
_NEXT = r"下个?"
# The end of a week, month, quarter or year: (pattern, period, how many ahead).
_PERIOD_ENDS: tuple[tuple[re.Pattern[str], Period, int], ...] = tuple(
    (re.compile(rf"^(?:{pattern})$"), period, ahead)
    for pattern, period, ahead in (
        (rf"{_THIS}周{_WITHIN}?|{_THIS}?周末{_ENDS}", "week", 0),
        (rf"{_NEXT}周{_WITHIN}|{_NEXT}周末{_ENDS}", "week", 1),
        (rf"{_THIS}月{_WITHIN}?|月{_WITHIN}|{_THIS}?月[底末]{_ENDS}?", "month", 0),
        (rf"{_NEXT}月{_WITHIN}|{_NEXT}月[底末]{_ENDS}?", "month", 1),
        (rf"{_THIS}季度?{_WITHIN}?|{_THIS}?季度?[底末]{_ENDS}?", "quarter", 0),
        (rf"{_NEXT}季度{_WITHIN}|{_NEXT}季度?[底末]{_ENDS}?", "quarter", 1),
        (rf"(?:今|本)年{_WITHIN}?|年{_WITHIN}|(?:今|本)?年年?[底末]{_ENDS}?", "year", 0),
        (rf"明年{_WITHIN}|明年年?[底末]{_ENDS}?", "year", 1),
    )
)


def normalise(text: str) -> str:
    """Plain text to read: no spaces, ASCII digits, 周 for 星期 and 礼拜, 明天早上 for 明早."""
    plain = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    plain = plain.replace("星期", "周").replace("礼拜", "周")
    plain = _NUMERAL.sub(lambda m: _number(m[0]), plain)
    plain = re.sub(r"周[日天]", "周7", plain)
    return _SHORT_DAY.sub(lambda m: {"今": "今天", "明": "明天"}[m[1]] + _SHORT_PART[m[2]], plain)


def _number(numeral: str) -> str:
    """一 → 1, 十五 → 15, 二十一 → 21, 二〇二七 → 2027; anything odder is left as it was."""
    if "十" not in numeral:
        return "".join(str(_DIGITS[ch]) for ch in numeral)
    tens, _, units = numeral.partition("十")
    if len(tens) > 1 or len(units) > 1 or "十" in units:
        return numeral
    return str(_DIGITS.get(tens, 1) * 10 + (_DIGITS[units] if units else 0))


def read(
    text: str, local_now: dt.datetime, calendar: Mapping[str, Any] | None, future: bool = True
) -> Reading | None:
    """``text`` read by the Chinese rules; None when no rule reads all of it."""
    plain = normalise(text)
    prefix = _PREFIX.match(plain)
    until = bool(prefix and prefix["until"])
    if prefix and len(plain) > prefix.end():
        plain = plain[prefix.end() :]
    for reader in (_every, _hours_after, _span, _period_end):
        found = reader(plain, local_now, calendar)
        if found is not None:
            return found
    return _moment(plain, local_now, calendar, until, future)


def _every(plain: str, local_now: dt.datetime, _: Mapping[str, Any] | None) -> Reading | None:
    match = _EVERY.match(plain)
    if match is None:
        return None
    weekday = int(match["wd"]) - 1 if match["wd"] else None
    return recurring(local_now, weekday, _PARTS.get(match["part"] or ""), _clock(match))


def _hours_after(plain: str, local_now: dt.datetime, _: Mapping[str, Any] | None) -> Reading | None:
    match = _HOURS_AFTER.match(plain)
    if match is None:
        return None
    amount = float(match["n"] or 0) + (0.5 if match["half"] or match["only_half"] else 0)
    unit = dt.timedelta(minutes=1) if match["unit"] == "分钟" else dt.timedelta(hours=1)
    return elapsed(local_now, amount * unit)


def _span(plain: str, local_now: dt.datetime, calendar: Mapping[str, Any] | None) -> Reading | None:
    match = _SPAN.match(plain)
    if match is None or int(match["n"]) == 0 or int(match["n"]) > 3660:
        return None
    count, today = int(match["n"]), local_now.date()
    if match["days"]:
        last = today + dt.timedelta(days=count)
    elif match["weeks"]:
        last = today + dt.timedelta(weeks=count)
    elif match["months"]:
        last = add_months(today, count)
    else:
        last = add_working_days(today, count, calendar)
    return span(local_now, last)


def _period_end(
    plain: str, local_now: dt.datetime, calendar: Mapping[str, Any] | None
) -> Reading | None:
    for pattern, period, ahead in _PERIOD_ENDS:
        if pattern.match(plain):
            return span(local_now, period_end(local_now.date(), period, ahead, calendar))
    return None


def _moment(
    plain: str,
    local_now: dt.datetime,
    calendar: Mapping[str, Any] | None,
    until: bool,
    future: bool,
) -> Reading | None:
    match = _WHOLE.match(plain)
    if match is None:
        return None
    day = _day(match, local_now.date(), calendar, future) if _has_day(match) else None
    if _has_day(match) and day is None:
        return None
    part = _PARTS.get(match["part"] or "")
    deadline = until or match["before"] is not None
    return assemble(local_now, day, part, _clock(match), deadline, future)


def _has_day(match: re.Match[str]) -> bool:
    return any(match[g] for g in ("rel", "wd", "nd", "nw", "nm", "nwd", "m", "m2", "m3", "dd"))


def _day(
    match: re.Match[str], today: dt.date, calendar: Mapping[str, Any] | None, future: bool
) -> Day | None:
    if match["rel"]:
        return Day(today + dt.timedelta(days=_RELATIVE[match["rel"]]))
    if match["wd"]:
        return Day(weekday_of_week(today, int(match["wd"]) - 1, _WEEK_MOD[match["wmod"]]))
    if match["nd"]:
        return Day(today + dt.timedelta(days=int(match["nd"])))
    if match["nw"]:
        return Day(today + dt.timedelta(weeks=int(match["nw"])))
    if match["nm"]:
        return Day(add_months(today, int(match["nm"])))
    if match["nwd"]:
        return Day(add_working_days(today, int(match["nwd"]), calendar))
    if match["m"]:
        year = int(match["y"]) if match["y"] else None
        return dated(today, year, int(match["m"]), int(match["d"]), future)
    if match["m2"]:
        return dated(today, int(match["y2"]), int(match["m2"]), int(match["d2"]), future)
    if match["m3"]:
        return dated(today, None, int(match["m3"]), int(match["d3"]), future)
    ahead = None if match["mmod"] is None else (1 if match["mmod"].startswith("下") else 0)
    return day_of_month(today, int(match["dd"]), ahead, future)


def _clock(match: re.Match[str]) -> Clock | None:
    if match["hh"]:
        return Clock(int(match["hh"]), int(match["mm"]))
    if not match["h"]:
        return None
    minute = 30 if match["half"] else 15 * int(match["q"]) if match["q"] else int(match["mi"] or 0)
    return Clock(int(match["h"]), minute, bare=True)
