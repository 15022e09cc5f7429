"""Benchmark: how long the demo's ``/clock`` takes to live through simulated time.

Starts the real demo session (console chat, scheduler, sender, simulated colleagues) on a fresh
SQLite file with the postal-bank plan, as ``uplift demo`` does (the whole cast: colleagues in
three outlets), then times ``/clock +7d`` (the first week) and ``/clock`` to 18:00 on the
campaign's last day. Prints the seconds on the wall clock and of CPU (the machine may be busy with
other work); asserts nothing (speed is measured here, never by timed assertions in tests).

    .venv/bin/python bench/bench_demo_clock.py
    BENCH_PLAN=campaigns/plans/hotel.yaml BENCH_ROLE=supervisor .venv/bin/python bench/...
    BENCH_LIVELY=0 .venv/bin/python bench/bench_demo_clock.py   # the demo unit's colleagues only
    BENCH_TO="/clock +60d" .venv/bin/python bench/bench_demo_clock.py   # another second leg
    BENCH_DB=postgresql://postgres@127.0.0.1:5432/uplift_bench .venv/bin/python bench/...
        # on PostgreSQL (an empty database the bench may fill: ``uplift demo --db`` keeps it)
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import time
from pathlib import Path

from bot.demo import DemoOptions, demo_session
from campaigns.loader import read_plan_file
from kernel import Role

ROOT = Path(__file__).resolve().parent.parent
PLAN = Path(os.environ.get("BENCH_PLAN", ROOT / "campaigns" / "plans" / "postal-bank.yaml"))
ROLE = Role(os.environ.get("BENCH_ROLE", "staff"))
LIVELY = os.environ.get("BENCH_LIVELY", "1") != "0"
DB_URL = os.environ.get("BENCH_DB")  # a PostgreSQL database instead of a fresh SQLite file


async def main() -> None:
    plan = read_plan_file(PLAN).plan
    assert plan is not None and plan.demo is not None
    with tempfile.TemporaryDirectory(prefix="uplift-bench-demo-") as folder:
        options = DemoOptions(
            role=ROLE,
            plan=plan,
            db_path=None if DB_URL else Path(folder) / "demo.db",
            db_url=DB_URL,
            locale="en",
            lively=LIVELY,
            files_dir=Path(folder) / "files",
        )
        await _run(options)


async def _run(options: DemoOptions) -> None:
    """The two legs of ``/clock`` in a demo session on ``options``; prints their figures."""
    plan = options.plan
    output = io.StringIO()
    started = time.perf_counter()
    async with demo_session(options, output) as session:
        cast = "the whole cast" if LIVELY else "the demo unit only"
        print(f"demo ready ({plan.key}, {ROLE}, {cast}) in {time.perf_counter() - started:.1f} s")
        second = os.environ.get("BENCH_TO", f"/clock {plan.ends_on} 18:00")
        for label, line in (("/clock +7d (first week)", "/clock +7d"), (second, second)):
            began, cpu = time.perf_counter(), time.process_time()
            printed = await session.say(line)
            took, cpu = time.perf_counter() - began, time.process_time() - cpu
            lines = len(printed.splitlines())
            print(f"{label:<36} {took:7.1f} s ({cpu:5.1f} s CPU)  {lines:6d} lines printed")


if __name__ == "__main__":
    asyncio.run(main())
