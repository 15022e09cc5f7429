"""Statements an event or a tick no longer sends: rows read beside the one asked for stay loaded
for the unit of work, SQLite's query_only pragma is set only when it changes, a campaign's plan
is decoded once per text, and escalation stops reading observations at the top of their tree.
Each test looks at what reaches the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from kernel import Role
from storage.database import Database
from storage.models import Drill, Member, Observation, UnitHeadcount, UnitPoints
from storage.points import Award, MemberSums
from storage.store import Store
from tests.storage.test_models import NOW, World, _unit, _world


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """Every statement sent while inside, in order."""
    sent: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(" ".join(statement.split()))

    engine = database.statement_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def selects(sent: list[str]) -> list[str]:
    """The reads among ``sent`` (a unit of work begins at its first statement)."""
    return [s for s in sent if s.startswith("SELECT")]


async def _drill_of_a_member(database: Database) -> tuple[World, int]:
    """The small organisation of the model tests (a county over an outlet, a campaign with a
    drill item), its staff member on the console as ``wang``, and the outlet's drill today."""
    world = await _world(database)
    async with database.transaction() as session:
        drill = Drill(
            campaign_id=world.campaign,
            unit_id=world.outlet,
            drill_item_id=world.drill_item,
            local_date=NOW.date(),
            opens_at=NOW,
            closes_at=NOW + dt.timedelta(hours=12),
        )
        session.add(drill)
        staff = await session.get(Member, world.staff)
        assert staff is not None
        await Store(session).members.add_identity(
            staff, platform="console", external_id="wang", now=NOW
        )
        await session.flush()
        return world, drill.id


async def test_a_member_found_by_identity_brings_their_unit(database: Database) -> None:
    """The dispatcher finds the sender, then asks for their unit: one statement for both."""
    world, _ = await _drill_of_a_member(database)
    async with database.store() as store:
        with statements(database) as sent:
            found = await store.members.by_identity("console", "", "wang")
            assert found is not None and found[0].id == world.staff
            unit = await store.units.get(world.outlet)
        assert unit is not None and unit.key == "renmin-road"
        assert len(selects(sent)) == 1, sent


async def test_an_opened_drill_brings_its_item_and_campaign(database: Database) -> None:
    """Answering a drill reads the drill, its item and its campaign: one statement for all."""
    world, drill_id = await _drill_of_a_member(database)
    async with database.store() as store:
        with statements(database) as sent:
            drill = await store.drills.get(drill_id)
            assert drill is not None
            item = await store.drills.item(drill.drill_item_id)
            campaign = await store.campaigns.get(drill.campaign_id)
        assert item is not None and item.key == "count-cash"
        assert campaign is not None and campaign.id == world.campaign
        assert len(selects(sent)) == 1, sent
    async with database.store() as store:
        assert await store.drills.get(drill_id + 1000) is None


async def test_the_query_only_pragma_is_sent_when_it_changes(
    database: Database,
) -> None:
    """SQLite: a unit of work after one of the same kind sends no pragma; a reader after a
    writer (and a writer after a reader) does, and each still behaves as its kind."""
    if not database.is_sqlite:
        pytest.skip("query_only is SQLite's")
    world, _ = await _drill_of_a_member(database)
    organisation_id = world.organisation
    with statements(database) as sent:
        for kind in ("write", "write", "read", "read", "write"):
            if kind == "write":
                async with database.store() as store:
                    await store.members.by_identity("console", "", "wang")
            else:
                async with database.reading() as store:
                    await store.members.by_identity("console", "", "wang")
    pragmas = [s for s in sent if s.startswith("PRAGMA query_only")]
    # the pool may hand out a fresh connection first, which has never been told anything
    assert pragmas[-2:] == ["PRAGMA query_only = 1", "PRAGMA query_only = 0"], pragmas
    assert len(pragmas) <= 3, pragmas
    with pytest.raises(Exception, match="readonly"):
        async with database.reading() as store:
            await store.members.add(
                organisation_id=organisation_id,
                unit_id=None,
                display_name="x",
                role=Role.STAFF,
                now=NOW,
            )
    async with database.store() as store:  # the writer after it writes
        await store.members.add(
            organisation_id=organisation_id,
            unit_id=None,
            display_name="李明",
            role=Role.STAFF,
            now=NOW,
        )


async def test_a_plan_read_twice_is_decoded_once_and_equal_everywhere(
    database: Database,
) -> None:
    """SQLite hands the plan over as text: the same text gives the very same decoded plan in
    two units of work; PostgreSQL's driver decodes it itself. Either way it reads back equal."""
    world, _ = await _drill_of_a_member(database)
    plans = []
    for _ in range(2):
        async with database.reading() as store:
            campaign = await store.campaigns.get(world.campaign)
            assert campaign is not None
            plans.append(campaign.plan)
    assert plans[0] == plans[1] == {"key": "postal-bank"}
    if database.is_sqlite:
        assert plans[0] is plans[1]


