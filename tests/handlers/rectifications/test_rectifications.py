"""/fix: rectifications (整改) listed, closed with a note, reopened by a supervisor, and their
owners reminded before and after the deadline as the demo clock moves, once each, even across a
restart. Several people share one demo: each has a console chat on the same dispatcher, and every
push lands in the chat of the person it is addressed to.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.adapters.console import PLATFORM
from bot.demo import YOU, DemoSession
from campaigns.schema import Plan
from handlers.rectifications.rectifications import remind_rectification_owners
from kernel import EventKind, Role, Text, Window
from messages import Renderer
from storage.models import Member, OutboxMessage, PointEntry, Rectification
from storage.store import Store
from tests.harness import Office, at, jump, open_demo, private, rows, said, typed

ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
RENDER = Renderer()
START = "2027-01-11 07:00"  # a Monday in stage 1, before the morning drill
FAIL, PAUSE = "2", "4"


def demo(plan: Plan, path: Path, *, role: Role) -> AbstractAsyncContextManager[DemoSession]:
    return open_demo(plan, path, role=role, start=START, everyone_speaks="en")


async def member(bot: DemoSession, user_id: str) -> Member:
    async with bot.database.transaction() as session:
        found = await Store(session).members.by_identity(PLATFORM, "", user_id)
    assert found is not None
    return found[0]


def line(fix: Rectification, what: str, *, note: str | None = None) -> Text:
    data = {"number": fix.id, "what": what, "due": fix.due_at, "zone": ZONE_NAME}
    return Text("rectifications/line", {**data, "overdue": False, "note": note})


# --- listing, closing, reopening -------------------------------------------------------------


async def test_list_close_reopen_and_who_is_told(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, role=Role.SUPERVISOR) as bot:
        office = Office(bot)
        wang, chen = office.chat("colleague-1"), office.chat("colleague-4")
        me, wang_member = await member(bot, YOU), await member(bot, "colleague-1")

        # Wang Fang (staff) finds two problems; the unit head (you) owns both.
        for typed in ("/check", FAIL, "sign broken", "by Friday", FAIL, "-", "3天内", PAUSE):
            await office.say(wang, typed)
        first, second = await rows(bot, Rectification)
        assert (first.owner_member_id, second.owner_member_id) == (me.id, me.id)
        assert first.created_by_member_id == wang_member.id
        assert (first.due_at, second.due_at) == (at("2027-01-15 23:59"), at("2027-01-14 23:59"))
        sign, machines = plan.checklists[0].items[0].text.en, plan.checklists[0].items[1].text.en

        out = await office.you("/fix")
        assert "📌 Wang Fang found a problem in a self-check; rectification #1 is yours" in out
        listing = said(
            "rectifications/list", lines=[line(second, machines), line(first, sign)], count=2
        ).rstrip()
        assert out.endswith(f"{listing}\n  [1] Close #2\n  [2] Close #1")
        assert "• #2 Self-service area clearly signed;" in listing

        # Close #1 with the button, then the note as text; a blank note is refused.
        assert await office.you("2") == said("rectifications/ask_note", number=1)
        assert await office.handle(YOU, kind=EventKind.TEXT, text=" ") == said(
            "rectifications/note_needed"
        )
        assert await office.you("replaced the sign board") == said(
            "rectifications/closed", number=1, points=15
        )
        assert wang.take_transcript() == "\n".join(
            [
                private("colleague-1"),
                said(
                    "rectifications/closed_notice",
                    number=1,
                    by="Alex Li",
                    note="replaced the sign board",
                ),
            ]
        )

        # Close #2 typed in one line; the platform delivers that event twice.
        closing = {"kind": EventKind.COMMAND, "command": "fix", "args": "2 added the 95580 poster"}
        closed = await office.handle(YOU, "close-2", **closing)
        assert closed == said("rectifications/closed", number=2, points=15)
        assert await office.handle(YOU, "close-2", **closing) == ""
        assert await office.you("/fix 2 again") == said("rectifications/already_closed", number=2)
        assert await office.you("/fix") == said("rectifications/none_open", supervisor=True)
        assert wang.take_transcript().count("was closed by Alex Li") == 1

        # Staff may not reopen, neither by the list nor by a button.
        refused = said("errors/not_allowed", command="fix closed")
        assert await office.say(wang, "/fix closed") == refused
        pressed = await office.handle(
            "colleague-1", kind=EventKind.ACTION, action="fix.reopen", value="2"
        )
        assert pressed == said("errors/not_allowed_button")

        # Another supervisor reopens #2 from the closed list; the owner (you) is told.
        out = await office.say(chen, "/fix closed")
        assert "• #2 Self-service area clearly signed;" in out
        assert ": added the 95580 poster" in out
        assert out.endswith("  [1] Reopen #2\n  [2] Reopen #1")
        assert await office.say(chen, "1") == said("rectifications/reopened", number=2)
        assert await office.say(chen, "1") == said("rectifications/not_closed", number=2)
        out = await office.you("/fix")
        assert out.startswith(
            "\n".join(
                [private(YOU), said("rectifications/reopened_notice", number=2, by="Chen Jing")]
            )
        )
        assert "📌 My open rectifications (1)" in out
        # Closing it again earns nothing more: the points were for closing it once.
        assert await office.you("/fix 2 poster laminated") == said(
            "rectifications/closed", number=2, points=0
        )
        # Someone else's rectification cannot be closed.
        assert await office.say(chen, "/fix 1 done") == said("rectifications/not_yours", number=1)

    fixes = await rows(bot, Rectification)
    assert [(f.status, f.close_note, f.reopen_count) for f in fixes] == [
        ("closed", "replaced the sign board", 0),
        ("closed", "poster laminated", 1),
    ]
    entries = await rows(bot, PointEntry)
    assert [(e.member_id, e.rule, e.points, e.idempotency_key) for e in entries] == [
        (me.id, "rectification_closed", 15, "fix:1:closed"),
        (me.id, "rectification_closed", 15, "fix:2:closed"),
    ]


async def test_fix_is_for_staff_and_above(plan: Plan, tmp_path: Path, demo_db: Path) -> None:
    async with demo(plan, demo_db, role=Role.VOLUNTEER) as bot:
        assert await typed(bot, "/fix") == said("errors/not_allowed", command="fix")
    async with demo(plan, tmp_path / "staff.db", role=Role.STAFF) as bot:
        assert await typed(bot, "/fix") == said("rectifications/none_open", supervisor=False)
        assert await typed(bot, "/fix 7 done") == said("rectifications/not_yours", number=7)
        assert await typed(bot, "/fix seven") == said("rectifications/which")


# --- reminders as the clock moves ----------------------------------------------------------


async def reminder_rows(bot: DemoSession) -> list[OutboxMessage]:
    return await rows(bot, OutboxMessage, OutboxMessage.idempotency_key.startswith("fix-remind:"))


async def test_reminders_before_and_after_the_deadline_once_each(plan: Plan, demo_db: Path) -> None:
    path = demo_db
    assert plan.deadlines.rectification_remind_hours_before == 24
    async with demo(plan, path, role=Role.SUPERVISOR) as bot:
        # Two failed items, both due tomorrow at 10:00; the second is closed at once.
        for line in ("/check", FAIL, "-", "明天上午10点", FAIL, "-", "明天上午10点", PAUSE):
            await typed(bot, line)
        assert await typed(bot, "/fix 2 done already") == said(
            "rectifications/closed", number=2, points=15
        )
        [fix, _] = await rows(bot, Rectification)
        assert fix.due_at == at("2027-01-12 10:00")
        before = said("rectifications/reminder_before", numbers=[1], due=fix.due_at, zone=ZONE_NAME)
        overdue = said(
            "rectifications/reminder_overdue", numbers=[1], due=fix.due_at, zone=ZONE_NAME
        )
        pushed: list[str] = []

        async def move(to: str) -> str:
            out = await bot.say(f"/clock {to}")
            pushed.extend(p for p in (before, overdue) for _ in range(out.count(p)))
            return out

        assert before not in await move("2027-01-11 09:00")
        assert before in await move("2027-01-11 11:00")  # 24 hours before 10:00 tomorrow
        await jump(bot, "2027-01-12 09:00")
        assert overdue not in await move("2027-01-12 09:59")
        assert overdue in await move("2027-01-12 10:30")  # on the deadline
        await jump(bot, "2027-01-13 09:00")
        assert overdue in await move("2027-01-13 11:00")  # a day after
        await jump(bot, "2027-01-14 09:00")
        assert overdue in await move("2027-01-14 11:00")  # two days after
        assert overdue not in await move("2027-01-14 13:00")
        assert pushed == [before, overdue, overdue, overdue]
        sent = await reminder_rows(bot)

    suffix = f"@{PLATFORM}::{YOU}"
    days = ("2027-01-11", "2027-01-12", "2027-01-13", "2027-01-14")
    moments = [at(f"{day} 10:00") for day in days]
    labels = ("before", "overdue0", "overdue1", "overdue2")
    # One key per owner and reminder time: rectifications due together share one message.
    assert [(m.idempotency_key, m.status) for m in sent] == [
        (f"fix-remind:1:{moment.astimezone(dt.UTC).isoformat()}:{label}{suffix}", "sent")
        for moment, label in zip(moments, labels, strict=True)
    ]
    assert [m.next_attempt_at for m in sent] == moments

    # After a restart nothing comes again: not as time goes on, nor if a job looks back.
    async with demo(plan, path, role=Role.SUPERVISOR) as bot:
        out = await bot.say("/clock +3h")
        assert before not in out and overdue not in out
        for message in sent:
            async with bot.database.transaction() as session:
                moment = message.next_attempt_at
                window = Window(moment - dt.timedelta(hours=1), moment + dt.timedelta(hours=1))
                await remind_rectification_owners(Store(session), window)
        assert [m.id for m in await reminder_rows(bot)] == [m.id for m in sent]


async def test_rectifications_due_together_share_one_reminder(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, role=Role.SUPERVISOR) as bot:
        for line in ("/check", FAIL, "-", "明天上午10点", FAIL, "-", "明天上午10点", PAUSE):
            await typed(bot, line)
        first, second = await rows(bot, Rectification)
        assert first.due_at == second.due_at == at("2027-01-12 10:00")
        out = await bot.say("/clock 2027-01-11 11:00")
        both = said(
            "rectifications/reminder_before", numbers=[1, 2], due=first.due_at, zone=ZONE_NAME
        )
        assert out.count(both) == 1
        assert (
            said("rectifications/reminder_before", numbers=[1], due=first.due_at, zone=ZONE_NAME)
            not in out
        )
        assert len(await reminder_rows(bot)) == 1
