"""The sender at the platforms' limits (issue 13), through the real python-telegram-bot and
slack_sdk code against the strict fakes, on one moving clock: two instances together keep to
Telegram's overall limit, a 429 one instance earns holds the chat for the other (the pacing is in
the database), a Slack channel gets about a message a second, and a drill is one HTTP message
when the poll can carry it."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.adapters.telegram import TelegramAdapter
from bot.delivery import Destination, Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.metrics import Metrics
from handlers import build_router
from kernel import Quiz, Reply, Text
from messages import Renderer
from storage.models import OutboxMessage, SendPace
from storage.store import Store
from tests.bot.adapters.slack.bolt_bot import CHANNEL, TEAM_ID, slack_bot
from tests.bot.adapters.telegram.telegram_bot import TOKEN, Bot, moving_sleep, open_bot

CHOOSE = Reply(text=Text("telegram/choose"))


def quiz(question: str = "Which zone means normal pressure?") -> Quiz:
    return Quiz(
        question=question,
        options=("Red", "Green", "Amber"),
        correct_option=1,
        explanation="Green is normal.",
        action="drill.answer",
        ref="1",
    )


async def another_instance(bot: Bot) -> tuple[TelegramAdapter, Sender]:
    """A second process's adapter and sender: same database, same bot token, no memory shared."""
    dispatcher = Dispatcher(
        bot.database, build_router(), bot.clock, DispatcherSettings(default_locale="zh")
    )
    adapter = TelegramAdapter(
        dispatcher,
        Renderer(),
        bot.clock,
        token=TOKEN,
        api_url=bot.tg.base_url,
        sleep=moving_sleep(bot.clock),
    )
    await adapter.application.initialize()
    sender = Sender(
        bot.database,
        bot.clock,
        {"telegram": adapter},
        sleep=moving_sleep(bot.clock),
        concurrency=1,
        name="second",
    )
    return adapter, sender


async def test_two_instances_together_keep_to_telegrams_overall_limit(sqlite_url: str) -> None:
    async with open_bot(sqlite_url) as bot:
        adapter, second = await another_instance(bot)
        try:
            chats = [3001 + i for i in range(40)]
            for chat in chats:
                await bot.queue(f"push:{chat}", chat, CHOOSE)
            for _ in range(20):
                await asyncio.gather(bot.sender.flush(), second.flush())
                if not [m for m in await bot.outbox() if m.status == "pending"]:
                    break
                bot.clock.advance(dt.timedelta(seconds=0.5))
        finally:
            await adapter.application.shutdown()
        sent = sorted(int(c["chat_id"]) for c in bot.tg.messages_sent())
        assert sent == chats  # every one, once
        assert bot.tg.rate_limited == [] and bot.tg.ignored_retry_after == []
        assert bot.tg.busiest_second() <= 30


async def test_a_429_one_instance_earns_holds_the_chat_for_the_other(sqlite_url: str) -> None:
    async with open_bot(sqlite_url) as bot:
        adapter, second = await another_instance(bot)
        metrics = Metrics()
        first = Sender(
            bot.database,
            bot.clock,
            {"telegram": bot.adapter},
            sleep=moving_sleep(bot.clock),
            concurrency=1,
            metrics=metrics,
        )
        try:
            start = bot.clock.now()
            bot.tg.rate_limit("sendMessage", retry_after=5, chat_id=3001)
            await bot.queue("first", 3001, CHOOSE)
            await first.flush()
            assert len(bot.tg.rate_limited) == 1
            assert metrics.rate_limited.labels(platform="telegram")._value.get() == 1
            async with bot.database.transaction() as session:
                held = await session.scalar(
                    select(SendPace.free_at).where(SendPace.key == "telegram::3001")
                )
            assert held == start + dt.timedelta(seconds=5)

            await bot.queue("second", 3001, CHOOSE)
            bot.clock.advance(dt.timedelta(seconds=2))
            assert await second.flush() == 0  # it never saw the 429, the database did
            assert bot.tg.ignored_retry_after == [] and len(bot.tg.calls("sendMessage")) == 1

            bot.clock.advance(dt.timedelta(seconds=3))
            for _ in range(5):
                await second.flush()
                bot.clock.advance(dt.timedelta(seconds=1.5))
        finally:
            await adapter.application.shutdown()
        statuses = [(m.idempotency_key, m.status) for m in await bot.outbox()]
        assert statuses == [("first", "sent"), ("second", "sent")]  # nothing lost
        assert len(bot.messages_to(3001)) == 2 and bot.tg.ignored_retry_after == []


async def test_a_slack_channel_gets_about_a_message_a_second(sqlite_url: str) -> None:
    async with slack_bot(sqlite_url) as bot:
        async with bot.database.store() as store:
            for n in range(6):
                await store.outbox.enqueue(
                    key=f"push:{n}",
                    platform="slack",
                    workspace=TEAM_ID,
                    chat_id=CHANNEL,
                    reply=Reply(text=Text("telegram/choose")).to_json(),
                    locale="en",
                    due_at=bot.clock.now(),
                    now=bot.clock.now(),
                )
        for _ in range(6):
            await bot.sender.flush()
            bot.clock.advance(dt.timedelta(seconds=1))
        posts = bot.slack.calls("chat.postMessage")
        assert [c.status for c in posts] == [200] * 6 and bot.slack.flood_limited == []
        async with bot.database.transaction() as session:
            statuses = set(await session.scalars(select(OutboxMessage.status)))
        assert statuses == {"sent"}


async def test_a_drill_is_one_http_message_when_the_poll_carries_its_intro(
    sqlite_url: str,
) -> None:
    """The sender counts what the adapter will send: a drill whose intro folds into the poll's
    question is one message; an intro too long for the question is a message of its own."""
    async with open_bot(sqlite_url) as bot:
        group = Destination("telegram", "", "-4000000001", False)
        folded = Reply(text=Text("telegram/choose"), quiz=quiz())
        long_intro = Text("telegram/option", {"text": "Today's drill. " * 20})
        apart = Reply(text=long_intro, quiz=quiz())
        assert bot.adapter.cost(group, folded, "en") == 1
        assert bot.adapter.cost(group, apart, "en") == 2
        await bot.queue("folded", -4000000001, folded)
        await bot.queue("apart", -4000000002, apart)
        await bot.flush_until_quiet(step=4)
        assert [m.status for m in await bot.outbox()] == ["sent", "sent"]
        polls = bot.tg.calls("sendPoll", ok=True)
        assert len(polls) == 2 and polls[0]["question"].endswith(quiz().question)
        assert bot.messages_to(-4000000001) == [] and len(bot.messages_to(-4000000002)) == 1
        async with bot.database.transaction() as session:
            store = Store(session)
            assert await store.outbox.next_due({"telegram"}, bot.clock.now()) is None
