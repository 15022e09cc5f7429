"""Awards (评选表彰): suggestions on the plan's awards day (``scoring.awards_on``, else the summary
stage's first day): service stars, advanced units, by the plan's criteria (a ``where`` condition
and a ``rank_by`` formula over named values), for supervisors to confirm."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from campaigns.formula import FormulaError, parse_formula
from campaigns.schema import AWARD_NAMES, Award
from handlers.framework.context import Context
from handlers.framework.router import Router
from handlers.shared.calendar import first_working_day_from, local_date, local_time
from handlers.shared.locale import pick_locale
from handlers.shared.outbox import due_now, push_to_unit, queue_private
from handlers.shared.plan import awards_day, campaign_units
from handlers.shared.units import unit_name
from kernel import SUPERVISORS, Button, Refusal, Reply, Text, Window
from messages import LOCALES
from storage.models import Campaign, Unit
from storage.reports import MemberFigures, Scope, UnitFigures
from storage.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    award: Award
    names: list[str]


async def suggest_awards(
    store: Store,
    campaign: Campaign,
    root: Unit,
    locale: str,
    now: dt.datetime,
    *,
    skip_failed: bool = False,
) -> list[Suggestion]:
    """Rank members and units of ``root`` over the whole campaign by each award's formula.

    An award whose formula cannot be worked out is logged, then left out (``skip_failed``, for
    the scheduled job) or refused (Refusal ``awards/formula_failed``, for a person)."""
    awards = [Award.model_validate(a) for a in campaign.plan.get("scoring", {}).get("awards", [])]
    if not awards:
        return []
    facts = await _facts(store, campaign, root, locale)
    suggestions = []
    for award in awards:
        try:
            where = parse_formula(award.where, AWARD_NAMES)
            rank_by = parse_formula(award.rank_by, AWARD_NAMES)
            candidates = [
                (rank_by.evaluate(values), name)
                for values, name in (
                    facts.member_values() if award.scope == "member" else facts.unit_values()
                )
                if where.evaluate(values)
            ]
        except FormulaError as exc:
            log.warning(
                "awards.formula_failed award=%s where=%r rank_by=%r reason=%s %s",
                award.key,
                award.where,
                award.rank_by,
                exc.reason,
                exc.detail,
            )
            if skip_failed:
                continue
            raise Refusal(
                "awards/formula_failed", zh=award.name.zh, en=award.name.en, **exc.template_data()
            ) from None
        candidates.sort(key=lambda c: -c[0])  # stable: ties keep the ranking's order
        suggestions.append(Suggestion(award, [name for _, name in candidates[: award.top]]))
    return suggestions


@dataclass(frozen=True)
class _Facts:
    """What award formulas may name, for the members and units of one subtree."""

    members: list[MemberFigures]  # by points, most first
    units: list[UnitFigures]  # by points per member, best first
    unit_names: dict[int, str]
    deeds_by_member: Counter[int]
    deeds_by_unit: Counter[int]
    complaints: Counter[int]
    praise_units: Counter[int]
    praise_members: Counter[int]

    def _of_unit(self, unit_id: int) -> dict[str, float]:
        line = next((u for u in self.units if u.unit_id == unit_id), None)
        return {
            "points": line.points if line else 0,
            "points_per_member": line.points / line.members if line else 0,
            "selfcheck_average": (line.selfcheck_average or 0) if line else 0,
            "inspection_score": (line.inspection_score or 0) if line else 0,
            "deeds": self.deeds_by_unit[unit_id],
            "complaints": self.complaints[unit_id],
            "praise": self.praise_units[unit_id],
        }

    def member_values(self) -> list[tuple[dict[str, float], str]]:
        return [
            (
                {
                    **self._of_unit(m.unit_id),
                    "points": m.points,
                    "drill_accuracy": _accuracy(m.drills_correct, m.drills_answered),
                    "deeds": self.deeds_by_member[m.member_id],
                    "praise": self.praise_members[m.member_id],
                },
                m.name,
            )
            for m in self.members
        ]

    def unit_values(self) -> list[tuple[dict[str, float], str]]:
        values = []
        for unit in self.units:
            people = [m for m in self.members if m.unit_id == unit.unit_id]
            accuracy = _accuracy(
                sum(m.drills_correct for m in people), sum(m.drills_answered for m in people)
            )
            values.append(
                (
                    {**self._of_unit(unit.unit_id), "drill_accuracy": accuracy},
                    self.unit_names.get(unit.unit_id, ""),
                )
            )
        return values


async def _facts(store: Store, campaign: Campaign, root: Unit, locale: str) -> _Facts:
    rows = store.reports
    unit_ids = await store.units.subtree_ids(root.id)
    scope = Scope.of_dates(
        campaign.id, unit_ids, root.timezone, campaign.starts_on, campaign.ends_on
    )
    facts = _Facts(
        members=sorted(await rows.member_figures(scope), key=lambda m: (-m.points, m.member_id)),
        units=rows.ranked_units(await rows.unit_figures(scope), root.id),
        unit_names={
            u.id: unit_name(u, locale)
            for u in await store.units.of_organisation(root.organisation_id)
        },
        deeds_by_member=Counter(),
        deeds_by_unit=Counter(),
        complaints=Counter(),
        praise_units=Counter(),
        praise_members=Counter(),
    )
    for deed, doers in await rows.deeds(scope):
        if deed.status == "approved":
            facts.deeds_by_unit[deed.unit_id] += 1
            facts.deeds_by_member.update(doers)
    for observation in await rows.observations(unit_ids, scope.until):
        if observation.kind == "complaint":
            facts.complaints[observation.unit_id] += 1
        elif observation.kind == "praise":
            facts.praise_units[observation.unit_id] += 1
            if observation.praised_member_id:
                facts.praise_members[observation.praised_member_id] += 1
    return facts


def _accuracy(correct: int, answered: int) -> float:
    return 100 * correct / answered if answered else 0.0


def register(router: Router) -> None:
    awards = router.feature("awards")
    awards.action("awards.confirm", confirm_awards, roles=SUPERVISORS)


async def confirm_awards(ctx: Context) -> None:
    """A supervisor confirms the suggestions: the awards are announced (通报) in every chat of
    the unit and the units below it, once; not before the plan's awards day."""
    member, _ = ctx.seated()
    _, _, unit_text = ctx.event.value.partition(":")
    unit = await ctx.records.unit(unit_text)
    today = local_date(unit, ctx.now())
    campaign = await ctx.store.campaigns.current(member.organisation_id, today)
    day = awards_day(campaign, await ctx.store.campaigns.stages(campaign.id)) if campaign else None
    if campaign is None or day is None or today < day:
        raise Refusal("awards/not_now", day=day)
    notices = {  # each chat reads the units' names in its own language
        locale: _notice(
            await suggest_awards(ctx.store, campaign, unit, locale, ctx.now()), member.display_name
        )
        for locale in LOCALES
    }
    queued = 0
    for unit_id in await ctx.store.units.subtree_ids(unit.id):
        target = await ctx.store.units.get(unit_id)
        if target is not None:
            # The key is the server's: the campaign and the units, once whoever presses.
            queued += await push_to_unit(
                ctx.store,
                target,
                f"awards-notice:{campaign.id}:{unit.id}:{unit_id}",
                notices.__getitem__,
                ctx.now(),
                ctx.now(),
            )
    if not queued:
        raise Refusal("awards/already_confirmed")
    ctx.reply("awards/confirmed", to=ctx.personal, replace_pressed=True)


