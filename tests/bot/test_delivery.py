"""The sender: what it does with a push that fails oddly, and with one left stale by downtime."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.delivery import Destination, Sender
from kernel import MovableClock, Reply, Text
from storage.database import Database
from storage.models import OutboxMessage
from storage.store import Store

NOW = dt.datetime(2027, 1, 4, 1, 0, tzinfo=dt.UTC)


class Flaky:
    """A platform that breaks on one chat (a bug, not a refusal) and takes the rest."""

    platform = "flaky"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def pace(self, destination: Destination) -> dt.timedelta:
        return dt.timedelta(0)

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        if destination.chat_id == "broken":
            raise KeyError("a bug in the adapter")
        self.sent.append(destination.chat_id)
        return "1"


async def queue(database: Database, key: str, chat: str, due: dt.datetime) -> None:
    async with database.transaction() as session:
        await Store(session).outbox.enqueue(
            key=key,
            platform="flaky",
            chat_id=chat,
            reply=Reply(text=Text("errors/internal")).to_json(),
            locale="en",
            due_at=due,
            now=due,
        )


async def statuses(database: Database) -> dict[str, str]:
    async with database.transaction() as session:
        rows = await session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status))
        return dict(rows.all())


async def test_an_unexpected_error_does_not_block_the_queue(database: Database) -> None:
    await queue(database, "first", "broken", NOW)
    await queue(database, "second", "fine", NOW)
    platform = Flaky()
    sender = Sender(database, MovableClock(NOW), {"flaky": platform})
    assert await sender.flush() == 1
    assert platform.sent == ["fine"]
    assert await statuses(database) == {"first": "pending", "second": "sent"}  # tried again later


async def test_a_push_left_stale_by_downtime_is_skipped_not_sent_late(database: Database) -> None:
    await queue(database, "old", "fine", NOW - dt.timedelta(hours=3))
    await queue(database, "recent", "fine", NOW - dt.timedelta(minutes=30))
    platform = Flaky()
    sender = Sender(
        database, MovableClock(NOW), {"flaky": platform}, stale_after=dt.timedelta(hours=2)
    )
    assert await sender.flush() == 1
    assert await statuses(database) == {"old": "skipped", "recent": "sent"}
