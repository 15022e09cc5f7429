"""The stage engine (阶段): /stage, and the pushes that follow the plan's calendar.

At each stage's start every unit chat gets an announcement with its focus and target (and the
awards day when it falls in the stage); before a stage ends, a reminder with what is still open.
All at the unit's morning-meeting time in its own zone, on working days. The results after a
stage and the campaign are in ``handlers/reports/results.py``; awards in ``handlers/awards``.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from handlers.framework.context import Context
from handlers.framework.router import ANYWHERE, Router
from handlers.shared.calendar import (
    first_working_day_from,
    last_working_day_until,
    local_date,
    local_time,
)
from handlers.shared.names import some_names
from handlers.shared.outbox import due_now, push_to_unit
from handlers.shared.plan import awards_day, stage_units
from handlers.shared.standing import stage_result_lines
from kernel import EVERYONE, SUPERVISORS, Refusal, Reply, Role, Text, Window
from storage.models import Stage, Unit
from storage.store import Store


def register(router: Router) -> None:
    stages = router.feature("stages")
    stages.command("stage", show_stage, roles=EVERYONE, menus=ANYWHERE)


async def show_stage(ctx: Context) -> None:
    if ctx.member is None:
        raise Refusal("errors/not_a_member", command="stage")
    unit = ctx.unit
    today = local_date(unit, ctx.now()) if unit else ctx.now().date()
    campaign = await ctx.store.campaigns.current(ctx.member.organisation_id, today)
    if campaign is None:
        raise Refusal("errors/no_campaign")
    stages = await ctx.store.campaigns.stages(campaign.id)
    stage = next((s for s in stages if s.starts_on <= today <= s.ends_on), None)
    upcoming = next((s for s in stages if s.starts_on > today), None)
    due: list[Text] = []
    if stage is not None and unit is not None and ctx.member.role != Role.VOLUNTEER:
        due = await _due_for(ctx, stage, unit, today)
    over = stage is None and upcoming is None
    ctx.private(
        "stages/show",
        campaign=campaign.title_zh if ctx.locale == "zh" else campaign.title_en,
        stage=_stage_text(stage, ctx.locale) if stage else None,
        days_left=(stage.ends_on - today).days if stage else None,
        upcoming=_stage_text(upcoming, ctx.locale) if upcoming and not stage else None,
        due=due,
        # once every stage is over: the same lines as the closing summary
        results=await stage_result_lines(ctx.store, stages, unit) if over and unit else [],
        supervisor=ctx.member.role in SUPERVISORS,
    )


def _stage_text(stage: Stage, locale: str) -> Text:
    zh = locale == "zh"
    return Text(
        "stages/line",
        {
            "name": stage.name_zh if zh else stage.name_en,
            "first": stage.starts_on,
            "last": stage.ends_on,
            "focus": stage.focus_zh if zh else stage.focus_en,
            "target": stage.target_score,
        },
    )


async def _due_for(ctx: Context, stage: Stage, unit: Unit, today: dt.date) -> list[Text]:
    """What this stage still asks of the person: a self-check, their rectifications, approvals."""
    assert ctx.member is not None
    due: list[Text] = []
    since = local_time(unit, stage.starts_on, "00:00")
    mine = await ctx.store.selfchecks.members_who_checked([unit.id], since, ctx.now())
    if ctx.member.id not in mine:
        due.append(Text("stages/due_selfcheck"))
    open_fixes = await ctx.store.rectifications.open_owned_by(ctx.member.id)
    if open_fixes:
        overdue = sum(1 for r in open_fixes if r.due_at < ctx.now())
        due.append(Text("stages/due_fixes", {"count": len(open_fixes), "overdue": overdue}))
    drill = await ctx.store.drills.on(unit.id, today)
    if drill is not None and await ctx.store.drills.answer_of(drill.id, ctx.member.id) is None:
        due.append(Text("stages/due_drill"))
    if ctx.member.role in SUPERVISORS:
        scope = await ctx.store.units.subtree_ids(unit.id)
        pending = await ctx.store.deeds.pending_in(scope)
        if pending:
            due.append(Text("stages/due_approvals", {"count": len(pending)}))
        observations = await ctx.store.observations.not_closed_in(scope)
        if observations:
            due.append(Text("stages/due_observations", {"count": len(observations)}))
    return due


# --- scheduled pushes --------------------------------------------------------------------------


async def announce_stages(store: Store, window: Window) -> None:
    """On a stage's first working day, at the morning meeting: its focus and target, and when
    the awards are chosen if that falls in this stage."""
    async for campaign, stage, unit, grace in stage_units(store, window):
        day = first_working_day_from(unit, stage.starts_on)
        moment = local_time(unit, day, unit.morning_meeting)
        if not due_now(window, moment, grace, f"stage-start stage={stage.id} unit={unit.id}"):
            continue
        awards = awards_day(campaign, await store.campaigns.stages(campaign.id))
        awards_on = awards if awards and stage.starts_on <= awards <= stage.ends_on else None
        awards_now = awards_on is not None and first_working_day_from(unit, awards_on) <= day
        await push_to_unit(
            store,
            unit,
            f"stage-start:{stage.id}:{unit.id}",
            partial(_announcement, stage, awards_on, awards_now),
            moment,
            window.until,
        )


def _announcement(stage: Stage, awards_on: dt.date | None, awards_now: bool, locale: str) -> Reply:
    """A stage's announcement, in the language of the chat it goes to."""
    return Reply(
        text=Text(
            "stages/announcement",
            {
                "stage": _stage_text(stage, locale),
                "summary": stage.is_summary,
                "awards_on": awards_on,
                "awards_now": awards_now,
            },
        )
    )


async def remind_stage_end(store: Store, window: Window) -> None:
    """Some days before a stage ends (the plan says how many): what is still open in the unit."""
    async for _, stage, unit, grace in stage_units(store, window):
        if not stage.remind_days_before_end:
            continue
        day = last_working_day_until(
            unit, stage.ends_on - dt.timedelta(days=stage.remind_days_before_end)
        )
        moment = local_time(unit, day, unit.morning_meeting)
        if day < stage.starts_on or not due_now(
            window, moment, grace, f"stage-end stage={stage.id}"
        ):
            continue
        since = local_time(unit, stage.starts_on, "00:00")
        checked = await store.selfchecks.members_who_checked([unit.id], since, window.until)
        people = [m for m in await store.members.of_unit(unit.id) if m.role != Role.VOLUNTEER]
        not_checked = [m.display_name for m in people if m.id not in checked]
        open_fixes = await store.rectifications.in_units([unit.id], "open")
        overdue = sum(1 for r in open_fixes if r.due_at < window.until)
        figures = {
            "days": (stage.ends_on - day).days,
            "not_checked": some_names(not_checked) if not_checked else None,
            "open_fixes": len(open_fixes),
            "overdue": overdue,
        }
        await push_to_unit(
            store,
            unit,
            f"stage-end:{stage.id}:{unit.id}",
            partial(_ending, stage, figures),
            moment,
            window.until,
        )


def _ending(stage: Stage, figures: dict[str, Any], locale: str) -> Reply:
    """What is still open as a stage ends, in the language of the chat it goes to."""
    return Reply(text=Text("stages/ending", {"stage": _stage_text(stage, locale), **figures}))
