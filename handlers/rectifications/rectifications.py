"""/fix: my open rectifications (整改), closing one with a note, and supervisors reopening one.

Owners are reminded before the deadline and after it (a scheduled job), each reminder once.
"""

from __future__ import annotations

import datetime as dt

from handlers.framework.context import Context
from handlers.framework.router import IN_PRIVATE, Router
from handlers.shared.calendar import local_date
from handlers.shared.ledger import award_points
from handlers.shared.outbox import queue_private
from handlers.shared.plan import deadlines_of, points_of
from kernel import STAFF_AND_ABOVE, SUPERVISORS, Button, Refusal, Reply, Role, Text, Window, number
from storage.models import Campaign, Member, Rectification, Unit
from storage.store import Store

FLOW = "fix.close"
OVERDUE_REMINDERS = 3  # on the deadline, then one and two days after
LIST_LIMIT = 15


def register(router: Router) -> None:
    rectifications = router.feature("rectifications")
    rectifications.command("fix", list_mine, roles=STAFF_AND_ABOVE, menus=IN_PRIVATE)
    rectifications.action("fix.close", ask_close_note, roles=STAFF_AND_ABOVE)
    rectifications.flow(FLOW, close_with_note, roles=STAFF_AND_ABOVE)
    rectifications.action("fix.reopen", reopen, roles=SUPERVISORS)


async def list_mine(ctx: Context) -> None:
    member = _member(ctx)
    args = ctx.event.args.strip()
    if ctx.means(args, "rectifications/closed"):
        await _list_closed(ctx, member)
        return
    if args:
        number, _, note = args.partition(" ")
        rectification = await _owned_open(ctx, member, number_or_which(number.lstrip("#")))
        if not note.strip():
            await _start_close(ctx, member, rectification)
            return
        await _close(ctx, member, rectification, note.strip())
        return
    mine = await ctx.store.rectifications.open_owned_by(member.id)
    if not mine:
        ctx.private("rectifications/none_open", supervisor=ctx.role in SUPERVISORS)
        return
    zone = ctx.unit.timezone if ctx.unit else "UTC"
    lines = [await _line(ctx, r, zone) for r in mine[:LIST_LIMIT]]
    buttons = tuple(
        Button(Text("rectifications/button_close", {"number": r.id}), "fix.close", str(r.id))
        for r in mine[:LIST_LIMIT]
    )
    ctx.reply("rectifications/list", to=ctx.personal, buttons=buttons, lines=lines, count=len(mine))


async def ask_close_note(ctx: Context) -> None:
    member = _member(ctx)
    rectification = await _owned_open(ctx, member, number_or_which(ctx.event.value))
    await _start_close(ctx, member, rectification)


async def _start_close(ctx: Context, member: Member, rectification: Rectification) -> None:
    await ctx.store.conversations.start(
        member.id, FLOW, "note", {"rectification_id": rectification.id}, ctx.now()
    )
    ctx.reply("rectifications/ask_note", to=ctx.personal, number=rectification.id)


async def close_with_note(ctx: Context) -> None:
    member = _member(ctx)
    conversation = await ctx.store.conversations.current(member.id)
    assert conversation is not None
    note = ctx.event.text.strip()
    if not note:
        raise Refusal("rectifications/note_needed")
    rectification = await _owned_open(ctx, member, int(conversation.data["rectification_id"]))
    await ctx.store.conversations.end(member.id)
    await _close(ctx, member, rectification, note)


async def _close(ctx: Context, member: Member, rectification: Rectification, note: str) -> None:
    ctx.store.rectifications.close(rectification, note, member.id, ctx.now())
    unit = await ctx.store.units.get(rectification.unit_id)
    assert unit is not None
    campaign = await ctx.store.campaigns.current(
        member.organisation_id, local_date(unit, ctx.now())
    )
    points = 0
    if campaign is not None:
        rule_points = points_of(campaign).rectification_closed
        if await award_points(
            ctx.store,
            campaign=campaign,
            unit=unit,
            member_id=member.id,
            source="check",
            rule="rectification_closed",
            points=rule_points,
            key=f"fix:{rectification.id}:closed",
            at=ctx.now(),
            ref=("rectification", rectification.id),
        ):
            points = rule_points
    ctx.reply("rectifications/closed", to=ctx.personal, number=rectification.id, points=points)
    if rectification.created_by_member_id != member.id:
        ctx.notify(
            rectification.created_by_member_id,
            "rectifications/closed_notice",
            number=rectification.id,
            by=member.display_name,
            note=note,
        )


async def _list_closed(ctx: Context, member: Member) -> None:
    """Supervisors see closed rectifications of their units, with a button to reopen each."""
    if Role(member.role) not in SUPERVISORS or member.unit_id is None:
        raise Refusal("errors/not_allowed", command="fix closed")
    units = await ctx.store.units.subtree_ids(member.unit_id)
    closed = (await ctx.store.rectifications.in_units(units, "closed"))[-LIST_LIMIT:]
    if not closed:
        ctx.private("rectifications/none_closed")
        return
    zone = ctx.unit.timezone if ctx.unit else "UTC"
    lines = [await _line(ctx, r, zone) for r in closed]
    buttons = tuple(
        Button(
            Text("rectifications/button_reopen", {"number": r.id}),
            "fix.reopen",
            str(r.id),
            "danger",
        )
        for r in closed
    )
    ctx.reply("rectifications/closed_list", to=ctx.personal, buttons=buttons, lines=lines)


