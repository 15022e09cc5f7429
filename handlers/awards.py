"""Award suggestions at the summary stage (评选表彰): service stars, advanced units, by the plan's
criteria (a ``where`` condition and a ``rank_by`` formula over named values), for supervisors to
confirm."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from campaigns.formula import parse_formula
from campaigns.schema import AWARD_NAMES, Award
from handlers.report_builder import build_report, period_scope
from handlers.report_data import Report
from storage.models import Campaign, Unit
from storage.reports import ReportRows
from storage.store import Store


@dataclass(frozen=True)
class Suggestion:
    award: Award
    names: list[str]


async def suggest_awards(
    store: Store, campaign: Campaign, root: Unit, locale: str, now: dt.datetime
) -> list[Suggestion]:
    """Rank members and units over the whole campaign by each award's formula."""
    awards = [Award.model_validate(a) for a in campaign.plan.get("scoring", {}).get("awards", [])]
    if not awards:
        return []
    report = await build_report(
        store, campaign, root, campaign.starts_on, campaign.ends_on, locale, now
    )
    rows = ReportRows(store.session)
    unit_ids = await store.units.subtree_ids(root.id)
    scope = period_scope(campaign, unit_ids, root.timezone, campaign.starts_on, campaign.ends_on)
    deeds_by_member: Counter[int] = Counter()
    deeds_by_unit: Counter[int] = Counter()
    for deed, doers in await rows.deeds(scope):
        if deed.status == "approved":
            deeds_by_unit[deed.unit_id] += 1
            deeds_by_member.update(doers)
    complaints: Counter[int] = Counter()
    praise_units: Counter[int] = Counter()
    praise_members: Counter[int] = Counter()
    for observation in await rows.observations(unit_ids, scope.until):
        if observation.kind == "complaint":
            complaints[observation.unit_id] += 1
        elif observation.kind == "praise":
            praise_units[observation.unit_id] += 1
            if observation.praised_member_id:
                praise_members[observation.praised_member_id] += 1
    members = await rows.members(scope)
    unit_of = {m.id: m.unit_id or 0 for m in members}
    units = {line.unit_id: line for line in report.units}

    def unit_values(unit_id: int) -> dict[str, float]:
        line = units.get(unit_id)
        return {
            "points": line.points if line else 0,
            "points_per_member": line.per_member if line else 0,
            "selfcheck_average": (line.selfcheck_average or 0) if line else 0,
            "inspection_score": (line.inspection_score or 0) if line else 0,
            "deeds": deeds_by_unit[unit_id],
            "complaints": complaints[unit_id],
            "praise": praise_units[unit_id],
        }

    suggestions = []
    for award in awards:
        where = parse_formula(award.where, AWARD_NAMES)
        rank_by = parse_formula(award.rank_by, AWARD_NAMES)
        candidates: list[tuple[float, str]] = []
        if award.scope == "member":
            for line in report.members:
                values = {
                    **unit_values(unit_of.get(line.member_id, 0)),
                    "points": line.points,
                    "drill_accuracy": 100 * line.drills_correct / line.drills_answered
                    if line.drills_answered
                    else 0,
                    "deeds": deeds_by_member[line.member_id],
                    "praise": praise_members[line.member_id],
                }
                if where.evaluate(values):
                    candidates.append((rank_by.evaluate(values), line.name))
        else:
            for line in report.units:
                values = {
                    **unit_values(line.unit_id),
                    "drill_accuracy": _unit_accuracy(report, line.name),
                }
                if where.evaluate(values):
                    candidates.append((rank_by.evaluate(values), line.name))
        candidates.sort(key=lambda c: -c[0])
        suggestions.append(Suggestion(award, [name for _, name in candidates[: award.top]]))
    return suggestions


def _unit_accuracy(report: Report, unit_name: str) -> float:
    members = [m for m in report.members if m.unit == unit_name]
    answered = sum(m.drills_answered for m in members)
    return 100 * sum(m.drills_correct for m in members) / answered if answered else 0.0
