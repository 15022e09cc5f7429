"""Self-check (自查) end to end through the console chat, with the postal-bank plan.

A full walk with pass / fail / N/A answers; "100−1=0" for a failed critical item; the weighted
score against a hand computation; a rectification (整改) per failed item, owned by the unit head,
with the deadline the person typed read back and stored in UTC; bad dates; notes typed before a
press; leaving and resuming in a new session (a restart); double presses and repeated events; and
one walk on each database (SQLite and PostgreSQL) through the same demo session.
"""

from __future__ import annotations

import datetime as dt
import io
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.adapters.console import PLATFORM
from bot.demo import YOU, DemoOptions, DemoSession, demo_session
from bot.dispatcher import Dispatcher, DispatcherSettings
from campaigns.schema import Plan
from handlers import build_router
from handlers.selfchecks.selfchecks import weighted_score
from kernel import MAX_TEXT, ChatRef, Event, EventKind, MovableClock, Reply, Role, SenderRef, Text
from messages import Renderer
from storage.database import Database
from storage.models import (
    ChecklistItem,
    Conversation,
    Member,
    OutboxMessage,
    PointEntry,
    Rectification,
    SelfCheckAnswer,
    SelfCheckRun,
)
from storage.store import Store
from tests.harness import at, open_demo, rows, said, shown

ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
RENDER = Renderer()
START = "2027-01-11 07:00"  # a Monday in stage 1 (target 92), before the morning drill
PASS, FAIL, NA = "1", "2", "3"  # the item buttons, in the order they are offered
PAUSE = "4"
STAGE_1_ENDS = dt.date(2027, 4, 30)  # a paused self-check can be continued until then


def demo(
    plan: Plan, path: Path, *, role: Role = Role.STAFF, locale: str = "en"
) -> AbstractAsyncContextManager[DemoSession]:
    return open_demo(plan, path, role=role, locale=locale, start=START)


def typing(bot: DemoSession) -> Any:
    """Type into the session's console chat without running the scheduler after each line: the
    clock stands still during a walk, so nothing falls due; this keeps 28-item walks quick."""

    async def say(line: str) -> str:
        await bot.console.say(line)
        return bot.console.take_transcript()

    return say


def core_of(bot: DemoSession) -> Dispatcher:
    """The shipped router on the session's database and clock: for events with platform ids."""
    return Dispatcher(
        bot.database, build_router(), bot.clock, DispatcherSettings(default_locale=bot.locale)
    )


def event(bot_clock: MovableClock, user: str = YOU, locale: str = "en", **fields: Any) -> Event:
    return Event(
        sender=SenderRef(PLATFORM, user, locale=locale),
        chat=ChatRef(PLATFORM, user, is_group=False),
        received_at=bot_clock.now(),
        **fields,
    )


async def items_of(database: Database) -> list[ChecklistItem]:
    async with database.transaction() as session:
        return list(await session.scalars(select(ChecklistItem).order_by(ChecklistItem.position)))


async def member_named(database: Database, name: str) -> Member:
    [member] = await rows(database, Member, Member.display_name == name)
    return member


async def you(database: Database) -> Member:
    async with database.transaction() as session:
        found = await Store(session).members.by_identity(PLATFORM, "", YOU)
    assert found is not None
    return found[0]


async def walk(
    say: Any, items: list[ChecklistItem], script: dict[str, list[str]]
) -> dict[str, str]:
    """Answer every item in order: ``script`` lines for the keys it names, a pass for the rest.
    Returns what was printed in answer to each item's lines."""
    printed: dict[str, str] = {}
    for item in items:
        printed[item.key] = "\n".join([await say(line) for line in script.get(item.key, [PASS])])
    return printed


def hand_score(plan: Plan, fails: set[str], not_applicable: set[str]) -> float:
    """The weighted pass rate worked out by hand from the plan's weights (N/A left out)."""
    counted = [i for i in plan.checklists[0].items if i.key not in not_applicable]
    passed = sum(i.weight for i in counted if i.key not in fails)
    return round(100 * passed / sum(i.weight for i in counted), 1)


