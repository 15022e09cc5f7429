"""The Slack adapter as the tests drive it: the real slack-bolt AsyncApp behind our HTTP server,
talking to the strict local fake Slack (tests/fakes/slack_api.py). Signed requests go in over HTTP;
the tests assert on what the app sent out.

Every command and button press gets its own response_url on the fake (Slack gives each its own),
so the 5-posts rule is never tripped by accident."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.adapters.slack import SlackAdapter
from bot.delivery import Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import Scheduler
from bot.service import build_http_app
from handlers import JOBS, build_router
from kernel import MovableClock, Role
from messages import Renderer
from storage.database import Database
from tests.fakes.slack_api import (
    RESPONSE_URL,
    TEAM_ID,
    TOKEN,
    Call,
    FakeSlack,
    block_action,
    signed_request,
    slash_command,
)
from tests.harness import seat_people

SECRET = "test-signing-secret"
CHANNEL = "C0RENMIN"
STAFF, SUPERVISOR, ADMIN, STRANGER = "U0STAFF", "U0SUPER", "U0ADMIN", "U0NEW"
PEOPLE = (
    (STAFF, "Wang Fang", Role.STAFF),
    (SUPERVISOR, "Chen Jing", Role.SUPERVISOR),
    (ADMIN, "Li Ming", Role.ADMIN),
)
MONDAY_0800 = dt.datetime(2027, 1, 4, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PRESSED_TS = "1700000000.000100"


def clock_sleep(clock: MovableClock) -> Callable[[float], Awaitable[None]]:
    """The sender's wait for a channel's next slot: the clock moves on at once."""

    async def sleep(seconds: float) -> None:
        clock.advance(dt.timedelta(seconds=seconds))
        await asyncio.sleep(0)

    return sleep


@dataclass
class Bot:
    slack: FakeSlack
    http: TestClient
    database: Database
    clock: MovableClock
    scheduler: Scheduler
    sender: Sender
    dispatcher: Dispatcher
    adapter: SlackAdapter
    _keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def response_url(self) -> str:
        """A fresh response_url on the fake, as Slack gives each command and press."""
        return self.slack.response_url(f"r{next(self._keys)}")

    async def post(self, body: bytes, **headers: Any) -> int:
        response = await self.http.post(
            "/slack/events", data=body, headers=signed_request(body, SECRET, **headers)
        )
        return response.status

    async def command(
        self,
        command: str,
        text: str = "",
        user: str = STAFF,
        channel: str = CHANNEL,
        *,
        response_url: str | None = None,
    ) -> None:
        url = response_url or self.response_url()
        body = slash_command(command, text, user, channel, response_url=url)
        assert await self.post(body) == 200

    async def press(
        self, message: dict[str, Any], label: str, user: str = STAFF, channel: str = CHANNEL
    ) -> None:
        """Press the button whose label contains ``label`` on a message the app sent."""
        for block in message.get("blocks", []):
            for element in block.get("elements", []):
                if element.get("type") == "button" and label in element["text"]["text"]:
                    body = block_action(
                        element["action_id"],
                        element["value"],
                        user,
                        channel,
                        message_ts=PRESSED_TS,
                        response_url=self.response_url(),
                    )
                    assert await self.post(body) == 200
                    return
        raise AssertionError(f"no button {label!r} in {message}")

    async def answers(self, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """The posts to response_urls so far, once there are ``count``."""
        return await self.slack.wait_for(RESPONSE_URL, count=count, timeout=timeout)

    async def rows(self, model: Any) -> int:
        async with self.database.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def text_of(args: dict[str, Any]) -> str:
    """Everything a message shows: its blocks' texts and its fallback text."""
    parts = [args.get("text", "")]
    for block in args.get("blocks", []):
        if block.get("type") == "section":
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            if element.get("type") == "button":
                parts.append(element["text"]["text"])
    return "\n".join(parts)


def buttons_of(args: dict[str, Any]) -> list[str]:
    return [
        element["text"]["text"]
        for block in args.get("blocks", [])
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]


def refused(slack: FakeSlack) -> list[tuple[str, Any]]:
    """Every call the fake refused (anything but a 200 with ok), for a clean run: []."""
    return [
        (call.method, call.response)
        for call in slack.calls()
        if call.status != 200
        or (isinstance(call.response, dict) and call.response.get("ok") is False)
    ]


@asynccontextmanager
async def slack_bot(
    database_url: str,
    *,
    people: Iterable[tuple[str, str, Role]] = PEOPLE,
    joined: Iterable[str] = (CHANNEL,),
    app_token: str | None = None,
) -> AsyncIterator[Bot]:
    """The adapter on a database with the postal bank's plan and ``people`` seated in Renmin
    Road (whose channel is CHANNEL), against a fake Slack where the app is in ``joined``."""
    database = Database(database_url)
    now = MONDAY_0800.astimezone(dt.UTC)
    await seat_people(
        database, platform="slack", workspace=TEAM_ID, chat=CHANNEL, people=list(people), now=now
    )
    clock = MovableClock(now)
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale="zh")
    )
    # The fake's per-channel limit runs on the bot's clock, which the tests move.
    async with FakeSlack(joined=joined, clock=lambda: clock.now().timestamp()) as slack:
        if app_token is not None:
            slack.app_token = app_token
        adapter = SlackAdapter(
            dispatcher,
            Renderer(),
            clock,
            token=TOKEN,
            signing_secret=SECRET,
            api_url=slack.base_url,
            app_token=app_token,
        )
        app = build_http_app(database, time.monotonic())
        adapter.mount(app)
        http = TestClient(TestServer(app, host="127.0.0.1"))
        await http.start_server()
        try:
            yield Bot(
                slack,
                http,
                database,
                clock,
                Scheduler(database, clock, JOBS),
                Sender(
                    database, clock, {"slack": adapter}, sleep=clock_sleep(clock), concurrency=1
                ),
                dispatcher,
                adapter,
            )
        finally:
            await adapter.stop()
            await http.close()
            await database.dispose()
