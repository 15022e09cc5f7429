"""Slack's HTTP endpoint checks a request before anything reads it, and a replayed request does
nothing twice: the real slack-bolt app behind our HTTP server, against the local fake Slack, on
SQLite and PostgreSQL.

- unsigned garbage, a timestamp that is no number, a wrong or stale signature, a signed body that
  is not what Slack sends: 400 or 401, one short log line each, no traceback, never the body;
- a signed view submission or button press sent again (a replay within the five minutes the
  signature stays valid, or a second click) is handled once;
- NUL and the other control characters typed into a form are dropped at the edge: the form is
  kept (PostgreSQL refuses NUL in text).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.adapters.slack import SlackAdapter
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.service import build_http_app
from handlers import build_router
from kernel import MovableClock, Role, Text
from messages import Renderer
from storage.database import Database
from storage.models import DrillAnswer, Observation
from tests.fakes.slack_api import (
    RESPONSE_URL,
    TEAM_ID,
    TOKEN,
    FakeSlack,
    block_action,
    signed_request,
    slash_command,
    view_submission,
)
from tests.harness import seat_people

SECRET = "test-signing-secret-for-requests"
CHANNEL = "C0RENMIN"
STAFF, SUPERVISOR = "U0STAFF", "U0SUPER"
MONDAY_0800 = dt.datetime(2027, 1, 4, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
ADAPTER_LOG = "bot.adapters.slack"


@dataclass
class Bot:
    slack: FakeSlack
    http: TestClient
    database: Database

    async def send(self, body: bytes, headers: dict[str, str]) -> int:
        response = await self.http.post("/slack/events", data=body, headers=headers)
        return response.status

    async def rows(self, model: Any) -> int:
        async with self.database.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    def answered(self) -> int:
        """Answers shown so far (commands, presses and forms answer through response_urls)."""
        return sum(
            self.slack.count(m) for m in (RESPONSE_URL, "chat.postEphemeral", "chat.postMessage")
        )


@pytest_asyncio.fixture
async def bot(db_url: str) -> AsyncIterator[Bot]:
    database = Database(db_url)
    now = MONDAY_0800.astimezone(dt.UTC)
    people = [(STAFF, "Wang Fang", Role.STAFF), (SUPERVISOR, "Chen Jing", Role.SUPERVISOR)]
    await seat_people(
        database, platform="slack", workspace=TEAM_ID, chat=CHANNEL, people=people, now=now
    )
    clock = MovableClock(now)
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale="zh")
    )
    async with FakeSlack(joined=[CHANNEL]) as slack:
        adapter = SlackAdapter(
            dispatcher,
            Renderer(),
            clock,
            token=TOKEN,
            signing_secret=SECRET,
            api_url=slack.base_url,
        )
        app = build_http_app(database, time.monotonic())
        adapter.mount(app)
        http = TestClient(TestServer(app, host="127.0.0.1"))
        await http.start_server()
        try:
            yield Bot(slack, http, database)
        finally:
            await http.close()
            await database.dispose()


def filled(view: dict[str, Any], text: str) -> dict[str, dict[str, dict[str, Any]]]:
    """view.state.values for a modal the app opened: ``text`` in every text input, the first
    option of every select, today in every date picker."""
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind, action_id = element["type"], element["action_id"]
        if kind == "plain_text_input":
            value: dict[str, Any] = {"type": kind, "value": text}
        elif kind == "static_select":
            value = {"type": kind, "selected_option": {"value": element["options"][0]["value"]}}
        elif kind == "multi_static_select":
            value = {"type": kind, "selected_options": [{"value": element["options"][0]["value"]}]}
        elif kind == "datepicker":
            value = {"type": kind, "selected_date": "2027-01-04"}
        else:
            raise AssertionError(f"an input the test cannot fill: {kind}")
        values[block["block_id"]] = {action_id: value}
    return values


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def open_observation_form(bot: Bot) -> dict[str, Any]:
    body = slash_command(
        "/observe", "", SUPERVISOR, CHANNEL, response_url=bot.slack.response_url("o")
    )
    assert await bot.send(body, signed_request(body, SECRET)) == 200
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "observe.submit"
    return view


# --- refused before bolt reads anything --------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("no signature", 401),
        ("garbage signature", 401),
        ("timestamp is no number", 400),
        ("timestamp is a huge number", 400),
        ("stale", 401),
        ("signed with another secret", 401),
        ("signed garbage JSON", 400),
        ("signed form with garbage payload", 400),
        ("signed bytes that are not UTF-8", 400),
    ],
)
async def test_bad_requests_are_refused_in_one_line_without_the_body(
    bot: Bot, caplog: pytest.LogCaptureFixture, case: str, status: int
) -> None:
    marker = "MARKER-of-the-body-7f3a"
    garbage = b'{"type": "block_actions", "' + marker.encode() + b'": [unclosed'
    form = slash_command("/score", marker, STAFF, CHANNEL)
    now = int(time.time())
    requests: dict[str, tuple[bytes, dict[str, str]]] = {
        "no signature": (garbage, {"Content-Type": "application/json"}),
        "garbage signature": (
            garbage,
            {
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": str(now),
                "X-Slack-Signature": "v0=" + marker,
            },
        ),
        "timestamp is no number": (
            form,
            {**signed_request(form, SECRET), "X-Slack-Request-Timestamp": "soon" + marker},
        ),
        "timestamp is a huge number": (form, signed_request(form, SECRET, timestamp=10**40)),
        "stale": (form, signed_request(form, SECRET, timestamp=now - 3600)),
        "signed with another secret": (form, signed_request(form, "not-the-secret")),
        "signed garbage JSON": (garbage, signed_request(garbage, SECRET)),
        "signed form with garbage payload": (
            b"payload=%7B" + marker.encode(),
            signed_request(b"payload=%7B" + marker.encode(), SECRET),
        ),
        "signed bytes that are not UTF-8": (
            b"text=\xff\xfe" + marker.encode(),
            signed_request(b"text=\xff\xfe" + marker.encode(), SECRET),
        ),
    }
    body, headers = requests[case]
    caplog.set_level(logging.DEBUG)
    caplog.clear()

    assert await bot.send(body, headers) == status

    await asyncio.sleep(0.05)  # anything bolt would have started
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert marker not in caplog.text
    refused = [r for r in caplog.records if r.name.startswith(ADAPTER_LOG)]
    assert [r.getMessage() for r in refused] == [
        f"slack.request_refused status={status} reason={reason}"
        for reason in [
            {
                "no signature": "unsigned",
                "garbage signature": "bad_signature",
                "timestamp is no number": "bad_timestamp",
                "timestamp is a huge number": "bad_timestamp",
                "stale": "stale",
                "signed with another secret": "bad_signature",
            }.get(case, "malformed_body")
        ]
    ]
    assert len(str(refused[0].getMessage())) < 80
    assert bot.answered() == 0  # nothing reached a feature


async def test_a_good_request_still_goes_through(bot: Bot) -> None:
    body = slash_command("/score", "", STAFF, CHANNEL, response_url=bot.slack.response_url())
    assert await bot.send(body, signed_request(body, SECRET)) == 200
    [answer] = await bot.slack.wait_for(RESPONSE_URL)
    assert answer.args["response_type"] == "ephemeral"


# --- replays -----------------------------------------------------------------------------------


async def test_a_replayed_view_submission_creates_one_observation(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.dispatcher")
    view = await open_observation_form(bot)
    body = view_submission(
        "observe.submit", filled(view, "The queue sign fell down"), view["private_metadata"], STAFF
    )
    headers = signed_request(body, SECRET)

    assert await bot.send(body, headers) == 200
    await until(bot.answered)
    answered = bot.answered()
    assert await bot.rows(Observation) == 1

    # The same signed bytes again, a minute later as far as the signature cares: still valid.
    assert await bot.send(body, headers) == 200
    await until(lambda: "event.repeat" in caplog.text)
    assert await bot.rows(Observation) == 1
    assert bot.answered() == answered

    # A new submission (another state of the view: another hash) is a new observation.
    again = view_submission(
        "observe.submit", filled(view, "The ramp is blocked"), view["private_metadata"], STAFF
    )
    assert await bot.send(again, signed_request(again, SECRET)) == 200
    await until(lambda: bot.answered() > answered)
    assert await bot.rows(Observation) == 2


async def test_a_replayed_button_press_is_handled_once(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.dispatcher")
    body = slash_command("/drill", "", STAFF, CHANNEL, response_url=bot.slack.response_url("d"))
    assert await bot.send(body, signed_request(body, SECRET)) == 200
    [drill] = await bot.slack.wait_for(RESPONSE_URL)
    button = drill.args["blocks"][-1]["elements"][0]
    press = block_action(
        button["action_id"],
        button["value"],
        STAFF,
        CHANNEL,
        message_ts="1700000000.000100",
        response_url=bot.slack.response_url("p"),
    )
    headers = signed_request(press, SECRET)

    assert await bot.send(press, headers) == 200
    await bot.slack.wait_for(RESPONSE_URL, count=2)
    assert await bot.send(press, headers) == 200
    await until(lambda: "event.repeat" in caplog.text)
    await asyncio.sleep(0.1)
    assert bot.answered() == 2  # no "already answered" for a replay
    assert await bot.rows(DrillAnswer) == 1


# --- control characters --------------------------------------------------------------------------


async def test_a_nul_in_a_form_field_is_dropped_and_the_form_kept(bot: Bot) -> None:
    view = await open_observation_form(bot)
    typed = "The queue\x00 sign\x07 fell\r\n\tdown\x1b"
    body = view_submission("observe.submit", filled(view, typed), view["private_metadata"], STAFF)

    assert await bot.send(body, signed_request(body, SECRET)) == 200

    await until(bot.answered)
    async with bot.database.transaction() as session:
        texts = list(await session.scalars(select(Observation.text)))
    assert texts == ["The queue sign fell\n\tdown"]
    internal = Renderer().render(Text("errors/internal"), "en")
    replies = [c.args.get("text", "") for c in bot.slack.calls(RESPONSE_URL)]
    assert internal not in replies
