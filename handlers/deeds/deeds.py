"""Good deeds (好人好事): report one, supervisors approve or reject it, points by the plan's rule.

Anyone may report a deed, their own included, but nothing is earned until a supervisor approves
it, and nobody approves a deed they reported or took part in. Approval scores each person named by
the category's formula (money recovered 挽回损失, social impact 社会影响, duration 持续时间).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from campaigns.formula import FormulaError, parse_formula
from campaigns.schema import (
    DEED_NAMES,
    MAX_DEED_AMOUNT,
    MAX_DEED_DAYS,
    MAX_DEED_LEVEL,
    DeedCategory,
    deed_points,
)
from handlers.framework.context import Context
from handlers.framework.router import IN_PRIVATE, Router
from handlers.shared.ledger import award_points
from handlers.shared.names import some_names
from handlers.shared.plan import points_of
from kernel import (
    MAX_REPORT_TEXT,
    STAFF_AND_ABOVE,
    SUPERVISORS,
    Button,
    Choice,
    Form,
    FormField,
    Refusal,
    Reply,
    Role,
    Text,
    number,
)
from storage.models import Campaign, Deed, Member, Unit

log = logging.getLogger(__name__)

MISSING_FLOW = "deed.missing"
REJECT_FLOW = "deed.reject"
MAX_DESCRIPTION = MAX_REPORT_TEXT
QUEUE_LIMIT = 10
GENERAL = "general"
LEVELS = tuple(str(level) for level in range(1, MAX_DEED_LEVEL + 1))


def register(router: Router) -> None:
    deeds = router.feature("deeds")
    deeds.command("deed", open_form, roles=STAFF_AND_ABOVE, menus=IN_PRIVATE)
    deeds.action("deed.submit", submit, roles=STAFF_AND_ABOVE)
    deeds.flow(MISSING_FLOW, fill_missing, roles=STAFF_AND_ABOVE)
    deeds.command("approve", show_queue, roles=SUPERVISORS, menus=IN_PRIVATE)
    deeds.action("deed.approve", approve, roles=SUPERVISORS)
    deeds.action("deed.reject", ask_reason, roles=SUPERVISORS)
    deeds.flow(REJECT_FLOW, reject_with_reason, roles=SUPERVISORS)


@dataclass(frozen=True)
class DeedKind:
    """A category a deed is reported under, with what it asks and its points formula."""

    key: str
    label: Text
    asks: tuple[str, ...]
    points: str


def categories(campaign: Campaign) -> list[DeedKind]:
    """The plan's deed categories, or one general category when the plan names none."""
    listed = [
        DeedCategory.model_validate(c)
        for c in campaign.plan.get("scoring", {}).get("deed_categories", [])
    ]
    if listed:
        return [
            DeedKind(
                c.key,
                Text("deeds/category", {"zh": c.name.zh, "en": c.name.en}),
                tuple(c.asks),
                c.points,
            )
            for c in listed
        ]
    return [
        DeedKind(
            GENERAL, Text("deeds/category_general"), (), str(points_of(campaign).deed_approved)
        )
    ]


# --- reporting -----------------------------------------------------------------------------------


async def open_form(ctx: Context) -> None:
    member, unit, campaign = await _context(ctx)
    colleagues = [
        m
        for m in await ctx.store.members.of_unit(unit.id)
        if m.id != member.id and m.role != Role.VOLUNTEER
    ]
    kinds = categories(campaign)
    asks = {field for category in kinds for field in category.asks}
    fields = [
        FormField("what", Text("deeds/field_what"), "long_text", max_length=MAX_DESCRIPTION),
        FormField(
            "who",
            Text("deeds/field_who"),
            "members",
            choices=(
                Choice("me", Text("deeds/choice_me")),
                *(
                    Choice(str(m.id), Text("deeds/member", {"name": m.display_name}))
                    for m in colleagues
                ),
            ),
        ),
    ]
    if len(kinds) > 1:  # the only category is taken without asking
        fields.append(
            FormField(
                "category",
                Text("deeds/field_category"),
                "choice",
                choices=tuple(Choice(c.key, c.label) for c in kinds),
            )
        )
    if "amount" in asks:
        fields.append(FormField("amount", Text("deeds/field_amount"), "number", required=False))
    if "days" in asks:
        fields.append(FormField("days", Text("deeds/field_days"), "number", required=False))
    if "level" in asks:
        fields.append(
            FormField(
                "level",
                Text("deeds/field_level"),
                "choice",
                required=False,
                choices=tuple(
                    Choice(level, Text("deeds/level", {"level": level})) for level in LEVELS
                ),
            )
        )
    ctx.form(
        Form("deed.submit", Text("deeds/form_title"), tuple(fields), Text("deeds/form_submit"))
    )


