"""The scheduler: finds the pushes that fell due and puts them in the outbox.

Schedules are not stored as timers: each tick looks at the window from the last tick to now and
asks every job what fell due in it, deriving it from the plan and the database. A restart resumes
from the saved mark, so nothing is lost; every push has an idempotency key, so nothing is repeated;
a push missed for longer than the plan's grace window is skipped and logged, not sent stale.
APScheduler's asyncio scheduler (in UTC) only drives the ticks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from handlers import Job
from kernel import Clock, Window
from storage.database import Database

log = logging.getLogger(__name__)

MARK = "pushes"
FIRST_LOOK_BACK = dt.timedelta(hours=24)  # on the very first start, catch up within the grace
STOP_GRACE_SECONDS = 10.0  # a run in progress at a stop gets this long to finish


class Scheduler:
    def __init__(self, database: Database, clock: Clock, jobs: Sequence[Job]) -> None:
        self._database = database
        self._clock = clock
        self._jobs = tuple(jobs)

    async def tick(self) -> Window:
        """Run every job over the window since the last tick, in one transaction with a
        savepoint per job: a failing job undoes only its own work and keeps the mark where it
        was, so the next tick covers the window again (idempotency keys stop repeats)."""
        now = self._clock.now()
        async with self._database.store() as store:
            reached = await store.scheduler_marks.reached(MARK)
            since = reached if reached else now - FIRST_LOOK_BACK
            window = Window(since=min(since, now), until=now)
            failed = False
            for job in self._jobs:
                try:
                    async with store.savepoint():
                        await job(store, window)
                except Exception:
                    failed = True
                    log.exception("scheduler.job_failed job=%s", getattr(job, "__name__", job))
            if failed:
                return window
            await store.scheduler_marks.advance(MARK, now)
        return window


class Ticking:
    """APScheduler driving ``tick`` and the sender's ``flush`` in UTC, one run of each at a time.

    Stopping lets a run in progress finish (within a grace period) instead of cancelling it half
    way, so a stop never leaves a traceback or a half-sent batch behind."""

    def __init__(self, runner: AsyncIOScheduler) -> None:
        self._runner = runner
        self._running: set[asyncio.Task[object]] = set()

    def track(self, work: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        @functools.wraps(work)
        async def tracked() -> object:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                return await work()
            finally:
                self._running.discard(task)

        return tracked

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._runner.pause()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=grace)
            if late:
                log.warning("scheduler.stopped_mid_run runs=%d", len(late))
        self._runner.shutdown(wait=False)


def start_ticking(
    scheduler: Scheduler, flush: Callable[[], Awaitable[int]], every: dt.timedelta
) -> Ticking:
    """Drive ``tick`` every ``every`` and ``flush`` every second."""
    runner = AsyncIOScheduler(timezone=dt.UTC)
    ticking = Ticking(runner)
    runner.add_job(
        ticking.track(scheduler.tick),
        IntervalTrigger(seconds=every.total_seconds(), timezone=dt.UTC),
        id="tick",
        coalesce=True,
        max_instances=1,
        next_run_time=dt.datetime.now(dt.UTC),
    )
    runner.add_job(
        ticking.track(flush),
        IntervalTrigger(seconds=1, timezone=dt.UTC),
        id="flush",
        coalesce=True,
        max_instances=1,
    )
    runner.start()
    return ticking
