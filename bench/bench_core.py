"""Benchmark: how long the dispatcher takes for the common events and jobs on a realistic database.

Builds a SQLite database with the postal-bank plan, BENCH_MEMBERS members spread over its
outlets and BENCH_ENTRIES ledger rows, then times /score, /leaderboard, a drill answer, one
scheduler tick and a month's report. Prints the figures; asserts nothing (see the brief:
speed is measured here, never by timed assertions in tests).

    .venv/bin/python bench/bench_core.py            # defaults: 300 members, 60,000 entries
    BENCH_MEMBERS=1000 BENCH_ENTRIES=200000 .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import Scheduler
from campaigns.loader import read_plan_file
from handlers import JOBS, build_router
from handlers.reports.sections import build_report
from kernel import ChatRef, Event, EventKind, MovableClock, Role, SenderRef
from storage.database import Database
from storage.migrate import upgrade
from storage.models import PointEntry
from storage.plans import load_plan
from storage.store import Store

PLAN = Path(__file__).resolve().parent.parent / "campaigns" / "plans" / "postal-bank.yaml"
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "300"))
ENTRIES = int(os.environ.get("BENCH_ENTRIES", "60000"))
REPEATS = 30
START = dt.datetime(2027, 3, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(dt.UTC)


async def prepare(database: Database) -> tuple[int, list[int]]:
    plan = read_plan_file(PLAN).plan
    assert plan is not None
    rng = random.Random(7)
    async with database.transaction() as session:
        store = Store(session)
        summary = await load_plan(session, plan, START)
        units = await store.units.of_organisation(summary.organisation_id)
        outlets = [u for u in units if u.depth == 2]
        members = []
        for n in range(MEMBERS):
            unit = outlets[n % len(outlets)]
            member = await store.members.add(
                organisation_id=summary.organisation_id,
                unit_id=unit.id,
                display_name=f"Member {n}",
                role=Role.STAFF,
                now=START,
            )
            await store.members.add_identity(
                member, platform="bench", external_id=f"u{n}", private_chat_id=f"u{n}", now=START
            )
            members.append((member.id, unit.id))
        for outlet in outlets:
            await store.units.bind_chat(outlet.id, "bench", "", f"group:{outlet.key}", START)
        rows = []
        for n in range(ENTRIES):
            member_id, unit_id = rng.choice(members)
            day = (START - dt.timedelta(days=rng.randrange(58))).date()
            rows.append(
                {
                    "campaign_id": summary.campaign_id,
                    "unit_id": unit_id,
                    "member_id": member_id,
                    "source": "drill",
                    "rule": "drill_answered",
                    "points": rng.choice((2, 8, 10)),
                    "idempotency_key": f"bench:{n}",
                    "occurred_at": START,
                    "local_date": day,
                }
            )
        await session.execute(insert(PointEntry), rows)
    return summary.campaign_id, [m for m, _ in members]


def event(kind: EventKind, user: int, **fields: str) -> Event:
    return Event(
        kind=kind,
        sender=SenderRef("bench", f"u{user}"),
        chat=ChatRef("bench", f"u{user}", False),
        received_at=START,
        **fields,
    )


async def timed(label: str, runs: list[float]) -> None:
    runs.sort()
    median, p95 = statistics.median(runs) * 1000, runs[int(len(runs) * 0.95) - 1] * 1000
    print(f"{label:<28} median {median:8.2f} ms   p95 {p95:8.2f} ms")


async def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="uplift-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    upgrade(url)
    database = Database(url)
    started = time.perf_counter()
    campaign_id, _ = await prepare(database)
    took = time.perf_counter() - started
    print(f"prepared {MEMBERS} members, {ENTRIES} ledger rows in {took:.1f} s")
    clock = MovableClock(START)
    dispatcher = Dispatcher(database, build_router(), clock, DispatcherSettings("en"))
    for command in ("score", "leaderboard"):
        runs = []
        for n in range(REPEATS):
            t = time.perf_counter()
            await dispatcher.handle(event(EventKind.COMMAND, n % MEMBERS, command=command))
            runs.append(time.perf_counter() - t)
        await timed(f"/{command}", runs)
    scheduler = Scheduler(database, clock, JOBS)
    await scheduler.tick()
    runs = []
    for _ in range(REPEATS):
        clock.advance(dt.timedelta(minutes=30))
        t = time.perf_counter()
        await scheduler.tick()
        runs.append(time.perf_counter() - t)
    await timed("scheduler tick (30 min)", runs)
    tracemalloc.start()
    async with database.transaction() as session:
        store = Store(session)
        campaign = await store.campaigns.get(campaign_id)
        units = await store.units.of_organisation(campaign.organisation_id)
        root = next(u for u in units if u.parent_id is None)
        t = time.perf_counter()
        report = await build_report(
            store, campaign, root, dt.date(2027, 1, 1), dt.date(2027, 2, 28), "en", START
        )
        elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"report, whole branch, 2 months {elapsed * 1000:8.1f} ms", end="")
    print(f", peak memory {peak / 1e6:.1f} MB, {len(report.ledger)} ledger rows")
    await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
