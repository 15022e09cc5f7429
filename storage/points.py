"""The points ledger (积分台账): append-only rows with unique idempotency keys, and the sums
every score, rank and leaderboard is made of. Nothing here updates or deletes a ledger row.

Campaign totals, ranks and leaderboards read the running totals (``storage/totals.py``) written
with each row; sums over a period (a stage, a week) and a member's own rows read the ledger
through the member's index (a few dozen rows each)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Member,
    MemberPoints,
    PointEntry,
    UnitDayPoints,
    UnitHeadcount,
    UnitPoints,
)
from storage.totals import Totals, is_ranked, ranked
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
class MemberSums:
    """A member's campaign points by source, and their totals this week and this stage (None
    without a stage)."""

    by_source: dict[str, int]
    week: int
    stage: int | None


@dataclass(frozen=True)
class Rank:
    """Where a member stands: competition ranks (equal points share a rank) in their unit and in
    the campaign, each with how many are ranked there. Ranks are None for one not ranked (a
    volunteer, someone no longer active)."""

    points: int
    unit_rank: int | None
    unit_size: int
    campaign_rank: int | None
    campaign_size: int


@dataclass(frozen=True)
class UnitStanding:
    unit_id: int
    points: int
    members: int

    @property
    def per_member(self) -> float:
        return self.points / self.members if self.members else 0.0


# On PostgreSQL, a transaction that awards points first takes this lock for the campaign, until
# it ends. Each award adds to the member's, the unit's and the day's totals rows: two
# transactions awarding to the same people in different orders (two deeds with the same doers)
# would each hold a row the other waits for, a deadlock. Awards of one campaign take their turns
# instead; each holds the turn for milliseconds. (The two-number form keeps it apart from the
# scheduler's leadership lock.)
_AWARDS_LOCK = text("SELECT pg_advisory_xact_lock(:space, :campaign)")
_AWARDS_LOCK_SPACE = 1_470_201


def _sum_between(first: str, last: str) -> Any:
    inside = PointEntry.local_date.between(bindparam(first), bindparam(last))
    return func.sum(case((inside, PointEntry.points), else_=0))


_MEMBER_SUMS = (
    select(
        PointEntry.source,
        func.sum(PointEntry.points),
        _sum_between("week_first", "week_last"),
        _sum_between("stage_first", "stage_last"),
    )
    .where(
        PointEntry.campaign_id == bindparam("campaign"),
        PointEntry.member_id == bindparam("member"),
    )
    .group_by(PointEntry.source)
)


def _top_units_statement() -> Any:
    """Units with ranked members, their campaign points and headcount, ranked by points per
    member (as ``UnitStanding.per_member``: a float division) and cut at ``limit``."""
    points = func.coalesce(UnitPoints.points, 0)
    per_member = points * 1.0 / UnitHeadcount.ranked
    place = func.rank().over(order_by=per_member.desc())
    ranked_units = (
        select(
            UnitHeadcount.unit_id.label("unit_id"),
            points.label("points"),
            UnitHeadcount.ranked.label("members"),
            place.label("place"),
        )
        .outerjoin(
            UnitPoints,
            (UnitPoints.unit_id == UnitHeadcount.unit_id)
            & (UnitPoints.campaign_id == bindparam("campaign")),
        )
        .where(
            UnitHeadcount.organisation_id == bindparam("organisation"),
            UnitHeadcount.ranked > 0,
        )
        .subquery()
    )
    return (
        select(ranked_units)
        .order_by(ranked_units.c.place, ranked_units.c.unit_id)
        .limit(bindparam("limit"))
    )


_TOP_UNITS = _top_units_statement()


def _place(points: int, above: int, size: int, with_row: int) -> int:
    """1 + how many ranked totals are above ``points``; below zero, those ranked with no totals
    row (0 points) are above too."""
    place = 1 + above
    if points < 0:
        place += size - with_row
    return place


def _rank_statement(*, campaign_wide: bool) -> Any:
    """The member's points, and for the unit (and the organisation) the ranked headcount, the
    ranked totals above the member's and the ranked totals there are: scalar subqueries over
    the totals' indexes, in one statement."""
    campaign = MemberPoints.campaign_id == bindparam("campaign")
    points = func.coalesce(
        select(MemberPoints.points)
        .where(campaign, MemberPoints.member_id == bindparam("member"))
        .scalar_subquery(),
        0,
    )

    def headcount(scope: Any) -> Any:
        return select(func.sum(UnitHeadcount.ranked)).where(scope).scalar_subquery()

    def ranked_totals(*scope: Any, above: bool) -> Any:
        query = select(func.count()).where(campaign, MemberPoints.ranked, *scope)
        if above:
            return query.where(MemberPoints.points > points).scalar_subquery()
        # all of them are counted only for a total below zero (both databases leave a subquery
        # in a branch not taken unrun: at 50,000 members it is a scan of the index)
        return case((points < 0, query.scalar_subquery()), else_=0)

    in_unit = MemberPoints.unit_id == bindparam("unit")
    columns = [
        points,
        headcount(UnitHeadcount.unit_id == bindparam("unit")),
        ranked_totals(in_unit, above=True),
        ranked_totals(in_unit, above=False),
    ]
    if campaign_wide:
        columns += [
            headcount(UnitHeadcount.organisation_id == bindparam("organisation")),
            ranked_totals(above=True),
            ranked_totals(above=False),
        ]
    return select(*columns)


