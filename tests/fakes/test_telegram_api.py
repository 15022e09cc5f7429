"""The fake Bot API server, driven by the real python-telegram-bot over HTTP.

These tests pin the fake to PTB's URL shape and to the Bot API's answers, so the adapter's tests
can trust it: if PTB parses what the fake answers, it will parse what Telegram answers.
"""

from __future__ import annotations

import asyncio
import datetime as dtm

import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from tests.fakes import telegram_fixtures
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_fixtures import TEST_TOKEN

fake_telegram = telegram_fixtures.fake_telegram

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _application(tg: FakeTelegram, token: str = TEST_TOKEN) -> Application:
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )


def _bot(tg: FakeTelegram, token: str = TEST_TOKEN) -> Bot:
    return Bot(token, base_url=tg.base_url, base_file_url=tg.base_file_url)


def _error(tg: FakeTelegram, method: str) -> str:
    """The fake's own wording (PTB drops "Bad Request: " and recapitalises what it raises)."""
    return tg.last(method).response["description"]


async def test_urls_follow_ptbs_shape(fake_telegram: FakeTelegram) -> None:
    assert fake_telegram.base_url.startswith("http://127.0.0.1:")
    assert fake_telegram.base_url.endswith("/bot")
    assert fake_telegram.base_file_url == fake_telegram.url + "/file/bot"
    async with _bot(fake_telegram) as bot:
        assert bot.base_url == f"{fake_telegram.base_url}{TEST_TOKEN}"


async def test_get_me(fake_telegram: FakeTelegram) -> None:
    async with _bot(fake_telegram) as bot:
        me = await bot.get_me()
    assert me.is_bot and me.username == "uplift_test_bot" and me.id == 123
    assert me.can_join_groups is True
    assert fake_telegram.count("getMe") >= 1


async def test_send_message_with_inline_keyboard_then_edit(fake_telegram: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("通过", callback_data="approve:7")]])
    async with _bot(fake_telegram) as bot:
        sent = await bot.send_message(
            42, "<b>审批</b> 请确认", parse_mode="HTML", reply_markup=keyboard
        )
        assert sent.message_id > 0 and sent.chat.id == 42 and sent.chat.type == "private"
        assert sent.text == "审批 请确认" and sent.date is not None  # tags became entities
        assert sent.entities[0].type == "bold" and sent.entities[0].length == 2
        assert sent.reply_markup == keyboard

        call = fake_telegram.last("sendMessage")
        assert call["chat_id"] == 42 and call["parse_mode"] == "HTML"
        assert call["reply_markup"] == {
            "inline_keyboard": [[{"text": "通过", "callback_data": "approve:7"}]]
        }

        edited = await bot.edit_message_text("已通过", chat_id=42, message_id=sent.message_id)
        assert edited.text == "已通过" and edited.reply_markup is None  # the keyboard is gone
        assert fake_telegram.sent_message(42, sent.message_id)["text"] == "已通过"
        with pytest.raises(BadRequest):
            await bot.edit_message_text("已通过", chat_id=42, message_id=sent.message_id)
        assert _error(fake_telegram, "editMessageText").startswith(
            "Bad Request: message is not modified"
        )
        with pytest.raises(BadRequest):
            await bot.edit_message_text("x", chat_id=42, message_id=9999)
        assert _error(fake_telegram, "editMessageText") == "Bad Request: message to edit not found"


async def test_refuses_what_telegram_refuses(fake_telegram: FakeTelegram) -> None:
    async with _bot(fake_telegram) as bot:
        long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        refused = [
            ({"text": "字" * 4097}, "Bad Request: message is too long"),
            ({"text": "a<b>c", "parse_mode": "HTML"}, "can't parse entities"),  # not escaped
            ({"text": "<br>", "parse_mode": "HTML"}, 'Unsupported start tag "br"'),
            ({"text": "<b>x</i>", "parse_mode": "HTML"}, "Unmatched end tag"),
            ({"text": " "}, "Bad Request: message text is empty"),
            ({"text": "x", "reply_markup": long_data}, "Bad Request: BUTTON_DATA_INVALID"),
        ]
        for kwargs, error in refused:
            with pytest.raises(BadRequest):
                await bot.send_message(42, **kwargs)
            assert error in _error(fake_telegram, "sendMessage")
        # The limit counts the text Telegram shows, after tags became entities.
        await bot.send_message(42, "<b>" + "字" * 4096 + "</b>", parse_mode="HTML")
        await bot.send_message(42, "1 &lt; 2 &amp; 3", parse_mode="HTML")
    assert fake_telegram.count("sendMessage", ok=True) == 2


