"""The Telegram adapter end to end: the real python-telegram-bot Application, long polling (or a
webhook) against a local fake Bot API server as strict as Telegram; we queue updates and assert on
what the bot sent. Flood control has its own file (test_telegram_limits.py)."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from bot.adapters.telegram import MESSAGE_LIMIT, TelegramAdapter, split_message
from bot.adapters.telegram.formatting import visible
from bot.delivery import Destination
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.service import build_http_app
from handlers import build_router
from handlers.framework.forms import PAGE
from kernel import MAX_BUTTONS, Button, MovableClock, Quiz, Reply, Role, Text
from messages import Renderer
from storage.database import Database
from storage.models import Deed, DrillAnswer, DrillItem, Member, Observation, OutboxMessage
from storage.store import Store
from tests.bot.adapters.telegram.telegram_bot import (
    ADMIN,
    GROUP,
    MONDAY_0800,
    STAFF,
    STRANGER,
    SUPERVISOR,
    TOKEN,
    Bot,
    fake_clock,
    open_bot,
    seat,
)
from tests.fakes.telegram_api import FakeTelegram


async def test_commands_are_registered_per_language_and_chat_kind(bot: Bot) -> None:
    calls = bot.tg.calls("setMyCommands")
    seen = {(c.params.get("language_code"), c["scope"]["type"]) for c in calls}
    assert seen == {
        (lang, scope)
        for lang in ("zh", "en", None)
        for scope in ("all_private_chats", "all_group_chats")
    }
    menus = {(c.params.get("language_code"), c["scope"]["type"]): c["commands"] for c in calls}
    english_private = menus["en", "all_private_chats"]
    names = [command["command"] for command in english_private]
    assert {"start", "score", "drill", "check", "deed", "observe", "fix", "report", "lang"} <= set(
        names
    )


async def test_clients_in_any_other_language_get_the_default_menu_in_english(bot: Bot) -> None:
    """A client in, say, French gets the list with no language code: the English one (#9)."""
    for scope in ("all_private_chats", "all_group_chats"):
        [default] = [
            c
            for c in bot.tg.calls("setMyCommands")
            if c["scope"]["type"] == scope and "language_code" not in c.params
        ]
        [english] = [
            c
            for c in bot.tg.calls("setMyCommands")
            if c["scope"]["type"] == scope and c.params.get("language_code") == "en"
        ]
        [chinese] = [
            c
            for c in bot.tg.calls("setMyCommands")
            if c["scope"]["type"] == scope and c.params.get("language_code") == "zh"
        ]
        assert default.ok and default["commands"] == english["commands"]
        assert default["commands"] and default["commands"] != chinese["commands"]  # in English


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
    assert "Wang Fang" in pointer["text"]  # the pointer names whom it answers


async def test_someone_who_never_pressed_start_is_asked_to(bot: Bot) -> None:
    bot.tg.forbid(STAFF)
    await bot.say("/score", group=True)
    [ask] = await bot.sent_to(GROUP)
    assert "press Start" in ask["text"] and "Wang Fang" in ask["text"]
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
    # One HTTP message: the intro is the poll's first line, not a message of its own (#4).
    assert poll["question"].startswith("📋") and len(bot.messages_to(GROUP)) == 1  # the news
    assert "correct_option_id" not in poll.params  # PTB 22's current parameter only
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
    await bot.say("1")  # the plan's only category is taken without asking
    done = await bot.sent_to(STAFF, count=4)
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
    assert bot.tg.ignored_retry_after == []  # nothing went into a ban


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
    await seat(database, now)
    clock = MovableClock(now)
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale="zh")
    )
    async with FakeTelegram(TOKEN, clock=fake_clock(clock)) as tg:
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
    # One pointer for the lot (one per group every 30 s), naming whom it answers.
    pointers = await bot.sent_to(GROUP, count=group_before + 1)
    assert all("private" in p["text"] for p in pointers[group_before:])
    assert "Chen Jing" in pointers[-1]["text"]
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


