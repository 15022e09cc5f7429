"""Alembic migrations, run from code: ``uplift db upgrade`` and the automatic upgrade on start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

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


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (blocking)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    """Upgrade from async code without blocking the event loop."""
    await asyncio.to_thread(upgrade, url)
