"""Observations (监督意见) from volunteers and staff, handled under first-question responsibility.

Anyone in the campaign, volunteer observers (义务监督员) included, reports praise, a complaint, a
suggestion or a hazard about a unit, anonymously if they wish: the unit then never learns who it
was. The unit's supervisors are told; the first to claim it owns it (首问负责制) and must close it
within the plan's limit (限期办结) with a resolution, or it escalates up the unit tree. The
observer is told the outcome and rates it 1–5 (满意度); verified praise earns the person praised.
"""

from __future__ import annotations

import datetime as dt

from handlers.framework.context import Context
from handlers.framework.router import IN_PRIVATE, Menu, Router
from handlers.shared.calendar import local_date
from handlers.shared.ledger import award_points
from handlers.shared.outbox import queue_private
from handlers.shared.plan import deadlines_of, points_of
from handlers.shared.units import unit_choice, unit_label
from kernel import (
    EVERYONE,
    MAX_REPORT_TEXT,
    SUPERVISORS,
    Button,
    Choice,
    Form,
    FormField,
    Refusal,
    Reply,
    Role,
    Text,
    Window,
    number,
)
from storage.models import Campaign, Member, Observation, Unit
from storage.store import Store

KINDS = ("praise", "complaint", "suggestion", "hazard")
CLOSE_FLOW = "observe.close"
PHOTO_FLOW = "observe.photo"
MAX_TEXT = MAX_REPORT_TEXT
LIST_LIMIT = 10
RATINGS = (1, 2, 3, 4, 5)


def register(router: Router) -> None:
    observations = router.feature("observations")
    observations.command("observe", open_form, roles=EVERYONE, menus=IN_PRIVATE)
    observations.action("observe.submit", submit, roles=EVERYONE)
    observations.flow(PHOTO_FLOW, attach_photo, roles=EVERYONE)
    observations.action("observe.rate", rate, roles=EVERYONE)
    observations.command("observations", list_open, roles=SUPERVISORS, menus={Menu.PRIVATE})
    observations.action("observe.claim", claim, roles=SUPERVISORS)
    observations.action("observe.close", ask_resolution, roles=SUPERVISORS)
    observations.flow(CLOSE_FLOW, close_with_resolution, roles=SUPERVISORS)
    observations.action("observe.resolve", close_praise, roles=SUPERVISORS)


# --- reporting -----------------------------------------------------------------------------------


async def open_form(ctx: Context) -> None:
    member, _ = await _context(ctx)
    if ctx.means(ctx.event.args, "observations/mine"):
        await _list_mine(ctx, member)
        return
    units = await ctx.store.units.of_organisation(member.organisation_id)
    units.sort(key=lambda u: (u.id != member.unit_id, u.depth, u.id))
    fields = (
        unit_choice("unit", Text("observations/field_unit"), units),
        FormField(
            "kind",
            Text("observations/field_kind"),
            "choice",
            choices=tuple(Choice(kind, Text(f"observations/kind_{kind}")) for kind in KINDS),
        ),
        FormField("text", Text("observations/field_text"), "long_text", max_length=MAX_TEXT),
        FormField(
            "anonymous",
            Text("observations/field_anonymous"),
            "choice",
            choices=(
                Choice("no", Text("observations/anonymous_no")),
                Choice("yes", Text("observations/anonymous_yes")),
            ),
        ),
    )
    ctx.form(
        Form(
            "observe.submit",
            Text("observations/form_title"),
            fields,
            Text("observations/form_submit"),
        )
    )


async def submit(ctx: Context) -> None:
    member, campaign = await _context(ctx)
    values = {key: value.strip() for key, value in ctx.event.form.items()}
    unit = await ctx.records.unit(values.get("unit", ""), anywhere=True)
    kind = values.get("kind", "")
    text = values.get("text", "")
    if kind not in KINDS:
        raise Refusal("errors/stale_button")
    if not text:
        raise Refusal("observations/text_needed")
    if len(text) > MAX_TEXT:  # the form says so, but not every platform checks
        raise Refusal("errors/too_long", limit=MAX_TEXT)
    anonymous = values.get("anonymous") == "yes"
    deadlines = deadlines_of(campaign)
    observation = await ctx.store.observations.create(
        campaign_id=campaign.id,
        unit_id=unit.id,
        # Anonymous means no trace from the observation to the person: no observer, no points,
        # no conversation about it (and so no follow-up or rating).
        observer_member_id=None if anonymous else member.id,
        kind=kind,
        text=text,
        anonymous=anonymous,
        due_at=ctx.now() + dt.timedelta(hours=deadlines.observation_close_hours),
        now=ctx.now(),
    )
    points = 0
    if not anonymous and member.role != Role.VOLUNTEER and member.unit_id is not None:
        own_unit = await ctx.store.units.get(member.unit_id)
        assert own_unit is not None
        rule_points = points_of(campaign).observation_submitted
        if await award_points(
            ctx.store,
            campaign=campaign,
            unit=own_unit,
            member_id=member.id,
            source="observation",
            rule="observation_submitted",
            points=rule_points,
            # Once a day per person, so reporting many small things does not farm points.
            key=f"obs:{member.id}:{local_date(own_unit, ctx.now()).isoformat()}:submitted",
            at=ctx.now(),
            ref=("observation", observation.id),
        ):
            points = rule_points
    if not anonymous:
        await ctx.store.conversations.start(
            member.id, PHOTO_FLOW, "photo", {"observation_id": observation.id}, ctx.now()
        )
    ctx.reply(
        "observations/saved",
        to=ctx.personal,
        number=observation.id,
        hours=deadlines.observation_close_hours,
        anonymous=anonymous,
        points=points,
    )
    for supervisor in await _supervisors(ctx.store, unit.id):
        if supervisor.id != member.id:
            ctx.replies.append(
                _new_notice(
                    observation, unit, supervisor.id, None if anonymous else member.display_name
                )
            )


