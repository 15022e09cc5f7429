"""Morning drills (晨会演练) end to end, with a moving clock and never a sleep.

Each flow runs twice, on SQLite and on PostgreSQL, through the demo session itself (``uplift
demo``: the console chat, the scheduler, the sender and the simulated colleagues on one movable
clock). ``/clock`` walks time in one-hour steps as the demo does; ``jump`` moves it in one step,
as a process that slept overnight would, for the flows that span weeks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import itertools
import shutil
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.adapters.console import PLATFORM
from bot.demo import DemoOptions, DemoSession, demo_session
from bot.dispatcher import Dispatcher, DispatcherSettings
from campaigns.schema import Plan
from handlers import build_router
from kernel import ChatRef, Event, EventKind, MovableClock, Role, SenderRef
from messages import Renderer
from storage.database import Database
from storage.models import Drill, DrillAnswer, DrillItem, OutboxMessage, PointEntry
from storage.plans import load_plan
from storage.store import Store
from tests.harness import at, jump

ZONE = ZoneInfo("Asia/Shanghai")
UNIT = "renmin-road"
GROUP_CHAT = f"group:{UNIT}"
GROUP_HEADER = f"{GROUP_CHAT} ──"  # the console's header over a push to the group chat
YOU = "you"
D = dt.date


def push_key(unit_id: int, day: dt.date) -> str:
    return f"drill:{unit_id}:{day.isoformat()}@{PLATFORM}::{GROUP_CHAT}"


# --- the bot: the demo session, on SQLite and on PostgreSQL --------------------------------------

Opener = Callable[[], AbstractAsyncContextManager[DemoSession]]


@pytest.fixture
def open_bot(db_url: str, plan: Plan) -> Opener:
    """A way to start the bot on this test's database, and to start it again (a restart)."""
    options = DemoOptions(role=Role.STAFF, plan=plan, db_path=None, locale="en", db_url=db_url)
    return lambda: demo_session(options, io.StringIO())


async def member_id(bot: DemoSession, external_id: str = YOU) -> int:
    async with bot.database.transaction() as session:
        found = await Store(session).members.by_identity(PLATFORM, "", external_id)
    assert found is not None
    return found[0].id


async def unit_id(bot: DemoSession) -> int:
    async with bot.database.transaction() as session:
        store = Store(session)
        organisation = await store.units.organisation_by_key("psbc")
        assert organisation is not None
        unit = await store.units.by_key(organisation.id, UNIT)
    assert unit is not None
    return unit.id


async def drill_on(bot: DemoSession, day: dt.date) -> tuple[Drill, DrillItem]:
    unit = await unit_id(bot)
    async with bot.database.transaction() as session:
        store = Store(session)
        drill = await store.drills.on(unit, day)
        assert drill is not None, f"no drill on {day}"
        item = await store.drills.item(drill.drill_item_id)
    assert item is not None
    return drill, item


async def entries(bot: DemoSession, member: int) -> set[tuple[str, str, int, str]]:
    """(source, rule, points, idempotency key) of a member's ledger rows."""
    async with bot.database.transaction() as session:
        rows = await session.execute(
            select(
                PointEntry.source, PointEntry.rule, PointEntry.points, PointEntry.idempotency_key
            ).where(PointEntry.member_id == member)
        )
        return {(source, rule, points, key) for source, rule, points, key in rows}


async def force_item(bot: DemoSession, day: dt.date, key: str) -> Drill:
    """Make ``key`` the unit's drill for ``day`` before the morning push picks one."""
    unit = await unit_id(bot)
    async with bot.database.transaction() as session:
        store = Store(session)
        item = next(i for i in await store.drills.items(await _campaign_id(store)) if i.key == key)
        opens = at(f"{day} 08:30")
        return await store.drills.create_once(
            campaign_id=item.campaign_id,
            unit_id=unit,
            item_id=item.id,
            local_date=day,
            opens_at=opens,
            closes_at=opens + dt.timedelta(hours=12),
        )


