"""A report, section by section: the records of a unit (and the units under it) over a period are
read once into a ``Source``, and each section of the ``Report`` is one small function of it that
returns typed rows (``messages/reports/model.py``).

What grows with the people and the days (the points ledger, drill answers, failed self-check
items) is counted and summed in SQL; the ledger's rows are streamed to the sheet as it is
written (``ledger_feed.py``), never held here."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from statistics import mean
from typing import Any

from handlers.reports.ledger_feed import StreamedLedger
from handlers.shared.calendar import local_date
from handlers.shared.standing import stage_standing
from messages.reports.model import (
    Activity,
    DeedRow,
    DrillRow,
    FollowUps,
    Headline,
    InspectionRow,
    ItemLine,
    MemberLine,
    ObservationRow,
    Records,
    RectificationRow,
    Report,
    SelfCheckRow,
    Standing,
    TrendPoint,
    UnitLine,
    reaches,
)
from storage.models import (
    Campaign,
    Checklist,
    ChecklistItem,
    Deed,
    Inspection,
    Observation,
    Rectification,
    SelfCheckRun,
    Unit,
)
from storage.reports import MemberFigures, Scope, UnitFigures
from storage.store import Store

WEAKEST = 5
DAILY_TREND_UP_TO_DAYS = 14


@dataclass(frozen=True)
class Source:
    """Everything a report reads, loaded once; names are in the report's language."""

    unit: Unit
    units: dict[int, Unit]
    scope: Scope
    zh: bool
    now: dt.datetime
    headline: Headline
    member_figures: list[MemberFigures]
    ranking: list[UnitFigures]  # units by points per member (ReportRows.ranked_units)
    ledger: StreamedLedger
    deed_points: dict[int, int]  # points each deed earned when approved, by deed id
    # each drill: id, local_date, unit_id, question_zh, question_en, kind, answers, correct
    drills: list[Any]
    runs: list[SelfCheckRun]
    failures: list[tuple[int, int, int]]  # (run id, item id, failures)
    items: dict[int, ChecklistItem]
    checklists: dict[int, Checklist]
    inspections: list[Inspection]
    rectifications: list[Rectification]
    deeds: list[tuple[Deed, list[int]]]
    observations: list[Observation]
    names: dict[int, str]  # members, including owners and reporters from outside the units
    standing: Standing | None  # against the target of the stage the period ends in
    stage_targets: dict[int, float | None]  # by stage id
    deed_categories: dict[str, str]  # the plan's names by key, in the report's language

    def unit_name(self, unit_id: int | None) -> str:
        found = self.units.get(unit_id or 0)
        return "" if found is None else (found.name_zh if self.zh else found.name_en)

    def item_text(self, item_id: int | None) -> str | None:
        item = self.items.get(item_id or 0)
        return None if item is None else (item.text_zh if self.zh else item.text_en)

    def day_of(self, moment: dt.datetime) -> dt.date:
        return local_date(self.unit, moment)


async def build_report(
    store: Store,
    campaign: Campaign,
    unit: Unit,
    first: dt.date,
    last: dt.date,
    locale: str,
    now: dt.datetime,
) -> Report:
    """The report of ``unit`` and the units under it from ``first`` to ``last``."""
    source = await load_source(store, campaign, unit, first, last, locale, now)
    return Report(
        headline=source.headline,
        activity=activity(source),
        follow_ups=follow_ups(source),
        standing=source.standing,
        members=member_lines(source),
        units=unit_lines(source),
        weakest_items=weakest_items(source),
        trend=trend(source),
        ledger=source.ledger,
        records=Records(
            selfchecks=selfcheck_rows(source),
            rectifications=rectification_rows(source),
            deeds=deed_rows(source),
            observations=observation_rows(source),
            inspections=inspection_rows(source),
            drills=drill_rows(source),
        ),
    )


