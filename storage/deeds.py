"""Queries for good deeds (好人好事): reports, the people named, the approval queue, roll-ups."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Deed, DeedMember


class Deeds:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def report(
        self,
        *,
        campaign_id: int,
        unit_id: int,
        reporter_member_id: int,
        description: str,
        category_key: str,
        doer_ids: list[int],
        now: dt.datetime,
        amount: float | None = None,
        days: int | None = None,
        level: int | None = None,
    ) -> Deed:
        deed = Deed(
            campaign_id=campaign_id,
            unit_id=unit_id,
            reporter_member_id=reporter_member_id,
            description=description,
            category_key=category_key,
            amount=amount,
            days=days,
            level=level,
            status="pending",
            created_at=now,
        )
        self._session.add(deed)
        await self._session.flush()
        for member_id in dict.fromkeys(doer_ids):
            self._session.add(DeedMember(deed_id=deed.id, member_id=member_id))
        await self._session.flush()
        return deed

    async def get(self, deed_id: int) -> Deed | None:
        return await self._session.get(Deed, deed_id)

    async def doers(self, deed_id: int) -> list[int]:
        rows = await self._session.scalars(
            select(DeedMember.member_id)
            .where(DeedMember.deed_id == deed_id)
            .order_by(DeedMember.id)
        )
        return list(rows)

    async def pending_in(self, unit_ids: list[int]) -> list[Deed]:
        rows = await self._session.scalars(
            select(Deed)
            .where(Deed.unit_id.in_(unit_ids), Deed.status == "pending")
            .order_by(Deed.created_at, Deed.id)
        )
        return list(rows)

    async def decide(
        self, deed_id: int, status: str, by_member_id: int, reason: str | None, now: dt.datetime
    ) -> bool:
        """Approve or reject a pending deed; False if someone decided it first."""
        result = await self._session.execute(
            update(Deed)
            .where(Deed.id == deed_id, Deed.status == "pending")
            .values(
                status=status,
                decided_by_member_id=by_member_id,
                decided_at=now,
                decision_reason=reason,
            )
            .execution_options(synchronize_session="fetch")
        )
        return (result.rowcount or 0) == 1

    async def monthly_rollup(
        self, unit_ids: list[int], first: dt.datetime, last: dt.datetime
    ) -> dict[tuple[int, str], int]:
        """Approved deeds per (unit, category) reported between ``first`` and ``last``."""
        rows = await self._session.execute(
            select(Deed.unit_id, Deed.category_key, func.count())
            .where(
                Deed.unit_id.in_(unit_ids),
                Deed.status == "approved",
                Deed.created_at >= first,
                Deed.created_at < last,
            )
            .group_by(Deed.unit_id, Deed.category_key)
        )
        return {(unit_id, key): count for unit_id, key, count in rows.all()}
