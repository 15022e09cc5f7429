"""Conversations a person can trust, through the demo's console chats: a number typed acts on
the button labelled with it, a form checks each value as it is typed and keeps what was entered,
a command typed inside a form leaves it (kept for the same command to go on with it) and runs,
``/report`` reads a unit and a period in either order, and plain questions ask for the score.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.adapters.console import PLATFORM, ConsoleChat
from campaigns.schema import Plan
from handlers import build_router
from handlers.framework.forms import FLOW, PARKED
from kernel import ChatRef, Event, EventKind, Role, SenderRef
from storage.models import Conversation, Inspection, Observation, Unit
from tests.harness import Office, open_office, rows, said, seat_at, shown

START = "2027-01-11 07:00"  # a Monday in stage 1
CLAIM, CLOSE = "🙋 Claim it", "✅ Close it"
SCORE_FIELD = "» Score (out of 100)"


def number_of(out: str, label: str, nth: int = 0) -> str:
    """The number printed before the ``nth`` choice labelled ``label``."""
    found = re.findall(rf"^  \[(\d+)\] {re.escape(label)}$", out, re.MULTILINE)
    assert len(found) > nth, f"{label!r} is not offered in:\n{out}"
    return found[nth]


async def observe_chengdong(here: Office, chat: ConsoleChat, text: str) -> None:
    """A colleague reports a complaint about the sub-branch, signed."""
    units = await here.say(chat, "/observe")
    kinds = await here.say(chat, number_of(units, "Chengdong Sub-branch"))
    await here.say(chat, number_of(kinds, "complaint"), text, "1")


async def asked(here: Office, kind: EventKind, **fields: Any) -> str:
    """One event from you where forms are asked a field at a time (as on Telegram)."""
    outcome = await here.dispatcher.handle(
        Event(
            kind=kind,
            sender=SenderRef(PLATFORM, "you", locale=here.locale),
            chat=ChatRef(PLATFORM, "you", is_group=False),
            received_at=here.bot.clock.now(),
            **fields,
        ),
        native_forms=False,
    )
    return shown(outcome)


async def test_numbers_forms_and_commands_in_the_demo(plan: Plan, db_url: str) -> None:
    async with open_office(plan, db_url, role=Role.SUPERVISOR, start=START) as here:
        await seat_at(here.bot, "chengdong")
        wang = here.chat("colleague-1")

        # Two notices on the screen: each Claim has its own number, and typing one claims it.
        await observe_chengdong(here, wang, "Queue machine broken")
        await observe_chengdong(here, wang, "No pens at the counter")
        screen = here.bot.console.take_transcript()
        first, second = number_of(screen, CLAIM), number_of(screen, CLAIM, 1)
        assert (first, second) == ("1", "2")
        claimed = await here.you(first)
        assert "You own #1 now" in claimed
        assert number_of(claimed, CLOSE) == "3"  # the second notice still holds 2
        assert "You own #2 now" in await here.you(second)
        owners = {o.id: o.claimed_by_member_id for o in await rows(here, Observation)}
        assert owners == {1: (await here.member("you")).id, 2: (await here.member("you")).id}

        # /inspect checks the score as it is typed and asks again, keeping the answers.
        units = await here.you("/inspect")
        kinds = await here.you(number_of(units, "Dongguan Outlet"))
        assert (await here.you(number_of(kinds, "mystery shopper"))).endswith(SCORE_FIELD)
        for wrong in ("?", "101", "abc"):
            assert await here.you(wrong) == "\n".join(
                [said("inspections/score_hint", given=wrong), SCORE_FIELD]
            )

        # A command inside the form leaves it, kept, and runs; the same command goes on.
        left = await here.you("/observe")
        assert left.startswith(
            '📝 Your form "Record an inspection" is kept (2 of 4 answered): type /inspect again'
        )
        # /observe ran: its own form is asked, "/observe" is no answer to the inspection's
        assert "» Which unit (outlet, line, section) is it about?" in left
        assert await here.you("/cancel") == said("console/form_cancelled")
        resumed = await here.you("/inspect")
        assert resumed.startswith("📝 Record an inspection: going on where you left it (2 of 4")
        assert resumed.endswith(SCORE_FIELD)
        assert await here.you("/inspect") == resumed  # the same command inside: it goes on
        assert "» Items deducted" in await here.you("91")
        await here.you("-")
        [inspection] = await rows(here, Inspection)
        [dongguan] = await rows(here, Unit, Unit.key == "dongguan")
        recorded = (inspection.unit_id, inspection.kind, inspection.score)
        assert recorded == (dongguan.id, "mystery", 91)
        assert len(await rows(here, Observation)) == 2  # "/observe" was never saved as text

        # /report reads the unit and the period in either order; a unit outside is named as such.
        report = await here.you("/report 本月 东关")
        assert report.startswith("📊 Dongguan Outlet report: Fri 1 Jan 2027 to Sun 31 Jan 2027")
        assert await here.you("/report west-street") == said(
            "reports/unit_not_covered",
            unit=said("shared/unit_name", zh="西大街网点", en="West Street Outlet"),
            home=said("shared/unit_name", zh="城东支行", en="Chengdong Sub-branch"),
        )

        # Plain questions, in either language, ask for the score.
        score = await here.you("/score")
        assert score.startswith("📊 My points")
        for question in ("What's my score?", "what is my score", "我多少分?", "积分"):
            assert await here.you(question) == score


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("my score", "score"),
        ("What's my score?", "score"),
        ("What’s  my score ?", "score"),
        ("how many points do I have?", "score"),
        ("我多少分", "score"),
        ("我多少分？", "score"),
        ("积分", "score"),
        ("我的积分是多少?", "score"),
        ("排行榜", "leaderboard"),
        ("my score is low", None),  # a sentence that only contains the words is no question
    ],
)
def test_plain_questions_name_their_command(typed: str, command: str | None) -> None:
    assert build_router().keyword_command(typed) == command


async def test_a_command_leaves_a_form_asked_field_by_field(plan: Plan, sqlite_url: str) -> None:
    """Where the platform has no forms (Telegram), the form lives in the database: a command
    puts it aside, free text no longer goes to it, and the same command goes on with it."""
    async with open_office(plan, sqlite_url, locale="zh", start=START) as here:
        you = (await here.member("you")).id
        assert "(1/4)" in await asked(here, EventKind.COMMAND, command="observe")
        await asked(here, EventKind.ACTION, action="_form.pick", value="0")
        left = await asked(here, EventKind.COMMAND, command="score")
        assert "📊 我的积分" in left and "再次输入 /observe 即可继续" in left
        [kept] = await rows(here, Conversation, Conversation.member_id == you)
        assert kept.flow == PARKED
        not_understood = said("errors/not_understood", "zh")
        assert await asked(here, EventKind.TEXT, text="门口很脏") == not_understood
        resumed = await asked(here, EventKind.COMMAND, command="observe")
        assert "从上次停下的地方继续(已答 1/4 项)" in resumed and "(2/4)" in resumed
        [going_on] = await rows(here, Conversation, Conversation.member_id == you)
        assert going_on.flow == FLOW and len(going_on.data["values"]) == 1
        cancelled = await asked(here, EventKind.COMMAND, command="取消")
        assert cancelled == said("form/cancelled", "zh")
        assert await rows(here, Conversation, Conversation.member_id == you) == []