async def _campaign_id(store: Store) -> int:
    organisation = await store.units.organisation_by_key("psbc")
    assert organisation is not None
    campaign = await store.campaigns.by_key(organisation.id, "postal-bank")
    assert campaign is not None
    return campaign.id


async def outbox(bot: DemoSession, prefix: str = "") -> list[OutboxMessage]:
    """The outbox rows whose idempotency key starts with ``prefix``, oldest first."""
    async with bot.database.transaction() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.startswith(prefix))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


def drills_pushed(printed: str) -> int:
    """How many morning drills were printed in the group chat (bound in the demo's language,
    English): other pushes, such as a stage announcement, may share the chat."""
    lines = printed.splitlines()
    return sum(
        1
        for header, first in itertools.pairwise(lines)
        if header.endswith(GROUP_HEADER) and first.startswith("📋 Morning drill")
    )


# --- the morning push ----------------------------------------------------------------------------

WEEK = [D(2027, 1, n) for n in (4, 5, 6, 7, 8)]  # 1 January is New Year's Day; 2–3 a weekend


async def test_one_drill_each_working_morning_whatever_the_steps_and_restarts(
    open_bot: Opener,
) -> None:
    """Nine mornings, 1 to 9 January, each lived through in one of three ways: the demo's /clock
    (one-hour steps), 45-minute steps (one ending at 08:30 sharp) or one three-hour step; each
    night in one step."""
    async with open_bot() as bot:
        unit = await unit_id(bot)
        assert bot.clock.now() == at("2027-01-01 07:00")
        printed: dict[dt.date, str] = {}
        for number, day in enumerate(D(2027, 1, n) for n in range(1, 10)):
            if day > D(2027, 1, 1):
                assert drills_pushed(await jump(bot, f"{day} 07:00")) == 0
            style = number % 3
            if style == 0:
                printed[day] = await bot.say(f"/clock {day} 10:00")
            elif style == 1:
                printed[day] = "".join([await bot.say("/clock +45m") for _ in range(4)])
            else:
                printed[day] = await jump(bot, f"{day} 10:00")
            assert bot.clock.now() == at(f"{day} 10:00")
        assert {day: drills_pushed(text) for day, text in printed.items()} == {
            day: int(day in WEEK) for day in printed
        }
        pushes = await outbox(bot, "drill:")
        everything = [(m.idempotency_key, m.status, m.sent_at) for m in await outbox(bot)]
        assert [m.idempotency_key for m in pushes] == [push_key(unit, day) for day in WEEK]
        for message, day in zip(pushes, WEEK, strict=True):
            assert message.status == "sent"
            assert message.next_attempt_at == at(f"{day} 08:30")
            assert message.sent_at is not None
            assert at(f"{day} 08:30") <= message.sent_at <= at(f"{day} 10:00")
            drill, item = await drill_on(bot, day)
            assert drill.opens_at == at(f"{day} 08:30")
            assert drill.closes_at == at(f"{day} 20:30")  # the plan's drill_close_hours: 12
            assert item.question_en in printed[day]  # the group chat speaks the demo's English
        async with bot.database.transaction() as session:
            assert await session.scalar(select(func.count()).select_from(Drill)) == len(WEEK)
    # A restart (a second process on the same database) pushes nothing again.
    async with open_bot() as again:
        assert again.clock.now() == at("2027-01-09 10:00")
        later = await again.say("/clock +2h")
        assert GROUP_HEADER not in later
        assert [(m.idempotency_key, m.status, m.sent_at) for m in await outbox(again)] == everything


# --- answering -----------------------------------------------------------------------------------


def right_option(item: DrillItem) -> int:
    """The number a person types for the right answer (options are offered as [1]…[n])."""
    assert item.kind == "choice" and item.answer is not None
    return item.answer


def wrong_option(item: DrillItem) -> int:
    return right_option(item) % len(item.options) + 1


