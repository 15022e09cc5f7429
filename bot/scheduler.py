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
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from handlers import PLANNED_JOBS, Job
from kernel import Clock, Window
from storage.database import Database
from storage.leadership import Leadership
from storage.store import Store

log = logging.getLogger(__name__)

MARK = "pushes"
FIRST_LOOK_BACK = dt.timedelta(hours=24)  # on the very first start, catch up within the grace
STOP_GRACE_SECONDS = 10.0  # a run in progress at a stop gets this long to finish
# How far a planned job that ran is asked for its next push: it is asked again at that moment,
# or once this has passed.
DUE_HORIZON = dt.timedelta(days=1)


class _LookedAhead(Exception):
    """Raised to roll back a look ahead: nothing a job did in it is kept."""


@dataclass(frozen=True)
class _Quiet:
    """What a look ahead found for one planned job: nothing of it falls due before ``until``
    (its next push when ``moment``, else the end of the stretch looked at), as long as the
    plan stays at ``version``."""

    version: object
    until: dt.datetime
    moment: bool


class Scheduler:
    """Runs the jobs over the window since the last tick.

    A planned job (``planned``: its pushes follow from the plan alone — campaigns, stages,
    units, their calendars and chats) is asked once, in a look ahead, when its next push falls
    due, and skipped by every tick before that, unless the plan's version (one small query a
    tick) has changed since: an idle tick then costs a few queries whatever the number of
    units. The other jobs (reminders, deadlines: data people change at any time) run every
    tick, each on a cheap query for what fell due. What is remembered lives in this object
    only: a new one (a restart, another instance taking over) asks every job again, and the
    windows come from the saved mark, so nothing is missed; idempotency keys stop repeats."""

    def __init__(
        self,
        database: Database,
        clock: Clock,
        jobs: Sequence[Job],
        *,
        planned: Collection[Job] = PLANNED_JOBS,
    ) -> None:
        self._database = database
        self._clock = clock
        self._jobs = tuple(jobs)
        self._planned = frozenset(job for job in self._jobs if job in planned)
        self._quiet: dict[Job, _Quiet] = {}

    async def tick(self) -> Window:
        """Run every job due over the window since the last tick, in one transaction: a failing
        job undoes only its own work and keeps the mark where it was, so the next tick covers
        the window again (idempotency keys stop repeats). Then the planned jobs that ran are
        asked, in a look ahead, when their next push is due."""
        now = self._clock.now()
        async with self._database.store() as store:
            window = await self._window(store, now)
            version = await store.scheduler_marks.plan_version()
            due = [job for job in self._jobs if not self._quiet_through(job, version, now)]
            failed = await self._run_jobs(store, [(job, window) for job in due], quiet=False)
            for job in due:
                self._quiet.pop(job, None)
            if failed:
                return window
            await store.scheduler_marks.advance(MARK, now)
            asked = [job for job in due if job in self._planned]
            if asked:
                await self._look_ahead(store, asked, now, now + DUE_HORIZON, version)
        return window

    async def next_due(self, until: dt.datetime) -> dt.datetime | None:
        """The first moment after the last tick, up to ``until``, at which some job has a push
        due; None if none has. A planned job whose next push is already known is not asked
        again; the others are asked over that window without pushing anything, and whatever
        they did is rolled back. The demo's clock jumps from one such moment to the next rather
        than ticking through every hour of a simulated month. When a job fails as it is asked,
        the last tick's own moment is returned: nothing can be skipped, so the caller walks on
        in steps as a running process would."""
        moments: list[dt.datetime] = []
        try:
            async with self._database.store() as store:
                window = await self._window(store, until)
                version = await store.scheduler_marks.plan_version()
                asked = []
                for job in self._jobs:
                    known = self._quiet.get(job) if job in self._planned else None
                    if known is None or known.version != version:
                        asked.append(job)
                    elif known.until > until:
                        continue  # nothing of it up to ``until``
                    elif known.moment and known.until > window.since:
                        moments.append(known.until)
                    else:
                        asked.append(job)
                found = await self._look_ahead(store, asked, window.since, until, version)
                moments += found if found is not None else [window.since]
                raise _LookedAhead
        except _LookedAhead:
            pass
        return min(moments, default=None)

    def _quiet_through(self, job: Job, version: object, until: dt.datetime) -> bool:
        """Whether a planned job is known to have nothing due up to ``until``."""
        known = self._quiet.get(job)
        return known is not None and known.version == version and until < known.until

    async def _look_ahead(
        self,
        store: Store,
        jobs: Sequence[Job],
        since: dt.datetime,
        until: dt.datetime,
        version: object,
    ) -> list[dt.datetime] | None:
        """Ask ``jobs`` what falls due in (since, until] without pushing anything (rolled back);
        remember it for the planned ones. The moments found; None if a job failed."""
        if not jobs:
            return []
        asked = [(job, Window(since, until, ahead=[])) for job in jobs]
        failed: set[Job] = set()
        try:
            async with store.savepoint():
                failed = await self._run_jobs(store, asked, quiet=True)
                raise _LookedAhead
        except _LookedAhead:
            pass
        store.hold_the_plan_still()  # read afresh after the rollback
        moments: list[dt.datetime] = []
        for job, window in asked:
            found = list(window.ahead or ())
            moments += found
            if job in self._planned and job not in failed:
                first = min(found, default=None)
                self._quiet[job] = _Quiet(version, first or until, first is not None)
        return None if failed else moments

    async def _window(self, store: Store, until: dt.datetime) -> Window:
        store.hold_the_plan_still()  # jobs change no campaign, stage, unit or chat binding
        reached = await store.scheduler_marks.reached(MARK)
        since = reached if reached else until - FIRST_LOOK_BACK
        return Window(since=min(since, until), until=until)

    async def _run_jobs(
        self, store: Store, runs: Sequence[tuple[Job, Window]], *, quiet: bool
    ) -> set[Job]:
        """Every job over its window; the ones that failed (logged, unless ``quiet``: a look
        ahead leaves the telling to the tick that follows).

        All in one savepoint first, as they almost always succeed; only when one fails are they
        run again each in its own savepoint, so a failing job undoes just its own work. A
        savepoint per job every tick costs two round trips to the database each."""
        if not runs:
            return set()
        try:
            async with store.savepoint():
                for job, window in runs:
                    await job(store, window)
            return set()
        except Exception:
            store.hold_the_plan_still()  # read afresh after the rollback
        failed: set[Job] = set()
        for job, window in runs:
            if window.ahead is not None:
                window.ahead.clear()
            try:
                async with store.savepoint():
                    await job(store, window)
            except Exception:
                failed.add(job)
                if not quiet:
                    log.exception("scheduler.job_failed job=%s", getattr(job, "__name__", job))
        return failed


