"""The Alembic migrations build exactly the schema the models describe, and can run again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from storage.database import SQLITE_BUSY_TIMEOUT_MS, Database
from storage.migrate import upgrade, upgrade_async
from storage.models import Base, Organisation
from storage.urls import sync_url
from tests.harness import newest_revision

NOW = dt.datetime(2027, 3, 15, 1, 30, tzinfo=dt.UTC)


def _schema_state(url: str) -> tuple[list[object], str | None, set[str]]:
    """The differences between database and models, the stored revision and the tables."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            revision = context.get_current_revision()
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    return differences, revision, tables


def test_schema_after_upgrade_matches_the_models(db_url: str) -> None:
    differences, revision, tables = _schema_state(db_url)
    assert differences == []
    assert revision == newest_revision()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrade_runs_again_without_harm(db_url: str) -> None:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.begin() as connection:
            connection.execute(
                Organisation.__table__.insert().values(
                    key="kept", name_zh="保留", name_en="Kept", created_at=NOW
                )
            )
    finally:
        engine.dispose()

    upgrade(db_url)
    upgrade(db_url)

    differences, revision, _ = _schema_state(db_url)
    assert differences == []
    assert revision == newest_revision()
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as connection:
            kept = connection.execute(select(Organisation.__table__.c.name_zh)).scalars().all()
    finally:
        engine.dispose()
    assert kept == ["保留"]


async def test_upgrade_of_an_empty_sqlite_file_records_its_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    await upgrade_async(url)
    differences, revision, tables = _schema_state(url)
    assert (differences, revision) == ([], newest_revision())
    assert "point_entry" in tables
    # the revision was recorded, so starting the app again does not try to create tables twice
    await upgrade_async(url)
    assert _schema_state(url)[1] == newest_revision()


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        for _ in range(2):  # a fresh transaction, possibly a pooled connection, each time
            async with database.transaction() as session:
                journal_mode = await session.scalar(text("PRAGMA journal_mode"))
                foreign_keys = await session.scalar(text("PRAGMA foreign_keys"))
                busy_timeout = await session.scalar(text("PRAGMA busy_timeout"))
                assert str(journal_mode).lower() == "wal"
                assert foreign_keys == 1
                assert busy_timeout == SQLITE_BUSY_TIMEOUT_MS
                assert busy_timeout > 0
    finally:
        await database.dispose()