async def load_source(
    store: Store,
    campaign: Campaign,
    unit: Unit,
    first: dt.date,
    last: dt.date,
    locale: str,
    now: dt.datetime,
) -> Source:
    zh = locale == "zh"
    unit_ids = await store.units.subtree_ids(unit.id)
    units = {
        u.id: u for u in await store.units.of_organisation(unit.organisation_id) if u.id in unit_ids
    }
    scope = Scope.of_dates(campaign.id, unit_ids, unit.timezone, first, last)
    rows = store.reports
    organisation = await store.units.organisation(unit.organisation_id)
    stage = await store.campaigns.stage_on(campaign.id, min(last, local_date(unit, now)))
    headline = Headline(
        organisation=(organisation.name_zh if zh else organisation.name_en) if organisation else "",
        unit=unit.name_zh if zh else unit.name_en,
        first=first,
        last=last,
        stage=(stage.name_zh if zh else stage.name_en) if stage else None,
        target=stage.target_score if stage else None,
    )
    member_figures = await rows.member_figures(scope)
    unit_figures = await rows.unit_figures(scope)
    runs = await rows.selfcheck_runs(scope)
    item_rows = await rows.checklist_items(campaign.id)
    rectifications = await rows.rectifications(unit_ids, scope.until)
    deeds = await rows.deeds(scope)
    observations = await rows.observations(unit_ids, scope.until)
    names = {m.member_id: m.name for m in member_figures}
    for needed in (
        {r.owner_member_id for r in rectifications}
        | {o.claimed_by_member_id or 0 for o in observations}
        | {d.reporter_member_id for d, _ in deeds}
        | {r.member_id for r in runs}
    ):
        if needed and needed not in names:
            person = await store.members.get(needed)
            names[needed] = person.display_name if person else ""
    standing = None
    if stage is not None:
        leaves = [u for u in units.values() if not any(o.parent_id == u.id for o in units.values())]
        standing = await stage_standing(store, stage, leaves, min(scope.until, now), locale)
    return Source(
        unit=unit,
        units=units,
        scope=scope,
        zh=zh,
        now=now,
        headline=headline,
        member_figures=member_figures,
        ranking=rows.ranked_units(unit_figures, unit.id),
        ledger=await StreamedLedger.of(
            store, scope, {u.id: u.name_zh if zh else u.name_en for u in units.values()}
        ),
        deed_points=await rows.deed_points(scope),
        drills=await rows.drill_figures(scope),
        runs=runs,
        failures=await rows.failures(scope),
        items={item.id: item for item, _ in item_rows},
        checklists={checklist.id: checklist for _, checklist in item_rows},
        inspections=await rows.inspections(scope),
        rectifications=rectifications,
        deeds=deeds,
        observations=observations,
        names=names,
        standing=standing,
        stage_targets={s.id: s.target_score for s in await store.campaigns.stages(campaign.id)},
        deed_categories={
            c["key"]: c["name"]["zh" if zh else "en"]
            for c in campaign.plan.get("scoring", {}).get("deed_categories", [])
        },
    )


# --- the headline numbers ---------------------------------------------------------------------


def activity(source: Source) -> Activity:
    scores = [run.score for run in source.runs if run.score is not None]
    return Activity(
        drill_answers=sum(drill.answers for drill in source.drills),
        drill_correct=sum(drill.correct for drill in source.drills),
        selfcheck_runs=len(source.runs),
        selfcheck_average=round(mean(scores), 1) if scores else None,
    )


