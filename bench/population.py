"""A realistic large organisation for the benchmarks: the postal-bank plan with as many outlets,
members and ledger rows as asked (a bank with 2,000 outlets: 50,000 members, 2,000,000 rows).

The plan is loaded as ``uplift campaign load`` loads it; the bulk (outlets, members, their
accounts, the ledger) goes in with plain multi-row inserts on SQLite and ``COPY`` on PostgreSQL,
then the points totals are rebuilt from the ledger and the planner's statistics refreshed, as an
operator would after an import. Also: a fresh database per run (a temp SQLite file, or a new
PostgreSQL database dropped at the end)."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import Connection, make_url

from campaigns.loader import read_plan_file
from storage.database import Database
from storage.migrate import upgrade
from storage.models import Member, PlatformIdentity, PointEntry, Unit
from storage.plans import load_plan
from storage.urls import sync_url

PLAN = Path(__file__).resolve().parent.parent / "campaigns" / "plans" / "postal-bank.yaml"
ADMIN_DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = dt.datetime(2027, 3, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(dt.UTC)
MEMBERS_PER_OUTLET = 25
PLATFORM = "bench"
CHUNK = 20_000


@dataclass(frozen=True)
class Population:
    campaign_id: int
    organisation_id: int
    members: int
    entries: int
    outlets: int


@contextmanager
def fresh_database(backend: str, label: str) -> Iterator[str]:
    """A new, migrated database URL on ``backend`` (``sqlite`` or ``postgresql``), gone after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"uplift-bench-{label}-") as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    name = f"uplift_bench_{label}_{uuid.uuid4().hex[:8]}"
    admin = make_url(ADMIN_DSN)
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def populate(url: str, members: int, entries: int, *, seed: int = 7) -> Population:
    """Load the plan, then add outlets, members and ledger rows in bulk."""
    plan = read_plan_file(PLAN).plan
    assert plan is not None
    database = Database(url)
    try:
        async with database.transaction() as session:
            summary = await load_plan(session, plan, START)
    finally:
        await database.dispose()
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as connection:
            outlets = _add_outlets(connection, summary.organisation_id, members)
            member_units = _add_members(connection, summary.organisation_id, outlets, members)
            _add_ledger(connection, summary.campaign_id, member_units, entries, seed)
        database = Database(url)
        try:
            async with database.store() as store:  # what `uplift db rebuild-totals` does
                await store.ledger.totals.rebuild()
        finally:
            await database.dispose()
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    finally:
        engine.dispose()
    return Population(summary.campaign_id, summary.organisation_id, members, entries, len(outlets))