def _new_notice(
    observation: Observation, unit: Unit, to_member: int, observer: str | None
) -> Reply:
    return Reply(
        text=Text(
            "observations/new_notice",
            {
                "number": observation.id,
                "kind": Text(f"observations/kind_{observation.kind}"),
                "unit_zh": unit.name_zh,
                "unit_en": unit.name_en,
                "text": observation.text,
                "observer": observer,
                "due": observation.due_at,
                "zone": unit.timezone,
            },
        ),
        buttons=(
            Button(
                Text("observations/button_claim"), "observe.claim", str(observation.id), "primary"
            ),
        ),
        member_id=to_member,
    )


async def attach_photo(ctx: Context) -> None:
    member, _ = await _context(ctx)
    conversation = await ctx.store.conversations.current(member.id)
    assert conversation is not None
    await ctx.store.conversations.end(member.id)
    observation = await ctx.store.observations.get(int(conversation.data["observation_id"]))
    if observation is None or ctx.event.photo_ref is None:
        ctx.private("observations/no_photo")
        return
    ctx.store.observations.attach_photo(observation, ctx.event.photo_ref)
    ctx.private("observations/photo_saved", number=observation.id)


async def _list_mine(ctx: Context, member: Member) -> None:
    mine = await ctx.store.observations.of_observer(member.id, LIST_LIMIT)
    if not mine:
        ctx.private("observations/none_mine")
        return
    lines = [
        Text(
            "observations/mine_line",
            {
                "number": o.id,
                "kind": Text(f"observations/kind_{o.kind}"),
                "status": Text(f"observations/status_{o.status}"),
                "text": o.text,
                "resolution": o.resolution,
                "rating": o.rating,
            },
        )
        for o in mine
    ]
    ctx.private("observations/mine", lines=lines)
    for observation in mine:
        if observation.status == "closed" and observation.rating is None:
            # The rating prompt may have been missed: it is offered again here, until rated.
            ctx.reply(
                "observations/rate_later",
                to=ctx.personal,
                buttons=_rating_buttons(observation.id),
                number=observation.id,
                resolution=observation.resolution,
            )


async def rate(ctx: Context) -> None:
    member, _ = await _context(ctx)
    observation_id, _, rating_text = ctx.event.value.partition(":")
    rating = number(rating_text)
    if rating not in RATINGS:
        raise Refusal("errors/stale_button")
    if not await ctx.store.observations.rate(number(observation_id), member.id, rating):
        raise Refusal("observations/already_rated")
    ctx.reply("observations/rated", to=ctx.personal, replace_pressed=True, rating=rating)


# --- handling: claim, close, credit praise ------------------------------------------------


async def list_open(ctx: Context) -> None:
    member, _ = await _context(ctx)
    scope = await ctx.covered_unit_ids()
    pending = await ctx.store.observations.not_closed_in(scope)
    if not pending:
        ctx.private("observations/none_open")
        return
    ctx.private("observations/open_count", count=len(pending))
    for observation in pending[:LIST_LIMIT]:
        unit = await ctx.store.units.get(observation.unit_id)
        assert unit is not None
        mine = observation.claimed_by_member_id == member.id
        button = (
            Button(
                Text("observations/button_close"), "observe.close", str(observation.id), "primary"
            )
            if mine
            else Button(Text("observations/button_claim"), "observe.claim", str(observation.id))
        )
        claimer = (
            await ctx.store.members.get(observation.claimed_by_member_id)
            if observation.claimed_by_member_id
            else None
        )
        ctx.replies.append(
            Reply(
                text=Text(
                    "observations/card",
                    {
                        "number": observation.id,
                        "kind": Text(f"observations/kind_{observation.kind}"),
                        "unit_zh": unit.name_zh,
                        "unit_en": unit.name_en,
                        "text": observation.text,
                        "due": observation.due_at,
                        "zone": unit.timezone,
                        "overdue": observation.due_at < ctx.now(),
                        "owner": claimer.display_name if claimer else None,
                        "escalated": observation.escalation_count,
                    },
                ),
                buttons=(button,) if observation.status == "open" or mine else (),
                to=ctx.personal,
            )
        )


