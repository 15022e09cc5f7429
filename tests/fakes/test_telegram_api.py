"""Smoke check of the fake Bot API: it answers what the adapter calls, through the real
python-telegram-bot. tests/bot/test_telegram.py drives it through the adapter itself."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Poll,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from tests.fakes.telegram_api import UNREADABLE_BODY, FakeTelegram

TOKEN = "123:ABC"
GROUP = -4_000_000_001
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_the_methods_the_adapter_calls() -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("通过", callback_data="approve|7")]])
    async with FakeTelegram(TOKEN) as tg, Bot(TOKEN, base_url=tg.base_url) as bot:  # getMe
        group = BotCommandScopeAllGroupChats()
        await bot.set_my_commands(
            [BotCommand("score", "My points")], scope=group, language_code="en"
        )
        sent = await bot.send_message(
            42, "<b>审批</b> 请确认", parse_mode="HTML", reply_markup=keyboard
        )
        edited = await bot.edit_message_text("已通过", chat_id=42, message_id=sent.message_id)
        quiz = await bot.send_poll(
            GROUP,
            "绿区?",
            ["红区", "绿区"],
            type=Poll.QUIZ,
            is_anonymous=False,
            correct_option_ids=[1],
            explanation="绿区表示压力正常",
        )
        photo = await bot.send_photo(
            42, PNG, filename="chart.png", caption="<i>本周</i>", parse_mode="HTML"
        )
        document = await bot.send_document(43, b"xlsx", filename="report.xlsx")  # 42 had 3
        assert await bot.set_webhook("https://uplift.example/telegram/webhook", secret_token="s3")
        with pytest.raises(Conflict):
            await bot.get_updates()
        assert await bot.delete_webhook()

    assert tg.count("getMe") == 1 and bot.username == "uplift_test_bot"
    assert tg.last("setMyCommands")["scope"] == {"type": "all_group_chats"}
    assert sent.text == "审批 请确认" and sent.entities[0].type == "bold"  # tags became entities
    assert sent.reply_markup == keyboard
    assert edited.text == "已通过" and edited.reply_markup is None  # the keyboard is gone
    assert quiz.poll.correct_option_ids == (1,) and not quiz.poll.is_anonymous
    assert tg.polls[quiz.poll.id]["explanation"] == "绿区表示压力正常"
    assert photo.caption == "本周" and tg.file_bytes(photo.photo[-1].file_id) == PNG
    assert tg.last("sendPhoto").files["photo"].filename == "chart.png"
    assert document.document.file_name == "report.xlsx"
    assert tg.file_bytes(document.document.file_id) == b"xlsx"
    assert tg.last("setWebhook")["secret_token"] == "s3"


async def test_refusals_flood_control_and_forbidden_chats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22's retry_after as a timedelta
    long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
    async with FakeTelegram(TOKEN) as tg, Bot(TOKEN, base_url=tg.base_url) as bot:
        tg.rate_limit("sendMessage", retry_after=7, chat_id=43)
        with pytest.raises(RetryAfter) as limited:
            await bot.send_message(43, "hi")
        tg.forbid(77)
        with pytest.raises(Forbidden):
            await bot.send_message(77, "hi")
        for kwargs in (
            {"text": "字" * 4097},
            {"text": "a<b>c", "parse_mode": "HTML"},  # not escaped
            {"text": "<br>", "parse_mode": "HTML"},
            {"text": "x", "reply_markup": long_data},
        ):
            with pytest.raises(BadRequest):
                await bot.send_message(42, **kwargs)
        # The limit counts the text Telegram shows, after tags became entities.
        sent = await bot.send_message(42, "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
        with pytest.raises(BadRequest):  # the same text and no keyboard: not modified
            await bot.edit_message_text(sent.text_html, 42, sent.message_id, parse_mode="HTML")
        assert await bot.answer_callback_query("q1")
        with pytest.raises(BadRequest):
            await bot.answer_callback_query("q1")
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("Score", "x")])
        with pytest.raises(BadRequest):
            await bot.set_webhook("https://uplift.example/telegram/webhook", secret_token="a b")
        with pytest.raises(InvalidToken):  # a method the fake does not serve: 404
            await bot.delete_message(42, sent.message_id)
        with pytest.raises(InvalidToken):
            async with Bot("999:WRONG", base_url=tg.base_url):  # getMe with a wrong token
                pass

    assert limited.value.retry_after == dt.timedelta(seconds=7)
    assert tg.ignored_retry_after == []  # nothing else went to chat 43
    assert tg.calls("sendMessage")[0].response["parameters"] == {"retry_after": 7}
    refusals = [c.response["description"] for c in tg.calls(ok=False)]
    assert refusals[2:] == [  # after the 429 and the 403
        "Bad Request: message is too long",
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        'Bad Request: can\'t parse entities: Unsupported start tag "br"',
        "Bad Request: BUTTON_DATA_INVALID",
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
        "Bad Request: query is too old and response timeout expired or query ID is invalid",
        "Bad Request: BOT_COMMAND_INVALID",
        "Bad Request: secret token contains unallowed characters",
        "Not Found",
        "Unauthorized",
    ]


async def test_long_polling_delivers_built_updates_and_repeats() -> None:
    async with FakeTelegram(TOKEN) as tg:
        app = ApplicationBuilder().token(TOKEN).base_url(tg.base_url).build()
        seen: list[Update] = []
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="yes")]])

        async def on_update(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            seen.append(update)
            if update.message and update.message.text:
                await update.message.reply_text("你好", reply_markup=keyboard)

        app.add_handler(TypeHandler(Update, on_update))
        li = tg.user(42, "李雷", language_code="en")
        command = tg.command("score", "week", 42, li)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0.0)
            tg.queue_update(command)
            await tg.wait_for("sendMessage")
            tg.queue_update(command)  # a repeat comes again: the bot must ignore it
            tg.queue_update(tg.callback_query("yes", 42, li))
            tg.queue_update(tg.message(chat_id=42, user=li, photo=PNG, caption="堵塞"))
            await tg.wait_for("sendMessage", count=2)
            for _ in range(500):  # the handler sends nothing for the last two
                if len(seen) == 4:
                    break
                await asyncio.sleep(0.01)
            await app.updater.stop()
            await app.stop()

    assert [u.update_id for u in seen[:2]] == [command["update_id"]] * 2
    assert seen[0].message.text == "/score week" and seen[0].message.from_user.language_code == "en"
    assert seen[0].message.entities[0].type == "bot_command"
    assert seen[2].callback_query.data == "yes" and seen[2].callback_query.message.reply_markup
    assert tg.file_bytes(seen[3].message.photo[-1].file_id) == PNG
    assert tg.count("deleteWebhook") == 1  # PTB's polling bootstrap
    confirmed = tg.last("getUpdates")  # PTB's last call on stop confirms what it handled
    assert (confirmed["offset"], confirmed["timeout"]) == (seen[3].update_id + 1, 0)


async def test_flood_control_poll_and_keyboard_limits_and_unreadable_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    now = [1000.0]
    buttons = [InlineKeyboardButton(str(i), callback_data=str(i)) for i in range(101)]
    too_many = InlineKeyboardMarkup([buttons[i : i + 5] for i in range(0, 101, 5)])
    wide_row = InlineKeyboardMarkup([buttons[:9]])
    async with (
        FakeTelegram(TOKEN, clock=lambda: now[0]) as tg,
        Bot(TOKEN, base_url=tg.base_url) as bot,
    ):
        for _ in range(3):  # a burst of three in one chat passes; the fourth is one too many
            await bot.send_message(42, "hi")
        with pytest.raises(RetryAfter) as per_chat:
            await bot.send_message(42, "hi")
        with pytest.raises(RetryAfter):  # sent into the ban: refused again, and counted
            await bot.send_message(42, "hi")
        now[0] += 1.0
        await bot.send_message(42, "hi")  # the ban is over
        for chat in range(100, 129):  # 29 more chats make 30 messages in this second
            await bot.send_message(chat, "hi")
        with pytest.raises(RetryAfter) as overall:  # the 31st: the whole bot waits
            await bot.send_message(200, "hi")
        now[0] += 2.0
        for _ in range(20):  # twenty in a group within a minute, one every 1.5 s
            await bot.send_message(GROUP, "hi")
            now[0] += 1.5
        with pytest.raises(RetryAfter):
            await bot.send_message(GROUP, "hi")
        now[0] += 60.0
        for kwargs in (
            {"question": "?" * 301, "options": ["a", "b"]},
            {"question": "?", "options": ["a", "b" * 101]},
            {"question": "?", "options": [str(i) for i in range(13)]},
            {"question": "?", "options": ["a", "b"], "explanation": "e" * 201},
            {"question": "?", "options": ["a", "b"], "explanation": "1\n2\n3\n4"},
        ):
            with pytest.raises(BadRequest):
                await bot.send_poll(7, type=Poll.QUIZ, correct_option_ids=[0], **kwargs)
            now[0] += 1.0
        for markup in (too_many, wide_row):
            with pytest.raises(BadRequest):
                await bot.send_message(7, "x", reply_markup=markup)
        tg.answer_unreadably("sendMessage")
        with pytest.raises(TelegramError, match="Invalid server response"):
            await bot.send_message(8, "taken")

    assert per_chat.value.retry_after == dt.timedelta(seconds=1)
    assert overall.value.retry_after == dt.timedelta(seconds=1)
    assert [c["chat_id"] for c in tg.ignored_retry_after] == [42]
    assert len(tg.rate_limited) == 4 and tg.busiest_second() == 30
    refusals = [c.response["description"] for c in tg.calls(ok=False) if c.status == 400]
    assert refusals == [
        "Bad Request: poll question length must not exceed 300",
        "Bad Request: poll options length must not exceed 100",
        "Bad Request: poll can't have more than 12 options",
        "Bad Request: explanation is too long",
        "Bad Request: explanation can't contain more than 2 line feeds",
        "Bad Request: reply markup is too long",
        "Bad Request: too many buttons in a row",
    ]
    taken = tg.last("sendMessage")
    assert taken.ok and taken.unreadable and tg.messages[(8, taken.result["message_id"])]
    assert UNREADABLE_BODY.startswith("<html>")


async def test_each_limit_takes_its_documented_number_and_refuses_one_more() -> None:
    """The edges, each at the number its source gives (see the constants in telegram_api.py):
    what Telegram takes passes, one more is refused."""
    now = [1000.0]
    emoji = "📋"  # two UTF-16 code units, as Telegram counts

    def keyboard(count: int, data: str = "d") -> InlineKeyboardMarkup:
        keys = [InlineKeyboardButton(str(i), callback_data=data) for i in range(count)]
        return InlineKeyboardMarkup([keys[i : i + 8] for i in range(0, count, 8)])

    async with (
        FakeTelegram(TOKEN, clock=lambda: now[0]) as tg,
        Bot(TOKEN, base_url=tg.base_url) as bot,
    ):

        async def takes(send: Any, *args: Any, **kwargs: Any) -> None:
            now[0] += 1.0  # one a second in one chat: flood control stays out of the way
            await send(7, *args, **kwargs)

        async def refuses(send: Any, *args: Any, **kwargs: Any) -> None:
            now[0] += 1.0
            with pytest.raises(BadRequest):
                await send(7, *args, **kwargs)

        await takes(bot.send_message, emoji * 2048)  # 4096 units
        await refuses(bot.send_message, emoji * 2048 + "x")
        await takes(bot.send_photo, PNG, caption="c" * 1024)
        await refuses(bot.send_photo, PNG, caption="c" * 1025)
        await takes(bot.send_message, "x", reply_markup=keyboard(100, "d" * 64))
        await refuses(bot.send_message, "x", reply_markup=keyboard(101))
        await refuses(bot.send_message, "x", reply_markup=keyboard(1, "d" * 65))
        await refuses(bot.send_message, "x", reply_markup=keyboard(1, "字" * 22))  # 66 bytes
        quiz = {"type": Poll.QUIZ, "correct_option_ids": [0]}
        for options in (["a"], [str(i) for i in range(12)]):
            await takes(bot.send_poll, "?", options, **quiz)
        await refuses(bot.send_poll, "?", [str(i) for i in range(13)], **quiz)
        await takes(
            bot.send_poll, "q" * 300, ["o" * 100, "b"], explanation="1\n2\n" + "e" * 196, **quiz
        )
        await refuses(bot.send_poll, "q" * 301, ["a", "b"], **quiz)
        await refuses(bot.send_poll, "?", ["o" * 101, "b"], **quiz)
        await refuses(bot.send_poll, "?", ["a", "b"], explanation="e" * 201, **quiz)
        await refuses(bot.send_poll, "?", ["a", "b"], explanation="1\n2\n3\n", **quiz)

    assert tg.rate_limited == [] and tg.ignored_retry_after == []
