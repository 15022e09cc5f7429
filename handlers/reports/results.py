"""Results (成绩通报) when a stage ends and when the campaign ends.

On the first working day after a stage's last day, at the morning meeting (before the next
stage's announcement), each unit's chat gets its results for the stage: the official score (the
stage's latest inspection) against the stage's target, participation, the weakest items, open
rectifications and points; each unit's supervisors get, privately, the ranking of the units they
lead (or of their unit among its peers). On the first working day after the campaign's last
day, each unit's chat gets the closing summary stage by stage, and the supervisors the whole
campaign's report with its chart and spreadsheet (the report builder's own, ``build_report``).

Every name goes in both languages, so each chat and each person reads it in their own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from handlers.reports.reports import queue_report_privately, report_replies
from handlers.reports.sections import build_report
from handlers.shared.calendar import first_working_day_from, local_time
from handlers.shared.outbox import due_now, push_to_unit, queue_private
from handlers.shared.plan import campaign_units, stage_units
from handlers.shared.standing import official_text, stage_label, stage_result_lines
from handlers.shared.units import unit_label
from kernel import SUPERVISORS, Audience, Reply, Text, Window
from messages.reports.model import Report
from storage.models import Campaign, Member, Stage, Unit
from storage.reports import Scope
from storage.store import Store

WEAKEST_SHOWN = 3


def first_day_after(unit: Unit, last: dt.date) -> dt.date:
    """The unit's first working day after ``last``: when results of what ended are told."""
    return first_working_day_from(unit, last + dt.timedelta(days=1))


# --- after each stage ------------------------------------------------------------------------


async def stage_results(store: Store, window: Window) -> None:
    """After each stage: the unit's results to its chat, the ranking to its supervisors."""
    async for campaign, stage, unit, grace in stage_units(store, window, with_chat=False):
        moment = local_time(unit, first_day_after(unit, stage.ends_on), unit.morning_meeting)
        if not due_now(window, moment, grace, f"stage-results stage={stage.id} unit={unit.id}"):
            continue
        if await store.units.chats(unit.id):
            text = await unit_stage_results(store, campaign, stage, unit, window.until)
            key = f"stage-results:{stage.id}:{unit.id}"
            await push_to_unit(store, unit, key, Reply(text=text), moment, window.until)
        await _send_ranking(store, campaign, stage, unit, moment, window.until)


async def unit_stage_results(
    store: Store, campaign: Campaign, stage: Stage, unit: Unit, now: dt.datetime
) -> Text:
    """What a unit (and the units under it) did in a stage, with its official score."""
    report = await build_report(
        store, campaign, unit, stage.starts_on, stage.ends_on, campaign.locale, now
    )
    scores = await store.inspections.latest_scores([unit.id], stage.id)
    return Text(
        "results/stage_unit",
        {
            "stage": stage_label(stage),
            "unit": unit_label(unit),
            "official": official_text(scores.get(unit.id), stage.target_score),
            **_participation(report),
            "weakest": await _weakest(store, report),
            "open_fixes": report.follow_ups.rectifications_open,
            "overdue_fixes": report.follow_ups.rectifications_overdue,
        },
    )


async def _send_ranking(
    store: Store,
    campaign: Campaign,
    stage: Stage,
    unit: Unit,
    moment: dt.datetime,
    now: dt.datetime,
) -> None:
    """The unit's supervisors (and the admins, for the top unit): how the units they lead, or
    their unit and its peers, did in the stage, best official score first."""
    supervisors = await _supervisors(store, unit)
    if not supervisors:
        return
    scope, ranked = await _ranked_units(store, campaign, stage, unit)
    if not ranked:
        return
    lines = [
        Text(
            "results/rank_line",
            {
                "rank": rank,
                "unit": unit_label(line.unit),
                "official": official_text(line.score, stage.target_score),
                "per_member": line.per_member,
                "own": line.unit.id == unit.id,
            },
        )
        for rank, line in enumerate(ranked, start=1)
    ]
    text = Text(
        "results/stage_ranking",
        {"stage": stage_label(stage), "scope": unit_label(scope), "lines": lines},
    )
    for person in supervisors:
        await queue_private(
            store,
            member_id=person.id,
            reply=Reply(text=text),
            key=f"stage-ranking:{stage.id}:{unit.id}:{person.id}",
            due_at=moment,
            now=now,
        )


@dataclass(frozen=True)
class _Ranked:
    unit: Unit
    score: float | None  # the stage's latest inspection
    per_member: float | None  # points per member in the stage


