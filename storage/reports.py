"""The rows a report is built from: everything in a set of units over a period, and the figures
per member and per unit that reports, summaries and award suggestions all rank by.

Each query is one indexed read of one kind of record, filtered by unit and time, or one grouped
sum over them, so every number in a report can be traced to these rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Row, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Role
from storage.models import (
    Checklist,
    ChecklistItem,
    Deed,
    DeedMember,
    Drill,
    DrillAnswer,
    DrillItem,
    Inspection,
    Member,
    Observation,
    PointEntry,
    Rectification,
    SelfCheckAnswer,
    SelfCheckRun,
    Stage,
    UnitDayPoints,
    UnitHeadcount,
)


@dataclass(frozen=True)
class Scope:
    """Which records a report covers: these units, this campaign, these local dates (and the
    same period as UTC moments for records stamped with a time)."""

    campaign_id: int
    unit_ids: list[int]
    first: dt.date
    last: dt.date
    since: dt.datetime
    until: dt.datetime

    @classmethod
    def of_dates(
        cls, campaign_id: int, unit_ids: list[int], zone: str, first: dt.date, last: dt.date
    ) -> Scope:
        """The local dates ``first``..``last`` in ``zone``, and the same period as UTC moments."""
        tz = ZoneInfo(zone)
        since = dt.datetime.combine(first, dt.time.min, tz).astimezone(dt.UTC)
        until = dt.datetime.combine(last, dt.time.max, tz).astimezone(dt.UTC)
        return cls(campaign_id, unit_ids, first, last, since, until)


@dataclass(frozen=True)
class MemberFigures:
    """One member's period: points, drills answered and right, self-checks run."""

    member_id: int
    name: str
    unit_id: int
    points: int
    drills_answered: int
    drills_correct: int
    selfchecks: int
    name_hidden: bool = False


@dataclass(frozen=True)
class UnitFigures:
    """One unit's period: its members (not volunteers), points, self-check average (over runs
    with a score) and its latest inspection score."""

    unit_id: int
    members: int
    points: int
    selfcheck_average: float | None
    inspection_score: float | None


@dataclass(frozen=True)
class Official:
    """A unit's official score in a stage (检查得分): its latest inspection there, of any of the
    kinds /inspect records (mystery shopper, off-site video, cross check)."""

    unit_id: int
    score: float
    inspected_on: dt.date
    kind: str  # mystery | video | cross
    inspection_id: int


@dataclass(frozen=True)
class StageStanding:
    """What units stand on against their stage target (达标情况) at a moment, read in one place
    for /score, /report, the weekly summary and the chart: each unit's official score, and the
    self-check average beside it (the units' own check, never the official score)."""

    target: float | None
    officials: dict[int, Official]  # by unit id; a unit not inspected in the stage is absent
    selfcheck_average: float | None
    selfchecks: int


STREAM_BATCH = 5_000  # rows fetched at a time when a report streams the ledger


