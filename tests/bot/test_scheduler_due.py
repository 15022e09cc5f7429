"""The scheduler skips a planned job until its next push, asks it again at once when the plan
changes, and a new scheduler on the same database misses nothing; calendars are parsed once."""

from __future__ import annotations

import datetime as dt

from bot.scheduler import Scheduler
from campaigns.schema import Plan
from handlers import JOBS
from handlers.shared.calendar import first_working_day_from, is_working_day, local_time, parses
from kernel import MovableClock, Window
from storage.database import Database
from storage.models import OutboxMessage, Unit
from tests.harness import at, rows

START = at("2027-03-08 07:00")
PUSH = at("2027-03-09 08:30")
SECONDS = dt.timedelta(seconds=30)


class PlannedJob:
    """A planned job with one push at PUSH; counts how often it runs and what it pushes."""

    def __init__(self) -> None:
        self.runs = 0
        self.pushed: list[dt.datetime] = []
        self.__name__ = "planned_job"

    async def __call__(self, _store: object, window: Window) -> None:
        if window.ahead is None:
            self.runs += 1
        if window.covers(PUSH) and not window.looks_ahead(PUSH):
            self.pushed.append(window.until)


async def _load(database: Database, plan: Plan, now: dt.datetime) -> int:
    async with database.store() as store:
        return (await store.plans.load(plan, now)).organisation_id


async def _outlet(database: Database, organisation_id: int) -> Unit:
    async with database.store() as store:
        units = await store.units.of_organisation(organisation_id)
    return next(u for u in units if u.depth == max(x.depth for x in units))


async def test_a_planned_job_waits_for_its_push_unless_the_plan_changes(
    database: Database, plan: Plan
) -> None:
    organisation_id = await _load(database, plan, START)
    clock = MovableClock(START)
    job = PlannedJob()
    scheduler = Scheduler(database, clock, [job], planned=[job])
    await scheduler.tick()
    assert job.runs == 1  # a new scheduler asks every job once
    for _ in range(3):
        clock.advance(SECONDS)
        await scheduler.tick()
    assert job.runs == 1  # its push is tomorrow: idle ticks skip it
    assert await scheduler.next_due(PUSH + dt.timedelta(days=1)) == PUSH

    outlet = await _outlet(database, organisation_id)
    async with database.store() as store:
        await store.units.bind_chat(outlet.id, "console", "", "group:new", clock.now())
    clock.advance(SECONDS)
    await scheduler.tick()
    assert job.runs == 2  # a chat was bound: asked again at once

    changed = plan.model_copy(update={"ends_on": plan.ends_on + dt.timedelta(days=1)})
    await _load(database, changed, clock.now())
    clock.advance(SECONDS)
    await scheduler.tick()
    assert job.runs == 3  # the plan changed: asked again at once
    clock.advance(SECONDS)
    await scheduler.tick()
    assert job.runs == 3

    clock.set(PUSH)
    await scheduler.tick()
    clock.advance(SECONDS)
    await scheduler.tick()
    assert job.pushed == [PUSH] and job.runs == 4


async def test_a_new_scheduler_misses_nothing_and_repeats_nothing(
    database: Database, plan: Plan
) -> None:
    organisation_id = await _load(database, plan, START)
    outlet = await _outlet(database, organisation_id)
    async with database.store() as store:
        await store.units.bind_chat(outlet.id, "console", "", "group:outlet", START)
    day = first_working_day_from(outlet, plan.starts_on + dt.timedelta(days=14))
    drill_at = local_time(outlet, day, outlet.morning_meeting)
    clock = MovableClock(drill_at - dt.timedelta(minutes=10))
    first = Scheduler(database, clock, JOBS)
    await first.tick()  # knows the drill is due in ten minutes

    clock.set(drill_at + dt.timedelta(minutes=1))  # "restarted" across the drill's moment
    second = Scheduler(database, clock, JOBS)
    await second.tick()
    clock.advance(SECONDS)
    await first.tick()  # an old scheduler (another instance) ticking again repeats nothing
    await second.tick()

    key = f"drill:{outlet.id}:{day.isoformat()}@console::group:outlet"
    found = await rows(database, OutboxMessage, OutboxMessage.idempotency_key == key)
    assert len(found) == 1


def test_a_calendar_is_parsed_once_however_often_it_is_asked() -> None:
    calendar = {"country": "CN", "working_days": ["mon", "tue", "wed", "thu", "fri"]}
    before = parses()
    first = dt.date(2031, 1, 1)
    answers = [is_working_day(dict(calendar), first + dt.timedelta(days=n)) for n in range(400)]
    assert parses() - before <= 1
    assert answers.count(True) > 200
