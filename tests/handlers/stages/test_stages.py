"""The stage engine end to end: a whole campaign in the demo session, from before its first stage
to its awards, with ``/clock`` walking time the way a running process lives through it.

The university facilities plan is read as shipped, and a copy is made with its stages moved into
five weeks around China's 2027 National Day holiday (1–5 October), everything else kept. Then
the outbox table and the printed transcript say what arrived, when and how often: stage
announcements, end-of-stage reminders, drills, weekly summaries, the monthly report and the award
suggestions, each once, on time, in the unit's zone, never on a holiday or a weekend. A second
run is killed in the middle (between the scheduler's tick and the sender's flush) and started
again on the same database: it ends with exactly the pushes of the uninterrupted run. Pushes
missed while the process was down are sent on start within the plan's grace window, and skipped
and logged beyond it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import re
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.adapters.console import PLATFORM
from bot.demo import DEMO_STEP, DemoOptions, DemoSession, demo_session
from campaigns.schema import Plan, PlanParts, semantic_errors
from kernel import Reply, Role
from storage.models import Campaign, ChecklistItem, Member, OutboxMessage, Stage, Unit
from storage.store import Store
from tests.harness import at, read_plan

ZONE = ZoneInfo("Asia/Shanghai")
D = dt.date
CAMPAIGN = (D(2027, 9, 25), D(2027, 10, 31))  # from a Saturday before the first stage
STAGES = {
    "mobilise": (D(2027, 9, 27), D(2027, 10, 3)),
    "implement": (D(2027, 10, 4), D(2027, 10, 13)),  # starts on a National Day holiday
    "review": (D(2027, 10, 14), D(2027, 10, 19)),
    "awards": (D(2027, 10, 20), D(2027, 10, 31)),  # the summary stage
}
CHATS = {"maintenance": "group:maintenance", "catering": "group:catering"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The clock path: each line is typed into the console chat; ``self-check`` runs one at 10:00 on
# the first day; ``kill`` is where the second run dies.
PATH = (
    "/clock 2027-09-27 10:00",
    "self-check",
    "/clock 2027-10-06 08:00",
    "kill",
    "/clock 2027-10-06 09:00",
    "/clock 2027-10-20 10:00",
)


@pytest.fixture(scope="module")
def shipped() -> Plan:
    return read_plan("university-facilities")


def compressed(plan: Plan) -> Plan:
    """The shipped plan with its campaign and stages moved into autumn 2027; nothing else."""
    data = plan.model_dump()
    data["starts_on"], data["ends_on"] = CAMPAIGN
    for stage in data["stages"]:
        stage["starts_on"], stage["ends_on"] = STAGES[stage["key"]]
    moved = Plan.model_validate(data)
    assert semantic_errors(PlanParts.of(moved)) == []
    return moved


@pytest.fixture(scope="module")
def plan(shipped: Plan) -> Plan:
    return compressed(shipped)


def test_the_compressed_plan_keeps_everything_but_the_dates(shipped: Plan, plan: Plan) -> None:
    dates = {"starts_on", "ends_on"}
    assert plan.model_dump(exclude=dates | {"stages"}) == shipped.model_dump(
        exclude=dates | {"stages"}
    )
    assert [s.model_dump(exclude=dates) for s in plan.stages] == [
        s.model_dump(exclude=dates) for s in shipped.stages
    ]
    assert [(s.key, s.target_score, s.remind_days_before_end, s.summary) for s in plan.stages] == [
        ("mobilise", None, 5, False),
        ("implement", 90, 7, False),
        ("review", 92, 5, False),
        ("awards", None, 5, True),
    ]
    assert (plan.morning_meeting, plan.timezone) == ("08:00", "Asia/Shanghai")
    assert plan.calendar.country == "CN" and plan.deadlines.push_grace_minutes == 120


# --- running the campaign -----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What a run left behind: its database, everything printed, and the warnings logged."""

    db: Path
    transcript: str
    warnings: list[str]


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def warnings_logged() -> Iterator[Warnings]:
    handler = Warnings()
    logger = logging.getLogger("handlers")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@asynccontextmanager