# --- a full self-check with a critical failure -----------------------------------------------


async def test_full_check_with_a_critical_failure_scores_zero(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, locale="en") as bot:
        items = await items_of(bot.database)
        by_key = {i.key: i for i in items}
        out = await bot.say("/check")
        assert (
            said("selfchecks/started", "en", title="Outlet mystery-shopper standard", count=28)
            in out
        )
        assert out.endswith(
            "Item 1 of 28 [hardware]\n"
            "Shop sign and fascia intact and clean, lights working at night\n"
            "  [1] ✅ Pass\n  [2] ❌ Fail\n  [3] ➖ N/A\n  [4] ⏸ Pause"
        )
        script = {
            # A note typed before pressing is kept; the note question is then skipped.
            "hw-self-service-signs": [
                "UnionPay sign torn",
                FAIL,
                "改天",
                PASS,
                "yesterday",
                "周五前",
            ],
            "hw-machines-working": [FAIL, "machine 2 out of cash", "3天内"],
            "hw-accessibility": [NA],
            "sw-count-cash": [FAIL, "-", "by Friday"],
            "sw-triage": [FAIL, "nobody at the door", "-"],
            "sw-guard-patrol": [NA],
        }
        printed = await walk(typing(bot), items, script)
        head = await member_named(bot.database, "Chen Jing")
        me = await you(bot.database)

    # The bad date gets the clear message and the flow waits for a valid one.
    signs = printed["hw-self-service-signs"]
    assert said("selfchecks/note_kept", "en") in signs
    assert said("selfchecks/bad_date", "en", given="改天") in signs
    assert said("selfchecks/finish_failed_first", "en") in signs
    assert said("selfchecks/date_past", "en", due=at("2027-01-10 23:59"), zone=ZONE_NAME) in signs
    assert "failed. Say briefly what is wrong" not in signs

    [run] = await rows(bot.database, SelfCheckRun)
    fixes = await rows(bot.database, Rectification)
    due = {
        "hw-self-service-signs": at("2027-01-15 23:59"),  # 周五前
        "hw-machines-working": at("2027-01-14 23:59"),  # 3天内
        "sw-count-cash": at("2027-01-15 23:59"),  # by Friday
        "sw-triage": at("2027-01-18 23:59"),  # - : the plan's 7 days
    }
    assert [(f.item_id, f.due_at, f.owner_member_id) for f in fixes] == [
        (by_key[key].id, moment, head.id) for key, moment in due.items()
    ]
    assert due["hw-self-service-signs"] == dt.datetime(2027, 1, 15, 15, 59, tzinfo=dt.UTC)
    assert all(f.created_by_member_id == me.id and f.run_id == run.id for f in fixes)
    assert [f.description for f in fixes] == [
        "UnionPay sign torn",
        "machine 2 out of cash",
        "",
        "nobody at the door",
    ]
    # Each deadline is read back to the person as it was understood.
    for fix in fixes:
        key = next(k for k, i in by_key.items() if i.id == fix.item_id)
        echo = said(
            "selfchecks/rectification_created",
            "en",
            number=fix.id,
            item=by_key[key].text_en,
            due=fix.due_at,
            zone=ZONE_NAME,
            owner="Chen Jing",
            mine=False,
        )
        assert echo in printed[key]
    assert "Due Fri 15 Jan 2027 23:59; owner: Chen Jing." in printed["hw-self-service-signs"]

    # "100−1=0": the critical item failed, so the run scores 0 and says why.
    assert run.score == 0
    assert run.zeroed_by_item_id == by_key["sw-count-cash"].id
    finished = said(
        "selfchecks/finished",
        "en",
        score=0.0,
        target=92.0,
        failed=[by_key[k].text_en for k in due],
        zeroed_by=by_key["sw-count-cash"].text_en,
        rectifications=4,
        points=20,
    )
    assert finished in printed["sw-first-question"]
    assert '"100−1=0": the critical item "Reminds the customer to count the cash' in finished
    answers = await rows(bot.database, SelfCheckAnswer)
    assert weighted_score(items, answers) == (0.0, by_key["sw-count-cash"])
    results = {a.item_id: (a.result, a.comment) for a in answers}
    assert results[by_key["hw-self-service-signs"].id] == ("fail", "UnionPay sign torn")
    assert results[by_key["hw-accessibility"].id] == ("na", None)
    assert results[by_key["hw-shop-sign"].id] == ("pass", None)

    # The unit head is told of each rectification, in the outbox.
    told = await rows(bot.database, OutboxMessage, OutboxMessage.member_id == head.id)
    templates = [Reply.from_json(m.reply).text.template for m in told]
    assert templates == ["selfchecks/rectification_assigned"] * 4
    # Points for completing, once.
    [entry] = await rows(bot.database, PointEntry)
    assert (entry.member_id, entry.rule, entry.points) == (me.id, "selfcheck_completed", 20)


