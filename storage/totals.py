"""The points read model: running totals per member and per unit, kept beside the ledger.

Every rank, leaderboard and campaign total reads these instead of summing the ledger: a rank is a
count over an index (how many have more points), not 50,000 rows grouped and scanned. They are
written in the same transaction as each ledger row (``Ledger.award`` calls ``add``), with
``INSERT … ON CONFLICT DO UPDATE SET points = points + excluded.points``, which PostgreSQL applies
atomically under concurrent awards and SQLite under its single writer. The ledger stays the
source: ``rebuild`` recomputes both tables from it (``uplift db rebuild-totals``) and
``disagreements`` lists where they differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Role
from storage.models import Member, MemberPoints, PointEntry, UnitPoints


def ranked(member: type[Member] = Member) -> object:
    """Who is ranked: active members who are not volunteers (observers score nothing public)."""
    return and_(member.active, member.role != Role.VOLUNTEER)


@dataclass(frozen=True)
class Disagreement:
    """A total that differs from the ledger's sum: ``kind`` is ``member`` or ``unit``."""

    kind: str
    campaign_id: int
    owner_id: int
    stored: int | None
    ledger: int | None


@dataclass(frozen=True)
class Rebuilt:
    members: int
    units: int
    corrected: int


class Totals:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self, model: type[MemberPoints] | type[UnitPoints]) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        dialect = self._session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)

    async def add(self, campaign_id: int, unit_id: int, member_id: int | None, points: int) -> None:
        """Add one ledger row's points to its member's and its unit's totals."""
        if member_id is not None:
            by_member = self._insert(MemberPoints).from_select(
                ["campaign_id", "member_id", "unit_id", "ranked", "points"],
                select(
                    literal(campaign_id), Member.id, Member.unit_id, ranked(), literal(points)
                ).where(Member.id == member_id),
            )
            await self._session.execute(
                by_member.on_conflict_do_update(
                    index_elements=["campaign_id", "member_id"],
                    set_={"points": MemberPoints.points + by_member.excluded.points},
                )
            )
        by_unit = self._insert(UnitPoints).values(
            campaign_id=campaign_id, unit_id=unit_id, points=points
        )
        await self._session.execute(
            by_unit.on_conflict_do_update(
                index_elements=["campaign_id", "unit_id"],
                set_={"points": UnitPoints.points + by_unit.excluded.points},
            )
        )

    async def follow_member(self, member: Member) -> None:
        """A member's unit, role or activity changed: their totals follow, so ranks count them
        where they are now (points already earned stay booked to the unit that earned them)."""
        await self._session.execute(
            update(MemberPoints)
            .where(MemberPoints.member_id == member.id)
            .values(
                unit_id=member.unit_id,
                ranked=bool(member.active and member.role != Role.VOLUNTEER),
            )
        )

    async def disagreements(self) -> list[Disagreement]:
        """Every total that is not the ledger's sum (a missing row counts as none), and every
        member total whose unit or ranking no longer matches the member's."""
        stored_members = {
            (c, m): (int(p), u, bool(r))
            for c, m, p, u, r in await self._session.execute(
                select(
                    MemberPoints.campaign_id,
                    MemberPoints.member_id,
                    MemberPoints.points,
                    MemberPoints.unit_id,
                    MemberPoints.ranked,
                )
            )
        }
        ledger_units = {
            (c, u): (int(p),)
            for c, u, p in await self._session.execute(
                select(
                    PointEntry.campaign_id, PointEntry.unit_id, func.sum(PointEntry.points)
                ).group_by(PointEntry.campaign_id, PointEntry.unit_id)
            )
        }
        stored_units = {
            (c, u): (int(p),)
            for c, u, p in await self._session.execute(
                select(UnitPoints.campaign_id, UnitPoints.unit_id, UnitPoints.points)
            )
        }
        return _differences("member", await self._member_sums(), stored_members) + _differences(
            "unit", ledger_units, stored_units
        )

    async def rebuild(self) -> Rebuilt:
        """Recompute both tables from the ledger; say how many totals were wrong before."""
        corrected = len(await self.disagreements())
        await self._session.execute(delete(MemberPoints))
        await self._session.execute(delete(UnitPoints))
        members = await self._session.execute(
            insert(MemberPoints).from_select(
                ["campaign_id", "member_id", "unit_id", "ranked", "points"],
                select(
                    PointEntry.campaign_id,
                    PointEntry.member_id,
                    Member.unit_id,
                    ranked(),
                    func.sum(PointEntry.points),
                )
                .join(Member, Member.id == PointEntry.member_id)
                .group_by(
                    PointEntry.campaign_id,
                    PointEntry.member_id,
                    Member.unit_id,
                    Member.active,
                    Member.role,
                ),
            )
        )
        units = await self._session.execute(
            insert(UnitPoints).from_select(
                ["campaign_id", "unit_id", "points"],
                select(
                    PointEntry.campaign_id, PointEntry.unit_id, func.sum(PointEntry.points)
                ).group_by(PointEntry.campaign_id, PointEntry.unit_id),
            )
        )
        return Rebuilt(members.rowcount, units.rowcount, corrected)

    async def _member_sums(self) -> dict[tuple[int, int], tuple[int, int | None, bool]]:
        rows = await self._session.execute(
            select(
                PointEntry.campaign_id,
                PointEntry.member_id,
                func.sum(PointEntry.points),
                Member.unit_id,
                ranked(),
            )
            .join(Member, Member.id == PointEntry.member_id)
            .group_by(
                PointEntry.campaign_id,
                PointEntry.member_id,
                Member.unit_id,
                Member.active,
                Member.role,
            )
        )
        return {(c, m): (int(p), u, bool(r)) for c, m, p, u, r in rows}


def _differences(
    kind: str,
    ledger: dict[tuple[int, int], tuple[Any, ...]],
    stored: dict[tuple[int, int], tuple[Any, ...]],
) -> list[Disagreement]:
    """Where ``stored`` is not what the ledger says; the first value of each is the points."""
    return [
        Disagreement(
            kind,
            *key,
            stored[key][0] if key in stored else None,
            ledger[key][0] if key in ledger else None,
        )
        for key in sorted(ledger.keys() | stored.keys())
        if ledger.get(key) != stored.get(key)
    ]