async def demo(plan: Plan, db: Path, output: io.StringIO) -> AsyncIterator[DemoSession]:
    """The demo session, you an admin at the maintenance centre; a second unit chat bound."""
    options = DemoOptions(role=Role.ADMIN, plan=plan, db_path=db, locale="zh")
    async with demo_session(options, output) as bot:
        async with bot.database.transaction() as session:
            store = Store(session)
            catering = await store.units.by_key(await _organisation(store), "catering")
            assert catering is not None
            await store.units.bind_chat(
                catering.id, PLATFORM, "", CHATS["catering"], at("2027-09-25 07:00")
            )
        yield bot


async def _organisation(store: Store) -> int:
    organisation = await store.units.organisation_by_key("university")
    assert organisation is not None
    return organisation.id


async def self_check(bot: DemoSession) -> str:
    """You check the unit against the standard, every item passed (the clock stands still)."""
    async with bot.database.transaction() as session:
        items = list(await session.scalars(select(ChecklistItem).order_by("position")))
    await bot.console.say("/check")
    for _ in items:
        await bot.console.say("1")
    return bot.console.take_transcript()


async def run_campaign(plan: Plan, db: Path, *, kill: bool) -> Run:
    output = io.StringIO()
    typed: list[tuple[int, int]] = []  # where the self-check's own lines are, to leave them out
    with warnings_logged() as warnings:
        bot_cm = demo(plan, db, output)
        bot = await bot_cm.__aenter__()
        try:
            assert bot.clock.now() == at("2027-09-25 07:00")
            for line in PATH:
                if line == "self-check":
                    start = output.tell()
                    assert "自查完成:自查得分 100" in await self_check(bot)
                    typed.append((start, output.tell()))
                elif line == "kill":
                    if kill:
                        # The process dies right after the scheduler queued the 09:00 pushes,
                        # before the sender delivered them; it is started again at once.
                        bot.clock.set(at("2027-10-06 09:00"))
                        await bot.scheduler.tick()
                        async with bot.database.transaction() as session:
                            pending = await session.scalars(
                                select(OutboxMessage.idempotency_key).where(
                                    OutboxMessage.status == "pending"
                                )
                            )
                            assert sorted(k.split(":")[0] for k in pending) == ["monthly"] * 4
                        await bot_cm.__aexit__(None, None, None)
                        bot_cm = demo(plan, db, output)
                        bot = await bot_cm.__aenter__()
                        assert bot.clock.now() == at("2027-10-06 09:00")
                else:
                    await bot.say(line)
        finally:
            await bot_cm.__aexit__(None, None, None)
    text = output.getvalue()
    for start, end in reversed(typed):
        text = text[:start] + text[end:]
    return Run(db, text, warnings.messages)


