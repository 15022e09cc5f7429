"""The fake Slack Web API, driven by the real slack_sdk AsyncWebClient and slack-bolt AsyncApp."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs, urlencode

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import slack_fixtures
from tests.fakes.slack_api import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    RESPONSE_URL,
    TEAM_ID,
    UPLOAD,
    FakeSlack,
    block_action,
    block_action_payload,
    event_callback,
    event_callback_payload,
    signed_request,
    slash_command,
    slash_command_payload,
    socket_envelope,
    view_submission,
    view_submission_payload,
)

fake_slack = slack_fixtures.fake_slack

SECRET = "test-signing-secret"
BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*今日演练* 第 1 题"}},
    {
        "type": "actions",
        "block_id": "drill",
        "elements": [
            {
                "type": "button",
                "action_id": "answer",
                "value": "A",
                "text": {"type": "plain_text", "text": "A"},
            }
        ],
    },
]


def client_for(slack: FakeSlack, **kwargs) -> AsyncWebClient:
    return AsyncWebClient(token=slack.token, base_url=slack.base_url, **kwargs)


def parsed_payload(body: bytes) -> dict:
    return json.loads(parse_qs(body.decode())["payload"][0])


async def test_auth_test_answers_the_bot_identity(fake_slack: FakeSlack) -> None:
    response = await client_for(fake_slack).auth_test()

    assert response["ok"] is True
    assert response["user_id"] == BOT_USER_ID
    assert response["bot_id"] == BOT_ID
    assert response["team_id"] == TEAM_ID
    assert {"url", "team", "user"} <= response.data.keys()
    assert "chat:write" in response.headers["x-oauth-scopes"]
    call = fake_slack.last("auth.test")
    assert call.headers["authorization"] == f"Bearer {fake_slack.token}"


async def test_post_message_records_blocks_and_answers_increasing_unique_ts(
    fake_slack: FakeSlack,
) -> None:
    client = client_for(fake_slack)
    first = await client.chat_postMessage(channel="C1", text="drill", blocks=BLOCKS)
    second = await client.chat_postMessage(channel="C1", text="again")

    assert first["channel"] == "C1"
    assert first["message"]["blocks"] == BLOCKS
    assert first["message"]["bot_id"] == BOT_ID
    assert float(first["ts"]) < float(second["ts"])
    assert fake_slack.count("chat.postMessage") == 2
    assert fake_slack.calls("chat.postMessage")[0].args["blocks"] == BLOCKS
    assert fake_slack.last("chat.postMessage").response["ts"] == second["ts"]


async def test_form_encoded_blocks_arrive_decoded(fake_slack: FakeSlack) -> None:
    await client_for(fake_slack).api_call(
        "chat.postMessage", data={"channel": "C1", "blocks": json.dumps(BLOCKS)}
    )

    assert fake_slack.last("chat.postMessage").args["blocks"] == BLOCKS


async def test_post_to_a_user_id_lands_in_their_dm(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    opened = await client.conversations_open(users="U123")
    posted = await client.chat_postMessage(channel="U123", text="hi")

    assert opened["channel"]["id"] == posted["channel"] == fake_slack.dm_channel_id("U123")
    assert posted["channel"].startswith("D")


async def test_ephemeral_and_update(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    ephemeral = await client.chat_postEphemeral(channel="C1", user="U1", text="your score: 90")
    posted = await client.chat_postMessage(channel="C1", text="drill", blocks=BLOCKS)
    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="answered", blocks=[])

    assert ephemeral["message_ts"]
    assert fake_slack.last("chat.postEphemeral").args["user"] == "U1"
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C1", posted["ts"], "answered")
    assert fake_slack.last("chat.update").args["blocks"] == []


async def test_missing_channel_or_text_are_slack_errors(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    with pytest.raises(SlackApiError) as no_text, pytest.warns(UserWarning, match="text"):
        await client.chat_postMessage(channel="C1")
    with pytest.raises(SlackApiError) as no_channel:
        await client.chat_postMessage(channel="", text="x")

    assert no_text.value.response["error"] == "no_text"
    assert no_channel.value.response["error"] == "channel_not_found"


async def test_views_open_update_and_publish(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    modal = {
        "type": "modal",
        "callback_id": "deed",
        "title": {"type": "plain_text", "text": "好人好事"},
        "blocks": BLOCKS[:1],
        "private_metadata": "C1",
    }
    opened = await client.views_open(trigger_id="123.456.abc", view=modal)
    view_id = opened["view"]["id"]
    updated = await client.views_update(view_id=view_id, view=modal)
    home = await client.views_publish(user_id="U1", view={"type": "home", "blocks": BLOCKS})

    assert view_id.startswith("V")
    assert opened["view"]["callback_id"] == "deed"
    assert opened["view"]["private_metadata"] == "C1"
    assert opened["view"]["state"] == {"values": {}}
    assert updated["view"]["id"] == view_id
    assert home["view"]["type"] == "home"
    assert fake_slack.last("views.open").args["view"]["title"]["text"] == "好人好事"
    assert fake_slack.last("views.publish").args["user_id"] == "U1"


async def test_users_info_locale_is_per_user_and_only_on_request(fake_slack: FakeSlack) -> None:
    fake_slack.users["U1"] = {"locale": "zh-CN", "real_name": "张三"}
    client = client_for(fake_slack)

    zh = (await client.users_info(user="U1", include_locale=True))["user"]
    en = (await client.users_info(user="U2", include_locale=True))["user"]
    without = (await client.users_info(user="U1"))["user"]

    assert (zh["id"], zh["real_name"], zh["locale"]) == ("U1", "张三", "zh-CN")
    assert zh["profile"]["real_name"] == "张三"
    assert {"name", "tz"} <= zh.keys()
    assert en["locale"] == "en-US"
    assert "locale" not in without
    assert fake_slack.last("users.info").args == {"user": "U1"}


async def test_conversations_info(fake_slack: FakeSlack) -> None:
    fake_slack.channels["C1"] = {"name": "前台"}
    client = client_for(fake_slack)

    channel = (await client.conversations_info(channel="C1"))["channel"]
    dm = (await client.conversations_info(channel="D1"))["channel"]

    assert (channel["id"], channel["name"], channel["is_channel"]) == ("C1", "前台", True)
    assert dm["is_im"] is True


async def test_files_upload_v2_goes_through_all_three_steps(fake_slack: FakeSlack) -> None:
    content = "单位,得分\n前台,92\n".encode()

    response = await client_for(fake_slack).files_upload_v2(
        content=content,
        filename="report.csv",
        title="周报",
        channel="C1",
        initial_comment="本周报告",
    )

    assert [c.method for c in fake_slack.calls()] == [
        "files.getUploadURLExternal",
        UPLOAD,
        "files.completeUploadExternal",
    ]
    file_id = fake_slack.last("files.getUploadURLExternal").response["file_id"]
    assert fake_slack.last(UPLOAD).response == f"OK - {len(content)}"
    uploaded = fake_slack.files[file_id]
    assert uploaded.content == content
    assert (uploaded.filename, uploaded.title, uploaded.channels) == ("report.csv", "周报", ["C1"])
    assert uploaded.initial_comment == "本周报告"
    assert uploaded.completed
    assert response["files"] == fake_slack.last("files.completeUploadExternal").response["files"]
    assert response["file"]["id"] == file_id


async def test_completing_an_upload_whose_bytes_never_arrived_fails(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    issued = await client.files_getUploadURLExternal(filename="chart.png", length=10)

    with pytest.raises(SlackApiError) as failed:
        await client.files_completeUploadExternal(files=[{"id": issued["file_id"]}])

    assert failed.value.response["error"] == "file_not_found"
    assert not fake_slack.files[issued["file_id"]].completed


async def test_429_storm_is_retried_by_the_rate_limit_handler(fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit("chat.postMessage", times=2, retry_after=0)
    client = client_for(fake_slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(2)])

    response = await client.chat_postMessage(channel="C1", text="later, never dropped")

    assert response["ok"] is True
    assert [c.status for c in fake_slack.calls("chat.postMessage")] == [429, 429, 200]


async def test_429_without_a_retry_handler_surfaces_retry_after(fake_slack: FakeSlack) -> None:
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=7)
    client = client_for(fake_slack)

    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="x")
    again = await client.chat_postMessage(channel="C1", text="x")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert again["ok"] is True


async def test_fail_scripts_ok_false_errors(fake_slack: FakeSlack) -> None:
    fake_slack.fail("chat.postMessage", error="channel_not_found", times=1)
    client = client_for(fake_slack)

    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel="C404", text="x")

    assert failed.value.response["error"] == "channel_not_found"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"] is True


async def test_wrong_or_missing_token_is_refused(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as wrong:
        await AsyncWebClient(token="xoxb-wrong", base_url=fake_slack.base_url).auth_test()
    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=fake_slack.base_url).auth_test()

    assert wrong.value.response["error"] == "invalid_auth"
    assert missing.value.response["error"] == "not_authed"
    assert fake_slack.count("auth.test") == 2


async def test_any_other_method_is_ok_and_recorded(fake_slack: FakeSlack) -> None:
    response = await client_for(fake_slack).reactions_add(channel="C1", name="+1", timestamp="1.2")

    assert response.data == {"ok": True}
    assert fake_slack.last("reactions.add").args["name"] == "+1"


async def test_wait_for_and_reset(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)
    task = asyncio.create_task(client.chat_postMessage(channel="C1", text="later"))

    calls = await fake_slack.wait_for("chat.postMessage")
    await task
    with pytest.raises(AssertionError, match=r"expected 2 chat\.postMessage"):
        await fake_slack.wait_for("chat.postMessage", count=2, timeout=0.05)
    fake_slack.reset()

    assert calls[0].args["text"] == "later"
    assert fake_slack.calls() == []
    with pytest.raises(AssertionError, match=r"no chat\.postMessage call"):
        fake_slack.last("chat.postMessage")


def test_signed_request_verifies_with_slack_sdk_and_a_stale_one_does_not() -> None:
    body = slash_command("/score", "", "U1", "C1")
    verifier = SignatureVerifier(SECRET)

    fresh = signed_request(body, SECRET)
    stale = signed_request(body, SECRET, timestamp=int(time.time()) - 6 * 60)
    forged = signed_request(body, "another-secret")

    assert verifier.is_valid_request(body, fresh)
    assert not verifier.is_valid_request(body, stale)
    assert not verifier.is_valid_request(body, forged)
    assert fresh["Content-Type"] == "application/x-www-form-urlencoded"
    assert signed_request(b"{}", SECRET, retry_num=1)["X-Slack-Retry-Num"] == "1"


def test_payload_builders_match_slack_shapes() -> None:
    command = {
        k: v[0] for k, v in parse_qs(slash_command("/score", "本周", "U1", "C1").decode()).items()
    }
    action = parsed_payload(block_action("answer", "A", "U1", "C1", "111.222"))
    submission = parsed_payload(
        view_submission(
            "deed", {"b": {"a": {"type": "plain_text_input", "value": "扶老人"}}}, "C1", "U1"
        )
    )
    event = json.loads(event_callback({"type": "app_home_opened", "user": "U1"}, "Ev1"))

    assert (command["command"], command["text"], command["user_id"]) == ("/score", "本周", "U1")
    assert {"team_id", "channel_id", "response_url", "trigger_id", "api_app_id"} <= command.keys()
    assert action["type"] == "block_actions"
    assert action["container"] == {
        "type": "message",
        "message_ts": "111.222",
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert action["actions"][0]["action_id"] == "answer"
    assert submission["view"]["state"]["values"]["b"]["a"]["value"] == "扶老人"
    assert submission["view"]["private_metadata"] == "C1"
    assert (event["type"], event["event_id"], event["team_id"]) == (
        "event_callback",
        "Ev1",
        TEAM_ID,
    )


async def test_bolt_accepts_every_built_payload(fake_slack: FakeSlack) -> None:
    """The builders are what bolt expects: it verifies, routes and answers through the fake."""
    app = AsyncApp(client=client_for(fake_slack), signing_secret=SECRET)

    @app.command("/score")
    async def score(ack, command, client, respond) -> None:
        await ack()
        await client.chat_postEphemeral(
            channel=command["channel_id"], user=command["user_id"], text="90"
        )
        await respond(text="report follows")

    @app.action("answer")
    async def answer(ack, body, client) -> None:
        await ack()
        await client.chat_update(
            channel=body["channel"]["id"], ts=body["container"]["message_ts"], text="ok"
        )

    @app.view("deed")
    async def deed(ack) -> None:
        await ack()

    @app.event("app_mention")
    async def mention(event, say) -> None:
        await say(f"hi <@{event['user']}>")

    async def dispatch(body: bytes, secret: str = SECRET, **kwargs) -> int:
        request = AsyncBoltRequest(
            body=body.decode(), headers=signed_request(body, secret, **kwargs)
        )
        return (await app.async_dispatch(request)).status

    mention_event = {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@{BOT_USER_ID}> score",
        "ts": "1.000001",
        "channel": "C1",
        "event_ts": "1.000001",
    }
    command = slash_command("/score", "", "U1", "C1", response_url=fake_slack.response_url("r9"))
    assert await dispatch(command) == 200
    assert await dispatch(block_action("answer", "A", "U1", "C1", "111.222")) == 200
    assert await dispatch(view_submission("deed", {}, "", "U1")) == 200
    assert await dispatch(event_callback(mention_event, "Ev1")) == 200
    assert await dispatch(slash_command("/score", "", "U1", "C1"), secret="wrong") == 401
    stale = int(time.time()) - 600
    assert await dispatch(slash_command("/score", "", "U1", "C1"), timestamp=stale) == 401

    await fake_slack.wait_for("chat.postEphemeral")
    await fake_slack.wait_for("chat.update")
    posted = await fake_slack.wait_for("chat.postMessage")
    assert fake_slack.last("chat.update").args["ts"] == "111.222"
    assert (posted[0].args["channel"], posted[0].args["text"]) == ("C1", "hi <@U1>")
    responded = (await fake_slack.wait_for(RESPONSE_URL))[0].args
    assert (responded["key"], responded["text"]) == ("r9", "report follows")


# ---- Socket Mode --------------------------------------------------------------------------------


async def test_apps_connections_open_takes_only_the_app_token(fake_slack: FakeSlack) -> None:
    client = client_for(fake_slack)

    opened = await client.apps_connections_open(app_token=fake_slack.app_token)
    with pytest.raises(SlackApiError) as bot_token:
        await client.apps_connections_open(app_token=fake_slack.token)
    with pytest.raises(SlackApiError) as wrong:
        await client.apps_connections_open(app_token="xapp-wrong")
    with pytest.raises(SlackApiError) as app_token_elsewhere:
        await AsyncWebClient(token=fake_slack.app_token, base_url=fake_slack.base_url).auth_test()

    assert opened["url"].startswith(f"ws://127.0.0.1:{fake_slack.root_url.split(':')[-1][:-1]}/")
    assert "/socket-mode?ticket=" in opened["url"]
    assert bot_token.value.response["error"] == "invalid_auth"
    assert wrong.value.response["error"] == "invalid_auth"
    assert app_token_elsewhere.value.response["error"] == "invalid_auth"
    call = fake_slack.calls("apps.connections.open")[0]
    assert call.headers["authorization"] == f"Bearer {fake_slack.app_token}"


async def test_socket_mode_client_gets_hello_and_envelopes_and_acks(fake_slack: FakeSlack) -> None:
    """slack_sdk's own aiohttp SocketModeClient against the fake: the wire format it expects."""
    web_client = AsyncWebClient(base_url=fake_slack.base_url)
    client = SocketModeClient(app_token=fake_slack.app_token, web_client=web_client)
    messages: list[dict] = []
    requests: list[SocketModeRequest] = []

    async def on_message(_client, message: dict, _raw: str | None) -> None:
        messages.append(message)

    async def on_request(socket: SocketModeClient, request: SocketModeRequest) -> None:
        requests.append(request)
        answer = {"text": "thanks"} if request.type == "slash_commands" else None
        await socket.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=answer)
        )

    client.message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(on_request)
    try:
        await client.connect()
        connection = await fake_slack.wait_for_socket()
        command = slash_command_payload("/score", "本周", "U1", "C1")
        event = event_callback_payload({"type": "app_home_opened", "user": "U1"}, "Ev1")
        command_id = await fake_slack.socket_send("slash_commands", command)
        event_id = await fake_slack.socket_send("events_api", event, retry_attempt=1)

        command_ack = await fake_slack.wait_for_ack(command_id)
        event_ack = await fake_slack.wait_for_ack(event_id)
    finally:
        await client.close()

    assert messages[0]["type"] == "hello"
    assert messages[0]["connection_info"] == {"app_id": APP_ID}
    assert [(r.type, r.envelope_id) for r in requests] == [
        ("slash_commands", command_id),
        ("events_api", event_id),
    ]
    assert requests[0].payload == command and requests[0].accepts_response_payload is True
    assert requests[1].payload == event and requests[1].accepts_response_payload is False
    assert requests[1].retry_attempt == 1
    assert command_ack.message == {"envelope_id": command_id, "payload": {"text": "thanks"}}
    assert event_ack.message == {"envelope_id": event_id} and event_ack.payload is None
    closed = await fake_slack.wait_for_socket_close(connection)
    assert closed.close_code == 1000
    assert fake_slack.count("apps.connections.open") == 1


