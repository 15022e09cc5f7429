"""The test harness, a pytest plugin (``tests/conftest.py`` loads it): what every test may use,
imported from ``tests.harness``.

- Databases: ``db_url`` is a fresh migrated database, once on SQLite and once on PostgreSQL
  (``TEST_DATABASE_URL``, which ``.ci/run`` sets; each test gets its own database copied from a
  template made once per worker and dropped afterwards); ``database`` opens it; ``sqlite_url``
  and ``demo_db`` are the embedded default only.
- Plans: ``read_plan("postal-bank")`` and the ``plan`` fixture (the postal bank's plan).
- Time: ``at("2027-01-04 08:30")`` is a local time (Shanghai by default) as UTC.
- People: ``open_demo`` starts the real demo session (console chat, scheduler, sender, simulated
  colleagues) where a test wants it; ``jump`` and ``typed`` move the clock or type without it;
  ``Office`` (``office.py``) adds console chats for more people.
- Words: ``said(template, locale, **data)`` is what the bot prints for a template.
- The contract: ``architecture.py`` checks the import arrows (``tests/test_architecture.py``).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, update

from bot.demo import DemoOptions, DemoSession, demo_session
from campaigns.loader import read_plan_file
from campaigns.schema import Plan
from kernel import Role
from storage.database import Database
from storage.migrate import alembic_config, upgrade
from storage.models import Member
from tests.harness.office import Office, private, shown
from tests.harness.templates import (
    admin_dsn,
    copy_untouched,
    drop_worker_databases,
    give_back_postgres,
    remember_schema_template,
    start_demo_database,
    take_postgres,
    with_database,
)
from tests.harness.words import said

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "campaigns" / "plans"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BACKENDS = ("sqlite", "postgresql")


# --- plans, time and words --------------------------------------------------------------------


@functools.cache
def read_plan(name: str) -> Plan:
    """A shipped plan by its file name (``postal-bank`` or ``postal-bank.yaml``), validated."""
    path = PLANS / (name if name.endswith(".yaml") else f"{name}.yaml")
    reading = read_plan_file(path)
    assert reading.problems == [], reading.problems
    assert reading.plan is not None
    return reading.plan


@pytest.fixture(scope="session")
def plan() -> Plan:
    """The postal bank's plan, the one most tests use."""
    return read_plan("postal-bank")


def at(local: str, zone: ZoneInfo = SHANGHAI) -> dt.datetime:
    """``2027-01-04 08:30`` in ``zone``, as an aware UTC moment."""
    return dt.datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(dt.UTC)


# --- the demo session -------------------------------------------------------------------------


@asynccontextmanager
async def open_demo(
    plan: Plan,
    db: Path | str,
    *,
    role: Role = Role.STAFF,
    locale: str = "en",
    start: str | dt.datetime | None = None,
    everyone_speaks: str | None = None,
) -> AsyncIterator[DemoSession]:
    """The real demo session on ``db`` (a SQLite file or a database URL): move the clock to
    ``start`` first (firing what fell due), and let every member speak ``everyone_speaks``."""
    url = db if isinstance(db, str) and "://" in db else None
    await start_demo_database(db, plan)
    files = tempfile.TemporaryDirectory(prefix="uplift-test-files-")  # charts and sheets sent
    options = DemoOptions(
        role=role,
        plan=plan,
        db_path=None if url else Path(db),
        locale=locale,
        db_url=url,
        files_dir=Path(files.name),
    )
    with files:
        async with demo_session(options, io.StringIO()) as bot:
            moment = at(start) if isinstance(start, str) else start
            if moment is not None and bot.clock.now() < moment:
                bot.clock.set(moment)
                await bot.fire_due()
            if everyone_speaks is not None:
                async with bot.database.transaction() as session:
                    await session.execute(update(Member).values(locale=everyone_speaks))
            bot.console.take_transcript()
            yield bot


@asynccontextmanager
async def open_office(
    plan: Plan,
    db: Path | str,
    *,
    role: Role = Role.STAFF,
    locale: str = "en",
    start: str | dt.datetime | None = None,
) -> AsyncIterator[Office]:
    """The demo session as an office: you, your colleagues and more people, all speaking
    ``locale``, each with a console chat of their own (``office.chat(user_id)``)."""
    demo = open_demo(plan, db, role=role, locale=locale, start=start, everyone_speaks=locale)
    async with demo as bot:
        yield Office(bot, locale)


