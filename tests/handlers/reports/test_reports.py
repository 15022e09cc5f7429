"""/report and ``uplift report`` end to end, with the postal bank plan.

A week of the campaign is lived once per module in the demo session (drills answered by the
simulated colleagues, a self-check, an inspection, a good deed, a complaint, people in other
outlets with points of their own) and saved to a SQLite file; each test opens a copy of it in the
role it needs. Every number in the summary is checked against the database; the spreadsheet's
ledger total against the ``point_entry`` table and the ``/score`` of every member in scope; the
chart is a real PNG. The command line writes the same three files. One flow runs on PostgreSQL
too, through the same demo session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import shutil
import struct
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.adapters.console import PLATFORM
from bot.demo import YOU, DemoOptions, DemoSession, demo_session
from bot.dispatcher import Dispatcher, DispatcherSettings, Outcome
from campaigns.schema import Plan
from handlers import build_router
from kernel import ChatRef, Event, EventKind, Role, SenderRef
from messages import Renderer
from storage.database import Database
from storage.models import (
    ChecklistItem,
    Drill,
    DrillAnswer,
    Member,
    PlatformIdentity,
    PointEntry,
    Unit,
)
from storage.points import Award
from storage.store import Store
from tests.harness import Office, at, jump, open_demo, rows, seat_at, shown
from tests.harness.cli import uplift as run_uplift

ZONE = ZoneInfo("Asia/Shanghai")
RENDER = Renderer()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STAGE_1 = (dt.date(2027, 1, 1), dt.date(2027, 4, 30))
STAGE_1_EN = "Stage 1: self-check and rectification (hardware)"
SCORE_LINE = re.compile(r"Total (-?\d+)(?:; this stage \(.*?\) (-?\d+))?; this week (-?\d+)")
SHOP_SIGN = "Shop sign and fascia intact and clean, lights working at night"
WALLS = "Walls and floors inside and outside clean, undamaged and unstained"
MACHINES = "Self-service machines complete, working and stocked with cash"

INSPECTOR = "inspector-gao"  # the county branch's inspector, an admin at the branch office
# People in the other outlets (unit key, name, points earned on 5 January) and a silent newcomer
# at Renmin Road: the organisation's ranking has something to rank.
OTHERS = (
    ("dongguan", "Zhou Yi", 30),
    ("dongguan", "Qian Er", 10),
    ("dev-zone", "Sun San", 50),
    ("west-street", "Li Si", 5),
    ("railway-station", "Zhou Wu", 0),
    ("liulin-town", "Wu Liu", 12),
    ("renmin-road", "Sun Li", 0),
)


# --- a week of the campaign, lived once -----------------------------------------------------------


async def live_a_week(plan: Plan, path: Path) -> None:
    """Monday 4 to Friday 8 January 2027 at Renmin Road, you being its supervisor."""
    async with open_demo(plan, path, role=Role.SUPERVISOR, start="2027-01-04 07:00") as bot:
        await bot.say("/clock 2027-01-04 10:00")  # the morning drill, answered by colleagues

        async def typing(line: str) -> str:  # the clock stands still while filling a form
            await bot.console.say(line)
            return bot.console.take_transcript()

        # A self-check: the shop sign failed (to fix by tomorrow), the walls failed (default).
        async with bot.database.transaction() as session:
            items = list(await session.scalars(select(ChecklistItem).order_by("position")))
        await typing("/check")
        script = {"hw-shop-sign": ["2", "-", "tomorrow"], "hw-walls-floors": ["2", "-", "-"]}
        for item in items:
            for line in script.get(item.key, ["1"]):
                printed = await typing(line)
        assert "Self-check finished: self-check score 93" in printed
        # An inspection of the outlet by the county branch (nobody inspects their own unit):
        # 88 against 92, the shop sign and the machines deducted.
        office = Office(bot, "en")
        await office.add(INSPECTOR, "Gao Jian", Role.ADMIN, "linhe-county")
        inspector = office.chat(INSPECTOR)
        units = await office.say(inspector, "/inspect")
        renmin = re.search(r"\[(\d+)\] Renmin Road Outlet", units)
        assert renmin is not None, units
        printed = await office.say(inspector, renmin[1], "1", "88", "1,3")
        assert "penalty 1,800 yuan" in printed
        # A good deed for Wang Fang, waiting for approval; a complaint, left open.
        for line in ("/deed", "Helped an elderly customer fill in a form", "2"):
            printed = await bot.say(line)
        assert "Good deed #1 reported and waiting for a supervisor." in printed
        for line in ("/observe", "1", "2", "The queue was long and nobody explained why", "1"):
            printed = await bot.say(line)
        assert "Observation #1 received." in printed

        async with bot.database.transaction() as session:
            store = Store(session)
            organisation = await store.units.organisation_by_key("psbc")
            assert organisation is not None
            campaign = await store.campaigns.by_key(organisation.id, "postal-bank")
            assert campaign is not None
            for number, (unit_key, name, points) in enumerate(OTHERS, start=1):
                unit = await store.units.by_key(organisation.id, unit_key)
                assert unit is not None
                member = await store.members.add(
                    organisation_id=organisation.id,
                    unit_id=unit.id,
                    display_name=name,
                    role=Role.STAFF,
                    now=bot.clock.now(),
                )
                await store.members.add_identity(
                    member,
                    platform=PLATFORM,
                    external_id=f"other-{number}",
                    private_chat_id=f"other-{number}",
                    now=bot.clock.now(),
                )
                if points:
                    await store.ledger.award(
                        Award(
                            campaign_id=campaign.id,
                            unit_id=unit.id,
                            member_id=member.id,
                            source="deed",
                            rule="deed_approved",
                            points=points,
                            key=f"test-deed:{member.id}",
                            occurred_at=at("2027-01-05 12:00"),
                            local_date=dt.date(2027, 1, 5),
                        )
                    )
        await bot.say("/clock 2027-01-08 18:00")


@pytest.fixture(scope="module")
def lived_week(plan: Plan, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "week.db"
    shutil.copy(sqlite_template, path)
    asyncio.run(live_a_week(plan, path))
    return path


@pytest.fixture
def db(lived_week: Path, tmp_path: Path) -> Path:
    path = tmp_path / "demo.db"
    shutil.copy(lived_week, path)
    return path


@asynccontextmanager
async def demo(plan: Plan, path: Path, role: Role, locale: str = "en") -> AsyncIterator[Desk]:
    async with open_demo(plan, path, role=role, locale=locale) as bot:
        assert bot.clock.now() == at("2027-01-08 18:00")
        if locale != "en":  # the week was lived in English, and a person's choice is kept
            await bot.say(f"/lang {locale}")
        yield Desk(bot, locale)


class Desk:
    """The demo session, and the dispatcher for events straight from any member's platform id."""

    def __init__(self, bot: DemoSession, locale: str) -> None:
        self.bot = bot
        self.database = bot.database
        self.locale = locale
        self.dispatcher = Dispatcher(
            bot.database, build_router(), bot.clock, DispatcherSettings(locale)
        )

    async def handle(self, command: str, args: str = "", user: str = YOU) -> Outcome:
        return await self.dispatcher.handle(
            Event(
                kind=EventKind.COMMAND,
                sender=SenderRef(PLATFORM, user, locale=self.locale),
                chat=ChatRef(PLATFORM, user, is_group=False),
                received_at=self.bot.clock.now(),
                command=command,
                args=args,
            )
        )

    async def text(self, command: str, args: str = "", user: str = YOU) -> str:
        return shown(await self.handle(command, args, user))

    async def report(self, args: str = "") -> tuple[str, bytes, bytes]:
        """The summary, the PNG and the XLSX of ``/report args``."""
        outcome = await self.handle("report", args)
        summary, attachments = outcome.replies
        assert attachments.image is not None and attachments.file is not None
        assert attachments.image.mime_type == "image/png"
        assert attachments.file.mime_type == XLSX
        assert summary.text is not None
        return (
            RENDER.render(summary.text, outcome.locale),
            attachments.image.content,
            attachments.file.content,
        )