async def test_quiz_poll_and_answer(fake_telegram: FakeTelegram) -> None:
    async with _bot(fake_telegram) as bot:
        message = await bot.send_poll(
            -4_000_000_001,
            "灭火器压力表指针应在？",
            ["红区", "绿区", "黄区"],
            type="quiz",
            is_anonymous=False,
            correct_option_ids=[1],
            explanation="绿区表示压力正常",
        )
        poll = message.poll
        assert poll.type == "quiz" and poll.correct_option_ids == (1,)
        assert [o.text for o in poll.options] == ["红区", "绿区", "黄区"]
        assert poll.explanation == "绿区表示压力正常" and not poll.is_anonymous
        assert fake_telegram.polls[poll.id]["message_id"] == message.message_id
        assert fake_telegram.last("sendPoll")["options"] == [
            {"text": "红区"},
            {"text": "绿区"},
            {"text": "黄区"},
        ]

        answer = fake_telegram.poll_answer(poll.id, fake_telegram.user(7, "Han Meimei"), [1])
        parsed = Update.de_json(answer, bot)
        assert parsed.poll_answer.option_ids == (1,) and parsed.poll_answer.user.id == 7

        stopped = await bot.stop_poll(-4_000_000_001, message.message_id)
        assert stopped.is_closed


async def test_photo_and_document_uploads_are_stored(fake_telegram: FakeTelegram) -> None:
    async with _bot(fake_telegram) as bot:
        photo_message = await bot.send_photo(-4_000_000_001, PNG, caption="本周得分")
        document_message = await bot.send_document(
            -4_000_000_001, b"xlsx-bytes", filename="report.xlsx", caption="明细"
        )
        photo_call = fake_telegram.last("sendPhoto")
        assert photo_call.files["photo"].data == PNG
        assert photo_call["caption"] == "本周得分"
        assert fake_telegram.last("sendDocument").files["document"].filename == "report.xlsx"

        largest = photo_message.photo[-1]
        assert fake_telegram.file_bytes(largest.file_id) == PNG
        document = document_message.document
        assert document.file_name == "report.xlsx"
        assert fake_telegram.file_bytes(document.file_id) == b"xlsx-bytes"

        file = await bot.get_file(document.file_id)
        assert file.file_path.startswith(fake_telegram.base_file_url + TEST_TOKEN + "/documents/")
        assert bytes(await file.download_as_bytearray()) == b"xlsx-bytes"

        again = await bot.send_photo(42, largest.file_id)  # resending by file_id, no upload
        assert fake_telegram.file_bytes(again.photo[-1].file_id) == PNG


async def test_a_users_photo_can_be_downloaded(fake_telegram: FakeTelegram) -> None:
    update = fake_telegram.message(photo=PNG, caption="消防通道堵塞", chat_type="group")
    async with _bot(fake_telegram) as bot:
        message = Update.de_json(update, bot).message
        assert message.caption == "消防通道堵塞" and message.chat.type == "group"
        file = await message.photo[-1].get_file()
        assert bytes(await file.download_as_bytearray()) == PNG


async def test_commands_per_scope_and_language(fake_telegram: FakeTelegram) -> None:
    group = BotCommandScopeAllGroupChats()
    async with _bot(fake_telegram) as bot:
        await bot.set_my_commands([BotCommand("start", "开始")], language_code="zh")
        await bot.set_my_commands(
            [BotCommand("drill", "Start a drill")], scope=group, language_code="en"
        )
        assert [c.command for c in await bot.get_my_commands(scope=group, language_code="en")] == [
            "drill"
        ]
        assert await bot.get_my_commands() == ()
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("Start", "x")])
        assert _error(fake_telegram, "setMyCommands") == "Bad Request: BOT_COMMAND_INVALID"
        await bot.delete_my_commands(language_code="zh")
    call = fake_telegram.calls("setMyCommands")[1]
    assert call["scope"] == {"type": "all_group_chats"} and call["language_code"] == "en"
    assert fake_telegram.my_commands({"type": "all_group_chats"}, "en") == [
        {"command": "drill", "description": "Start a drill"}
    ]
    assert fake_telegram.my_commands(language_code="zh") == []


