"""The sender's claims and waking (issue 13): two senders on one database deliver every message
exactly once, a dead sender's claim runs out and its rows are sent by another, ``wake()`` makes
``run()`` send at once, and the pacing both keep to lives in the database."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import select

from bot.delivery import HORIZON, Destination, Sender
from bot.metrics import Metrics
from kernel import MovableClock, Reply, Text
from storage.database import Database
from storage.models import OutboxMessage, SendPace
from storage.store import Store

NOW = dt.datetime(2027, 1, 4, 1, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


class Channels:
    """A platform that takes everything, a second apart per chat (as Slack's channels),
    yielding once per message as an HTTP call would."""

    platform = "fake"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def pace(self, destination: Destination) -> dt.timedelta:
        return SECOND

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        await asyncio.sleep(0)
        self.sent.append(destination.chat_id)
        return "1"


class Recorder(Channels):
    """As Channels, and 50 messages a second in all (as Telegram's bot): two senders share the
    overall pace through the database."""

    per_second = 50.0

    def cost(self, destination: Destination, reply: Reply, locale: str) -> int:
        return 1


def moving(clock: MovableClock) -> Callable[[float], Awaitable[None]]:
    """The sender's wait for a slot: the clock moves on at once."""

    async def sleep(seconds: float) -> None:
        clock.advance(dt.timedelta(seconds=seconds))
        await asyncio.sleep(0)

    return sleep


async def queue(database: Database, chats: list[str], due: dt.datetime = NOW) -> None:
    async with database.store() as store:
        for chat in chats:
            await store.outbox.enqueue(
                key=f"push:{chat}",
                platform="fake",
                chat_id=chat,
                reply=Reply(text=Text("errors/internal")).to_json(),
                locale="en",
                due_at=due,
                now=due,
            )


async def statuses(database: Database) -> Counter[str]:
    async with database.transaction() as session:
        return Counter(await session.scalars(select(OutboxMessage.status)))


async def sent_soon(platform: Recorder) -> list[str]:
    """What ``platform`` was sent within five seconds (bounded: a sender that missed its wake
    would sleep on)."""
    for _ in range(250):
        if platform.sent:
            break
        await asyncio.sleep(0.02)
    return platform.sent


async def test_two_senders_flushing_at_once_deliver_every_message_exactly_once(
    db_url: str,
) -> None:
    """Two instances (each its own engine and pool) claim from one outbox at the same moment:
    no row is handed to both, and together they keep to the platform's overall pace."""
    first, second = Database(db_url), Database(db_url)
    try:
        chats = [f"chat{i}" for i in range(120)]
        await queue(first, chats)
        clock = MovableClock(NOW)
        platform = Recorder()
        senders = [
            Sender(db, clock, {"fake": platform}, sleep=moving(clock), name=name)
            for db, name in ((first, "one"), (second, "two"))
        ]
        for _ in range(10):
            await asyncio.gather(*(sender.flush(limit=1000) for sender in senders))
            if (await statuses(first))["pending"] == 0:
                break
            clock.advance(SECOND)
        assert Counter(platform.sent) == Counter(dict.fromkeys(chats, 1))  # each exactly once
        assert await statuses(first) == {"sent": 120}
        async with first.transaction() as session:
            overall = await session.scalar(select(SendPace.free_at).where(SendPace.key == "fake:*"))
        assert overall is not None and overall >= NOW + dt.timedelta(seconds=120 / 50)
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_dead_senders_claim_runs_out_and_another_sends_its_rows(
    database: Database,
) -> None:
    await queue(database, ["a", "b"])
    async with database.store() as store:  # a sender claims both, then dies before sending
        claimed = await store.outbox.claim(
            platform="fake", now=NOW, limit=10, owner="dead", lease=dt.timedelta(seconds=60)
        )
    assert len(claimed) == 2
    clock = MovableClock(NOW)
    platform = Recorder()
    sender = Sender(database, clock, {"fake": platform}, sleep=moving(clock))
    assert await sender.flush() == 0  # claimed by another, whose lease has not run out
    async with database.store() as store:
        assert await store.outbox.next_due({"fake"}, clock.now()) == NOW + dt.timedelta(minutes=1)
    clock.advance(dt.timedelta(seconds=61))
    assert await sender.flush() == 2
    assert sorted(platform.sent) == ["a", "b"] and await statuses(database) == {"sent": 2}
    async with database.transaction() as session:
        owners = set(await session.scalars(select(OutboxMessage.claimed_by)))
    assert owners == {None}  # recorded, the claims end


async def test_a_chat_is_paced_in_the_database_for_every_instance(database: Database) -> None:
    """Four rows to one chat, a second apart: a flush sends those whose slots fall within
    HORIZON (waiting for each), puts the last back until its slot, and another sender (another
    instance, no memory shared) keeps to the same slot."""
    async with database.store() as store:
        for key in ("one", "two", "three", "four"):
            await store.outbox.enqueue(
                key=key,
                platform="fake",
                chat_id="same",
                reply=Reply(text=Text("errors/internal")).to_json(),
                locale="en",
                due_at=NOW,
                now=NOW,
            )
    clock = MovableClock(NOW)
    platform = Channels()
    metrics = Metrics()
    first = Sender(database, clock, {"fake": platform}, sleep=moving(clock), metrics=metrics)
    other = Sender(database, clock, {"fake": Channels()})
    assert HORIZON == 2 * SECOND
    assert await first.flush() == 3 and platform.sent == ["same"] * 3
    assert clock.now() == NOW + 2 * SECOND  # it waited for each slot
    assert await other.flush() == 0  # the chat's next slot is a second away for everyone
    async with database.transaction() as session:
        pace = await session.scalar(select(SendPace.free_at).where(SendPace.key == "fake::same"))
        four = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "four")
        )
    assert pace == NOW + 3 * SECOND
    assert four is not None and four.status == "pending"
    assert four.next_attempt_at == NOW + 3 * SECOND  # put back until its slot
    assert metrics.sends.labels(platform="fake", outcome="sent")._value.get() == 3


