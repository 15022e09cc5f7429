"""The Telegram adapter as the tests drive it: the real python-telegram-bot Application, long
polling against the strict fake Bot API, on a seated office, with one moving clock.

The adapter and the fake share the clock: the adapter's pacing "sleeps" by moving it (no real
waiting), and the fake checks Telegram's flood limits on the same clock, so a test can wait out a
429's retry_after by moving the clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.adapters.telegram import TelegramAdapter
from bot.delivery import Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import Scheduler
from handlers import JOBS, build_router
from kernel import MovableClock, Reply, Role
from messages import Renderer
from storage.database import Database
from storage.models import OutboxMessage
from storage.store import Store
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import seat_people

TOKEN = "123:ABC"
GROUP = -4_000_000_001
STAFF, SUPERVISOR, ADMIN, STRANGER = 1001, 1002, 1003, 1009
NAMES = {STAFF: "Wang Fang", SUPERVISOR: "Chen Jing", ADMIN: "Li Ming", STRANGER: "Zhou Xin"}
MONDAY_0800 = dt.datetime(2027, 1, 4, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
NOTICE_GATHER = 0.3  # real seconds the group pointer waits for others asking at once


def moving_sleep(clock: MovableClock) -> Callable[[float], Awaitable[None]]:
    """The adapter's wait: the clock moves on at once (and other tasks get a turn)."""

    async def sleep(seconds: float) -> None:
        clock.advance(dt.timedelta(seconds=seconds))
        await asyncio.sleep(0)

    return sleep


def fake_clock(clock: MovableClock) -> Callable[[], float]:
    return lambda: clock.now().timestamp()


@dataclass
class Bot:
    tg: FakeTelegram
    adapter: TelegramAdapter
    database: Database
    clock: MovableClock
    scheduler: Scheduler
    sender: Sender

    def person(self, user_id: int) -> dict[str, Any]:
        name = NAMES.get(user_id, f"Person {user_id}")
        return self.tg.user(user_id, name, language_code="en")

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
        found = await self.until(lambda: self.messages_to(chat_id), count)
        return found

    def messages_to(self, chat_id: int, method: str = "sendMessage") -> list[Any]:
        """The messages the fake took for ``chat_id``."""
        return [c for c in self.tg.calls(method, ok=True) if int(c["chat_id"]) == chat_id]

    async def until(self, found: Callable[[], list[Any]], count: int = 1) -> list[Any]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if len(now := found()) >= count:
                return now
            await asyncio.sleep(0.02)
        raise AssertionError(f"{count} expected, got {found()}; calls: {self.tg.recorded[-20:]}")

    async def rows(self, model: Any) -> int:
        async with self.database.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def outbox(self) -> list[OutboxMessage]:
        async with self.database.transaction() as session:
            return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    async def queue(self, key: str, chat_id: int, reply: Reply, locale: str = "en") -> None:
        now = self.clock.now()
        async with self.database.transaction() as session:
            await Store(session).outbox.enqueue(
                key=key,
                platform="telegram",
                chat_id=str(chat_id),
                reply=reply.to_json(),
                locale=locale,
                due_at=now,
                now=now,
                private=chat_id > 0,
            )

    async def flush_until_quiet(self, step: float = 1.5, rounds: int = 40) -> None:
        """Flush the outbox, moving the clock on, until nothing is pending."""
        for _ in range(rounds):
            await self.sender.flush()
            if not [m for m in await self.outbox() if m.status == "pending"]:
                return
            self.clock.advance(dt.timedelta(seconds=step))


async def seat(database: Database, now: dt.datetime, extra: int = 0) -> list[int]:
    """The postal bank's Renmin Road outlet with its group, three people and ``extra`` staff
    (user ids 2001…); return the extra staff's ids."""
    more = [2001 + i for i in range(extra)]
    people = [
        (str(STAFF), NAMES[STAFF], Role.STAFF),
        (str(SUPERVISOR), NAMES[SUPERVISOR], Role.SUPERVISOR),
        (str(ADMIN), NAMES[ADMIN], Role.ADMIN),
        *((str(user), f"Person {user}", Role.STAFF) for user in more),
    ]
    await seat_people(database, platform="telegram", chat=str(GROUP), people=people, now=now)
    return more


@asynccontextmanager
async def open_bot(
    db_url: str, *, extra: int = 0, notice_gather: float = NOTICE_GATHER, **adapter_options: Any
) -> AsyncIterator[Bot]:
    database = Database(db_url)
    now = MONDAY_0800.astimezone(dt.UTC)
    await seat(database, now, extra)
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
            sleep=moving_sleep(clock),
            notice_gather=notice_gather,
            **adapter_options,
        )
        await adapter.start()
        try:
            yield Bot(
                tg,
                adapter,
                database,
                clock,
                Scheduler(database, clock, JOBS),
                Sender(
                    database, clock, {"telegram": adapter}, sleep=moving_sleep(clock), concurrency=1
                ),
            )
        finally:
            await adapter.stop()
            await database.dispose()
