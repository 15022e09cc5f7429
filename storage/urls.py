"""Database URLs: people write ``sqlite:///x.db`` or ``postgresql://...``; we pick the drivers."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url


def async_url(url: str) -> URL:
    """The URL with the asyncio driver the app runs on (aiosqlite or psycopg)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def sync_url(url: str) -> URL:
    """The URL with a blocking driver, for Alembic migrations run in a worker thread."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite")
    if parsed.get_backend_name() in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"