def drill_keys(drill: Drill, member: int) -> dict[str, str]:
    base = f"drill:{drill.id}:{member}"
    return {"answered": f"{base}:answered", "correct": f"{base}:correct"}


async def test_answering_the_quiz_by_typing_the_option_number(open_bot: Opener) -> None:
    async with open_bot() as bot:
        me = await member_id(bot)
        await jump(bot, "2027-01-04 08:00")
        pushed = await bot.say("/clock 08:40")
        monday, item = await drill_on(bot, D(2027, 1, 4))
        assert item.key == "stage1-target" and item.question_en in pushed
        # Right: graded at once, with the explanation and the points.
        out = await bot.say(str(right_option(item)))
        assert out.splitlines() == [
            "✅ Correct!",
            f"Why: {item.explanation_en}",
            "You earned 10 points; working days in a row: 1.",
        ]
        keys = drill_keys(monday, me)
        ledger = {
            ("drill", "drill_answered", 2, keys["answered"]),
            ("drill", "drill_correct", 8, keys["correct"]),
        }
        assert await entries(bot, me) == ledger
        # Pressing again, or another option, changes nothing.
        for again in (right_option(item), wrong_option(item)):
            out = await bot.say(str(again))
            assert out == (
                "You have already answered this drill (correct); only the first answer counts."
            )
            assert await entries(bot, me) == ledger
        chosen = {monday.id: (right_option(item) - 1, True)}

        # Wrong: the right answer is shown and only answering earns points.
        await jump(bot, "2027-01-05 08:40")
        tuesday, item = await drill_on(bot, D(2027, 1, 5))
        out = await bot.say(str(wrong_option(item)))
        right_text = item.options[right_option(item) - 1]["en"]
        assert out.splitlines() == [
            f"❌ Not quite. The right answer: {right_text}",
            f"Why: {item.explanation_en}",
            "You earned 2 points; working days in a row: 2.",
        ]
        ledger.add(("drill", "drill_answered", 2, drill_keys(tuesday, me)["answered"]))
        assert await entries(bot, me) == ledger
        out = await bot.say(str(right_option(item)))
        assert out == (
            "You have already answered this drill (not correct); only the first answer counts."
        )
        assert await entries(bot, me) == ledger
        chosen[tuesday.id] = (wrong_option(item) - 1, False)

        # The same platform event delivered twice (a retry) is handled once.
        await jump(bot, "2027-01-06 08:40")
        wednesday, item = await drill_on(bot, D(2027, 1, 6))
        dispatcher = Dispatcher(
            bot.database, build_router(), bot.clock, DispatcherSettings(default_locale="en")
        )
        press = Event(
            kind=EventKind.ACTION,
            sender=SenderRef(PLATFORM, YOU, locale="en"),
            chat=ChatRef(PLATFORM, YOU, is_group=False),
            received_at=bot.clock.now(),
            event_id="update-7731",
            action="drill.answer",
            value=f"{wednesday.id}:{right_option(item) - 1}",
        )
        first = await dispatcher.handle(press)
        shown = [Renderer().render(r.text, first.locale) for r in first.replies if r.text]
        assert len(shown) == 1 and shown[0].startswith("✅ Correct!")
        assert (await dispatcher.handle(press)).replies == []
        keys = drill_keys(wednesday, me)
        ledger |= {
            ("drill", "drill_answered", 2, keys["answered"]),
            ("drill", "drill_correct", 8, keys["correct"]),
        }
        assert await entries(bot, me) == ledger
        # The quiz in the group chat still offers the options: pressing one now changes nothing.
        out = await bot.say(str(wrong_option(item)))
        assert "already answered this drill (correct)" in out
        assert await entries(bot, me) == ledger
        chosen[wednesday.id] = (right_option(item) - 1, True)
        async with bot.database.transaction() as session:
            answers = await session.scalars(select(DrillAnswer).where(DrillAnswer.member_id == me))
            assert {a.drill_id: (a.choice, a.correct) for a in answers} == chosen


