"""Self-check (自查): walk the unit's checklist for the stage one item at a time.

Pass, fail or not applicable per item; a note or a photo sent before pressing is kept with the
answer. A failed item becomes a rectification (整改) with an owner and a deadline the person may
type in Chinese or English; one read with a guess (a default hour, next year) or falling on a day
off is echoed with what was guessed and kept only once confirmed. The run lives in the database,
so it can be left and resumed, on another device or after a restart. At the end: the weighted pass
rate, the failed items, and "100−1=0": a failed critical item sets the run's score to 0.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from handlers.framework.context import Context
from handlers.framework.router import IN_PRIVATE, Router
from handlers.shared.calendar import local_date
from handlers.shared.date_phrases import When, end_of_day, notes, parse_when
from handlers.shared.ledger import award_points
from handlers.shared.plan import deadlines_of, points_of
from kernel import STAFF_AND_ABOVE, Button, Refusal, Text, number
from storage.models import (
    Campaign,
    Checklist,
    ChecklistItem,
    Member,
    SelfCheckAnswer,
    SelfCheckRun,
    Stage,
    Unit,
)

FLOW = "selfcheck"
RESULTS = ("pass", "fail", "na")


def register(router: Router) -> None:
    selfchecks = router.feature("selfchecks")
    selfchecks.command("check", start_or_resume, roles=STAFF_AND_ABOVE, menus=IN_PRIVATE)
    selfchecks.action("check.pick", pick_checklist, roles=STAFF_AND_ABOVE)
    selfchecks.action("check.answer", answer_item, roles=STAFF_AND_ABOVE)
    selfchecks.action("check.pause", pause, roles=STAFF_AND_ABOVE)
    selfchecks.action("check.keep_due", keep_due, roles=STAFF_AND_ABOVE)
    selfchecks.flow(FLOW, typed, roles=STAFF_AND_ABOVE)


# --- starting and resuming ---------------------------------------------------------------------


async def start_or_resume(ctx: Context) -> None:
    member, unit = ctx.seated()
    run = await _open_run(ctx, member, unit, tell=True)
    if run is not None:
        await _resume(ctx, member, unit, run)
        return
    campaign, stage_key, _ = await _campaign_and_stage(ctx, member, unit)
    checklists = await _checklists(ctx, campaign, stage_key, unit)
    if not checklists:
        raise Refusal("selfchecks/no_checklist")
    wanted = ctx.event.args.strip().casefold()
    chosen = [c for c in checklists if c.key == wanted] if wanted else checklists
    if len(chosen) != 1:
        buttons = tuple(
            Button(
                Text("selfchecks/checklist_button", {"title": _title(c, ctx.locale)}),
                "check.pick",
                str(c.id),
            )
            for c in checklists
        )
        ctx.reply("selfchecks/pick", to=ctx.personal, buttons=buttons)
        return
    await _start(ctx, member, unit, campaign, chosen[0].id)


async def pick_checklist(ctx: Context) -> None:
    member, unit = ctx.seated()
    if await _open_run(ctx, member, unit, tell=False) is not None:
        await start_or_resume(ctx)
        return
    campaign, stage_key, _ = await _campaign_and_stage(ctx, member, unit)
    allowed = {c.id for c in await _checklists(ctx, campaign, stage_key, unit)}
    checklist_id = number(ctx.event.value)
    if checklist_id not in allowed:
        raise Refusal("errors/stale_button")
    await _start(ctx, member, unit, campaign, checklist_id)


async def _start(
    ctx: Context, member: Member, unit: Unit, campaign: Campaign, checklist_id: int
) -> None:
    stage = await ctx.store.campaigns.stage_on(campaign.id, local_date(unit, ctx.now()))
    run = await ctx.store.selfchecks.start(
        member_id=member.id,
        unit_id=unit.id,
        checklist_id=checklist_id,
        stage_id=stage.id if stage else None,
        now=ctx.now(),
    )
    await _enter_flow(ctx, run)
    checklist = await ctx.store.selfchecks.checklist(checklist_id)
    items = await ctx.store.selfchecks.items(checklist_id)
    assert checklist is not None
    ctx.reply(
        "selfchecks/started", to=ctx.personal, title=_title(checklist, ctx.locale), count=len(items)
    )
    await _show_next(ctx, run)


async def _open_run(ctx: Context, member: Member, unit: Unit, *, tell: bool) -> SelfCheckRun | None:
    """The member's unfinished run, if it belongs to the stage under way: a self-check counts for
    its stage, so one left in a stage that has ended is not carried into the next. It stays as it
    was, unscored, and (``tell``) the person learns why a fresh one starts, once."""
    run = await ctx.store.selfchecks.open_run(member.id)
    if run is None:
        return None
    stage = await _stage_now(ctx, unit)
    if run.stage_id == (stage.id if stage else None):
        return run
    latest = await ctx.store.selfchecks.latest_run(member.id)
    if tell and latest is not None and latest.id == run.id:
        campaign = await ctx.current_campaign(unit)
        ended = next(
            (s for s in await ctx.store.campaigns.stages(campaign.id) if s.id == run.stage_id), None
        )
        ctx.reply(
            "selfchecks/stage_over",
            to=ctx.personal,
            done=len(await ctx.store.selfchecks.answers(run.id)),
            started=local_date(unit, run.started_at),
            stage_zh=ended.name_zh if ended else None,
            stage_en=ended.name_en if ended else None,
            ended=ended.ends_on if ended else None,
            current_zh=stage.name_zh if stage else None,
            current_en=stage.name_en if stage else None,
        )
    return None


async def _stage_now(ctx: Context, unit: Unit) -> Stage | None:
    campaign = await ctx.current_campaign(unit)
    return await ctx.store.campaigns.stage_on(campaign.id, local_date(unit, ctx.now()))


async def _in_its_stage(ctx: Context, unit: Unit, run: SelfCheckRun) -> bool:
    """Answers go to a run of the stage under way only: a button or a flow left from a stage
    that has ended is turned down (the flow is left), and /check starts afresh."""
    stage = await _stage_now(ctx, unit)
    if run.stage_id == (stage.id if stage else None):
        return True
    await ctx.store.conversations.end(run.member_id)
    ctx.reply("selfchecks/stage_ended", to=ctx.personal)
    return False


async def _resume(ctx: Context, member: Member, unit: Unit, run: SelfCheckRun) -> None:
    """Continue a run exactly where it was, keeping anything half-entered."""
    done = len(await ctx.store.selfchecks.answers(run.id))
    ctx.reply("selfchecks/resumed", to=ctx.personal, done=done)
    conversation = await ctx.store.conversations.current(member.id)
    if (
        conversation is None
        or conversation.flow != FLOW
        or conversation.data.get("run_id") != run.id
    ):
        # Left by Pause or by another flow: a failed item still without its rectification
        # is asked about again, so no failure is left without one.
        failing = await _unfixed_failure(ctx, run)
        if failing is None:
            await _enter_flow(ctx, run)
        else:
            data = {"run_id": run.id, "failing_item_id": failing}
            await _ask_due(ctx, member, unit, data)
            return
    elif conversation.step in ("fail_due", "fail_due_check"):
        await _ask_due(ctx, member, unit, dict(conversation.data))
        return
    elif conversation.step == "fail_comment":
        item = await ctx.store.selfchecks.item(int(conversation.data["failing_item_id"]))
        assert item is not None
        ctx.reply("selfchecks/ask_fail_comment", to=ctx.personal, item=_text(item, ctx.locale))
        return
    await _show_next(ctx, run)


async def _enter_flow(ctx: Context, run: SelfCheckRun) -> None:
    await ctx.store.conversations.start(run.member_id, FLOW, "item", {"run_id": run.id}, ctx.now())


# --- answering -----------------------------------------------------------------------------------


async def answer_item(ctx: Context) -> None:
    member, unit = ctx.seated()
    run_id, item_id, result = _parse_answer(ctx.event.value)
    run = await ctx.records.selfcheck_run(run_id)
    if run.finished_at is not None:
        raise Refusal("selfchecks/already_finished")
    if not await _in_its_stage(ctx, unit, run):
        return
    item = await ctx.store.selfchecks.item(item_id)
    if item is None or item.checklist_id != run.checklist_id:
        raise Refusal("errors/stale_button")
    conversation = await ctx.store.conversations.current(member.id)
    data: dict[str, Any] = (
        dict(conversation.data) if conversation and conversation.flow == FLOW else {}
    )
    if data.get("run_id") != run.id:
        data = {"run_id": run.id}
    if data.get("failing_item_id"):
        # A deadline or note is still being asked for the last failed item: finish that first.
        raise Refusal("selfchecks/finish_failed_first")
    if await _unfixed_failure(ctx, run) is not None:
        # The flow was left before that deadline was given: ask for it again first.
        await _resume(ctx, member, unit, run)
        return
    recorded = await ctx.store.selfchecks.record(
        run_id=run.id,
        item_id=item.id,
        result=result,
        now=ctx.now(),
        comment=data.pop("pending_comment", None),
        photo_ref=data.pop("pending_photo", None),
    )
    if not recorded:
        ctx.reply("selfchecks/already_answered", to=ctx.personal)
        await _show_next(ctx, run)
        return
    ctx.reply(
        "selfchecks/recorded",
        to=ctx.personal,
        replace_pressed=True,
        result=Text(f"selfchecks/result_{result}"),
    )
    if result == "fail":
        data["failing_item_id"] = item.id
        await ctx.store.conversations.start(member.id, FLOW, "fail_comment", data, ctx.now())
        answer = await _answer_for(ctx, run.id, item.id)
        if answer.comment:
            await _ask_due(ctx, member, unit, data)
        else:
            ctx.reply("selfchecks/ask_fail_comment", to=ctx.personal, item=_text(item, ctx.locale))
        return
    await ctx.store.conversations.start(member.id, FLOW, "item", data, ctx.now())
    await _show_next(ctx, run)


async def typed(ctx: Context) -> None:
    """Free text inside the flow: a note for the next answer, or the failed item's note and date."""
    member, unit = ctx.seated()
    conversation = await ctx.store.conversations.current(member.id)
    assert conversation is not None
    data = dict(conversation.data)
    run = await ctx.store.selfchecks.run(int(data["run_id"]))
    if run is None or run.finished_at is not None:
        await ctx.store.conversations.end(member.id)
        raise Refusal("selfchecks/already_finished")
    if not await _in_its_stage(ctx, unit, run):
        return
    text = ctx.event.text.strip()
    if conversation.step == "fail_comment":
        answer = await _answer_for(ctx, run.id, int(data["failing_item_id"]))
        ctx.store.selfchecks.annotate(
            answer,
            comment=None if ctx.means(text, "selfchecks/skip") else text,
            photo_ref=ctx.event.photo_ref,
        )
        await _ask_due(ctx, member, unit, data)
        return
    if conversation.step == "fail_due_check" and ctx.means(text, "selfchecks/keep_due"):
        await _keep_due(ctx, member, unit, run, data)
        return
    if conversation.step in ("fail_due", "fail_due_check"):
        # At the echo of a doubtful deadline, anything but "yes" is the deadline typed again.
        await _set_due(ctx, member, unit, run, data, text)
        return
    if text:
        data["pending_comment"] = text
    if ctx.event.photo_ref:
        data["pending_photo"] = ctx.event.photo_ref
    await ctx.store.conversations.move(conversation, "item", data, ctx.now())
    ctx.reply("selfchecks/note_kept", to=ctx.personal)


