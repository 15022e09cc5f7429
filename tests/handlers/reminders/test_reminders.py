"""/remind and /reminders end to end through the demo's console chat, with a moving clock.

The time is read in Chinese or English, echoed in the unit's zone and saved only when confirmed;
each occurrence goes through the outbox once, privately or to every unit chat below; a weekly
reminder keeps its local time across a daylight-saving change (the hotel plan's Sydney branch);
a cancelled reminder never fires; one missed while the process was down is sent on start within
the plan's grace window and skipped (and logged) beyond it.
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.console import PLATFORM
from bot.demo import YOU, DemoSession
from campaigns.schema import Plan
from kernel import Role
from storage.models import Member, OutboxMessage, Reminder, Unit
from storage.store import Store
from tests.harness import at, jump, open_demo, read_plan, rows

SYDNEY = ZoneInfo("Australia/Sydney")


def seated_in(plan: Plan, unit: str) -> Plan:
    """The plan with the demo's people seated in another of its units."""
    assert plan.demo is not None
    return plan.model_copy(update={"demo": plan.demo.model_copy(update={"unit": unit})})


@pytest.fixture(scope="module")
def hotel_sydney() -> Plan:
    return seated_in(read_plan("hotel"), "sydney-front-office")


def demo(
    plan: Plan, demo_db: Path, *, locale: str = "en", role: Role = Role.SUPERVISOR
) -> AbstractAsyncContextManager[DemoSession]:
    return open_demo(plan, demo_db, role=role, locale=locale)


async def reminders_sent(bot: DemoSession) -> list[OutboxMessage]:
    return await rows(bot, OutboxMessage, OutboxMessage.idempotency_key.like("remind:%"))


async def you(bot: DemoSession) -> Member:
    async with bot.database.transaction() as session:
        found = await Store(session).members.by_identity(PLATFORM, "", YOU)
    assert found is not None
    return found[0]


# --- echo, confirm, deliver --------------------------------------------------------------------


async def test_a_reminder_for_me_is_echoed_in_the_units_zone_and_saved_only_when_confirmed(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db, locale="zh") as bot:
        await jump(bot, at("2027-01-04 10:00"))  # a Monday
        asked = await bot.say("/remind 我 明天上午9点 检查自助设备")
        assert asked.splitlines() == [
            "我理解的是:2027年1月5日(周二) 09:00(Asia/Shanghai)提醒我:检查自助设备",
            "对吗?",
            "  [1] ✅ 保存",
            "  [2] 取消",
        ]
        assert await rows(bot, Reminder) == []  # not before it is confirmed
        assert await bot.say("2") == "好的,没有保存。"
        assert await rows(bot, Reminder) == []
        await bot.say("/提醒 我 明天上午9点 检查自助设备")  # the Chinese command name
        assert await bot.say("1") == "提醒 #1 已保存。输入 /reminders 查看或取消。"
        [reminder] = await rows(bot, Reminder)
        me = await you(bot)
        assert (reminder.target_kind, reminder.target_member_id, reminder.target_unit_id) == (
            "me",
            me.id,
            None,
        )
        assert (reminder.text, reminder.timezone, reminder.every_seconds) == (
            "检查自助设备",
            "Asia/Shanghai",
            None,
        )
        assert reminder.next_at == dt.datetime(2027, 1, 5, 1, 0, tzinfo=dt.UTC)  # 09:00 local

        before = await bot.say("/clock 2027-01-05 08:59")
        assert "检查自助设备" not in before
        due = await bot.say("/clock 2027-01-05 12:00")
        again = await bot.say("/clock 2027-01-06 12:00")

    assert "── 私聊 → you ──\n⏰ 提醒(小李):检查自助设备" in due
    assert due.count("检查自助设备") == 1 and "检查自助设备" not in again
    [sent] = await reminders_sent(bot)
    assert sent.idempotency_key == f"remind:1:2027-01-05T01:00:00+00:00@{PLATFORM}::you"
    assert (sent.member_id, sent.status, sent.attempts) == (me.id, "sent", 1)
    assert sent.sent_at == at("2027-01-05 09:00")  # when it fell due: /clock stops there
    [done] = await rows(bot, Reminder)
    assert done.active is False