async def test_late_answers_count_until_the_drill_closes(open_bot: Opener) -> None:
    async with open_bot() as bot:
        me = await member_id(bot)
        await jump(bot, "2027-01-04 08:40")
        drill, item = await drill_on(bot, D(2027, 1, 4))
        assert drill.closes_at == at("2027-01-04 20:30")
        await jump(bot, "2027-01-04 20:30")  # the last minute it counts
        out = await bot.say(str(right_option(item)))
        assert "✅ Correct!" in out
        assert {rule for _, rule, _, _ in await entries(bot, me)} == {
            "drill_answered",
            "drill_correct",
        }

        await jump(bot, "2027-01-05 08:40")
        drill, item = await drill_on(bot, D(2027, 1, 5))
        before = await entries(bot, me)
        await jump(bot, "2027-01-05 20:31")
        out = await bot.say(str(right_option(item)))
        assert out == "This drill closed at Tue 5 Jan 2027 20:30 and no longer counts."
        assert await entries(bot, me) == before
        async with bot.database.transaction() as session:
            assert await Store(session).drills.answer_of(drill.id, me) is None


# --- scenario drills -----------------------------------------------------------------------------


async def test_a_scenario_drill_answered_compared_and_rated_across_a_restart(
    open_bot: Opener,
) -> None:
    typed = "Apologise, open another counter and tell each customer how long it will be."
    async with open_bot() as bot:
        me = await member_id(bot)
        await jump(bot, "2027-01-04 07:00")
        forced = await force_item(bot, D(2027, 1, 4), "long-wait")
        pushed = await bot.say("/clock 08:40")
        drill, item = await drill_on(bot, D(2027, 1, 4))
        assert drill.id == forced.id and item.kind == "scenario"
        assert item.question_en in pushed and "[1] Answer it" in pushed  # the group's language
        out = await bot.say("1")
        assert out == f"Scenario: {item.question_en}\nType your answer in one message."
        out = await bot.say(typed)
        assert out.startswith(f"Model answer: {item.explanation_en}\nHow close was yours?")
        assert [line.strip() for line in out.splitlines()[-5:]] == [
            f"[{n}] {n}" for n in range(1, 6)
        ]
        assert await entries(bot, me) == set()
    # The process restarts before the person rates: the flow continues where it was.
    async with open_bot() as bot:
        out = await bot.say("5")  # typed, not pressed: the new console has no buttons yet
        assert out.startswith("Please press a score from 1 to 5 to rate your answer.")
        out = await bot.say("5")
        assert out == (
            "Saved: you rated your answer 5. You earned 8 points; working days in a row: 1."
        )
        keys = drill_keys(drill, me)
        rated_well = {
            ("drill", "drill_answered", 2, keys["answered"]),
            ("drill", "scenario_rated", 6, keys["correct"]),
        }
        assert await entries(bot, me) == rated_well
        out = await bot.say("4")
        assert out == (
            "You have already answered this drill (you rated yourself 5); only the first answer"
            " counts."
        )
        async with bot.database.transaction() as session:
            answer = await Store(session).drills.answer_of(drill.id, me)
        assert answer is not None
        assert (answer.answer_text, answer.self_rating, answer.correct) == (typed, 5, True)

        # A low self-rating earns only the points for answering.
        await jump(bot, "2027-01-05 07:00")
        await force_item(bot, D(2027, 1, 5), "withdrawal-service")
        await bot.say("/clock 08:40")
        drill, item = await drill_on(bot, D(2027, 1, 5))
        assert (await bot.say("1")).startswith(f"Scenario: {item.question_en}")
        await bot.say("Count it with them.")
        out = await bot.say("2")
        assert out == (
            "Saved: you rated your answer 2. You earned 2 points; working days in a row: 2."
        )
        assert await entries(bot, me) == rated_well | {
            ("drill", "drill_answered", 2, drill_keys(drill, me)["answered"])
        }


# --- spaced repetition, /drill, streaks ----------------------------------------------------------

