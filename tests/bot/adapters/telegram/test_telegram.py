"""The Telegram adapter end to end: the real python-telegram-bot Application, long polling (or a
webhook) against a local fake Bot API server; we queue updates and assert on what the bot sent."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.adapters.telegram import MESSAGE_LIMIT, TelegramAdapter, split_message
from bot.delivery import Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import Scheduler
from bot.service import build_http_app
from handlers import JOBS, build_router
from kernel import MovableClock, Role
from messages import Renderer
from storage.database import Database
from storage.models import Deed, DrillAnswer, Member, OutboxMessage
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import seat_people

TOKEN = "123:ABC"
GROUP = -4_000_000_001
STAFF, SUPERVISOR, ADMIN, STRANGER = 1001, 1002, 1003, 1009
MONDAY_0800 = dt.datetime(2027, 1, 4, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass
class Bot:
    tg: FakeTelegram
    adapter: TelegramAdapter
    database: Database
    clock: MovableClock
    scheduler: Scheduler
    sender: Sender

    def person(self, user_id: int) -> dict[str, Any]:
        names = {
            STAFF: "Wang Fang",
            SUPERVISOR: "Chen Jing",
            ADMIN: "Li Ming",
            STRANGER: "Zhou Xin",
        }
        return self.tg.user(user_id, names[user_id], language_code="en")

    async def say(self, text: str, user: int = STAFF, *, group: bool = False) -> None:
        chat = GROUP if group else user
        kind = "group" if group else "private"
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            update = self.tg.command(command, args, chat, self.person(user), kind)
        else:
            update = self.tg.message(text, chat, self.person(user), kind)
        self.tg.queue_update(update)

    async def sent_to(self, chat_id: int, count: int = 1) -> list[Any]:
        """Wait until ``count`` messages went to ``chat_id``; return them all."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [c for c in self.tg.calls("sendMessage") if int(c["chat_id"]) == chat_id]
            if len(found) >= count:
                return found
            await _pause()
        raise AssertionError(
            f"{count} message(s) to {chat_id} expected; got {self.tg.calls('sendMessage')}"
        )

    async def rows(self, model: Any) -> int:
        async with self.database.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.02)


async def _prepare(database: Database, now: dt.datetime) -> None:
    people = [
        (str(STAFF), "Wang Fang", Role.STAFF),
        (str(SUPERVISOR), "Chen Jing", Role.SUPERVISOR),
        (str(ADMIN), "Li Ming", Role.ADMIN),
    ]
    await seat_people(database, platform="telegram", chat=str(GROUP), people=people, now=now)


@pytest_asyncio.fixture
async def bot(sqlite_url: str) -> AsyncIterator[Bot]:
    database = Database(sqlite_url)
    now = MONDAY_0800.astimezone(dt.UTC)
    await _prepare(database, now)
    clock = MovableClock(now)
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale="zh")
    )
    async with FakeTelegram(TOKEN) as tg:
        adapter = TelegramAdapter(dispatcher, Renderer(), clock, token=TOKEN, api_url=tg.base_url)
        await adapter.start()
        try:
            yield Bot(
                tg,
                adapter,
                database,
                clock,
                Scheduler(database, clock, JOBS),
                Sender(database, clock, {"telegram": adapter}),
            )
        finally:
            await adapter.stop()
            await database.dispose()


async def test_commands_are_registered_per_language_and_chat_kind(bot: Bot) -> None:
    calls = bot.tg.calls("setMyCommands")
    seen = {(c["language_code"], c["scope"]["type"]) for c in calls}
    assert seen == {
        (lang, scope) for lang in ("zh", "en") for scope in ("all_private_chats", "all_group_chats")
    }
    english_private = next(
        c for c in calls if c["language_code"] == "en" and c["scope"]["type"] == "all_private_chats"
    )
    names = [command["command"] for command in english_private["commands"]]
    assert {"start", "score", "drill", "check", "deed", "observe", "fix", "report", "lang"} <= set(
        names
    )