async def test_finishing_twice_or_a_late_press_scores_once(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, locale="en") as bot:
        items = await items_of(bot.database)
        await bot.say("/check")
        await walk(typing(bot), items[:-1], {})
        [run] = await rows(bot.database, SelfCheckRun)
        dispatcher = core_of(bot)
        last = f"{run.id}:{items[-1].id}:pass"
        press = event(bot.clock, kind=EventKind.ACTION, action="check.answer", value=last)
        first = await dispatcher.handle(
            event(bot.clock, kind=EventKind.ACTION, action="check.answer", value=last, event_id="9")
        )
        assert (
            "🧾 Self-check finished: self-check score 100"
            " (stage target 92: reached by the self-check;" in shown(first)
        )
        assert "You earned 20 points." in shown(first)
        repeated = await dispatcher.handle(
            event(bot.clock, kind=EventKind.ACTION, action="check.answer", value=last, event_id="9")
        )
        assert repeated.replies == []
        assert shown(await dispatcher.handle(press)) == said("selfchecks/already_finished", "en")
        entries = await rows(bot.database, PointEntry)
        assert [(e.rule, e.points) for e in entries] == [("selfcheck_completed", 20)]
        [run] = await rows(bot.database, SelfCheckRun)
        assert run.score == 100 and run.finished_at == bot.clock.now()


# --- the weighted score when no critical item fails (in Chinese, as a supervisor) -------------


async def test_weighted_score_without_a_critical_failure_in_chinese(
    plan: Plan, demo_db: Path
) -> None:
    fails = {"hw-shop-sign", "hw-walls-floors"}
    not_applicable = {"hw-accessibility", "sw-guard-patrol"}
    async with demo(plan, demo_db, role=Role.SUPERVISOR, locale="zh") as bot:
        items = await items_of(bot.database)
        by_key = {i.key: i for i in items}
        out = await bot.say("/check")
        assert "开始自查:营业网点“神秘人”检查标准,共 28 项。" in out
        script = {
            "hw-shop-sign": [FAIL, "灯箱不亮", "三天内"],
            "hw-walls-floors": [FAIL, "-", "-"],
            "hw-accessibility": [NA],
            "sw-guard-patrol": [NA],
        }
        printed = await walk(typing(bot), items, script)
        me = await you(bot.database)

    expected = hand_score(plan, fails, not_applicable)
    # Weights: 100 in all, 6 not applicable, 7 failed: 87 / 94.
    assert expected == round(100 * 87 / 94, 1) == 92.6
    answers = await rows(bot.database, SelfCheckAnswer)
    assert weighted_score(items, answers) == (expected, None)
    [run] = await rows(bot.database, SelfCheckRun)
    assert run.score == expected and run.zeroed_by_item_id is None

    # A supervisor is the unit head: the rectifications are their own.
    fixes = await rows(bot.database, Rectification)
    assert [(f.item_id, f.owner_member_id, f.due_at) for f in fixes] == [
        (by_key["hw-shop-sign"].id, me.id, at("2027-01-14 23:59")),
        (by_key["hw-walls-floors"].id, me.id, at("2027-01-18 23:59")),
    ]
    assert "期限:2027年1月14日(周四) 23:59;负责人:你自己。" in printed["hw-shop-sign"]
    finished = said(
        "selfchecks/finished",
        "zh",
        score=expected,
        target=92.0,
        failed=[by_key["hw-shop-sign"].text_zh, by_key["hw-walls-floors"].text_zh],
        zeroed_by=None,
        rectifications=2,
        points=20,
    )
    assert finished in printed["sw-first-question"]
    assert (
        "🧾 自查完成:自查得分 92.6 分(本阶段目标 92 分,自查已达到;"
        "是否达标以检查成绩为准)" in finished
    )
    assert "100−1=0" not in finished
    assert await rows(bot.database, OutboxMessage, OutboxMessage.member_id.is_not(None)) == []