TWO_WEEKS = [D(2027, 1, n) for n in (4, 5, 6, 7, 8, 11, 12, 13, 14, 15)]


async def unit_results(bot: DemoSession, drill: Drill) -> tuple[int, int]:
    """(answers, right ones) the unit gave to one drill."""
    async with bot.database.transaction() as session:
        answers = list(
            await session.scalars(select(DrillAnswer).where(DrillAnswer.drill_id == drill.id))
        )
    return len(answers), sum(answer.correct for answer in answers)


async def test_items_the_unit_got_wrong_come_back_within_a_few_working_days(
    open_bot: Opener,
) -> None:
    """Two weeks of mornings: you answer right except on 6 January; the colleagues as they do."""
    async with open_bot() as bot:
        asked: list[tuple[dt.date, str]] = []
        results: dict[str, list[tuple[int, int]]] = {}
        positions: dict[str, int] = {}
        for day in TWO_WEEKS:
            await jump(bot, f"{day} 08:40")
            drill, item = await drill_on(bot, day)
            assert item.kind == "choice"
            wrong = day == D(2027, 1, 6)
            out = await bot.say(str(wrong_option(item) if wrong else right_option(item)))
            assert ("❌ Not quite." if wrong else "✅ Correct!") in out
            asked.append((day, item.key))
            results.setdefault(item.key, []).append(await unit_results(bot, drill))
            positions[item.key] = item.position
    assert asked == [
        (D(2027, 1, 4), "stage1-target"),
        (D(2027, 1, 5), "penalty-calculation"),
        (D(2027, 1, 6), "repeated-problem"),  # 2 of 5 right: weak
        (D(2027, 1, 7), "count-cash"),
        (D(2027, 1, 8), "repeated-problem"),  # back after two days, before any new item
        (D(2027, 1, 11), "raise-hand"),
        (D(2027, 1, 12), "counter-items"),
        (D(2027, 1, 13), "manager-dress"),  # 2 of 5 right: weak
        (D(2027, 1, 14), "guard-conduct"),  # 2 of 5 right: weak, due on the 16th
        (D(2027, 1, 15), "manager-dress"),  # back after two days
    ]
    # Why: what the unit (you and four colleagues) got right each time an item was asked.
    assert results == {
        "stage1-target": [(5, 4)],
        "penalty-calculation": [(5, 4)],
        "repeated-problem": [(5, 2), (5, 4)],
        "count-cash": [(5, 3)],  # 0.6: not weak
        "raise-hand": [(5, 4)],
        "counter-items": [(5, 4)],
        "manager-dress": [(5, 2), (5, 4)],
        "guard-conduct": [(5, 2)],
    }
    # Every item first got wrong (under 0.6) came back two days later, or on the next working
    # day after that, unless the fortnight ended first; the others were not asked again.
    for key, runs in results.items():
        first = next(day for day, asked_key in asked if asked_key == key)
        later = [day for day, asked_key in asked if asked_key == key and day > first]
        due = first + dt.timedelta(days=2)
        if runs[0][1] / runs[0][0] >= 0.6:
            assert later == [], key
        elif due <= TWO_WEEKS[-1]:
            assert later[:1] == [min(day for day in TWO_WEEKS if day >= due)], key
        else:
            assert later == [], key
    # New items in the bank's order between the repeats.
    first_asked = list(dict.fromkeys(key for _, key in asked))
    assert [positions[key] for key in first_asked] == list(range(1, len(first_asked) + 1))