async def jump(bot: DemoSession, moment: str | dt.datetime) -> str:
    """Move the clock in one step (a process that slept), fire what fell due, and return what
    was printed."""
    bot.clock.set(at(moment) if isinstance(moment, str) else moment)
    await bot.fire_due()
    return bot.console.take_transcript()


async def typed(bot: DemoSession, line: str) -> str:
    """Type a line as you with the clock standing still, and deliver what it queued."""
    await bot.console.say(line)
    await bot.sender.flush()
    return bot.console.take_transcript()


async def rows(source: Database | Any, model: Any, *where: Any) -> list[Any]:
    """Every row of ``model`` matching ``where``, by id: what the database (or the demo
    session's, or an office's) holds."""
    while not isinstance(source, Database):
        source = source.database if hasattr(source, "database") else source.bot
    async with source.transaction() as session:
        return list(await session.scalars(select(model).where(*where).order_by(model.id)))


async def seat_at(bot: DemoSession, unit_key: str, user: str = "you") -> None:
    """Move a demo member (you, by default) to another unit of the organisation."""
    async with bot.database.store() as store:
        found = await store.members.by_identity("console", "", user)
        assert found is not None
        member = found[0]
        unit = await store.units.by_key(member.organisation_id, unit_key)
        assert unit is not None
        await store.members.move(member, unit.id)


async def seat_people(
    database: Database,
    *,
    platform: str,
    chat: str,
    people: list[tuple[str, str, Role]],
    now: dt.datetime,
    workspace: str = "",
    plan: str = "postal-bank",
    unit: str = "renmin-road",
) -> None:
    """Load a shipped plan, bind ``chat`` to ``unit`` and seat ``people`` (platform id, name,
    role) there on ``platform``; a supervisor is the unit's head."""
    async with database.store() as store:
        summary = await store.plans.load(read_plan(plan), now)
        found = await store.units.by_key(summary.organisation_id, unit)
        assert found is not None
        await store.units.bind_chat(found.id, platform, workspace, chat, now)
        for user, name, role in people:
            member = await store.members.add(
                organisation_id=summary.organisation_id,
                unit_id=found.id,
                display_name=name,
                role=role,
                is_unit_head=role is Role.SUPERVISOR,
                now=now,
            )
            await store.members.add_identity(
                member,
                platform=platform,
                workspace=workspace,
                external_id=user,
                private_chat_id=user,
                now=now,
            )


def newest_revision() -> str:
    """The schema's newest migration; the migrations form one line (one head)."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(scripts.get_heads()) == 1, "the migrations branch: merge them into one line"
    head = scripts.get_current_head()
    assert head is not None
    return head


# --- databases --------------------------------------------------------------------------------


def _admin_dsn() -> str | None:
    return admin_dsn(os.environ.get("TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database, one per test worker; the databases the worker's tests
    use are made from it and kept between tests (``templates.py``); all dropped at the end."""
    dsn = _admin_dsn()
    if dsn is None:
        yield None
        return
    name = f"uplift_tpl_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(with_database(dsn, name))
        remember_schema_template(dsn, name)
        yield name
    finally:
        drop_worker_databases()
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: str | None,
) -> Iterator[str]:
    """A fresh, migrated database URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "uplift.db"
        copy_untouched(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    if postgres_template is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests need it (.ci/run sets it)")
    url = take_postgres()
    try:
        yield url
    finally:
        give_back_postgres(url)


@pytest.fixture
def sqlite_url(demo_db: Path) -> str:
    """A fresh, migrated SQLite database URL, for tests about the embedded default only."""
    return f"sqlite:///{demo_db}"


@pytest.fixture
def demo_db(tmp_path: Path, sqlite_template: Path) -> Path:
    """A fresh SQLite file for the demo, copied from the migrated template to start quicker."""
    path = tmp_path / "uplift.db"
    copy_untouched(sqlite_template, path)
    return path


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    try:
        yield db
    finally:
        await db.dispose()


__all__ = [
    "PLANS",
    "ROOT",
    "SHANGHAI",
    "Office",
    "at",
    "jump",
    "newest_revision",
    "open_demo",
    "open_office",
    "private",
    "read_plan",
    "rows",
    "said",
    "seat_at",
    "seat_people",
    "shown",
    "typed",
]
