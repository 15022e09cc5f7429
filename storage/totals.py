"""The points read model: running totals per member and per unit, kept beside the ledger, and
each unit's headcount of ranked members.

Every rank, leaderboard and campaign total reads these instead of summing the ledger: a rank is a
count over an index (how many have more points), not 50,000 rows grouped and scanned. They are
written in the same statement as each ledger row, by the database itself: a trigger on
``point_entry`` (migration 0007) adds each new row's points with ``INSERT … ON CONFLICT DO UPDATE
SET points = points + excluded.points``, which PostgreSQL applies atomically under concurrent
awards and SQLite under its single writer; no way of writing a ledger row can leave them
behind. The ledger stays the source: ``rebuild`` recomputes the tables from it (``uplift db
rebuild-totals``) and ``disagreements`` lists where they differ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
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
        """Every total that is not what its source says (a missing row counts as none): the
        ledger's sums, and each unit's ranked members; a member total whose unit or ranking no
        longer matches the member's differs too."""
        found: list[Disagreement] = []
        for kind, model, keys, values, source in _SOURCES:
            columns = [getattr(model, name) for name in (*keys, *values)]
            stored_query = select(*columns)
            if model is UnitHeadcount:
                stored_query = stored_query.where(UnitHeadcount.ranked != 0)
            want = _by_key(await self._session.execute(source()), len(keys))
            have = _by_key(await self._session.execute(stored_query), len(keys))
            found += _differences(kind, want, have)
        return found

    async def rebuild(self) -> Rebuilt:
        """Recompute every table from its source; say how many totals were wrong before."""
        corrected = len(await self.disagreements())
        written: dict[str, int] = {}
        for kind, model, keys, values, source in _SOURCES:
            await self._session.execute(delete(model))
            result = await self._session.execute(
                insert(model).from_select([*keys, *values], source())
            )
            written[kind] = result.rowcount
        return Rebuilt(written["member"], written["unit"], corrected)


def _member_sums() -> Any:
    """Each member's campaign total, with the unit and ranking the member has now."""
    return (
        select(
            PointEntry.campaign_id,
            PointEntry.member_id,
            func.sum(PointEntry.points),
            Member.unit_id,
            ranked(),
        )
        .join(Member, Member.id == PointEntry.member_id)
        .group_by(
            PointEntry.campaign_id, PointEntry.member_id, Member.unit_id, Member.active, Member.role
        )
    )


def _unit_sums() -> Any:
    return select(PointEntry.campaign_id, PointEntry.unit_id, func.sum(PointEntry.points)).group_by(
        PointEntry.campaign_id, PointEntry.unit_id
    )


def _day_sums() -> Any:
    day = (PointEntry.campaign_id, PointEntry.unit_id, PointEntry.local_date)
    return select(*day, func.sum(PointEntry.points)).group_by(*day)


def _headcounts() -> Any:
    return (
        select(Member.organisation_id, Member.unit_id, func.count())
        .where(Member.unit_id.is_not(None), ranked())
        .group_by(Member.organisation_id, Member.unit_id)
    )


# Each table of the read model: its kind, model, key and value columns, and the query over its
# source that yields the same columns in the same order (compared by ``disagreements``,
# inserted by ``rebuild``).
_SOURCES: tuple[tuple[str, Any, tuple[str, ...], tuple[str, ...], Callable[[], Any]], ...] = (
    (
        "member",
        MemberPoints,
        ("campaign_id", "member_id"),
        ("points", "unit_id", "ranked"),
        _member_sums,
    ),
    ("day", UnitDayPoints, ("campaign_id", "unit_id", "local_date"), ("points",), _day_sums),
    ("unit", UnitPoints, ("campaign_id", "unit_id"), ("points",), _unit_sums),
    ("headcount", UnitHeadcount, ("organisation_id", "unit_id"), ("ranked",), _headcounts),
)


def _by_key(rows: Any, keys: int) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Rows as {key columns: value columns}, the first value (points or a count) as an int and
    a ranking (a member's third value) as a bool, so both backends compare alike."""
    return {
        tuple(row[:keys]): (int(row[keys]), *row[keys + 1 : keys + 2], *map(bool, row[keys + 2 :]))
        for row in rows
    }


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