async def test_the_drill_command_shows_todays_drill_privately(open_bot: Opener) -> None:
    async with open_bot() as bot:
        me = await member_id(bot)
        out = await bot.say("/drill")  # 1 January: New Year's Day
        assert (
            out
            == "Fri 1 Jan 2027 is not a working day of the campaign, so there is no drill today."
        )
        await jump(bot, "2027-01-04 08:00")
        out = await bot.say("/drill")  # before the meeting: the drill is made now
        drill, item = await drill_on(bot, D(2027, 1, 4))
        assert GROUP_HEADER not in out
        assert out.splitlines() == [
            "📋 Morning drill, Mon 4 Jan 2027 (multiple choice: pick an answer)",
            item.question_en,
            *(f"  [{n}] {option['en']}" for n, option in enumerate(item.options, start=1)),
        ]
        assert drill.closes_at == at("2027-01-04 20:30")  # as the plan says, whoever made it
        pushed = await bot.say("/clock 08:40")
        assert drills_pushed(pushed) == 1 and item.question_en in pushed
        assert (await drill_on(bot, D(2027, 1, 4)))[0].id == drill.id
        await jump(bot, "2027-01-04 20:15")
        assert "✅ Correct!" in await bot.say(str(right_option(item)))
        out = await bot.say("today's drill")  # the keyword does the same
        assert (
            out == "You have already answered this drill (correct); only the first answer counts."
        )
        assert len(await entries(bot, me)) == 2
        await jump(bot, "2027-01-09 10:00")
        out = await bot.say("/drill")
        assert (
            out
            == "Sat 9 Jan 2027 is not a working day of the campaign, so there is no drill today."
        )
        async with bot.database.transaction() as session:
            assert await Store(session).drills.on(await unit_id(bot), D(2027, 1, 9)) is None


async def test_five_working_days_in_a_row_earn_the_streak_bonus_once(open_bot: Opener) -> None:
    async with open_bot() as bot:
        me = await member_id(bot)
        for number, day in enumerate(WEEK, start=1):
            await jump(bot, f"{day} 08:40")
            _, item = await drill_on(bot, day)
            out = await bot.say(str(right_option(item)))
            bonus = "; streak bonus +10" if number == 5 else ""
            assert f"You earned 10 points; working days in a row: {number}{bonus}." in out
        await jump(bot, "2027-01-09 10:00")  # Saturday: the weekend does not break it
        score = await bot.say("/score")
        assert "Morning drills answered: 5 working days in a row" in score
        assert "streak bonuses: 10" in score and "drills: 50" in score
        await jump(bot, "2027-01-11 08:40")
        _, item = await drill_on(bot, D(2027, 1, 11))
        out = await bot.say(str(wrong_option(item)))
        assert "You earned 2 points; working days in a row: 6." in out
        bonuses = [e for e in await entries(bot, me) if e[1] == "streak_bonus"]
        assert bonuses == [("streak", "streak_bonus", 10, f"streak:{me}:2027-01-08")]
        score = await bot.say("/score")
        assert (
            "Total 62; this stage (Stage 1: self-check and rectification (hardware)) 62;" in score
        )
        assert "; this week 2\n" in score


# --- no order or repetition of presses changes a score -------------------------------------------

PRESS_DAYS = (D(2027, 1, 4), D(2027, 1, 5), D(2027, 1, 6))
PRESSERS = 3
OPTIONS = 4  # every item of the first three has four options; a fifth press is a stale button


@dataclass(frozen=True)
class Seeded:
    """A migrated SQLite file with the plan loaded, three people and three open drills."""

    path: Path
    members: tuple[int, ...]
    drills: tuple[int, ...]
    right: tuple[int, ...]  # each drill's right option, 0-based as a press carries it


