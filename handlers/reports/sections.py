"""Building a Report from the records of a unit (and the units under it) over a period."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from statistics import mean
from zoneinfo import ZoneInfo

from handlers.shared.calendar import local_date
from messages.reports.model import (
    ItemLine,
    LedgerRow,
    MemberLine,
    RecordRow,
    Report,
    TrendPoint,
    UnitLine,
)
from storage.models import Campaign, Unit
from storage.reports import Scope
from storage.store import Store

WEAKEST = 5
DAILY_TREND_UP_TO_DAYS = 14


def period_scope(
    campaign: Campaign, unit_ids: list[int], zone: str, first: dt.date, last: dt.date
) -> Scope:
    tz = ZoneInfo(zone)
    since = dt.datetime.combine(first, dt.time.min, tz).astimezone(dt.UTC)
    until = dt.datetime.combine(last, dt.time.max, tz).astimezone(dt.UTC)
    return Scope(campaign.id, unit_ids, first, last, since, until)


async def build_report(
    store: Store,
    campaign: Campaign,
    unit: Unit,
    first: dt.date,
    last: dt.date,
    locale: str,
    now: dt.datetime,
) -> Report:
    """Gather everything the report shows; names are given in ``locale``."""
    unit_ids = await store.units.subtree_ids(unit.id)
    units = {
        u.id: u for u in await store.units.of_organisation(unit.organisation_id) if u.id in unit_ids
    }
    scope = period_scope(campaign, unit_ids, unit.timezone, first, last)
    rows = store.reports
    zh = locale == "zh"

    def unit_name(unit_id: int | None) -> str:
        found = units.get(unit_id or 0)
        return "" if found is None else (found.name_zh if zh else found.name_en)

    organisation = await store.units.organisation(unit.organisation_id)
    stage = await store.campaigns.stage_on(campaign.id, min(last, local_date(unit, now)))
    report = Report(
        organisation=(organisation.name_zh if zh else organisation.name_en) if organisation else "",
        unit=unit_name(unit.id),
        first=first,
        last=last,
        stage=(stage.name_zh if zh else stage.name_en) if stage else None,
        target=stage.target_score if stage else None,
    )
    members = await rows.members(scope)
    names = {m.id: m.display_name for m in members}

    ledger = await rows.ledger(scope)
    points_by_member: Counter[int] = Counter()
    points_by_unit: Counter[int] = Counter()
    for entry in ledger:
        if entry.member_id is not None:
            points_by_member[entry.member_id] += entry.points
        points_by_unit[entry.unit_id] += entry.points
    report.ledger = [
        LedgerRow(
            e.id,
            e.local_date,
            names.get(e.member_id or 0, ""),
            unit_name(e.unit_id),
            e.source,
            e.rule,
            e.points,
            e.idempotency_key,
        )
        for e in ledger
    ]

    drills = await rows.drill_answers(scope)
    answered: Counter[int] = Counter()
    correct: Counter[int] = Counter()
    drill_sheet: dict[int, list[object]] = {}
    for drill, answer, item in drills:
        sheet_row = drill_sheet.setdefault(
            drill.id,
            [
                drill.local_date,
                unit_name(drill.unit_id),
                item.question_zh if zh else item.question_en,
                item.kind,
                0,
                0,
            ],
        )
        if answer is None:
            continue
        answered[answer.member_id] += 1
        correct[answer.member_id] += int(answer.correct)
        sheet_row[4] = int(sheet_row[4]) + 1  # type: ignore[call-overload]
        sheet_row[5] = int(sheet_row[5]) + int(answer.correct)  # type: ignore[call-overload]
    report.drill_answers = sum(answered.values())
    report.drill_correct = sum(correct.values())

    runs = await rows.selfcheck_runs(scope)
    runs_by_member: Counter[int] = Counter(run.member_id for run in runs)
    scores = [run.score for run in runs if run.score is not None]
    report.selfcheck_runs = len(runs)
    report.selfcheck_average = round(mean(scores), 1) if scores else None

    report.members = sorted(
        (
            MemberLine(
                m.id,
                m.display_name,
                unit_name(m.unit_id),
                points_by_member[m.id],
                answered[m.id],
                correct[m.id],
                runs_by_member[m.id],
            )
            for m in members
        ),
        key=lambda line: (-line.points, line.member_id),
    )

    inspections = await rows.inspections(scope)
    latest_inspection = {i.unit_id: i.score for i in inspections}
    ranked_units = [u for u in units.values() if u.id != unit.id or len(units) == 1]
    member_count = Counter(m.unit_id for m in members)
    unit_scores: dict[int, list[float]] = defaultdict(list)
    for run in runs:
        if run.score is not None:
            unit_scores[run.unit_id].append(run.score)
    report.units = sorted(
        (
            UnitLine(
                u.id,
                unit_name(u.id),
                member_count[u.id],
                points_by_unit[u.id],
                round(mean(unit_scores[u.id]), 1) if unit_scores[u.id] else None,
                latest_inspection.get(u.id),
            )
            for u in ranked_units
            if member_count[u.id]
        ),
        key=lambda line: (-line.per_member, line.unit_id),
    )

    item_rows = await rows.checklist_items(campaign.id)
    items = {item.id: item for item, _ in item_rows}
    checklist_titles = {c.id: c.title_zh if zh else c.title_en for _, c in item_rows}
    item_by_key = {item.key: item for item in items.values()}
    failed = await rows.failed_answers([r.id for r in runs])
    failed_per_run: Counter[int] = Counter(a.run_id for a in failed)
    failures: Counter[int] = Counter(a.item_id for a in failed)
    for inspection in inspections:
        failures.update(
            item_by_key[k].id for k in inspection.deducted_item_keys if k in item_by_key
        )
    report.weakest_items = [
        ItemLine(
            item_id,
            items[item_id].text_zh if zh else items[item_id].text_en,
            items[item_id].kind,
            count,
        )
        for item_id, count in failures.most_common(WEAKEST)
    ]

    report.trend = _trend(first, last, unit, runs, drills)

    rectifications = await rows.rectifications(unit_ids, scope.until)
    open_ones = [r for r in rectifications if r.status == "open"]
    report.rectifications_open = len(open_ones)
    report.rectifications_overdue = sum(1 for r in open_ones if r.due_at < now)

    deeds = await rows.deeds(scope)
    report.deeds_approved = sum(1 for deed, _ in deeds if deed.status == "approved")
    report.deeds_pending = sum(1 for deed, _ in deeds if deed.status == "pending")
    deed_points: Counter[int] = Counter()
    for entry in ledger:
        if entry.source == "deed" and entry.rule == "deed_approved" and entry.ref_id is not None:
            deed_points[entry.ref_id] += entry.points

    observations = await rows.observations(unit_ids, scope.until)
    not_closed = [o for o in observations if o.status != "closed"]
    report.observations_open = len(not_closed)
    report.observations_overdue = sum(1 for o in not_closed if o.due_at < now)
    closed = [
        o
        for o in observations
        if o.closed_at is not None and scope.since <= o.closed_at <= scope.until
    ]
    hours = [(o.closed_at - o.created_at).total_seconds() / 3600 for o in closed if o.closed_at]
    report.observation_hours_to_close = round(mean(hours), 1) if hours else None
    ratings = [o.rating for o in closed if o.rating is not None]
    report.satisfaction = round(mean(ratings), 2) if ratings else None

    for inspection in inspections:
        for outcome in inspection.assessment:
            if outcome.get("kind") == "penalty":
                report.penalties += float(outcome.get("amount", 0))
            else:
                report.rewards += float(outcome.get("amount", 0))

    every_member = {m.id: m.display_name for m in members}
    for needed in (
        {r.owner_member_id for r in rectifications}
        | {o.claimed_by_member_id or 0 for o in observations}
        | {d.reporter_member_id for d, _ in deeds}
    ):
        if needed and needed not in every_member:
            person = await store.members.get(needed)
            every_member[needed] = person.display_name if person else ""

    def day_of(moment: dt.datetime) -> dt.date:
        return local_date(unit, moment)

    report.inspections = [
        RecordRow(
            i.id,
            i.inspected_on,
            (
                unit_name(i.unit_id),
                i.kind,
                i.score,
                report.target,
                len(i.deducted_item_keys),
                sum(float(o.get("amount", 0)) for o in i.assessment if o.get("kind") == "penalty"),
                sum(float(o.get("amount", 0)) for o in i.assessment if o.get("kind") == "reward"),
            ),
        )
        for i in inspections
    ]
    report.sheets = {
        "selfchecks": [
            RecordRow(
                r.id,
                day_of(r.finished_at or r.started_at),
                (
                    every_member.get(r.member_id, ""),
                    unit_name(r.unit_id),
                    checklist_titles.get(r.checklist_id, ""),
                    r.score,
                    failed_per_run[r.id],
                    (
                        items[r.zeroed_by_item_id].text_zh
                        if zh
                        else items[r.zeroed_by_item_id].text_en
                    )
                    if r.zeroed_by_item_id in items
                    else None,
                ),
            )
            for r in runs
        ],
        "rectifications": [
            RecordRow(
                r.id,
                day_of(r.created_at),
                (
                    unit_name(r.unit_id),
                    (items[r.item_id].text_zh if zh else items[r.item_id].text_en)
                    if r.item_id in items
                    else r.description,
                    every_member.get(r.owner_member_id, ""),
                    day_of(r.due_at).isoformat(),
                    r.status,
                    day_of(r.closed_at).isoformat() if r.closed_at else None,
                    r.close_note,
                ),
            )
            for r in rectifications
        ],
        "deeds": [
            RecordRow(
                d.id,
                day_of(d.created_at),
                (
                    unit_name(d.unit_id),
                    every_member.get(d.reporter_member_id, ""),
                    len(doers),
                    d.category_key,
                    d.amount if d.amount is not None else d.days if d.days is not None else d.level,
                    d.status,
                    deed_points[d.id],
                ),
            )
            for d, doers in deeds
        ],
        "observations": [
            RecordRow(
                o.id,
                day_of(o.created_at),
                (
                    unit_name(o.unit_id),
                    o.kind,
                    o.status,
                    every_member.get(o.claimed_by_member_id or 0, ""),
                    day_of(o.due_at).isoformat(),
                    day_of(o.closed_at).isoformat() if o.closed_at else None,
                    round((o.closed_at - o.created_at).total_seconds() / 3600, 1)
                    if o.closed_at
                    else None,
                    o.rating,
                ),
            )
            for o in observations
        ],
        "inspections": report.inspections,
        "drills": [
            RecordRow(drill_id, values[0], tuple(values[1:]))
            for drill_id, values in drill_sheet.items()
        ],  # type: ignore[arg-type]
    }
    return report


def _trend(first: dt.date, last: dt.date, unit: Unit, runs: list, drills: list) -> list[TrendPoint]:
    """Self-check average and drill accuracy per day (short periods) or per week."""
    daily = (last - first).days < DAILY_TREND_UP_TO_DAYS

    def bucket(day: dt.date) -> dt.date:
        return day if daily else max(first, day - dt.timedelta(days=day.weekday()))

    scores: dict[dt.date, list[float]] = defaultdict(list)
    for run in runs:
        if run.score is not None and run.finished_at is not None:
            scores[bucket(local_date(unit, run.finished_at))].append(run.score)
    answers: dict[dt.date, list[bool]] = defaultdict(list)
    for drill, answer, _ in drills:
        if answer is not None:
            answers[bucket(drill.local_date)].append(answer.correct)
    buckets = sorted({bucket(first + dt.timedelta(days=n)) for n in range((last - first).days + 1)})
    return [
        TrendPoint(
            day,
            round(mean(scores[day]), 1) if scores.get(day) else None,
            round(100 * sum(answers[day]) / len(answers[day]), 1) if answers.get(day) else None,
        )
        for day in buckets
    ]
