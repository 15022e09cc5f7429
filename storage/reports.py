"""The rows a report is built from: everything in a set of units over a period.

Each query is one indexed read of one kind of record, filtered by unit and time; the report
handler aggregates them, so every number in a report can be traced to these rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
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


class ReportRows:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def members(self, scope: Scope) -> list[Member]:
        rows = await self._session.scalars(
            select(Member)
            .where(Member.unit_id.in_(scope.unit_ids), Member.active, Member.role != Role.VOLUNTEER)
            .order_by(Member.unit_id, Member.id)
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
            .where(
                PointEntry.campaign_id == scope.campaign_id,
                PointEntry.unit_id.in_(scope.unit_ids),
                PointEntry.local_date >= scope.first,
                PointEntry.local_date <= scope.last,
            )
            .order_by(PointEntry.local_date, PointEntry.id)
        )
        return list(rows)

    async def drill_answers(
        self, scope: Scope
    ) -> list[tuple[Drill, DrillAnswer | None, DrillItem]]:
        """Every drill of the units in the period, with each answer (or None if unanswered)."""
        rows = await self._session.execute(
            select(Drill, DrillAnswer, DrillItem)
            .join(DrillItem, DrillItem.id == Drill.drill_item_id)
            .outerjoin(DrillAnswer, DrillAnswer.drill_id == Drill.id)
            .where(
                Drill.unit_id.in_(scope.unit_ids),
                Drill.local_date >= scope.first,
                Drill.local_date <= scope.last,
            )
            .order_by(Drill.local_date, Drill.id)
        )
        return [(drill, answer, item) for drill, answer, item in rows.all()]

    async def selfcheck_runs(self, scope: Scope) -> list[SelfCheckRun]:
        rows = await self._session.scalars(
            select(SelfCheckRun)
            .where(
                SelfCheckRun.unit_id.in_(scope.unit_ids),
                SelfCheckRun.finished_at.is_not(None),
                SelfCheckRun.finished_at >= scope.since,
                SelfCheckRun.finished_at <= scope.until,
            )
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
