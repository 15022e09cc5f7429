"""Benchmark: /score, /score detail and /leaderboard through the real dispatcher at the size of a
bank with 2,000 outlets (50,000 members, 2,000,000 ledger rows), on SQLite and PostgreSQL.

Each command is sent as a member picked at random would send it (a private chat, a fresh event
id, so the repeat check writes as it does for a real event), and timed end to end: the
transaction, every query, rendering nothing (the adapter renders). Beside it, in the same run,
the bare SQL that yields the command's key number (the rank count, the newest rows, the unit's
top ten) is timed on its own: the floor the dispatcher is measured against.

    .venv/bin/python bench/queries.py            # 50,000 members, 2,000,000 rows (minutes to build)
    .venv/bin/python bench/queries.py --small    # 5,000 members, 200,000 rows (under a minute)

Goal: p99 < 10 ms on PostgreSQL and < 20 ms on SQLite (issue 13 is done at < 50 / < 100 ms).
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.population import START, backends, fresh_database, populate
from bot.dispatcher import Dispatcher, DispatcherSettings
from handlers import build_router
from kernel import ChatRef, Event, EventKind, MovableClock, SenderRef
from storage.database import Database
from storage.urls import sync_url

GOAL_MS = {"postgresql": 10.0, "sqlite": 20.0}
DONE_MS = {"postgresql": 50.0, "sqlite": 100.0}
COMMANDS = (("score", ""), ("score", "detail"), ("leaderboard", ""))

BARE = {
    "score": "SELECT count(*) FROM member_points WHERE campaign_id = :c AND ranked AND points > "
    "(SELECT points FROM member_points WHERE campaign_id = :c AND member_id = :m)",
    "score detail": "SELECT local_date, points, rule FROM point_entry "
    "WHERE campaign_id = :c AND member_id = :m ORDER BY occurred_at DESC, id DESC LIMIT 10",
    "leaderboard": "SELECT m.id, m.display_name, coalesce(t.points, 0) AS p FROM member m "
    "LEFT JOIN member_points t ON t.member_id = m.id AND t.campaign_id = :c "
    "WHERE m.unit_id = (SELECT unit_id FROM member WHERE id = :m) AND m.active "
    "AND m.role <> 'volunteer' ORDER BY p DESC, m.id LIMIT 10",
}


def percentiles(runs: list[float]) -> dict[str, float]:
    ordered = sorted(runs)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


async def through_dispatcher(
    url: str, members: list[int], runs: int, rng: random.Random
) -> dict[str, dict[str, float]]:
    database = Database(url)
    clock = MovableClock(START)
    dispatcher = Dispatcher(database, build_router(), clock, DispatcherSettings("en"))
    figures: dict[str, dict[str, float]] = {}
    try:
        for n, (command, args) in enumerate(COMMANDS):
            timings = []
            for run in range(runs + 5):  # the first five warm the caches and are not counted
                user = rng.randrange(len(members))
                event = Event(
                    kind=EventKind.COMMAND,
                    sender=SenderRef("bench", f"u{user}"),
                    chat=ChatRef("bench", f"u{user}", False),
                    received_at=START,
                    command=command,
                    args=args,
                    event_id=f"bench-{n}-{run}",
                )
                started = time.perf_counter()
                outcome = await dispatcher.handle(event)
                elapsed = time.perf_counter() - started
                assert outcome.replies, f"/{command} {args} answered nothing"
                if run >= 5:
                    timings.append(elapsed)
            figures[f"{command} {args}".strip()] = percentiles(timings)
    finally:
        await database.dispose()
    return figures


def bare_sql(
    url: str, campaign_id: int, members: list[int], runs: int, rng: random.Random
) -> dict[str, dict[str, float]]:
    engine = create_engine(sync_url(url))
    figures = {}
    try:
        with engine.connect() as connection:
            for name, sql in BARE.items():
                statement = text(sql)
                timings = []
                for run in range(runs + 5):
                    member = members[rng.randrange(len(members))]
                    started = time.perf_counter()
                    connection.execute(statement, {"c": campaign_id, "m": member}).all()
                    if run >= 5:
                        timings.append(time.perf_counter() - started)
                figures[name] = percentiles(timings)
    finally:
        engine.dispose()
    return figures


async def measure(backend: str, members: int, entries: int, runs: int) -> dict[str, Any]:
    with fresh_database(backend, "queries") as url:
        started = time.perf_counter()
        population = await populate(url, members, entries)
        built = time.perf_counter() - started
        engine = create_engine(sync_url(url))
        with engine.connect() as connection:
            ids = list(
                connection.scalars(
                    text("SELECT member_id FROM platform_identity WHERE platform = 'bench'")
                )
            )
        engine.dispose()
        rng = random.Random(11)
        commands = await through_dispatcher(url, ids, runs, rng)
        bare = bare_sql(url, population.campaign_id, ids, runs, rng)
    worst = max(figure["p99_ms"] for figure in commands.values())
    return {
        "built_s": round(built, 1),
        "outlets": population.outlets,
        "commands": commands,
        "bare_sql": bare,
        "ratio_p99_to_bare_p50": {
            name: round(commands[name]["p99_ms"] / max(bare[name]["p50_ms"], 0.001), 1)
            for name in commands
        },
        "worst_p99_ms": worst,
        "goal_p99_ms": GOAL_MS[backend],
        "goal_met": worst < GOAL_MS[backend],
        "done_p99_ms": DONE_MS[backend],
        "done_met": worst < DONE_MS[backend],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="5,000 members, 200,000 rows")
    parser.add_argument("--runs", type=int, default=0, help="timed runs per command")
    args = parser.parse_args()
    members, entries = (5_000, 200_000) if args.small else (50_000, 2_000_000)
    runs = args.runs or (100 if args.small else 300)
    result: dict[str, Any] = {"bench": "queries", "members": members, "entries": entries}
    for backend in backends():
        figures = await measure(backend, members, entries, runs)
        result[backend] = figures
        print(f"{backend}: " + json.dumps(figures["commands"]), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
