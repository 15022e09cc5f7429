"""A deadline or a reminder time read with a guess, or falling on a day off, is echoed with what
was guessed and saved only once confirmed; a sure reading is saved at once, as before. Through
the demo session on SQLite and PostgreSQL, on Monday 4 January 2027 at 09:00: a self-check's
rectification deadlines in Chinese (one typed again, one confirmed by a word, one by the button),
then in English one more deadline and three reminders.
"""

from __future__ import annotations

from kernel import Role
from storage.models import Rectification, Reminder
from tests.harness import at, open_demo, read_plan, rows, said, typed

FAIL, PAUSE, KEEP = "2", "4", "1"


async def test_doubtful_deadlines_and_reminder_times_are_confirmed_first(db_url: str) -> None:
    demo = open_demo(
        read_plan("postal-bank"),
        db_url,
        role=Role.SUPERVISOR,
        locale="zh",
        start="2027-01-04 09:00",
    )
    async with demo as bot:

        async def say(*lines: str) -> str:
            return "\n".join([await typed(bot, line) for line in lines])

        # Sure: saved at once. 一周内 on a Monday is the next Monday (it was read as tomorrow).
        out = await say("/check", FAIL, "灯箱不亮", "一周内")
        assert "期限:2027年1月11日(周一) 23:59" in out

        # 月底前 is a Sunday: echoed, not saved; typed again as 明早, echoed with its default
        # hour; then "是" keeps it.
        out = await say(FAIL, "-", "月底前")
        assert out.endswith(
            "我理解的整改期限是 2027年1月31日(周日) 23:59。\n"
            "⚠️ 2027年1月31日(周日)按单位的日历不是工作日。\n"
            "对吗?对就点“就这样”;不对请直接输入新的期限。\n"
            "  [1] ✅ 就这样"
        )
        assert len(await rows(bot, Rectification)) == 1
        # Left and resumed at the echo: the deadline is asked again.
        asked = said("selfchecks/ask_due", "zh", days=7)
        assert (await say("/check")).endswith(asked)
        out = await say("明早")
        assert out.startswith(
            "我理解的整改期限是 2027年1月5日(周二) 09:00。\n⚠️ 没有写具体几点,我按 09:00 算。\n"
        )
        assert len(await rows(bot, Rectification)) == 1
        assert "期限:2027年1月5日(周二) 09:00" in await say("是")

        # The same in English words, kept with the button.
        assert "⚠️ 2027年1月31日(周日)按单位的日历不是工作日。" in await say(
            FAIL, "-", "end of month"
        )
        assert "期限:2027年1月31日(周日) 23:59" in await say(KEEP)

        # In English: a day off for a deadline, kept with a typed "yes".
        await say(PAUSE, "/lang en", "/check")
        out = await say(FAIL, "-", "Saturday")
        assert out.endswith(
            "I read the deadline as Sat 9 Jan 2027 23:59.\n"
            "⚠️ Sat 9 Jan 2027 is not a working day on the unit's calendar.\n"
            'Is that right? Press "Keep it", or type the deadline again.\n'
            "  [1] ✅ Keep it"
        )
        assert "Due Sat 9 Jan 2027 23:59; owner: you." in await say("yes", PAUSE)

        # Reminders: a default hour and a day off are said before Save; a sure time is not.
        asked = await say("/remind me tomorrow morning check the cash")
        assert asked.splitlines()[1:3] == [
            "⚠️ No time was given, so I took 09:00.",
            "Is that right? If not, press Cancel and type it again.",
        ]
        await say("1")
        asked = await say("/remind me next Friday 5pm call the bank")
        assert asked.splitlines()[:2] == [
            "I understood: remind me at Fri 15 Jan 2027 17:00 (Asia/Shanghai): call the bank",
            "Is that right?",
        ]
        await say("2")
        asked = await say("/remind me Saturday 10am stock the leaflets")
        assert "⚠️ Sat 9 Jan 2027 is not a working day on the unit's calendar." in asked
        await say("2")

    fixes = await rows(bot, Rectification)
    assert [fix.due_at for fix in fixes] == [
        at("2027-01-11 23:59"),
        at("2027-01-05 09:00"),
        at("2027-01-31 23:59"),
        at("2027-01-09 23:59"),
    ]
    [reminder] = await rows(bot, Reminder)
    assert (reminder.text, reminder.next_at) == ("check the cash", at("2027-01-05 09:00"))
