"""The Slack adapter end to end: the real slack-bolt AsyncApp behind our HTTP server, posting to a
local fake Slack Web API as strict as Slack; signed requests go in over HTTP and we assert on what
the app sent."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import select

from storage.models import Deed, DrillAnswer, OutboxMessage, PointEntry
from tests.bot.adapters.slack.bolt_bot import (
    ADMIN,
    CHANNEL,
    SECRET,
    STAFF,
    STRANGER,
    SUPERVISOR,
    Bot,
    refused,
    slack_bot,
    text_of,
)
from tests.fakes.slack_api import (
    TEAM_ID,
    TOKEN,
    dm_id,
    event_callback,
    signed_request,
    slash_command,
    view_submission,
)


@pytest_asyncio.fixture
async def bot(sqlite_url: str) -> AsyncIterator[Bot]:
    async with slack_bot(sqlite_url) as running:
        yield running


async def test_a_slash_command_answers_only_the_asker_in_a_channel(bot: Bot) -> None:
    await bot.command("/score")
    [answer] = await bot.answers()
    assert answer.args["response_type"] == "ephemeral"
    assert "My points" in text_of(answer.args)  # users.info says en-US
    assert bot.slack.count("chat.postMessage") == bot.slack.count("chat.postEphemeral") == 0


async def test_the_umbrella_command_and_help(bot: Bot) -> None:
    await bot.command("/uplift", "leaderboard")
    [answer] = await bot.answers()
    assert "Renmin Road Outlet" in text_of(answer.args)
    await bot.command("/uplift", "")
    answers = await bot.answers(count=2)
    assert "/drill" in text_of(answers[1].args)


async def test_every_command_answers(bot: Bot) -> None:
    """Each slash command of the manifest reaches its feature and answers something."""
    personal = (
        ("/score", STAFF),
        ("/drill", STAFF),
        ("/check", STAFF),
        ("/fix", STAFF),
        ("/stage", STAFF),
        ("/leaderboard", STAFF),
        ("/help", STAFF),
        ("/approve", SUPERVISOR),
        ("/remind", SUPERVISOR),
    )
    for command, user in personal:
        answered = {c.args["key"] for c in bot.slack.calls("response_url")}
        await bot.command(command, user=user)
        await bot.answers(count=len(answered) + 1)
    for command, user in (("/deed", SUPERVISOR), ("/observe", SUPERVISOR), ("/inspect", ADMIN)):
        await bot.command(command, user=user)  # an admin inspects other units, never their own
    views = await bot.slack.wait_for("views.open", count=3)
    # Listeners run after each ack, concurrently: the three modals may open in any order.
    assert sorted(v.args["view"]["callback_id"] for v in views) == [
        "deed.submit",
        "inspect.submit",
        "observe.submit",
    ]
    assert refused(bot.slack) == []


async def test_a_drill_answered_by_button_scores_once_whatever_the_presses(bot: Bot) -> None:
    await bot.command("/drill")
    [drill] = await bot.answers()
    assert any(b["type"] == "actions" for b in drill.args["blocks"])
    first_option = drill.args["blocks"][-1]["elements"][0]["text"]["text"]
    await bot.press(drill.args, first_option)
    await bot.press(drill.args, first_option)  # a double press
    answers = await bot.answers(count=3)
    assert "already answered" in text_of(answers[2].args)
    assert await bot.rows(DrillAnswer) == 1
    async with bot.database.transaction() as session:
        rules = list(await session.scalars(select(PointEntry.rule)))
    assert sorted(rules) in (["drill_answered"], ["drill_answered", "drill_correct"])


async def test_a_self_check_item_is_updated_in_place(bot: Bot) -> None:
    await bot.command("/check")
    calls = await bot.answers(count=2)
    item = calls[1].args
    assert "Item 1 of" in text_of(item)
    await bot.press(item, "Pass")
    replaced = (await bot.answers(count=3))[2]
    assert replaced.args["replace_original"] in (True, "true")
    assert "Recorded" in text_of(replaced.args)


async def test_a_deed_form_is_a_modal_and_its_submission_is_saved(bot: Bot) -> None:
    await bot.command("/deed", user=STAFF)
    [opened] = await bot.slack.wait_for("views.open")
    view = opened.args["view"]
    assert view["type"] == "modal" and view["callback_id"] == "deed.submit"
    values = {
        "what": {
            "what": {"type": "plain_text_input", "value": "Returned a lost wallet <!channel>"}
        },
        "who": {"who": {"type": "multi_static_select", "selected_options": [{"value": "me"}]}},
        "category": {
            "category": {"type": "static_select", "selected_option": {"value": "general"}}
        },
    }
    body = view_submission("deed.submit", values, view["private_metadata"], STAFF)
    assert await bot.post(body) == 200
    await bot.answers()  # through the command's response_url, kept in the modal
    assert await bot.rows(Deed) == 1
    # The unit's supervisor and admin are told privately, through the outbox.
    await bot.sender.flush()
    notices = await bot.slack.wait_for("chat.postMessage", count=2)
    assert sorted(n.args["channel"] for n in notices) == sorted([SUPERVISOR, ADMIN])
    assert sorted(n.response["channel"] for n in notices) == sorted(map(dm_id, [SUPERVISOR, ADMIN]))


async def test_user_text_cannot_ping_or_link(bot: Bot) -> None:
    await bot.command(
        "/remind", "me in 2 hours check <!channel> <https://evil.example|click>", user=SUPERVISOR
    )
    [echo] = await bot.answers()
    shown = text_of(echo.args)
    assert "<!channel>" not in shown and "<https://evil" not in shown
    assert "&lt;!channel&gt;" in shown


async def test_requests_with_a_bad_or_stale_signature_are_refused(bot: Bot) -> None:
    body = slash_command("/score", "", STAFF, CHANNEL, response_url=bot.response_url())
    bad = signed_request(body, "not-the-secret")
    assert (await bot.http.post("/slack/events", data=body, headers=bad)).status == 401
    stale = signed_request(body, SECRET, timestamp=int(time.time()) - 3600)
    assert (await bot.http.post("/slack/events", data=body, headers=stale)).status == 401
    await asyncio.sleep(0)
    assert bot.slack.calls() == []


async def test_a_retried_event_is_handled_once(bot: Bot) -> None:
    event = {
        "type": "app_mention",
        "user": STAFF,
        "text": "<@U0FAKEBOT> score",
        "channel": CHANNEL,
        "ts": "1.2",
    }
    body = event_callback(event, event_id="Ev0RETRY", team_id=TEAM_ID)
    assert await bot.post(body) == 200
    assert await bot.post(body, retry_num=1) == 200
    assert await bot.post(body, retry_num=2) == 200
    await bot.slack.wait_for("chat.postEphemeral")
    await asyncio.sleep(0.2)
    assert bot.slack.count("chat.postEphemeral") == 1


async def test_a_direct_message_is_a_private_conversation(bot: Bot) -> None:
    direct = bot.slack.dm(STAFF)  # the person wrote to the app: its DM with them is open
    event = {
        "type": "message",
        "channel_type": "im",
        "user": STAFF,
        "text": "my score",
        "channel": direct,
        "ts": "1.3",
    }
    assert await bot.post(event_callback(event, event_id="Ev0DM", team_id=TEAM_ID)) == 200
    [reply] = await bot.slack.wait_for("chat.postMessage")
    assert reply.args["channel"] == direct and "My points" in text_of(reply.args)
    assert reply.status == 200 and reply.response["ok"] is True


async def test_the_home_tab_shows_my_overview(bot: Bot) -> None:
    event = {"type": "app_home_opened", "user": STAFF, "channel": dm_id(STAFF), "tab": "home"}
    assert await bot.post(event_callback(event, event_id="Ev0HOME", team_id=TEAM_ID)) == 200
    [published] = await bot.slack.wait_for("views.publish")
    assert published.args["user_id"] == STAFF and published.response["ok"] is True
    assert "Open rectifications" in json.dumps(published.args["view"], ensure_ascii=False)


async def test_a_stranger_joins_with_an_invitation(bot: Bot) -> None:
    await bot.command("/score", user=STRANGER)
    [refusal] = await bot.answers()
    assert "not in this campaign" in text_of(refusal.args)
    # Nobody enrols themselves: a stranger is told how to get in.
    await bot.command("/join", user=STRANGER)
    told = await bot.answers(count=2)
    assert "ask your unit's supervisor for an invitation" in text_of(told[1].args)
    # The unit's supervisor invites; the code lets the stranger in.
    await bot.command("/uplift", "invite renmin-road", user=SUPERVISOR)
    invitation = await bot.answers(count=3)
    code = re.search(r"/start (\S+)", text_of(invitation[2].args))
    assert code is not None
    await bot.command("/uplift", f"start {code[1]}", user=STRANGER)
    welcome = await bot.answers(count=4)
    assert "Welcome to Renmin Road Outlet" in text_of(welcome[3].args)


async def test_drills_are_pushed_to_the_channel_at_a_paced_rate_through_429s(bot: Bot) -> None:
    bot.slack.rate_limit("chat.postMessage", times=3, retry_after=30)
    bot.clock.set(dt.datetime(2027, 1, 4, 8, 31, tzinfo=ZoneInfo("Asia/Shanghai")))
    await bot.scheduler.tick()
    for _ in range(4):
        await bot.sender.flush()
        bot.clock.advance(dt.timedelta(seconds=31))
    pushed = [c for c in bot.slack.calls("chat.postMessage") if c.status == 200]
    assert [c.args["channel"] for c in pushed] == [CHANNEL, CHANNEL]  # the drill and the stage news
    async with bot.database.transaction() as session:
        statuses = list(await session.scalars(select(OutboxMessage.status)))
    assert statuses and set(statuses) == {"sent"}  # nothing dropped, nothing failed


async def test_tokens_never_reach_the_logs(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await bot.command("/score")
    await bot.answers()
    assert TOKEN not in caplog.text and SECRET not in caplog.text