async def submit(ctx: Context) -> None:
    member, unit, campaign = await _context(ctx)
    values = {key: value.strip() for key, value in ctx.event.form.items()}
    description = values.get("what", "")
    if not description:
        raise Refusal("deeds/what_needed")
    if len(description) > MAX_DESCRIPTION:  # the form says so, but not every platform checks
        raise Refusal("errors/too_long", limit=MAX_DESCRIPTION)
    doers = await _doers(ctx, member, values.get("who", ""))
    kinds = categories(campaign)
    picked = values.get("category") or (kinds[0].key if len(kinds) == 1 else "")
    category = next((c for c in kinds if c.key == picked), None)
    if category is None:
        raise Refusal("errors/stale_button")
    draft: dict[str, Any] = {"what": description, "who": doers, "category": category.key}
    for name in category.asks:
        if values.get(name):
            draft[name] = values[name]
    await _continue(ctx, member, unit, campaign, category, draft)


async def fill_missing(ctx: Context) -> None:
    member, unit, campaign = await _context(ctx)
    conversation = await ctx.store.conversations.current(member.id)
    assert conversation is not None
    draft = dict(conversation.data)
    category = next(c for c in categories(campaign) if c.key == draft["category"])
    draft[str(draft.pop("asking"))] = ctx.event.text.strip()
    await _continue(ctx, member, unit, campaign, category, draft)


async def _continue(
    ctx: Context,
    member: Member,
    unit: Unit,
    campaign: Campaign,
    category: DeedKind,
    draft: dict[str, Any],
) -> None:
    """Save the deed once every value its category needs is there and valid; else ask for it.

    A half-entered report is kept in the database, so nothing typed is lost."""
    for name in category.asks:
        if _number(name, draft.get(name)) is None:
            bad = draft.pop(name, None)
            draft["asking"] = name
            await ctx.store.conversations.start(member.id, MISSING_FLOW, name, draft, ctx.now())
            ctx.reply(
                f"deeds/ask_{name}", to=ctx.personal, given=bad or "", category=category.label
            )
            return
    await ctx.store.conversations.end(member.id)
    deed = await ctx.store.deeds.report(
        campaign_id=campaign.id,
        unit_id=unit.id,
        reporter_member_id=member.id,
        description=str(draft["what"]),
        category_key=category.key,
        doer_ids=[int(i) for i in draft["who"]],
        now=ctx.now(),
        amount=_number("amount", draft.get("amount")),
        days=_int_or_none(_number("days", draft.get("days"))),
        level=_int_or_none(_number("level", draft.get("level"))),
    )
    ctx.reply("deeds/reported", to=ctx.personal, number=deed.id, own=member.id in draft["who"])
    for supervisor in await _approvers(ctx, unit, deed):
        ctx.notify(supervisor.id, "deeds/to_approve", number=deed.id, reporter=member.display_name)


async def _doers(ctx: Context, member: Member, picked: str) -> list[int]:
    """The people a deed names: the reporter ("me") or colleagues of the organisation who take
    part in the campaign (never a volunteer)."""
    ids: list[int] = []
    for part in (p for p in picked.split(",") if p):
        ids.append(member.id if part == "me" else (await ctx.records.colleague(part)).id)
    if not ids:
        raise Refusal("deeds/who_needed")
    return list(dict.fromkeys(ids))


def _number(name: str, value: Any) -> float | None:
    """A valid value for ``name``: amount > 0, days ≥ 1 (whole), level 1–3; None if not valid."""
    try:
        number = float(str(value).replace(",", "").replace("，", "").strip())
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if name == "amount":
        return number if 0 < number <= MAX_DEED_AMOUNT else None
    if name == "days":
        return number if number.is_integer() and 1 <= number <= MAX_DEED_DAYS else None
    return number if number.is_integer() and 1 <= number <= MAX_DEED_LEVEL else None


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


# --- approving -----------------------------------------------------------------------------------


async def show_queue(ctx: Context) -> None:
    await _context(ctx)
    scope = await ctx.covered_unit_ids()
    pending = await ctx.store.deeds.pending_in(scope)
    if not pending:
        ctx.private("deeds/queue_empty")
        return
    ctx.private("deeds/queue", count=len(pending))
    for deed in pending[:QUEUE_LIMIT]:
        ctx.replies.append(await _deed_card(ctx, deed))


async def _deed_card(ctx: Context, deed: Deed) -> Reply:
    campaign = await ctx.store.campaigns.get(deed.campaign_id)
    assert campaign is not None
    category = next((c for c in categories(campaign) if c.key == deed.category_key), None)
    reporter = await ctx.store.members.get(deed.reporter_member_id)
    names = [
        m.display_name
        for m in [await ctx.store.members.get(i) for i in await ctx.store.deeds.doers(deed.id)]
        if m
    ]
    return Reply(
        text=Text(
            "deeds/card",
            {
                "number": deed.id,
                "what": deed.description,
                "who": some_names(names),
                "reporter": reporter.display_name if reporter else "",
                "category": category.label if category else deed.category_key,
                "amount": deed.amount,
                "days": deed.days,
                "level": deed.level,
            },
        ),
        buttons=(
            Button(Text("deeds/button_approve"), "deed.approve", str(deed.id), "primary"),
            Button(Text("deeds/button_reject"), "deed.reject", str(deed.id), "danger"),
        ),
        to=ctx.personal,
    )


