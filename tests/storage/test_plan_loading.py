"""Loading the shipped postal-bank plan: created once, unchanged on a reload, edited in place."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from sqlalchemy import event, func, inspect, select

from campaigns.schema import ChoiceDrill, Plan, PlanParts, ScenarioDrill, semantic_errors
from storage.database import Database
from storage.models import (
    Campaign,
    Checklist,
    ChecklistItem,
    Drill,
    DrillAnswer,
    DrillItem,
    Member,
    Organisation,
    PointEntry,
    Stage,
    Unit,
)
from storage.plans import LoadSummary, load_plan, plan_digest

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2027, 3, 15, 2, 0, tzinfo=dt.UTC)
PLAN_MODELS = (Organisation, Unit, Campaign, Stage, Checklist, ChecklistItem, DrillItem)

Snapshot = dict[str, dict[int, dict[str, Any]]]


async def _load(database: Database, plan: Plan, now: dt.datetime = NOW) -> LoadSummary:
    async with database.transaction() as session:
        return await load_plan(session, plan, now)


async def _snapshot(database: Database) -> Snapshot:
    """Every column of every row the plan loader writes, by table and id."""
    snapshot: Snapshot = {}
    async with database.transaction() as session:
        for model in PLAN_MODELS:
            columns = [c.key for c in inspect(model).column_attrs]
            rows = await session.scalars(select(model))
            snapshot[model.__tablename__] = {
                row.id: {name: getattr(row, name) for name in columns} for row in rows
            }
    return snapshot


def _diff(before: Snapshot, after: Snapshot) -> dict[str, dict[str, Any]]:
    """What changed between two snapshots: new row ids and changed columns of existing rows."""
    changes: dict[str, dict[str, Any]] = {}
    for table, rows in after.items():
        for row_id, row in rows.items():
            old = before[table].get(row_id)
            if old is None:
                changes.setdefault(table, {})[f"new:{row['key']}"] = row
                continue
            changed = {name for name, value in row.items() if old[name] != value}
            if changed:
                changes.setdefault(table, {})[row["key"]] = changed
        assert set(before[table]) <= set(rows), f"rows deleted from {table}"
    return changes


def _edited(plan: Plan) -> Plan:
    """The plan with a stage renamed, an item reweighted, the last drill removed and an item
    added to the end of the first checklist."""
    data = copy.deepcopy(plan.model_dump(mode="json"))
    data["stages"][1]["name"] = {"zh": "第二阶段：规范服务", "en": "Stage 2: standard service"}
    items = data["checklists"][0]["items"]
    items[2]["weight"] = items[2]["weight"] + 1
    items.append(
        {
            "key": "sw-new-greeting",
            "kind": "software",
            "weight": 2,
            "critical": False,
            "text": {"zh": "客户离开时起身道别", "en": "Stand and say goodbye"},
        }
    )
    data["drills"] = data["drills"][:-1]
    edited = Plan.model_validate(data)
    assert semantic_errors(PlanParts.of(edited)) == []
    return edited


async def test_first_load_creates_the_whole_plan(database: Database, plan: Plan) -> None:
    summary = await _load(database, plan)

    units = list(plan.all_units())
    items = sum(len(c.items) for c in plan.checklists)
    assert summary.created == {
        "organisation": 1,
        "unit": len(units),
        "campaign": 1,
        "stage": 3,
        "checklist": len(plan.checklists),
        "checklist_item": items,
        "drill_item": len(plan.drills),
    }
    assert summary.updated == {} and summary.deactivated == {}
    assert summary.changed

    async with database.transaction() as session:
        organisation = await session.get(Organisation, summary.organisation_id)
        assert organisation is not None
        assert (organisation.key, organisation.name_zh) == ("psbc", "中国邮政储蓄银行")
        assert organisation.created_at == NOW

        by_key = {u.key: u for u in await session.scalars(select(Unit))}
        assert set(by_key) == {u.key for u, _ in units}
        by_id = {u.id: u for u in by_key.values()}
        for unit, parent in units:
            row = by_key[unit.key]
            assert row.organisation_id == organisation.id
            assert row.name_zh == unit.name.zh
            if parent is None:
                assert (row.parent_id, row.depth) == (None, 0)
            else:
                assert by_id[row.parent_id].key == parent.key  # type: ignore[index]
                assert row.depth == by_id[row.parent_id].depth + 1  # type: ignore[index]
            # nothing overridden in this plan: every unit inherits the plan's settings
            assert (row.timezone, row.locale, row.morning_meeting) == (
                "Asia/Shanghai",
                "zh",
                "08:30",
            )
            assert row.calendar == plan.calendar.model_dump(mode="json")
        outlet = by_key["renmin-road"]
        assert by_id[outlet.parent_id].key == "chengdong"  # type: ignore[index]
        assert by_id[by_id[outlet.parent_id].parent_id].key == "linhe-county"  # type: ignore[index]
        assert [by_key[k].depth for k in ("linhe-county", "chengdong", "renmin-road")] == [0, 1, 2]

        campaign = await session.get(Campaign, summary.campaign_id)
        assert campaign is not None
        assert (campaign.key, campaign.organisation_id) == ("postal-bank", organisation.id)
        assert campaign.title_zh == "临河县支行2027年服务质量提升活动"
        assert (campaign.starts_on, campaign.ends_on) == (
            dt.date(2027, 1, 1),
            dt.date(2027, 12, 31),
        )
        assert (campaign.timezone, campaign.locale) == ("Asia/Shanghai", "zh")
        assert campaign.plan == plan.model_dump(mode="json")
        assert Plan.model_validate(campaign.plan) == plan
        assert campaign.plan_digest == plan_digest(plan)
        assert campaign.loaded_at == NOW

        stages = list(
            await session.scalars(
                select(Stage).where(Stage.campaign_id == campaign.id).order_by(Stage.position)
            )
        )
        assert [s.target_score for s in stages] == [92.0, 95.0, 98.0]
        assert [s.position for s in stages] == [1, 2, 3]
        assert [s.key for s in stages] == [s.key for s in plan.stages]
        assert [s.is_summary for s in stages] == [False, False, True]
        assert [(s.starts_on, s.ends_on) for s in stages] == [
            (s.starts_on, s.ends_on) for s in plan.stages
        ]
        assert stages[0].focus_zh == plan.stages[0].focus.zh
        assert all(s.active for s in stages)

        for checklist in plan.checklists:
            row = await session.scalar(
                select(Checklist).where(
                    Checklist.campaign_id == campaign.id, Checklist.key == checklist.key
                )
            )
            assert row is not None and row.title_zh == checklist.title.zh
            assert row.stage_keys == list(checklist.stages)
            stored = list(
                await session.scalars(
                    select(ChecklistItem)
                    .where(ChecklistItem.checklist_id == row.id)
                    .order_by(ChecklistItem.position)
                )
            )
            assert [(i.key, i.kind, i.weight, i.critical, i.text_zh) for i in stored] == [
                (i.key, i.kind, i.weight, i.critical, i.text.zh) for i in checklist.items
            ]
            assert [i.position for i in stored] == list(range(1, len(checklist.items) + 1))

        drills = list(
            await session.scalars(
                select(DrillItem)
                .where(DrillItem.campaign_id == campaign.id)
                .order_by(DrillItem.position)
            )
        )
        assert [d.key for d in drills] == [d.key for d in plan.drills]
        for row, drill in zip(drills, plan.drills, strict=True):
            assert row.kind == drill.kind and row.question_zh == drill.question.zh
            if isinstance(drill, ChoiceDrill):
                assert row.answer == drill.answer
                assert row.options == [{"zh": o.zh, "en": o.en} for o in drill.options]
                assert row.explanation_zh == drill.explanation.zh
            else:
                assert isinstance(drill, ScenarioDrill)
                assert (row.answer, row.options) == (None, [])
                assert row.explanation_zh == drill.model_answer.zh
        assert {d.kind for d in drills} == {"choice", "scenario"}


async def test_units_inherit_overridden_settings_from_their_parent(
    database: Database, plan: Plan
) -> None:
    data = copy.deepcopy(plan.model_dump(mode="json"))
    county = data["units"][0]
    chengxi = next(u for u in county["children"] if u["key"] == "chengxi")
    chengxi.update(
        timezone="Asia/Urumqi",
        locale="en",
        morning_meeting="9:15",
        calendar={"country": None, "working_days": ["mon", "tue", "wed", "thu", "fri", "sat"]},
    )
    west_street = next(u for u in chengxi["children"] if u["key"] == "west-street")
    west_street.update(morning_meeting="7:45", locale="zh")
    await _load(database, Plan.model_validate(data))

    async with database.transaction() as session:
        units = {u.key: u for u in await session.scalars(select(Unit))}
    settings = {
        key: (u.timezone, u.locale, u.morning_meeting, u.calendar["working_days"][-1])
        for key, u in units.items()
    }
    assert settings["linhe-county"] == ("Asia/Shanghai", "zh", "08:30", "fri")
    assert settings["chengdong"] == ("Asia/Shanghai", "zh", "08:30", "fri")
    assert settings["renmin-road"] == ("Asia/Shanghai", "zh", "08:30", "fri")
    assert settings["chengxi"] == ("Asia/Urumqi", "en", "09:15", "sat")
    assert settings["railway-station"] == ("Asia/Urumqi", "en", "09:15", "sat")
    assert settings["west-street"] == ("Asia/Urumqi", "zh", "07:45", "sat")
    assert units["railway-station"].calendar["country"] is None


async def test_loading_the_same_plan_again_changes_nothing(database: Database, plan: Plan) -> None:
    first = await _load(database, plan)
    before = await _snapshot(database)

    again = await _load(database, plan, LATER)

    assert again.changed is False
    assert (again.created, again.updated, again.deactivated) == ({}, {}, {})
    assert (again.organisation_id, again.campaign_id) == (first.organisation_id, first.campaign_id)
    after = await _snapshot(database)
    assert after == before
    assert next(iter(after["campaign"].values()))["loaded_at"] == NOW


async def test_a_plan_loaded_last_is_recognised_by_its_digest_without_reading_its_rows(
    database: Database, plan: Plan
) -> None:
    """Every start and every demo loads its plan again: when this very plan was the last one
    loaded in its organisation, two lookups say so, instead of one per row."""
    await _load(database, plan)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        again = await _load(database, plan, LATER)
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert again.changed is False and again.campaign_id > 0
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 2


async def test_a_second_campaign_of_the_organisation_makes_the_first_load_in_full(
    database: Database, plan: Plan
) -> None:
    """Two campaigns of one organisation share its units: after the second plan rewrote a
    unit, loading the first plan again (same digest) puts its settings back."""
    await _load(database, plan)
    data = copy.deepcopy(plan.model_dump(mode="json"))
    data["key"] = "second-campaign"
    data["units"][0]["morning_meeting"] = "9:45"
    await _load(database, Plan.model_validate(data), LATER)

    again = await _load(database, plan, LATER + dt.timedelta(days=1))

    assert again.updated.get("unit", 0) > 0
    async with database.transaction() as session:
        meetings = set(await session.scalars(select(Unit.morning_meeting)))
    assert meetings == {"08:30"}


async def test_loading_an_edited_plan_updates_only_what_changed(
    database: Database, plan: Plan
) -> None:
    first = await _load(database, plan)
    removed_key = plan.drills[-1].key
    edited = _edited(plan)

    # someone answered the drill that the edit removes, and scored for it
    async with database.transaction() as session:
        removed = await session.scalar(select(DrillItem).where(DrillItem.key == removed_key))
        outlet = await session.scalar(select(Unit).where(Unit.key == "renmin-road"))
        assert removed is not None and outlet is not None
        member = Member(
            organisation_id=first.organisation_id,
            unit_id=outlet.id,
            display_name="王芳",
            created_at=NOW,
        )
        drill = Drill(
            campaign_id=first.campaign_id,
            unit_id=outlet.id,
            drill_item_id=removed.id,
            local_date=dt.date(2027, 3, 15),
            opens_at=LATER,
            closes_at=LATER + dt.timedelta(hours=12),
        )
        session.add_all([member, drill])
        await session.flush()
        answer = DrillAnswer(
            drill_id=drill.id,
            member_id=member.id,
            answer_text="先安抚客户",
            self_rating=4,
            answered_at=LATER,
        )
        session.add(answer)
        await session.flush()
        session.add(
            PointEntry(
                campaign_id=first.campaign_id,
                unit_id=outlet.id,
                member_id=member.id,
                source="drill",
                rule="scenario_rated",
                points=6,
                idempotency_key=f"drill:{drill.id}:{member.id}:rated",
                ref_table="drill_answer",
                ref_id=answer.id,
                occurred_at=LATER,
                local_date=dt.date(2027, 3, 15),
            )
        )
        removed_id, drill_id, answer_id = removed.id, drill.id, answer.id

    before = await _snapshot(database)
    summary = await _load(database, edited, LATER)

    assert summary.created == {"checklist_item": 1}
    assert summary.updated == {"campaign": 1, "stage": 1, "checklist_item": 1}
    assert summary.deactivated == {"drill_item": 1}
    assert (summary.organisation_id, summary.campaign_id) == (
        first.organisation_id,
        first.campaign_id,
    )

    after = await _snapshot(database)
    changes = _diff(before, after)
    stage_key = plan.stages[1].key
    item_key = plan.checklists[0].items[2].key
    assert set(changes) == {"campaign", "stage", "checklist_item", "drill_item"}
    assert changes["campaign"] == {"postal-bank": {"plan", "plan_digest", "loaded_at"}}
    assert changes["stage"] == {stage_key: {"name_zh", "name_en"}}
    assert changes["drill_item"] == {removed_key: {"active"}}
    assert set(changes["checklist_item"]) == {item_key, "new:sw-new-greeting"}
    assert changes["checklist_item"][item_key] == {"weight"}

    new_item = changes["checklist_item"]["new:sw-new-greeting"]
    assert new_item["position"] == len(plan.checklists[0].items) + 1
    assert (new_item["weight"], new_item["active"], new_item["text_zh"]) == (
        2.0,
        True,
        "客户离开时起身道别",
    )
    stage_row = next(r for r in after["stage"].values() if r["key"] == stage_key)
    assert stage_row["name_zh"] == "第二阶段：规范服务"
    item_row = next(r for r in after["checklist_item"].values() if r["key"] == item_key)
    assert item_row["weight"] == plan.checklists[0].items[2].weight + 1
    campaign_row = after["campaign"][first.campaign_id]
    assert campaign_row["plan_digest"] == plan_digest(edited)
    assert campaign_row["loaded_at"] == LATER
    assert campaign_row["plan"] == edited.model_dump(mode="json")

    # the removed drill item is kept, inactive, with everything that refers to it
    async with database.transaction() as session:
        removed_row = await session.get(DrillItem, removed_id)
        assert removed_row is not None and removed_row.active is False
        assert removed_row.question_zh == plan.drills[-1].question.zh
        drill_row = await session.get(Drill, drill_id)
        assert drill_row is not None and drill_row.drill_item_id == removed_id
        answer_row = await session.get(DrillAnswer, answer_id)
        assert answer_row is not None and answer_row.answer_text == "先安抚客户"
        points = await session.scalar(
            select(func.sum(PointEntry.points)).where(
                PointEntry.ref_table == "drill_answer", PointEntry.ref_id == answer_id
            )
        )
        assert points == 6
        active = await session.scalars(
            select(DrillItem.key).where(DrillItem.active).order_by(DrillItem.position)
        )
        assert list(active) == [d.key for d in edited.drills]

    # loading the edited plan once more is a no-op
    repeat = await _load(database, edited, LATER + dt.timedelta(days=1))
    assert repeat.changed is False
    assert await _snapshot(database) == after


async def test_restoring_a_removed_drill_reactivates_it(database: Database, plan: Plan) -> None:
    await _load(database, plan)
    shorter = plan.model_copy(update={"drills": plan.drills[:-1]})
    removed = await _load(database, shorter, LATER)
    assert removed.deactivated == {"drill_item": 1}

    restored = await _load(database, plan, LATER + dt.timedelta(days=1))

    assert restored.updated == {"campaign": 1, "drill_item": 1}
    assert (restored.created, restored.deactivated) == ({}, {})
    async with database.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(DrillItem))
        inactive = await session.scalar(
            select(func.count()).select_from(DrillItem).where(DrillItem.active.is_(False))
        )
        campaign = await session.scalar(select(Campaign))
    assert (count, inactive) == (len(plan.drills), 0)
    assert campaign is not None and campaign.plan_digest == plan_digest(plan)