async def _ask_due(ctx: Context, member: Member, unit: Unit, data: dict[str, Any]) -> None:
    """Ask by when the failed item must be fixed; the next text typed is the deadline."""
    campaign = await ctx.current_campaign(unit)
    data.pop("due", None)
    await ctx.store.conversations.start(member.id, FLOW, "fail_due", data, ctx.now())
    ctx.reply("selfchecks/ask_due", to=ctx.personal, days=deadlines_of(campaign).rectification_days)


async def _set_due(
    ctx: Context, member: Member, unit: Unit, run: SelfCheckRun, data: dict[str, Any], text: str
) -> None:
    campaign = await ctx.current_campaign(unit)
    if not text or ctx.means(text, "selfchecks/skip"):
        due = end_of_day(
            ctx.now() + dt.timedelta(days=deadlines_of(campaign).rectification_days), unit.timezone
        )
    else:
        when = parse_when(text, ctx.now(), unit.timezone, calendar=unit.calendar)
        if when is None or when.kind == "recurring":
            raise Refusal("selfchecks/bad_date", given=text)
        due = when.at if when.has_time else end_of_day(when.at, unit.timezone)
        if due <= ctx.now():
            raise Refusal("selfchecks/date_past", due=due, zone=unit.timezone)
        if when.to_confirm:
            await _confirm_due(ctx, member, unit, run, data, when, due)
            return
    await _create_rectification(ctx, member, unit, run, data, due)