def test_weighted_score_by_hand() -> None:
    items = [
        ChecklistItem(id=1, key="a", weight=3, critical=False),
        ChecklistItem(id=2, key="b", weight=5, critical=False),
        ChecklistItem(id=3, key="c", weight=2, critical=True),
        ChecklistItem(id=4, key="d", weight=10, critical=False),
    ]

    def answers(*results: str) -> list[SelfCheckAnswer]:
        return [SelfCheckAnswer(item_id=i, result=r) for i, r in enumerate(results, start=1)]

    assert weighted_score(items, answers("pass", "fail", "pass", "na")) == (50.0, None)
    assert weighted_score(items, answers("pass", "pass", "fail", "na")) == (0.0, items[2])
    assert weighted_score(items, answers("na", "na", "na", "na")) == (100.0, None)
    assert weighted_score(items, answers("fail", "pass", "pass", "pass")) == (85.0, None)
    # Answers for items of another checklist are ignored.
    stray = [*answers("pass"), SelfCheckAnswer(item_id=99, result="fail")]
    assert weighted_score(items, stray) == (100.0, None)


# --- leaving half-way and resuming -----------------------------------------------------------


async def test_leaving_and_resuming_in_a_new_session_keeps_everything(
    plan: Plan, demo_db: Path
) -> None:
    path = demo_db
    async with demo(plan, path, locale="en") as bot:
        items = await items_of(bot.database)
        await bot.say("/check")
        await bot.say(PASS)
        # A note for item 2, typed and not yet pressed: then the person goes away.
        assert await bot.say("the fascia light flickers") == said("selfchecks/note_kept", "en")

    async with demo(plan, path, locale="en") as bot:
        out = await bot.say("/check")
        assert out.startswith(said("selfchecks/resumed", "en", done=1))
        assert f"Item 2 of 28 [hardware]\n{items[1].text_en}" in out
        out = await bot.say(FAIL)
        # The note typed in the last session is this item's note: only the deadline is asked.
        assert out == "\n".join(
            [
                said("selfchecks/recorded", "en", result=Text("selfchecks/result_fail")),
                said("selfchecks/ask_due", "en", days=7),
            ]
        )

    async with demo(plan, path, locale="en") as bot:
        out = await bot.say("/check")
        assert out == "\n".join(
            [said("selfchecks/resumed", "en", done=2), said("selfchecks/ask_due", "en", days=7)]
        )
        out = await bot.say("3天内")
        assert "Due Thu 14 Jan 2027 23:59; owner: Chen Jing." in out
        assert f"Item 3 of 28 [hardware]\n{items[2].text_en}" in out

    answers = await rows(bot.database, SelfCheckAnswer)
    assert [(a.item_id, a.result, a.comment) for a in answers] == [
        (items[0].id, "pass", None),
        (items[1].id, "fail", "the fascia light flickers"),
    ]
    [fix] = await rows(bot.database, Rectification)
    assert (fix.item_id, fix.due_at, fix.description) == (
        items[1].id,
        at("2027-01-14 23:59"),
        "the fascia light flickers",
    )


