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
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from telegram.error import TelegramError

from bot.adapters.slack import SlackAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.config import Settings
from bot.delivery import OutboundAdapter, Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import Scheduler, start_ticking
from handlers import JOBS, build_router
from handlers.shared.date_phrases import warm_up
from kernel import SystemClock
from messages import Renderer
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


class PlatformStartFailed(Exception):
    """A platform refused to connect (a wrong token, say): the process stops with a reason."""

    def __init__(self, platform: str, reason: str) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform = platform
        self.reason = reason


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
    renderer = Renderer()
    app = build_http_app(database, time.monotonic())
    adapters: dict[str, OutboundAdapter] = {}
    slack = (
        _slack_adapter(settings, dispatcher, renderer, clock) if settings.slack_configured else None
    )
    telegram = (
        _telegram_adapter(settings, dispatcher, renderer, clock)
        if settings.telegram_configured
        else None
    )
    if slack is not None:
        adapters["slack"] = slack
        if settings.slack_app_token is None:
            slack.mount(app)
    if telegram is not None:
        adapters["telegram"] = telegram
        if settings.telegram_webhook_url:
            telegram.mount(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("http.listening host=%s port=%s", settings.http_host, settings.http_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    closers: list[Callable[[], Awaitable[object]]] = []
    ticking = None
    try:
        if slack is not None and settings.slack_app_token is not None:
            closers.append(
                await _connect_socket_mode(slack, settings.slack_app_token.get_secret_value())
            )
        if telegram is not None:
            try:
                await telegram.start()
            except TelegramError as error:
                raise PlatformStartFailed("telegram", str(error)) from None
            closers.append(telegram.stop)
            log.info(
                "telegram.started mode=%s",
                "webhook" if settings.telegram_webhook_url else "polling",
            )
        ticking = start_ticking(
            Scheduler(database, clock, JOBS), Sender(database, clock, adapters).flush, TICK_EVERY
        )
        await stop.wait()
    finally:
        log.info("process.stopping")
        if ticking is not None:
            ticking.shutdown(wait=False)
        for close in closers:
            await close()
        await runner.cleanup()
        await database.dispose()
    return 0


def _slack_adapter(
    settings: Settings, dispatcher: Dispatcher, renderer: Renderer, clock: SystemClock
) -> SlackAdapter:
    assert settings.slack_bot_token is not None and settings.slack_signing_secret is not None
    return SlackAdapter(
        dispatcher,
        renderer,
        clock,
        token=settings.slack_bot_token.get_secret_value(),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        api_url=settings.slack_api_url,
    )


async def _connect_socket_mode(
    slack: SlackAdapter, app_token: str
) -> Callable[[], Awaitable[object]]:
    """Socket Mode instead of HTTP: the app token is checked first, so a wrong one stops the
    process with its reason instead of retrying for ever."""
    try:
        await slack.client.apps_connections_open(app_token=app_token)
    except SlackApiError as error:
        raise PlatformStartFailed("slack", str(error.response.get("error", "unknown"))) from None
    socket = AsyncSocketModeHandler(slack.app, app_token)
    await socket.connect_async()
    log.info("slack.socket_mode connected")
    return socket.close_async


def _telegram_adapter(
    settings: Settings, dispatcher: Dispatcher, renderer: Renderer, clock: SystemClock
) -> TelegramAdapter:
    """Telegram long-polls by default, or takes a webhook on our HTTP server."""
    assert settings.telegram_bot_token is not None
    secret = settings.telegram_webhook_secret
    return TelegramAdapter(
        dispatcher,
        renderer,
        clock,
        token=settings.telegram_bot_token.get_secret_value(),
        api_url=settings.telegram_api_url,
        webhook_url=settings.telegram_webhook_url,
        webhook_secret=secret.get_secret_value() if secret else None,
    )