def _add_outlets(connection: Connection, organisation_id: int, members: int) -> list[int]:
    """As many outlets as the members need (25 each), under the plan's sub-branches."""
    existing = connection.execute(
        select(
            Unit.parent_id, Unit.timezone, Unit.locale, Unit.morning_meeting, Unit.calendar
        ).where(Unit.organisation_id == organisation_id, Unit.depth == 2)
    ).all()
    model = existing[0]
    parents = sorted({row.parent_id for row in existing})
    wanted = max(len(existing), -(-members // MEMBERS_PER_OUTLET))
    rows = [
        {
            "organisation_id": organisation_id,
            "parent_id": parents[n % len(parents)],
            "key": f"bench-outlet-{n}",
            "name_zh": f"测试网点{n}",
            "name_en": f"Bench outlet {n}",
            "timezone": model.timezone,
            "locale": model.locale,
            "morning_meeting": model.morning_meeting,
            "calendar": model.calendar,
            "depth": 2,
        }
        for n in range(wanted - len(existing))
    ]
    if rows:
        connection.execute(insert(Unit), rows)
    return list(
        connection.scalars(
            select(Unit.id).where(Unit.organisation_id == organisation_id, Unit.depth == 2)
        )
    )


def _add_members(
    connection: Connection, organisation_id: int, outlets: list[int], count: int
) -> list[tuple[int, int]]:
    """``count`` staff, 25 to an outlet, each with an account on the bench platform."""
    first = (connection.scalar(select(Member.id).order_by(Member.id.desc()).limit(1)) or 0) + 1
    ids = range(first, first + count)
    units = [outlets[n % len(outlets)] for n in range(count)]
    members = [
        {
            "id": member_id,
            "organisation_id": organisation_id,
            "unit_id": unit_id,
            "display_name": f"Member {n}",
            "role": "staff",
            "is_unit_head": False,
            "hide_name": False,
            "active": True,
            "created_at": START,
        }
        for n, (member_id, unit_id) in enumerate(zip(ids, units, strict=True))
    ]
    identities = [
        {
            "member_id": member_id,
            "platform": PLATFORM,
            "workspace": "",
            "external_id": f"u{n}",
            "private_chat_id": f"u{n}",
            "created_at": START,
        }
        for n, member_id in enumerate(ids)
    ]
    for part in range(0, count, CHUNK):
        connection.execute(insert(Member), members[part : part + CHUNK])
        connection.execute(insert(PlatformIdentity), identities[part : part + CHUNK])
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT setval('member_id_seq', (SELECT max(id) FROM member))"))
    return list(zip(ids, units, strict=True))


def _add_ledger(
    connection: Connection,
    campaign_id: int,
    member_units: list[tuple[int, int]],
    count: int,
    seed: int,
) -> None:
    """``count`` rows over the two months before START: drill answers mostly, some deeds, a few
    deductions, as the postal-bank plan scores them."""
    rng = random.Random(seed)
    kinds = (
        ("drill", "drill_answered", 2),
        ("drill", "drill_correct", 8),
        ("deed", "deed_approved", 10),
    )
    if connection.dialect.name == "postgresql":
        _copy_ledger(connection, campaign_id, member_units, count, rng, kinds)
        return
    for part in range(0, count, CHUNK):
        rows = []
        for n in range(part, min(count, part + CHUNK)):
            member_id, unit_id = rng.choice(member_units)
            source, rule, points = rng.choice(kinds)
            moment = START - dt.timedelta(minutes=rng.randrange(58 * 24 * 60))
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "unit_id": unit_id,
                    "member_id": member_id,
                    "source": source,
                    "rule": rule,
                    "points": points if rng.random() > 0.02 else -points,
                    "idempotency_key": f"bench:{n}",
                    "occurred_at": moment,
                    "local_date": moment.astimezone(ZoneInfo("Asia/Shanghai")).date(),
                }
            )
        connection.execute(insert(PointEntry), rows)


def _copy_ledger(
    connection: Connection,
    campaign_id: int,
    member_units: list[tuple[int, int]],
    count: int,
    rng: random.Random,
    kinds: tuple[tuple[str, str, int], ...],
) -> None:
    raw = connection.connection.driver_connection
    assert raw is not None
    columns = (
        "campaign_id, unit_id, member_id, source, rule, points, idempotency_key, "
        "occurred_at, local_date"
    )
    with raw.cursor() as cursor, cursor.copy(f"COPY point_entry ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for n in range(count):
            member_id, unit_id = rng.choice(member_units)
            source, rule, points = rng.choice(kinds)
            moment = START - dt.timedelta(minutes=rng.randrange(58 * 24 * 60))
            local = moment.astimezone(ZoneInfo("Asia/Shanghai")).date()
            signed = points if rng.random() > 0.02 else -points
            naive = moment.replace(tzinfo=None).isoformat(sep=" ")
            buffer.write(
                f"{campaign_id}\t{unit_id}\t{member_id}\t{source}\t{rule}\t{signed}\t"
                f"bench:{n}\t{naive}\t{local.isoformat()}\n"
            )
            if n % CHUNK == CHUNK - 1:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def backends() -> list[str]:
    """SQLite always; PostgreSQL when it answers."""
    try:
        plain = make_url(ADMIN_DSN).set(drivername="postgresql")
        with psycopg.connect(plain.render_as_string(hide_password=False), connect_timeout=3):
            pass
    except psycopg.OperationalError:
        return ["sqlite"]
    return ["sqlite", "postgresql"]