class Ticking:
    """APScheduler driving ``tick`` and the sender's ``flush`` in UTC, one run of each at a time.

    With several instances on one database only the leader ticks: every ``claim_every`` each
    instance asks its ``Leadership`` whether it leads, and the tick is resumed or paused to
    match. Stopping lets a run in progress finish (within a grace period) instead of cancelling
    it half way, so a stop never leaves a traceback or a half-sent batch behind, then hands the
    leadership over."""

    def __init__(self, runner: AsyncIOScheduler, leadership: Leadership | None = None) -> None:
        self._runner = runner
        self._leadership = leadership
        self._claiming: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[object]] = set()

    @property
    def leader(self) -> bool:
        """Whether this process runs the scheduler now."""
        return self._leadership is None or self._leadership.leads

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

    async def claim(self) -> bool:
        """Take or keep the leadership; resume the tick on becoming leader, pause it on losing
        it (its next run starts at once on resuming: a new leader catches up from the mark)."""
        assert self._leadership is not None
        was = self._leadership.leads
        leads = await self._leadership.claim()
        tick = self._runner.get_job("tick")
        if tick is not None and leads and (not was or tick.next_run_time is None):
            tick.modify(next_run_time=dt.datetime.now(dt.UTC))
        elif tick is not None and not leads and tick.next_run_time is not None:
            tick.pause()
            log.info("scheduler.follower")
        return leads

    def keep_claiming(self, every: dt.timedelta) -> None:
        """Claim now and then every ``every``, one claim at a time, until ``stop``."""

        async def claiming() -> None:
            while True:
                try:
                    await self.claim()
                except Exception:  # a surprise must not end the loop: the next try may do
                    log.exception("scheduler.claim_failed")
                await asyncio.sleep(every.total_seconds())

        self._claiming = asyncio.create_task(claiming())

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        self._runner.pause()
        if self._claiming is not None:
            self._claiming.cancel()
            await asyncio.gather(self._claiming, return_exceptions=True)
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=grace)
            if late:
                log.warning("scheduler.stopped_mid_run runs=%d", len(late))
        self._runner.shutdown(wait=False)
        if self._leadership is not None:
            await self._leadership.release()


def start_ticking(
    scheduler: Scheduler,
    flush: Callable[[], Awaitable[int]] | None,
    every: dt.timedelta,
    *,
    leadership: Leadership | None = None,
    claim_every: dt.timedelta = dt.timedelta(seconds=15),
    after_tick: Callable[[], Awaitable[None]] | None = None,
) -> Ticking:
    """Drive ``tick`` every ``every`` (only while ``leadership`` says this process leads, asked
    every ``claim_every``; ``after_tick`` wakes the sender for what it queued) and ``flush``,
    when given, every second."""
    runner = AsyncIOScheduler(timezone=dt.UTC)
    ticking = Ticking(runner, leadership)
    now = dt.datetime.now(dt.UTC)

    async def tick() -> Window:
        window = await scheduler.tick()
        if after_tick is not None:
            await after_tick()
        return window

    runner.add_job(
        ticking.track(tick),
        IntervalTrigger(seconds=every.total_seconds(), timezone=dt.UTC),
        id="tick",
        coalesce=True,
        max_instances=1,
        next_run_time=now if leadership is None else None,  # None: paused until it leads
    )
    if flush is not None:
        runner.add_job(
            ticking.track(flush),
            IntervalTrigger(seconds=1, timezone=dt.UTC),
            id="flush",
            coalesce=True,
            max_instances=1,
        )
    runner.start()
    if leadership is not None:
        ticking.keep_claiming(claim_every)
    return ticking