async def units_by_key(database: Database) -> dict[str, Unit]:
    return {u.key: u for u in await rows(database, Unit)}


async def members_of(database: Database, unit_ids: set[int]) -> list[Member]:
    every = await rows(database, Member, Member.role != Role.VOLUNTEER)
    return [m for m in every if m.unit_id in unit_ids]


async def ledger_total(
    database: Database, unit_ids: set[int], first: dt.date, last: dt.date
) -> int:
    entries = await rows(database, PointEntry, PointEntry.unit_id.in_(unit_ids))
    return sum(e.points for e in entries if first <= e.local_date <= last)


async def score_totals(desk: Desk, members: list[Member]) -> dict[str, tuple[int, int, int]]:
    """(total, this stage, this week) from each member's own /score, asked on their platform id."""
    identities = {i.member_id: i.external_id for i in await rows(desk.database, PlatformIdentity)}
    totals = {}
    for member in members:
        out = await desk.text("score", user=identities[member.id])
        match = SCORE_LINE.search(out)
        assert match, out
        total, stage, week = match.groups()
        totals[member.display_name] = (int(total), int(stage or 0), int(week))
    return totals


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def ledger_sheet(xlsx: bytes, name: str = "Points ledger") -> tuple[list[tuple[Any, ...]], int]:
    """The ledger's data rows (one per member per day) and the total on its last row."""
    book = load_workbook(io.BytesIO(xlsx))
    sheet = book[name]
    values = list(sheet.iter_rows(values_only=True))
    header, *data, total = values
    assert header[9] in ("Points that day", "当日积分")
    assert total[0] in ("Total", "合计")
    assert all(sum(row[3:9]) == row[9] for row in data)  # the sources add up to the day
    return data, int(total[9])