async def approve(ctx: Context) -> None:
    member, unit, _ = await _context(ctx)
    deed, doers = await _decidable(ctx, member, unit, number(ctx.event.value))
    if not await ctx.store.deeds.decide(deed.id, "approved", member.id, None, ctx.now()):
        raise Refusal("deeds/already_decided", number=deed.id)
    campaign = await ctx.store.campaigns.get(deed.campaign_id)
    deed_unit = await ctx.store.units.get(deed.unit_id)
    assert campaign is not None and deed_unit is not None
    category = next((c for c in categories(campaign) if c.key == deed.category_key), None)
    points = 0
    if category is not None:
        values = {
            "amount": deed.amount or 0,
            "days": deed.days or 0,
            "level": deed.level or 0,
            "people": len(doers),
        }
        try:
            points = deed_points(parse_formula(category.points, DEED_NAMES), values)
        except FormulaError as exc:  # the plan's formula, not the deed: nothing is recorded
            log.warning(
                "deed.formula_failed deed=%s category=%s formula=%r values=%s reason=%s %s",
                deed.id,
                category.key,
                category.points,
                values,
                exc.reason,
                exc.detail,
            )
            raise Refusal(
                "deeds/formula_failed",
                number=deed.id,
                category=category.label,
                **exc.template_data(),
            ) from None
    for doer_id in sorted(doers):  # one order: two approvals take the same totals rows alike
        doer = await ctx.store.members.get(doer_id)
        doer_unit = await ctx.store.units.get(doer.unit_id) if doer and doer.unit_id else deed_unit
        await award_points(
            ctx.store,
            campaign=campaign,
            unit=doer_unit or deed_unit,
            member_id=doer_id,
            source="deed",
            rule="deed_approved",
            points=points,
            key=f"deed:{deed.id}:member:{doer_id}",
            at=ctx.now(),
            ref=("deed", deed.id),
        )
        ctx.notify(doer_id, "deeds/approved_notice", number=deed.id, points=points)
    if deed.reporter_member_id not in doers:
        await award_points(
            ctx.store,
            campaign=campaign,
            unit=deed_unit,
            member_id=deed.reporter_member_id,
            source="deed",
            rule="deed_reported",
            points=points_of(campaign).deed_reported,
            key=f"deed:{deed.id}:reporter",
            at=ctx.now(),
            ref=("deed", deed.id),
        )
        ctx.notify(deed.reporter_member_id, "deeds/approved_reporter", number=deed.id)
    ctx.reply(
        "deeds/approved",
        to=ctx.personal,
        replace_pressed=True,
        number=deed.id,
        points=points,
        people=len(doers),
    )


async def ask_reason(ctx: Context) -> None:
    member, unit, _ = await _context(ctx)
    deed, _ = await _decidable(ctx, member, unit, number(ctx.event.value))
    await ctx.store.conversations.start(
        member.id, REJECT_FLOW, "reason", {"deed_id": deed.id}, ctx.now()
    )
    ctx.reply("deeds/ask_reason", to=ctx.personal, number=deed.id)


async def reject_with_reason(ctx: Context) -> None:
    member, unit, _ = await _context(ctx)
    conversation = await ctx.store.conversations.current(member.id)
    assert conversation is not None
    reason = ctx.event.text.strip()
    if not reason:
        raise Refusal("deeds/reason_needed")
    deed, _ = await _decidable(ctx, member, unit, int(conversation.data["deed_id"]))
    await ctx.store.conversations.end(member.id)
    if not await ctx.store.deeds.decide(deed.id, "rejected", member.id, reason, ctx.now()):
        raise Refusal("deeds/already_decided", number=deed.id)
    ctx.reply("deeds/rejected", to=ctx.personal, number=deed.id)
    ctx.notify(deed.reporter_member_id, "deeds/rejected_notice", number=deed.id, reason=reason)


async def _decidable(
    ctx: Context, member: Member, unit: Unit, deed_id: int
) -> tuple[Deed, list[int]]:
    deed = await ctx.records.deed(deed_id)
    if deed.status != "pending":
        raise Refusal("deeds/already_decided", number=deed.id)
    doers = await ctx.store.deeds.doers(deed.id)
    if member.id == deed.reporter_member_id or member.id in doers:
        raise Refusal("deeds/not_own")
    return deed, doers


async def _approvers(ctx: Context, unit: Unit, deed: Deed) -> list[Member]:
    """The nearest supervisors who may decide: the unit's own, else those of the units above
    (nobody decides a deed they reported or are named in)."""
    excluded = set(await ctx.store.deeds.doers(deed.id)) | {deed.reporter_member_id}
    for level in await ctx.store.units.lineage(unit.id):
        found = [
            m
            for m in await ctx.store.members.of_unit(level.id)
            if m.role in (Role.SUPERVISOR, Role.ADMIN) and m.id not in excluded
        ]
        if found:
            return found
    return [m for m in await ctx.store.members.admins(unit.organisation_id) if m.id not in excluded]


async def _context(ctx: Context) -> tuple[Member, Unit, Campaign]:
    member, unit = ctx.seated()
    return member, unit, await ctx.current_campaign()
