"""Regular summaries: the weekly leaderboard to each unit chat and the monthly report to the
unit's supervisors, at local times in each unit's zone, on working days only."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

from handlers.reports.reports import queue_report_privately, report_replies
from handlers.reports.sections import build_report
from handlers.shared.calendar import local_days, local_time, unit_calendar
from handlers.shared.outbox import due_now, push_to_unit
from handlers.shared.plan import deadlines_of, group_leaders_of
from handlers.shared.standing import standing_text
from handlers.shared.units import unit_name
from kernel import SUPERVISORS, Audience, Reply, Text, Window
from messages.reports.model import MemberLine
from storage.models import Campaign, Unit
from storage.store import Store


async def weekly_summaries(store: Store, window: Window) -> None:
    """On the last working day of each week: the unit's week in points, to its chat."""
    async for campaign, unit, day, grace in _unit_days(store, window, with_chat=True):
        if day > campaign.ends_on or not _last_working_day_of_week(unit, day):
            continue
        moment = local_time(unit, day, deadlines_of(campaign).weekly_summary_time)
        if not due_now(window, moment, grace, f"weekly unit={unit.id}"):
            continue
        monday = day - dt.timedelta(days=day.weekday())
        report = await build_report(store, campaign, unit, monday, day, unit.locale, window.until)
        siblings = await _sibling_rank(store, campaign, unit, monday, day)
        figures = {
            "first": monday,
            "last": day,
            "top": _top_in_a_group(report.members, group_leaders_of(campaign)),
            "named": group_leaders_of(campaign) > 0,
            "accuracy": report.activity.drill_accuracy,
            "answers": report.activity.drill_answers,
            "selfchecks": report.activity.selfcheck_runs,
            "standing": standing_text(report.standing) if report.standing else None,
            "rank": siblings[0],
            "of": siblings[1],
        }
        year, week, _ = day.isocalendar()
        await push_to_unit(
            store,
            unit,
            f"weekly:{unit.id}:{year}-W{week:02d}",
            partial(_weekly, unit, figures),
            moment,
            window.until,
        )


def _weekly(unit: Unit, figures: dict[str, Any], locale: str) -> Reply:
    """The week's summary in the language of the chat it goes to."""
    return Reply(text=Text("reports/weekly", {"unit": unit_name(unit, locale), **figures}))


async def monthly_reports(store: Store, window: Window) -> None:
    """On the first working day of each month: last month's report to the unit's supervisors."""
    async for campaign, unit, day, grace in _unit_days(store, window, with_chat=False):
        if not _first_working_day_of_month(unit, day):
            continue
        moment = local_time(unit, day, deadlines_of(campaign).monthly_report_time)
        if not due_now(window, moment, grace, f"monthly unit={unit.id}"):
            continue
        supervisors = [m for m in await store.members.of_unit(unit.id) if m.role in SUPERVISORS]
        if not supervisors:
            continue
        last = day.replace(day=1) - dt.timedelta(days=1)
        first = max(last.replace(day=1), campaign.starts_on)
        if last < campaign.starts_on:
            continue
        build = partial(_private_report, store, campaign, unit, first, last, window.until)
        key = f"monthly:{unit.id}:{last:%Y-%m}"
        await queue_report_privately(
            store, supervisors, unit.locale, build, key, moment, window.until
        )


async def _private_report(
    store: Store,
    campaign: Campaign,
    unit: Unit,
    first: dt.date,
    last: dt.date,
    now: dt.datetime,
    locale: str,
) -> list[Reply]:
    report = await build_report(store, campaign, unit, first, last, locale, now)
    return await report_replies(report, locale, Audience.PRIVATE)


def _top_in_a_group(members: Sequence[MemberLine], leaders: int) -> list[Text]:
    """The week's leaders as a group chat may see them: a few names with points, each at their
    place in the ranking; whoever hides their name is left out, and the rest is never listed."""
    shown = [
        (rank, m) for rank, m in enumerate(members, start=1) if m.points > 0 and not m.name_hidden
    ]
    return [
        Text("reports/weekly_line", {"rank": rank, "name": m.name, "points": m.points})
        for rank, m in shown[:leaders]
    ]


def _last_working_day_of_week(unit: Unit, day: dt.date) -> bool:
    calendar = unit_calendar(unit)
    if not calendar.is_working_day(day):
        return False
    rest = [day + dt.timedelta(days=n) for n in range(1, 7 - day.weekday())]
    return not any(calendar.is_working_day(later) for later in rest)


def _first_working_day_of_month(unit: Unit, day: dt.date) -> bool:
    calendar = unit_calendar(unit)
    if not calendar.is_working_day(day):
        return False
    earlier = [day.replace(day=n) for n in range(1, day.day)]
    return not any(calendar.is_working_day(before) for before in earlier)


async def _sibling_rank(
    store: Store, campaign: Campaign, unit: Unit, first: dt.date, last: dt.date
) -> tuple[int | None, int]:
    """The unit's place among the units under the same parent, by points per member this week:
    read from the units' day totals, a row per unit and day."""
    if unit.parent_id is None:
        return None, 0
    # the parent itself is left out, as a report of it leaves it out: its figures are theirs
    under_parent = [u for u in await store.units.subtree_ids(unit.parent_id) if u != unit.parent_id]
    standings = await store.ledger.unit_standings(
        campaign.id, campaign.organisation_id, unit_ids=under_parent, first=first, last=last
    )
    places = [row.unit_id for row in standings]
    return (places.index(unit.id) + 1 if unit.id in places else None), len(places)


async def _unit_days(
    store: Store, window: Window, *, with_chat: bool
) -> AsyncIterator[tuple[Campaign, Unit, dt.date, dt.timedelta]]:
    """(campaign, unit, local day, grace) for every unit and every local day the window touches,
    from the campaign's start to a month after its end (for the last monthly report)."""
    first, last = (
        window.since.date() - dt.timedelta(days=1),
        window.until.date() + dt.timedelta(days=1),
    )
    for campaign in await store.campaigns.overlapping(first, last):
        grace = dt.timedelta(minutes=deadlines_of(campaign).push_grace_minutes)
        units = (
            await store.units.with_chats(campaign.organisation_id)
            if with_chat
            else await store.units.of_organisation(campaign.organisation_id)
        )
        for unit in units:
            for day in local_days(unit, window):
                if campaign.starts_on <= day <= campaign.ends_on + dt.timedelta(days=31):
                    yield campaign, unit, day, grace