@pytest.mark.parametrize(
    ("typed", "echo"),
    [
        (
            "/remind me in 2 hours check the cash",
            "I understood: remind me at Mon 4 Jan 2027 12:00 (Asia/Shanghai): check the cash",
        ),
        (
            "/remind me next Monday 9am team meeting",
            "I understood: remind me at Mon 11 Jan 2027 09:00 (Asia/Shanghai): team meeting",
        ),
        (
            "/remind 所有人 下周一下午3点 开会",
            "I understood: remind everyone in Renmin Road Outlet and below at Mon 11 Jan 2027 "
            "15:00 (Asia/Shanghai): 开会",
        ),
        (
            "/remind all every Friday 17:00 hand in the ledger",
            "I understood: remind everyone in Renmin Road Outlet and below every 7 days from "
            "Fri 8 Jan 2027 17:00 (Asia/Shanghai): hand in the ledger",
        ),
        (
            "/remind renmin-road 每周五17:00 交台账",
            "I understood: remind Renmin Road Outlet every 7 days from Fri 8 Jan 2027 17:00 "
            "(Asia/Shanghai): 交台账",
        ),
    ],
)
async def test_times_in_chinese_and_english_are_echoed(
    plan: Plan, demo_db: Path, typed: str, echo: str
) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, at("2027-01-04 10:00"))  # Monday 10:00
        asked = await bot.say(typed)
        assert asked.splitlines()[:2] == [echo, "Is that right?"]
        assert await bot.say("2") == "OK, not saved."
        assert await rows(bot, Reminder) == []


async def test_in_two_hours_is_delivered_two_hours_later(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, at("2027-01-04 10:00"))
        await bot.say("/remind me in 2 hours check the cash")
        await bot.say("1")
        early = await bot.say("/clock 2027-01-04 11:59")
        due = await bot.say("/clock 2027-01-04 12:00")
    assert "check the cash" not in early
    assert "── private message → you ──\n⏰ Reminder from Alex Li: check the cash" in due
    [sent] = await reminders_sent(bot)
    assert sent.idempotency_key.startswith("remind:1:2027-01-04T04:00:00+00:00@")
    assert sent.sent_at == at("2027-01-04 12:00")


@pytest.mark.parametrize(
    ("locale", "typed", "answer"),
    [
        (
            "en",
            "/remind me check the machines",
            'I cannot find a time in "check the machines". Try: tomorrow 9am, next Monday 3pm, '
            "every Friday 17:00, in 2 hours, 明天上午9点, followed by the text.",
        ),
        (
            "zh",
            "/remind 所有人 开会",
            "看不懂“开会”里的时间。可以写:明天上午9点、下周一下午3点、每周五17:00、2小时后、"
            "tomorrow 9am、next Monday 3pm、every Friday 17:00、in 2 hours,后面再写提醒内容。",
        ),
        (
            "en",
            "/remind me yesterday 9am check the machines",
            "Sun 3 Jan 2027 09:00 has already passed; please give a future time.",
        ),
        (
            "zh",
            "/remind 我 今天上午8点 开晨会",
            "2027年1月4日(周一) 08:00 已经过去了,请给一个将来的时间。",
        ),
        (
            "en",
            "/remind nobody tomorrow 9am x",
            '"nobody" is not me, all, or a unit you may remind.',
        ),
        (
            "en",
            "/remind",
            "Usage: /remind who when text. For example: /remind me tomorrow 9am check the "
            "machines; /remind all every Friday 17:00 hand in this week's ledger.",
        ),
    ],
)
async def test_a_phrase_without_a_time_or_a_past_time_is_refused(
    plan: Plan, demo_db: Path, locale: str, typed: str, answer: str
) -> None:
    async with demo(plan, demo_db, locale=locale) as bot:
        await jump(bot, at("2027-01-04 10:00"))
        assert await bot.say(typed) == answer
        assert await bot.say("1") != "Reminder #1 saved. Type /reminders to see or cancel it."
    assert await rows(bot, Reminder) == []


async def test_staff_cannot_set_reminders(plan: Plan, demo_db: Path) -> None:
    async with demo(plan, demo_db, role=Role.STAFF) as bot:
        refusal = "Sorry, /{} is not open to your role. Type /help to see what you can use."
        assert await bot.say("/remind me tomorrow 9am x") == refusal.format("remind")
        assert await bot.say("/reminders") == refusal.format("reminders")


# --- listing and cancelling ----------------------------------------------------------------------


