"""/score and /leaderboard: every number a sum over the ledger, explainable line by line.

Volunteers never see anyone's scores; a member who hides their name shows as initials.
"""

from __future__ import annotations

import datetime as dt

from handlers.framework.context import Context
from handlers.framework.router import ANYWHERE, Router
from handlers.shared.calendar import local_date
from handlers.shared.standing import stage_standing, standing_text
from handlers.shared.streaks import current_streak
from kernel import STAFF_AND_ABOVE, Button, Text
from storage.models import Campaign, Member, Stage, Unit
from storage.points import Standing

SOURCES = ("drill", "streak", "check", "deed", "observation", "inspection")
LEADERBOARD_SIZE = 10
DETAIL_ROWS = 10


def register(router: Router) -> None:
    points = router.feature("points")
    points.command("score", show_score, roles=STAFF_AND_ABOVE, menus=ANYWHERE)
    points.command("leaderboard", show_leaderboard, roles=STAFF_AND_ABOVE, menus=ANYWHERE)
    points.action("leaderboard.name", set_name_shown, roles=STAFF_AND_ABOVE)


async def _campaign(ctx: Context) -> tuple[Member, Unit, Campaign, dt.date]:
    member, unit = ctx.seated()
    return member, unit, await ctx.current_campaign(), local_date(unit, ctx.now())


async def show_score(ctx: Context) -> None:
    member, unit, campaign, today = await _campaign(ctx)
    ledger = ctx.store.ledger
    if ctx.means(ctx.event.args, "points/detail"):
        entries = await ledger.recent(campaign.id, member.id, DETAIL_ROWS)
        ctx.private(
            "points/detail",
            entries=[
                Text(
                    "points/detail_line",
                    {"day": e.local_date, "points": e.points, "rule": Text(f"rules/{e.rule}")},
                )
                for e in entries
            ],
        )
        return
    stage = await ctx.store.campaigns.stage_on(campaign.id, today)
    week_start = today - dt.timedelta(days=today.weekday())
    sums = await ledger.member_sums(
        campaign.id,
        member.id,
        week=(week_start, today),
        stage=(stage.starts_on, stage.ends_on) if stage else None,
    )
    rank = await ledger.rank(campaign.id, member)
    answered = await ctx.store.drills.answered_dates(member.id, today - dt.timedelta(days=400))
    standing = None
    if stage is not None:  # the unit's official score against the target, as /report says it
        standing = standing_text(
            await stage_standing(ctx.store, stage, [unit], ctx.now(), ctx.locale)
        )
    ctx.private(
        "points/score",
        standing=standing,
        total=rank.points,
        stage_points=sums.stage,
        stage=_stage_name(stage, ctx.locale) if stage else None,
        week=sums.week,
        unit_rank=rank.unit_rank,
        unit_size=rank.unit_size,
        organisation_rank=rank.campaign_rank,
        organisation_size=rank.campaign_size,
        sources=[
            Text(
                "points/source_line", {"source": Text(f"sources/{s}"), "points": sums.by_source[s]}
            )
            for s in SOURCES
            if sums.by_source.get(s)
        ],
        streak=current_streak(answered, unit.calendar, today),
    )


async def show_leaderboard(ctx: Context) -> None:
    member, unit, campaign, _ = await _campaign(ctx)
    choice = ctx.event.args
    if ctx.means(choice, "points/hide") or ctx.means(choice, "points/show"):
        _show_name(ctx, member, shown=ctx.means(choice, "points/show"))
        return
    members = await ctx.store.ledger.top_of_unit(campaign.id, unit.id, LEADERBOARD_SIZE)
    rank = await ctx.store.ledger.rank(campaign.id, member, campaign_wide=False)
    top_units = await ctx.store.ledger.top_units(
        campaign.id, member.organisation_id, LEADERBOARD_SIZE
    )
    shown = {row.unit_id for _, row in top_units} | {unit.id}
    names = {
        u.id: (u.name_zh if ctx.locale == "zh" else u.name_en)
        for u in await ctx.store.units.named(sorted(shown))
    }
    toggle = "show" if member.hide_name else "hide"
    ctx.reply(
        "points/leaderboard",
        to=ctx.personal,
        buttons=(Button(Text(f"points/button_{toggle}"), "leaderboard.name", toggle),),
        unit=names[unit.id],
        members=[
            Text(
                "points/member_line",
                {
                    "rank": _rank_in(members, row),
                    "name": shown_name(row),
                    "points": row.points,
                    "me": row.member_id == member.id,
                },
            )
            for row in members
        ],
        my_rank=rank.unit_rank,
        units=[
            Text(
                "points/unit_line",
                {
                    "rank": place,
                    "name": names[row.unit_id],
                    "per_member": round(row.per_member, 1),
                    "mine": row.unit_id == unit.id,
                },
            )
            for place, row in top_units
        ],
    )


async def set_name_shown(ctx: Context) -> None:
    member, *_ = await _campaign(ctx)
    _show_name(ctx, member, shown=ctx.event.value == "show", replace_pressed=True)


def _show_name(ctx: Context, member: Member, *, shown: bool, replace_pressed: bool = False) -> None:
    """A member may hide their name from leaderboards; it then shows as initials."""
    ctx.store.members.set_name_hidden(member, not shown)
    ctx.reply(
        "points/name_shown" if shown else "points/name_hidden",
        to=ctx.personal,
        replace_pressed=replace_pressed,
    )


def shown_name(row: Standing) -> str:
    """A hidden name shows as initials: 王小明 → 王**, Alex Li → A. L."""
    if not row.hide_name:
        return row.display_name
    parts = row.display_name.split()
    if len(parts) > 1:
        return " ".join(f"{part[0]}." for part in parts)
    return row.display_name[:1] + "*" * max(1, len(row.display_name) - 1)


def _rank_in(top: list[Standing], row: Standing) -> int:
    """Competition ranking (equal points share a rank) within the top of a unit: everyone with
    more points is listed before ``row``."""
    return 1 + sum(1 for other in top if other.points > row.points)


def _stage_name(stage: Stage, locale: str) -> str:
    return stage.name_zh if locale == "zh" else stage.name_en
