"""Benchmark: a whole branch's report over two months (summary, chart and sheet, as /report makes
them), its time and its peak memory, as the ledger grows, on SQLite and on PostgreSQL.

The postal bank's plan, members spread over its outlets and ledger rows over 58 days, bulk
inserted (executemany on SQLite, COPY on PostgreSQL). Each report is made in a fresh child
process, so its peak RSS (ru_maxrss) is the report's and the import's, nothing else's; the child
also reads the RSS before it starts (the imports) so the report's own share shows.

    .venv/bin/python bench/report.py            # 500,000 rows / 5,000 members and 2 M / 50,000
    .venv/bin/python bench/report.py --small    # 10,000 / 100 and 50,000 / 500, under a minute

Goal: flat memory, under 300 MB at 2 M rows. PostgreSQL at BENCH_DATABASE_URL (an admin DSN,
default postgresql://postgres@127.0.0.1:5432/test); a database uplift_bench_report_<n> is made
for each size and dropped at the end. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAN = ROOT / "campaigns" / "plans" / "postal-bank.yaml"
ADMIN_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = dt.datetime(2027, 3, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(dt.UTC)
FIRST, LAST = dt.date(2027, 1, 1), dt.date(2027, 2, 28)
GOAL_MB = 300.0
# What a member's ledger row may be: source, rule, points.
KINDS = (
    ("drill", "drill_answered", 2),
    ("drill", "drill_correct", 8),
    ("check", "selfcheck_completed", 10),
    ("streak", "streak_bonus", 5),
    ("deed", "deed_reported", 3),
    ("observation", "observation_submitted", 2),
)
COLUMNS = (
    "campaign_id",
    "unit_id",
    "member_id",
    "source",
    "rule",
    "points",
    "idempotency_key",
    "occurred_at",
    "local_date",
)


def rss_mb() -> float:
    """This process's peak resident set so far: VmHWM (ru_maxrss would carry the parent's peak
    across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the data -------------------------------------------------------------------------------


async def prepare(url: str, members: int, entries: int) -> None:
    """The plan, ``members`` members over the outlets and ``entries`` ledger rows."""
    from sqlalchemy import insert

    from campaigns.loader import read_plan_file
    from kernel import Role
    from storage.database import Database
    from storage.models import Member
    from storage.plans import load_plan
    from storage.store import Store

    plan = read_plan_file(PLAN).plan
    assert plan is not None
    database = Database(url)
    try:
        async with database.transaction() as session:
            summary = await load_plan(session, plan, NOW)
            outlets = [
                u
                for u in await Store(session).units.of_organisation(summary.organisation_id)
                if u.depth == 2
            ]
            people = [
                {
                    "organisation_id": summary.organisation_id,
                    "unit_id": outlets[n % len(outlets)].id,
                    "display_name": f"成员 {n}",
                    "role": Role.STAFF,
                    "created_at": NOW,
                }
                for n in range(members)
            ]
            for start in range(0, members, 10_000):
                await session.execute(insert(Member), people[start : start + 10_000])
            first_id = await session.scalar(
                Member.__table__.select()
                .with_only_columns(Member.id)
                .order_by(Member.id.desc())
                .limit(1)
            )
        campaign_id = summary.campaign_id
        member_ids = range(first_id - members + 1, first_id + 1)
        units = {m: outlets[(m - member_ids[0]) % len(outlets)].id for m in member_ids}
    finally:
        await database.dispose()
    rows = ledger_rows(campaign_id, list(member_ids), units, entries)
    if url.startswith("sqlite"):
        _sqlite_copy(url, rows)
    else:
        _postgres_copy(url, rows)


def ledger_rows(
    campaign_id: int, member_ids: list[int], units: dict[int, int], entries: int
) -> list[tuple[object, ...]]:
    rng = random.Random(7)
    days = (LAST - FIRST).days + 1
    found = []
    for n in range(entries):
        member = rng.choice(member_ids)
        source, rule, points = rng.choice(KINDS)
        day = FIRST + dt.timedelta(days=rng.randrange(days))
        moment = dt.datetime.combine(day, dt.time(2, 0))
        found.append(
            (campaign_id, units[member], member, source, rule, points, f"b:{n}", moment, day)
        )
    return found


