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

from bot.adapters import Platform, configured_platforms
from bot.config import Settings
from bot.delivery import Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import Scheduler, start_ticking
from handlers import JOBS, build_router
from handlers.shared.date_phrases import warm_up
from kernel import SystemClock
from messages import Renderer
from storage.database import Database
from storage.migrate import upgrade_async
from storage.urls import is_sqlite

log = logging.getLogger(__name__)

TICK_EVERY = dt.timedelta(seconds=30)


def build_http_app(database: Database, started: float) -> web.Application:
    """The HTTP app with health and metrics; adapters add their own routes to it.

    ``/healthz`` is 200 only when the database answers and takes a write (a row written and
    rolled back): a database that reads but refuses every write loses every answer people give,
    so it is unavailable; the reason goes to the log in one line."""

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with database.store() as store:
                healthy = await store.health.database_answers()
                if healthy:
                    await store.health.database_takes_a_write(dt.datetime.now(dt.UTC))
        except Exception as error:
            reason = (str(error).strip().splitlines() or [""])[0]
            log.warning("health.database_failed error=%s %s", type(error).__name__, reason)
            healthy = False
        status = 200 if healthy else 503
        return web.json_response({"status": "ok" if healthy else "unavailable"}, status=status)

    async def metrics(_request: web.Request) -> web.Response:
        async with database.store() as store:
            counts = await store.health.outbox_counts()
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
    """Run until SIGINT or SIGTERM; return the exit status.

    The HTTP server and the signal handlers come up first, so /healthz answers and a stop
    request is honoured while the platforms connect; a platform that refuses to connect stops
    the process with PlatformStartFailed."""
    if is_sqlite(settings.database_url):
        await upgrade_async(settings.database_url)
    database = Database(settings.database_url)
    clock = SystemClock()
    warm_up()  # the date parsers' first call is slow: pay it now, not on someone's message
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale=settings.locale)
    )
    app = build_http_app(database, time.monotonic())
    platforms = configured_platforms(settings, dispatcher, Renderer(), clock)
    for platform in platforms:
        platform.mount(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("http.listening host=%s port=%s", settings.http_host, settings.http_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started: list[Platform] = []
    ticking = None
    try:
        for platform in platforms:
            await platform.start()
            started.append(platform)
        sender = Sender(database, clock, {p.platform: p for p in platforms})
        ticking = start_ticking(Scheduler(database, clock, JOBS), sender.flush, TICK_EVERY)
        await stop.wait()
    finally:
        log.info("process.stopping")
        if ticking is not None:
            await ticking.stop()
        for platform in started:
            await platform.stop()
        await runner.cleanup()
        await database.dispose()
    return 0