async def daily_ledger(
    database: Database, unit_ids: set[int], first: dt.date, last: dt.date
) -> dict[tuple[dt.date, str], int]:
    """The ledger summed per member (by name) per day, as the sheet shows it."""
    names = {m.id: m.display_name for m in await rows(database, Member)}
    sums: Counter[tuple[dt.date, str]] = Counter()
    for e in await rows(database, PointEntry, PointEntry.unit_id.in_(unit_ids)):
        if first <= e.local_date <= last:
            sums[(e.local_date, names.get(e.member_id or 0, ""))] += e.points
    return dict(sums)


def sheet_days(data: list[tuple[Any, ...]]) -> dict[tuple[dt.date, str], int]:
    sums: Counter[tuple[dt.date, str]] = Counter()
    for row in data:
        sums[(row[0].date(), row[1] or "")] += row[9]
    assert len(sums) == len(data)  # one row per member per day
    return dict(sums)


def number(value: float) -> str:
    """A number as the templates show it: rounded to one decimal, no ".0"."""
    value = round(value, 1)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def drill_accuracy(answers: list[DrillAnswer]) -> str:
    return number(100 * sum(a.correct for a in answers) / len(answers))


async def answers_between(
    database: Database, unit_id: int, first: dt.date, last: dt.date
) -> list[DrillAnswer]:
    """The answers to the unit's drills of these local dates."""
    async with database.transaction() as session:
        found = await session.scalars(
            select(DrillAnswer)
            .join(Drill, Drill.id == DrillAnswer.drill_id)
            .where(Drill.unit_id == unit_id, Drill.local_date >= first, Drill.local_date <= last)
        )
        return list(found)


# --- a supervisor's report: their own unit --------------------------------------------------------


