"""Benchmark: what a scheduler tick costs with 10 to 10,000 units, on SQLite and PostgreSQL.

Loads the postal-bank plan, adds outlets (copies of one of its outlets, each with a bound group
chat) in one bulk insert, then times, on a working day of the campaign:
- the idle tick: ticks 30 s apart before the morning meeting, when nothing is due (the
  scheduler remembers each planned job's next push and skips it until then);
- the reference idle tick: the same with nothing remembered (every job asked every tick, as
  before), measured in the same run;
- the drill tick: the tick whose window holds the morning meeting, queuing every unit's drill.
Asserts nothing; prints one JSON line at the end (goal: idle tick < 50 ms at 10,000 units).

    .venv/bin/python bench/tick.py --small     # 10, 100, 1,000 units
    .venv/bin/python bench/tick.py             # 10, 100, 1,000, 10,000 units
    BENCH_DATABASE_URL=postgresql://postgres@host:5432/db .venv/bin/python bench/tick.py
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.scheduler import Scheduler  # noqa: E402
from campaigns.loader import read_plan_file  # noqa: E402
from handlers import JOBS  # noqa: E402
from handlers.shared.calendar import first_working_day_from, local_time  # noqa: E402
from kernel import MovableClock  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import ChatBinding, Unit  # noqa: E402

PLAN = ROOT / "campaigns" / "plans" / "postal-bank.yaml"
ADMIN_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
GOAL_MS = 50.0
IDLE_TICKS = 10
REFERENCE_TICKS = 3
EVERY = dt.timedelta(seconds=30)


async def build(database: Database, units: int) -> tuple[dt.datetime, dt.datetime]:
    """The plan and ``units`` outlets with a chat each; (a quiet moment, the drill's moment)."""
    plan = read_plan_file(PLAN).plan
    assert plan is not None
    loaded_at = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    async with database.store() as store:
        summary = await store.plans.load(plan, loaded_at)
        every = await store.units.of_organisation(summary.organisation_id)
    model = max(every, key=lambda u: u.depth)
    async with database.transaction() as session:
        await session.execute(
            insert(Unit),
            [
                {
                    "organisation_id": model.organisation_id,
                    "parent_id": model.parent_id,
                    "key": f"bench-{n}",
                    "name_zh": f"网点{n}",
                    "name_en": f"Outlet {n}",
                    "timezone": model.timezone,
                    "locale": model.locale,
                    "morning_meeting": model.morning_meeting,
                    "calendar": model.calendar,
                    "depth": model.depth,
                }
                for n in range(units)
            ],
        )
        ids = list(await session.scalars(select(Unit.id).where(Unit.key.like("bench-%"))))
        await session.execute(
            insert(ChatBinding),
            [
                {
                    "unit_id": unit_id,
                    "platform": "console",
                    "workspace": "",
                    "chat_id": f"group:bench-{unit_id}",
                    "locale": model.locale,
                    "created_at": loaded_at,
                }
                for unit_id in ids
            ],
        )
    day = first_working_day_from(model, plan.starts_on + dt.timedelta(days=21))
    drill = local_time(model, day, model.morning_meeting)
    return drill - dt.timedelta(hours=2), drill


async def measure(url: str, units: int) -> dict[str, float]:
    await upgrade_async(url)
    database = Database(url)
    try:
        quiet, drill = await build(database, units)
        clock = MovableClock(quiet - dt.timedelta(minutes=30))
        scheduler = Scheduler(database, clock, JOBS)
        started = time.perf_counter()
        await scheduler.tick()  # a new scheduler asks every job once
        cold = time.perf_counter() - started
        clock.set(quiet)
        await scheduler.tick()
        idle = []
        for _ in range(IDLE_TICKS):
            clock.advance(EVERY)
            started = time.perf_counter()
            await scheduler.tick()
            idle.append(time.perf_counter() - started)
        reference = Scheduler(database, clock, JOBS, planned=())
        before = []
        for _ in range(REFERENCE_TICKS):
            clock.advance(EVERY)
            started = time.perf_counter()
            await reference.tick()
            before.append(time.perf_counter() - started)
        clock.set(drill + dt.timedelta(seconds=1))
        started = time.perf_counter()
        await scheduler.tick()
        drill_tick = time.perf_counter() - started
        return {
            "idle_ms": round(statistics.median(idle) * 1000, 2),
            "idle_max_ms": round(max(idle) * 1000, 2),
            "reference_idle_ms": round(statistics.median(before) * 1000, 1),
            "drill_tick_s": round(drill_tick, 3),
            "first_tick_s": round(cold, 3),
        }
    finally:
        await database.dispose()


async def on_postgres(units: int) -> dict[str, float] | None:
    try:
        import psycopg
    except ImportError:
        return None
    name = f"uplift_bench_tick_{units}"
    admin = make_url(ADMIN_DSN).set(drivername="postgresql")
    dsn = admin.render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name}")
            connection.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as error:
        print(f"PostgreSQL not reachable ({error.__class__.__name__}); skipped", file=sys.stderr)
        return None
    try:
        return await measure(admin.set(database=name).render_as_string(hide_password=False), units)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10, 100 and 1,000 units only")
    sizes = (10, 100, 1_000) if parser.parse_args().small else (10, 100, 1_000, 10_000)
    figures: dict[str, dict[str, dict[str, float]]] = {"sqlite": {}, "postgresql": {}}
    with tempfile.TemporaryDirectory(prefix="uplift-bench-tick-") as folder:
        for units in sizes:
            url = f"sqlite:///{Path(folder) / f'tick-{units}.db'}"
            figures["sqlite"][str(units)] = found = await measure(url, units)
            print(f"sqlite     {units:6d} units  {found}", file=sys.stderr)
            on_pg = await on_postgres(units)
            if on_pg is not None:
                figures["postgresql"][str(units)] = on_pg
                print(f"postgresql {units:6d} units  {on_pg}", file=sys.stderr)
    largest = str(sizes[-1])
    worst = max(f[largest]["idle_ms"] for f in figures.values() if largest in f)
    reference = max(f[largest]["reference_idle_ms"] for f in figures.values() if largest in f)
    print(
        json.dumps(
            {
                "bench": "tick",
                "sizes": list(sizes),
                "figures": figures,
                "goal": f"idle tick < {GOAL_MS:g} ms at 10,000 units",
                "largest": int(largest),
                "idle_ms_at_largest": worst,
                "ratio_to_goal": round(worst / GOAL_MS, 3),
                "ratio_to_reference": round(worst / reference, 4) if reference else None,
                "goal_met": worst < GOAL_MS if largest == "10000" else None,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