_RANKS = _rank_statement(campaign_wide=True)
_UNIT_RANK = _rank_statement(campaign_wide=False)


class Ledger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.totals = Totals(session)
        self._turns: set[int] = set()  # campaigns whose awards lock this transaction holds

    async def _take_turn(self, campaign_id: int) -> None:
        if campaign_id in self._turns or self._session.get_bind().dialect.name != "postgresql":
            return
        await self._session.execute(
            _AWARDS_LOCK, {"space": _AWARDS_LOCK_SPACE, "campaign": campaign_id}
        )
        self._turns.add(campaign_id)

    def turns_undone(self) -> None:
        """A savepoint rolled back: the locks taken inside it are released with it."""
        self._turns.clear()

    async def award(self, award: Award) -> bool:
        """Write the points once; False if this key was written before (a repeat)."""
        await self._take_turn(award.campaign_id)
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
        # the new row adds to the member's, the unit's and the day's totals by itself (a
        # trigger: migration 0007); a repeat adds no row and nothing to them
        return new_id is not None

    async def member_total(self, campaign_id: int, member_id: int) -> int:
        """The member's points in the campaign (their totals row; none yet is 0). A period's
        points come from ``member_sums``."""
        return int(
            await self._session.scalar(
                select(MemberPoints.points).where(
                    MemberPoints.campaign_id == campaign_id,
                    MemberPoints.member_id == member_id,
                )
            )
            or 0
        )

    async def member_sums(
        self,
        campaign_id: int,
        member_id: int,
        week: tuple[dt.date, dt.date],
        stage: tuple[dt.date, dt.date] | None,
    ) -> MemberSums:
        """The member's points by source, and their totals in the days of ``week`` and of
        ``stage``: one statement of conditional sums (/score asked three)."""
        far = (dt.date.max, dt.date.max)  # no stage: a span no ledger row falls in
        stage_first, stage_last = stage or far
        rows = await self._session.execute(
            _MEMBER_SUMS,
            {
                "campaign": campaign_id,
                "member": member_id,
                "week_first": week[0],
                "week_last": week[1],
                "stage_first": stage_first,
                "stage_last": stage_last,
            },
        )
        by_source: dict[str, int] = {}
        in_week = in_stage = 0
        for source, points, week_points, stage_points in rows.all():
            by_source[source] = int(points or 0)
            in_week += int(week_points or 0)
            in_stage += int(stage_points or 0)
        return MemberSums(by_source, in_week, in_stage if stage else None)

    async def recent(self, campaign_id: int, member_id: int, limit: int = 10) -> list[PointEntry]:
        rows = await self._session.scalars(
            select(PointEntry)
            .where(PointEntry.campaign_id == campaign_id, PointEntry.member_id == member_id)
            .order_by(PointEntry.occurred_at.desc(), PointEntry.id.desc())
            .limit(limit)
        )
        return list(rows)

    async def rank(self, campaign_id: int, member: Member, *, campaign_wide: bool = True) -> Rank:
        """The member's ranks as counts over the totals' indexes: one more than those with more
        points. Members with no points yet have no totals row and count as 0. Without
        ``campaign_wide`` only the unit's rank is counted (the campaign's is None, its size 0).
        One statement: every /score asks it, and each statement costs a round trip."""
        statement = _RANKS if campaign_wide else _UNIT_RANK
        row = (
            await self._session.execute(
                statement,
                {
                    "campaign": campaign_id,
                    "member": member.id,
                    "unit": member.unit_id,
                    "organisation": member.organisation_id,
                },
            )
        ).one()
        points, unit_size, unit_above, unit_rows = (int(value or 0) for value in row[:4])
        counted = is_ranked(member)
        unit_rank = _place(points, unit_above, unit_size, unit_rows) if counted else None
        if not campaign_wide:
            return Rank(points, unit_rank, unit_size, None, 0)
        campaign_size, campaign_above, campaign_rows = (int(value or 0) for value in row[4:])
        campaign_rank = (
            _place(points, campaign_above, campaign_size, campaign_rows) if counted else None
        )
        return Rank(points, unit_rank, unit_size, campaign_rank, campaign_size)

    async def top_of_unit(self, campaign_id: int, unit_id: int, limit: int) -> list[Standing]:
        """The unit's ranked members by campaign points, highest first (ties by who joined
        first): one unit's members, read with their totals."""
        points = func.coalesce(MemberPoints.points, 0)
        rows = await self._session.execute(
            select(Member.id, Member.display_name, Member.hide_name, points)
            .outerjoin(
                MemberPoints,
                (MemberPoints.member_id == Member.id) & (MemberPoints.campaign_id == campaign_id),
            )
            .where(Member.unit_id == unit_id, ranked())
            .order_by(points.desc(), Member.id)
            .limit(limit)
        )
        return [Standing(m, name, hide, int(p)) for m, name, hide, p in rows.all()]

    async def top_units(
        self, campaign_id: int, organisation_id: int, limit: int
    ) -> list[tuple[int, UnitStanding]]:
        """The first ``limit`` units with ranked members by campaign points per member, each
        with its competition rank (equal points per member share one): ranked and cut in the
        database, which reads every unit's total and headcount but hands over only ``limit``
        rows (/leaderboard ranked all 2,000 outlets of a large organisation in Python)."""
        rows = await self._session.execute(
            _TOP_UNITS, {"campaign": campaign_id, "organisation": organisation_id, "limit": limit}
        )
        return [
            (int(place), UnitStanding(unit_id, int(points), int(members)))
            for unit_id, points, members, place in rows.all()
        ]

    async def unit_standings(
        self,
        campaign_id: int,
        organisation_id: int,
        *,
        unit_ids: list[int] | None = None,
        first: dt.date | None = None,
        last: dt.date | None = None,
    ) -> list[UnitStanding]:
        """The organisation's units with ranked members (or those of ``unit_ids``), by points
        per member so size does not decide, highest first: over the campaign, or over the days
        from ``first`` to ``last`` (read from the units' day totals)."""
        counted = [UnitHeadcount.organisation_id == organisation_id, UnitHeadcount.ranked > 0]
        if unit_ids is not None:
            counted.append(UnitHeadcount.unit_id.in_(unit_ids))
        members = dict(
            (
                await self._session.execute(
                    select(UnitHeadcount.unit_id, UnitHeadcount.ranked).where(*counted)
                )
            ).all()
        )
        if first is None and last is None:
            point_rows = await self._session.execute(
                select(UnitPoints.unit_id, UnitPoints.points).where(
                    UnitPoints.campaign_id == campaign_id
                )
            )
        else:
            days = [UnitDayPoints.campaign_id == campaign_id]
            if first is not None:
                days.append(UnitDayPoints.local_date >= first)
            if last is not None:
                days.append(UnitDayPoints.local_date <= last)
            if unit_ids is not None:
                days.append(UnitDayPoints.unit_id.in_(unit_ids))
            point_rows = await self._session.execute(
                select(UnitDayPoints.unit_id, func.sum(UnitDayPoints.points))
                .where(*days)
                .group_by(UnitDayPoints.unit_id)
            )
        points = {unit_id: total for unit_id, total in point_rows.all()}
        standings = [
            UnitStanding(unit_id, int(points.get(unit_id, 0)), count)
            for unit_id, count in members.items()
        ]
        return sorted(standings, key=lambda s: (-s.per_member, s.unit_id))
