"""Queries for rectifications (整改): owners, deadlines, closing and reopening."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Role
from storage.models import Member, Rectification


class Rectifications:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, rectification_id: int) -> Rectification | None:
        return await self._session.get(Rectification, rectification_id)

    async def create(
        self,
        *,
        unit_id: int,
        owner_member_id: int,
        created_by_member_id: int,
        due_at: dt.datetime,
        now: dt.datetime,
        description: str = "",
        run_id: int | None = None,
        item_id: int | None = None,
        inspection_id: int | None = None,
    ) -> Rectification:
        rectification = Rectification(
            unit_id=unit_id,
            run_id=run_id,
            item_id=item_id,
            inspection_id=inspection_id,
            description=description,
            owner_member_id=owner_member_id,
            created_by_member_id=created_by_member_id,
            due_at=due_at,
            status="open",
            created_at=now,
        )
        self._session.add(rectification)
        await self._session.flush()
        return rectification

    async def of_run(self, run_id: int) -> list[Rectification]:
        rows = await self._session.scalars(
            select(Rectification).where(Rectification.run_id == run_id).order_by(Rectification.id)
        )
        return list(rows)

    async def open_owned_by(self, member_id: int) -> list[Rectification]:
        rows = await self._session.scalars(
            select(Rectification)
            .where(Rectification.owner_member_id == member_id, Rectification.status == "open")
            .order_by(Rectification.due_at, Rectification.id)
        )
        return list(rows)

    async def in_units(self, unit_ids: list[int], status: str) -> list[Rectification]:
        rows = await self._session.scalars(
            select(Rectification)
            .where(Rectification.unit_id.in_(unit_ids), Rectification.status == status)
            .order_by(Rectification.due_at, Rectification.id)
        )
        return list(rows)

    async def open_due_between(self, first: dt.datetime, last: dt.datetime) -> list[Rectification]:
        """Open rectifications whose deadline falls in (first, last]: for reminders."""
        rows = await self._session.scalars(
            select(Rectification).where(
                Rectification.status == "open",
                Rectification.due_at > first,
                Rectification.due_at <= last,
            )
        )
        return list(rows)

    async def open_due_in(
        self, spans: Sequence[tuple[dt.datetime, dt.datetime]]
    ) -> list[Rectification]:
        """Open rectifications due in any of the stretches (first, last] (one query): what a
        scheduler tick asks for the reminders falling due in it, most often nothing."""
        if not spans:
            return []
        rows = await self._session.scalars(
            select(Rectification)
            .where(
                Rectification.status == "open",
                or_(
                    *(
                        and_(Rectification.due_at > first, Rectification.due_at <= last)
                        for first, last in spans
                    )
                ),
            )
            .order_by(Rectification.id)
        )
        return list(rows)

    async def unit_head(self, unit_id: int) -> Member | None:
        """Who owns a unit's rectifications by default: its head, else its first supervisor."""
        return await self._session.scalar(
            select(Member)
            .where(
                Member.unit_id == unit_id,
                Member.active,
                Member.role.in_((Role.SUPERVISOR, Role.ADMIN)),
            )
            .order_by(Member.is_unit_head.desc(), Member.id)
        )

    @staticmethod
    def close(rectification: Rectification, note: str, by_member_id: int, now: dt.datetime) -> None:
        rectification.status = "closed"
        rectification.close_note = note
        rectification.closed_by_member_id = by_member_id
        rectification.closed_at = now

    @staticmethod
    def reopen(rectification: Rectification) -> None:
        rectification.status = "open"
        rectification.reopen_count += 1