def follow_ups(source: Source) -> FollowUps:
    """What is open, and what missed its deadline: still open past it, or closed after it in
    the period."""
    now = source.now
    open_fixes = [r for r in source.rectifications if r.status == "open"]
    fixes_late = _closed_late(source, source.rectifications)
    not_closed = [o for o in source.observations if o.status != "closed"]
    closed = _closed_in_period(source, source.observations)
    observations_late = _closed_late(source, source.observations)
    hours = [_hours_to_close(o) for o in closed]
    ratings = [o.rating for o in closed if o.rating is not None]
    return FollowUps(
        rectifications_open=len(open_fixes),
        rectifications_overdue=sum(1 for r in open_fixes if r.due_at < now) + fixes_late,
        rectifications_closed_late=fixes_late,
        deeds_approved=sum(1 for deed, _ in source.deeds if deed.status == "approved"),
        deeds_pending=sum(1 for deed, _ in source.deeds if deed.status == "pending"),
        observations_open=len(not_closed),
        observations_overdue=sum(1 for o in not_closed if o.due_at < now) + observations_late,
        observations_closed_late=observations_late,
        observation_hours_to_close=round(mean(hours), 1) if hours else None,
        satisfaction=round(mean(ratings), 2) if ratings else None,
        inspections=len(source.inspections),
        penalties=sum(_amounts(i, "penalty") for i in source.inspections),
        rewards=sum(_amounts(i, "reward") for i in source.inspections),
    )


def _closed_in_period(
    source: Source, records: list[Observation] | list[Rectification]
) -> list[Any]:
    scope = source.scope
    return [
        r for r in records if r.closed_at is not None and scope.since <= r.closed_at <= scope.until
    ]


def _closed_late(source: Source, records: list[Observation] | list[Rectification]) -> int:
    """Closed in the period after the deadline."""
    return sum(1 for r in _closed_in_period(source, records) if r.closed_at > r.due_at)


# --- rankings ------------------------------------------------------------------------------------


def member_lines(source: Source) -> tuple[MemberLine, ...]:
    """Members by points, most first."""
    lines = (
        MemberLine(
            m.member_id,
            m.name,
            source.unit_name(m.unit_id),
            m.points,
            m.drills_answered,
            m.drills_correct,
            m.selfchecks,
            m.name_hidden,
        )
        for m in source.member_figures
    )
    return tuple(sorted(lines, key=lambda line: (-line.points, line.member_id)))


def unit_lines(source: Source) -> tuple[UnitLine, ...]:
    """Units with members by points per member, best first."""
    ranked = source.ranking
    return tuple(
        UnitLine(
            rank,
            f.unit_id,
            source.unit_name(f.unit_id),
            f.members,
            f.points,
            f.selfcheck_average,
            source.standing.of_unit(f.unit_id) if source.standing else None,
        )
        for rank, f in enumerate(ranked, start=1)
    )


def weakest_items(source: Source) -> tuple[ItemLine, ...]:
    """The items that failed most, in self-checks and inspections alike."""
    by_key = {item.key: item for item in source.items.values()}
    failures: Counter[int] = Counter()
    for _, item_id, count in source.failures:
        failures[item_id] += count
    for inspection in source.inspections:
        failures.update(by_key[k].id for k in inspection.deducted_item_keys if k in by_key)
    return tuple(
        ItemLine(rank, item_id, source.item_text(item_id) or "", source.items[item_id].kind, count)
        for rank, (item_id, count) in enumerate(failures.most_common(WEAKEST), start=1)
    )


def trend(source: Source) -> tuple[TrendPoint, ...]:
    """Self-check average and drill accuracy per day (short periods) or per week."""
    first, last = source.scope.first, source.scope.last
    daily = (last - first).days < DAILY_TREND_UP_TO_DAYS

    def bucket(day: dt.date) -> dt.date:
        return day if daily else max(first, day - dt.timedelta(days=day.weekday()))

    scores: dict[dt.date, list[float]] = defaultdict(list)
    for run in source.runs:
        if run.score is not None and run.finished_at is not None:
            scores[bucket(source.day_of(run.finished_at))].append(run.score)
    answers: Counter[dt.date] = Counter()
    correct: Counter[dt.date] = Counter()
    for drill in source.drills:
        answers[bucket(drill.local_date)] += drill.answers
        correct[bucket(drill.local_date)] += drill.correct
    buckets = sorted({bucket(first + dt.timedelta(days=n)) for n in range((last - first).days + 1)})
    return tuple(
        TrendPoint(
            day,
            round(mean(scores[day]), 1) if scores.get(day) else None,
            round(100 * correct[day] / answers[day], 1) if answers[day] else None,
        )
        for day in buckets
    )


