"""Typed access to a loaded campaign's rules (the plan is stored as validated JSON)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from campaigns.schema import Deadlines, Points
from kernel import Window
from storage.models import Campaign, Unit


def points_of(campaign: Campaign) -> Points:
    return Points.model_validate(campaign.plan.get("scoring", {}).get("points", {}))


def deadlines_of(campaign: Campaign) -> Deadlines:
    return Deadlines.model_validate(campaign.plan.get("deadlines", {}))


def local_date(unit: Unit, moment: dt.datetime) -> dt.date:
    """The unit's own date at ``moment``: "today" always means this."""
    return moment.astimezone(ZoneInfo(unit.timezone)).date()


def local_time(unit: Unit, day: dt.date, hhmm: str) -> dt.datetime:
    """``day`` at ``hhmm`` in the unit's zone, as UTC (daylight saving included)."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(unit.timezone)).astimezone(
        dt.UTC
    )


def local_days(unit: Unit, window: Window) -> list[dt.date]:
    """The unit's local dates a scheduler window touches."""
    first, last = local_date(unit, window.since), local_date(unit, window.until)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