async def _confirm_due(
    ctx: Context,
    member: Member,
    unit: Unit,
    run: SelfCheckRun,
    data: dict[str, Any],
    when: When,
    due: dt.datetime,
) -> None:
    """Echo a deadline read with a guess, or on a day off, and save it only once confirmed."""
    data["due"] = due.isoformat()
    await ctx.store.conversations.start(member.id, FLOW, "fail_due_check", data, ctx.now())
    ctx.reply(
        "selfchecks/confirm_due",
        to=ctx.personal,
        buttons=(Button(Text("selfchecks/button_keep_due"), "check.keep_due", str(run.id)),),
        due=due,
        zone=unit.timezone,
        notes=notes(when, unit.timezone),
    )


async def keep_due(ctx: Context) -> None:
    """Yes to the echoed deadline: the rectification is created with it."""
    member, unit = ctx.seated()
    conversation = await ctx.store.conversations.current(member.id)
    if (
        conversation is None
        or conversation.flow != FLOW
        or conversation.step != "fail_due_check"
        or str(conversation.data.get("run_id")) != ctx.event.value
    ):
        raise Refusal("errors/stale_button")
    data = dict(conversation.data)
    run = await ctx.records.selfcheck_run(int(data["run_id"]))
    await _keep_due(ctx, member, unit, run, data)


