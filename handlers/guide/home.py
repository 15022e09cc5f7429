"""The personal overview shown on a home screen (Slack's App Home): my points and streak, my
open rectifications, and today's drill."""

from __future__ import annotations

import datetime as dt

from handlers.framework.context import Context
from handlers.framework.router import Router
from handlers.shared.calendar import local_date
from handlers.shared.joining import way_in
from handlers.shared.streaks import current_streak
from kernel import EVERYONE, Reply, Role


def register(router: Router) -> None:
    guide = router.feature("guide")
    guide.command("home", show_home, roles=EVERYONE, listed=False, open_to_strangers=True)


async def show_home(ctx: Context) -> None:
    member, unit = ctx.member, ctx.unit
    if member is None or unit is None or member.role == Role.VOLUNTEER:
        if member is None:
            ctx.replies.append(Reply(text=await way_in(ctx.store, ctx.event.chat)))
        else:
            ctx.reply("guide/home_volunteer")
        return
    today = local_date(unit, ctx.now())
    campaign = await ctx.store.campaigns.current(member.organisation_id, today)
    total = await ctx.store.ledger.member_total(campaign.id, member.id) if campaign else 0
    answered = await ctx.store.drills.answered_dates(member.id, today - dt.timedelta(days=400))
    fixes = await ctx.store.rectifications.open_owned_by(member.id)
    drill = await ctx.store.drills.on(unit.id, today)
    drill_done = (
        drill is not None and await ctx.store.drills.answer_of(drill.id, member.id) is not None
    )
    ctx.reply(
        "guide/home_tab",
        name=member.display_name,
        unit=unit.name_zh if ctx.locale == "zh" else unit.name_en,
        total=total,
        streak=current_streak(answered, unit.calendar, today),
        fixes=len(fixes),
        overdue=sum(1 for r in fixes if r.due_at < ctx.now()),
        drill="none" if drill is None else ("done" if drill_done else "open"),
    )