async def test_callback_query_is_answered_once(fake_telegram: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("是", callback_data="yes")]])
    async with _bot(fake_telegram) as bot:
        sent = await bot.send_message(42, "灯亮吗？", reply_markup=keyboard)
        update = fake_telegram.callback_query("yes", chat_id=42, user=fake_telegram.user(42, "Li"))
        query = Update.de_json(update, bot).callback_query
        assert query.data == "yes" and query.message.message_id == sent.message_id
        assert query.message.reply_markup == keyboard  # the message as the fake stored it
        assert await query.answer("已记录")
        with pytest.raises(BadRequest):
            await query.answer()
        assert "query is too old" in _error(fake_telegram, "answerCallbackQuery")
    assert fake_telegram.last("answerCallbackQuery", ok=True)["text"] == "已记录"


async def test_builders_make_updates_ptb_parses(fake_telegram: FakeTelegram) -> None:
    zh = fake_telegram.user(5, "王芳", language_code="zh-hans")
    en = fake_telegram.user(6, "Ann", language_code="en")
    command = fake_telegram.command("bind", "A-01", -100_555, en, "supergroup", mention=True)
    added = fake_telegram.my_chat_member(-4_000_000_009, zh, title="一组")
    async with _bot(fake_telegram) as bot:
        message = Update.de_json(command, bot).message
        assert message.text == "/bind@uplift_test_bot A-01"
        assert message.parse_entities() == {message.entities[0]: "/bind@uplift_test_bot"}
        assert message.chat.type == "supergroup" and message.from_user.language_code == "en"
        member = Update.de_json(added, bot).my_chat_member
        assert member.new_chat_member.status == "member" and member.chat.title == "一组"
        assert member.old_chat_member.status == "left" and member.from_user.id == 5
        assert command["update_id"] < added["update_id"]

        fake_telegram.set_member_status(-4_000_000_009, 5, "administrator")
        admin = await bot.get_chat_member(-4_000_000_009, 5)
        assert admin.status == "administrator" and admin.user.first_name == "王芳"
        assert (await bot.get_chat_member(-4_000_000_009, 123)).status == "member"


async def test_polling_application_answers_a_command(fake_telegram: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(f"你好，{update.effective_user.first_name}")

    app = _application(fake_telegram)
    app.add_handler(CommandHandler("start", start))
    update = fake_telegram.command("start", user=fake_telegram.user(42, "李雷"))
    fake_telegram.queue_update(update)
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        (reply,) = await fake_telegram.wait_for("sendMessage")
        # A repeat reaches the handlers again: PTB does not filter it, the bot must.
        fake_telegram.queue_update(update)
        await fake_telegram.wait_for("sendMessage", count=2)
        await app.updater.stop()
        await app.stop()
    assert reply["chat_id"] == 42 and reply["text"] == "你好，李雷"
    assert fake_telegram.count("deleteWebhook") == 1  # PTB's polling bootstrap
    last_fetch = fake_telegram.last("getUpdates")
    assert last_fetch["offset"] == update["update_id"] + 1 and last_fetch["timeout"] == 0


async def test_get_updates_long_polls_and_confirms(fake_telegram: FakeTelegram) -> None:
    async with _bot(fake_telegram) as bot:
        assert await bot.get_updates(timeout=0) == ()
        first = fake_telegram.queue_update(fake_telegram.message("早"))
        (got,) = await bot.get_updates(timeout=5)  # returns at once: there is an update
        assert got.update_id == first["update_id"] and got.message.text == "早"
        assert len(await bot.get_updates(timeout=0)) == 1  # not confirmed yet
        assert await bot.get_updates(offset=got.update_id + 1, timeout=0) == ()

        # A repeat (Telegram re-sending an update whose confirmation was lost) comes again.
        fake_telegram.queue_update(first)
        (repeat,) = await bot.get_updates(offset=got.update_id + 1, timeout=0)
        assert repeat.update_id == first["update_id"]
        assert await bot.get_updates(offset=repeat.update_id + 1, timeout=0) == ()

        # Long polling: the request waits and returns as soon as an update arrives.
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, fake_telegram.queue_update, fake_telegram.message("晚"))
        started = loop.time()
        (late,) = await bot.get_updates(offset=repeat.update_id + 1, timeout=5)
        assert late.message.text == "晚" and loop.time() - started < 2

        # Types the bot did not ask for are dropped, as Telegram does.
        fake_telegram.queue_update(fake_telegram.my_chat_member())
        assert await bot.get_updates(offset=late.update_id + 1, allowed_updates=["message"]) == ()