async def test_reminders_are_listed_and_a_cancelled_one_never_fires(
    plan: Plan, demo_db: Path
) -> None:
    async with demo(plan, demo_db) as bot:
        await jump(bot, at("2027-01-04 10:00"))
        assert await bot.say("/reminders") == "You have no reminders."
        await bot.say("/remind me tomorrow 9am check the machines")
        await bot.say("1")
        await bot.say("/remind all tomorrow 10am stock the leaflets")
        await bot.say("1")
        listed = await bot.say("/reminders")
        assert listed.splitlines() == [
            "My reminders",
            "• #1 Tue 5 Jan 2027 09:00 → me: check the machines",
            "• #2 Tue 5 Jan 2027 10:00 → everyone in Renmin Road Outlet and below: stock the "
            "leaflets",
            "  [1] Cancel #1",
            "  [2] Cancel #2",
        ]
        assert await bot.say("1") == "Reminder #1 cancelled."
        assert await bot.say("/reminders") == "\n".join(
            [
                "My reminders",
                "• #2 Tue 5 Jan 2027 10:00 → everyone in Renmin Road Outlet and below: stock the "
                "leaflets",
                "  [1] Cancel #2",
            ]
        )
        walked = await bot.say("/clock 2027-01-05 12:00")
        assert await bot.say("/reminders") == "You have no reminders."

    assert "check the machines" not in walked
    assert (
        "── group chat group:renmin-road ──\n⏰ Reminder from Alex Li: stock the leaflets" in walked
    )
    sent = await reminders_sent(bot)
    assert [m.idempotency_key for m in sent] == [
        f"remind:2:2027-01-05T02:00:00+00:00:{bot.people.unit_id}@{PLATFORM}::group:renmin-road"
    ]
    first, second = await rows(bot, Reminder)
    assert (first.active, second.active) == (False, False)


# --- everyone below: every unit chat under the unit -------------------------------------------


async def test_everyone_below_gets_it_in_every_unit_chat_once(plan: Plan, demo_db: Path) -> None:
    """You supervise the Chengdong sub-branch; two of its three outlets have a group chat."""
    async with demo(seated_in(plan, "chengdong"), demo_db, locale="zh") as bot:
        units = {u.key: u for u in await rows(bot, Unit)}
        async with bot.database.transaction() as session:
            for key in ("renmin-road", "dongguan"):
                await Store(session).units.bind_chat(
                    units[key].id, PLATFORM, "", f"group:{key}", bot.clock.now()
                )
        await jump(bot, at("2027-01-04 10:00"))
        asked = await bot.say("/remind 所有人 下周一下午3点 开会")
        assert asked.startswith(
            "我理解的是:2027年1月11日(周一) 15:00(Asia/Shanghai)提醒城东支行及下属所有单位:开会"
        )
        assert await bot.say("1") == "提醒 #1 已保存。输入 /reminders 查看或取消。"
        await jump(bot, at("2027-01-11 14:00"))
        due = await bot.say("/clock 2027-01-11 16:00")
        after = await bot.say("/clock 2027-01-12 16:00")

    sent = await reminders_sent(bot)
    moment = "2027-01-11T07:00:00+00:00"  # 15:00 in Shanghai
    assert sorted(m.idempotency_key for m in sent) == sorted(
        f"remind:1:{moment}:{units[key].id}@{PLATFORM}::group:{key}"
        for key in ("chengdong", "renmin-road", "dongguan")
    )
    assert {(m.status, m.attempts, m.sent_at) for m in sent} == {
        ("sent", 1, at("2027-01-11 15:00"))
    }
    for key in ("chengdong", "renmin-road", "dongguan"):
        assert f"── 群聊 group:{key} ──\n⏰ 提醒(小李):开会" in due
    assert due.count("⏰ 提醒(小李):开会") == 3 and "开会" not in after
    assert "dev-zone" not in due  # no chat bound there, so nothing to send


# --- weekly, across a daylight-saving change --------------------------------------------------