async def claim(ctx: Context) -> None:
    member, _ = await _context(ctx)
    observation = await ctx.records.observation(ctx.event.value)
    if not await ctx.store.observations.claim(observation.id, member.id, ctx.now()):
        owner = (
            await ctx.store.members.get(observation.claimed_by_member_id)
            if observation.claimed_by_member_id
            else None
        )
        raise Refusal(
            "observations/already_claimed",
            number=observation.id,
            owner=owner.display_name if owner else "",
        )
    unit = await ctx.store.units.get(observation.unit_id)
    assert unit is not None
    ctx.reply(
        "observations/claimed",
        to=ctx.personal,
        replace_pressed=True,
        number=observation.id,
        due=observation.due_at,
        zone=unit.timezone,
        overdue=observation.due_at < ctx.now(),  # never a past deadline as if it were ahead
        buttons=(
            Button(
                Text("observations/button_close"), "observe.close", str(observation.id), "primary"
            ),
        ),
    )


async def ask_resolution(ctx: Context) -> None:
    member, _ = await _context(ctx)
    observation = await _owned(ctx, member, number(ctx.event.value))
    if observation.kind == "praise":
        ctx.form(await _praise_form(ctx, observation))
        return
    await ctx.store.conversations.start(
        member.id, CLOSE_FLOW, "resolution", {"observation_id": observation.id}, ctx.now()
    )
    ctx.reply("observations/ask_resolution", to=ctx.personal, number=observation.id)


async def close_with_resolution(ctx: Context) -> None:
    member, campaign = await _context(ctx)
    conversation = await ctx.store.conversations.current(member.id)
    assert conversation is not None
    resolution = ctx.event.text.strip()
    if not resolution:
        raise Refusal("observations/resolution_needed")
    observation = await _owned(ctx, member, int(conversation.data["observation_id"]))
    await ctx.store.conversations.end(member.id)
    await _close(ctx, member, campaign, observation, resolution, None)


async def _praise_form(ctx: Context, observation: Observation) -> Form:
    """Verified praise closes with a resolution and the colleague it credits: one choice among
    everyone in the unit, however many, which each platform lets a person search or page."""
    people = [
        m for m in await ctx.store.members.of_unit(observation.unit_id) if m.role != Role.VOLUNTEER
    ]
    credit = (
        Choice("0", Text("observations/credit_nobody")),
        *(
            Choice(str(m.id), Text("observations/credit_member", {"name": m.display_name}))
            for m in people
        ),
    )
    return Form(
        "observe.resolve",
        Text("observations/praise_form_title", {"number": observation.id}),
        (
            FormField(
                "resolution",
                Text("observations/field_resolution"),
                "long_text",
                max_length=MAX_TEXT,
            ),
            FormField("credit", Text("observations/field_credit"), "choice", choices=credit),
        ),
        Text("observations/praise_form_submit"),
        state=str(observation.id),
    )


async def close_praise(ctx: Context) -> None:
    """The praise form came back: close it, crediting the colleague chosen (if any)."""
    member, campaign = await _context(ctx)
    observation = await _owned(ctx, member, number(ctx.event.value))
    if observation.kind != "praise":
        raise Refusal("errors/stale_button")
    resolution = ctx.event.form.get("resolution", "").strip()
    if not resolution:
        raise Refusal("observations/resolution_needed")
    if len(resolution) > MAX_TEXT:
        raise Refusal("errors/too_long", limit=MAX_TEXT)
    praised = number(ctx.event.form.get("credit", "")) or None
    if praised is not None:
        person = await ctx.records.colleague(praised)
        if person.unit_id != observation.unit_id:
            raise Refusal("errors/stale_button")
    await _close(ctx, member, campaign, observation, resolution, praised)


