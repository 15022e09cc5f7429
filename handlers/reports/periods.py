"""Report periods typed in Chinese or English: this week, last month, this stage, or dates; and a
unit named before or after the period."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from handlers.shared.date_phrases import parse_when
from messages.vocabulary import shipped_vocabulary
from storage.models import Unit

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

    An empty text means the current stage; after the campaign, the whole campaign (its last
    month would be empty); else this month."""
    text = text.strip()
    if text:
        name = named_period(text)
    else:
        name = "stage" if stage else "campaign" if today > campaign[1] else "month"
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
    # A date without a year is this year's: a report looks back, it never means next year.
    first, last = (parse_when(part, now, zone, future=False) for part in parts)
    if first is None or last is None or first.kind == "recurring" or last.kind == "recurring":
        return None
    first_day = first.at.astimezone(ZoneInfo(zone)).date()
    last_day = last.at.astimezone(ZoneInfo(zone)).date()
    return (first_day, last_day) if first_day <= last_day else None


def _month(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return first, following - dt.timedelta(days=1)


def unit_and_period(text: str, units: Sequence[Unit]) -> tuple[Unit | None, str]:
    """The unit named at the start or at the end of ``text`` (its key, either name, or a word
    that begins only one unit's name, such as 人民路 for 人民路网点) and the rest, the period:
    ``dongguan 2027-01``, ``本月 东关``, ``dongguan`` and ``this month`` all read. None when
    no unit is named."""
    words = " ".join(text.split())
    folded = words.casefold()
    names = sorted(
        ((name.casefold(), unit) for unit in units for name in _names(unit)),
        key=lambda pair: -len(pair[0]),
    )
    for name, unit in names:
        if folded.startswith(name) and _boundary(folded, len(name)):
            return unit, words[len(name) :].strip()
        start = len(folded) - len(name)
        if folded.endswith(name) and _boundary(folded, start):
            return unit, words[:start].strip()
    parts = words.split(" ")
    for index in dict.fromkeys((0, len(parts) - 1)):
        unit = _only_unit_beginning(parts[index], units)
        if unit is not None:
            return unit, " ".join(parts[:index] + parts[index + 1 :])
    return None, words


def _names(unit: Unit) -> tuple[str, ...]:
    return tuple(name for name in (unit.key, unit.name_zh, unit.name_en) if name)


def _boundary(text: str, at: int) -> bool:
    """Whether words may part between ``text[at - 1]`` and ``text[at]``: at the text's edge, at
    a space, or beside Chinese, which needs no spaces (东关网点本月)."""
    before = text[at - 1] if at > 0 else ""
    after = text[at] if at < len(text) else ""
    return any(ch in ("", " ") or not ch.isascii() for ch in (before, after))


def _only_unit_beginning(word: str, units: Sequence[Unit]) -> Unit | None:
    """The one unit whose name begins with ``word`` (not a period word), if exactly one does."""
    if not word or named_period(word) or any(ch.isdigit() for ch in word):
        return None
    wanted = word.casefold()
    found = [u for u in units if any(n.casefold().startswith(wanted) for n in _names(u))]
    return found[0] if len(found) == 1 else None