class ReportRows:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def standing(
        self, stage: Stage, unit_ids: list[int], zone: str, until: dt.datetime
    ) -> StageStanding:
        """The units' standing in ``stage`` as of ``until``: each one's latest inspection in the
        stage up to that local date, and the self-checks finished from the stage's first local
        day to that moment."""
        tz = ZoneInfo(zone)
        since = dt.datetime.combine(stage.starts_on, dt.time.min, tz).astimezone(dt.UTC)
        until = min(until, dt.datetime.combine(stage.ends_on, dt.time.max, tz).astimezone(dt.UTC))
        last = until.astimezone(tz).date()
        inspections = await self._session.scalars(
            select(Inspection)
            .where(
                Inspection.unit_id.in_(unit_ids),
                Inspection.stage_id == stage.id,
                Inspection.inspected_on <= last,
            )
            .order_by(Inspection.inspected_on, Inspection.id)
        )
        officials = {  # in date order, so the latest of each unit wins
            i.unit_id: Official(i.unit_id, i.score, i.inspected_on, i.kind, i.id)
            for i in inspections
        }
        average, count = (
            await self._session.execute(
                select(func.avg(SelfCheckRun.score), func.count(SelfCheckRun.id)).where(
                    SelfCheckRun.unit_id.in_(unit_ids),
                    SelfCheckRun.score.is_not(None),
                    SelfCheckRun.finished_at >= since,
                    SelfCheckRun.finished_at <= until,
                )
            )
        ).one()
        return StageStanding(
            stage.target_score,
            officials,
            None if average is None else round(float(average), 1),
            int(count),
        )

    async def member_figures(self, scope: Scope) -> list[MemberFigures]:
        """Every active member (volunteers aside) of the units, by unit and id."""
        points = await self._grouped(
            select(PointEntry.member_id, func.sum(PointEntry.points))
            .where(*_ledger_in(scope), PointEntry.member_id.is_not(None))
            .group_by(PointEntry.member_id)
        )
        drills = {
            member_id: (answered, int(correct or 0))
            for member_id, answered, correct in (
                await self._session.execute(
                    select(
                        DrillAnswer.member_id,
                        func.count(),
                        func.sum(cast(DrillAnswer.correct, Integer)),
                    )
                    .join(Drill, Drill.id == DrillAnswer.drill_id)
                    .where(*_drills_in(scope))
                    .group_by(DrillAnswer.member_id)
                )
            ).all()
        }
        runs = await self._grouped(
            select(SelfCheckRun.member_id, func.count())
            .where(*_runs_in(scope))
            .group_by(SelfCheckRun.member_id)
        )
        members = await self._session.execute(  # columns, not objects: a branch has thousands
            select(Member.id, Member.display_name, Member.unit_id, Member.hide_name)
            .where(*_members_in(scope))
            .order_by(Member.unit_id, Member.id)
        )
        return [
            MemberFigures(
                member_id,
                name,
                unit_id or 0,
                int(points.get(member_id, 0)),
                drills.get(member_id, (0, 0))[0],
                drills.get(member_id, (0, 0))[1],
                int(runs.get(member_id, 0)),
                hide_name,
            )
            for member_id, name, unit_id, hide_name in members.all()
        ]

    async def unit_figures(self, scope: Scope) -> dict[int, UnitFigures]:
        """Every unit of the scope, by id: members from the units' headcounts, points from
        their day totals (a row per unit and day, not every ledger row)."""
        members = await self._grouped(
            select(UnitHeadcount.unit_id, UnitHeadcount.ranked).where(
                UnitHeadcount.unit_id.in_(scope.unit_ids)
            )
        )
        points = await self._grouped(
            select(UnitDayPoints.unit_id, func.sum(UnitDayPoints.points))
            .where(
                UnitDayPoints.campaign_id == scope.campaign_id,
                UnitDayPoints.unit_id.in_(scope.unit_ids),
                UnitDayPoints.local_date >= scope.first,
                UnitDayPoints.local_date <= scope.last,
            )
            .group_by(UnitDayPoints.unit_id)
        )
        averages = await self._grouped(
            select(SelfCheckRun.unit_id, func.avg(SelfCheckRun.score))
            .where(*_runs_in(scope), SelfCheckRun.score.is_not(None))
            .group_by(SelfCheckRun.unit_id)
        )
        latest = {i.unit_id: i.score for i in await self.inspections(scope)}  # the last one wins
        return {
            unit_id: UnitFigures(
                unit_id,
                int(members.get(unit_id, 0)),
                int(points.get(unit_id, 0)),
                round(float(averages[unit_id]), 1) if unit_id in averages else None,
                latest.get(unit_id),
            )
            for unit_id in scope.unit_ids
        }

    @staticmethod
    def ranked_units(figures: dict[int, UnitFigures], root_id: int) -> list[UnitFigures]:
        """Units with members by points per member, best first. The root is left out when it
        has units under it: its figures are theirs."""
        ranked = [
            f
            for unit_id, f in figures.items()
            if (unit_id != root_id or len(figures) == 1) and f.members
        ]
        return sorted(ranked, key=lambda f: (-f.points / f.members, f.unit_id))

    async def _grouped(self, query: Any) -> dict[int, Any]:
        return {key: value for key, value in (await self._session.execute(query)).all()}

    async def members(self, scope: Scope) -> list[Member]:
        rows = await self._session.scalars(
            select(Member).where(*_members_in(scope)).order_by(Member.unit_id, Member.id)
        )
        return list(rows)

    async def ledger(self, scope: Scope) -> list[Any]:
        """The ledger rows of the period, as plain rows (columns by name): reports read many."""
        rows = await self._session.execute(
            select(
                PointEntry.id,
                PointEntry.local_date,
                PointEntry.member_id,
                PointEntry.unit_id,
                PointEntry.source,
                PointEntry.rule,
                PointEntry.points,
                PointEntry.idempotency_key,
                PointEntry.ref_id,
            )
            .where(*_ledger_in(scope))
            .order_by(PointEntry.local_date, PointEntry.id)
        )
        return list(rows)

    async def ledger_size(self, scope: Scope) -> tuple[int, int]:
        """How many ledger rows the period has, and the sum of their points."""
        count, points = (
            await self._session.execute(
                select(func.count(), func.coalesce(func.sum(PointEntry.points), 0)).where(
                    *_ledger_in(scope)
                )
            )
        ).one()
        return int(count), int(points)

    async def daily_points(
        self, scope: Scope, sources: Sequence[str], batch: int = STREAM_BATCH
    ) -> AsyncIterator[Sequence[Row[Any]]]:
        """The ledger summed per member per day, grouped in SQL and streamed in batches (a
        server-side cursor on PostgreSQL): each row is the day, the member's id and name (None
        for a unit's own points), the unit's id, the points of each of ``sources`` in that
        order, and the day's total."""
        by_source = [
            func.sum(case((PointEntry.source == source, PointEntry.points), else_=0)).label(
                f"s{index}"
            )
            for index, source in enumerate(sources)
        ]
        days = (
            select(
                PointEntry.local_date.label("day"),
                PointEntry.member_id.label("member_id"),
                PointEntry.unit_id.label("unit_id"),
                *by_source,
                func.sum(PointEntry.points).label("points"),
            )
            .where(*_ledger_in(scope))
            .group_by(PointEntry.local_date, PointEntry.unit_id, PointEntry.member_id)
            .subquery()
        )
        query = (
            select(
                days.c.day,
                days.c.member_id,
                Member.display_name,
                days.c.unit_id,
                *(days.c[f"s{index}"] for index in range(len(sources))),
                days.c.points,
            )
            .outerjoin(Member, Member.id == days.c.member_id)
            .order_by(days.c.day, days.c.unit_id, days.c.member_id)
        )
        async for rows in self._stream(query, batch):
            yield rows

    async def ledger_entries(
        self, scope: Scope, batch: int = STREAM_BATCH
    ) -> AsyncIterator[Sequence[Row[Any]]]:
        """Every ledger row of the period with its member's name, by date and id, streamed."""
        query = (
            select(
                PointEntry.id,
                PointEntry.local_date,
                Member.display_name,
                PointEntry.unit_id,
                PointEntry.source,
                PointEntry.rule,
                PointEntry.points,
            )
            .outerjoin(Member, Member.id == PointEntry.member_id)
            .where(*_ledger_in(scope))
            .order_by(PointEntry.local_date, PointEntry.id)
        )
        async for rows in self._stream(query, batch):
            yield rows

    async def _stream(self, query: Any, batch: int) -> AsyncIterator[Sequence[Row[Any]]]:
        result = await self._session.stream(query.execution_options(yield_per=batch))
        try:
            async for rows in result.partitions(batch):
                yield rows
        finally:
            await result.close()

    async def deed_points(self, scope: Scope) -> dict[int, int]:
        """Points each deed of the period earned when approved, by deed id."""
        return await self._grouped(
            select(PointEntry.ref_id, func.sum(PointEntry.points))
            .where(
                *_ledger_in(scope),
                PointEntry.source == "deed",
                PointEntry.rule == "deed_approved",
                PointEntry.ref_id.is_not(None),
            )
            .group_by(PointEntry.ref_id)
        )

    async def drill_figures(self, scope: Scope) -> list[Row[Any]]:
        """Every drill of the units in the period with its question, answers and right answers
        counted in SQL: id, local_date, unit_id, question_zh, question_en, kind, answers,
        correct."""
        rows = await self._session.execute(
            select(
                Drill.id,
                Drill.local_date,
                Drill.unit_id,
                DrillItem.question_zh,
                DrillItem.question_en,
                DrillItem.kind,
                func.count(DrillAnswer.id).label("answers"),
                func.coalesce(func.sum(cast(DrillAnswer.correct, Integer)), 0).label("correct"),
            )
            .join(DrillItem, DrillItem.id == Drill.drill_item_id)
            .outerjoin(DrillAnswer, DrillAnswer.drill_id == Drill.id)
            .where(*_drills_in(scope))
            .group_by(Drill.id, DrillItem.id)  # the other columns depend on these keys
            .order_by(Drill.local_date, Drill.id)
        )
        return list(rows.all())

    async def failures(self, scope: Scope) -> list[tuple[int, int, int]]:
        """The failed items of the period's finished self-checks, counted in SQL: (run id, item
        id, failures)."""
        rows = await self._session.execute(
            select(SelfCheckAnswer.run_id, SelfCheckAnswer.item_id, func.count())
            .join(SelfCheckRun, SelfCheckRun.id == SelfCheckAnswer.run_id)
            .where(*_runs_in(scope), SelfCheckAnswer.result == "fail")
            .group_by(SelfCheckAnswer.run_id, SelfCheckAnswer.item_id)
        )
        return [(run_id, item_id, int(count)) for run_id, item_id, count in rows.all()]

    async def drill_answers(
        self, scope: Scope
    ) -> list[tuple[Drill, DrillAnswer | None, DrillItem]]:
        """Every drill of the units in the period, with each answer (or None if unanswered)."""
        rows = await self._session.execute(
            select(Drill, DrillAnswer, DrillItem)
            .join(DrillItem, DrillItem.id == Drill.drill_item_id)
            .outerjoin(DrillAnswer, DrillAnswer.drill_id == Drill.id)
            .where(*_drills_in(scope))
            .order_by(Drill.local_date, Drill.id)
        )
        return [(drill, answer, item) for drill, answer, item in rows.all()]

    async def selfcheck_runs(self, scope: Scope) -> list[SelfCheckRun]:
        rows = await self._session.scalars(
            select(SelfCheckRun)
            .where(*_runs_in(scope))
            .order_by(SelfCheckRun.finished_at, SelfCheckRun.id)
        )
        return list(rows)

    async def failed_answers(self, run_ids: list[int]) -> list[SelfCheckAnswer]:
        if not run_ids:
            return []
        rows = await self._session.scalars(
            select(SelfCheckAnswer).where(
                SelfCheckAnswer.run_id.in_(run_ids), SelfCheckAnswer.result == "fail"
            )
        )
        return list(rows)

    async def checklist_items(self, campaign_id: int) -> list[tuple[ChecklistItem, Checklist]]:
        rows = await self._session.execute(
            select(ChecklistItem, Checklist)
            .join(Checklist, Checklist.id == ChecklistItem.checklist_id)
            .where(Checklist.campaign_id == campaign_id)
        )
        return [(item, checklist) for item, checklist in rows.all()]

    async def rectifications(self, unit_ids: list[int], until: dt.datetime) -> list[Rectification]:
        """Rectifications raised up to the end of the period (their state as it is now)."""
        rows = await self._session.scalars(
            select(Rectification)
            .where(Rectification.unit_id.in_(unit_ids), Rectification.created_at <= until)
            .order_by(Rectification.created_at, Rectification.id)
        )
        return list(rows)

    async def deeds(self, scope: Scope) -> list[tuple[Deed, list[int]]]:
        deeds = list(
            await self._session.scalars(
                select(Deed)
                .where(
                    Deed.campaign_id == scope.campaign_id,
                    Deed.unit_id.in_(scope.unit_ids),
                    Deed.created_at >= scope.since,
                    Deed.created_at <= scope.until,
                )
                .order_by(Deed.created_at, Deed.id)
            )
        )
        doers: dict[int, list[int]] = {deed.id: [] for deed in deeds}
        if deeds:
            for link in await self._session.scalars(
                select(DeedMember)
                .where(DeedMember.deed_id.in_(list(doers)))
                .order_by(DeedMember.id)
            ):
                doers[link.deed_id].append(link.member_id)
        return [(deed, doers[deed.id]) for deed in deeds]

    async def observations(self, unit_ids: list[int], until: dt.datetime) -> list[Observation]:
        rows = await self._session.scalars(
            select(Observation)
            .where(Observation.unit_id.in_(unit_ids), Observation.created_at <= until)
            .order_by(Observation.created_at, Observation.id)
        )
        return list(rows)

    async def inspections(self, scope: Scope) -> list[Inspection]:
        rows = await self._session.scalars(
            select(Inspection)
            .where(
                Inspection.unit_id.in_(scope.unit_ids),
                Inspection.inspected_on >= scope.first,
                Inspection.inspected_on <= scope.last,
            )
            .order_by(Inspection.inspected_on, Inspection.id)
        )
        return list(rows)


def _members_in(scope: Scope) -> tuple[Any, ...]:
    return (Member.unit_id.in_(scope.unit_ids), Member.active, Member.role != Role.VOLUNTEER)


def _ledger_in(scope: Scope) -> tuple[Any, ...]:
    return (
        PointEntry.campaign_id == scope.campaign_id,
        PointEntry.unit_id.in_(scope.unit_ids),
        PointEntry.local_date >= scope.first,
        PointEntry.local_date <= scope.last,
    )


def _drills_in(scope: Scope) -> tuple[Any, ...]:
    return (
        Drill.unit_id.in_(scope.unit_ids),
        Drill.local_date >= scope.first,
        Drill.local_date <= scope.last,
    )


def _runs_in(scope: Scope) -> tuple[Any, ...]:
    return (
        SelfCheckRun.unit_id.in_(scope.unit_ids),
        SelfCheckRun.finished_at.is_not(None),
        SelfCheckRun.finished_at >= scope.since,
        SelfCheckRun.finished_at <= scope.until,
    )
