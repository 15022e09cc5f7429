"""``uplift run``: one asyncio process with one HTTP server, the scheduler and the sender.

The HTTP server answers ``GET /healthz`` and ``GET /metrics`` from the start; the Slack
(``/slack/events``) and Telegram (webhook) adapters mount their routes on the same server.
Several processes may share one PostgreSQL database: each answers and sends, and the one that
holds the leadership (an advisory lock, ``storage/leadership.py``) runs the scheduler.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import time
from collections.abc import Callable

from aiohttp import web

from bot.adapters import Platform, configured_platforms
from bot.config import Settings
from bot.delivery import Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.metrics import Metrics
from bot.scheduler import STOP_GRACE_SECONDS, Scheduler, start_ticking
from handlers import JOBS, build_router
from handlers.shared.date_phrases import warm_up
from kernel import SystemClock
from messages import Renderer
from storage.database import Database, PoolSettings
from storage.leadership import Leadership
from storage.migrate import upgrade_async
from storage.urls import is_sqlite
from storage.wakeups import Wakeups, tell_instances

log = logging.getLogger(__name__)

TICK_EVERY = dt.timedelta(seconds=30)
OUTBOX_STATUSES = ("pending", "sent", "failed", "skipped")


def build_http_app(
    database: Database,
    started: float,
    *,
    metrics: Metrics | None = None,
    leader: Callable[[], bool] = lambda: True,
) -> web.Application:
    """The HTTP app with health and metrics; adapters add their own routes to it.

    ``/healthz`` is 200 only when the database answers and takes a write (a row written and
    rolled back): a database that reads but refuses every write loses every answer people give,
    so it is unavailable; the reason goes to the log in one line. Its JSON also says whether
    this process runs the scheduler (``leader``) or leaves it to another (``follower``), and the
    outbox's backlog with the age of its oldest message due, for a load balancer and a person.
    ``/metrics`` is Prometheus's text, its database gauges read when it is scraped."""
    metrics = metrics or Metrics()

    def role() -> str:
        return "leader" if leader() else "follower"

    async def healthz(_request: web.Request) -> web.Response:
        now = dt.datetime.now(dt.UTC)
        body: dict[str, object] = {"status": "unavailable", "database": "unavailable"}
        try:
            async with database.store() as store:
                if await store.health.database_answers():
                    await store.health.database_takes_a_write(now)
                    backlog = await store.health.outbox_backlog(now)
                    body = {
                        "status": "ok",
                        "database": "ok",
                        "outbox": {
                            "backlog": backlog.pending,
                            "oldest_due_seconds": round(backlog.oldest_due_seconds, 1),
                        },
                    }
        except Exception as error:
            reason = (str(error).strip().splitlines() or [""])[0]
            log.warning("health.database_failed error=%s %s", type(error).__name__, reason)
        body["scheduler"] = role()
        return web.json_response(body, status=200 if body["status"] == "ok" else 503)

    async def metrics_text(_request: web.Request) -> web.Response:
        now = dt.datetime.now(dt.UTC)
        metrics.uptime_seconds.set(round(time.monotonic() - started))
        metrics.scheduler_leader.set(1 if leader() else 0)
        try:
            async with database.reading() as store:
                counts = await store.health.outbox_counts()
                backlog = await store.health.outbox_backlog(now)
        except Exception as error:  # the process's own figures are still worth scraping
            log.warning("metrics.database_failed error=%s", type(error).__name__)
        else:
            for status in OUTBOX_STATUSES:
                metrics.outbox_messages.labels(status).set(counts.get(status, 0))
            metrics.outbox_backlog.set(backlog.pending)
            metrics.outbox_oldest_seconds.set(backlog.oldest_due_seconds)
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": metrics.content_type}
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    return app


async def serve(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM; return the exit status.

    The HTTP server and the signal handlers come up first, so /healthz answers and a stop
    request is honoured while the platforms connect; a platform that refuses to connect stops
    the process with PlatformStartFailed. Every instance answers and sends; on PostgreSQL only
    the one holding the leadership runs the scheduler."""
    if is_sqlite(settings.database_url):
        await upgrade_async(settings.database_url)
    pool = PoolSettings(
        size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        timeout=settings.db_pool_timeout,
    )
    database = Database(settings.database_url, pool=pool)
    metrics = Metrics()
    database.count_statements(metrics.queries.inc)
    clock = SystemClock()
    warm_up()  # the date parsers' first call is slow: pay it now, not on someone's message
    dispatcher = Dispatcher(
        database,
        build_router(),
        clock,
        DispatcherSettings(default_locale=settings.locale, events_at_once=settings.events_at_once),
        metrics=metrics,
    )
    leadership = Leadership(settings.database_url)
    app = build_http_app(
        database, time.monotonic(), metrics=metrics, leader=lambda: leadership.leads
    )
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
    sending: asyncio.Task[None] | None = None
    wakeups: Wakeups | None = None
    try:
        for platform in platforms:
            await platform.start()
            started.append(platform)
        sender = Sender(
            database,
            clock,
            {p.platform: p for p in platforms},
            metrics=metrics,
            lease=dt.timedelta(seconds=settings.sender_lease_seconds),
        )
        dispatcher.when_queued(sender.wake)  # what an event queued, this process sends
        sending = asyncio.create_task(sender.run(stop))
        wakeups = Wakeups(settings.database_url, sender.wake)
        wakeups.start()

        async def after_tick() -> None:  # what the scheduler queued, every instance sends
            sender.wake()
            try:
                await tell_instances(database)
            except Exception as error:
                log.warning("delivery.wakeup_unsent error=%s", type(error).__name__)

        ticking = start_ticking(
            Scheduler(database, clock, JOBS),
            None,
            TICK_EVERY,
            leadership=None if is_sqlite(settings.database_url) else leadership,
            claim_every=dt.timedelta(seconds=settings.leader_retry_seconds),
            after_tick=after_tick,
        )
        await stop.wait()
    finally:
        log.info("process.stopping")
        stop.set()
        if ticking is not None:
            await ticking.stop()
        else:
            await leadership.release()
        if wakeups is not None:
            await wakeups.stop()
        if sending is not None:
            await _finished(sending)
        for platform in started:
            await platform.stop()
        await runner.cleanup()
        await database.dispose()
    return 0


async def _finished(sending: asyncio.Task[None], grace: float = STOP_GRACE_SECONDS) -> None:
    """Let the sender record the batch it has in flight (within a grace period)."""
    done, _ = await asyncio.wait({sending}, timeout=grace)
    if not done:
        log.warning("delivery.stopped_mid_batch")
        sending.cancel()
    elif not sending.cancelled() and sending.exception() is not None:
        log.error("delivery.stopped error=%s", type(sending.exception()).__name__)
