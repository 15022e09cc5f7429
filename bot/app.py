"""``uplift run``: one asyncio process with one HTTP server, the scheduler and the sender.

The HTTP server answers ``GET /healthz`` and ``GET /metrics`` from the start; the Slack
(``/slack/events``) and Telegram (webhook) adapters mount their routes on the same server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import time

from aiohttp import web

from bot.clock import SystemClock
from bot.config import Settings
from bot.delivery import OutboundAdapter, Sender
from bot.scheduler import Scheduler, start_ticking
from handlers import JOBS
from storage.database import Database
from storage.health import database_answers, outbox_counts
from storage.migrate import upgrade_async
from storage.urls import is_sqlite

log = logging.getLogger(__name__)

TICK_EVERY = dt.timedelta(seconds=30)


def build_http_app(database: Database, started: float) -> web.Application:
    """The HTTP app with health and metrics; adapters add their own routes to it."""

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with database.transaction() as session:
                healthy = await database_answers(session)
        except Exception:
            log.exception("health.database_failed")
            healthy = False
        status = 200 if healthy else 503
        return web.json_response({"status": "ok" if healthy else "unavailable"}, status=status)

    async def metrics(_request: web.Request) -> web.Response:
        async with database.transaction() as session:
            counts = await outbox_counts(session)
        lines = [
            "# HELP uplift_uptime_seconds Seconds since the process started.",
            "# TYPE uplift_uptime_seconds gauge",
            f"uplift_uptime_seconds {time.monotonic() - started:.0f}",
            "# HELP uplift_outbox_messages Outbox messages by status.",
            "# TYPE uplift_outbox_messages gauge",
            *(
                f'uplift_outbox_messages{{status="{status}"}} {counts.get(status, 0)}'
                for status in ("pending", "sent", "failed", "skipped")
            ),
        ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM; return the exit status."""
    if is_sqlite(settings.database_url):
        await upgrade_async(settings.database_url)
    database = Database(settings.database_url)
    clock = SystemClock()
    adapters: dict[str, OutboundAdapter] = {}
    for platform, configured in (
        ("slack", settings.slack_configured),
        ("telegram", settings.telegram_configured),
    ):
        if configured:
            log.warning(
                "platform.not_available platform=%s (its adapter is not built yet)", platform
            )
    app = build_http_app(database, time.monotonic())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("http.listening host=%s port=%s", settings.http_host, settings.http_port)
    ticking = start_ticking(
        Scheduler(database, clock, JOBS), Sender(database, clock, adapters).flush, TICK_EVERY
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("process.stopping")
        ticking.shutdown(wait=False)
        await runner.cleanup()
        await database.dispose()
    return 0