async def test_wake_makes_run_send_at_once(database: Database) -> None:
    clock = MovableClock(NOW)
    platform = Recorder()
    sender = Sender(database, clock, {"fake": platform}, sleep=moving(clock))
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        await asyncio.sleep(0.05)  # run() looked, found nothing, and sleeps (a minute at most)
        await queue(database, ["woken"])
        sender.wake()
        assert await sent_soon(platform) == ["woken"]  # a missed wake sleeps on for a minute
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
    assert await statuses(database) == {"sent": 1}


async def test_flush_still_sends_everything_due_to_an_unpaced_platform_in_order(
    database: Database,
) -> None:
    """The console (no pace, no overall limit): every row of a chat in one flush, in order."""

    class Plain:
        platform = "fake"

        def __init__(self) -> None:
            self.sent: list[str] = []

        def pace(self, destination: Destination) -> dt.timedelta:
            return dt.timedelta(0)

        async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
            self.sent.append(destination.chat_id)
            return None

    async with database.store() as store:
        for n, chat in enumerate(["a", "a", "b", "a", "c"]):
            await store.outbox.enqueue(
                key=f"k{n}",
                platform="fake",
                chat_id=chat,
                reply=Reply(text=Text("errors/internal")).to_json(),
                locale="en",
                due_at=NOW + dt.timedelta(microseconds=n),
                now=NOW,
            )
    platform = Plain()
    sender = Sender(database, MovableClock(NOW + SECOND), {"fake": platform})
    assert await sender.flush() == 5
    assert platform.sent == ["a", "a", "b", "a", "c"]


async def test_the_outbox_repository_claims_nothing_twice(database: Database) -> None:
    await queue(database, ["x", "y", "z"])
    async with database.store() as store:
        first = await store.outbox.claim(
            platform="fake", now=NOW, limit=2, owner="one", lease=dt.timedelta(seconds=60)
        )
    async with database.store() as store:
        second = await store.outbox.claim(
            platform="fake", now=NOW, limit=10, owner="two", lease=dt.timedelta(seconds=60)
        )
        assert await store.outbox.due(NOW, {"fake"}) == []
    assert [m.chat_id for m in first] == ["x", "y"] and [m.chat_id for m in second] == ["z"]
    async with database.transaction() as session:
        rows = await Store(session).outbox.claimed(m.id for m in first + second)
    assert {m.claimed_by for m in rows.values()} == {"one", "two"}


async def test_a_row_queued_by_another_instance_wakes_run_on_postgresql(db_url: str) -> None:
    """PostgreSQL's LISTEN/NOTIFY: the row is queued through another engine (another process)
    and nobody calls wake(); run() sends it at once, not after its idle wait."""
    if "sqlite" in db_url:
        pytest.skip("SQLite has one process: its own wake() is all there is")
    database, elsewhere = Database(db_url), Database(db_url)
    clock = MovableClock(NOW)
    platform = Recorder()
    sender = Sender(database, clock, {"fake": platform}, sleep=moving(clock))
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        await asyncio.sleep(0.3)  # listening, nothing due: it sleeps (half a minute at most)
        await queue(elsewhere, ["notified"])
        assert await sent_soon(platform) == ["notified"]  # without the notice it sleeps on
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
        await database.dispose()
        await elsewhere.dispose()