async def test_a_weekly_reminder_keeps_its_local_time_across_daylight_saving(
    hotel_sydney: Plan, demo_db: Path
) -> None:
    """Sydney leaves daylight saving on Sunday 4 April 2027: 17:00 is 06:00 UTC before, 07:00
    after."""
    async with demo(hotel_sydney, demo_db) as bot:
        assert bot.people.timezone == "Australia/Sydney"
        await jump(bot, at("2027-03-26 10:00", SYDNEY))  # a Friday
        asked = await bot.say("/remind all every Friday 17:00 hand in the ledger")
        assert asked.splitlines()[0] == (
            "I understood: remind everyone in Front Office (Sydney) and below every 7 days "
            "from Fri 26 Mar 2027 17:00 (Australia/Sydney): hand in the ledger"
        )
        await bot.say("1")
        printed = [await bot.say("/clock 2027-03-26 18:00")]
        for friday in ("2027-04-02", "2027-04-09"):
            await jump(bot, at(f"{friday} 16:00", SYDNEY))
            printed.append(await bot.say(f"/clock {friday} 18:00"))
        listed = await bot.say("/reminders")

    sent = await reminders_sent(bot)
    chat = f"{PLATFORM}::group:sydney-front-office"
    unit = bot.people.unit_id
    assert [(m.idempotency_key, m.sent_at) for m in sent] == [
        (f"remind:1:2027-03-26T06:00:00+00:00:{unit}@{chat}", at("2027-03-26 17:00", SYDNEY)),
        (f"remind:1:2027-04-02T06:00:00+00:00:{unit}@{chat}", at("2027-04-02 17:00", SYDNEY)),
        (f"remind:1:2027-04-09T07:00:00+00:00:{unit}@{chat}", at("2027-04-09 17:00", SYDNEY)),
    ]
    assert at("2027-04-09 17:00", SYDNEY) == dt.datetime(2027, 4, 9, 7, 0, tzinfo=dt.UTC)
    for out in printed:
        assert out.count("⏰ Reminder from Alex Li: hand in the ledger") == 1
    [reminder] = await rows(bot, Reminder)
    assert reminder.active and reminder.next_at == at("2027-04-16 17:00", SYDNEY)
    assert "• #1 every 7 days, next Fri 16 Apr 2027 17:00 → everyone in Front Office" in listed


# --- missed while down: the plan's grace window ------------------------------------------------


async def down_over(
    plan: Plan, demo_db: Path, back_at: dt.datetime
) -> tuple[str, list[OutboxMessage]]:
    """A reminder for 17:00 on Friday 26 March (Sydney) is saved at 10:00; the process stops at
    16:00 and comes back up at ``back_at``."""
    async with demo(plan, demo_db) as bot:
        await jump(bot, at("2027-03-26 10:00", SYDNEY))
        await bot.say("/remind me today 5pm hand in the ledger")
        assert await bot.say("1") == "Reminder #1 saved. Type /reminders to see or cancel it."
        await bot.say("/clock 2027-03-26 16:00")
    async with demo(plan, demo_db) as bot:
        assert bot.clock.now() == at("2027-03-26 16:00", SYDNEY)
        bot.clock.set(back_at)
        await bot.fire_due()
        printed = bot.console.take_transcript()
        [reminder] = await rows(bot, Reminder)
        assert reminder.active is False
        return printed, await reminders_sent(bot)


async def test_a_reminder_missed_within_the_grace_is_sent_on_start(
    hotel_sydney: Plan, demo_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert hotel_sydney.deadlines.push_grace_minutes == 90
    caplog.set_level(logging.WARNING, logger="handlers.reminders.reminders")
    printed, sent = await down_over(hotel_sydney, demo_db, at("2027-03-26 18:29", SYDNEY))
    assert [(m.status, m.sent_at) for m in sent] == [("sent", at("2027-03-26 18:29", SYDNEY))]
    assert "⏰ Reminder from Alex Li: hand in the ledger" in printed
    assert "reminder.skipped_stale" not in caplog.text


async def test_a_reminder_missed_beyond_the_grace_is_skipped_and_logged(
    hotel_sydney: Plan, demo_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.reminders.reminders")
    # 1 h 40 late: beyond the hotel plan's 90 minutes.
    printed, sent = await down_over(hotel_sydney, demo_db, at("2027-03-26 18:40", SYDNEY))
    assert sent == []
    assert "hand in the ledger" not in printed
    [record] = [r for r in caplog.records if r.name == "handlers.reminders.reminders"]
    assert record.levelname == "WARNING"
    assert record.getMessage() == "reminder.skipped_stale id=1 due=2027-03-26T06:00:00+00:00"
