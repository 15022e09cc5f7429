"""A hundred commands at once on SQLite: every one answered, none "database is locked"; a
Slack command acknowledged before it is handled.

Every event writes (its id is recorded for idempotency), so they all want SQLite's one write
lock at once: they must queue in the process rather than each hold a pooled connection while
spinning on the busy timeout, which ran the pool dry and failed two commands in three."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.metrics import Metrics
from handlers import build_router
from kernel import ChatRef, Event, EventKind, MovableClock, Role, SenderRef
from storage.database import Database, PoolSettings
from storage.models import ProcessedEvent
from tests.bot.adapters.slack.bolt_bot import slack_bot
from tests.fakes.slack_api import RESPONSE_URL
from tests.harness import rows, seat_people

NOW = dt.datetime(2027, 3, 3, 2, 0, tzinfo=dt.UTC)
PEOPLE = 100
CHAT = "C0LOAD"


def score(user: str, index: int) -> Event:
    return Event(
        kind=EventKind.COMMAND,
        sender=SenderRef("slack", user, workspace="T0LOAD"),
        chat=ChatRef("slack", CHAT, is_group=True, workspace="T0LOAD"),
        received_at=NOW,
        event_id=f"command:{index}",
        command="help",
    )


async def test_a_hundred_commands_at_once_on_sqlite_all_succeed(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    people = [(f"U{i:04d}", f"Person {i}", Role.STAFF) for i in range(PEOPLE)]
    # A pool far smaller than the crowd: writers wait for their turn, not for a connection.
    database = Database(sqlite_url, pool=PoolSettings(size=2, max_overflow=0))
    metrics = Metrics()
    try:
        await seat_people(
            database, platform="slack", workspace="T0LOAD", chat=CHAT, people=people, now=NOW
        )
        dispatcher = Dispatcher(
            database,
            build_router(),
            MovableClock(NOW),
            DispatcherSettings(default_locale="en"),
            metrics=metrics,
        )

        async def reader() -> int:  # reads meanwhile, beside the writers
            async with database.reading() as store:
                return sum((await store.health.outbox_counts()).values())

        outcomes = await asyncio.gather(
            *(dispatcher.handle(score(user, i)) for i, (user, _, _) in enumerate(people)),
            *(reader() for _ in range(20)),
        )

        answers = outcomes[:PEOPLE]
        templates = [r.text.template for o in answers for r in o.replies if r.text]  # type: ignore[union-attr]
        assert len(answers) == PEOPLE
        assert "errors/internal" not in templates
        assert all(o.replies for o in answers)
        assert len(await rows(database, ProcessedEvent)) == PEOPLE
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        text = metrics.exposition().decode()
        assert 'uplift_events_total{kind="command",platform="slack"} 100.0' in text
        assert 'uplift_handler_seconds_count{kind="command"} 100.0' in text
    finally:
        await database.dispose()


async def test_sqlite_writers_wait_their_turn_without_a_connection_and_readers_do_not_wait(
    sqlite_url: str,
) -> None:
    """While one unit of work writes, fifty more writers hold no pooled connection (they wait
    in the process for their turn) and a reader goes ahead beside the writer (WAL)."""
    database = Database(sqlite_url, pool=PoolSettings(size=2, max_overflow=0))
    release = asyncio.Event()
    writing = asyncio.Event()
    try:

        async def first_writer() -> None:
            async with database.store() as store:
                await store.events.first_time("test", "first", NOW)
                writing.set()
                await release.wait()

        async def writer(index: int) -> None:
            async with database.store() as store:
                await store.events.first_time("test", f"w{index}", NOW)

        first = asyncio.create_task(first_writer())
        await writing.wait()
        others = [asyncio.create_task(writer(i)) for i in range(50)]
        for _ in range(5):
            await asyncio.sleep(0)  # let them all reach their turn
        assert database.engine.pool.checkedout() == 1  # type: ignore[attr-defined]

        async with database.reading() as store:  # not blocked by the writer
            assert await store.health.database_answers()

        release.set()
        await asyncio.gather(first, *others)
        assert len(await rows(database, ProcessedEvent)) == 51
    finally:
        await database.dispose()


async def test_a_slash_command_is_acknowledged_before_it_is_handled(sqlite_url: str) -> None:
    """Slack waits 3 seconds for the ack: a command is acknowledged at once, even while the
    database is busy with another writer, and answered through its response_url after."""
    async with slack_bot(sqlite_url) as bot:
        release, writing = asyncio.Event(), asyncio.Event()

        async def busy_writer() -> None:
            async with bot.database.store() as store:
                await store.events.first_time("test", "busy", NOW)
                writing.set()
                await release.wait()

        busy = asyncio.create_task(busy_writer())
        await writing.wait()

        await bot.command("/help")  # asserts the 200

        assert bot.slack.calls(RESPONSE_URL) == []  # not handled yet: it waits for its turn
        release.set()
        await busy
        [answer] = await bot.answers()
        assert answer.status == 200