async def test_a_private_command_is_answered_in_html(bot: Bot) -> None:
    await bot.say("/score")
    [reply] = await bot.sent_to(STAFF)
    assert reply["parse_mode"] == "HTML" and "My points" in reply["text"]


async def test_a_personal_command_in_a_group_answers_privately_with_a_pointer(bot: Bot) -> None:
    await bot.say("/score", group=True)
    [private] = await bot.sent_to(STAFF)
    assert "My points" in private["text"]
    [pointer] = await bot.sent_to(GROUP)
    assert "private" in pointer["text"] and "points" not in pointer["text"].lower()


async def test_someone_who_never_pressed_start_is_asked_to(bot: Bot) -> None:
    bot.tg.forbid(STAFF)
    await bot.say("/score", group=True)
    [ask] = await bot.sent_to(GROUP)
    assert "press Start" in ask["text"]
    button = ask["reply_markup"]["inline_keyboard"][0][0]
    assert button["url"].startswith("https://t.me/")


async def test_a_self_check_button_edits_its_message_and_answers_the_query(bot: Bot) -> None:
    await bot.say("/check")
    messages = await bot.sent_to(STAFF, count=2)
    item = messages[1]
    keyboard = item["reply_markup"]["inline_keyboard"]
    passed = next(b for row in keyboard for b in row if "Pass" in b["text"])
    bot.tg.queue_update(bot.tg.callback_query(passed["callback_data"], STAFF, bot.person(STAFF)))
    [edit] = await bot.tg.wait_for("editMessageText")
    assert "Recorded" in edit["text"]
    assert bot.tg.count("answerCallbackQuery") >= 1


async def test_the_morning_drill_is_a_quiz_poll_in_the_group(bot: Bot) -> None:
    bot.clock.set(dt.datetime(2027, 1, 4, 8, 31, tzinfo=ZoneInfo("Asia/Shanghai")))
    await bot.scheduler.tick()
    for _ in range(2):  # the stage news, then the drill: a group gets one message every 3 s
        await bot.sender.flush()
        bot.clock.advance(dt.timedelta(seconds=4))
    [poll] = await bot.tg.wait_for("sendPoll")
    assert (
        int(poll["chat_id"]) == GROUP
        and poll["type"] == "quiz"
        and poll["is_anonymous"] in (False, "false")
    )
    poll_id = poll.result["poll"]["id"]
    right = poll.result["poll"]["correct_option_ids"][0]  # the Bot API's current shape
    answer = bot.tg.poll_answer(poll_id, bot.person(STAFF), [right])
    bot.tg.queue_update(answer)
    bot.tg.queue_update(answer)  # a repeated update changes nothing
    [graded] = await bot.sent_to(STAFF)
    assert "Correct" in graded["text"]
    assert await bot.rows(DrillAnswer) == 1


async def test_a_deed_form_is_asked_one_field_at_a_time(bot: Bot) -> None:
    await bot.say("/deed")
    await bot.sent_to(STAFF, count=2)
    await bot.say("Returned a lost wallet <b>at once</b>")
    await bot.sent_to(STAFF, count=3)  # who did it?
    await bot.say("1")
    await bot.sent_to(STAFF, count=4)  # the category, as buttons
    last = bot.tg.calls("sendMessage")[-1]
    category = last["reply_markup"]["inline_keyboard"][0][0]
    bot.tg.queue_update(bot.tg.callback_query(category["callback_data"], STAFF, bot.person(STAFF)))
    done = await bot.sent_to(STAFF, count=5)
    assert "reported" in done[-1]["text"]
    assert await bot.rows(Deed) == 1
    async with bot.database.transaction() as session:
        description = await session.scalar(select(Deed.description))
    assert description == "Returned a lost wallet <b>at once</b>"


