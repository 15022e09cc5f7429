"""/remind and /reminders: supervisors set reminders in plain Chinese or English.

``/remind <who> <when> <text>``: who is me (我), a unit, or everyone below me (所有人 / all); when
is natural language (明天上午9点, 下周一下午3点, 每周五17:00, in 2 hours, next Monday 9am). The bot
echoes the time it understood, in the unit's zone, and saves only when confirmed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from handlers.framework.context import Context
from handlers.framework.router import Menu, Router
from handlers.shared.date_phrases import When, notes, parse_when
from handlers.shared.outbox import push_to_unit, queue_private
from handlers.shared.plan import deadlines_of
from kernel import MAX_BUTTONS, SUPERVISORS, Button, Refusal, Reply, Role, Text, Window, number
from storage.models import Member, Reminder, Unit
from storage.store import Store

log = logging.getLogger(__name__)

FLOW = "remind.confirm"
MAX_TEXT = 500
GRACE = dt.timedelta(hours=2)  # without a campaign: a reminder missed longer is skipped


def register(router: Router) -> None:
    reminders = router.feature("reminders")
    reminders.command("remind", ask_reminder, roles=SUPERVISORS, menus={Menu.PRIVATE})
    reminders.action("remind.save", save, roles=SUPERVISORS)
    reminders.action("remind.drop", drop_draft, roles=SUPERVISORS)
    reminders.command("reminders", list_reminders, roles=SUPERVISORS, menus={Menu.PRIVATE})
    reminders.action("remind.cancel", cancel, roles=SUPERVISORS)


async def ask_reminder(ctx: Context) -> None:
    member, home = ctx.seated()
    args = ctx.event.args.strip()
    if not args:
        raise Refusal("reminders/usage")
    kind, target, rest = await _who(ctx, member, home, args)
    place = target or home
    zone = place.timezone
    split = split_when(rest, ctx.now(), zone, place.calendar)
    if split is None:
        raise Refusal("reminders/bad_when", given=rest)
    when, text = split
    if len(text) > MAX_TEXT:
        raise Refusal("errors/too_long", limit=MAX_TEXT)
    if when.at <= ctx.now():
        raise Refusal("reminders/past", at=when.at, zone=zone)
    draft = {
        "kind": kind,
        "unit_id": target.id if target else None,
        "at": when.at.isoformat(),
        "every": int(when.every.total_seconds()) if when.every else None,
        "text": text,
        "zone": zone,
    }
    await ctx.store.conversations.start(member.id, FLOW, "confirm", draft, ctx.now())
    ctx.reply(
        "reminders/confirm",
        to=ctx.personal,
        buttons=(
            Button(Text("reminders/button_save"), "remind.save", "", "primary"),
            Button(Text("reminders/button_drop"), "remind.drop", ""),
        ),
        notes=notes(when, zone),
        **_describe(kind, target, ctx.locale, when.at, when.every, zone, text),
    )


async def save(ctx: Context) -> None:
    member, _ = ctx.seated()
    conversation = await ctx.store.conversations.current(member.id)
    if conversation is None or conversation.flow != FLOW:
        raise Refusal("errors/stale_button")
    draft = conversation.data
    reminder = await ctx.store.reminders.add(
        organisation_id=member.organisation_id,
        created_by_member_id=member.id,
        target_kind=str(draft["kind"]),
        target_member_id=member.id if draft["kind"] == "me" else None,
        target_unit_id=draft["unit_id"],
        text=str(draft["text"]),
        next_at=dt.datetime.fromisoformat(str(draft["at"])),
        every_seconds=draft["every"],
        timezone=str(draft["zone"]),
        now=ctx.now(),
    )
    await ctx.store.conversations.end(member.id)
    ctx.reply("reminders/saved", to=ctx.personal, replace_pressed=True, number=reminder.id)


async def drop_draft(ctx: Context) -> None:
    member, _ = ctx.seated()
    await ctx.store.conversations.end(member.id)
    ctx.reply("reminders/dropped", to=ctx.personal, replace_pressed=True)


async def list_reminders(ctx: Context) -> None:
    member, _ = ctx.seated()
    reminders = await ctx.store.reminders.of_creator(member.id)
    if not reminders:
        ctx.private("reminders/none")
        return
    shown = sorted(reminders, key=lambda r: r.next_at)[:MAX_BUTTONS]
    lines = []
    for reminder in shown:
        target = (
            await ctx.store.units.get(reminder.target_unit_id) if reminder.target_unit_id else None
        )
        every = dt.timedelta(seconds=reminder.every_seconds) if reminder.every_seconds else None
        lines.append(
            Text(
                "reminders/line",
                {
                    "number": reminder.id,
                    **_describe(
                        reminder.target_kind,
                        target,
                        ctx.locale,
                        reminder.next_at,
                        every,
                        reminder.timezone,
                        reminder.text,
                    ),
                },
            )
        )
    buttons = tuple(
        Button(Text("reminders/button_cancel", {"number": r.id}), "remind.cancel", str(r.id))
        for r in shown
    )
    more = len(reminders) - len(shown)
    ctx.reply("reminders/list", to=ctx.personal, buttons=buttons, lines=lines, more=more)


async def cancel(ctx: Context) -> None:
    member, _ = ctx.seated()
    reminder = await ctx.store.reminders.get(number(ctx.event.value))
    if reminder is None or reminder.created_by_member_id != member.id or not reminder.active:
        raise Refusal("errors/stale_button")
    ctx.store.reminders.cancel(reminder)
    ctx.reply("reminders/cancelled", to=ctx.personal, replace_pressed=True, number=reminder.id)


# --- reading "<who> <when> <text>" ----------------------------------------------------------------


async def _who(ctx: Context, member: Member, home: Unit, args: str) -> tuple[str, Unit | None, str]:
    """Who the reminder is for, and the rest of the text; Chinese needs no space after 我."""
    head, _, rest = args.partition(" ")
    if ctx.means(head, "reminders/me"):
        return "me", None, rest.strip()
    if ctx.means(head, "reminders/everyone"):
        return "below", home, rest.strip()
    for kind, key in (("below", "reminders/everyone"), ("me", "reminders/me")):
        for word in _unspaced(ctx.router.vocabulary.words_for(key)):
            if args.startswith(word):
                return kind, (home if kind == "below" else None), args[len(word) :].strip()
    allowed = await _units(ctx, member, home)
    for unit in sorted(allowed, key=lambda u: -max(len(u.key), len(u.name_zh), len(u.name_en))):
        for name in (unit.key, unit.name_zh, unit.name_en):
            if args.casefold().startswith(name.casefold()):
                return "unit", unit, args[len(name) :].strip()
    raise Refusal("reminders/bad_who", given=head)


def _unspaced(words: frozenset[str]) -> list[str]:
    """Words written without a space after them (Chinese), longest first."""
    return sorted((w for w in words if not w.isascii()), key=lambda w: (-len(w), w))


def split_when(
    text: str, now: dt.datetime, zone: str, calendar: Mapping[str, Any] | None = None
) -> tuple[When, str] | None:
    """The longest leading phrase that reads as a time, and the reminder text after it; the
    unit's ``calendar`` lets the echo say when that day is not a working day."""
    text = text.strip()
    cuts = (
        [i for i, ch in enumerate(text) if ch.isspace()]
        if " " in text
        else list(range(len(text), 0, -1))
    )
    best: tuple[When, str] | None = None
    for cut in sorted(set(cuts), reverse=True):
        phrase, rest = text[:cut].strip(), text[cut:].strip(" ,，:：")
        if not phrase or not rest:
            continue
        when = parse_when(phrase, now, zone, calendar=calendar)
        if when is not None and when.kind != "deadline":
            best = (when, rest)
            break
    return best