# --- texts cut to Telegram's sizes ----------------------------------------------------------


async def test_a_long_text_splits_on_whole_escapes_and_tags(bot: Bot) -> None:
    """A line longer than a message, full of escapes, inside a <code> the renderer made: every
    part is valid HTML (the fake parses it as Telegram does) and nothing is lost (#8)."""
    code = "A&B<C>" * 1500  # 9,000 characters, 18,000 with their escapes
    until = dt.datetime(2027, 1, 11, 8, 0, tzinfo=dt.UTC)
    data = {"code": code, "unit": "R&D", "role": "staff", "until": until, "zone": "UTC"}
    reply = Reply(text=Text("members/invitation", data))
    await bot.adapter.push(Destination("telegram", "", str(STAFF), True), reply, "en")

    sent = bot.messages_to(STAFF)
    assert len(sent) >= 5 and all(c.ok for c in sent)
    shown = "".join(c.result["text"] for c in sent)
    assert shown.count("A&B<C>") == 2 * 1500  # the code, twice, whole
    assert all(e["type"] == "code" for c in sent for e in c.result.get("entities", []))
    for part in split_message(f"<b>{'x &amp; y ' * 700}</b>", 1000):
        assert len(part) <= 1000 and part.startswith("<b>") and part.endswith("</b>")
        assert not re.search(r"&[a-z]*$|^[a-z]*;", part.removeprefix("<b>").removesuffix("</b>"))


async def test_split_keeps_whole_lines_and_counts_what_telegram_counts() -> None:
    parts = split_message("line\n" * 2000)
    assert len(parts) == 3 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert "".join(p + "\n" for p in parts).count("line") == 2000
    emoji = split_message("📋" * 3000)  # two UTF-16 units each: 6,000 units
    assert [len(p) for p in emoji] == [2048, 952]
    assert visible(split_message("<i>a</i> &lt;b&gt;")[0]) == "a <b>"


# --- drills: one message where the poll can carry it, every option readable -----------------


async def _long_second_option(bot: Bot) -> str:
    """Every choice drill of the plan gets a second option of 120 characters, the right one."""
    long = "Greet the customer, take the number, explain the wait and offer a seat " * 2
    long = long[:120]
    async with bot.database.transaction() as session:
        items = list(await session.scalars(select(DrillItem).where(DrillItem.kind == "choice")))
        for item in items:
            options = [dict(o) for o in item.options]
            options[1] = {"zh": long, "en": long}
            await session.execute(
                update(DrillItem).where(DrillItem.id == item.id).values(options=options, answer=2)
            )
    return long


