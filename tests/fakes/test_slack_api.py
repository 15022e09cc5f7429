"""Smoke check of the fake Slack: it answers what the adapter calls, through the real slack_sdk
and slack-bolt. tests/bot/test_slack.py and test_slack_socket.py drive it through the adapter."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import (
    BOT_USER_ID,
    RESPONSE_URL,
    UPLOAD,
    FakeSlack,
    block_action,
    event_callback,
    event_callback_payload,
    options_problems,
    signed_request,
    slash_command,
    slash_command_payload,
    view_submission,
)

SECRET = "test-signing-secret"
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*今日演练* 第 1 题"}}]
MENTION = {"type": "app_mention", "user": "U1", "text": f"<@{BOT_USER_ID}> score", "ts": "1.2"}


async def test_the_web_api_methods_the_adapter_calls() -> None:
    async with FakeSlack(joined=["C1"]) as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        me = await client.auth_test()
        posted = await client.chat_postMessage(channel="U1", text="hi", blocks=BLOCKS)
        ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="90")
        modal = {"type": "modal", "callback_id": "deed.submit", "blocks": BLOCKS}
        opened = await client.views_open(trigger_id="1.2.abc", view=modal)
        home = await client.views_publish(user_id="U1", view={"type": "home", "blocks": BLOCKS})
        user = (await client.users_info(user="U2", include_locale=True))["user"]
        dm = (await client.conversations_open(users="U2"))["channel"]["id"]
        uploaded = await client.files_upload_v2(
            channel=dm, content=b"PNG", filename="chart.png", title="chart.png"
        )

    assert me["user_id"] == BOT_USER_ID and "chat:write" in me.headers["x-oauth-scopes"]
    assert posted["channel"] == "D1" and posted["message"]["blocks"] == BLOCKS  # a user's DM
    assert dm == slack.dm("U2") == "D2"
    assert ephemeral["message_ts"] and slack.last("chat.postEphemeral").args["user"] == "U1"
    assert opened["view"]["callback_id"] == "deed.submit" and opened["view"]["id"].startswith("V")
    assert home["view"]["type"] == "home"
    assert user["locale"] == "en-US"
    assert [c.method for c in slack.calls()][-3:] == [
        "files.getUploadURLExternal",
        UPLOAD,
        "files.completeUploadExternal",
    ]
    shared = slack.files[uploaded["file"]["id"]]
    assert (shared.content, shared.title, shared.completed) == (b"PNG", "chart.png", True)
    assert slack.last("files.completeUploadExternal").args["channel_id"] == "D2"
    assert slack.last("chat.postMessage").headers["Authorization"] == f"Bearer {slack.token}"


def button(label: str) -> list[dict]:
    element = {"type": "button", "text": {"type": "plain_text", "text": label}, "value": "v"}
    return [{"type": "actions", "elements": [element]}]


async def test_refusals_and_a_429_with_retry_after() -> None:
    async with FakeSlack(joined=["C1"]) as slack:
        slack.add_channel("C2")  # exists, the app was never invited
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        slack.rate_limit("chat.postMessage", retry_after=7)
        with pytest.raises(SlackApiError) as limited:
            await client.chat_postMessage(channel="C1", text="x")
        again = await client.chat_postMessage(channel="C1", text="x")
        section = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
        title = {"type": "plain_text", "text": "t" * 25}
        refused = {}
        for name, call in {
            "wrong token": AsyncWebClient(token="xoxb-no", base_url=slack.base_url).auth_test(),
            "bot token for socket": client.apps_connections_open(app_token=slack.token),
            "not a user": client.users_info(user="C1"),
            "no bytes uploaded": client.files_completeUploadExternal(files=[{"id": "F404"}]),
            "unused method": client.chat_update(channel="C1", ts="1.2", text="x"),
            "not invited": client.chat_postMessage(channel="C2", text="x"),
            "no such channel": client.chat_postEphemeral(channel="C3", user="U1", text="x"),
            "file to a user id": client.files_upload_v2(channel="U1", content=b"x", filename="a"),
            "text of 40,001": client.chat_postMessage(channel="C1", text="x" * 40_001),
            "section of 3,001": client.chat_postMessage(channel="C1", text="x", blocks=section),
            "button of 76": client.chat_postMessage(
                channel="C1", text="x", blocks=button("b" * 76)
            ),
            "title of 25": client.views_open(
                trigger_id="1", view={"type": "modal", "title": title}
            ),
        }.items():
            with pytest.raises(SlackApiError) as error:
                await call
            refused[name] = error.value.response["error"]

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert again["ok"] is True
    assert refused == {
        "wrong token": "invalid_auth",
        "bot token for socket": "invalid_auth",
        "not a user": "user_not_found",
        "no bytes uploaded": "file_not_found",
        "unused method": "unknown_method",
        "not invited": "not_in_channel",
        "no such channel": "channel_not_found",
        "file to a user id": "invalid_arguments",
        "text of 40,001": "msg_too_long",
        "section of 3,001": "invalid_blocks",
        "button of 76": "invalid_blocks",
        "title of 25": "invalid_arguments",
    }


async def test_a_response_url_takes_five_posts_and_unreadable_answers_take_effect() -> None:
    async with FakeSlack(joined=["C1"]) as slack, aiohttp.ClientSession() as http:
        url = slack.response_url("r5")
        statuses = []
        for n in range(6):
            async with http.post(url, json={"text": f"answer {n}"}) as answer:
                statuses.append((answer.status, await answer.text()))
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        slack.unreadable("chat.postMessage", how="json")
        with pytest.raises(SlackApiError) as unreadable:
            await client.chat_postMessage(channel="C1", text="shown")

    assert statuses == [(200, "ok")] * 5 + [(404, "used_url")]
    assert unreadable.value.response.status == 200  # aiohttp's response: the body is no JSON
    assert slack.last("chat.postMessage").status == 200  # the message was posted all the same


async def test_repeated_ids_long_option_lists_and_a_late_response_url_are_refused() -> None:
    def option(text: str) -> dict:
        return {"text": {"type": "plain_text", "text": text}, "value": "v"}

    twice = BLOCKS[0] | {"block_id": "same"}
    same_action = [{"type": "button", "text": {"type": "plain_text", "text": "b"}, "value": "v"}]
    same_action[0]["action_id"] = "press"
    async with FakeSlack(joined=["C1"]) as slack, aiohttp.ClientSession() as http:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        refused = {}
        for name, blocks in {
            "a block_id twice": [twice, twice],
            "an action_id twice in a block": [{"type": "actions", "elements": same_action * 2}],
        }.items():
            with pytest.raises(SlackApiError) as error:
                await client.chat_postMessage(channel="C1", text="x", blocks=blocks)
            refused[name] = error.value.response["error"]
        url = slack.response_url("late")
        slack.expire_response_url("late")
        async with http.post(url, json={"text": "too late"}) as late:
            expired = (late.status, await late.text())

    assert refused == {
        "a block_id twice": "invalid_blocks",
        "an action_id twice in a block": "invalid_blocks",
    }
    assert expired == (404, "expired_url")
    assert options_problems({"options": [option("Colleague 1")] * 100}) == []
    assert len(options_problems({"options": [option("Colleague 1")] * 101})) == 1
    assert len(options_problems({"options": [option("x" * 76)]})) == 1
    assert options_problems([]) != []


async def test_bolt_accepts_the_signed_builders_and_refuses_bad_signatures() -> None:
    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        app = AsyncApp(client=client, signing_secret=SECRET)
        app.action("answer")(_ack)
        app.view("deed.submit")(_ack)
        app.event("app_mention")(_ack)

        @app.command("/score")
        async def score(ack, respond) -> None:
            await ack()
            await respond(text="90")

        async def dispatch(body: bytes, secret: str = SECRET, **headers) -> int:
            request = AsyncBoltRequest(
                body=body.decode(), headers=signed_request(body, secret, **headers)
            )
            return (await app.async_dispatch(request)).status

        command = slash_command("/score", "", "U1", "C1", response_url=slack.response_url("r9"))
        statuses = [
            await dispatch(command),
            await dispatch(block_action("answer", "A", "U1", "C1", "1.2")),
            await dispatch(view_submission("deed.submit", {}, "{}", "U1")),
            await dispatch(event_callback(MENTION, "Ev1"), retry_num=1),
            await dispatch(command, secret="not-the-secret"),
            await dispatch(command, timestamp=int(time.time()) - 600),
        ]
        [responded] = await slack.wait_for(RESPONSE_URL)

    assert statuses == [200, 200, 200, 200, 401, 401]
    assert (responded.args["key"], responded.args["text"]) == ("r9", "90")


async def _ack(ack) -> None:
    await ack()


async def test_socket_mode_hello_envelopes_acks_and_close() -> None:
    async with FakeSlack() as slack, aiohttp.ClientSession() as http:
        assert (await http.get(f"{slack.root_url}socket-mode")).status == 401  # no ticket
        web_client = AsyncWebClient(base_url=slack.base_url)
        client = SocketModeClient(app_token=slack.app_token, web_client=web_client)
        hellos: list[dict] = []
        requests: list[SocketModeRequest] = []

        async def on_message(_client, message: dict, _raw: str | None) -> None:
            if message.get("type") == "hello":
                hellos.append(message)

        async def on_request(socket: SocketModeClient, request: SocketModeRequest) -> None:
            requests.append(request)
            answer = {"text": "thanks"} if request.type == "slash_commands" else None
            await socket.send_socket_mode_response(SocketModeResponse(request.envelope_id, answer))

        client.message_listeners.append(on_message)
        client.socket_mode_request_listeners.append(on_request)
        await client.connect()
        try:
            while not hellos:  # the fake registers the connection before it says hello
                await asyncio.sleep(0.01)
            connection = slack.socket_connection()
            command_payload = slash_command_payload("/score", "", "U1", "C1")
            command_id = await slack.socket_send("slash_commands", command_payload)
            event_id = await slack.socket_send("events_api", event_callback_payload(MENTION))
            command_ack = await slack.wait_for_ack(command_id)
            event_ack = await slack.wait_for_ack(event_id)
        finally:
            await client.close()
        closed = await slack.wait_for_socket_close(connection)

    assert slack.last("apps.connections.open").headers["Authorization"].endswith(slack.app_token)
    assert [(r.type, r.accepts_response_payload) for r in requests] == [
        ("slash_commands", True),
        ("events_api", False),
    ]
    assert requests[0].payload == command_payload and requests[1].retry_attempt == 0
    assert command_ack.message == {"envelope_id": command_id, "payload": {"text": "thanks"}}
    assert event_ack.message == {"envelope_id": event_id}
    assert closed.close_code == 1000


async def test_a_channel_takes_about_a_message_a_second_then_429_with_retry_after() -> None:
    """chat.postMessage's own limit: a burst of three to one channel, then 429 with Retry-After
    and the channel held; another channel is not held; a second later the channel takes one."""
    now = [1000.0]
    async with FakeSlack(joined=["C1", "C2"], clock=lambda: now[0]) as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        for _ in range(3):
            await client.chat_postMessage(channel="C1", text="hi")
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C1", text="one too many")
        await client.chat_postMessage(channel="C2", text="another channel")
        with pytest.raises(SlackApiError):
            await client.chat_postMessage(channel="C1", text="into the hold")
        now[0] += 1.0
        await client.chat_postMessage(channel="C1", text="a second later")
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "1"
    assert len(slack.flood_limited) == 1 and len(slack.ignored_retry_after) == 1
    assert [c.status for c in slack.calls("chat.postMessage")] == [200] * 3 + [429, 200, 429, 200]