async def test_pausing_at_the_deadline_question_never_loses_the_rectification(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db, locale="en") as bot:
        items = await items_of(bot.database)
        await bot.say("/check")
        await bot.say(FAIL)
        await bot.say("-")
        assert await bot.say(PAUSE) == said("selfchecks/paused", "en", until=STAGE_1_ENDS)
        out = await bot.say("/check")
        assert out == "\n".join(
            [said("selfchecks/resumed", "en", done=1), said("selfchecks/ask_due", "en", days=7)]
        )
        assert await bot.say(PAUSE) == said("selfchecks/paused", "en", until=STAGE_1_ENDS)
        # An old button for the next item, pressed after the pause: the deadline comes first.
        [run] = await rows(bot.database, SelfCheckRun)
        dispatcher = core_of(bot)
        outcome = await dispatcher.handle(
            event(
                bot.clock,
                kind=EventKind.ACTION,
                action="check.answer",
                value=f"{run.id}:{items[1].id}:pass",
            )
        )
        assert said("selfchecks/ask_due", "en", days=7) in shown(outcome)
        out = await bot.say("within 3 days")
        assert "Due Thu 14 Jan 2027 23:59; owner: Chen Jing." in out
        assert f"Item 2 of 28 [hardware]\n{items[1].text_en}" in out

    [fix] = await rows(bot.database, Rectification)
    assert fix.item_id == items[0].id
    answers = await rows(bot.database, SelfCheckAnswer)
    assert [(a.item_id, a.result) for a in answers] == [(items[0].id, "fail")]


# --- double presses and repeated platform events ---------------------------------------------


async def test_double_press_and_repeated_events_change_nothing(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, locale="en") as bot:
        items = await items_of(bot.database)
        await bot.say("/check")
        [run] = await rows(bot.database, SelfCheckRun)
        dispatcher = core_of(bot)

        def press(item: ChecklistItem, result: str, event_id: str) -> Event:
            value = f"{run.id}:{item.id}:{result}"
            return event(
                bot.clock,
                kind=EventKind.ACTION,
                action="check.answer",
                value=value,
                event_id=event_id,
            )

        first = await dispatcher.handle(press(items[0], "pass", "p-1"))
        assert said("selfchecks/recorded", "en", result=Text("selfchecks/result_pass")) in shown(
            first
        )
        assert (await dispatcher.handle(press(items[0], "pass", "p-1"))).replies == []
        # The same button again (a new press), or the other answer for the same item.
        for result, event_id in (("pass", "p-2"), ("fail", "p-3")):
            again = shown(await dispatcher.handle(press(items[0], result, event_id)))
            assert again.startswith(said("selfchecks/already_answered", "en"))
            assert f"Item 2 of 28 [hardware]\n{items[1].text_en}" in again

        # Over-long text is refused with the limit, and nothing of it is kept.
        long_note = event(bot.clock, kind=EventKind.TEXT, text="x" * (MAX_TEXT + 1))
        assert shown(await dispatcher.handle(long_note)) == said(
            "errors/too_long", "en", limit=MAX_TEXT
        )
        note = event(bot.clock, kind=EventKind.TEXT, text="sign is fine", event_id="t-1")
        assert shown(await dispatcher.handle(note)) == said("selfchecks/note_kept", "en")
        assert (await dispatcher.handle(note)).replies == []

        failed = await dispatcher.handle(press(items[1], "fail", "p-4"))
        assert said("selfchecks/ask_due", "en", days=7) in shown(failed)
        assert (await dispatcher.handle(press(items[1], "fail", "p-4"))).replies == []
        assert shown(await dispatcher.handle(press(items[1], "fail", "p-5"))) == said(
            "selfchecks/finish_failed_first", "en"
        )
        rambling = "明天" * 60  # longer than any date anyone types
        too_long = event(bot.clock, kind=EventKind.TEXT, text=rambling)
        assert shown(await dispatcher.handle(too_long)) == said(
            "selfchecks/bad_date", "en", given=rambling
        )
        deadline = event(bot.clock, kind=EventKind.TEXT, text="by Friday", event_id="t-2")
        assert "Due Fri 15 Jan 2027 23:59" in shown(await dispatcher.handle(deadline))
        assert (await dispatcher.handle(deadline)).replies == []

    answers = await rows(bot.database, SelfCheckAnswer)
    assert [(a.item_id, a.result, a.comment) for a in answers] == [
        (items[0].id, "pass", None),
        (items[1].id, "fail", "sign is fine"),
    ]
    assert len(await rows(bot.database, Rectification)) == 1
    [conversation] = await rows(bot.database, Conversation)
    assert (conversation.step, conversation.data) == ("item", {"run_id": run.id})


