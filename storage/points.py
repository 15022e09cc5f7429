"""The points ledger (积分台账): append-only rows with unique idempotency keys, and the sums
every score, rank and leaderboard is made of. Nothing here updates or deletes a row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Role
from storage.models import Member, PointEntry
from storage.upsert import insert_once


@dataclass(frozen=True)
class Award:
    """Points to write: who, why (source and rule), and the key that makes it happen once."""

    campaign_id: int
    unit_id: int
    member_id: int | None
    source: str
    rule: str
    points: int
    key: str
    occurred_at: dt.datetime
    local_date: dt.date
    ref_table: str | None = None
    ref_id: int | None = None


@dataclass(frozen=True)
class Standing:
    member_id: int
    display_name: str
    hide_name: bool
    points: int


@dataclass(frozen=True)
class UnitStanding:
    unit_id: int
    points: int
    members: int

    @property
    def per_member(self) -> float:
        return self.points / self.members if self.members else 0.0


class Ledger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def award(self, award: Award) -> bool:
        """Write the points once; False if this key was written before (a repeat)."""
        new_id = await insert_once(
            self._session,
            PointEntry,
            {
                "campaign_id": award.campaign_id,
                "unit_id": award.unit_id,
                "member_id": award.member_id,
                "source": award.source,
                "rule": award.rule,
                "points": award.points,
                "idempotency_key": award.key,
                "ref_table": award.ref_table,
                "ref_id": award.ref_id,
                "occurred_at": award.occurred_at,
                "local_date": award.local_date,
            },
            ("idempotency_key",),
        )
        return new_id is not None

    async def member_total(
        self,
        campaign_id: int,
        member_id: int,
        first: dt.date | None = None,
        last: dt.date | None = None,
    ) -> int:
        query = select(func.coalesce(func.sum(PointEntry.points), 0)).where(
            PointEntry.campaign_id == campaign_id, PointEntry.member_id == member_id
        )
        if first is not None:
            query = query.where(PointEntry.local_date >= first)
        if last is not None:
            query = query.where(PointEntry.local_date <= last)
        return int(await self._session.scalar(query) or 0)

    async def member_by_source(self, campaign_id: int, member_id: int) -> dict[str, int]:
        rows = await self._session.execute(
            select(PointEntry.source, func.sum(PointEntry.points))
            .where(PointEntry.campaign_id == campaign_id, PointEntry.member_id == member_id)
            .group_by(PointEntry.source)
        )
        return {source: int(points) for source, points in rows.all()}

    async def recent(self, campaign_id: int, member_id: int, limit: int = 10) -> list[PointEntry]:
        rows = await self._session.scalars(
            select(PointEntry)
            .where(PointEntry.campaign_id == campaign_id, PointEntry.member_id == member_id)
            .order_by(PointEntry.occurred_at.desc(), PointEntry.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def standings(self, campaign_id: int, unit_ids: list[int]) -> list[Standing]:
        """Members of these units by campaign points, highest first; volunteers are not ranked."""
        points = (
            select(PointEntry.member_id, func.sum(PointEntry.points).label("points"))
            .where(PointEntry.campaign_id == campaign_id)
            .group_by(PointEntry.member_id)
            .subquery()
        )
        rows = await self._session.execute(
            select(
                Member.id, Member.display_name, Member.hide_name, func.coalesce(points.c.points, 0)
            )
            .outerjoin(points, points.c.member_id == Member.id)
            .where(Member.unit_id.in_(unit_ids), Member.active, Member.role != Role.VOLUNTEER)
            .order_by(func.coalesce(points.c.points, 0).desc(), Member.id)
        )
        return [Standing(m, name, hide, int(p)) for m, name, hide, p in rows.all()]

    async def unit_standings(self, campaign_id: int, unit_ids: list[int]) -> list[UnitStanding]:
        """Units by points per member, so size does not decide; highest first."""
        member_rows = await self._session.execute(
            select(Member.unit_id, func.count())
            .where(Member.unit_id.in_(unit_ids), Member.active, Member.role != Role.VOLUNTEER)
            .group_by(Member.unit_id)
        )
        members = {unit_id: count for unit_id, count in member_rows.all()}
        point_rows = await self._session.execute(
            select(PointEntry.unit_id, func.sum(PointEntry.points))
            .where(PointEntry.campaign_id == campaign_id, PointEntry.unit_id.in_(unit_ids))
            .group_by(PointEntry.unit_id)
        )
        points = {unit_id: total for unit_id, total in point_rows.all()}
        standings = [
            UnitStanding(unit_id, int(points.get(unit_id, 0)), int(members.get(unit_id, 0)))
            for unit_id in unit_ids
            if members.get(unit_id)
        ]
        return sorted(standings, key=lambda s: (-s.per_member, s.unit_id))
