"""Queries for inspections (检查): mystery-shopper, off-site video and cross checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Inspection


class Inspections:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        campaign_id: int,
        unit_id: int,
        stage_id: int | None,
        inspector_member_id: int,
        kind: str,
        score: float,
        deducted_item_keys: list[str],
        assessment: list[dict[str, Any]],
        inspected_on: dt.date,
        now: dt.datetime,
    ) -> Inspection:
        inspection = Inspection(
            campaign_id=campaign_id,
            unit_id=unit_id,
            stage_id=stage_id,
            inspector_member_id=inspector_member_id,
            kind=kind,
            score=score,
            deducted_item_keys=deducted_item_keys,
            assessment=assessment,
            inspected_on=inspected_on,
            created_at=now,
        )
        self._session.add(inspection)
        await self._session.flush()
        return inspection

    async def latest_for(self, unit_id: int) -> Inspection | None:
        return await self._session.scalar(
            select(Inspection)
            .where(Inspection.unit_id == unit_id)
            .order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
        )

    async def latest_scores(self, unit_ids: list[int], stage_id: int | None) -> dict[int, float]:
        """Each unit's latest inspection score in the stage: what ranks are made of."""
        rows = await self._session.scalars(
            select(Inspection)
            .where(Inspection.unit_id.in_(unit_ids), Inspection.stage_id == stage_id)
            .order_by(Inspection.inspected_on, Inspection.id)
        )
        return {row.unit_id: row.score for row in rows}

    async def in_units(
        self, unit_ids: list[int], first: dt.date, last: dt.date
    ) -> list[Inspection]:
        rows = await self._session.scalars(
            select(Inspection)
            .where(
                Inspection.unit_id.in_(unit_ids),
                Inspection.inspected_on >= first,
                Inspection.inspected_on <= last,
            )
            .order_by(Inspection.inspected_on, Inspection.id)
        )
        return list(rows)
