"""Morning drills (晨会演练): one question a working day per unit, graded at once.

A multiple-choice drill arrives as a quiz; a scenario drill asks the person for their own answer,
then shows the model answer and lets them rate how close they came. One answer per person per
drill counts; late answers count until the drill closes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from functools import partial

from handlers.drills.choice import choose_item
from handlers.framework.context import Context
from handlers.framework.router import ANYWHERE, Router
from handlers.shared.calendar import local_date, local_days, local_time, unit_calendar
from handlers.shared.ledger import award_points
from handlers.shared.outbox import due_now, push_to_unit
from handlers.shared.plan import deadlines_of, points_of
from handlers.shared.streaks import current_streak
from kernel import STAFF_AND_ABOVE, Audience, Button, Quiz, Refusal, Reply, Text, Window, number
from storage.drills import ItemHistory
from storage.models import Campaign, Drill, DrillItem, Member, Unit
from storage.store import Store

log = logging.getLogger(__name__)

SCENARIO_FLOW = "drill.scenario"
RATINGS = (1, 2, 3, 4, 5)
GOOD_RATING = 4  # a scenario answer rated this close to the model counts as right


def register(router: Router) -> None:
    drills = router.feature("drills")
    drills.command("drill", show_today, roles=STAFF_AND_ABOVE, menus=ANYWHERE)
    drills.action("drill.answer", answer_choice, roles=STAFF_AND_ABOVE)
    drills.action("drill.scenario", start_scenario, roles=STAFF_AND_ABOVE)
    drills.flow(SCENARIO_FLOW, scenario_answer, roles=STAFF_AND_ABOVE)
    drills.action("drill.rate", rate_scenario, roles=STAFF_AND_ABOVE)


# --- the morning push ------------------------------------------------------------------------


async def push_morning_drills(store: Store, window: Window) -> None:
    """Every unit with a group chat gets its drill at its morning-meeting time on working days.

    The units due are found first (no queries); then their drills, histories and chats are read
    a day at a time for all of them at once, so the morning tick costs a few queries plus the
    drill and the outbox rows themselves, not several queries a unit."""
    first, last = (
        window.since.date() - dt.timedelta(days=1),
        window.until.date() + dt.timedelta(days=1),
    )
    for campaign in await store.campaigns.overlapping(first, last):
        grace = dt.timedelta(minutes=deadlines_of(campaign).push_grace_minutes)
        due: dict[dt.date, list[tuple[Unit, dt.datetime]]] = {}
        for unit in await store.units.with_chats(campaign.organisation_id):
            for day in local_days(unit, window):
                meeting = local_time(unit, day, unit.morning_meeting)
                if not window.covers(meeting) or not _drill_day(campaign, unit, day):
                    continue
                if due_now(window, meeting, grace, f"drill unit={unit.id} date={day}"):
                    due.setdefault(day, []).append((unit, meeting))
        if not due:
            continue
        items = await store.drills.items(campaign.id)
        for day, units in sorted(due.items()):
            ids = [unit.id for unit, _ in units]
            existing = await store.drills.on_day(ids, day)
            histories = await store.drills.histories([i for i in ids if i not in existing])
            chats = await store.units.chats_of(ids)
            for unit, meeting in units:
                drill = existing.get(unit.id) or await _new_drill(
                    store, campaign, unit, day, meeting, items, histories[unit.id]
                )
                item = await store.drills.item(drill.drill_item_id)
                assert item is not None
                await push_to_unit(
                    store,
                    unit,
                    f"drill:{unit.id}:{day.isoformat()}",
                    partial(drill_reply, drill, item),
                    meeting,
                    window.until,
                    chats[unit.id],
                )


def _drill_day(campaign: Campaign, unit: Unit, day: dt.date) -> bool:
    return campaign.starts_on <= day <= campaign.ends_on and unit_calendar(unit).is_working_day(day)


async def _todays_drill(
    store: Store, campaign: Campaign, unit: Unit, day: dt.date, opens_at: dt.datetime
) -> Drill:
    existing = await store.drills.on(unit.id, day)
    if existing is not None:
        return existing
    items = await store.drills.items(campaign.id)
    history = await store.drills.history(unit.id)
    return await _new_drill(store, campaign, unit, day, opens_at, items, history)


async def _new_drill(
    store: Store,
    campaign: Campaign,
    unit: Unit,
    day: dt.date,
    opens_at: dt.datetime,
    items: list[DrillItem],
    history: Mapping[int, ItemHistory],
) -> Drill:
    item = choose_item(items, history, day)
    # Open for the plan's hours from the morning meeting, even when /drill showed it earlier.
    meeting = local_time(unit, day, unit.morning_meeting)
    closes_at = max(opens_at, meeting) + dt.timedelta(
        hours=deadlines_of(campaign).drill_close_hours
    )
    return await store.drills.create_once(
        campaign_id=campaign.id,
        unit_id=unit.id,
        item_id=item.id,
        local_date=day,
        opens_at=opens_at,
        closes_at=closes_at,
    )


def drill_reply(drill: Drill, item: DrillItem, locale: str) -> Reply:
    """The drill as it is shown: a quiz, or a scenario with a button to answer it."""
    question = _in(item, "question", locale)
    intro = Text("drills/intro", {"day": drill.local_date, "kind": item.kind})
    if item.kind == "choice":
        assert item.answer is not None
        return Reply(
            text=intro,
            quiz=Quiz(
                question=question,
                options=tuple(option[locale] for option in item.options),
                correct_option=item.answer - 1,
                explanation=_in(item, "explanation", locale),
                action="drill.answer",
                ref=str(drill.id),
            ),
        )
    return Reply(
        text=Text("drills/scenario", {"day": drill.local_date, "question": question}),
        buttons=(Button(Text("drills/button_answer"), "drill.scenario", str(drill.id), "primary"),),
    )


def _in(item: DrillItem, field: str, locale: str) -> str:
    return str(getattr(item, f"{field}_{'zh' if locale == 'zh' else 'en'}"))


# --- /drill ----------------------------------------------------------------------------------


async def show_today(ctx: Context) -> None:
    member, unit = ctx.seated()
    today = local_date(unit, ctx.now())
    campaign = await ctx.store.campaigns.current(member.organisation_id, today)
    if campaign is None or not _drill_day(campaign, unit, today):
        ctx.private("drills/none_today", day=today)
        return
    drill = await _todays_drill(ctx.store, campaign, unit, today, ctx.now())
    item = await ctx.store.drills.item(drill.drill_item_id)
    assert item is not None
    previous = await ctx.store.drills.answer_of(drill.id, member.id)
    if previous is not None:
        ctx.private("drills/already", correct=previous.correct, rating=previous.self_rating)
        return
    reply = drill_reply(drill, item, ctx.locale)
    ctx.replies.append(
        Reply(text=reply.text, quiz=reply.quiz, buttons=reply.buttons, to=ctx.personal)
    )


# --- answering -------------------------------------------------------------------------------


async def answer_choice(ctx: Context) -> None:
    member, _ = ctx.seated()
    drill_id, option = _parse_pair(ctx.event.value)
    drill, item, campaign = await _open_drill(ctx, drill_id)
    if item.kind != "choice" or not 0 <= option < len(item.options):
        raise Refusal("errors/stale_button")
    correct = option == (item.answer or 0) - 1
    answer_id = await ctx.store.drills.record_answer(
        drill_id=drill.id,
        member_id=member.id,
        correct=correct,
        answered_at=ctx.now(),
        choice=option,
    )
    if answer_id is None:
        await _already(ctx, drill, member)
        return
    points = await _score_answer(
        ctx, campaign, drill, member, correct, "drill_correct", points_of(campaign).drill_correct
    )
    ctx.reply(
        "drills/graded",
        to=ctx.personal,
        correct=correct,
        right=item.options[(item.answer or 1) - 1][ctx.locale],
        explanation=_in(item, "explanation", ctx.locale),
        **points,
    )


async def start_scenario(ctx: Context) -> None:
    member, _ = ctx.seated()
    drill, item, _ = await _open_drill(ctx, number(ctx.event.value))
    if await ctx.store.drills.answer_of(drill.id, member.id) is not None:
        await _already(ctx, drill, member)
        return
    await ctx.store.conversations.start(
        member.id, SCENARIO_FLOW, "answer", {"drill_id": drill.id}, ctx.now()
    )
    ctx.reply(
        "drills/scenario_prompt", to=Audience.PRIVATE, question=_in(item, "question", ctx.locale)
    )


async def scenario_answer(ctx: Context) -> None:
    member, _ = ctx.seated()
    conversation = await ctx.store.conversations.current(member.id)
    assert conversation is not None
    drill_id = int(conversation.data["drill_id"])
    if conversation.step == "rate":
        ctx.reply("drills/rate_hint", buttons=_rating_buttons(drill_id))
        return
    drill, item, _ = await _open_drill(ctx, drill_id)
    text = ctx.event.text.strip()
    await ctx.store.conversations.move(
        conversation, "rate", {"drill_id": drill.id, "answer": text}, ctx.now()
    )
    ctx.reply(
        "drills/model_answer",
        model=_in(item, "explanation", ctx.locale),
        buttons=_rating_buttons(drill.id),
    )


async def rate_scenario(ctx: Context) -> None:
    member, _ = ctx.seated()
    drill_id, rating = _parse_pair(ctx.event.value)
    if rating not in RATINGS:
        raise Refusal("errors/stale_button")
    conversation = await ctx.store.conversations.current(member.id)
    if (
        conversation is None
        or conversation.flow != SCENARIO_FLOW
        or conversation.data.get("drill_id") != drill_id
    ):
        if await ctx.store.drills.answer_of(drill_id, member.id) is not None:
            await _already(ctx, await ctx.records.drill(drill_id), member)
            return
        raise Refusal("drills/answer_first")
    drill, _, campaign = await _open_drill(ctx, drill_id)
    correct = rating >= GOOD_RATING
    answer_id = await ctx.store.drills.record_answer(
        drill_id=drill.id,
        member_id=member.id,
        correct=correct,
        answered_at=ctx.now(),
        answer_text=str(conversation.data.get("answer", "")),
        self_rating=rating,
    )
    await ctx.store.conversations.end(member.id)
    if answer_id is None:
        await _already(ctx, drill, member)
        return
    points = await _score_answer(
        ctx, campaign, drill, member, correct, "scenario_rated", points_of(campaign).scenario_rated
    )
    ctx.reply("drills/rated", replace_pressed=True, rating=rating, **points)


async def _score_answer(
    ctx: Context,
    campaign: Campaign,
    drill: Drill,
    member: Member,
    correct: bool,
    bonus_rule: str,
    bonus: int,
) -> dict[str, int]:
    """Points for answering, for being right (``bonus_rule``: drill_correct for a quiz,
    scenario_rated for a scenario rated close to the model), and the streak bonus."""
    unit = await ctx.store.units.get(member.unit_id) if member.unit_id else None
    assert unit is not None
    rules = points_of(campaign)
    base = f"drill:{drill.id}:{member.id}"
    ref = ("drill", drill.id)
    earned = 0
    for rule, points, key in (
        ("drill_answered", rules.drill_answered, f"{base}:answered"),
        (bonus_rule, bonus if correct else 0, f"{base}:correct"),
    ):
        if await award_points(
            ctx.store,
            campaign=campaign,
            unit=unit,
            member_id=member.id,
            source="drill",
            rule=rule,
            points=points,
            key=key,
            at=ctx.now(),
            ref=ref,
        ):
            earned += points
    today = local_date(unit, ctx.now())
    answered = await ctx.store.drills.answered_dates(member.id, today - dt.timedelta(days=400))
    streak = current_streak(answered, unit.calendar, today)
    streak_bonus = 0
    on_step = bool(rules.streak_bonus_every and streak and streak % rules.streak_bonus_every == 0)
    if on_step and await award_points(
        ctx.store,
        campaign=campaign,
        unit=unit,
        member_id=member.id,
        source="streak",
        rule="streak_bonus",
        points=rules.streak_bonus,
        key=f"streak:{member.id}:{drill.local_date.isoformat()}",
        at=ctx.now(),
        ref=ref,
    ):
        streak_bonus = rules.streak_bonus
    return {"points": earned, "streak": streak, "streak_bonus": streak_bonus}


async def _open_drill(ctx: Context, drill_id: int) -> tuple[Drill, DrillItem, Campaign]:
    drill = await ctx.records.drill(drill_id)
    if ctx.now() > drill.closes_at:
        raise Refusal("drills/closed", closed_at=drill.closes_at, zone=_zone(ctx))
    item = await ctx.store.drills.item(drill.drill_item_id)
    campaign = await ctx.store.campaigns.get(drill.campaign_id)
    assert item is not None and campaign is not None
    return drill, item, campaign


async def _already(ctx: Context, drill: Drill, member: Member) -> None:
    previous = await ctx.store.drills.answer_of(drill.id, member.id)
    assert previous is not None
    ctx.private("drills/already", correct=previous.correct, rating=previous.self_rating)


def _rating_buttons(drill_id: int) -> tuple[Button, ...]:
    return tuple(
        Button(Text("drills/button_rating", {"rating": r}), "drill.rate", f"{drill_id}:{r}")
        for r in RATINGS
    )


def _zone(ctx: Context) -> str:
    return ctx.unit.timezone if ctx.unit else "UTC"


def _parse_pair(value: str) -> tuple[int, int]:
    first, _, second = value.partition(":")
    return number(first), number(second)