async def test_webhook_mode(fake_telegram: FakeTelegram) -> None:
    received: list[dict] = []

    async def webhook(request: web.Request) -> web.Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != "s3cret":
            return web.Response(status=403)
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/telegram"
    try:
        async with _bot(fake_telegram) as bot:
            assert await bot.set_webhook(url, secret_token="s3cret")
            assert (await bot.get_webhook_info()).url == url
            assert fake_telegram.webhook["secret_token"] == "s3cret"
            with pytest.raises(Conflict):
                await bot.get_updates()
            assert "webhook is active" in _error(fake_telegram, "getUpdates")

            update = fake_telegram.message("你好")
            assert await fake_telegram.post_update_to(url, update, secret_token="wrong") == 403
            assert await fake_telegram.post_update_to(url, update, secret_token="s3cret") == 200
            fake_telegram.queue_update(fake_telegram.message("第二条"))
            assert await fake_telegram.push_updates() == [200]
            assert (await bot.get_webhook_info()).pending_update_count == 0
            assert await bot.delete_webhook()
            assert (await bot.get_webhook_info()).url == ""
    finally:
        await runner.cleanup()
    assert [u["message"]["text"] for u in received] == ["你好", "第二条"]


async def test_flood_control_raises_retry_after(
    fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22's retry_after as a timedelta
    fake_telegram.rate_limit("sendMessage", times=2, retry_after=7)
    async with _bot(fake_telegram) as bot:
        for _ in range(2):
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(42, "hi")
            assert raised.value.retry_after == dtm.timedelta(seconds=7)
        await bot.send_message(42, "hi")
    assert fake_telegram.count("sendMessage") == 3
    assert fake_telegram.count("sendMessage", ok=True) == 1
    assert fake_telegram.calls("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


async def test_fail_and_forbid(fake_telegram: FakeTelegram) -> None:
    fake_telegram.fail("sendChatAction", "Bad Request: chat not found")
    fake_telegram.forbid(77)
    async with _bot(fake_telegram) as bot:
        with pytest.raises(BadRequest):
            await bot.send_chat_action(42, "typing")
        assert _error(fake_telegram, "sendChatAction") == "Bad Request: chat not found"
        assert await bot.send_chat_action(42, "typing")
        with pytest.raises(Forbidden):
            await bot.send_message(77, "hi")
        assert fake_telegram.last("sendMessage").status == 403
        fake_telegram.allow(77)
        await bot.send_message(77, "hi")
        assert await bot.delete_message(42, 1)  # any other method: recorded, ok true
    assert fake_telegram.last("deleteMessage")["message_id"] == 1


async def test_wrong_token_is_unauthorized(fake_telegram: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with _bot(fake_telegram, token="999:WRONG") as bot:
            await bot.get_me()
    call = fake_telegram.last("getMe")
    assert call.status == 401
    assert call.response == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_wait_for_fails_clearly_and_reset_forgets(fake_telegram: FakeTelegram) -> None:
    with pytest.raises(AssertionError, match="expected 1 sendMessage"):
        await fake_telegram.wait_for("sendMessage", timeout=0.05)
    async with _bot(fake_telegram) as bot:
        await bot.send_message(42, "hi")
    fake_telegram.reset()
    assert fake_telegram.calls() == []
    assert fake_telegram.sent_message(42, 1)["text"] == "hi"  # the state stays
