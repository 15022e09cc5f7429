"""``/healthz`` answers 503 when the database reads but refuses writes, on SQLite and PostgreSQL:
the real HTTP app over a real database whose writes are made to fail from outside."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.service import build_http_app
from storage.database import Database
from storage.models import ProcessedEvent
from tests.harness import rows


async def health(database: Database) -> tuple[int, object]:
    """What GET /healthz answers: status and JSON body."""
    http = TestClient(TestServer(build_http_app(database, time.monotonic()), host="127.0.0.1"))
    await http.start_server()
    try:
        response = await http.get("/healthz")
        return response.status, await response.json()
    finally:
        await http.close()


def refuse_writes(db_url: str) -> None:
    """Make the database refuse writes from outside the process under test."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        # As root a read-only file is still written; a read-only connection is not.
        return
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on'
        )


def read_only_url(db_url: str) -> str:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///file:{Path(str(url.database)).resolve()}?mode=ro&uri=true"
    return db_url


async def test_healthz_is_ok_when_the_database_takes_writes(db_url: str) -> None:
    database = Database(db_url)
    try:
        assert await health(database) == (200, {"status": "ok"})
        assert await rows(database, ProcessedEvent) == []  # the test write was rolled back
    finally:
        await database.dispose()


async def test_healthz_is_unavailable_when_every_write_fails(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.service")
    refuse_writes(db_url)
    database = Database(read_only_url(db_url))
    try:
        # It still reads: the old check (SELECT 1) said ok.
        async with database.store() as store:
            assert await store.health.database_answers()

        assert await health(database) == (503, {"status": "unavailable"})
    finally:
        await database.dispose()
    [line] = [r for r in caplog.records if r.name == "bot.service"]
    assert line.getMessage().startswith("health.database_failed")
    assert "read" in line.getMessage().lower()  # "readonly database" / "read-only transaction"
    assert line.exc_info is None  # one line, no traceback per poll