async def _keep_due(
    ctx: Context, member: Member, unit: Unit, run: SelfCheckRun, data: dict[str, Any]
) -> None:
    """Create the rectification with the echoed deadline, unless it has passed meanwhile."""
    due = dt.datetime.fromisoformat(str(data["due"]))
    if due <= ctx.now():
        raise Refusal("selfchecks/date_past", due=due, zone=unit.timezone)
    await _create_rectification(ctx, member, unit, run, data, due)


async def _create_rectification(
    ctx: Context,
    member: Member,
    unit: Unit,
    run: SelfCheckRun,
    data: dict[str, Any],
    due: dt.datetime,
) -> None:
    data.pop("due", None)
    item_id = int(data.pop("failing_item_id"))
    item = await ctx.store.selfchecks.item(item_id)
    answer = await _answer_for(ctx, run.id, item_id)
    assert item is not None
    owner = await ctx.store.rectifications.unit_head(unit.id) or member
    rectification = await ctx.store.rectifications.create(
        unit_id=unit.id,
        owner_member_id=owner.id,
        created_by_member_id=member.id,
        due_at=due,
        now=ctx.now(),
        description=answer.comment or "",
        run_id=run.id,
        item_id=item.id,
    )
    ctx.reply(
        "selfchecks/rectification_created",
        to=ctx.personal,
        number=rectification.id,
        item=_text(item, ctx.locale),
        due=due,
        zone=unit.timezone,
        owner=owner.display_name,
        mine=owner.id == member.id,
    )
    if owner.id != member.id:
        ctx.notify(
            owner.id,
            "selfchecks/rectification_assigned",
            number=rectification.id,
            item=_text(item, "zh"),
            item_en=_text(item, "en"),
            due=due,
            zone=unit.timezone,
            reporter=member.display_name,
        )
    await ctx.store.conversations.start(member.id, FLOW, "item", data, ctx.now())
    await _show_next(ctx, run)


async def pause(ctx: Context) -> None:
    member, unit = ctx.seated()
    await ctx.store.conversations.end(member.id)
    stage = await _stage_now(ctx, unit)  # it can be continued until its stage ends
    until = stage.ends_on if stage else None
    ctx.reply("selfchecks/paused", to=ctx.personal, replace_pressed=True, until=until)


# --- showing the next item and finishing ---------------------------------------------------------


async def _show_next(ctx: Context, run: SelfCheckRun) -> None:
    items = await ctx.store.selfchecks.items(run.checklist_id)
    answered = {a.item_id for a in await ctx.store.selfchecks.answers(run.id)}
    remaining = [item for item in items if item.id not in answered]
    if not remaining:
        await _finish(ctx, run, items)
        return
    item = remaining[0]
    answers = [
        Button(
            Text(f"selfchecks/result_{result}"),
            "check.answer",
            f"{run.id}:{item.id}:{result}",
            style,
        )
        for result, style in (("pass", "primary"), ("fail", "danger"), ("na", "default"))
    ]
    buttons = (*answers, Button(Text("selfchecks/button_pause"), "check.pause", str(run.id)))
    ctx.reply(
        "selfchecks/item",
        to=ctx.personal,
        buttons=buttons,
        position=len(answered) + 1,
        count=len(items),
        text=_text(item, ctx.locale),
        kind=Text(f"selfchecks/kind_{item.kind}"),
        critical=item.critical,
    )


