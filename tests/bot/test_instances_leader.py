"""Leadership of the scheduler: one holder of the advisory lock at a time on PostgreSQL, always
the one process on SQLite; the tick runs only while this process leads. Messages queued in one
instance wake the senders of all (PostgreSQL NOTIFY)."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.scheduler import start_ticking
from kernel import Window
from storage.database import Database
from storage.leadership import Leadership
from storage.wakeups import Wakeups, tell_instances


async def test_one_leadership_at_a_time_and_the_next_takes_it_when_freed(db_url: str) -> None:
    first, second = Leadership(db_url), Leadership(db_url)
    try:
        assert await first.claim()
        assert await first.claim()  # kept
        sqlite = db_url.startswith("sqlite")
        assert await second.claim() is sqlite  # SQLite: one process, always the leader
        await first.release()
        assert await second.claim()
    finally:
        await first.release()
        await second.release()


class Switch:
    """A leadership the test turns on and off."""

    def __init__(self) -> None:
        self.leads = False
        self.want = False
        self.claims = asyncio.Event()

    async def claim(self) -> bool:
        self.leads = self.want
        self.claims.set()
        return self.leads

    async def release(self) -> None:
        self.leads = False


class CountingScheduler:
    def __init__(self) -> None:
        self.ticks = 0
        self.ticked = asyncio.Event()

    async def tick(self) -> Window:
        self.ticks += 1
        self.ticked.set()
        now = dt.datetime.now(dt.UTC)
        return Window(now, now)


async def claimed(switch: Switch) -> None:
    switch.claims.clear()
    await asyncio.wait_for(switch.claims.wait(), 5)
    await asyncio.sleep(0)  # the claim's effect on the tick job


async def test_only_the_leader_ticks_and_a_new_leader_ticks_at_once() -> None:
    switch, scheduler = Switch(), CountingScheduler()
    woken: list[int] = []

    async def wake() -> None:
        woken.append(scheduler.ticks)

    ticking = start_ticking(
        scheduler,  # type: ignore[arg-type]
        None,
        dt.timedelta(hours=1),
        leadership=switch,  # type: ignore[arg-type]
        claim_every=dt.timedelta(seconds=0.01),
        after_tick=wake,
    )
    try:
        await claimed(switch)
        await claimed(switch)
        assert scheduler.ticks == 0 and not ticking.leader  # a follower does not tick

        switch.want = True
        await asyncio.wait_for(scheduler.ticked.wait(), 5)  # leads: ticks at once
        assert ticking.leader and woken == [1]  # and wakes the sender after the tick

        switch.want = False
        await claimed(switch)
        await claimed(switch)
        assert not ticking.leader and scheduler.ticks == 1
    finally:
        await ticking.stop()
    assert not switch.leads  # a stop hands the leadership over


async def test_queued_messages_wake_the_senders_of_every_instance(database: Database) -> None:
    woken = asyncio.Event()
    wakeups = Wakeups(database.url, woken.set)
    wakeups.start()
    try:
        if database.is_sqlite:  # one process: nobody else to wake
            await tell_instances(database)
            assert not woken.is_set()
            return
        await asyncio.wait_for(woken.wait(), 5)  # on listening: whatever was said meanwhile
        woken.clear()
        await tell_instances(database)
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        await wakeups.stop()