# --- the ledger and the record sheets ------------------------------------------------------------


def selfcheck_rows(source: Source) -> tuple[SelfCheckRow, ...]:
    failed_per_run: Counter[int] = Counter()
    for run_id, _, count in source.failures:
        failed_per_run[run_id] += count
    return tuple(
        SelfCheckRow(
            r.id,
            source.day_of(r.finished_at or r.started_at),
            source.names.get(r.member_id, ""),
            source.unit_name(r.unit_id),
            _title(source, r.checklist_id),
            r.score,
            failed_per_run[r.id],
            source.item_text(r.zeroed_by_item_id),
        )
        for r in source.runs
    )


def rectification_rows(source: Source) -> tuple[RectificationRow, ...]:
    return tuple(
        RectificationRow(
            r.id,
            source.day_of(r.created_at),
            source.unit_name(r.unit_id),
            source.item_text(r.item_id) or r.description,
            source.names.get(r.owner_member_id, ""),
            source.day_of(r.due_at),
            r.status,
            source.day_of(r.closed_at) if r.closed_at else None,
            r.close_note,
        )
        for r in source.rectifications
    )


def deed_rows(source: Source) -> tuple[DeedRow, ...]:
    points = source.deed_points
    return tuple(
        DeedRow(
            d.id,
            source.day_of(d.created_at),
            source.unit_name(d.unit_id),
            source.names.get(d.reporter_member_id, ""),
            len(doers),
            source.deed_categories.get(d.category_key, d.category_key),
            d.amount if d.amount is not None else d.days if d.days is not None else d.level,
            d.status,
            int(points.get(d.id, 0)),
        )
        for d, doers in source.deeds
    )


def observation_rows(source: Source) -> tuple[ObservationRow, ...]:
    return tuple(
        ObservationRow(
            o.id,
            source.day_of(o.created_at),
            source.unit_name(o.unit_id),
            o.kind,
            o.status,
            source.names.get(o.claimed_by_member_id or 0, ""),
            source.day_of(o.due_at),
            source.day_of(o.closed_at) if o.closed_at else None,
            round(_hours_to_close(o), 1) if o.closed_at else None,
            o.rating,
        )
        for o in source.observations
    )


def inspection_rows(source: Source) -> tuple[InspectionRow, ...]:
    return tuple(
        InspectionRow(
            i.id,
            i.inspected_on,
            source.unit_name(i.unit_id),
            i.kind,
            i.score,
            source.stage_targets.get(i.stage_id or 0),
            reaches(i.score, source.stage_targets.get(i.stage_id or 0)),
            len(i.deducted_item_keys),
            _amounts(i, "penalty"),
            _amounts(i, "reward"),
        )
        for i in source.inspections
    )


def drill_rows(source: Source) -> tuple[DrillRow, ...]:
    """One row per drill with its answers and right answers."""
    return tuple(
        DrillRow(
            drill.id,
            drill.local_date,
            source.unit_name(drill.unit_id),
            drill.question_zh if source.zh else drill.question_en,
            drill.kind,
            int(drill.answers),
            int(drill.correct),
        )
        for drill in source.drills
    )


def _title(source: Source, checklist_id: int) -> str:
    checklist = source.checklists.get(checklist_id)
    if checklist is None:
        return ""
    return checklist.title_zh if source.zh else checklist.title_en


def _hours_to_close(observation: Observation) -> float:
    assert observation.closed_at is not None
    return (observation.closed_at - observation.created_at).total_seconds() / 3600


def _amounts(inspection: Inspection, kind: str) -> float:
    """The inspection's penalties or rewards, from the plan's assessment."""
    return sum(float(o.get("amount", 0)) for o in inspection.assessment if o.get("kind") == kind)