async def _ranked_units(
    store: Store, campaign: Campaign, stage: Stage, unit: Unit
) -> tuple[Unit, list[_Ranked]]:
    """The units a supervisor of ``unit`` is ranked among: the lowest units (outlets, lines)
    under it, or, for a lowest unit, those under its parent. Units with neither an inspection
    nor members are left out; the best official score first, then points per member."""
    every = {u.id: u for u in await store.units.of_organisation(unit.organisation_id)}
    parents = {u.parent_id for u in every.values()}
    scope = unit
    if unit.id not in parents and unit.parent_id is not None:
        scope = every[unit.parent_id]
    ids = [i for i in await store.units.subtree_ids(scope.id) if i not in parents]
    scores = await store.inspections.latest_scores(ids, stage.id)
    figures = await store.reports.unit_figures(
        Scope.of_dates(campaign.id, ids, scope.timezone, stage.starts_on, stage.ends_on)
    )
    ranked = [
        _Ranked(every[i], scores.get(i), f.points / f.members if f.members else None)
        for i, f in figures.items()
        if i in scores or f.members
    ]
    ranked.sort(
        key=lambda r: (
            r.score is None,
            -(r.score or 0),
            r.per_member is None,
            -(r.per_member or 0),
            r.unit.id,
        )
    )
    return scope, ranked


# --- after the campaign ------------------------------------------------------------------------


async def campaign_results(store: Store, window: Window) -> None:
    """After the campaign: each unit's chat gets its closing summary stage by stage; its
    supervisors the whole campaign's report, chart and spreadsheet."""
    async for campaign, stages, unit, grace in campaign_units(store, window, with_chat=False):
        moment = local_time(unit, first_day_after(unit, campaign.ends_on), unit.morning_meeting)
        if not due_now(window, moment, grace, f"campaign-results unit={unit.id}"):
            continue
        if await store.units.chats(unit.id):
            text = await _closing(store, campaign, stages, unit, window.until)
            key = f"campaign-results:{campaign.id}:{unit.id}"
            await push_to_unit(store, unit, key, Reply(text=text), moment, window.until)
        await _send_campaign_report(store, campaign, unit, moment, window.until)


async def _closing(
    store: Store, campaign: Campaign, stages: list[Stage], unit: Unit, now: dt.datetime
) -> Text:
    report = await build_report(
        store, campaign, unit, campaign.starts_on, campaign.ends_on, campaign.locale, now
    )
    return Text(
        "results/campaign_unit",
        {
            "campaign": _campaign_name(campaign),
            "unit": unit_label(unit),
            "stages": await stage_result_lines(store, stages, unit),
            **_participation(report),
        },
    )


async def _send_campaign_report(
    store: Store, campaign: Campaign, unit: Unit, moment: dt.datetime, now: dt.datetime
) -> None:
    """The whole campaign's report of the unit and below, in each supervisor's language."""
    opening = Reply(
        text=Text(
            "results/campaign_report",
            {"campaign": _campaign_name(campaign), "unit": unit_label(unit)},
        ),
        to=Audience.PRIVATE,
    )

    async def build(locale: str) -> list[Reply]:
        first, last = campaign.starts_on, campaign.ends_on
        report = await build_report(store, campaign, unit, first, last, locale, now)
        return [opening, *await report_replies(report, locale, Audience.PRIVATE)]

    supervisors = await _supervisors(store, unit)
    key = f"campaign-report:{campaign.id}:{unit.id}"
    await queue_report_privately(store, supervisors, unit.locale, build, key, moment, now)


# --- shared pieces ---------------------------------------------------------------------------


async def _supervisors(store: Store, unit: Unit) -> list[Member]:
    """The unit's supervisors; for the top unit, the organisation's admins too."""
    people = [m for m in await store.members.of_unit(unit.id) if m.role in SUPERVISORS]
    if unit.parent_id is None:
        seen = {m.id for m in people}
        people += [m for m in await store.members.admins(unit.organisation_id) if m.id not in seen]
    return people


def _participation(report: Report) -> dict[str, object]:
    members = report.members
    return {
        "members": len(members),
        "active": len(members) - len(report.silent_members),
        "checked": sum(1 for m in members if m.selfchecks),
        "answers": report.activity.drill_answers,
        "accuracy": report.activity.drill_accuracy,
        "points": sum(m.points for m in members),
        "per_member": round(sum(m.points for m in members) / len(members), 1) if members else None,
    }


async def _weakest(store: Store, report: Report) -> list[Text]:
    lines = []
    for line in report.weakest_items[:WEAKEST_SHOWN]:
        item = await store.selfchecks.item(line.item_id)
        if item is not None:
            lines.append(
                Text(
                    "results/item_line",
                    {"zh": item.text_zh, "en": item.text_en, "failures": line.failures},
                )
            )
    return lines


def _campaign_name(campaign: Campaign) -> Text:
    return Text(
        "results/campaign_name",
        {
            "zh": campaign.title_zh,
            "en": campaign.title_en,
            "first": campaign.starts_on,
            "last": campaign.ends_on,
        },
    )