async def test_a_supervisor_gets_the_summary_chart_and_ledger_of_their_unit(
    plan: Plan, db: Path
) -> None:
    async with demo(plan, db, Role.SUPERVISOR) as desk:
        summary, png, xlsx = await desk.report()
        chat = await desk.bot.say("/report")  # the same through the console chat
        units = await units_by_key(desk.database)
        renmin = units["renmin-road"]
        people = await members_of(desk.database, {renmin.id})
        scores = await score_totals(desk, people)

    lines = summary.splitlines()
    assert lines[0] == (
        f"📊 Renmin Road Outlet report: Fri 1 Jan 2027 to Fri 30 Apr 2027 ({STAGE_1_EN})"
    )
    # Participation: the four colleagues answered drills, you ran the self-check; Sun Li did
    # neither.
    assert [m.display_name for m in people] == [
        "Alex Li",
        "Wang Fang",
        "Li Qiang",
        "Zhao Min",
        "Chen Jing",
        "Sun Li",
    ]
    assert (
        lines[1] == "👥 Participation: 5 of 6 answered a drill or ran a self-check; not yet: Sun Li"
    )
    answers = await rows(desk.database, DrillAnswer)
    assert len(answers) == 4 * 5  # four colleagues, five working days
    assert lines[2] == f"🎯 Drill accuracy: {drill_accuracy(answers)}% (20 answers)"
    # The official score is the inspection's 88, short of the target 92; the self-check (28
    # items weighing 100, the shop sign (3) and the walls (4) failed: 93) is a line of its own.
    assert lines[3:5] == [
        "🏁 Official score (inspection): 88 (mystery shopper, Mon 4 Jan 2027) against the stage "
        "target 92: not reached ❌, 4 short",
        "🧾 Self-check average (our own check, not the official score): 93 this stage "
        "(1 self-check)",
    ]
    # The shortest plank: the shop sign failed in the self-check and in the inspection.
    assert lines[5:9] == [
        "🪵 Weakest items (the shortest plank):",
        f"1. {SHOP_SIGN} (failed 2 times)",
        f"2. {WALLS} (failed once)",
        f"3. {MACHINES} (failed once)",
    ]
    # Two from the self-check (the shop sign due on 5 January: overdue), two from the inspection.
    assert "🔧 Rectifications: 4 open; 1 overdue" in lines
    assert "🌟 Good deeds: 0 approved, 1 waiting" in lines
    assert "📣 Observations: 1 open; 1 overdue" in lines  # 48 hours from Monday 10:00
    assert "🔍 Inspections: 1; penalties 1,800 yuan, rewards 0 yuan" in lines
    renmin_points = await ledger_total(desk.database, {renmin.id}, *STAGE_1)
    assert f"🏆 Top three: Renmin Road Outlet ({number(renmin_points / 6)} per member)" in lines
    assert "Dongguan" not in summary and "Bottom three" not in summary
    assert lines[-1] == "The chart and the ledger are attached."

    assert png_size(png) == (1200, 500)
    data, total = ledger_sheet(xlsx)
    # The ledger total matches the table and every member's own /score for the stage.
    assert total == renmin_points == sum(s[1] for s in scores.values())
    assert sum(row[9] for row in data) == total
    # one row per member per day, each the sum of that member's ledger rows that day
    assert sheet_days(data) == await daily_ledger(desk.database, {renmin.id}, *STAGE_1)
    assert scores["Sun Li"] == (0, 0, 0)

    assert summary in chat
    assert "Renmin Road Outlet: trend and ranking" in chat
    assert "[file saved: " in chat and ".xlsx]" in chat


# --- an admin's report: the whole organisation ----------------------------------------------------


