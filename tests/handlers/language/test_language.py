"""Every chat in its own language, through the demo session in English on both backends.

The unit's group chat is bound in the demo's language, so its stage announcement, morning drill
and weekly summary come in English although the unit's default is Chinese. Staff may not change
the group's language; a supervisor sets it to Chinese from the group with /lang and the button,
and the next drill comes in Chinese while the supervisor's own language stays English. An admin
binding a second group binds it in their own language: one drill, two chats, two languages.
"""

from __future__ import annotations

import datetime as dt
import io
import re

from bot.adapters.console import PLATFORM, ConsoleChat
from bot.demo import YOU, group_chat_id
from campaigns.schema import Plan
from kernel import ChatRef, Role, SenderRef
from storage.models import ChatBinding, Drill, DrillItem, OutboxMessage
from tests.harness import Office, jump, open_office, rows, said, typed

GROUP = group_chat_id("renmin-road")
SECOND = "group:renmin-road-counter"
CJK = re.compile(r"[\u4e00-\u9fff]")


def in_group(office: Office, user: str, chat: str = GROUP) -> ConsoleChat:
    """``user`` typing in a group chat (the demo's own console is their private chat)."""
    return ConsoleChat(
        office.dispatcher,
        office.bot.renderer,
        office.bot.clock,
        SenderRef(PLATFORM, user, locale="en"),
        ChatRef(PLATFORM, chat, is_group=True),
        io.StringIO(),
        attachments_dir=office.bot.files_dir,
    )


async def drill_of(office: Office, day: dt.date) -> DrillItem:
    [drill] = await rows(office, Drill, Drill.local_date == day)
    [item] = await rows(office, DrillItem, DrillItem.id == drill.drill_item_id)
    return item


async def locales(office: Office, key: str) -> dict[str, str]:
    """The language of each chat's outbox row whose key starts with ``key``."""
    found = await rows(office, OutboxMessage, OutboxMessage.idempotency_key.startswith(key))
    return {message.chat_id: message.locale for message in found}


async def test_each_group_chat_speaks_its_own_language(plan: Plan, db_url: str) -> None:
    async with open_office(plan, db_url, role=Role.SUPERVISOR, locale="en") as office:
        bot = office.bot
        monday = await jump(bot, "2027-01-04 08:35")
        assert said("console/group_header", "en", chat=GROUP) in monday
        assert plan.stages[0].name.en in monday  # the first stage's announcement
        assert (await drill_of(office, dt.date(2027, 1, 4))).question_en in monday
        friday = await jump(bot, "2027-01-08 17:05")
        assert f"🗓 {bot.people.unit_name}" in friday  # the week's summary
        for pushed in (monday, friday):
            assert not CJK.search(pushed), pushed
        for key in ("stage-start:", "drill:", "weekly:"):
            assert await locales(office, key) == {GROUP: "en"}

        # Staff may not change the group's language; a supervisor may, with /lang or its buttons.
        refused = await office.say(in_group(office, "colleague-1"), "/lang zh")
        assert refused == said("language/chat_refused", "en")
        mine = in_group(office, YOU)
        offered = await office.say(mine, "/lang")
        assert offered.startswith(said("language/choose_chat", "en") + "\n  [1] 中文")
        you = (await office.member(YOU)).display_name
        assert await office.say(mine, "1") == said("language/chat_set", "zh", by=you)
        assert said("language/choose", "en") in await typed(bot, "/lang")  # mine stays English

        # An admin binds a second group: in the admin's language, English.
        await office.add("admin-1", "Alex Admin", Role.ADMIN, "renmin-road")
        bound = await office.say(in_group(office, "admin-1", SECOND), "/bind renmin-road")
        assert bound == said("members/bound", "en", unit=bot.people.unit_name)
        chats = await rows(office, ChatBinding)
        assert {chat.chat_id: chat.locale for chat in chats} == {GROUP: "zh", SECOND: "en"}

        next_monday = await jump(bot, "2027-01-11 08:35")
        item = await drill_of(office, dt.date(2027, 1, 11))
        chinese = said("console/group_header", "zh", chat=GROUP) + "\n"
        english = said("console/group_header", "en", chat=SECOND) + "\n"
        assert chinese + said("drills/intro", "zh", day=dt.date(2027, 1, 11), kind=item.kind) in (
            next_monday
        )
        assert item.question_zh in next_monday and item.question_en in next_monday
        assert english + said("drills/intro", "en", day=dt.date(2027, 1, 11), kind=item.kind) in (
            next_monday
        )
        assert await locales(office, "drill:") == {GROUP: "zh", SECOND: "en"}
