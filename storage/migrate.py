"""Alembic migrations, run from code: ``uplift db upgrade`` and the automatic upgrade on start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from storage.urls import sync_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    # Next to this file, not importlib.resources: under pytest, tests/storage/ (no __init__.py)
    # can shadow the package name ``storage`` as a namespace package.
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).render_as_string(hide_password=False))
    config.attributes["configure_logger"] = False
    return config


@dataclass(frozen=True)
class Upgraded:
    """The schema's revision before and after an upgrade: None before means there was none."""

    before: str | None
    after: str | None

    @property
    def created(self) -> bool:
        return self.before is None and self.after is not None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def upgrade(url: str, revision: str = "head") -> Upgraded:
    """Bring the database at ``url`` up to ``revision`` (blocking); say from which revision, so
    ``uplift db upgrade`` can tell creating the schema from finding it up to date."""
    before = current_revision(url)
    command.upgrade(alembic_config(url), revision)
    return Upgraded(before, current_revision(url))


def current_revision(url: str) -> str | None:
    """The schema revision the database is at; None when it has no schema yet."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


async def upgrade_async(url: str) -> Upgraded:
    """Upgrade from async code without blocking the event loop."""
    return await asyncio.to_thread(upgrade, url)