async def test_an_admin_gets_the_whole_organisation_with_the_ranking(plan: Plan, db: Path) -> None:
    async with demo(plan, db, Role.ADMIN) as desk:
        summary, png, xlsx = await desk.report("this stage")
        units = await units_by_key(desk.database)
        everyone = await members_of(desk.database, {u.id for u in units.values()})
        scores = await score_totals(desk, everyone)

    lines = summary.splitlines()
    assert lines[0] == (
        f"📊 Linhe County Branch report: Fri 1 Jan 2027 to Fri 30 Apr 2027 ({STAGE_1_EN})"
    )
    # Gao Jian, the branch's inspector, inspected but neither drilled nor self-checked.
    silent = ["Sun Li", "Zhou Yi", "Qian Er", "Sun San", "Li Si", "Zhou Wu", "Wu Liu", "Gao Jian"]
    assert set(lines[1].split("; not yet: ")[1].split(", ")) == set(silent)
    assert lines[1].startswith("👥 Participation: 5 of 13 answered a drill or ran a self-check")

    # The ranking by points per member, worked out from the ledger: the top three and the
    # bottom three named, as a notice (通报) would.
    points: Counter[int] = Counter()
    for entry in await rows(desk.database, PointEntry):
        points[entry.unit_id] += entry.points
    # The units below the branch are ranked; the branch itself (where its inspector sits) is
    # their sum, not a rival.
    branch = units["linhe-county"].id
    heads = Counter(m.unit_id for m in everyone if m.unit_id != branch)
    names = {u.id: u.name_en for u in units.values()}
    ranking = sorted(heads, key=lambda unit_id: (-points[unit_id] / heads[unit_id], unit_id))
    assert len(ranking) == 6

    def named(unit_ids: list[int]) -> str:
        return ", ".join(
            f"{names[u]} ({number(points[u] / heads[u])} per member)" for u in unit_ids
        )

    assert f"🏆 Top three: {named(ranking[:3])}" in lines
    # The official scores of the six outlets: one inspected, below the target; the self-checks
    # of the whole branch on a line of their own.
    assert lines[3:5] == [
        "🏁 Official scores (each unit's latest inspection this stage, target 92): 1 unit "
        "inspected, 0 on target; below target: Renmin Road Outlet 88 (mystery shopper, "
        "Mon 4 Jan 2027); not yet inspected: 5 units",
        "🧾 Self-check average (our own check, not the official score): 93 this stage "
        "(1 self-check)",
    ]
    assert f"⚠️ Bottom three: {named(ranking[-3:][::-1])}" in lines
    assert "Zhou Wu" not in summary.split("Top three")[1]  # people are not ranked, units are

    # The ledger total equals the table and the sum of every member's /score for the stage.
    data, total = ledger_sheet(xlsx)
    assert total == sum(points.values()) == sum(s[1] for s in scores.values())
    assert scores["Sun San"] == (50, 50, 50)
    assert len(data) == len(
        {(e.local_date, e.member_id) for e in await rows(desk.database, PointEntry)}
    )
    book = load_workbook(io.BytesIO(xlsx))
    assert book.sheetnames == [
        "Summary",
        "Points ledger",
        "Members",
        "Units",
        "Weakest items",
        "Self-checks",
        "Rectifications",
        "Good deeds",
        "Observations",
        "Inspections",
        "Drills",
    ]
    member_rows = list(book["Members"].iter_rows(min_row=2, values_only=True))
    assert {row[1]: row[3] for row in member_rows} == {k: v[1] for k, v in scores.items()}
    assert png_size(png) == (1200, 500)


# --- periods --------------------------------------------------------------------------------------


