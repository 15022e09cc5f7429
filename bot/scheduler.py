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
from storage.store import Store

log = logging.getLogger(__name__)

MARK = "pushes"
FIRST_LOOK_BACK = dt.timedelta(hours=24)  # on the very first start, catch up within the grace
STOP_GRACE_SECONDS = 10.0  # a run in progress at a stop gets this long to finish


class _LookedAhead(Exception):
    """Raised to roll back a look ahead: nothing a job did in it is kept."""


class Scheduler:
    def __init__(self, database: Database, clock: Clock, jobs: Sequence[Job]) -> None:
        self._database = database
        self._clock = clock
        self._jobs = tuple(jobs)

    async def tick(self) -> Window:
        """Run every job over the window since the last tick, in one transaction: a failing job
        undoes only its own work and keeps the mark where it was, so the next tick covers the
        window again (idempotency keys stop repeats)."""
        now = self._clock.now()
        async with self._database.store() as store:
            window = await self._window(store, now)
            if not await self._run_jobs(store, window, quiet=False):
                return window
            await store.scheduler_marks.advance(MARK, now)
        return window

    async def next_due(self, until: dt.datetime) -> dt.datetime | None:
        """The first moment after the last tick, up to ``until``, at which some job has a push
        due; None if none has. Every job is asked over that window without pushing anything,
        and whatever it did is rolled back. The demo's clock jumps from one such moment to the
        next rather than ticking through every hour of a simulated month. When a job fails as
        it is asked, the last tick's own moment is returned: nothing can be skipped, so the
        caller walks on in steps as a running process would."""
        moments: list[dt.datetime] = []
        try:
            async with self._database.store() as store:
                window = await self._window(store, until)
                ahead = Window(window.since, until, ahead=moments)
                if not await self._run_jobs(store, ahead, quiet=True):
                    moments.append(window.since)
                raise _LookedAhead
        except _LookedAhead:
            pass
        return min(moments, default=None)

    async def _window(self, store: Store, until: dt.datetime) -> Window:
        store.hold_the_plan_still()  # jobs change no campaign, stage, unit or chat binding
        reached = await store.scheduler_marks.reached(MARK)
        since = reached if reached else until - FIRST_LOOK_BACK
        return Window(since=min(since, until), until=until)

    async def _run_jobs(self, store: Store, window: Window, *, quiet: bool) -> bool:
        """Every job over ``window``; False if any failed (logged, unless ``quiet``: a look
        ahead leaves the telling to the tick that follows).

        All in one savepoint first, as they almost always succeed; only when one fails are they
        run again each in its own savepoint, so a failing job undoes just its own work. A
        savepoint per job every tick costs two round trips to the database each."""
        try:
            async with store.savepoint():
                for job in self._jobs:
                    await job(store, window)
            return True
        except Exception:
            store.hold_the_plan_still()  # read afresh after the rollback
        failed = False
        for job in self._jobs:
            try:
                async with store.savepoint():
                    await job(store, window)
            except Exception:
                failed = True
                if not quiet:
                    log.exception("scheduler.job_failed job=%s", getattr(job, "__name__", job))
        return not failed


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