async def test_a_drill_with_a_long_option_lists_the_options_with_letter_buttons(bot: Bot) -> None:
    """A 120-character option cannot be a poll option (100) nor a button (64 shown): the group
    gets one message with every option in full and A, B, C… buttons; B answers option 2 (#6)."""
    long = await _long_second_option(bot)
    bot.clock.set(dt.datetime(2027, 1, 4, 8, 31, tzinfo=ZoneInfo("Asia/Shanghai")))
    await bot.scheduler.tick()
    await bot.flush_until_quiet(step=4)
    drill = next(m for m in bot.messages_to(GROUP) if m.params.get("reply_markup"))
    assert bot.tg.count("sendPoll") == 0
    assert long in drill.result["text"] and "\nB. " + long in drill.result["text"]
    keys = [b for row in drill["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in keys] == ["A", "B", "C", "D"][: len(keys)] and len(keys) >= 2
    before = len(bot.messages_to(STAFF))
    press = bot.tg.callback_query(keys[1]["callback_data"], GROUP, bot.person(STAFF))
    bot.tg.queue_update(press)
    graded = (await bot.sent_to(STAFF, count=before + 1))[-1]
    assert "Correct" in graded["text"]
    async with bot.database.transaction() as session:
        answer = await session.scalar(select(DrillAnswer))
    assert answer is not None and answer.choice == 1 and answer.correct


async def test_a_private_drill_with_a_long_option_shows_it_in_full(bot: Bot) -> None:
    long = await _long_second_option(bot)
    bot.clock.set(dt.datetime(2027, 1, 4, 8, 31, tzinfo=ZoneInfo("Asia/Shanghai")))
    await bot.say("/drill")
    [drill] = await bot.sent_to(STAFF)
    assert long in drill.result["text"]
    keys = [b["text"] for row in drill["reply_markup"]["inline_keyboard"] for b in row]
    assert keys[:2] == ["A", "B"]


async def test_a_poll_keeps_its_question_and_shortens_a_long_explanation(bot: Bot) -> None:
    """An explanation of 205 characters over five lines no longer turns the poll into buttons:
    it is shortened (the private answer carries it whole); an intro too long to fold into the
    question goes first, as its own message."""
    quiz = Quiz(
        question="Which zone means normal pressure?",
        options=("Red", "Green"),
        correct_option=1,
        explanation="Green.\nRed.\nAmber.\nBlue.\n" + "e" * 180,
        action="drill.answer",
        ref="1",
    )
    await bot.queue("short", GROUP, Reply(text=Text("telegram/choose"), quiz=quiz))
    long_intro = Text("telegram/quiz", {"intro": None, "question": "i" * 290, "options": []})
    await bot.queue("long", GROUP - 1, Reply(text=long_intro, quiz=quiz))
    await bot.flush_until_quiet(step=4)
    first, second = bot.tg.calls("sendPoll")
    assert first.ok and second.ok
    assert first["question"] == "Please choose:\n\nWhich zone means normal pressure?"
    assert first["explanation"].count("\n") == 2 and len(first["explanation"]) == 200
    assert first["explanation"].endswith("…")
    assert second["question"] == quiz.question
    assert bot.messages_to(GROUP - 1)[0]["text"] == "i" * 290  # the intro, then the poll


# --- keyboards -------------------------------------------------------------------------------


async def test_more_than_100_buttons_are_refused_with_an_error_seen_and_logged(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram refuses a keyboard over 100 buttons: the adapter never sends one, nor a cut one
    that hides choices; the person sees that something went wrong, the log says what (#7)."""
    many = tuple(
        Button(Text("telegram/option", {"text": str(i)}), "x.pick", str(i)) for i in range(101)
    )
    enough = many[:100]
    destination = Destination("telegram", "", str(STAFF), True)
    with caplog.at_level(logging.ERROR, logger="bot.adapters.telegram.adapter"):
        await bot.adapter.push(destination, Reply(text=Text("telegram/choose"), buttons=many), "en")
    await bot.adapter.push(destination, Reply(text=Text("telegram/choose"), buttons=enough), "en")
    refused, shown = bot.messages_to(STAFF)
    assert "reply_markup" not in refused.params and "went wrong" in refused.result["text"]
    assert "telegram.too_many_buttons count=101" in caplog.text
    assert sum(len(row) for row in shown["reply_markup"]["inline_keyboard"]) == 100
    assert bot.tg.calls(ok=False) == []


async def test_a_long_button_label_is_listed_in_full_and_its_button_lettered(bot: Bot) -> None:
    """A choice too long for a button (a form's category, say) would be cut and unreadable: the
    message lists it whole, and its button starts with the same letter (short ones stay)."""
    whole = ("Approve the rectification of the entrance ramp & the rail " * 3).strip()
    long = Text("telegram/option", {"text": whole})
    short = Text("telegram/option", {"text": "Skip"})
    buttons = (Button(long, "x.pick", "1"), Button(short, "x.pick", "2"))
    reply = Reply(text=Text("telegram/choose"), buttons=buttons)
    await bot.adapter.push(Destination("telegram", "", str(STAFF), True), reply, "en")
    [sent] = bot.messages_to(STAFF)
    assert f"A. {whole.replace('&', '&amp;')}" in sent["text"]
    keys = [key["text"] for row in sent["reply_markup"]["inline_keyboard"] for key in row]
    assert keys[0].startswith("A. Approve") and len(keys[0]) == 64 and keys[0].endswith("…")
    assert keys[1] == "Skip"


async def test_a_credit_among_306_colleagues_pages_through_telegram(sqlite_url: str) -> None:
    """The issue's case: verified praise in a unit of 306 people used to send 307 buttons, which
    Telegram refuses, so it could never be closed. Now the choice pages (each keyboard within
    kernel.MAX_BUTTONS), every colleague is reachable, and the praise closes (#7)."""
    async with open_bot(sqlite_url, extra=303) as bot:
        await bot.say("/observe")  # Wang reports praise about his own unit
        await _sends(bot, STAFF, 2)
        await _press(bot, STAFF, "_form.pick|0")  # his own unit comes first
        await _press(bot, STAFF, "_form.pick|0")  # praise
        await bot.say("Person 2303 stayed late to help an old man")
        await _sends(bot, STAFF, 5)
        await _press(bot, STAFF, "_form.pick|0")  # signed
        await bot.say("/score", user=SUPERVISOR)  # something of the bot's to press on
        await _sends(bot, SUPERVISOR, 1)
        await _press(bot, SUPERVISOR, "observe.claim|1")
        await _press(bot, SUPERVISOR, "observe.close|1", count=2)  # the form, its first field
        before = len(_messages(bot, SUPERVISOR))
        await bot.say("Verified with the customer", user=SUPERVISOR)
        await _sends(bot, SUPERVISOR, before + 1)
        asked = len(_messages(bot, SUPERVISOR))
        assert "307 choices" in _messages(bot, SUPERVISOR)[-1].result["text"]
        pages = 1
        while "Next ▶" in _keys(_messages(bot, SUPERVISOR)[-1]):
            await _press(bot, SUPERVISOR, _keys(_messages(bot, SUPERVISOR)[-1])["Next ▶"])
            pages += 1
        assert pages == -(-307 // PAGE)  # nobody in particular and 306 people
        last_page = _keys(_messages(bot, SUPERVISOR)[-1])
        assert len(_messages(bot, SUPERVISOR)) == asked + pages - 1  # each page an edit
        await _press(bot, SUPERVISOR, last_page["Person 2303"])

        async with bot.database.transaction() as session:
            observation = await session.scalar(select(Observation))
            credited = await session.scalar(
                select(Member.id).where(Member.display_name == "Person 2303")
            )
        assert observation is not None and observation.status == "closed"
        assert observation.praised_member_id == credited
        keyboards = [c for c in bot.tg.messages_sent() if c.params.get("reply_markup")]
        assert keyboards and all(len(_keys(c)) <= MAX_BUTTONS for c in keyboards)
        assert bot.tg.calls(ok=False) == []


def _messages(bot: Bot, chat_id: int) -> list[Any]:
    """Every message the bot sent or edited in the chat, in order."""
    return [c for c in bot.tg.messages_sent() if int(c["chat_id"]) == chat_id]


def _keys(call: Any) -> dict[str, str]:
    """A sent or edited message's buttons: label -> callback data."""
    keyboard = (call.params.get("reply_markup") or {}).get("inline_keyboard", [])
    return {b["text"]: b.get("callback_data", "") for row in keyboard for b in row}


async def _sends(bot: Bot, chat_id: int, count: int) -> None:
    await bot.until(lambda: _messages(bot, chat_id), count)


async def _press(bot: Bot, chat_id: int, data: str, count: int = 1) -> None:
    """Press a button on the bot's last message in the chat; wait for the ``count`` messages it
    sends or edits."""
    before = len(_messages(bot, chat_id))
    bot.tg.queue_update(bot.tg.callback_query(data, chat_id, bot.person(chat_id)))
    await _sends(bot, chat_id, before + count)