def _describe(
    kind: str,
    unit: Unit | None,
    locale: str,
    at: dt.datetime,
    every: dt.timedelta | None,
    zone: str,
    text: str,
) -> dict[str, object]:
    return {
        "who": Text(
            f"reminders/who_{kind}",
            {"zh": unit.name_zh if unit else "", "en": unit.name_en if unit else ""},
        ),
        "at": at,
        "zone": zone,
        "every_days": round(every.total_seconds() / 86400, 2) if every else None,
        "text": text,
    }


async def _units(ctx: Context, member: Member, home: Unit) -> list[Unit]:
    everything = await ctx.store.units.of_organisation(member.organisation_id)
    if member.role == Role.ADMIN:
        return everything
    allowed = set(await ctx.store.units.subtree_ids(home.id))
    return [u for u in everything if u.id in allowed]


# --- delivery (a scheduled job) ---------------------------------------------------------------


async def deliver_reminders(store: Store, window: Window) -> None:
    """Send every reminder that fell due, then move recurring ones to their next local time."""
    for reminder in await store.reminders.due_by(window.until):
        moment = reminder.next_at
        if window.looks_ahead(moment):
            continue
        if moment >= window.until - await _grace(store, reminder):
            await _deliver(store, reminder, window.until)
        else:
            log.warning("reminder.skipped_stale id=%s due=%s", reminder.id, moment.isoformat())
        if reminder.every_seconds:
            store.reminders.reschedule(reminder, _next_occurrence(reminder, window.until))
        else:
            store.reminders.cancel(reminder)


async def _grace(store: Store, reminder: Reminder) -> dt.timedelta:
    """How late a missed reminder may still be sent: the plan's grace window for pushes."""
    day = reminder.next_at.astimezone(ZoneInfo(reminder.timezone)).date()
    campaign = await store.campaigns.current(reminder.organisation_id, day)
    if campaign is None:
        return GRACE
    return dt.timedelta(minutes=deadlines_of(campaign).push_grace_minutes)


async def _deliver(store: Store, reminder: Reminder, now: dt.datetime) -> None:
    key = f"remind:{reminder.id}:{reminder.next_at.isoformat()}"
    creator = await store.members.get(reminder.created_by_member_id)
    reply = Reply(
        text=Text(
            "reminders/message",
            {"text": reminder.text, "by": creator.display_name if creator else ""},
        )
    )
    if reminder.target_kind == "me":
        await queue_private(
            store,
            member_id=reminder.created_by_member_id,
            reply=reply,
            key=key,
            due_at=now,
            now=now,
        )
        return
    unit_ids = [reminder.target_unit_id or 0]
    if reminder.target_kind == "below":
        unit_ids = await store.units.subtree_ids(reminder.target_unit_id or 0)
    for unit_id in unit_ids:
        unit = await store.units.get(unit_id)
        if unit is not None:
            await push_to_unit(store, unit, f"{key}:{unit.id}", reply, now, now)


def _next_occurrence(reminder: Reminder, after: dt.datetime) -> dt.datetime:
    """The next time at the same local clock time (daylight saving kept), after ``after``."""
    zone = ZoneInfo(reminder.timezone)
    step = dt.timedelta(seconds=reminder.every_seconds or 86400)
    local = reminder.next_at.astimezone(zone).replace(tzinfo=None)
    while True:
        local += step
        moment = local.replace(tzinfo=zone).astimezone(dt.UTC)
        if moment > after:
            return moment