async def test_an_observation_at_the_top_of_its_tree_is_no_longer_read_as_overdue(
    database: Database,
) -> None:
    """Escalation reads the open observations past their limit every tick: one that reached
    the top of its unit tree can go no higher, so it is not among them any more."""
    world, _ = await _drill_of_a_member(database)
    async with database.transaction() as session:
        session.add(
            Observation(
                campaign_id=world.campaign,
                unit_id=world.outlet,
                kind="complaint",
                text="排队太久",
                due_at=NOW,
                created_at=NOW - dt.timedelta(days=2),
            )
        )
    later = NOW + dt.timedelta(hours=1)
    async with database.store() as store:
        [overdue] = await store.observations.overdue(later)
        store.observations.escalate(overdue, world.root)
    async with database.store() as store:
        assert await store.observations.overdue(later) == []


async def test_a_members_ranks_are_one_statement(database: Database) -> None:
    """/score asks for the member's points, their unit's and the campaign's ranks and sizes:
    one statement of scalar subqueries over the totals, whatever the scope."""
    world, _ = await _drill_of_a_member(database)
    async with database.store() as store:
        staff = await store.members.get(world.staff)
        assert staff is not None
        for campaign_wide in (True, False):
            with statements(database) as sent:
                rank = await store.ledger.rank(world.campaign, staff, campaign_wide=campaign_wide)
            assert len(selects(sent)) == 1, sent
            assert (rank.points, rank.unit_rank) == (0, 1)


async def test_a_members_sums_by_source_week_and_stage_are_one_statement(
    database: Database,
) -> None:
    world, _ = await _drill_of_a_member(database)
    day = NOW.date()
    monday = day - dt.timedelta(days=day.weekday())
    written = [
        ("drill", 2, day),
        ("drill", 8, monday - dt.timedelta(days=1)),  # last week, this stage
        ("deed", 15, day),
        ("deed", -3, dt.date(2027, 1, 4)),  # an earlier stage
    ]
    async with database.store() as store:
        for n, (source, points, on) in enumerate(written):
            award = Award(
                world.campaign, world.outlet, world.staff, source, "r", points, f"s:{n}", NOW, on
            )
            assert await store.ledger.award(award)
    async with database.store() as store:
        with statements(database) as sent:
            sums = await store.ledger.member_sums(
                world.campaign,
                world.staff,
                week=(monday, day),
                stage=(dt.date(2027, 3, 1), dt.date(2027, 4, 30)),
            )
        assert len(selects(sent)) == 1, sent
        assert sums == MemberSums({"drill": 10, "deed": 12}, week=17, stage=25)
        no_stage = await store.ledger.member_sums(
            world.campaign, world.staff, week=(monday, day), stage=None
        )
        assert (no_stage.week, no_stage.stage) == (17, None)


async def test_the_leaderboards_units_are_ranked_and_cut_in_the_database(
    database: Database,
) -> None:
    """/leaderboard shows the first ten units by points per member with their ranks: equal
    points per member share a rank, a unit with no points yet is last, and it is the order
    ``unit_standings`` gives, in one statement that hands over only the rows shown."""
    world, _ = await _drill_of_a_member(database)
    async with database.transaction() as session:
        units = [_unit(world.organisation, key, world.root, 1) for key in "abcd"]
        session.add_all(units)
        await session.flush()
        a, b, c, d = (u.id for u in units)
        for unit_id, members, points in ((a, 3, 30), (b, 2, 20), (c, 1, None), (d, 3, 45)):
            session.add(
                UnitHeadcount(unit_id=unit_id, organisation_id=world.organisation, ranked=members)
            )
            if points is not None:
                session.add(UnitPoints(campaign_id=world.campaign, unit_id=unit_id, points=points))
    async with database.store() as store:
        with statements(database) as sent:
            top = await store.ledger.top_units(world.campaign, world.organisation, 3)
        everyone = await store.ledger.unit_standings(world.campaign, world.organisation)
    assert len(selects(sent)) == 1, sent
    assert [(place, row.unit_id) for place, row in top] == [(1, d), (2, a), (2, b)]
    assert [row for _, row in top] == everyone[:3]
    async with database.store() as store:
        last = await store.ledger.top_units(world.campaign, world.organisation, 10)
    assert last[-1][0] == 4 and last[-1][1].unit_id == c and last[-1][1].points == 0
