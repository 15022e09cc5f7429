"""Every model is created, read back from the database and its constraints hold, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from kernel import Role
from storage.database import Database
from storage.models import (
    Campaign,
    ChatBinding,
    Checklist,
    ChecklistItem,
    Conversation,
    Deed,
    DeedMember,
    Drill,
    DrillAnswer,
    DrillItem,
    Inspection,
    Member,
    Observation,
    Organisation,
    OutboxMessage,
    Platform,
    PlatformIdentity,
    PointEntry,
    ProcessedEvent,
    Rectification,
    SchedulerMark,
    SelfCheckAnswer,
    SelfCheckRun,
    Stage,
    Unit,
)
from storage.upsert import insert_once

NOW = dt.datetime(2027, 3, 15, 1, 30, 15, 123456, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=12)
CALENDAR = {"country": "CN", "working_days": ["mon", "tue", "wed", "thu", "fri"], "holidays": []}


@dataclass
class World:
    """The ids of a small organisation with a campaign, used by most tests."""

    organisation: int
    root: int
    outlet: int
    staff: int
    head: int
    campaign: int
    stage: int
    checklist: int
    item: int
    critical_item: int
    drill_item: int


def _unit(organisation_id: int, key: str, parent_id: int | None = None, depth: int = 0) -> Unit:
    return Unit(
        organisation_id=organisation_id,
        parent_id=parent_id,
        key=key,
        name_zh=f"{key}网点",
        name_en=f"{key} outlet",
        timezone="Asia/Shanghai",
        locale="zh",
        morning_meeting="08:30",
        calendar=CALENDAR,
        depth=depth,
    )


def _member(organisation_id: int, unit_id: int | None, name: str, role: Role) -> Member:
    return Member(
        organisation_id=organisation_id,
        unit_id=unit_id,
        display_name=name,
        role=role,
        created_at=NOW,
    )


async def _world(database: Database) -> World:
    async with database.transaction() as session:
        organisation = Organisation(
            key="psbc", name_zh="中国邮政储蓄银行", name_en="Postal Savings Bank", created_at=NOW
        )
        session.add(organisation)
        await session.flush()
        root = _unit(organisation.id, "county")
        session.add(root)
        await session.flush()
        outlet = _unit(organisation.id, "renmin-road", root.id, 1)
        session.add(outlet)
        await session.flush()
        staff = _member(organisation.id, outlet.id, "王芳", Role.STAFF)
        head = _member(organisation.id, outlet.id, "陈静", Role.SUPERVISOR)
        head.is_unit_head = True
        campaign = Campaign(
            organisation_id=organisation.id,
            key="postal-bank",
            title_zh="服务质量提升活动",
            title_en="Service quality campaign",
            timezone="Asia/Shanghai",
            locale="zh",
            starts_on=dt.date(2027, 1, 1),
            ends_on=dt.date(2027, 12, 31),
            plan={"key": "postal-bank"},
            plan_digest="0" * 64,
            loaded_at=NOW,
        )
        session.add_all([staff, head, campaign])
        await session.flush()
        stage = Stage(
            campaign_id=campaign.id,
            key="stage1",
            position=1,
            name_zh="第一阶段",
            name_en="Stage 1",
            focus_zh="硬件整改",
            focus_en="Hardware",
            starts_on=dt.date(2027, 1, 1),
            ends_on=dt.date(2027, 4, 30),
            target_score=92,
        )
        checklist = Checklist(
            campaign_id=campaign.id,
            key="mystery-shopper",
            title_zh="神秘人检查标准",
            title_en="Mystery shopper",
            stage_keys=[],
        )
        drill_item = DrillItem(
            campaign_id=campaign.id,
            key="count-cash",
            position=1,
            kind="choice",
            question_zh="提醒客户清点钱钞？",
            question_en="Remind to count cash?",
            options=[{"zh": "是", "en": "Yes"}, {"zh": "否", "en": "No"}],
            answer=1,
        )
        session.add_all([stage, checklist, drill_item])
        await session.flush()
        item = ChecklistItem(
            checklist_id=checklist.id,
            key="hw-shop-sign",
            position=1,
            text_zh="店招完好",
            text_en="Shop sign intact",
            kind="hardware",
        )
        critical_item = ChecklistItem(
            checklist_id=checklist.id,
            key="sw-no-phone",
            position=2,
            text_zh="不玩手机",
            text_en="No phones",
            kind="software",
            weight=5,
            critical=True,
        )
        session.add_all([item, critical_item])
        await session.flush()
        return World(
            organisation=organisation.id,
            root=root.id,
            outlet=outlet.id,
            staff=staff.id,
            head=head.id,
            campaign=campaign.id,
            stage=stage.id,
            checklist=checklist.id,
            item=item.id,
            critical_item=critical_item.id,
            drill_item=drill_item.id,
        )


async def _count(database: Database, model: Any) -> int:
    async with database.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _rejected(database: Database, *rows: Any) -> None:
    """Adding ``rows`` breaks a constraint: the flush fails and the transaction rolls back."""
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add_all(rows)
            await session.flush()


# --- the organisation -------------------------------------------------------------------------


async def test_organisation_and_unit_tree(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        leaf = _unit(world.organisation, "counter-1", world.outlet, 2)
        session.add(leaf)
        await session.flush()
        leaf_id = leaf.id

    async with database.transaction() as session:
        organisation = await session.get(Organisation, world.organisation)
        assert organisation is not None
        assert (organisation.key, organisation.name_zh) == ("psbc", "中国邮政储蓄银行")
        assert organisation.created_at == NOW
        leaf_row = await session.get(Unit, leaf_id)
        assert leaf_row is not None
        outlet = await session.get(Unit, leaf_row.parent_id)
        assert outlet is not None and outlet.key == "renmin-road" and outlet.depth == 1
        root = await session.get(Unit, outlet.parent_id)
        assert root is not None and root.key == "county"
        assert (root.parent_id, root.depth) == (None, 0)
        assert leaf_row.depth == 2
        assert leaf_row.name_zh == "counter-1网点"
        assert leaf_row.calendar == CALENDAR
        children = await session.scalars(
            select(Unit.key).where(Unit.parent_id == world.root).order_by(Unit.id)
        )
        assert list(children) == ["renmin-road"]

    # the unit key is unique within an organisation, and organisation keys are unique
    await _rejected(database, _unit(world.organisation, "renmin-road", world.root, 1))
    await _rejected(
        database, Organisation(key="psbc", name_zh="重复", name_en="dup", created_at=NOW)
    )
    assert await _count(database, Unit) == 3
    assert await _count(database, Organisation) == 1


async def test_members_with_each_role(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        for role in Role:
            session.add(_member(world.organisation, world.outlet, f"member-{role}", role))
        session.add(_member(world.organisation, None, "无单位志愿者", Role.VOLUNTEER))

    async with database.transaction() as session:
        rows = list(
            await session.scalars(select(Member).where(Member.display_name.like("member-%")))
        )
        assert sorted(m.role for m in rows) == sorted(r.value for r in Role)
        by_role = {m.role: m for m in rows}
        assert by_role[Role.ADMIN].display_name == "member-admin"
        for member in rows:
            assert (member.is_unit_head, member.hide_name, member.active) == (False, False, True)
            assert member.locale is None
            assert member.unit_id == world.outlet
            assert member.created_at == NOW
        head = await session.get(Member, world.head)
        assert head is not None and head.is_unit_head and head.role == Role.SUPERVISOR
        floating = await session.scalar(select(Member).where(Member.unit_id.is_(None)))
        assert floating is not None and floating.display_name == "无单位志愿者"
    # a member must belong to an existing organisation
    await _rejected(database, _member(world.organisation + 100, None, "ghost", Role.STAFF))


async def test_platform_identities_of_one_person(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        session.add_all(
            [
                PlatformIdentity(
                    member_id=world.staff,
                    platform=Platform.SLACK,
                    workspace="T0001",
                    external_id="U123",
                    private_chat_id="D123",
                    platform_locale="zh-CN",
                    created_at=NOW,
                ),
                PlatformIdentity(
                    member_id=world.staff,
                    platform=Platform.TELEGRAM,
                    external_id="555000",
                    private_chat_id="555000",
                    created_at=LATER,
                ),
            ]
        )

    async with database.transaction() as session:
        identities = list(
            await session.scalars(
                select(PlatformIdentity)
                .where(PlatformIdentity.member_id == world.staff)
                .order_by(PlatformIdentity.platform)
            )
        )
        assert [(i.platform, i.workspace, i.external_id) for i in identities] == [
            ("slack", "T0001", "U123"),
            ("telegram", "", "555000"),
        ]
        assert identities[0].platform_locale == "zh-CN"
        assert identities[1].platform_locale is None
        assert identities[1].created_at == LATER

    # the same account cannot belong to two people ...
    duplicate = PlatformIdentity(
        member_id=world.head,
        platform="slack",
        workspace="T0001",
        external_id="U123",
        created_at=NOW,
    )
    await _rejected(database, duplicate)
    # ... but the same user id in another Slack workspace is another account
    async with database.transaction() as session:
        session.add(
            PlatformIdentity(
                member_id=world.head,
                platform="slack",
                workspace="T0002",
                external_id="U123",
                created_at=NOW,
            )
        )
    assert await _count(database, PlatformIdentity) == 3


async def test_chat_binding(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        session.add(
            ChatBinding(
                unit_id=world.outlet,
                platform="telegram",
                chat_id="-100200300",
                locale="en",
                created_at=NOW,
            )
        )
    async with database.transaction() as session:
        binding = await session.scalar(select(ChatBinding))
        assert binding is not None
        assert (
            binding.unit_id,
            binding.platform,
            binding.workspace,
            binding.chat_id,
            binding.locale,
        ) == (world.outlet, "telegram", "", "-100200300", "en")
    await _rejected(
        database,
        ChatBinding(
            unit_id=world.root,
            platform="telegram",
            chat_id="-100200300",
            locale="zh",
            created_at=NOW,
        ),
    )
    await _rejected(
        database,
        ChatBinding(unit_id=9999, platform="slack", chat_id="C1", locale="zh", created_at=NOW),
    )
    await _rejected(  # a chat always has a language
        database, ChatBinding(unit_id=world.outlet, platform="slack", chat_id="C2", created_at=NOW)
    )
    assert await _count(database, ChatBinding) == 1


# --- the campaign plan ------------------------------------------------------------------------


async def test_campaign_stage_checklist_and_drill_bank(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        campaign = await session.get(Campaign, world.campaign)
        assert campaign is not None
        assert (campaign.starts_on, campaign.ends_on) == (
            dt.date(2027, 1, 1),
            dt.date(2027, 12, 31),
        )
        assert campaign.plan == {"key": "postal-bank"}
        assert campaign.loaded_at == NOW
        stage = await session.get(Stage, world.stage)
        assert stage is not None
        assert (stage.target_score, stage.remind_days_before_end) == (92.0, 3)
        assert (stage.is_summary, stage.active, stage.position) == (False, True, 1)
        checklist = await session.get(Checklist, world.checklist)
        assert checklist is not None and checklist.stage_keys == [] and checklist.active
        items = list(
            await session.scalars(
                select(ChecklistItem)
                .where(ChecklistItem.checklist_id == world.checklist)
                .order_by(ChecklistItem.position)
            )
        )
        assert [(i.key, i.kind, i.weight, i.critical) for i in items] == [
            ("hw-shop-sign", "hardware", 1.0, False),
            ("sw-no-phone", "software", 5.0, True),
        ]
        drill_item = await session.get(DrillItem, world.drill_item)
        assert drill_item is not None
        assert drill_item.options == [{"zh": "是", "en": "Yes"}, {"zh": "否", "en": "No"}]
        assert (drill_item.answer, drill_item.explanation_zh, drill_item.active) == (1, "", True)

    same_key = Stage(
        campaign_id=world.campaign,
        key="stage1",
        position=2,
        name_zh="重复",
        name_en="dup",
        focus_zh="",
        focus_en="",
        starts_on=dt.date(2027, 5, 1),
        ends_on=dt.date(2027, 6, 1),
    )
    await _rejected(database, same_key)
    await _rejected(
        database,
        ChecklistItem(
            checklist_id=world.checklist,
            key="hw-shop-sign",
            position=3,
            text_zh="重复",
            text_en="dup",
            kind="hardware",
        ),
    )
    await _rejected(
        database,
        DrillItem(
            campaign_id=world.campaign,
            key="count-cash",
            position=2,
            kind="scenario",
            question_zh="重复",
            question_en="dup",
            options=[],
        ),
    )
    await _rejected(
        database,
        Campaign(
            organisation_id=world.organisation,
            key="postal-bank",
            title_zh="重复",
            title_en="dup",
            timezone="Asia/Shanghai",
            locale="zh",
            starts_on=dt.date(2028, 1, 1),
            ends_on=dt.date(2028, 12, 31),
            plan={},
            plan_digest="1" * 64,
            loaded_at=NOW,
        ),
    )
    assert [await _count(database, m) for m in (Campaign, Stage, ChecklistItem, DrillItem)] == [
        1,
        1,
        2,
        1,
    ]


# --- what people do ---------------------------------------------------------------------------


def _drill(world: World, unit_id: int, day: dt.date) -> Drill:
    return Drill(
        campaign_id=world.campaign,
        unit_id=unit_id,
        drill_item_id=world.drill_item,
        local_date=day,
        opens_at=NOW,
        closes_at=LATER,
    )


def _answer(drill_id: int, member_id: int, choice: int) -> DrillAnswer:
    return DrillAnswer(
        drill_id=drill_id, member_id=member_id, choice=choice, correct=choice == 1, answered_at=NOW
    )


async def test_drill_once_per_unit_and_day_and_one_answer_per_person(database: Database) -> None:
    world = await _world(database)
    day = dt.date(2027, 3, 15)
    async with database.transaction() as session:
        drill = _drill(world, world.outlet, day)
        root_drill = _drill(world, world.root, day)  # another unit, same day: fine
        next_day = _drill(world, world.outlet, day + dt.timedelta(days=1))
        session.add_all([drill, root_drill, next_day])
        await session.flush()
        session.add_all([_answer(drill.id, world.staff, 1), _answer(drill.id, world.head, 2)])
        await session.flush()
        drill_id = drill.id

    async with database.transaction() as session:
        stored = await session.get(Drill, drill_id)
        assert stored is not None
        assert (stored.local_date, stored.opens_at, stored.closes_at) == (day, NOW, LATER)
        answers = list(
            await session.scalars(
                select(DrillAnswer)
                .where(DrillAnswer.drill_id == drill_id)
                .order_by(DrillAnswer.member_id)
            )
        )
        assert [(a.member_id, a.choice, a.correct) for a in answers] == [
            (world.staff, 1, True),
            (world.head, 2, False),
        ]
        assert answers[0].answer_text is None and answers[0].self_rating is None

    await _rejected(database, _drill(world, world.outlet, day))
    await _rejected(database, _answer(drill_id, world.staff, 2))
    assert await _count(database, Drill) == 3
    assert await _count(database, DrillAnswer) == 2


async def test_selfcheck_run_answers_and_rectification(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        run = SelfCheckRun(
            member_id=world.head,
            unit_id=world.outlet,
            checklist_id=world.checklist,
            stage_id=world.stage,
            started_at=NOW,
        )
        session.add(run)
        await session.flush()
        session.add_all(
            [
                SelfCheckAnswer(run_id=run.id, item_id=world.item, result="pass", answered_at=NOW),
                SelfCheckAnswer(
                    run_id=run.id,
                    item_id=world.critical_item,
                    result="fail",
                    comment="柜员在玩手机",
                    photo_ref="photos/1.jpg",
                    answered_at=NOW,
                ),
            ]
        )
        run.finished_at = LATER
        run.score = 0
        run.zeroed_by_item_id = world.critical_item
        rectification = Rectification(
            unit_id=world.outlet,
            run_id=run.id,
            item_id=world.critical_item,
            description="整改：营业时间不使用手机",
            owner_member_id=world.staff,
            created_by_member_id=world.head,
            due_at=NOW + dt.timedelta(days=7),
            created_at=NOW,
        )
        session.add(rectification)
        await session.flush()
        run_id, rectification_id = run.id, rectification.id

    async with database.transaction() as session:
        run_row = await session.get(SelfCheckRun, run_id)
        assert run_row is not None
        assert (run_row.finished_at, run_row.score) == (LATER, 0.0)
        assert run_row.zeroed_by_item_id == world.critical_item
        answers = list(
            await session.scalars(
                select(SelfCheckAnswer)
                .where(SelfCheckAnswer.run_id == run_id)
                .order_by(SelfCheckAnswer.item_id)
            )
        )
        assert [(a.item_id, a.result, a.comment) for a in answers] == [
            (world.item, "pass", None),
            (world.critical_item, "fail", "柜员在玩手机"),
        ]
        stored = await session.get(Rectification, rectification_id)
        assert stored is not None
        assert (stored.status, stored.reopen_count, stored.closed_at) == ("open", 0, None)
        assert stored.due_at == NOW + dt.timedelta(days=7)
        assert stored.description == "整改：营业时间不使用手机"
        stored.status = "closed"
        stored.close_note = "已整改"
        stored.closed_by_member_id = world.head
        stored.closed_at = LATER

    async with database.transaction() as session:
        closed = await session.get(Rectification, rectification_id)
        assert closed is not None
        assert (closed.status, closed.close_note, closed.closed_at) == ("closed", "已整改", LATER)

    await _rejected(
        database,
        SelfCheckAnswer(run_id=run_id, item_id=world.item, result="fail", answered_at=NOW),
    )
    assert await _count(database, SelfCheckAnswer) == 2


async def test_deed_and_its_members(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        deed = Deed(
            campaign_id=world.campaign,
            unit_id=world.outlet,
            reporter_member_id=world.head,
            description="拾金不昧，归还客户遗失的钱包",
            category_key="returned-property",
            amount=1200.5,
            created_at=NOW,
        )
        session.add(deed)
        await session.flush()
        session.add_all(
            [
                DeedMember(deed_id=deed.id, member_id=world.staff),
                DeedMember(deed_id=deed.id, member_id=world.head),
            ]
        )
        deed_id = deed.id

    async with database.transaction() as session:
        stored = await session.get(Deed, deed_id)
        assert stored is not None
        assert (stored.status, stored.amount, stored.days, stored.level) == (
            "pending",
            1200.5,
            None,
            None,
        )
        assert stored.description == "拾金不昧，归还客户遗失的钱包"
        names = await session.scalars(
            select(DeedMember.member_id)
            .where(DeedMember.deed_id == deed_id)
            .order_by(DeedMember.member_id)
        )
        assert list(names) == sorted([world.staff, world.head])
        stored.status = "approved"
        stored.decided_by_member_id = world.head
        stored.decided_at = LATER

    async with database.transaction() as session:
        approved = await session.get(Deed, deed_id)
        assert approved is not None and (approved.status, approved.decided_at) == (
            "approved",
            LATER,
        )
    await _rejected(database, DeedMember(deed_id=deed_id, member_id=world.staff))
    assert await _count(database, DeedMember) == 2


async def test_observation_and_inspection(database: Database) -> None:
    world = await _world(database)
    assessment = [{"rule": "below-target", "kind": "penalty", "amount": 1600.0}]
    async with database.transaction() as session:
        volunteer = _member(world.organisation, None, "义务监督员", Role.VOLUNTEER)
        session.add(volunteer)
        await session.flush()
        observation = Observation(
            campaign_id=world.campaign,
            unit_id=world.outlet,
            observer_member_id=volunteer.id,
            anonymous=True,
            kind="complaint",
            text="排队四十分钟无人引导",
            due_at=NOW + dt.timedelta(hours=48),
            escalated_to_unit_id=world.root,
            created_at=NOW,
        )
        inspection = Inspection(
            campaign_id=world.campaign,
            unit_id=world.outlet,
            stage_id=world.stage,
            inspector_member_id=world.head,
            kind="mystery",
            score=89.5,
            deducted_item_keys=["hw-shop-sign", "sw-no-phone"],
            assessment=assessment,
            inspected_on=dt.date(2027, 3, 14),
            created_at=NOW,
        )
        session.add_all([observation, inspection])
        await session.flush()
        observation_id, inspection_id = observation.id, inspection.id

    async with database.transaction() as session:
        seen = await session.get(Observation, observation_id)
        assert seen is not None
        assert (seen.kind, seen.status, seen.anonymous, seen.escalation_count) == (
            "complaint",
            "open",
            True,
            0,
        )
        assert seen.text == "排队四十分钟无人引导"
        assert seen.escalated_to_unit_id == world.root
        assert seen.due_at == NOW + dt.timedelta(hours=48)
        assert seen.claimed_at is None and seen.rating is None
        checked = await session.get(Inspection, inspection_id)
        assert checked is not None
        assert (checked.score, checked.inspected_on) == (89.5, dt.date(2027, 3, 14))
        assert checked.deducted_item_keys == ["hw-shop-sign", "sw-no-phone"]
        assert checked.assessment == assessment

    async with database.transaction() as session:
        rectification = Rectification(
            unit_id=world.outlet,
            inspection_id=inspection_id,
            owner_member_id=world.staff,
            created_by_member_id=world.head,
            due_at=LATER,
            created_at=NOW,
        )
        session.add(rectification)
        await session.flush()
        assert (await session.get(Rectification, rectification.id)).inspection_id == inspection_id  # type: ignore[union-attr]


# --- the ledger and the plumbing ----------------------------------------------------------------


def _points(world: World, key: str, points: int) -> dict[str, Any]:
    return {
        "campaign_id": world.campaign,
        "unit_id": world.outlet,
        "member_id": world.staff,
        "source": "drill",
        "rule": "drill_correct",
        "points": points,
        "idempotency_key": key,
        "ref_table": "drill_answer",
        "ref_id": 1,
        "occurred_at": NOW,
        "local_date": dt.date(2027, 3, 15),
    }


async def test_point_entry_counts_once_per_idempotency_key(database: Database) -> None:
    world = await _world(database)

    async def total() -> int:
        async with database.transaction() as session:
            return int(
                await session.scalar(
                    select(func.coalesce(func.sum(PointEntry.points), 0)).where(
                        PointEntry.member_id == world.staff
                    )
                )
            )

    async with database.transaction() as session:
        first = await insert_once(
            session, PointEntry, _points(world, "drill:1:2:correct", 8), ("idempotency_key",)
        )
        other = await insert_once(
            session, PointEntry, _points(world, "drill:1:2:answered", 2), ("idempotency_key",)
        )
    assert isinstance(first, int) and isinstance(other, int) and first != other
    assert await total() == 10

    async with database.transaction() as session:
        again = await insert_once(
            session, PointEntry, _points(world, "drill:1:2:correct", 8), ("idempotency_key",)
        )
    assert again is None
    assert await total() == 10
    assert await _count(database, PointEntry) == 2

    async with database.transaction() as session:
        entry = await session.get(PointEntry, first)
        assert entry is not None
        assert (entry.source, entry.rule, entry.points, entry.occurred_at) == (
            "drill",
            "drill_correct",
            8,
            NOW,
        )
    # a plain insert of the same key is refused by the unique constraint itself
    await _rejected(database, PointEntry(**_points(world, "drill:1:2:correct", 8)))
    assert await total() == 10


async def test_outbox_message(database: Database) -> None:
    world = await _world(database)
    reply = {"template": "drill", "data": {"question": "提醒客户清点钱钞？"}, "buttons": []}
    async with database.transaction() as session:
        message = OutboxMessage(
            idempotency_key=f"drill:{world.outlet}:2027-03-15",
            platform="telegram",
            chat_id="-100200300",
            unit_id=world.outlet,
            locale="zh",
            reply=reply,
            next_attempt_at=NOW,
            created_at=NOW,
        )
        session.add(message)
        await session.flush()
        message_id = message.id
    async with database.transaction() as session:
        stored = await session.get(OutboxMessage, message_id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.workspace) == ("pending", 0, "")
        assert stored.reply == reply
        assert stored.next_attempt_at == NOW and stored.sent_at is None
    await _rejected(
        database,
        OutboxMessage(
            idempotency_key=f"drill:{world.outlet}:2027-03-15",
            platform="slack",
            chat_id="C1",
            locale="en",
            reply={},
            next_attempt_at=NOW,
            created_at=NOW,
        ),
    )
    assert await _count(database, OutboxMessage) == 1


async def test_processed_event_conversation_and_scheduler_mark(database: Database) -> None:
    world = await _world(database)
    async with database.transaction() as session:
        session.add_all(
            [
                ProcessedEvent(platform="slack", event_id="Ev01", received_at=NOW),
                ProcessedEvent(platform="telegram", event_id="Ev01", received_at=NOW),
                Conversation(
                    member_id=world.staff,
                    flow="selfcheck",
                    step="item-3",
                    data={"run_id": 7, "备注": "第三项"},
                    updated_at=NOW,
                ),
                SchedulerMark(name="drills", reached_at=NOW),
            ]
        )
    async with database.transaction() as session:
        events = await session.execute(
            select(ProcessedEvent.platform, ProcessedEvent.event_id).order_by(
                ProcessedEvent.platform
            )
        )
        assert [tuple(row) for row in events.all()] == [("slack", "Ev01"), ("telegram", "Ev01")]
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        assert (conversation.flow, conversation.step) == ("selfcheck", "item-3")
        assert conversation.data == {"run_id": 7, "备注": "第三项"}
        mark = await session.get(SchedulerMark, "drills")
        assert mark is not None and mark.reached_at == NOW
        mark.reached_at = LATER
    async with database.transaction() as session:
        assert (await session.get(SchedulerMark, "drills")).reached_at == LATER  # type: ignore[union-attr]

    await _rejected(database, ProcessedEvent(platform="slack", event_id="Ev01", received_at=NOW))
    await _rejected(
        database,
        Conversation(member_id=world.staff, flow="deed", step="start", data={}, updated_at=NOW),
    )
    await _rejected(database, SchedulerMark(name="drills", reached_at=NOW))
    assert [await _count(database, m) for m in (ProcessedEvent, Conversation, SchedulerMark)] == [
        2,
        1,
        1,
    ]


# --- types and foreign keys --------------------------------------------------------------------


async def test_utc_datetime_round_trips_aware_datetimes(database: Database) -> None:
    shanghai = dt.datetime(2027, 3, 15, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    new_york = dt.datetime(2027, 7, 1, 20, 0, tzinfo=ZoneInfo("America/New_York"))
    async with database.transaction() as session:
        session.add_all(
            [
                SchedulerMark(name="shanghai", reached_at=shanghai),
                SchedulerMark(name="new-york", reached_at=new_york),
                SchedulerMark(name="utc", reached_at=NOW),
            ]
        )
    async with database.transaction() as session:
        marks = {m.name: m.reached_at for m in await session.scalars(select(SchedulerMark))}
        raw = await session.scalar(
            text("SELECT reached_at FROM scheduler_mark WHERE name = 'shanghai'")
        )
        # comparisons in queries convert the bound value to UTC as well
        later_than = await session.scalars(
            select(SchedulerMark.name)
            .where(SchedulerMark.reached_at > shanghai - dt.timedelta(seconds=1))
            .order_by(SchedulerMark.name)
        )
        assert list(later_than) == ["new-york", "shanghai", "utc"]
    assert marks["shanghai"] == dt.datetime(2027, 3, 15, 1, 30, 15, 123456, tzinfo=dt.UTC)
    assert marks["shanghai"].tzinfo is dt.UTC
    assert marks["new-york"] == dt.datetime(2027, 7, 2, 0, 0, tzinfo=dt.UTC)
    assert marks["new-york"].utcoffset() == dt.timedelta(0)
    assert marks["utc"] == NOW and marks["utc"].tzinfo is dt.UTC
    # stored as naive UTC: 01:30 in the column, not Shanghai's 09:30
    assert str(raw).startswith("2027-03-15 01:30:15.123456")


async def test_utc_datetime_rejects_naive_datetimes(database: Database) -> None:
    naive = dt.datetime(2027, 3, 15, 9, 30)
    with pytest.raises(StatementError) as raised:
        async with database.transaction() as session:
            session.add(SchedulerMark(name="naive", reached_at=naive))
            await session.flush()
    assert isinstance(raised.value.orig, ValueError)
    assert "naive datetime" in str(raised.value.orig)
    with pytest.raises(StatementError) as in_query:
        async with database.transaction() as session:
            await session.scalars(select(SchedulerMark).where(SchedulerMark.reached_at < naive))
    assert isinstance(in_query.value.orig, ValueError)
    assert await _count(database, SchedulerMark) == 0


async def test_json_columns_round_trip_chinese_text(database: Database) -> None:
    world = await _world(database)
    plan = {
        "title": {"zh": "临河县支行2027年服务质量提升活动", "en": "Linhe campaign"},
        "stages": [{"key": "stage1", "target_score": 92.5, "summary": False}],
        "quotes": "“来有迎声、问有答声、去有送声”",
        "nothing": None,
        "nested": {"list": [1, "二", {"三": [3.0]}]},
    }
    async with database.transaction() as session:
        campaign = await session.get(Campaign, world.campaign)
        assert campaign is not None
        campaign.plan = plan
    async with database.transaction() as session:
        campaign = await session.get(Campaign, world.campaign)
        assert campaign is not None
        assert campaign.plan == plan
        assert campaign.plan["quotes"] == "“来有迎声、问有答声、去有送声”"
        unit = await session.get(Unit, world.outlet)
        assert unit is not None and unit.calendar == CALENDAR
        raw = await session.scalar(
            text("SELECT plan FROM campaign WHERE id = :id"), {"id": world.campaign}
        )
    # the text survives in the stored JSON, whether escaped (SQLite) or not (PostgreSQL)
    assert "临河县支行" in str(raw) or "\\u4e34\\u6cb3" in str(raw)


async def test_foreign_keys_are_enforced(database: Database) -> None:
    async with database.transaction() as session:
        organisation = Organisation(key="org", name_zh="机构", name_en="Org", created_at=NOW)
        session.add(organisation)
        await session.flush()
        organisation_id = organisation.id
    await _rejected(database, _unit(organisation_id + 1000, "orphan"))
    await _rejected(database, _unit(organisation_id, "lost-child", parent_id=424242, depth=1))
    assert await _count(database, Unit) == 0
    async with database.transaction() as session:
        session.add(_unit(organisation_id, "fine"))
    assert await _count(database, Unit) == 1