PERIODS = [
    ("", "Fri 1 Jan 2027 to Fri 30 Apr 2027", *STAGE_1),  # the current stage by default
    ("this stage", "Fri 1 Jan 2027 to Fri 30 Apr 2027", *STAGE_1),
    ("this week", "Mon 4 Jan 2027 to Sun 10 Jan 2027", dt.date(2027, 1, 4), dt.date(2027, 1, 10)),
    ("本月", "Fri 1 Jan 2027 to Sun 31 Jan 2027", dt.date(2027, 1, 1), dt.date(2027, 1, 31)),
    (
        "last month",
        "Tue 1 Dec 2026 to Thu 31 Dec 2026",
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 31),
    ),
    (
        "2027-01-04 to 2027-01-05",
        "Mon 4 Jan 2027 to Tue 5 Jan 2027",
        dt.date(2027, 1, 4),
        dt.date(2027, 1, 5),
    ),
    (
        "1月6日到1月8日",
        "Wed 6 Jan 2027 to Fri 8 Jan 2027",
        dt.date(2027, 1, 6),
        dt.date(2027, 1, 8),
    ),
    ("人民路 本月", "Fri 1 Jan 2027 to Sun 31 Jan 2027", dt.date(2027, 1, 1), dt.date(2027, 1, 31)),
]


async def test_periods_in_english_and_chinese(plan: Plan, db: Path) -> None:
    async with demo(plan, db, Role.SUPERVISOR) as desk:
        renmin = (await units_by_key(desk.database))["renmin-road"]
        for args, dates, first, last in PERIODS:
            summary, _, xlsx = await desk.report(args)
            answered = await answers_between(desk.database, renmin.id, first, last)
            total = await ledger_total(desk.database, {renmin.id}, first, last)
            lines = summary.splitlines()
            assert lines[0].startswith(f"📊 Renmin Road Outlet report: {dates}"), args
            assert lines[0].endswith(f"({STAGE_1_EN})") is (first >= STAGE_1[0]), args
            # The period decides what is counted: the drills answered then, the ledger's rows.
            if answered:
                accuracy = f"{drill_accuracy(answered)}% ({len(answered)} answers)"
            else:
                accuracy = "no answers yet"
            assert lines[2] == f"🎯 Drill accuracy: {accuracy}", args
            assert ledger_sheet(xlsx)[1] == total, args
    # Before the campaign nothing happened; on two days, two drills by four colleagues.
    assert len(await answers_between(desk.database, renmin.id, *PERIODS[4][2:])) == 0
    assert len(await answers_between(desk.database, renmin.id, *PERIODS[5][2:])) == 8


async def test_an_admin_names_any_unit_and_a_supervisor_only_their_own(
    plan: Plan, db: Path
) -> None:
    async with demo(plan, db, Role.ADMIN) as desk:
        summary, _, xlsx = await desk.report("Dongguan this week")
        dongguan = (await units_by_key(desk.database))["dongguan"]
    assert summary.splitlines()[:3] == [
        f"📊 Dongguan Outlet report: Mon 4 Jan 2027 to Sun 10 Jan 2027 ({STAGE_1_EN})",
        "👥 Participation: 0 of 2 answered a drill or ran a self-check; not yet: Zhou Yi, Qian Er",
        "🎯 Drill accuracy: no answers yet",
    ]
    assert "🏆 Top three: Dongguan Outlet (20 per member)" in summary
    data, total = ledger_sheet(xlsx)
    assert total == 40 and {row[1] for row in data} == {"Zhou Yi", "Qian Er"}
    assert dongguan.name_en == "Dongguan Outlet"
    # A supervisor of Renmin Road cannot pick Dongguan, and is told so (not that the period is
    # unreadable), in whichever order the unit and the period come.
    async with demo(plan, db, Role.SUPERVISOR) as desk:
        refused = await desk.text("report", "Dongguan this week")
        assert await desk.text("report", "this week Dongguan") == refused
    assert refused == (
        "Dongguan Outlet is not under Renmin Road Outlet: your reports cover Renmin Road Outlet "
        "and the units below it."
    )


