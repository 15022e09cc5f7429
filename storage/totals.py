"""The points read model: running totals per member and per unit, kept beside the ledger, and
each unit's headcount of ranked members.

Every rank, leaderboard and campaign total reads these instead of summing the ledger: a rank is a
count over an index (how many have more points), not 50,000 rows grouped and scanned. They are
written in the same transaction as each ledger row (``Ledger.award`` calls ``add``), with
``INSERT … ON CONFLICT DO UPDATE SET points = points + excluded.points``, which PostgreSQL applies
atomically under concurrent awards and SQLite under its single writer. The ledger stays the
source: ``rebuild`` recomputes both tables from it (``uplift db rebuild-totals``) and
``disagreements`` lists where they differ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Role
from storage.models import (
    Member,
    MemberPoints,
    PointEntry,
    UnitDayPoints,
    UnitHeadcount,
    UnitPoints,
)

# Each ledger row adds to three totals. Plain SQL, the same on SQLite and PostgreSQL, written
# once: built as expressions, the three statements cost more to construct than to run.
_ADD_TO_MEMBER = text(
    "INSERT INTO member_points (campaign_id, member_id, unit_id, ranked, points) "
    "SELECT :c, member.id, member.unit_id, (member.active AND member.role <> 'volunteer'), :p "
    "FROM member WHERE member.id = :m "
    "ON CONFLICT (campaign_id, member_id) DO UPDATE SET points = member_points.points + :p"
)
_ADD_TO_UNIT = text(
    "INSERT INTO unit_points (campaign_id, unit_id, points) VALUES (:c, :u, :p) "
    "ON CONFLICT (campaign_id, unit_id) DO UPDATE SET points = unit_points.points + :p"
)
_ADD_TO_DAY = text(
    "INSERT INTO unit_day_points (campaign_id, unit_id, local_date, points) "
    "VALUES (:c, :u, :d, :p) ON CONFLICT (campaign_id, unit_id, local_date) "
    "DO UPDATE SET points = unit_day_points.points + :p"
).bindparams(bindparam("d", type_=Date))


def ranked(member: type[Member] = Member) -> Any:
    """Who is ranked, in SQL: active members who are not volunteers (observers score nothing
    public)."""
    return and_(member.active, member.role != Role.VOLUNTEER)


def is_ranked(member: Member) -> bool:
    """Who is ranked, for one member in hand."""
    return bool(member.active and member.role != Role.VOLUNTEER)


@dataclass(frozen=True)
class Disagreement:
    """A total that differs from the ledger's sum (``kind`` ``member``, ``unit`` or ``day``:
    owner_id is the member or unit), or a unit's headcount that differs from its members
    (``headcount``: campaign_id holds the organisation)."""

    kind: str
    campaign_id: int
    owner_id: int
    stored: int | None
    ledger: int | None
    day: dt.date | None = None


@dataclass(frozen=True)
class Rebuilt:
    members: int
    units: int
    corrected: int


class Totals:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _insert(self, model: type[Any]) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        dialect = self._session.get_bind().dialect.name
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)

    async def add(
        self,
        campaign_id: int,
        unit_id: int,
        member_id: int | None,
        points: int,
        local_date: dt.date,
    ) -> None:
        """Add one ledger row's points to its member's and its unit's totals, and to its unit's
        day."""
        values = {"c": campaign_id, "u": unit_id, "m": member_id, "p": points, "d": local_date}
        if member_id is not None:
            await self._session.execute(_ADD_TO_MEMBER, values)
        await self._session.execute(_ADD_TO_UNIT, values)
        await self._session.execute(_ADD_TO_DAY, values)

    async def count_in(self, member: Member, change: int = 1) -> None:
        """Count the member in (or, with -1, out of) their unit's headcount, if ranked."""
        if member.unit_id is None or not is_ranked(member):
            return
        counted = self._insert(UnitHeadcount).values(
            unit_id=member.unit_id, organisation_id=member.organisation_id, ranked=change
        )
        await self._session.execute(
            counted.on_conflict_do_update(
                index_elements=["unit_id"],
                set_={"ranked": UnitHeadcount.ranked + counted.excluded.ranked},
            )
        )

    async def follow_member(self, member: Member) -> None:
        """A member's unit, role or activity changed (the caller counted them out before and
        in after): their totals follow, so ranks count them where they are now (points
        already earned stay booked to the unit that earned them)."""
        await self._session.execute(
            update(MemberPoints)
            .where(MemberPoints.member_id == member.id)
            .values(
                unit_id=member.unit_id,
                ranked=is_ranked(member),
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
        counted = {
            (o, u): (int(n),)
            for o, u, n in await self._session.execute(
                select(Member.organisation_id, Member.unit_id, func.count())
                .where(Member.unit_id.is_not(None), ranked())
                .group_by(Member.organisation_id, Member.unit_id)
            )
        }
        stored_counts = {
            (o, u): (int(n),)
            for o, u, n in await self._session.execute(
                select(
                    UnitHeadcount.organisation_id, UnitHeadcount.unit_id, UnitHeadcount.ranked
                ).where(UnitHeadcount.ranked != 0)
            )
        }
        ledger_days = {
            (c, u, d): (int(p),)
            for c, u, d, p in await self._session.execute(
                select(
                    PointEntry.campaign_id,
                    PointEntry.unit_id,
                    PointEntry.local_date,
                    func.sum(PointEntry.points),
                ).group_by(PointEntry.campaign_id, PointEntry.unit_id, PointEntry.local_date)
            )
        }
        stored_days = {
            (c, u, d): (int(p),)
            for c, u, d, p in await self._session.execute(
                select(
                    UnitDayPoints.campaign_id,
                    UnitDayPoints.unit_id,
                    UnitDayPoints.local_date,
                    UnitDayPoints.points,
                )
            )
        }
        return (
            _differences("member", await self._member_sums(), stored_members)
            + _differences("day", ledger_days, stored_days)
            + _differences("unit", ledger_units, stored_units)
            + _differences("headcount", counted, stored_counts)
        )

    async def rebuild(self) -> Rebuilt:
        """Recompute both tables from the ledger; say how many totals were wrong before."""
        corrected = len(await self.disagreements())
        await self._session.execute(delete(MemberPoints))
        await self._session.execute(delete(UnitPoints))
        await self._session.execute(delete(UnitHeadcount))
        await self._session.execute(delete(UnitDayPoints))
        await self._session.execute(
            insert(UnitDayPoints).from_select(
                ["campaign_id", "unit_id", "local_date", "points"],
                select(
                    PointEntry.campaign_id,
                    PointEntry.unit_id,
                    PointEntry.local_date,
                    func.sum(PointEntry.points),
                ).group_by(PointEntry.campaign_id, PointEntry.unit_id, PointEntry.local_date),
            )
        )
        await self._session.execute(
            insert(UnitHeadcount).from_select(
                ["unit_id", "organisation_id", "ranked"],
                select(Member.unit_id, Member.organisation_id, func.count())
                .where(Member.unit_id.is_not(None), ranked())
                .group_by(Member.unit_id, Member.organisation_id),
            )
        )
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
    ledger: dict[tuple[Any, ...], tuple[Any, ...]],
    stored: dict[tuple[Any, ...], tuple[Any, ...]],
) -> list[Disagreement]:
    """Where ``stored`` is not what the ledger says; the first value of each is the points.
    A key is (campaign or organisation, owner[, day])."""
    return [
        Disagreement(
            kind,
            key[0],
            key[1],
            stored[key][0] if key in stored else None,
            ledger[key][0] if key in ledger else None,
            key[2] if len(key) > 2 else None,
        )
        for key in sorted(ledger.keys() | stored.keys())
        if ledger.get(key) != stored.get(key)
    ]