async def test_user_text_is_escaped(bot: Bot) -> None:
    await bot.say("/lang <b>bold</b>")
    [reply] = await bot.sent_to(STAFF)
    assert "<b>bold</b>" not in reply["text"] and "&lt;b&gt;bold&lt;/b&gt;" in reply["text"]


async def test_a_deep_link_joins_the_unit(bot: Bot) -> None:
    await bot.say("/invite renmin-road", user=ADMIN)
    [invitation] = await bot.sent_to(ADMIN)
    code = invitation["text"].split("/start ")[-1].strip()
    await bot.say(f"/start {code}", user=STRANGER)
    [welcome] = await bot.sent_to(STRANGER)
    assert "Welcome to Renmin Road Outlet" in welcome["text"]
    async with bot.database.transaction() as session:
        joined = await session.scalar(select(Member).where(Member.display_name == "Zhou Xin"))
    assert joined is not None and joined.role == Role.STAFF


async def test_pushes_wait_out_flood_control_and_are_never_dropped(bot: Bot) -> None:
    bot.tg.rate_limit("sendMessage", times=2, retry_after=5)
    bot.tg.rate_limit("sendPoll", times=1, retry_after=5)
    bot.clock.set(dt.datetime(2027, 1, 4, 8, 31, tzinfo=ZoneInfo("Asia/Shanghai")))
    await bot.scheduler.tick()
    for _ in range(6):
        await bot.sender.flush()
        bot.clock.advance(dt.timedelta(seconds=6))
    async with bot.database.transaction() as session:
        statuses = list(await session.scalars(select(OutboxMessage.status)))
    assert statuses and set(statuses) == {"sent"}
    assert bot.tg.count("sendPoll", ok=True) == 1


async def test_a_long_report_is_split_and_sent_with_its_files(bot: Bot) -> None:
    await bot.say("/report campaign", user=SUPERVISOR)
    await bot.tg.wait_for("sendDocument", timeout=30)
    photo, document = bot.tg.last("sendPhoto"), bot.tg.last("sendDocument")
    assert int(photo["chat_id"]) == SUPERVISOR and int(document["chat_id"]) == SUPERVISOR
    assert all(len(c["text"]) <= MESSAGE_LIMIT for c in bot.tg.calls("sendMessage"))
    parts = split_message("line\n" * 2000)
    assert len(parts) == 3 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert "".join(p + "\n" for p in parts).count("line") == 2000


async def test_a_webhook_needs_the_secret(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    now = MONDAY_0800.astimezone(dt.UTC)
    await _prepare(database, now)
    clock = MovableClock(now)
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale="zh")
    )
    async with FakeTelegram(TOKEN) as tg:
        adapter = TelegramAdapter(
            dispatcher,
            Renderer(),
            clock,
            token=TOKEN,
            api_url=tg.base_url,
            webhook_url="https://uplift.example/telegram/webhook",
            webhook_secret="s3cret-token",
        )
        app = build_http_app(database, time.monotonic())
        adapter.mount(app)
        http = TestClient(TestServer(app, host="127.0.0.1"))
        await http.start_server()
        await adapter.start()
        try:
            assert tg.last("setWebhook")["secret_token"] == "s3cret-token"
            update = tg.command("score", "", STAFF, tg.user(STAFF, "Wang Fang", language_code="en"))
            wrong = await http.post(
                "/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "nope"},
            )
            assert wrong.status == 403
            right = await http.post(
                "/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"},
            )
            assert right.status == 200
            [reply] = await tg.wait_for("sendMessage")
            assert "My points" in reply["text"]
        finally:
            await adapter.stop()
            await http.close()
            await database.dispose()


PRIVATE_ONLY_FORMS = {"deed", "observe", "inspect"}