@pytest.mark.parametrize(
    ("locale", "args", "answer"),
    [
        (
            "en",
            "next century",
            'I cannot read the period "next century". Try: this week, last week, this month, '
            'last month, this stage, campaign, 2027-05, or "2027-05-01 to 2027-05-31".',
        ),
        (
            "zh",
            "下个世纪",
            "看不懂时间段“下个世纪”。可以写:本周、上周、本月、上月、本阶段、全程、2027-05,"
            "或“5月1日到5月31日”。",
        ),
    ],
)
async def test_a_bad_period_gets_a_clear_message(
    plan: Plan, db: Path, locale: str, args: str, answer: str
) -> None:
    async with demo(plan, db, Role.SUPERVISOR, locale) as desk:
        outcome = await desk.handle("report", args)
        assert shown(outcome) == answer
        assert [r.image for r in outcome.replies] == [None]


@pytest.mark.parametrize(
    ("locale", "refusal"),
    [
        ("en", "Sorry, /report is not open to your role. Type /help to see what you can use."),
        ("zh", "抱歉,/report 只对有相应权限的人开放。输入 /help 查看你能用的命令。"),
    ],
    ids=["en", "zh"],
)
async def test_staff_are_refused_politely(plan: Plan, db: Path, locale: str, refusal: str) -> None:
    async with demo(plan, db, Role.STAFF, locale) as desk:
        assert await desk.bot.say("/report") == refusal
        assert await desk.bot.say("/月报 本月") == refusal


async def test_the_report_in_chinese(plan: Plan, db: Path) -> None:
    async with demo(plan, db, Role.SUPERVISOR, "zh") as desk:
        summary, png, xlsx = await desk.report("本周")
        renmin = (await units_by_key(desk.database))["renmin-road"]
    assert summary.splitlines()[0] == (
        "📊 人民路网点 报告:2027年1月4日(周一) — 2027年1月10日(周日)(第一阶段：自查整改（硬件）)"
    )
    assert "👥 参与:6 人中 5 人参加了晨会演练或自查;未参加:Sun Li" in summary
    assert (
        "🏁 官方得分(检查):88 分(神秘人检查,2027年1月4日(周一)),阶段目标 92 分:未达标 ❌,差 4 分\n"
        "🧾 自查平均分(自己检查,不作为达标依据):本阶段 93 分(共 1 次自查)\n"
    ) in summary
    assert "已达标" not in summary
    assert "🔧 整改:未完成 4 张;超期 1 张" in summary
    assert "1. 店招、门楣标识完好清洁，夜间灯光正常(不合格 2 次)" in summary
    assert "🔍 检查 1 次;考核 1,800 元,奖励 0 元" in summary
    assert "🌟 好人好事:已通过 0 件,待审批 1 件" in summary
    assert "📣 监督意见:未办结 1 条;超期 1 条" in summary
    png_size(png)
    _, total = ledger_sheet(xlsx, "积分台账")
    week = (dt.date(2027, 1, 4), dt.date(2027, 1, 10))
    assert total == await ledger_total(desk.database, {renmin.id}, *week)


# --- uplift report on the command line ------------------------------------------------------------


def uplift(db: Path, cwd: Path, *args: str, locale: str = "en") -> subprocess.CompletedProcess[str]:
    return run_uplift(cwd, *args, database_url=f"sqlite:///{db}", locale=locale)