@pytest.fixture(scope="module")
def uninterrupted(
    plan: Plan, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    db = tmp_path_factory.mktemp("campaign") / "uninterrupted.db"
    shutil.copy(sqlite_template, db)
    return asyncio.run(run_campaign(plan, db, kill=False))


# --- reading the results ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    status: str
    attempts: int
    due: dt.datetime
    sent_at: dt.datetime | None
    reply: Reply
    member_id: int | None
    unit_id: int | None


async def outbox(db: Path) -> list[Row]:
    from storage.database import Database

    database = Database(f"sqlite:///{db}")
    try:
        async with database.transaction() as session:
            messages = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
            return [
                Row(
                    m.idempotency_key,
                    m.status,
                    m.attempts,
                    m.next_attempt_at,
                    m.sent_at,
                    Reply.from_json(m.reply),
                    m.member_id,
                    m.unit_id,
                )
                for m in messages
            ]
    finally:
        await database.dispose()


@dataclass(frozen=True)
class Ids:
    units: dict[str, int]
    stages: dict[str, int]
    members: dict[str, int]
    campaign: int


async def ids(db: Path) -> Ids:
    from storage.database import Database

    database = Database(f"sqlite:///{db}")
    try:
        async with database.transaction() as session:
            units = {u.key: u.id for u in await session.scalars(select(Unit))}
            stages = {s.key: s.id for s in await session.scalars(select(Stage))}
            members = {m.display_name: m.id for m in await session.scalars(select(Member))}
            [campaign] = await session.scalars(select(Campaign.id))
    finally:
        await database.dispose()
    return Ids(units, stages, members, campaign)


def pushes(transcript: str) -> list[tuple[str, str]]:
    """Every push printed: (the header naming the chat, the message under it)."""
    blocks = re.split(r"^(── .+ ──)$", transcript, flags=re.MULTILINE)
    found = []
    for header, body in zip(blocks[1::2], blocks[2::2], strict=True):
        # A push ends where the next typed command's answer starts (a /clock echo).
        lines = [line for line in body.strip("\n").splitlines() if not line.startswith("现在是")]
        found.append((header, _same_on_any_run("\n".join(lines))))
    return found


def _same_on_any_run(text: str) -> str:
    """A push as any run prints it: the console numbers buttons on from what is still on screen
    (a restarted process starts again at 1), and saves files in that run's own folder."""
    text = re.sub(r"\[\d+\]", "[#]", text)
    return re.sub(r"(?<=:)/\S+/(?=[^/\s]+\])", "", text)


def expected_keys(known: Ids) -> dict[str, dt.datetime]:
    """Every push of the path, worked out by hand from the plan, with the local time it is due."""
    unit = known.units
    stage = known.stages
    you, guo = known.members["小李"], known.members["郭建军"]
    keys: dict[str, dt.datetime] = {}

    def to_chats(key: str, local: str) -> None:
        for unit_key, chat in CHATS.items():
            keys[f"{key.format(unit=unit[unit_key])}@{PLATFORM}::{chat}"] = at(local)

    # Drills at the 08:00 morning meeting on each working day: not on 1–5 October (National
    # Day) nor on weekends; the campaign's first two days are a weekend.
    working = [D(2027, 9, d) for d in (27, 28, 29, 30)] + [
        D(2027, 10, d) for d in (6, 7, 8, 11, 12, 13, 14, 15, 18, 19, 20)
    ]
    for day in working:
        to_chats(f"drill:{{unit}}:{day}", f"{day} 08:00")
    # Stage announcements on each stage's first working day: implementation starts on
    # 4 October, a holiday, so it is announced on Wednesday 6 October.
    for key, day in (
        ("mobilise", "2027-09-27"),
        ("implement", "2027-10-06"),
        ("review", "2027-10-14"),
        ("awards", "2027-10-20"),
    ):
        to_chats(f"stage-start:{stage[key]}:{{unit}}", f"{day} 08:00")
    # End-of-stage reminders, the plan's days before the end, moved back to a working day:
    # 3 Oct − 5 = 28 Sep; 13 Oct − 7 = 6 Oct; 19 Oct − 5 = 14 Oct. (Awards: 26 Oct, after the path.)
    for key, day in (
        ("mobilise", "2027-09-28"),
        ("implement", "2027-10-06"),
        ("review", "2027-10-14"),
    ):
        to_chats(f"stage-end:{stage[key]}:{{unit}}", f"{day} 08:00")
    # Weekly summaries at 17:00 on each week's last working day: Thursday 30 September, the
    # Friday being National Day; then Fridays 8 and 15 October.
    for week, day in (
        ("2027-W39", "2027-09-30"),
        ("2027-W40", "2027-10-08"),
        ("2027-W41", "2027-10-15"),
    ):
        to_chats(f"weekly:{{unit}}:{week}", f"{day} 17:00")
    # September's report to the maintenance centre's supervisors (you, an admin there, and Guo
    # Jianjun) at 09:00 on October's first working day: the 6th. A summary, then chart and sheet.
    for person, chat in ((you, "you"), (guo, "colleague-3")):
        for index in (0, 1):
            keys[f"monthly:{unit['maintenance']}:2027-09:{person}:{index}@{PLATFORM}::{chat}"] = at(
                "2027-10-06 09:00"
            )
    # Award suggestions when the summary stage starts (the plan names no other awards day): the
    # maintenance centre's supervisors, and the admins for the whole office (the root unit).
    supervisors = (
        ("maintenance", you, "you"),
        ("maintenance", guo, "colleague-3"),
        ("facilities-office", you, "you"),
    )
    for unit_key, person, chat in supervisors:
        keys[f"awards:{known.campaign}:{unit[unit_key]}:{person}@{PLATFORM}::{chat}"] = at(
            "2027-10-20 08:00"
        )
    # Each stage's results on the first working day after it, at the morning meeting: to each
    # unit chat, and the ranking to the same supervisors (mobilisation ends on 3 October, in the
    # holiday: its results come on the 6th).
    for key, day in (
        ("mobilise", "2027-10-06"),
        ("implement", "2027-10-14"),
        ("review", "2027-10-20"),
    ):
        to_chats(f"stage-results:{stage[key]}:{{unit}}", f"{day} 08:00")
        for unit_key, person, chat in supervisors:
            ranking = f"stage-ranking:{stage[key]}:{unit[unit_key]}:{person}@{PLATFORM}::{chat}"
            keys[ranking] = at(f"{day} 08:00")
    return keys


# --- the whole campaign -------------------------------------------------------------------------


async def test_every_push_arrives_once_on_time_in_the_units_zone(uninterrupted: Run) -> None:
    rows = await outbox(uninterrupted.db)
    known = await ids(uninterrupted.db)
    expected = expected_keys(known)
    # Exactly these pushes, each once (the key is unique), each due at its local time, stored in
    # UTC: 08:00 in Shanghai is 00:00 UTC.
    assert {row.key: row.due for row in rows} == expected
    assert len(rows) == len(expected) == 30 + 8 + 6 + 6 + 4 + 3 + 6 + 9
    assert at("2027-09-27 08:00") == dt.datetime(2027, 9, 27, 0, 0, tzinfo=dt.UTC)
    # Each was delivered once, by the first tick after it fell due (the demo ticks every 2 hours).
    for row in rows:
        assert (row.status, row.attempts) == ("sent", 1), row.key
        assert row.sent_at is not None and row.due <= row.sent_at <= row.due + DEMO_STEP, row.key
    assert Counter(row.key.split(":")[0] for row in rows) == {
        "drill": 30,
        "stage-start": 8,
        "stage-end": 6,
        "weekly": 6,
        "monthly": 4,
        "awards": 3,
        "stage-results": 6,
        "stage-ranking": 9,
    }
    # Nothing fell due while the clock walked, so nothing was skipped as stale.
    assert uninterrupted.warnings == []


async def test_the_numbers_to_type_stay_short_over_months(uninterrupted: Run) -> None:
    """Pushes nobody answers pile up for months; the console's numbers start again from the
    lowest free ones instead of climbing into the hundreds."""
    numbers = [int(n) for n in re.findall(r"^  \[(\d+)\] ", uninterrupted.transcript, re.M)]
    assert len(numbers) > 60
    assert max(numbers) <= 40, max(numbers)


async def test_the_transcript_shows_each_push_once(uninterrupted: Run) -> None:
    printed = pushes(uninterrupted.transcript)
    maintenance = [body for header, body in printed if header == "── 群聊 group:maintenance ──"]
    catering = [body for header, body in printed if header == "── 群聊 group:catering ──"]
    mine = [body for header, body in printed if header == "── 私聊 → you ──"]
    guo = [body for header, body in printed if header == "── 私聊 → colleague-3 ──"]
    assert len(printed) == len(maintenance) + len(catering) + len(mine) + len(guo) == 72

    def starting(bodies: list[str], prefix: str) -> list[str]:
        return [body for body in bodies if body.startswith(prefix)]

    for chat in (maintenance, catering):
        assert len(starting(chat, "📋 ")) == 15  # one drill a working day
        announced = starting(chat, "📢 新阶段开始:")
        assert [body.splitlines()[0] for body in announced] == [
            "📢 新阶段开始:学习动员阶段(2027年9月27日(周一) — 2027年10月3日(周日))",
            "📢 新阶段开始:组织实施阶段(2027年10月4日(周一) — 2027年10月13日(周三)),目标 90 分",
            "📢 新阶段开始:巩固提高阶段（“回头看”）(2027年10月14日(周四) — 2027年10月19日(周二)),"
            "目标 92 分",
            "📢 新阶段开始:总结表彰阶段(2027年10月20日(周三) — 2027年10月31日(周日))",
        ]
        assert "评选建议已发给各位主管确认" in announced[-1]
        assert (
            [body.splitlines()[0] for body in starting(chat, "🗓 ")]
            == [
                f"🗓 {name} 本周小结(2027年9月27日(周一) — 2027年9月30日(周四))",
                f"🗓 {name} 本周小结(2027年10月4日(周一) — 2027年10月8日(周五))",
                f"🗓 {name} 本周小结(2027年10月11日(周一) — 2027年10月15日(周五))",
            ]
            if (name := "维修中心" if chat is maintenance else "饮食服务中心")
            else []
        )
        assert len(starting(chat, "⏰ 阶段即将结束:")) == 3

    # The end-of-stage reminders list who has not run a self-check this stage: you ran one on
    # the first day of stage 1; nobody has in the later stages.
    endings = starting(maintenance, "⏰ 阶段即将结束:")
    assert "还剩 5 天。\n还没完成本阶段自查:孙志刚、马晓燕、郭建军" in endings[0]
    assert "还剩 7 天。\n还没完成本阶段自查:小李、孙志刚、马晓燕、郭建军" in endings[1]
    assert "还剩 5 天。\n还没完成本阶段自查:小李、孙志刚、马晓燕、郭建军" in endings[2]
    # The weekly summary ranks this week's points (colleagues answered the drills).
    assert "本周积分前" in starting(maintenance, "🗓 ")[0]
    assert "本周还没有人得分" in starting(catering, "🗓 ")[0]

    # The monthly report, privately to the supervisors, with the chart and the spreadsheet.
    for bodies in (mine, guo):
        [report] = starting(bodies, "📊 ")
        assert report.startswith("📊 维修中心 报告:2027年9月25日(周六) — 2027年9月30日(周四)")
        [files] = [body for body in bodies if body.startswith("维修中心:趋势与排名")]
        assert "report-2027-09-25-2027-09-30.png]" in files
        assert (
            "维修中心:台账(每张表一类记录)" in files
            and "report-2027-09-25-2027-09-30.xlsx]" in files
        )
    # Award suggestions at the summary stage: yours for the centre and for the whole office.
    assert len(starting(mine, "🏅 评选表彰")) == 2
    assert len(starting(guo, "🏅 评选表彰")) == 1
    # Each stage's results in both chats, and the ranking to you (for the centre and the whole
    # office) and to Guo Jianjun.
    for chat in (maintenance, catering):
        assert [body.splitlines()[0][:9] for body in starting(chat, "🏁 阶段结束:")] == [
            "🏁 阶段结束:学习",
            "🏁 阶段结束:组织",
            "🏁 阶段结束:巩固",
        ]
    assert len(starting(mine, "🏆 阶段成绩排名:")) == 6
    assert len(starting(guo, "🏆 阶段成绩排名:")) == 3
    assert len(mine) == 2 + 2 + 6 and len(guo) == 2 + 1 + 3


async def test_the_monthly_report_carries_a_png_and_an_xlsx(uninterrupted: Run) -> None:
    rows = [row for row in await outbox(uninterrupted.db) if row.key.startswith("monthly:")]
    charts = [row.reply for row in rows if row.key.split("@")[0].endswith(":1")]
    assert len(charts) == 2
    for reply in charts:
        assert reply.image is not None and reply.file is not None
        assert reply.image.mime_type == "image/png"
        assert reply.image.content.startswith(PNG_SIGNATURE)
        assert reply.image.filename == "report-2027-09-25-2027-09-30.png"
        assert reply.file.mime_type == XLSX and reply.file.content.startswith(b"PK")
    summaries = [row for row in rows if row.key.split("@")[0].endswith(":0")]
    assert {row.reply.text.template for row in summaries if row.reply.text} == {"reports/summary"}
    assert all(row.member_id is not None for row in rows)  # private, never to a group


async def test_award_suggestions_name_the_plans_awards(uninterrupted: Run, plan: Plan) -> None:
    rows = [row for row in await outbox(uninterrupted.db) if row.key.startswith("awards:")]
    names = {award.name.zh for award in plan.scoring.awards}
    for row in rows:
        assert row.reply.text is not None and row.reply.text.template == "awards/suggestions"
        lines = row.reply.text.data["lines"]
        assert {line.data["zh"] for line in lines} == names
        assert [b.action for b in row.reply.buttons] == ["awards.confirm"]
    # The individuals are ranked by points: the colleagues who answered drills come first.
    individual = next(
        line
        for line in rows[0].reply.text.data["lines"]
        if line.data["zh"] == "“服务质量提升年”先进个人"
    )
    assert individual.data["names"]


# --- a restart in the middle --------------------------------------------------------------------


async def test_a_restart_mid_campaign_loses_and_repeats_nothing(
    plan: Plan, uninterrupted: Run, sqlite_template: Path, tmp_path: Path
) -> None:
    db = tmp_path / "restarted.db"
    shutil.copy(sqlite_template, db)
    restarted = await run_campaign(plan, db, kill=True)

    before, after = await outbox(uninterrupted.db), await outbox(restarted.db)

    def summary(rows: list[Row]) -> set[tuple[str, str, int, dt.datetime, dt.datetime | None]]:
        return {(r.key, r.status, r.attempts, r.due, r.sent_at) for r in rows}

    assert len(after) == len(before) == len({r.key for r in after})
    assert summary(after) == summary(before)
    # The two pushes queued just before the kill (September's report) were delivered on start.
    monthly = [r for r in after if r.key.startswith("monthly:")]
    assert {r.sent_at for r in monthly} == {at("2027-10-06 09:00")}
    # What was printed is the same too, push for push.
    assert Counter(pushes(restarted.transcript)) == Counter(pushes(uninterrupted.transcript))
    assert restarted.warnings == []


# --- missed while down: the grace window ----------------------------------------------------------


async def down_from_first_morning(plan: Plan, db: Path, back_at: str) -> tuple[str, list[Row]]:
    """Started at 07:00 on Monday 27 September, killed at once, started again at ``back_at``."""
    output = io.StringIO()
    async with demo(plan, db, output) as bot:
        await bot.say("/clock 2027-09-27 07:00")
    async with demo(plan, db, output) as bot:
        assert bot.clock.now() == at("2027-09-27 07:00")
        bot.clock.set(at(back_at))  # the process comes back up
        await bot.fire_due()
        await bot.say("/clock 2027-09-28 09:00")  # and runs on to the next morning
    return output.getvalue(), await outbox(db)


async def test_pushes_missed_within_the_grace_are_sent_on_start(
    plan: Plan, sqlite_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "grace.db"
    shutil.copy(sqlite_template, db)
    caplog.set_level(logging.WARNING, logger="handlers")
    # Down from 07:00 to 09:59: the 08:00 pushes are 1 h 59 late, within the 120 minutes.
    printed, rows = await down_from_first_morning(plan, db, "2027-09-27 09:59")
    first_morning = [r for r in rows if r.due == at("2027-09-27 08:00")]
    assert sorted(r.key.split(":")[0] for r in first_morning) == ["drill"] * 2 + ["stage-start"] * 2
    assert {(r.status, r.sent_at) for r in first_morning} == {("sent", at("2027-09-27 09:59"))}
    assert printed.count("📢 新阶段开始:学习动员阶段") == 2
    assert "skipped_stale" not in caplog.text
    # The next morning comes as usual.
    assert {r.key.split(":")[0] for r in rows if r.due == at("2027-09-28 08:00")} == {
        "drill",
        "stage-end",
    }


async def test_pushes_missed_beyond_the_grace_are_skipped_and_logged(
    plan: Plan, sqlite_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "stale.db"
    shutil.copy(sqlite_template, db)
    caplog.set_level(logging.WARNING, logger="handlers")
    # Down from 07:00 to 10:01: the 08:00 pushes are 2 h 1 late, beyond the 120 minutes.
    printed, rows = await down_from_first_morning(plan, db, "2027-09-27 10:01")
    known = await ids(db)
    assert [r for r in rows if r.due == at("2027-09-27 08:00")] == []
    assert "📢 新阶段开始" not in printed and "📋 2027年9月27日" not in printed
    stale = [r.getMessage() for r in caplog.records if "skipped_stale" in r.getMessage()]
    due = at("2027-09-27 08:00").isoformat()
    mobilise = known.stages["mobilise"]
    assert sorted(stale) == sorted(
        [
            f"push.skipped_stale what=stage-start stage={mobilise} unit={known.units[u]} due={due}"
            for u in CHATS
        ]
        + [
            f"push.skipped_stale what=drill unit={known.units[u]} date=2027-09-27 due={due}"
            for u in CHATS
        ]
    )
    assert all(
        r.levelname == "WARNING" for r in caplog.records if "skipped_stale" in r.getMessage()
    )
    # The next morning comes as usual: nothing stale is sent late, nothing new is lost.
    assert {r.key.split(":")[0] for r in rows if r.due == at("2027-09-28 08:00")} == {
        "drill",
        "stage-end",
    }
    assert all(r.status == "sent" for r in rows)
