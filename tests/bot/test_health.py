"""``/healthz`` answers 503 when the database reads but refuses writes, on SQLite and PostgreSQL:
the real HTTP app over a real database whose writes are made to fail from outside. It says
whether this process leads the scheduler and how far the outbox is behind; ``/metrics`` is
Prometheus's text from the process's own registry."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.metrics import Metrics
from bot.service import build_http_app
from storage.database import Database
from storage.models import ProcessedEvent
from tests.harness import rows


async def health(database: Database, *, leader: bool = True) -> tuple[int, object]:
    """What GET /healthz answers: status and JSON body."""
    app = build_http_app(database, time.monotonic(), leader=lambda: leader)
    http = TestClient(TestServer(app, host="127.0.0.1"))
    await http.start_server()
    try:
        response = await http.get("/healthz")
        return response.status, await response.json()
    finally:
        await http.close()


async def scrape(database: Database, metrics: Metrics) -> str:
    app = build_http_app(database, time.monotonic(), metrics=metrics, leader=lambda: False)
    http = TestClient(TestServer(app, host="127.0.0.1"))
    await http.start_server()
    try:
        response = await http.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return await response.text()
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


HEALTHY = {
    "status": "ok",
    "database": "ok",
    "scheduler": "leader",
    "outbox": {"backlog": 0, "oldest_due_seconds": 0.0},
}


async def queue(database: Database, key: str, due_at: dt.datetime) -> None:
    async with database.store() as store:
        await store.outbox.enqueue(
            key=key,
            platform="slack",
            workspace="T1",
            chat_id="C1",
            reply={"text": {"template": "help/help", "data": {}}},
            locale="en",
            due_at=due_at,
            now=due_at,
        )


async def test_healthz_is_ok_when_the_database_takes_writes(db_url: str) -> None:
    database = Database(db_url)
    try:
        assert await health(database) == (200, HEALTHY)
        assert await rows(database, ProcessedEvent) == []  # the test write was rolled back
    finally:
        await database.dispose()


async def test_healthz_tells_the_follower_and_the_outbox_backlog(db_url: str) -> None:
    database = Database(db_url)
    now = dt.datetime.now(dt.UTC)
    try:
        await queue(database, "overdue", now - dt.timedelta(minutes=10))
        await queue(database, "later", now + dt.timedelta(hours=1))

        status, body = await health(database, leader=False)

        assert status == 200
        assert isinstance(body, dict)
        assert body["scheduler"] == "follower"
        assert body["outbox"]["backlog"] == 2
        assert 600 <= body["outbox"]["oldest_due_seconds"] < 3600  # the overdue one, not later
    finally:
        await database.dispose()


async def test_metrics_counts_events_queries_and_the_outbox(db_url: str) -> None:
    database = Database(db_url)
    metrics = Metrics()
    database.count_statements(metrics.queries.inc)
    now = dt.datetime.now(dt.UTC)
    try:
        await queue(database, "overdue", now - dt.timedelta(minutes=10))
        metrics.events.labels("slack", "command").inc()

        text = await scrape(database, metrics)

        lines = text.splitlines()
        assert 'uplift_events_total{kind="command",platform="slack"} 1.0' in lines
        assert 'uplift_outbox_messages{status="pending"} 1.0' in lines
        assert "uplift_outbox_backlog 1.0" in lines
        assert "uplift_scheduler_leader 0.0" in lines
        [oldest] = [line for line in lines if line.startswith("uplift_outbox_oldest_seconds ")]
        assert float(oldest.split()[1]) >= 600
        [queries] = [line for line in lines if line.startswith("uplift_queries_total ")]
        assert float(queries.split()[1]) >= 3  # the enqueue, and the scrape's own reads
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

        assert await health(database) == (
            503,
            {"status": "unavailable", "database": "unavailable", "scheduler": "leader"},
        )
    finally:
        await database.dispose()
    [line] = [r for r in caplog.records if r.name == "bot.service"]
    assert line.getMessage().startswith("health.database_failed")
    assert "read" in line.getMessage().lower()  # "readonly database" / "read-only transaction"
    assert line.exc_info is None  # one line, no traceback per poll
