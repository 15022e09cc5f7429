"""/score and /leaderboard through the demo's console chat: every number shown is checked against
sums over the point_entry table, in English and Chinese; hidden names show as initials; the
keyword triggers work; volunteers see no scores at all."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot.adapters.console import PLATFORM
from bot.demo import DemoSession
from campaigns.schema import Plan
from kernel import Role
from storage.models import DrillItem, Member, PointEntry
from storage.points import Award
from storage.store import Store
from tests.harness import jump, open_demo

ZONE = ZoneInfo("Asia/Shanghai")
D = dt.date
STAGE_1 = (D(2027, 1, 1), D(2027, 4, 30))
MONDAY = D(2027, 1, 11)
RULES_EN = {
    "drill_answered": "answered the drill",
    "drill_correct": "drill answered well",
    "deed_approved": "good deed approved",
    "praise_received": "praise received",
}


async def answer_todays_drill(bot: DemoSession, pushed: str, *, right: bool) -> str:
    """Press today's drill's right (or a wrong) option, by the number ``pushed`` shows it with."""
    async with bot.database.transaction() as session:
        store = Store(session)
        drill = await store.drills.on(bot.people.unit_id, bot.clock.now().astimezone(ZONE).date())
        assert drill is not None
        item = await session.get(DrillItem, drill.drill_item_id)
    assert item is not None and item.answer is not None
    option = item.answer if right else item.answer % len(item.options) + 1
    shown = re.findall(r"^  \[(\d+)\] ", pushed.split("📋")[-1], re.MULTILINE)
    return await bot.say(shown[option - 1])


async def ids(bot: DemoSession) -> tuple[int, int, int]:
    """(your member id, the campaign id, the organisation id)."""
    async with bot.database.transaction() as session:
        store = Store(session)
        found = await store.members.by_identity(PLATFORM, "", "you")
        assert found is not None
        organisation = await store.units.organisation_by_key("psbc")
        assert organisation is not None
        campaign = await store.campaigns.by_key(organisation.id, "postal-bank")
        assert campaign is not None
    return found[0].id, campaign.id, organisation.id


async def award(
    bot: DemoSession,
    unit_key: str,
    member: int,
    points: int,
    key: str,
    *,
    source: str = "deed",
    rule: str = "deed_approved",
) -> None:
    """Points written straight through the ledger, as another feature would write them."""
    _, campaign, organisation = await ids(bot)
    async with bot.database.transaction() as session:
        store = Store(session)
        unit = await store.units.by_key(organisation, unit_key)
        assert unit is not None
        now = bot.clock.now()
        assert await store.ledger.award(
            Award(
                campaign_id=campaign,
                unit_id=unit.id,
                member_id=member,
                source=source,
                rule=rule,
                points=points,
                key=key,
                occurred_at=now,
                local_date=now.astimezone(ZONE).date(),
            )
        )


async def add_member(bot: DemoSession, unit_key: str, name: str, *, hide_name: bool = False) -> int:
    _, _, organisation = await ids(bot)
    async with bot.database.transaction() as session:
        store = Store(session)
        unit = await store.units.by_key(organisation, unit_key)
        assert unit is not None
        member = await store.members.add(
            organisation_id=organisation,
            unit_id=unit.id,
            display_name=name,
            role=Role.STAFF,
            now=bot.clock.now(),
        )
        member.hide_name = hide_name
        return member.id


async def ledger_sum(bot: DemoSession, *where: object) -> int:
    async with bot.database.transaction() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(PointEntry.points), 0)).where(*where)
        )
    return int(total or 0)


async def member_points(bot: DemoSession, unit_ids: list[int] | None = None) -> dict[int, int]:
    """Campaign points of every active non-volunteer member (of these units), 0 for none."""
    async with bot.database.transaction() as session:
        query = select(Member.id).where(Member.active, Member.role != Role.VOLUNTEER)
        if unit_ids is not None:
            query = query.where(Member.unit_id.in_(unit_ids))
        members = list(await session.scalars(query))
        sums = await session.execute(
            select(PointEntry.member_id, func.sum(PointEntry.points)).group_by(PointEntry.member_id)
        )
        points = {member: int(total) for member, total in sums}
    return {member: points.get(member, 0) for member in members}


def rank(points: dict[int, int], member: int) -> int:
    return 1 + sum(1 for other in points.values() if other > points[member])


async def two_mornings_and_a_deed(bot: DemoSession) -> int:
    """Friday's drill right, Monday's wrong, and a good deed on Monday: returns your id."""
    me, _, _ = await ids(bot)
    friday = await jump(bot, "2027-01-08 08:40")
    assert "✅" in await answer_todays_drill(bot, friday, right=True)
    monday = await jump(bot, "2027-01-11 08:40")
    assert "❌" in await answer_todays_drill(bot, monday, right=False)
    await award(bot, "renmin-road", me, 15, "deed:1:approved")
    return me


# --- /score --------------------------------------------------------------------------------------


async def test_score_in_english_and_chinese_is_sums_over_the_ledger(
    plan: Plan, demo_db: Path
) -> None:
    async with open_demo(plan, demo_db) as bot:
        me = await two_mornings_and_a_deed(bot)
        await award(
            bot, "renmin-road", me, 10, "praise:1", source="observation", rule="praise_received"
        )
        # Someone in another unit with more points: ranked in the organisation, not in my unit.
        zhou = await add_member(bot, "dongguan", "Zhou Lei")
        await award(bot, "dongguan", zhou, 100, "deed:2:approved")

        mine = PointEntry.member_id == me
        total = await ledger_sum(bot, mine)
        stage = await ledger_sum(bot, mine, PointEntry.local_date.between(*STAGE_1))
        week = await ledger_sum(bot, mine, PointEntry.local_date.between(MONDAY, MONDAY))
        drills = await ledger_sum(bot, mine, PointEntry.source == "drill")
        deeds = await ledger_sum(bot, mine, PointEntry.source == "deed")
        praise = await ledger_sum(bot, mine, PointEntry.source == "observation")
        assert (total, stage, week, drills, deeds, praise) == (37, 37, 27, 12, 15, 10)
        unit = await member_points(bot, [bot.people.unit_id])
        everyone = await member_points(bot)
        assert (len(unit), len(everyone)) == (5, 6)  # you, four colleagues, and Zhou Lei
        assert unit[me] == total
        assert rank(everyone, me) == rank(unit, me) + 1

        out = await bot.say("/score")
        assert out == "\n".join(
            [
                "📊 My points",
                f"Total {total}; this stage (Stage 1: self-check and rectification (hardware))"
                f" {stage}; this week {week}",
                f"Rank in my unit: {rank(unit, me)} of 5; in the organisation:"
                f" {rank(everyone, me)} of 6",
                "Morning drills answered: 2 working days in a row",
                "Where the points come from:",
                f"• drills: {drills}",
                f"• good deeds: {deeds}",
                f"• observations: {praise}",
                # No inspection yet: no verdict on the target (tests/handlers/reports/
                # test_standing.py has the official score and the self-checks).
                "🏁 Official score (inspection): no inspection yet this stage, so no official"
                " standing yet (stage target 92)",
                "🧾 Self-check average (our own check, not the official score): no self-check"
                " finished this stage yet",
            ]
        )
        assert await bot.say("my score") == out
        assert await bot.say("我的积分") == out

        assert "中文" in await bot.say("/lang zh")
        out = await bot.say("/score")
        assert out == "\n".join(
            [
                "📊 我的积分",
                f"总分 {total} 分;本阶段(第一阶段：自查整改（硬件）){stage} 分;本周 {week} 分",
                f"本单位排名 第 {rank(unit, me)}/5 名;全系统 第 {rank(everyone, me)}/6 名",
                "连续参加晨会演练 2 个工作日",
                "积分来源:",
                f"• 晨会演练:{drills} 分",
                f"• 好人好事:{deeds} 分",
                f"• 监督意见:{praise} 分",
                "🏁 官方得分(检查):本阶段还没有检查,暂无达标结论(阶段目标 92 分)",
                "🧾 自查平均分(自己检查,不作为达标依据):本阶段还没有完成的自查",
            ]
        )
        assert await bot.say("我的分数") == out
        assert await bot.say("/积分") == out


async def test_score_detail_lists_the_last_entries_with_their_rules(
    plan: Plan, demo_db: Path
) -> None:
    async with open_demo(plan, demo_db) as bot:
        me = await two_mornings_and_a_deed(bot)
        async with bot.database.transaction() as session:
            rows = list(
                await session.scalars(
                    select(PointEntry)
                    .where(PointEntry.member_id == me)
                    .order_by(PointEntry.occurred_at.desc(), PointEntry.id.desc())
                )
            )
        assert [(r.rule, r.points) for r in rows] == [
            ("deed_approved", 15),
            ("drill_answered", 2),
            ("drill_correct", 8),
            ("drill_answered", 2),
        ]
        out = await bot.say("/score detail")
        assert out.splitlines() == [
            "🧾 My latest point entries",
            "• Mon 11 Jan 2027 good deed approved +15",
            "• Mon 11 Jan 2027 answered the drill +2",
            "• Fri 8 Jan 2027 drill answered well +8",
            "• Fri 8 Jan 2027 answered the drill +2",
        ]
        assert out.splitlines()[1:] == [
            f"• {r.local_date:%a} {r.local_date.day} {r.local_date:%b %Y} {RULES_EN[r.rule]}"
            f" +{r.points}"
            for r in rows
        ]
        # Only the last ten.
        for n in range(12):
            await award(bot, "renmin-road", me, 1, f"deed:extra:{n}")
        lines = (await bot.say("/score detail")).splitlines()
        assert lines[1:] == ["• Mon 11 Jan 2027 good deed approved +1"] * 10
        await bot.say("/lang zh")
        lines = (await bot.say("/score 明细")).splitlines()
        assert lines[0] == "🧾 最近的积分记录" and len(lines) == 11


# --- /leaderboard --------------------------------------------------------------------------------


async def test_leaderboard_ranks_members_and_units_by_points_per_member(
    plan: Plan, demo_db: Path
) -> None:
    async with open_demo(plan, demo_db) as bot:
        me = await two_mornings_and_a_deed(bot)
        # A hidden Chinese name in your unit; Wang Fang hides hers too.
        xiaoming = await add_member(bot, "renmin-road", "王小明", hide_name=True)
        await award(bot, "renmin-road", xiaoming, 4, "deed:2:approved")
        async with bot.database.transaction() as session:
            await session.execute(
                update(Member).where(Member.display_name == "Wang Fang").values(hide_name=True)
            )
        # Dongguan: one member with 25 points, fewer in all than Renmin Road, more per member.
        zhou = await add_member(bot, "dongguan", "Zhou Lei")
        await award(bot, "dongguan", zhou, 25, "deed:3:approved")
        # West Street: two members, one with 12 points: 6 per member.
        street = await add_member(bot, "west-street", "Sun Li")
        await add_member(bot, "west-street", "Ma Jun")
        await award(bot, "west-street", street, 12, "deed:4:approved")

        unit = await member_points(bot, [bot.people.unit_id])
        async with bot.database.transaction() as session:
            names = dict((await session.execute(select(Member.id, Member.display_name))).all())
        shown = {**names, xiaoming: "王**"}
        shown[next(m for m, n in names.items() if n == "Wang Fang")] = "W. F."
        ordered = sorted(unit, key=lambda m: (-unit[m], m))
        renmin_total = await ledger_sum(bot, PointEntry.unit_id == bot.people.unit_id)
        assert renmin_total == sum(unit.values()) > 25
        per_member = renmin_total / len(unit)
        assert 6 < per_member < 25

        out = await bot.say("/leaderboard")
        assert out.splitlines() == [
            "🏆 Renmin Road Outlet: members",
            *(
                f"{rank(unit, m)}. {shown[m]} {unit[m]}" + (" ← me" if m == me else "")
                for m in ordered
            ),
            f"I am number {rank(unit, me)}.",
            "",
            "🏢 Units by points per member",
            "1. Dongguan Outlet 25 per member",
            f"2. Renmin Road Outlet {per_member:.1f} per member ← my unit",
            "3. West Street Outlet 6 per member",
            "  [1] Hide my name on leaderboards",
        ]
        # Equal points share a rank, as in /score.
        assert [unit[m] for m in ordered] == [27, 20, 20, 20, 4, 4]
        assert [rank(unit, m) for m in ordered] == [1, 2, 2, 2, 5, 5]
        assert "王小明" not in out and "Wang Fang" not in out
        assert await bot.say("leaderboard") == out
        assert await bot.say("排行榜") == out

        await bot.say("/lang zh")
        out = await bot.say("/排行榜")
        assert "🏆 人民路网点 成员排行" in out
        assert "5. 王** 4 分" in out
        assert "1. 东关网点 人均 25 分" in out
        assert f"2. 人民路网点 人均 {per_member:.1f} 分 ← 本单位" in out
        # You may hide your own name too.
        await bot.say("/lang en")
        assert await bot.say("1") == "Done: leaderboards show only your initials."
        out = await bot.say("/leaderboard")
        assert "1. A. L. 27 ← me" in out and "Alex Li" not in out
        assert out.endswith("  [1] Show my name on leaderboards")


# --- volunteers ----------------------------------------------------------------------------------


async def test_volunteers_see_no_scores(plan: Plan, demo_db: Path) -> None:
    async with open_demo(plan, demo_db, role=Role.VOLUNTEER) as bot:
        me, campaign, _ = await ids(bot)
        await award(bot, "renmin-road", me, 5, "deed:5:approved")
        for line, command in [
            ("/score", "score"),
            ("/score detail", "score"),
            ("/leaderboard", "leaderboard"),
            ("my score", "score"),
            ("我的积分", "score"),
            ("排行榜", "leaderboard"),
        ]:
            out = await bot.say(line)
            assert out == (
                f"Sorry, /{command} is not open to your role. Type /help to see what you can use."
            )
        # Nor is a volunteer ranked among the staff.
        async with bot.database.transaction() as session:
            ledger = Store(session).ledger
            standings = await ledger.top_of_unit(campaign, bot.people.unit_id, 10)
            volunteer = await Store(session).members.get(me)
            assert volunteer is not None
            rank = await ledger.rank(campaign, volunteer)
        assert me not in {row.member_id for row in standings}
        assert len(standings) == 4
        assert (rank.points, rank.unit_rank, rank.unit_size) == (5, None, 4)