def _sqlite_copy(url: str, rows: list[tuple[object, ...]]) -> None:
    import sqlite3

    connection = sqlite3.connect(url.removeprefix("sqlite:///"))
    marks = ", ".join("?" * len(COLUMNS))
    with connection:
        connection.executemany(
            f"INSERT INTO point_entry ({', '.join(COLUMNS)}) VALUES ({marks})",
            [(*row[:7], row[7].isoformat(sep=" "), row[8].isoformat()) for row in rows],
        )
    connection.close()


def _postgres_copy(url: str, rows: list[tuple[object, ...]]) -> None:
    import psycopg

    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY point_entry ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row[:7], row[7].replace(tzinfo=dt.UTC), row[8]))
        cursor.execute("ANALYZE point_entry")


# --- one report, in a child process ------------------------------------------------------------


async def child(url: str) -> dict[str, object]:
    """Build the whole branch's report and render its chart and sheet, as /report does."""
    from handlers.reports import report_replies
    from handlers.reports.sections import build_report
    from kernel import Audience
    from storage.database import Database

    before = rss_mb()
    database = Database(url)
    try:
        async with database.store() as store:
            organisation = (await store.units.organisations())[0]
            units = await store.units.of_organisation(organisation.id)
            root = next(u for u in units if u.parent_id is None)
            campaign = await store.campaigns.current(organisation.id, LAST)
            assert campaign is not None
            started = time.perf_counter()
            report = await build_report(store, campaign, root, FIRST, LAST, "zh", NOW)
            built = time.perf_counter()
            replies = await report_replies(report, "zh", Audience.CHAT)
            rendered = time.perf_counter()
    finally:
        await database.dispose()
    sheet = replies[1].file
    assert sheet is not None
    return {
        "build_s": round(built - started, 2),
        "chart_and_sheet_s": round(rendered - built, 2),
        "peak_rss_mb": round(rss_mb(), 1),
        "rss_before_mb": round(before, 1),
        "ledger_rows": report.ledger.entries,
        "xlsx_mb": round(len(sheet.content) / 1e6, 2),
    }


def run_child(url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- databases ---------------------------------------------------------------------------------


def postgres_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(ADMIN_DSN, connect_timeout=3).close()
        return True
    except Exception:  # any failure means: measure SQLite only
        return False


def fresh_postgres(name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(ADMIN_DSN).set(database=name).render_as_string(hide_password=False)


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(backend: str, members: int, entries: int, folder: Path) -> dict[str, object]:
    from storage.migrate import upgrade

    name = f"uplift_bench_report_{entries}"
    url = f"sqlite:///{folder / (name + '.db')}" if backend == "sqlite" else fresh_postgres(name)
    try:
        upgrade(url)
        started = time.perf_counter()
        asyncio.run(prepare(url, members, entries))
        prepared = time.perf_counter() - started
        figures = run_child(url)
    finally:
        if backend == "postgresql":
            drop_postgres(name)
    figures.update(backend=backend, members=members, entries=entries, prepare_s=round(prepared, 1))
    print(json.dumps(figures), file=sys.stderr)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="10 k and 50 k rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.child))))
        return
    sizes = (
        [(100, 10_000), (500, 50_000)] if args.small else [(5_000, 500_000), (50_000, 2_000_000)]
    )
    backends = ["sqlite"]
    if not args.sqlite_only and postgres_reachable():
        backends.append("postgresql")
    runs = []
    with tempfile.TemporaryDirectory(prefix="uplift-bench-report-") as folder:
        for backend in backends:
            for members, entries in sizes:
                runs.append(measure(backend, members, entries, Path(folder)))
    peak = max(float(run["peak_rss_mb"]) for run in runs)  # type: ignore[arg-type]
    growth = {
        backend: round(
            float(mine[-1]["peak_rss_mb"]) / float(mine[0]["peak_rss_mb"]),  # type: ignore[arg-type]
            2,
        )
        for backend in backends
        if (mine := [run for run in runs if run["backend"] == backend])
    }
    print(
        json.dumps(
            {
                "bench": "report",
                "runs": runs,
                "peak_rss_mb": peak,
                "goal_mb": GOAL_MB,
                "ratio_to_goal": round(peak / GOAL_MB, 2),
                "peak_growth_largest_over_smallest": growth,  # flat memory: close to 1
                "rows_growth": round(sizes[-1][1] / sizes[0][1], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
