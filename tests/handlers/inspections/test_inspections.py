"""/inspect (检查 / 考核) end to end with the postal bank plan: its formulas computed exactly.

Every flow goes through the console chat: the form, the assessment by the formulas in
``campaigns/plans/postal-bank.yaml``, the notice (通报) to the unit's group chat through the outbox
and the sender, the rectifications for the unit head and the points for meeting the target. The
expected amounts are worked out by hand in each test from the YAML's formulas. One flow also runs
on PostgreSQL, through the same demo session. The pure functions ``assessment_values`` and
``assess`` get unit tests of their own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.console import PLATFORM
from bot.demo import YOU, DemoSession
from campaigns.schema import AssessmentRule, Plan
from handlers.inspections.assessment import Outcome, assess, assessment_values
from kernel import EventKind, Reply, Role
from storage.database import Database
from storage.models import (
    ChecklistItem,
    Inspection,
    Member,
    OutboxMessage,
    PointEntry,
    Rectification,
    Unit,
)
from tests.harness import Office, at, jump, open_demo, rows, said, seat_at

ZONE = ZoneInfo("Asia/Shanghai")
GROUP_CHAT = "group:renmin-road"
GROUP_HEADER = f"── group chat {GROUP_CHAT} ──"  # bound in the demo's language, English
CHOICE = re.compile(r"^\s*\[(\d+)\] (.+)$", re.MULTILINE)

RENMIN, DONGGUAN, DEV_ZONE = "Renmin Road Outlet", "Dongguan Outlet", "Development Zone Outlet"
SHOP_SIGN = "Shop sign and fascia intact and clean, lights working at night"
MACHINES = "Self-service machines complete, working and stocked with cash"
COUNT_CASH = "Reminds the customer to count the cash and check the slip at the counter"
BELOW_TARGET = (
    "Below the stage target: 1,000 yuan plus 200 per point short (doubled for a repeated problem)"
)


@asynccontextmanager
async def demo(
    plan: Plan,
    path: Path,
    *,
    role: Role = Role.ADMIN,
    locale: str = "en",
    seated_at: str = "linhe-county",
) -> AsyncIterator[DemoSession]:
    """The demo with you at the county branch: inspections come from outside the outlets (nobody
    inspects their own unit)."""
    async with open_demo(plan, path, role=role, locale=locale) as bot:
        await seat_at(bot, seated_at)
        yield bot


def pick(printed: str, *labels: str) -> str:
    """The numbers the console offers for these labels, as one would type them."""
    offered = {label: number for number, label in CHOICE.findall(printed)}
    missing = [label for label in labels if label not in offered]
    assert not missing, f"{missing} not offered in:\n{printed}"
    return ",".join(offered[label] for label in labels)


Say = Callable[[str], Awaitable[str]]


async def inspect(
    say: Say, unit: str, score: str, deducted: tuple[str, ...] = (), kind: str = "mystery shopper"
) -> str:
    """Fill the /inspect form the way a person types it; returns what the last line printed."""
    units = await say("/inspect")
    assert "» Unit inspected" in units
    kinds = await say(pick(units, unit))
    asked = await say(pick(kinds, kind))
    assert "» Score (out of 100)" in asked
    items = await say(score)
    if "» Items deducted" not in items:
        return items  # the score was refused
    return await say(pick(items, *deducted) if deducted else "-")


async def unit_of(database: Database, key: str) -> Unit:
    [unit] = await rows(database, Unit, Unit.key == key)
    return unit


async def member_named(database: Database, name: str) -> Member:
    [member] = await rows(database, Member, Member.display_name == name)
    return member


async def item_ids(database: Database, *keys: str) -> list[int]:
    items = {i.key: i.id for i in await rows(database, ChecklistItem)}
    return [items[key] for key in keys]


def outcomes_of(inspection: Inspection) -> list[tuple[str, str, float]]:
    return [(o["rule"], o["kind"], o["amount"]) for o in inspection.assessment]


async def notices(database: Database) -> list[OutboxMessage]:
    return await rows(database, OutboxMessage, OutboxMessage.idempotency_key.like("inspection:%"))


# --- stage 1: below target ------------------------------------------------------------------


async def test_below_target_in_stage_1_is_assessed_1800_and_announced_once(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, "2027-01-04 09:00")  # a Monday in stage 1 (target 92)
        out = await inspect(bot.say, RENMIN, "88", (SHOP_SIGN, MACHINES))
        again = await bot.say("/clock +2h")  # the scheduler and sender run again: nothing new

    # 1000 + (92 − 88) × 200 = 1800, nothing repeated (a first inspection), alone among its peers.
    [inspection] = await rows(bot.database, Inspection)
    assert (inspection.score, inspection.kind) == (88.0, "mystery")
    assert inspection.deducted_item_keys == ["hw-shop-sign", "hw-machines-working"]
    assert outcomes_of(inspection) == [("below-target", "penalty", 1800.0)]
    assert inspection.inspected_on == dt.date(2027, 1, 4)
    assert "Recorded and announced:" in out
    assert "📢 Inspection notice #1: Renmin Road Outlet (mystery shopper)" in out
    assert "Score 88, target 92: not reached ❌; rank among peers 1 of 1" in out
    assert f"• {BELOW_TARGET}: penalty 1,800 yuan" in out
    assert "2 rectifications created." in out

    # The notice goes to the unit's group chat through the outbox, exactly once, in its language.
    [notice] = await notices(bot.database)
    renmin = await unit_of(bot.database, "renmin-road")
    assert notice.idempotency_key == f"inspection:{inspection.id}@{PLATFORM}::{GROUP_CHAT}"
    assert (notice.unit_id, notice.member_id, notice.status) == (renmin.id, None, "sent")
    assert notice.sent_at == at("2027-01-04 09:00")
    assert out.count(GROUP_HEADER) == 1
    group_part = out.split(GROUP_HEADER, 1)[1]
    assert "📢 Inspection notice #1: Renmin Road Outlet (mystery shopper)" in group_part
    assert f"• {BELOW_TARGET}: penalty 1,800 yuan" in group_part
    assert "Inspection notice" not in again

    # Each deducted item is a rectification owned by the unit head, due in the plan's 7 days.
    head = await member_named(bot.database, "Chen Jing")
    assert head.is_unit_head
    me = await member_named(bot.database, "Alex Li")
    fixes = await rows(bot.database, Rectification)
    assert [(f.item_id, f.owner_member_id, f.inspection_id, f.status) for f in fixes] == [
        (item, head.id, inspection.id, "open")
        for item in await item_ids(bot.database, "hw-shop-sign", "hw-machines-working")
    ]
    assert {(f.created_by_member_id, f.unit_id, f.due_at) for f in fixes} == {
        (me.id, renmin.id, at("2027-01-11 23:59"))
    }
    # Below target: no points for meeting it.
    assert await rows(bot.database, PointEntry, PointEntry.source == "inspection") == []


async def test_a_repeated_deduction_doubles_the_assessment(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, "2027-01-04 09:00")
        first = await inspect(bot.say, RENMIN, "90", (SHOP_SIGN,))
        await jump(bot, "2027-02-01 10:00")
        second = await inspect(
            bot.say, RENMIN, "90", (SHOP_SIGN, MACHINES), kind="off-site video check"
        )

    earlier, later = await rows(bot.database, Inspection)
    # First: 1000 + (92 − 90) × 200 = 1400. Second, the shop sign deducted again:
    # (1000 + (92 − 90) × 200) × 2 = 2800.
    assert outcomes_of(earlier) == [("below-target", "penalty", 1400.0)]
    assert outcomes_of(later) == [("below-target", "penalty", 2800.0)]
    assert f"{BELOW_TARGET}: penalty 1,400 yuan" in first
    assert "1 of them repeats the previous inspection and counts double." in second
    assert f"{BELOW_TARGET}: penalty 2,800 yuan" in second
    assert "off-site video check" in second
    assert [n.idempotency_key.split("@")[0] for n in await notices(bot.database)] == [
        f"inspection:{earlier.id}",
        f"inspection:{later.id}",
    ]
    # Three rectifications in all: one from the first inspection, two from the second.
    fixes = await rows(bot.database, Rectification)
    assert [f.inspection_id for f in fixes] == [earlier.id, later.id, later.id]


# --- stage 1: early 98 and the top two --------------------------------------------------------


async def test_early_98_and_top_two_rewards_in_stage_1_and_points_for_the_members(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, "2027-03-01 09:00")
        dongguan = await inspect(bot.say, DONGGUAN, "93")
        renmin = await inspect(bot.say, RENMIN, "98")

    first, second = await rows(bot.database, Inspection)
    # Dongguan 93 ≥ 92, alone so far: rank 1 and also rank 1 from the bottom, so not "top two"
    # (the top two count only in the upper half of the ranking). Nothing is assessed.
    assert outcomes_of(first) == []
    assert "Score 93, target 92: reached ✅; rank among peers 1 of 1" in dongguan
    # Renmin 98 beside Dongguan 93: rank 1 of 2, second from the bottom: the top-two reward 500,
    # and 98 reached before stage 3: the early reward 300.
    assert outcomes_of(second) == [
        ("early-98", "reward", 300.0),
        ("district-top-two", "reward", 500.0),
    ]
    assert "Score 98, target 92: reached ✅; rank among peers 1 of 2" in renmin
    assert "reward 300 yuan" in renmin and "reward 500 yuan" in renmin
    assert "rectification created" not in renmin  # nothing deducted
    assert "rectifications created" not in renmin

    # Meeting the target earns every member of the unit (volunteers aside) the plan's points.
    members = await rows(
        bot.database, Member, Member.unit_id == second.unit_id, Member.role != Role.VOLUNTEER
    )
    entries = await rows(bot.database, PointEntry, PointEntry.source == "inspection")
    key = f"inspection:{second.unit_id}:stage1-hardware:member"
    assert sorted((e.member_id, e.rule, e.points, e.idempotency_key) for e in entries) == sorted(
        (m.id, "inspection_target_reached", 10, f"{key}:{m.id}") for m in members
    )
    assert len(members) == 4  # your four colleagues at Renmin Road; you inspect from the branch
    assert {(e.unit_id, e.ref_table, e.ref_id) for e in entries} == {
        (second.unit_id, "inspection", second.id)
    }
    # Dongguan met its target too, but it has no members to reward.


async def test_early_98_in_stage_2(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, "2027-06-01 09:00")  # stage 2 (target 95)
        out = await inspect(bot.say, RENMIN, "99.5")
    [inspection] = await rows(bot.database, Inspection)
    assert outcomes_of(inspection) == [("early-98", "reward", 300.0)]
    assert "Score 99.5, target 95: reached ✅" in out


# --- stage 3: rank bands among the outlets of one sub-branch ----------------------------------


async def test_stage_3_rank_bands_among_sibling_outlets(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, "2027-09-06 09:00")  # stage 3 (target 98)
        await inspect(bot.say, DONGGUAN, "99")
        dev_zone = await inspect(bot.say, DEV_ZONE, "96")
        renmin = await inspect(bot.say, RENMIN, "97", (COUNT_CASH,))
        await jump(bot, "2027-10-11 09:00")
        await inspect(bot.say, DONGGUAN, "99")
        renmin_again = await inspect(bot.say, RENMIN, "95", (COUNT_CASH, SHOP_SIGN))

    scores = [(i.unit_id, i.score, outcomes_of(i)) for i in await rows(bot.database, Inspection)]
    units = {key: (await unit_of(bot.database, key)).id for key in ("dongguan", "dev-zone")}
    renmin_id = (await unit_of(bot.database, "renmin-road")).id
    assert scores == [
        # Dongguan 99, alone: rank 1 and 1 from the bottom; 99 ≥ 98: nothing.
        (units["dongguan"], 99.0, []),
        # Dev Zone 96 under Dongguan 99: last of two and below 98:
        # bottom band (2000 + (98 − 96) × 200) = 2400 and last in the district 500 + 2 × 200 = 900.
        (
            units["dev-zone"],
            96.0,
            [("stage3-bottom-band-1", "penalty", 2400.0), ("district-last", "penalty", 900.0)],
        ),
        # Renmin 97 among 99 and 96: the middle one, in neither band: (98 − 97) × 200 = 200.
        (renmin_id, 97.0, [("stage3-below-98", "penalty", 200.0)]),
        # Dongguan 99 over Renmin 97 and Dev Zone 96: top of three, target met: 500.
        (units["dongguan"], 99.0, [("district-top-two", "reward", 500.0)]),
        # Renmin 95 under 99 and 96, the count-cash item deducted again: last of three,
        # (2000 + (98 − 95) × 200) × 2 = 5200 and last in the district 500 + 3 × 200 = 1100.
        (
            renmin_id,
            95.0,
            [("stage3-bottom-band-1", "penalty", 5200.0), ("district-last", "penalty", 1100.0)],
        ),
    ]
    assert "rank among peers 2 of 2" in dev_zone
    assert "penalty 2,400 yuan" in dev_zone and "penalty 900 yuan" in dev_zone
    assert "Score 97, target 98: not reached ❌; rank among peers 2 of 3" in renmin
    assert "rank among peers 3 of 3" in renmin_again
    assert "1 of them repeats the previous inspection and counts double." in renmin_again
    assert "penalty 5,200 yuan" in renmin_again and "penalty 1,100 yuan" in renmin_again
    # Only Renmin Road has a group chat: its two notices went there, once each.
    sent = await notices(bot.database)
    assert [(m.unit_id, m.status) for m in sent] == [(renmin_id, "sent")] * 2


# --- who may inspect, and bad input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "refusal"),
    [
        ("en", "Sorry, /inspect is not open to your role. Type /help to see what you can use."),
        ("zh", "抱歉,/inspect 只对有相应权限的人开放。输入 /help 查看你能用的命令。"),
    ],
)
async def test_staff_cannot_inspect(plan: Plan, demo_db: Path, locale: str, refusal: str) -> None:
    async with demo(plan, demo_db, role=Role.STAFF, locale=locale) as bot:
        assert await bot.say("/inspect") == refusal
        assert await bot.say("/检查") == refusal  # the Chinese alias names the same command
    assert await rows(bot.database, Inspection) == []


async def test_a_bad_score_is_asked_again_and_a_forged_one_is_refused(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db, role=Role.SUPERVISOR, locale="zh") as bot:
        await jump(bot, "2027-01-04 09:00")
        units = await bot.say("/inspect")
        kinds = await bot.say(pick(units, "人民路网点"))
        asked = await bot.say(pick(kinds, "神秘人检查"))
        # Checked as it is typed: the same field is asked again, what was entered is kept.
        for score in ("abc", "101", "-3", "?"):
            again = await bot.say(score)
            assert again == f"{said('inspections/score_hint', 'zh', given=score)}\n{asked}"
        assert "“abc”不是有效的得分" in said("inspections/score_hint", "zh", given="abc")
        assert await bot.say("/cancel") == said("console/form_cancelled", "zh")
        # A form whose platform does not check it (or a forged one) is refused when submitted.
        [renmin] = await rows(bot.database, Unit, Unit.key == "renmin-road")
        form = {"unit": str(renmin.id), "kind": "mystery", "score": "abc", "deducted": ""}
        refused = await Office(bot, "zh").handle(
            YOU, kind=EventKind.FORM, action="inspect.submit", form=form
        )
    assert refused == said("inspections/bad_score", "zh", given="abc")
    assert await rows(bot.database, Inspection) == []
    assert await rows(bot.database, Rectification) == []
    assert await notices(bot.database) == []


async def test_a_supervisor_inspects_only_units_under_them(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, role=Role.SUPERVISOR, locale="zh", seated_at="chengdong") as bot:
        offered = await bot.say("/考核")
        await bot.say("/cancel")
    # The sub-branch's outlets, not the sub-branch itself: nobody inspects their own unit.
    assert [label for _, label in CHOICE.findall(offered)] == [
        "人民路网点",
        "东关网点",
        "开发区网点",
    ]


async def test_nobody_inspects_their_own_unit(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, role=Role.SUPERVISOR, seated_at="renmin-road") as bot:
        await jump(bot, "2027-01-04 09:00")
        # An outlet's supervisor covers only their own outlet: there is nothing to inspect.
        assert await bot.say("/inspect") == said("inspections/nothing_to_inspect")
        # A forged form naming their own unit is refused, and nothing is recorded.
        [renmin] = await rows(bot.database, Unit, Unit.key == "renmin-road")
        form = {"unit": str(renmin.id), "kind": "mystery", "score": "99", "deducted": ""}
        refused = await Office(bot).handle(
            YOU, kind=EventKind.FORM, action="inspect.submit", form=form
        )
    assert refused == said("inspections/own_unit")
    assert await rows(bot.database, Inspection) == []
    assert await rows(bot.database, PointEntry, PointEntry.source == "inspection") == []


async def test_meeting_the_target_twice_in_a_stage_pays_the_members_once(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, "2027-03-01 09:00")
        await inspect(bot.say, RENMIN, "95")
        bot.clock.set(at("2027-03-15 09:00"))
        await inspect(bot.say, RENMIN, "96")
        bot.clock.set(at("2027-06-01 09:00"))  # stage 2: a new period
        await inspect(bot.say, RENMIN, "99")
    entries = await rows(bot.database, PointEntry, PointEntry.source == "inspection")
    members = await rows(bot.database, Member, Member.unit_id == entries[0].unit_id)
    per_member = len([m for m in members if m.role != Role.VOLUNTEER])
    assert len(entries) == 2 * per_member  # stage 1 once, stage 2 once
    assert {e.idempotency_key.split(":")[2] for e in entries} == {
        "stage1-hardware",
        "stage2-software",
    }


# --- the same flow on both databases, through the demo session ----------------------------------


async def test_inspection_flow_on_each_database(db_url: str, plan: Plan) -> None:
    async with demo(plan, db_url) as bot:
        await jump(bot, "2027-01-04 09:00")

        first = await inspect(bot.say, RENMIN, "88", (SHOP_SIGN, MACHINES))
        bot.clock.set(at("2027-01-18 10:00"))
        second = await inspect(bot.say, RENMIN, "90", (MACHINES,))

        earlier, later = await rows(bot.database, Inspection)
        assert outcomes_of(earlier) == [("below-target", "penalty", 1800.0)]
        assert outcomes_of(later) == [("below-target", "penalty", 2800.0)]
        assert f"{BELOW_TARGET}: penalty 1,800 yuan" in first
        assert f"{BELOW_TARGET}: penalty 2,800 yuan" in second
        assert first.count(GROUP_HEADER) == second.count(GROUP_HEADER) == 1
        sent = await notices(bot.database)
        assert [(m.idempotency_key, m.status) for m in sent] == [
            (f"inspection:{earlier.id}@{PLATFORM}::{GROUP_CHAT}", "sent"),
            (f"inspection:{later.id}@{PLATFORM}::{GROUP_CHAT}", "sent"),
        ]
        assert Reply.from_json(sent[0].reply).text is not None
        head = await member_named(bot.database, "Chen Jing")
        fixes = await rows(bot.database, Rectification)
        assert [(f.inspection_id, f.owner_member_id) for f in fixes] == [
            (earlier.id, head.id),
            (earlier.id, head.id),
            (later.id, head.id),
        ]
        assert [f.due_at for f in fixes] == [at("2027-01-11 23:59")] * 2 + [at("2027-01-25 23:59")]


# --- the formulas themselves ---------------------------------------------------------------------


def rules_of(plan: Plan) -> list[AssessmentRule]:
    return list(plan.scoring.assessment)


def values(score: float, target: float, peers: dict[int, float], repeated: int = 0, stage: int = 1):
    return assessment_values(
        score=score,
        target=target,
        scores_of_peers=peers,
        unit_id=0,
        repeated_items=repeated,
        stage_number=stage,
    )


def test_assessment_values_rank_the_unit_among_its_peers() -> None:
    assert values(88, 92, {}) == {
        "score": 88,
        "target": 92,
        "shortfall": 4,
        "rank": 1,
        "rank_from_bottom": 1,
        "unit_count": 1,
        "repeated_items": 0,
        "stage_number": 1,
    }
    four = values(95, 98, {1: 99, 2: 97, 3: 90}, repeated=2, stage=3)
    assert (four["rank"], four["rank_from_bottom"], four["unit_count"]) == (3, 2, 4)
    assert (four["shortfall"], four["repeated_items"], four["stage_number"]) == (3, 2, 3)
    # Equal scores share a rank, from the top and from the bottom.
    tied = values(96, 98, {1: 96, 2: 99})
    assert (tied["rank"], tied["rank_from_bottom"]) == (2, 1)
    # The unit's own earlier score among the peers is replaced by this one.
    again = assessment_values(
        score=90,
        target=92,
        scores_of_peers={7: 99, 8: 80},
        unit_id=8,
        repeated_items=0,
        stage_number=1,
    )
    assert (again["rank"], again["rank_from_bottom"], again["unit_count"]) == (2, 1, 2)
    # Above the target there is no shortfall.
    assert values(99, 92, {})["shortfall"] == 0


def amounts(outcomes: list[Outcome]) -> list[tuple[str, str, float]]:
    return [(o.rule, o.kind, o.amount) for o in outcomes]


@pytest.mark.parametrize(
    ("stage_key", "score", "target", "peers", "repeated", "stage", "expected"),
    [
        # Stage 1, target 92: 1000 + (92 − 88) × 200.
        ("stage1-hardware", 88, 92, {}, 0, 1, [("below-target", "penalty", 1800)]),
        # The same, repeated: doubled.
        ("stage1-hardware", 90, 92, {}, 1, 1, [("below-target", "penalty", 2800)]),
        # Stage 2, target 95, 91 (the plan's own drill question): 1800.
        ("stage2-software", 91, 95, {}, 0, 2, [("below-target", "penalty", 1800)]),
        # A fraction of a point short: 1000 + 0.5 × 200.
        ("stage2-software", 94.5, 95, {}, 0, 2, [("below-target", "penalty", 1100)]),
        # Exactly on target: nothing.
        ("stage1-hardware", 92, 92, {}, 0, 1, []),
        # 98 in stage 2 with a peer below: early 300 and top two 500.
        (
            "stage2-software",
            98,
            95,
            {1: 94},
            0,
            2,
            [("early-98", "reward", 300), ("district-top-two", "reward", 500)],
        ),
        # Stage 1, last of two and below target: below target, and last in the district:
        # 1000 + 3 × 200 = 1600, 500 + 3 × 200 = 1100.
        (
            "stage1-hardware",
            89,
            92,
            {1: 95},
            0,
            1,
            [("below-target", "penalty", 1600), ("district-last", "penalty", 1100)],
        ),
        # Stage 3, four outlets, second from the bottom and below 98: the second band
        # 1000 + (98 − 95) × 200 = 1600, and second-last in the district 300 + 3 × 200 = 900.
        (
            "stage3-excellence",
            95,
            98,
            {1: 99, 2: 97, 3: 90},
            0,
            3,
            [
                ("stage3-bottom-band-2", "penalty", 1600),
                ("district-second-last", "penalty", 900),
            ],
        ),
        # The same, repeated: the band doubles, the district penalty does not.
        (
            "stage3-excellence",
            95,
            98,
            {1: 99, 2: 97, 3: 90},
            1,
            3,
            [
                ("stage3-bottom-band-2", "penalty", 3200),
                ("district-second-last", "penalty", 900),
            ],
        ),
        # Stage 3, last of four: 2000 + (98 − 88) × 200 = 4000 and 500 + 10 × 200 = 2500.
        (
            "stage3-excellence",
            88,
            98,
            {1: 99, 2: 97, 3: 90},
            0,
            3,
            [("stage3-bottom-band-1", "penalty", 4000), ("district-last", "penalty", 2500)],
        ),
        # Stage 3, second of four (upper half, but below the target, so no top-two reward) and
        # below 98: only 200 a point, (98 − 97.5) × 200 = 100.
        (
            "stage3-excellence",
            97.5,
            98,
            {1: 99, 2: 95, 3: 90},
            0,
            3,
            [("stage3-below-98", "penalty", 100)],
        ),
        # 98 in stage 3 is no longer early.
        ("stage3-excellence", 98, 98, {}, 0, 3, []),
    ],
)
def test_assess_with_the_postal_bank_rules(
    plan: Plan,
    stage_key: str,
    score: float,
    target: float,
    peers: dict[int, float],
    repeated: int,
    stage: int,
    expected: list[tuple[str, str, float]],
) -> None:
    outcomes = assess(rules_of(plan), stage_key, values(score, target, peers, repeated, stage))
    assert amounts(outcomes) == expected
    names = {rule.key: (rule.name.zh, rule.name.en) for rule in rules_of(plan)}
    assert all((o.name_zh, o.name_en) == names[o.rule] for o in outcomes)


def test_assess_skips_rules_of_other_stages_and_rounds_to_the_fen() -> None:
    rules = [
        AssessmentRule.model_validate(
            {
                "key": "only-stage-2",
                "kind": "penalty",
                "stages": ["two"],
                "name": {"zh": "二", "en": "two"},
                "when": "score < target",
                "amount": "shortfall × 33.333",
            }
        ),
        AssessmentRule.model_validate(
            {
                "key": "any-stage",
                "kind": "reward",
                "name": {"zh": "任", "en": "any"},
                "when": "score >= 0",
                "amount": "score / 3",
            }
        ),
    ]
    seen = values(91, 92, {})
    assert amounts(assess(rules, "one", seen)) == [("any-stage", "reward", 30.33)]
    assert amounts(assess(rules, "two", seen)) == [
        ("only-stage-2", "penalty", 33.33),
        ("any-stage", "reward", 30.33),
    ]
    assert amounts(assess(rules, None, seen)) == [("any-stage", "reward", 30.33)]