async def _seed(path: Path, plan: Plan) -> Seeded:
    database = Database(f"sqlite:///{path}")
    now = at("2027-01-04 08:00")
    try:
        async with database.transaction() as session:
            store = Store(session)
            summary = await load_plan(session, plan, now)
            unit = await store.units.by_key(summary.organisation_id, UNIT)
            assert unit is not None
            members = []
            for n in range(PRESSERS):
                member = await store.members.add(
                    organisation_id=summary.organisation_id,
                    unit_id=unit.id,
                    display_name=f"Presser {n}",
                    role=Role.STAFF,
                    now=now,
                )
                await store.members.add_identity(
                    member, platform=PLATFORM, external_id=f"presser-{n}", now=now
                )
                members.append(member.id)
            items = (await store.drills.items(summary.campaign_id))[: len(PRESS_DAYS)]
            drills = [
                await store.drills.create_once(
                    campaign_id=summary.campaign_id,
                    unit_id=unit.id,
                    item_id=item.id,
                    local_date=day,
                    opens_at=at(f"{day} 08:30"),
                    closes_at=at("2027-01-31 20:30"),
                )
                for item, day in zip(items, PRESS_DAYS, strict=True)
            ]
            assert all(item.kind == "choice" and len(item.options) == OPTIONS for item in items)
            return Seeded(
                path,
                tuple(members),
                tuple(drill.id for drill in drills),
                tuple(right_option(item) - 1 for item in items),
            )
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, plan: Plan) -> Seeded:
    path = tmp_path_factory.mktemp("presses") / "seeded.db"
    shutil.copy(sqlite_template, path)
    return asyncio.run(_seed(path, plan))


# Each step: a person presses an option of a drill (the fifth "option" is a stale button), or,
# when ``again`` is set, the platform delivers one of the earlier presses again (same event id).
Step = tuple[int | None, int, int, int]  # (again, person, drill, option)
steps = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 99)),
        st.integers(0, PRESSERS - 1),
        st.integers(0, len(PRESS_DAYS) - 1),
        st.integers(0, OPTIONS),
    ),
    min_size=1,
    max_size=16,
)


async def _replay(seeded: Seeded, path: Path, presses: Sequence[Step]) -> None:
    shutil.copy(seeded.path, path)
    database = Database(f"sqlite:///{path}")
    clock = MovableClock(at("2027-01-06 12:00"))
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale="en")
    )
    sent: list[Event] = []
    first: dict[tuple[int, int], int] = {}  # the first valid press per person and drill
    try:
        for number, (again, person, drill, option) in enumerate(presses):
            if again is not None and sent:
                event = sent[again % len(sent)]
            else:
                event = Event(
                    kind=EventKind.ACTION,
                    sender=SenderRef(PLATFORM, f"presser-{person}", locale="en"),
                    chat=ChatRef(PLATFORM, f"presser-{person}", is_group=False),
                    received_at=clock.now(),
                    event_id=f"press-{number}",
                    action="drill.answer",
                    value=f"{seeded.drills[drill]}:{option}",
                )
                sent.append(event)
                if option < OPTIONS:
                    first.setdefault((person, drill), option)
            await dispatcher.handle(event)
            clock.advance(dt.timedelta(minutes=1))
        async with database.transaction() as session:
            sums = await session.execute(
                select(PointEntry.member_id, func.sum(PointEntry.points)).group_by(
                    PointEntry.member_id
                )
            )
            totals = {member: int(points) for member, points in sums}
            keys = list(await session.scalars(select(PointEntry.idempotency_key)))
            answers = {
                (a.member_id, a.drill_id): a.choice
                for a in await session.scalars(select(DrillAnswer))
            }
    finally:
        await database.dispose()
    # Replaying only each person's first answer to each drill gives the same totals.
    expected = dict.fromkeys(seeded.members, 0)
    for (person, drill), option in first.items():
        expected[seeded.members[person]] += 2 + (8 if option == seeded.right[drill] else 0)
    assert {member: totals.get(member, 0) for member in seeded.members} == expected
    assert len(keys) == len(set(keys))
    assert len(keys) == sum(1 + (option == seeded.right[d]) for (_, d), option in first.items())
    assert answers == {
        (seeded.members[person], seeded.drills[drill]): option
        for (person, drill), option in first.items()
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(presses=steps)
def test_no_order_or_repetition_of_presses_changes_a_score(
    seeded: Seeded, tmp_path: Path, presses: list[Step]
) -> None:
    """Presses by three people on three open drills, in any order, repeated, re-delivered: the
    ledger always holds what each person's first answer to each drill earned, once."""
    asyncio.run(_replay(seeded, tmp_path / f"{uuid.uuid4().hex}.db", presses))