async def test_bolt_in_socket_mode_accepts_every_built_payload(fake_slack: FakeSlack) -> None:
    """The same builders as over HTTP, delivered as envelopes to bolt's AsyncSocketModeHandler."""
    app = AsyncApp(client=client_for(fake_slack), signing_secret=SECRET)

    @app.command("/score")
    async def score(ack, command, client) -> None:
        await ack()
        await client.chat_postEphemeral(
            channel=command["channel_id"], user=command["user_id"], text="90"
        )

    @app.action("answer")
    async def answer(ack, body, client) -> None:
        await ack()
        await client.chat_update(
            channel=body["channel"]["id"], ts=body["container"]["message_ts"], text="ok"
        )

    @app.view("deed")
    async def deed(ack) -> None:
        await ack(response_action="errors", errors={"b": "too short"})

    @app.event("app_mention")
    async def mention(event, say) -> None:
        await say(f"hi <@{event['user']}>")

    handler = AsyncSocketModeHandler(app, fake_slack.app_token)
    mention_event = {
        "type": "app_mention",
        "user": "U1",
        "text": f"<@{BOT_USER_ID}> score",
        "ts": "1.000001",
        "channel": "C1",
        "event_ts": "1.000001",
    }
    try:
        await handler.connect_async()
        connection = await fake_slack.wait_for_socket()
        sent = [
            await fake_slack.socket_send(
                "slash_commands", slash_command_payload("/score", "", "U1", "C1")
            ),
            await fake_slack.socket_send(
                "interactive", block_action_payload("answer", "A", "U1", "C1", "111.222")
            ),
            await fake_slack.socket_send(
                "interactive", view_submission_payload("deed", {}, "", "U1")
            ),
            await fake_slack.socket_send("events_api", event_callback_payload(mention_event)),
        ]
        acks = [await fake_slack.wait_for_ack(envelope_id) for envelope_id in sent]
        await fake_slack.wait_for("chat.postEphemeral")
        await fake_slack.wait_for("chat.update")
        posted = await fake_slack.wait_for("chat.postMessage")
    finally:
        await handler.close_async()

    assert [a.payload for a in acks] == [
        None,
        None,
        {"response_action": "errors", "errors": {"b": "too short"}},
        None,
    ]
    assert fake_slack.last("chat.update").args["ts"] == "111.222"
    assert (posted[0].args["channel"], posted[0].args["text"]) == ("C1", "hi <@U1>")
    await fake_slack.wait_for_socket_close(connection)