async def test_every_command_answers_in_private_and_in_a_group(bot: Bot) -> None:
    """Each command of the menus reaches its feature in a private chat and in the group; in the
    group, personal answers go to the private chat and the group only gets a pointer."""
    commands = [
        "help", "score", "drill", "check", "fix", "deed", "observe", "stage", "leaderboard",
        "approve", "observations", "inspect", "remind", "reminders", "lang", "join", "start",
    ]  # fmt: skip
    for command in commands:
        before = len([c for c in bot.tg.calls("sendMessage") if int(c["chat_id"]) == SUPERVISOR])
        await bot.say(f"/{command}", user=SUPERVISOR)
        await bot.sent_to(SUPERVISOR, count=before + 1)
        await _leave_any_flow(bot)
    group_before = len([c for c in bot.tg.calls("sendMessage") if int(c["chat_id"]) == GROUP])
    for command in ("score", "stage", "leaderboard", "help"):
        before = len([c for c in bot.tg.calls("sendMessage") if int(c["chat_id"]) == SUPERVISOR])
        await bot.say(f"/{command}", user=SUPERVISOR, group=True)
        await bot.sent_to(SUPERVISOR, count=before + 1)
    pointers = await bot.sent_to(GROUP, count=group_before + 4)
    assert all("private" in p["text"] for p in pointers[group_before:])
    await bot.say("/bind renmin-road", user=ADMIN, group=True)
    [answer] = await bot.sent_to(ADMIN)
    assert "already bound" in answer["text"]  # a refusal is personal, so it comes privately


async def _leave_any_flow(bot: Bot) -> None:
    """A command that opened a form or a flow is cancelled, so the next command starts clean."""
    async with bot.database.transaction() as session:
        await Store(session).conversations.end(await _member_id(session, SUPERVISOR))


async def _member_id(session: Any, user_id: int) -> int:
    from storage.models import PlatformIdentity

    member_id = await session.scalar(
        select(PlatformIdentity.member_id).where(PlatformIdentity.external_id == str(user_id))
    )
    assert member_id is not None
    return int(member_id)


async def test_an_observation_photo_is_received(bot: Bot) -> None:
    from storage.models import Observation

    await bot.say("/observe")
    await bot.sent_to(STAFF, count=2)
    await bot.say("1")  # the unit
    await bot.sent_to(STAFF, count=3)
    last = bot.tg.calls("sendMessage")[-1]
    complaint = _button(last, "complaint")
    bot.tg.queue_update(bot.tg.callback_query(complaint["callback_data"], STAFF, bot.person(STAFF)))
    await bot.sent_to(STAFF, count=4)
    await bot.say("The ramp at the door is blocked")
    await bot.sent_to(STAFF, count=5)
    last = bot.tg.calls("sendMessage")[-1]
    signed = _button(last, "sign it")
    bot.tg.queue_update(bot.tg.callback_query(signed["callback_data"], STAFF, bot.person(STAFF)))
    await bot.sent_to(STAFF, count=6)  # saved; a photo may follow
    bot.tg.queue_update(
        bot.tg.message(
            chat_id=STAFF, user=bot.person(STAFF), photo=b"\x89PNG photo", caption="here"
        )
    )
    await bot.sent_to(STAFF, count=7)
    async with bot.database.transaction() as session:
        observation = await session.scalar(select(Observation))
    assert observation is not None and observation.kind == "complaint"
    assert observation.photo_ref and bot.tg.file_bytes(observation.photo_ref) == b"\x89PNG photo"


def _button(message: Any, label: str) -> dict[str, Any]:
    keyboard = message["reply_markup"]["inline_keyboard"]
    return next(button for row in keyboard for button in row if button["text"] == label)


async def test_pushes_stay_under_thirty_a_second_in_all() -> None:
    from bot.adapters.telegram import Pacer

    pacer = Pacer(30)
    started = time.monotonic()
    for _ in range(45):
        await pacer.wait_turn()
    assert time.monotonic() - started >= 0.9  # the 31st had to wait for the first second to pass
