"""/inspect: record a mystery-shopper (神秘人), off-site video (非现场) or cross inspection.

The score out of 100 and the deducted items go through the plan's assessment formulas (rewards and
penalties, rank bands, doubling for a problem repeated from the unit's previous inspection). The
result is posted to the unit's chat as a notice (通报), each deducted item becomes a rectification
for the unit's head, and a unit that meets its target earns its members the plan's points.
"""

from __future__ import annotations

import datetime as dt

from campaigns.schema import AssessmentRule
from handlers.framework.context import Context
from handlers.framework.router import IN_PRIVATE, Router
from handlers.inspections.assessment import Outcome, assess, assessment_values
from handlers.shared.calendar import local_date
from handlers.shared.date_phrases import end_of_day
from handlers.shared.ledger import award_points
from handlers.shared.outbox import push_to_unit
from handlers.shared.plan import deadlines_of, points_of
from handlers.shared.units import unit_choice
from kernel import SUPERVISORS, Choice, Form, FormField, Refusal, Reply, Role, Text
from storage.models import Campaign, ChecklistItem, Member, Stage, Unit

KINDS = ("mystery", "video", "cross")


def register(router: Router) -> None:
    inspections = router.feature("inspections")
    inspections.command("inspect", open_form, roles=SUPERVISORS, menus=IN_PRIVATE)
    inspections.action("inspect.submit", submit, roles=SUPERVISORS)
    inspections.field_check("inspect.submit", check_field)


def check_field(name: str, value: str) -> None:
    """The score is checked as it is typed, so a slip never costs the items ticked after it."""
    if name == "score" and _score_or_none(value) is None:
        raise Refusal("inspections/score_hint", given=value)


async def open_form(ctx: Context) -> None:
    member, _, campaign, stage = await _context(ctx)
    covered = await ctx.covered_unit_ids()
    units = [
        u
        for u in await ctx.store.units.of_organisation(member.organisation_id)
        if u.id in covered and u.id != member.unit_id  # nobody inspects their own unit
    ]
    if not units:
        raise Refusal("inspections/nothing_to_inspect")
    items = await _stage_items(ctx, campaign, stage)
    fields = (
        unit_choice("unit", Text("inspections/field_unit"), units),
        FormField(
            "kind",
            Text("inspections/field_kind"),
            "choice",
            choices=tuple(Choice(k, Text(f"inspections/kind_{k}")) for k in KINDS),
        ),
        FormField("score", Text("inspections/field_score"), "number", max_length=6),
        FormField(
            "deducted",
            Text("inspections/field_deducted"),
            "multi_choice",
            required=False,
            choices=tuple(
                Choice(item.key, Text("inspections/item", {"zh": item.text_zh, "en": item.text_en}))
                for item in items
            ),
        ),
    )
    ctx.form(
        Form(
            "inspect.submit",
            Text("inspections/form_title"),
            fields,
            Text("inspections/form_submit"),
        )
    )


async def submit(ctx: Context) -> None:
    member, _, campaign, stage = await _context(ctx)
    values = {key: value.strip() for key, value in ctx.event.form.items()}
    unit = await ctx.records.unit(values.get("unit", ""))
    if unit.id == member.unit_id:
        raise Refusal("inspections/own_unit")
    kind = values.get("kind", "")
    if kind not in KINDS:
        raise Refusal("errors/stale_button")
    score = _score(values.get("score", ""))
    items = {item.key: item for item in await _stage_items(ctx, campaign, stage)}
    deducted = [key for key in dict.fromkeys(k for k in values.get("deducted", "").split(",") if k)]
    if any(key not in items for key in deducted):
        raise Refusal("errors/stale_button")
    previous = await ctx.store.inspections.latest_for(unit.id)
    repeated = sorted(set(deducted) & set(previous.deducted_item_keys)) if previous else []
    target = stage.target_score if stage and stage.target_score is not None else 100.0
    peers = await _peer_scores(ctx, unit, stage)
    values_for_rules = assessment_values(
        score=score,
        target=target,
        scores_of_peers=peers,
        unit_id=unit.id,
        repeated_items=len(repeated),
        stage_number=stage.position if stage else 0,
    )
    rules = [
        AssessmentRule.model_validate(r)
        for r in campaign.plan.get("scoring", {}).get("assessment", [])
    ]
    outcomes = assess(rules, stage.key if stage else None, values_for_rules)
    inspection = await ctx.store.inspections.record(
        campaign_id=campaign.id,
        unit_id=unit.id,
        stage_id=stage.id if stage else None,
        inspector_member_id=member.id,
        kind=kind,
        score=score,
        deducted_item_keys=deducted,
        assessment=[o.__dict__ for o in outcomes],
        inspected_on=local_date(unit, ctx.now()),
        now=ctx.now(),
    )
    rectifications = await _rectify(
        ctx, member, unit, campaign, [items[k] for k in deducted], inspection.id
    )
    reached = score >= target
    if reached:
        await _reward_members(ctx, unit, campaign, stage, inspection.id)
    notice = Text(
        "inspections/notice",
        {
            "number": inspection.id,
            "kind": Text(f"inspections/kind_{kind}"),
            "unit_zh": unit.name_zh,
            "unit_en": unit.name_en,
            "score": score,
            "target": target,
            "reached": reached,
            "rank": values_for_rules["rank"],
            "unit_count": values_for_rules["unit_count"],
            "deducted": [
                Text("inspections/item", {"zh": items[k].text_zh, "en": items[k].text_en})
                for k in deducted
            ],
            "repeated": len(repeated),
            "outcomes": [_outcome_line(o) for o in outcomes],
            "rectifications": rectifications,
        },
    )
    ctx.reply("inspections/recorded", to=ctx.personal, notice=notice)
    await push_to_unit(
        ctx.store, unit, f"inspection:{inspection.id}", Reply(text=notice), ctx.now(), ctx.now()
    )


