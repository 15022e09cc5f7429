"""The points totals (the read model ranks and leaderboards count over) always agree with the
ledger: written with each row, repeated and concurrent awards included, on SQLite and
PostgreSQL; ``uplift db rebuild-totals`` finds and mends any that do not."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from sqlalchemy import delete, func, select, update

from campaigns.schema import Plan
from kernel import Role
from storage.database import Database
from storage.models import (
    Member,
    MemberPoints,
    PointEntry,
    UnitDayPoints,
    UnitHeadcount,
    UnitPoints,
)
from storage.points import Award
from storage.store import Store
from tests.handlers.points.test_points import ZONE, add_member, award, ids
from tests.harness import open_demo
from tests.harness.cli import Cli


async def _award_at_once(database: Database, awards: list[Award]) -> list[bool]:
    """Each award in its own transaction, all started together."""

    async def one(award: Award) -> bool:
        async with database.store() as store:
            return await store.ledger.award(award)

    return list(await asyncio.gather(*(one(a) for a in awards)))


async def test_repeated_and_concurrent_awards_keep_totals_equal_to_the_ledger(
    plan: Plan, db_url: str
) -> None:
    async with open_demo(plan, db_url) as bot:
        me, campaign, _ = await ids(bot)
        other = await add_member(bot, "renmin-road", "Bo")
        now = bot.clock.now()
        day = now.astimezone(ZONE).date()

        def points(member: int, n: int, value: int) -> Award:
            return Award(
                campaign, bot.people.unit_id, member, "deed", "deed_approved", value,
                f"test:{member}:{n}", now, day,
            )  # fmt: skip

        # 30 distinct awards, each sent twice, all at once: every key counts exactly once.
        awards = [points(me if n % 2 else other, n, n - 10) for n in range(30)]
        written = await _award_at_once(bot.database, awards + awards[::-1])

        assert sum(written) == 30
        async with bot.database.store() as store:
            assert await store.ledger.totals.disagreements() == []
            mine = await store.ledger.member_total(campaign, me)
            theirs = await store.ledger.member_total(campaign, other)
        assert mine == sum(n - 10 for n in range(30) if n % 2)
        assert theirs == sum(n - 10 for n in range(30) if not n % 2)


async def test_ledger_rows_written_any_way_add_to_the_totals_once(plan: Plan, db_url: str) -> None:
    """The database adds each new ledger row to the totals itself: a row written without the
    ledger's own code (a bulk load, a repair by hand) counts too, several rows in one statement
    add their sum (PostgreSQL adds them per statement), and a repeated key adds nothing."""
    async with open_demo(plan, db_url) as bot:
        me, campaign, _ = await ids(bot)
        unit = bot.people.unit_id
        now = bot.clock.now()
        day = now.astimezone(ZONE).date()

        def row(key: str, points: int, member: int | None = me) -> dict[str, object]:
            return {
                "campaign_id": campaign, "unit_id": unit, "member_id": member,
                "source": "deed", "rule": "deed_approved", "points": points,
                "idempotency_key": key, "occurred_at": now, "local_date": day,
            }  # fmt: skip

        unit_total = select(func.coalesce(func.sum(UnitPoints.points), 0)).where(
            UnitPoints.campaign_id == campaign, UnitPoints.unit_id == unit
        )
        day_total = select(func.coalesce(func.sum(UnitDayPoints.points), 0)).where(
            UnitDayPoints.campaign_id == campaign,
            UnitDayPoints.unit_id == unit,
            UnitDayPoints.local_date == day,
        )
        async with bot.database.transaction() as session:
            before = (await session.scalar(unit_total), await session.scalar(day_total))
            await session.execute(
                PointEntry.__table__.insert(),
                [row("bulk:1", 4), row("bulk:2", 6), row("bulk:3", -1), row("bulk:4", 5, None)],
            )
        async with bot.database.store() as store:
            assert await store.ledger.totals.disagreements() == []
            assert await store.ledger.member_total(campaign, me) == 9
            assert await store.ledger.award(
                Award(campaign, unit, me, "deed", "deed_approved", 50, "bulk:2", now, day)
            ) is False  # fmt: skip
        async with bot.database.transaction() as session:
            after = (await session.scalar(unit_total), await session.scalar(day_total))
        assert (after[0] - before[0], after[1] - before[1]) == (14, 14)
        async with bot.database.store() as store:
            assert await store.ledger.member_total(campaign, me) == 9
            assert await store.ledger.totals.disagreements() == []


async def test_ranks_count_over_the_totals(plan: Plan, db_url: str) -> None:
    async with open_demo(plan, db_url) as bot:
        me, campaign, _ = await ids(bot)
        tied = await add_member(bot, "renmin-road", "Tie")
        below = await add_member(bot, "renmin-road", "Below")
        await award(bot, "renmin-road", me, 12, "t:1")
        await award(bot, "renmin-road", tied, 12, "t:2")
        await award(bot, "renmin-road", below, -3, "t:3")
        async with bot.database.store() as store:
            size = len(await store.members.of_unit(bot.people.unit_id))
            top = await store.ledger.top_of_unit(campaign, bot.people.unit_id, 10)
            people = {m: await store.members.get(m) for m in (me, tied, below)}
            ranks = {m: await store.ledger.rank(campaign, p) for m, p in people.items() if p}

        # Equal points share a rank; a negative total ranks below everyone at 0, last.
        assert [row.member_id for row in top[:2]] == sorted([me, tied])
        assert len(top) == size <= 10 and top[-1].member_id == below
        assert ranks[me].unit_rank == ranks[tied].unit_rank == 1
        assert ranks[below].unit_rank == ranks[below].unit_size == size
        assert ranks[me].campaign_rank == 1

        # Made a volunteer, a member is no longer ranked, and no longer counted above others.
        async with bot.database.store() as store:
            person = await store.members.get(tied)
            assert person is not None
            await store.members.set_role(person, Role.VOLUNTEER)
        async with bot.database.store() as store:
            me_now = await store.members.get(me)
            volunteer = await store.members.get(tied)
            assert me_now is not None and volunteer is not None
            mine = await store.ledger.rank(campaign, me_now)
            theirs = await store.ledger.rank(campaign, volunteer)
            assert await store.ledger.totals.disagreements() == []
        assert (mine.unit_rank, mine.unit_size) == (1, size - 1)
        assert (theirs.points, theirs.unit_rank) == (12, None)

        # Moved to another unit, a member is counted there, with their points.
        async with bot.database.store() as store:
            person = await store.members.get(below)
            elsewhere = await store.units.by_key(person.organisation_id, "dongguan")
            assert person is not None and elsewhere is not None
            await store.members.move(person, elsewhere.id)
        async with bot.database.store() as store:
            moved = await store.members.get(below)
            assert moved is not None
            there = await store.ledger.rank(campaign, moved)
            assert await store.ledger.totals.disagreements() == []
            sizes = {
                row.unit_id: row.members
                for row in await store.ledger.unit_standings(campaign, moved.organisation_id)
            }
        assert there.points == -3 and there.unit_size == sizes[elsewhere.id]
        assert there.unit_rank == there.unit_size
        assert sizes[bot.people.unit_id] == size - 2


def test_rebuild_totals_finds_and_mends_what_differs(plan: Plan, db_url: str, cli: Cli) -> None:
    async def spoil() -> None:
        async with open_demo(plan, db_url, start="2027-01-11 09:00") as bot:
            me, campaign, _ = await ids(bot)
            await award(bot, "renmin-road", me, 8, "r:1")
            await award(bot, "renmin-road", me, 5, "r:2")
            async with bot.database.store() as store:
                assert await store.ledger.totals.disagreements() == []
            async with bot.database.transaction() as session:
                await session.execute(
                    update(MemberPoints)
                    .where(MemberPoints.member_id == me)
                    .values(points=MemberPoints.points + 7)
                )
                await session.execute(delete(UnitPoints).where(UnitPoints.campaign_id == campaign))
                await session.execute(update(UnitHeadcount).values(ranked=UnitHeadcount.ranked + 1))

    asyncio.run(spoil())

    code, out, _ = cli("db", "rebuild-totals", "--check", database_url=db_url)
    assert code == 1
    assert all(f"{kind} " in out for kind in ("member", "unit", "headcount"))
    assert "totals differ from the ledger" in out

    code, out, _ = cli("db", "rebuild-totals", database_url=db_url, locale="zh")
    assert code == 0 and "已从台账重新计算积分汇总" in out

    code, out, _ = cli("db", "rebuild-totals", "--check", database_url=db_url)
    assert (code, out.strip()) == (0, "The points totals agree with the ledger.")

    async def check() -> None:
        database = Database(db_url)
        try:
            async with database.store() as store:
                assert await store.ledger.totals.disagreements() == []
        finally:
            await database.dispose()

    asyncio.run(check())


async def test_the_weekly_summary_ranks_peer_units_as_the_ledger_does(
    plan: Plan, demo_db: Path
) -> None:
    """The week's place among the units under the same parent, read from the units' day
    totals, is the one the ledger's own rows and the members give."""
    async with open_demo(plan, demo_db, start="2027-01-04 07:00") as bot:
        for n, unit_key in enumerate(("dongguan", "dongguan", "dev-zone")):
            peer = await add_member(bot, unit_key, f"Peer {n}")
            await award(bot, unit_key, peer, 7 + n, f"peer:{n}")
        out = await bot.say("/clock 2027-01-08 17:30")
        _, campaign, _ = await ids(bot)
        async with bot.database.transaction() as session:
            store = Store(session)
            mine = await store.units.get(bot.people.unit_id)
            assert mine is not None and mine.parent_id is not None
            peers = [
                u for u in await store.units.subtree_ids(mine.parent_id) if u != mine.parent_id
            ]
            counts = dict(
                (
                    await session.execute(
                        select(Member.unit_id, func.count())
                        .where(Member.unit_id.in_(peers), Member.active, Member.role != "volunteer")
                        .group_by(Member.unit_id)
                    )
                ).all()
            )
            sums = dict(
                (
                    await session.execute(
                        select(PointEntry.unit_id, func.sum(PointEntry.points))
                        .where(
                            PointEntry.campaign_id == campaign,
                            PointEntry.local_date.between(dt.date(2027, 1, 4), dt.date(2027, 1, 8)),
                        )
                        .group_by(PointEntry.unit_id)
                    )
                ).all()
            )
    per_member = {u: sums.get(u, 0) / n for u, n in counts.items() if n}
    order = sorted(per_member, key=lambda u: (-per_member[u], u))
    assert len(order) > 1 and len({per_member[u] for u in order}) > 1  # a real ranking
    summary = next(part for part in out.split("── ") if ": the week of " in part)
    place = order.index(bot.people.unit_id) + 1
    assert f"Number {place} of {len(order)} peer units by points per member." in summary