async def reopen(ctx: Context) -> None:
    member = _member(ctx)
    rectification = await ctx.records.rectification(ctx.event.value)
    if rectification.status != "closed":
        raise Refusal("rectifications/not_closed", number=rectification.id)
    ctx.store.rectifications.reopen(rectification)
    ctx.reply(
        "rectifications/reopened", to=ctx.personal, replace_pressed=True, number=rectification.id
    )
    ctx.notify(
        rectification.owner_member_id,
        "rectifications/reopened_notice",
        number=rectification.id,
        by=member.display_name,
    )


async def _line(ctx: Context, rectification: Rectification, zone: str) -> Text:
    item = await ctx.store.selfchecks.item(rectification.item_id) if rectification.item_id else None
    what = (
        (item.text_zh if ctx.locale == "zh" else item.text_en)
        if item
        else rectification.description
    )
    return Text(
        "rectifications/line",
        {
            "number": rectification.id,
            "what": what,
            "due": rectification.due_at,
            "zone": zone,
            "overdue": rectification.status == "open" and rectification.due_at < ctx.now(),
            "note": rectification.close_note,
        },
    )


async def _owned_open(ctx: Context, member: Member, rectification_id: int) -> Rectification:
    rectification = await ctx.records.rectification(rectification_id, "rectifications/not_yours")
    if rectification.owner_member_id != member.id:
        raise Refusal("rectifications/not_yours", number=rectification_id)
    if rectification.status != "open":
        raise Refusal("rectifications/already_closed", number=rectification_id)
    return rectification


def number_or_which(value: str) -> int:
    return number(value, "rectifications/which")


def _member(ctx: Context) -> Member:
    if ctx.member is None:
        raise Refusal("errors/not_a_member", command="fix")
    return ctx.member


# --- reminders (a scheduled job) --------------------------------------------------------------


async def remind_rectification_owners(store: Store, window: Window) -> None:
    """Remind owners before the deadline and on each of the first days after it, once each:
    one message per owner and reminder time, however many rectifications fall due then."""
    candidates = await store.rectifications.open_due_in(await _reminder_spans(store, window))
    units: dict[int, Unit | None] = {}
    campaigns: dict[tuple[int, dt.date], Campaign | None] = {}
    due_now: dict[tuple[int, dt.datetime, str], list[tuple[Rectification, str]]] = {}
    for rectification in candidates:
        if rectification.unit_id not in units:
            units[rectification.unit_id] = await store.units.get(rectification.unit_id)
        unit = units[rectification.unit_id]
        if unit is None:
            continue
        today = (unit.organisation_id, local_date(unit, window.until))
        if today not in campaigns:
            campaigns[today] = await store.campaigns.current(*today)
        campaign = campaigns[today]
        if campaign is None:
            continue
        deadlines = deadlines_of(campaign)
        stale_before = window.until - dt.timedelta(minutes=deadlines.push_grace_minutes)
        for kind, moment in _reminder_moments(
            rectification, deadlines.rectification_remind_hours_before
        ):
            if window.covers(moment) and not window.looks_ahead(moment) and moment >= stale_before:
                group = (rectification.owner_member_id, moment, kind)
                due_now.setdefault(group, []).append((rectification, unit.timezone))
    for (owner_id, moment, kind), found in due_now.items():
        zone = found[0][1]
        reply = Reply(
            text=Text(
                "rectifications/reminder_before"
                if kind == "before"
                else "rectifications/reminder_overdue",
                {
                    "numbers": [r.id for r, _ in found],
                    "due": found[0][0].due_at,
                    "zone": zone,
                },
            )
        )
        await queue_private(
            store,
            member_id=owner_id,
            reply=reply,
            key=f"fix-remind:{owner_id}:{moment.isoformat()}:{kind}",
            due_at=moment,
            now=window.until,
        )


async def _reminder_spans(store: Store, window: Window) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of deadlines whose reminders fall in the window: some hours later (each
    plan's "hours before"), and the window itself and the days before it (overdue reminders)."""
    every = await store.campaigns.overlapping(dt.date.min, dt.date.max)
    hours = {deadlines_of(c).rectification_remind_hours_before for c in every} - {0}
    shifts = [dt.timedelta(hours=h) for h in sorted(hours)]
    shifts += [-dt.timedelta(days=n) for n in range(OVERDUE_REMINDERS)]
    return [(window.since + shift, window.until + shift) for shift in shifts]


def _reminder_moments(
    rectification: Rectification, hours_before: int
) -> list[tuple[str, dt.datetime]]:
    """(kind, moment) of each reminder: some hours before the deadline (if the plan wants it),
    at the deadline, and on each of the first days after it."""
    moments = (
        [("before", rectification.due_at - dt.timedelta(hours=hours_before))]
        if hours_before
        else []
    )
    return moments + [
        (f"overdue{n}", rectification.due_at + dt.timedelta(days=n))
        for n in range(OVERDUE_REMINDERS)
    ]
