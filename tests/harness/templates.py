"""Databases that start from templates, so hundreds of tests do not each migrate and load a plan.

- A migrated schema, once per worker: ``sqlite_template`` and ``postgres_template`` (fixtures in
  ``tests/harness/__init__.py``) copy it for each test.
- On SQLite, a migrated schema with a plan loaded, once per worker and plan:
  ``start_demo_database`` puts it in place of a new demo file, so ``open_demo`` finds the plan
  already loaded (its digest matches and ``Plans.load`` skips it, as it does when a real demo
  starts again on its ``--db``). Migrating and loading took about half a second per test.
- On PostgreSQL, databases kept by the worker and reset between tests (below).

A database a demo already used, or that a test wrote to, is left as it is.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from campaigns.schema import Plan
from storage.database import Database
from storage.migrate import upgrade
from storage.plans import plan_digest

SQLITE_PREFIX = "sqlite:///"


def admin_dsn(url: str | None) -> str | None:
    """TEST_DATABASE_URL as a psycopg connection string, or None when it is not set."""
    if not url:
        return None
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(dsn: str, name: str) -> str:
    return (
        make_url(dsn)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


def _database_name(url: str) -> str:
    name = make_url(url).database
    assert name is not None
    return name


async def _load(url: str, plan: Plan) -> None:
    database = Database(url)
    try:
        async with database.store() as store:
            await store.plans.load(plan, dt.datetime.now(dt.UTC))
    finally:
        await database.dispose()


# --- SQLite files -------------------------------------------------------------------------------

_PLAN_FILES: dict[str, Path] = {}
_UNTOUCHED_FILES: dict[Path, tuple[int, int]] = {}


@functools.cache
def _scratch_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="uplift-test-plans-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def copy_untouched(source: Path, path: Path) -> None:
    """Copy a template to ``path`` and remember it as new until something writes to it."""
    shutil.copy(source, path)
    _UNTOUCHED_FILES[path] = _stamp(path)


async def _start_sqlite(path: Path, plan: Plan) -> None:
    written = Path(f"{path}-wal").exists()
    new = not path.exists() or (_UNTOUCHED_FILES.get(path) == _stamp(path) and not written)
    _UNTOUCHED_FILES.pop(path, None)
    if not new:
        return
    digest = plan_digest(plan)
    if digest not in _PLAN_FILES:
        template = _scratch_folder() / f"{digest}.db"
        upgrade(f"{SQLITE_PREFIX}{template}")
        await _load(f"{SQLITE_PREFIX}{template}", plan)
        _PLAN_FILES[digest] = template
    shutil.copy(_PLAN_FILES[digest], path)


# --- PostgreSQL databases -----------------------------------------------------------------------
#
# CREATE DATABASE from the migrated template takes 0.6-0.7 s here (PostgreSQL 15 writes and syncs
# every page), a hundred times per run. A worker keeps the databases it made instead: after a
# test, whatever still talks to one is disconnected and its rows are deleted and its sequences
# restarted (about 60 ms), so the next test finds it as new. One whose schema a test changed is
# dropped, not reused.

_FREE: list[str] = []  # database names, reset and ready
_MADE: set[str] = set()
_SCHEMA: dict[str, str] = {}  # "dsn", "template" and "shape": the worker's migrated template

_SHAPE = """
SELECT md5(string_agg(line, ',' ORDER BY line)) FROM (
    SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable AS line
    FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'v' || version_num FROM alembic_version
) AS lines
"""


def _connect(dsn: str, name: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        make_url(dsn).set(database=name).render_as_string(False), autocommit=True
    )


def remember_schema_template(dsn: str, template: str) -> None:
    with _connect(dsn, template) as connection:
        shape = connection.execute(_SHAPE).fetchone()
    _SCHEMA.update(dsn=dsn, template=template, shape=str(shape))


def take_postgres() -> str:
    """A database like the migrated template, nobody else's: its URL."""
    dsn = _SCHEMA["dsn"]
    if _FREE:
        name = _FREE.pop()
    else:
        name = f"uplift_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_SCHEMA["template"]}"')
        _MADE.add(name)
    return with_database(dsn, name)


def give_back_postgres(url: str) -> None:
    """After the test: reset the database for the next one, or drop it if its schema changed."""
    dsn, name = _SCHEMA["dsn"], _database_name(url)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        admin.execute(f'ALTER DATABASE "{name}" RESET ALL')  # a test made it read-only, say
    with _connect(dsn, name) as connection:
        if str(connection.execute(_SHAPE).fetchone()) == _SCHEMA["shape"]:
            _reset(connection)
            _FREE.append(name)
            return
    _drop(dsn, name)


def _reset(connection: psycopg.Connection[Any]) -> None:
    tables = [
        row[0]
        for row in connection.execute(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
    ]
    sequences = [
        row[0]
        for row in connection.execute(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
        )
    ]
    with connection.transaction():
        connection.execute("SET LOCAL session_replication_role = replica")  # no FK order
        for table in tables:
            connection.execute(f'DELETE FROM "{table}"')
        for sequence in sequences:
            connection.execute(f'ALTER SEQUENCE "{sequence}" RESTART')


def _drop(dsn: str, name: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _MADE.discard(name)


def drop_worker_databases() -> None:
    """At the end of the worker's session: every database it made from the template."""
    for name in list(_MADE):
        _drop(_SCHEMA["dsn"], name)
    _FREE.clear()


async def start_demo_database(db: Path | str, plan: Plan) -> None:
    """Put the plan-loaded template in place of ``db`` (a file or a SQLite URL) when nothing
    used it yet. (On PostgreSQL, copying a database costs more than loading the plan.)"""
    if isinstance(db, Path) or "://" not in db:
        await _start_sqlite(Path(db), plan)
    elif db.startswith(SQLITE_PREFIX):
        await _start_sqlite(Path(db.removeprefix(SQLITE_PREFIX)), plan)