def weighted_score(
    items: list[ChecklistItem], answers: list[SelfCheckAnswer]
) -> tuple[float, ChecklistItem | None]:
    """The weighted pass rate out of 100 over items that applied; 0 if a critical item failed."""
    by_id = {item.id: item for item in items}
    results = {a.item_id: a.result for a in answers if a.item_id in by_id}
    critical_failed = next(
        (by_id[i] for i, result in results.items() if result == "fail" and by_id[i].critical), None
    )
    counted = [
        (by_id[i].weight, result == "pass") for i, result in results.items() if result != "na"
    ]
    total = sum(weight for weight, _ in counted)
    score = 100.0 if total == 0 else 100.0 * sum(w for w, ok in counted if ok) / total
    return (0.0 if critical_failed else round(score, 1)), critical_failed


async def _finish(ctx: Context, run: SelfCheckRun, items: list[ChecklistItem]) -> None:
    answers = await ctx.store.selfchecks.answers(run.id)
    score, zeroed_by = weighted_score(items, answers)
    ctx.store.selfchecks.finish(run, score, zeroed_by.id if zeroed_by else None, ctx.now())
    await ctx.store.conversations.end(run.member_id)
    unit = await ctx.store.units.get(run.unit_id)
    campaign = await ctx.current_campaign(unit) if unit else None
    assert unit is not None and campaign is not None
    points = points_of(campaign).selfcheck_completed
    awarded = await award_points(
        ctx.store,
        campaign=campaign,
        unit=unit,
        member_id=run.member_id,
        source="check",
        rule="selfcheck_completed",
        points=points,
        # Once a day per person: running self-checks back to back earns nothing more.
        key=f"check:{run.member_id}:{local_date(unit, ctx.now()).isoformat()}:completed",
        at=ctx.now(),
        ref=("selfcheck_run", run.id),
    )
    by_id = {item.id: item for item in items}
    failed = [
        _text(by_id[a.item_id], ctx.locale)
        for a in answers
        if a.result == "fail" and a.item_id in by_id
    ]
    stage = await ctx.store.campaigns.stage_on(campaign.id, local_date(unit, ctx.now()))
    rectifications = await ctx.store.rectifications.of_run(run.id)
    ctx.reply(
        "selfchecks/finished",
        to=ctx.personal,
        score=score,
        target=stage.target_score if stage else None,
        failed=failed,
        zeroed_by=_text(zeroed_by, ctx.locale) if zeroed_by else None,
        rectifications=len(rectifications),
        points=points if awarded else 0,
    )


# --- helpers -------------------------------------------------------------------------------------


async def _campaign_and_stage(
    ctx: Context, member: Member, unit: Unit
) -> tuple[Campaign, str | None, dt.date]:
    today = local_date(unit, ctx.now())
    campaign = await ctx.current_campaign(unit)
    stage = await ctx.store.campaigns.stage_on(campaign.id, today)
    return campaign, stage.key if stage else None, today


async def _checklists(
    ctx: Context, campaign: Campaign, stage_key: str | None, unit: Unit
) -> list[Checklist]:
    """The checklists this unit checks in this stage (a checklist may name units it is for)."""
    lineage = {u.key for u in await ctx.store.units.lineage(unit.id)}
    return await ctx.store.selfchecks.checklists_for(campaign.id, stage_key, lineage)


async def _unfixed_failure(ctx: Context, run: SelfCheckRun) -> int | None:
    """A failed item of the run that has no rectification yet (its deadline was never given)."""
    fixed = {r.item_id for r in await ctx.store.rectifications.of_run(run.id)}
    for answer in await ctx.store.selfchecks.answers(run.id):
        if answer.result == "fail" and answer.item_id not in fixed:
            return answer.item_id
    return None


async def _answer_for(ctx: Context, run_id: int, item_id: int) -> SelfCheckAnswer:
    for answer in await ctx.store.selfchecks.answers(run_id):
        if answer.item_id == item_id:
            return answer
    raise Refusal("errors/stale_button")


def _text(item: ChecklistItem, locale: str) -> str:
    return item.text_zh if locale == "zh" else item.text_en


def _title(checklist: Any, locale: str) -> str:
    return str(checklist.title_zh if locale == "zh" else checklist.title_en)


def _parse_answer(value: str) -> tuple[int, int, str]:
    parts = value.split(":")
    if len(parts) != 3 or parts[2] not in RESULTS:
        raise Refusal("errors/stale_button")
    return number(parts[0]), number(parts[1]), parts[2]