async def test_envelopes_say_whether_their_ack_may_answer() -> None:
    command = socket_envelope("slash_commands", slash_command_payload("/score", "", "U1", "C1"))
    action = socket_envelope("interactive", block_action_payload("a", "v", "U1", "C1", "1.2"))
    submission = socket_envelope("interactive", view_submission_payload("deed", {}))
    event = socket_envelope("events_api", event_callback_payload({"type": "x"}), envelope_id="E1")

    assert [e["accepts_response_payload"] for e in (command, action, submission, event)] == [
        True,
        False,
        True,
        False,
    ]
    assert event == {
        "envelope_id": "E1",
        "payload": event["payload"],
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
    }
    assert command["payload"]["command"] == "/score" and len(command["envelope_id"]) == 36
    assert (
        slash_command("/s", "t", "U1", "C1", trigger_id="1.2.3", response_url="u")
        == urlencode(
            slash_command_payload("/s", "t", "U1", "C1", trigger_id="1.2.3", response_url="u")
        ).encode()
    )
    with pytest.raises(ValueError, match="hello"):
        socket_envelope("hello", {})


async def test_the_websocket_needs_a_ticket_and_is_closed_on_stop() -> None:
    slack = await FakeSlack().start()
    try:
        async with aiohttp.ClientSession() as session:
            refused = await session.get(f"{slack.root_url}socket-mode")
            assert refused.status == 401
            opened = await client_for(slack).apps_connections_open(app_token=slack.app_token)
            async with session.ws_connect(opened["url"]) as ws:
                hello = await ws.receive_json(timeout=2)
                with pytest.raises(AssertionError, match="stayed open"):
                    await slack.wait_for_socket_close(timeout=0.05)
                started = time.monotonic()
                await slack.stop()
                closing = await ws.receive(timeout=2)
                assert time.monotonic() - started < 2
    finally:
        await slack.stop()

    assert hello["type"] == "hello" and hello["num_connections"] == 1
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1001
    assert slack.socket_connections[0].closed
    with pytest.raises(AssertionError, match="no open Socket Mode connection"):
        await slack.socket_send("events_api", {})