async def test_uplift_report_writes_the_three_files(
    plan: Plan, lived_week: Path, tmp_path: Path
) -> None:
    db = tmp_path / "cli.db"
    shutil.copy(lived_week, db)
    out = tmp_path / "out"
    # Asked for in English where the settings say Chinese: every word it prints is English.
    result = uplift(
        db,
        tmp_path,
        *("report", "--lang", "en", "--unit", "renmin-road", "--period", "campaign"),
        *("--out", str(out)),
        locale="zh",
    )
    assert result.returncode == 0, result.stderr
    stem = out / "report-renmin-road-2027-01-01-2027-12-31"
    paths = [stem.with_suffix(s) for s in (".txt", ".png", ".xlsx")]
    assert sorted(out.iterdir()) == sorted(paths)
    summary = paths[0].read_text(encoding="utf-8")
    assert (
        summary.splitlines()[0] == "📊 Renmin Road Outlet report: Fri 1 Jan 2027 to Fri 31 Dec 2027"
    )
    assert (
        "👥 Participation: 5 of 6 answered a drill or ran a self-check; not yet: Sun Li" in summary
    )
    assert "🔍 Inspections: 1; penalties 1,800 yuan, rewards 0 yuan" in summary
    assert result.stdout.startswith(summary)
    assert [f"Wrote {p}" for p in paths] == result.stdout.strip().splitlines()[-3:]
    assert png_size(paths[1].read_bytes()) == (1200, 500)
    _, total = ledger_sheet(paths[2].read_bytes())
    database = Database(f"sqlite:///{db}")
    try:
        renmin = (await units_by_key(database))["renmin-road"]
        assert total == await ledger_total(
            database, {renmin.id}, dt.date(2027, 1, 1), dt.date(2027, 12, 31)
        )
    finally:
        await database.dispose()
    assert total > 0

    unknown = uplift(db, tmp_path, "report", "--unit", "nowhere", "--out", str(tmp_path / "none"))
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert unknown.stderr.startswith('There is no unit "nowhere". Unit keys: linhe-county, ')
    assert "renmin-road" in unknown.stderr and "Traceback" not in unknown.stderr
    assert not (tmp_path / "none").exists()


# --- the same on both databases, through the demo session ---------------------------------------


async def test_report_on_each_database(db_url: str, plan: Plan) -> None:
    options = DemoOptions(role=Role.ADMIN, plan=plan, db_path=None, locale="en", db_url=db_url)
    async with demo_session(options, io.StringIO()) as bot:
        database = bot.database
        for moment in ("2027-01-04 07:00", "2027-01-04 09:00", "2027-01-05 09:00"):
            bot.clock.set(at(moment))
            await bot.fire_due()  # the morning drill, answered by the colleagues
        await seat_at(bot, "linhe-county")  # an admin at the branch inspects the outlet
        for line in ("/inspect", "3", "1", "93"):
            await bot.say(line)
        assert "reached ✅" in await bot.say("-")  # everyone at Renmin Road earns 10 points
        desk = Desk(bot, "en")
        summary, png, xlsx = await desk.report("this week")
        units = await units_by_key(database)
        people = await members_of(database, {units["renmin-road"].id})
        scores = await score_totals(desk, people)

        assert summary.splitlines()[0].startswith(
            "📊 Linhe County Branch report: Mon 4 Jan 2027 to Sun 10 Jan 2027"
        )
        answers = await rows(database, DrillAnswer)
        assert len(answers) == 8
        assert f"🎯 Drill accuracy: {drill_accuracy(answers)}% (8 answers)" in summary
        assert "🔍 Inspections: 1; penalties 0 yuan, rewards 0 yuan" in summary
        _, total = ledger_sheet(xlsx)
        entries = await rows(database, PointEntry)
        assert total == sum(e.points for e in entries) == sum(s[2] for s in scores.values())
        # Renmin Road's four members; you inspected it from the branch, so you earn nothing.
        assert sum(1 for e in entries if e.rule == "inspection_target_reached") == 4
        assert png_size(png) == (1200, 500)


async def test_the_monthly_report_comes_in_each_supervisors_language(plan: Plan, db: Path) -> None:
    """The unit speaks Chinese; its supervisor reads English: the report pushed on the month's
    first working day names the unit and the stage in English, its captions too."""
    async with open_demo(
        plan, db, role=Role.SUPERVISOR, locale="en", start="2027-01-29 10:00"
    ) as bot:
        printed = await jump(bot, "2027-02-01 09:30")
    reports = [part for part in printed.split("── ") if "📊 " in part]
    assert reports, printed
    ours = [part for part in reports if "📊 Renmin Road Outlet report: Fri 1 Jan 2027" in part]
    assert ours and "Renmin Road Outlet: trend and ranking" in printed
    for report in reports:
        assert not re.search(r"[\u4e00-\u9fff]", report), report