def _notice(suggestions: list[Suggestion], by: str) -> Reply:
    """The awards announcement (通报) as a group chat reads it."""
    lines = [
        Text("awards/line", {"zh": s.award.name.zh, "en": s.award.name.en, "names": s.names})
        for s in suggestions
    ]
    return Reply(text=Text("awards/notice", {"lines": lines, "by": by}))


async def suggest_summary_awards(store: Store, window: Window) -> None:
    """On the plan's awards day (its first working day, at the morning meeting), each unit's
    supervisors get award suggestions for their unit and the units below it (admins: the whole
    organisation), to confirm."""
    async for campaign, stages, unit, grace in campaign_units(store, window, with_chat=False):
        day = awards_day(campaign, stages)
        if day is None:
            continue
        moment = local_time(unit, first_working_day_from(unit, day), unit.morning_meeting)
        if due_now(window, moment, grace, f"awards campaign={campaign.id} unit={unit.id}"):
            await _send_award_suggestions(store, campaign, unit, moment, window.until)


async def _send_award_suggestions(
    store: Store,
    campaign: Campaign,
    unit: Unit,
    moment: dt.datetime,
    now: dt.datetime,
) -> None:
    """On the awards day: award suggestions for the unit and below, to its supervisors."""
    supervisors = [m for m in await store.members.of_unit(unit.id) if m.role in SUPERVISORS]
    if unit.parent_id is None:
        supervisors += [
            m
            for m in await store.members.admins(unit.organisation_id)
            if m.id not in {s.id for s in supervisors}
        ]
    confirm = Button(
        Text("awards/button_confirm"), "awards.confirm", f"{campaign.id}:{unit.id}", "primary"
    )
    lines: dict[str, list[Text]] = {}  # the units' names in each supervisor's language
    for person in supervisors:
        locale = pick_locale(person.locale, fallback=unit.locale)
        if locale not in lines:
            suggestions = await suggest_awards(store, campaign, unit, locale, now, skip_failed=True)
            lines[locale] = _award_lines(suggestions)
        if not lines[locale]:
            continue
        await queue_private(
            store,
            member_id=person.id,
            reply=Reply(
                text=Text("awards/suggestions", {"lines": lines[locale]}), buttons=(confirm,)
            ),
            key=f"awards:{campaign.id}:{unit.id}:{person.id}",
            due_at=moment,
            now=now,
        )


def _award_lines(suggestions: list[Suggestion]) -> list[Text]:
    return [
        Text("awards/line", {"zh": s.award.name.zh, "en": s.award.name.en, "names": s.names})
        for s in suggestions
    ]