async def _close(
    ctx: Context,
    member: Member,
    campaign: Campaign,
    observation: Observation,
    resolution: str,
    praised: int | None,
) -> None:
    ctx.store.observations.close(observation, resolution, member.id, ctx.now(), praised)
    if praised is not None:
        unit = await ctx.store.units.get(observation.unit_id)
        assert unit is not None
        await award_points(
            ctx.store,
            campaign=campaign,
            unit=unit,
            member_id=praised,
            source="observation",
            rule="praise_received",
            points=points_of(campaign).praise_received,
            key=f"obs:{observation.id}:praise",
            at=ctx.now(),
            ref=("observation", observation.id),
        )
        ctx.notify(
            praised, "observations/praised_notice", number=observation.id, text=observation.text
        )
    ctx.reply(
        "observations/closed",
        to=ctx.personal,
        number=observation.id,
        late=ctx.now() > observation.due_at,
    )
    if observation.observer_member_id is None:
        return  # anonymous: nobody to tell, and nobody to ask for a rating
    ctx.replies.append(
        Reply(
            text=Text(
                "observations/closed_notice", {"number": observation.id, "resolution": resolution}
            ),
            buttons=_rating_buttons(observation.id),
            member_id=observation.observer_member_id,
        )
    )


def _rating_buttons(observation_id: int) -> tuple[Button, ...]:
    """1 to 5 for the observer's satisfaction with how their observation was handled."""
    return tuple(
        Button(
            Text("observations/button_rating", {"rating": r}),
            "observe.rate",
            f"{observation_id}:{r}",
        )
        for r in RATINGS
    )


async def _owned(ctx: Context, member: Member, observation_id: int) -> Observation:
    observation = await ctx.records.observation(observation_id)
    if observation.status == "closed":
        raise Refusal("observations/already_closed", number=observation.id)
    if observation.claimed_by_member_id != member.id:
        raise Refusal("observations/claim_first", number=observation.id)
    return observation


async def _supervisors(store: Store, unit_id: int) -> list[Member]:
    return [
        m for m in await store.members.of_unit(unit_id) if m.role in (Role.SUPERVISOR, Role.ADMIN)
    ]


async def _context(ctx: Context) -> tuple[Member, Campaign]:
    if ctx.member is None:
        raise Refusal("errors/not_a_member", command="observe")
    return ctx.member, await ctx.current_campaign()


# --- escalation (a scheduled job) ------------------------------------------------------------


async def escalate_overdue(store: Store, window: Window) -> None:
    """An observation still open past its limit moves up one level of the unit tree per period
    (责任追究): that level's supervisors are told what to do about it, and the observer what
    happened."""
    for observation in await store.observations.overdue(window.until):
        campaign = await store.campaigns.get(observation.campaign_id)
        unit = await store.units.get(observation.escalated_to_unit_id or observation.unit_id)
        if campaign is None or unit is None or unit.parent_id is None:
            continue
        period = dt.timedelta(hours=deadlines_of(campaign).observation_close_hours)
        next_escalation = observation.due_at + period * observation.escalation_count
        if next_escalation > window.until or window.looks_ahead(next_escalation):
            continue
        parent = await store.units.get(unit.parent_id)
        assert parent is not None
        store.observations.escalate(observation, parent.id)
        await _tell_escalation(store, observation, parent, period, window.until)


async def _tell_escalation(
    store: Store, observation: Observation, level: Unit, period: dt.timedelta, now: dt.datetime
) -> None:
    """The supervisors of the level it reached: claim it (or press its owner) and close it before
    it goes higher. The observer, unless anonymous: it was not closed in time and went up."""
    origin = await store.units.get(observation.unit_id)
    assert origin is not None
    owner = (
        await store.members.get(observation.claimed_by_member_id)
        if observation.claimed_by_member_id
        else None
    )
    higher = await store.units.get(level.parent_id) if level.parent_id else None
    escalation = observation.escalation_count
    notice = {
        "number": observation.id,
        "unit_zh": origin.name_zh,
        "unit_en": origin.name_en,
        "text": observation.text,
        "due": observation.due_at,
        "zone": origin.timezone,
        "owner": owner.display_name if owner else None,
        "next_at": observation.due_at + period * escalation if higher else None,
        "higher": unit_label(higher) if higher else None,
    }
    targets = await _supervisors(store, level.id) or await store.members.admins(
        level.organisation_id
    )
    for person in targets:
        claim = _new_notice(observation, origin, person.id, None).buttons
        await queue_private(
            store,
            member_id=person.id,
            reply=Reply(
                text=Text("observations/escalated_notice", notice),
                buttons=claim if observation.status == "open" else (),
            ),
            key=f"obs-escalate:{observation.id}:{escalation}:{person.id}",
            due_at=now,
            now=now,
        )
    if observation.observer_member_id is not None:
        await queue_private(
            store,
            member_id=observation.observer_member_id,
            reply=Reply(
                text=Text(
                    "observations/escalated_observer",
                    {
                        "number": observation.id,
                        "due": observation.due_at,
                        "zone": origin.timezone,
                        "level": unit_label(level),
                    },
                )
            ),
            key=f"obs-escalate-observer:{observation.id}:{escalation}",
            due_at=now,
            now=now,
        )