async def test_staff_and_supervisors_may_check_volunteers_may_not(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db, role=Role.VOLUNTEER, locale="en") as bot:
        assert await bot.say("/check") == said("errors/not_allowed", "en", command="check")
        assert await rows(bot.database, SelfCheckRun) == []


# --- one walk on each database, through the demo session ------------------------------------


async def test_a_self_check_on_each_database(db_url: str, plan: Plan) -> None:
    options = DemoOptions(role=Role.STAFF, plan=plan, db_path=None, locale="en", db_url=db_url)
    async with demo_session(options, io.StringIO()) as bot:
        bot.clock.set(at(START))
        await bot.fire_due()
        bot.console.take_transcript()
        database = bot.database
        say = typing(bot)
        head = (await member_named(database, "Chen Jing")).id
        me = (await you(database)).id
        items = await items_of(database)
        by_key = {i.key: i for i in items}
        assert "Item 1 of 28" in await say("/check")
        script = {
            "hw-leaflets": [NA],
            "sw-privacy": ["PIN pad shield missing", FAIL, "someday", "周五前"],
        }
        printed = await walk(say, items[:-1], script)
        assert said("selfchecks/bad_date", "en", given="someday") in printed["sw-privacy"]
        assert "Due Fri 15 Jan 2027 23:59; owner: Chen Jing." in printed["sw-privacy"]
        # The last press arrives with the platform's event id, and then once more.
        [run] = await rows(database, SelfCheckRun)
        last = event(
            bot.clock,
            kind=EventKind.ACTION,
            action="check.answer",
            value=f"{run.id}:{items[-1].id}:pass",
            event_id="last",
        )
        dispatcher = core_of(bot)
        finished = shown(await dispatcher.handle(last))
        assert '"100−1=0": the critical item "Reminds customers to shield their PIN' in finished
        assert "You earned 20 points." in finished
        assert (await dispatcher.handle(last)).replies == []
        [run] = await rows(database, SelfCheckRun)

        assert run.score == 0 and run.zeroed_by_item_id == by_key["sw-privacy"].id
        [fix] = await rows(database, Rectification)
        assert fix.due_at == dt.datetime(2027, 1, 15, 15, 59, tzinfo=dt.UTC)
        assert fix.due_at.tzinfo == dt.UTC
        assert (fix.owner_member_id, fix.created_by_member_id) == (head, me)
        async with database.transaction() as session:
            entries = await session.scalar(select(func.count()).select_from(PointEntry))
            answers = await session.scalar(select(func.count()).select_from(SelfCheckAnswer))
        assert (entries, answers) == (1, 28)
        [told] = await rows(database, OutboxMessage)
        assert told.member_id == head and told.locale == "en"
        assert RENDER.render(Reply.from_json(told.reply).text, told.locale).startswith(
            "📌 Alex Li found a problem in a self-check; rectification #1 is yours: Reminds"
            " customers"
        )