def _outcome_line(outcome: Outcome) -> Text:
    return Text(
        "inspections/outcome",
        {
            "zh": outcome.name_zh,
            "en": outcome.name_en,
            "kind": outcome.kind,
            "amount": outcome.amount,
        },
    )


async def _rectify(
    ctx: Context,
    member: Member,
    unit: Unit,
    campaign: Campaign,
    items: list[ChecklistItem],
    inspection_id: int,
) -> int:
    """Each deducted item becomes a rectification for the unit's head, due by the plan's default."""
    owner = await ctx.store.rectifications.unit_head(unit.id)
    if owner is None:
        return 0
    due = end_of_day(
        ctx.now() + dt.timedelta(days=deadlines_of(campaign).rectification_days), unit.timezone
    )
    for item in items:
        await ctx.store.rectifications.create(
            unit_id=unit.id,
            owner_member_id=owner.id,
            created_by_member_id=member.id,
            due_at=due,
            now=ctx.now(),
            item_id=item.id,
            inspection_id=inspection_id,
        )
    return len(items)


async def _reward_members(
    ctx: Context, unit: Unit, campaign: Campaign, stage: Stage | None, inspection_id: int
) -> None:
    """The unit's members earn the plan's points once per stage in which an inspection found
    the unit on target, however many inspections did; the inspector earns nothing by it."""
    assert ctx.member is not None
    points = points_of(campaign).inspection_target_reached
    period = stage.key if stage else "campaign"
    for person in await ctx.store.members.of_unit(unit.id):
        if person.role == Role.VOLUNTEER or person.id == ctx.member.id:
            continue
        await award_points(
            ctx.store,
            campaign=campaign,
            unit=unit,
            member_id=person.id,
            source="inspection",
            rule="inspection_target_reached",
            points=points,
            key=f"inspection:{unit.id}:{period}:member:{person.id}",
            at=ctx.now(),
            ref=("inspection", inspection_id),
        )


async def _peer_scores(ctx: Context, unit: Unit, stage: Stage | None) -> dict[int, float]:
    """Latest scores this stage of the units under the same parent (the unit's own excluded)."""
    if unit.parent_id is None:
        return {}
    siblings = [
        u.id
        for u in await ctx.store.units.of_organisation(unit.organisation_id)
        if u.parent_id == unit.parent_id
    ]
    scores = await ctx.store.inspections.latest_scores(siblings, stage.id if stage else None)
    scores.pop(unit.id, None)
    return scores


async def _stage_items(
    ctx: Context, campaign: Campaign, stage: Stage | None
) -> list[ChecklistItem]:
    items: list[ChecklistItem] = []
    for checklist in await ctx.store.selfchecks.checklists_for(
        campaign.id, stage.key if stage else None, None
    ):
        items += await ctx.store.selfchecks.items(checklist.id)
    return items


async def _context(ctx: Context) -> tuple[Member, Unit, Campaign, Stage | None]:
    member, unit = ctx.seated()
    campaign = await ctx.current_campaign()
    stage = await ctx.store.campaigns.stage_on(campaign.id, local_date(unit, ctx.now()))
    return member, unit, campaign, stage


def _score(text: str) -> float:
    score = _score_or_none(text)
    if score is None:
        raise Refusal("inspections/bad_score", given=text)
    return score


def _score_or_none(text: str) -> float | None:
    """A score out of 100 as typed (``91``, ``91.5``, ``91分``); None when it is not one."""
    try:
        score = float(text.replace("分", "").strip())
    except ValueError:
        return None
    return round(score, 1) if 0 <= score <= 100 else None
