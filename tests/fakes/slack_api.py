"""A local fake of the Slack Web API, and builders for what Slack sends to the app.

Why a real HTTP server rather than mocks: the Slack adapter must run through the same code paths
as in production — slack_sdk's request building (JSON bodies for chat.* and views.*, query strings
for users.info and the files.* calls, a raw POST of the bytes to the upload URL), its retry
handlers, and bolt's auth.test on the first request. The design follows the mock servers in
slack-sdk's and slack-bolt's own test suites (tests/slack_sdk/web/mock_web_api_handler.py,
tests/mock_web_api_server/ with assert_received_request_count), but it is async (aiohttp, on the
test's own event loop), listens on an ephemeral port, records every call for inspection and can be
told to answer 429 or an ok:false error. Response shapes follow the examples in Slack's method
reference (docs.slack.dev/reference/methods/...).

    async with FakeSlack() as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        await client.chat_postMessage(channel="C1", text="hi")
        assert slack.last("chat.postMessage").args["text"] == "hi"

The server shares the test's event loop: talk to it with AsyncWebClient / bolt's AsyncApp. A
synchronous WebClient would block the loop the server needs (wrap it in asyncio.to_thread).

It also plays Slack's Socket Mode side, as slack_sdk's SocketModeClient expects it (the flow of
slack-sdk's tests/slack_sdk/socket_mode/mock_socket_mode_server.py and mock_web_api_handler.py):
`apps.connections.open`, called with the app-level token (`xapp-...`), answers a ws:// URL on this
server; a client connecting there gets a `{"type": "hello", ...}` message, then whatever envelopes
the test pushes, and answers each with an ack `{"envelope_id": ..., ["payload": {...}]}`:

    envelope_id = await slack.socket_send("slash_commands", slash_command_payload(...))
    ack = await slack.wait_for_ack(envelope_id)

The second half of the module builds what Slack SENDS to the app: `signed_request` headers and
slash command, block action, view submission and Events API bodies, shaped like Slack's documented
examples and slack-bolt's scenario tests, ready to POST to the adapter's /slack/events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict

TOKEN = "xoxb-fake-uplift-token"
APP_TOKEN = "xapp-fake-uplift-token"
TEAM_ID = "T0FAKETEAM"
TEAM_NAME = "Uplift Test Workspace"
TEAM_DOMAIN = "uplift-test"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
BOT_NAME = "uplift"
APP_ID = "A0FAKEAPP"
SCOPES = "chat:write,commands,users:read,im:write,files:write,app_mentions:read,im:history"

UPLOAD = "upload"
"""Pseudo-method name under which POSTs to an upload URL are recorded."""
RESPONSE_URL = "response_url"
"""Pseudo-method name under which POSTs to a `FakeSlack.response_url()` are recorded."""
SOCKET_PATH = "/socket-mode"
ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")
"""What a Socket Mode envelope's `type` can be (besides hello and disconnect messages)."""
# Interactive payloads whose ack may carry a response (errors, a new view, options), as slash
# commands' acks may; every other envelope is acked bare.
_RESPONSE_PAYLOAD_INTERACTIONS = ("view_submission", "block_suggestion")

# Arguments that arrive as JSON text inside a form or query string (slack_sdk sends `files` to
# files.completeUploadExternal that way); decoded before recording so tests compare structures.
_JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata")
_SEQ = itertools.count(1)


@dataclass
class Call:
    """One request the fake received, as the app sent it, and what the fake answered."""

    method: str
    args: dict[str, Any]
    headers: CIMultiDict[str]
    time: float  # time.monotonic() on arrival: for spacing and rate assertions
    status: int = 200
    response: Any = None


@dataclass
class FakeFile:
    """A file going through the three-step upload: URL issued, bytes uploaded, then shared."""

    id: str
    filename: str
    length: int  # as declared to files.getUploadURLExternal
    content: bytes | None = None  # None until the upload URL has received the bytes
    title: str | None = None
    channels: list[str] = field(default_factory=list)  # channel_id, or the `channels` list
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class SocketAck:
    """An acknowledgement the client sent over the Socket Mode websocket."""

    envelope_id: str
    payload: dict[str, Any] | None  # what ack(...) answered, when it answered something
    message: dict[str, Any]  # the whole message as received
    time: float  # time.monotonic() on arrival


@dataclass
class SocketConnection:
    """One Socket Mode websocket a client opened on the fake."""

    ws: web.WebSocketResponse
    ticket: str
    opened: float  # time.monotonic()
    received: list[str] = field(default_factory=list)  # every text message, acks included
    closed: bool = False
    close_code: int | None = None
    _closed_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


@dataclass
class _Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


class FakeSlack:
    """The fake Web API server. Configure `users` / `channels`, script `rate_limit` / `fail`.

    Also Slack's Socket Mode side: `socket_send` envelopes, read `socket_acks` / `wait_for_ack`.
    """

    def __init__(
        self,
        *,
        token: str = TOKEN,
        app_token: str = APP_TOKEN,
        team_id: str = TEAM_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.users: dict[str, dict[str, Any]] = {}
        """Per user id, fields that override the synthesised users.info user (locale, tz...)."""
        self.channels: dict[str, dict[str, Any]] = {}
        """Per channel id, fields that override the synthesised conversations.info channel."""
        self.files: dict[str, FakeFile] = {}
        self.root_url = ""
        self.socket_connections: list[SocketConnection] = []
        """Every Socket Mode websocket opened, in order; the last open one gets `socket_send`."""
        self.socket_acks: list[SocketAck] = []
        self._tickets: set[str] = set()
        self._calls: list[Call] = []
        self._scripted: dict[str, list[_Scripted]] = {}
        self._runner: web.AppRunner | None = None
        self._handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "apps.connections.open": self._apps_connections_open,
        }

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # report spreadsheets
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_get(SOCKET_PATH, self._socket)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.root_url = f"http://{host}:{port}/"
        return self

    async def stop(self) -> None:
        """Close open Socket Mode websockets (1001 going away, as a server restart), then stop."""
        for connection in self.socket_connections:
            if not connection.closed:
                with contextlib.suppress(Exception):
                    await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What WebClient(base_url=...) / AsyncWebClient(base_url=...) take."""
        return self.root_url + "api/"

    def response_url(self, key: str = "r1") -> str:
        """A response_url on this server, for payload builders: `respond()` posts land here."""
        return f"{self.root_url}response/{key}"

    # ---- inspection ------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call; received: {self._summary()}")
        return found[-1]

    def count(self, method: str) -> int:
        return len(self.calls(method))

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until `count` calls of `method` arrived; bolt runs listeners after the ack."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.count(method) < count:
            if loop.time() >= deadline:
                raise AssertionError(
                    f"expected {count} {method} call(s) within {timeout}s, got "
                    f"{self.count(method)}; received: {self._summary()}"
                )
            await asyncio.sleep(0.01)
        return self.calls(method)

    def reset(self) -> None:
        """Forget calls, files, acks and scripted answers; keep configuration and connections."""
        self._calls.clear()
        self._scripted.clear()
        self.files.clear()
        self.socket_acks.clear()

    def _summary(self) -> list[str]:
        return [c.method for c in self._calls]

    # ---- scripting -------------------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls of `method` answer 429 + Retry-After, as Slack's limiter."""
        self._scripted.setdefault(method, []).append(
            _Scripted(429, _error("ratelimited"), {"Retry-After": str(retry_after)}, times)
        )

    def fail(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 200 {"ok": false, "error": error}."""
        self._scripted.setdefault(method, []).append(_Scripted(200, _error(error), {}, times))

    def _next_scripted(self, method: str) -> _Scripted | None:
        queue = self._scripted.get(method)
        if not queue:
            return None
        scripted = queue[0]
        scripted.times -= 1
        if scripted.times <= 0:
            queue.pop(0)
        return scripted

    # ---- HTTP ------------------------------------------------------------------------------

    def _record(self, method: str, args: dict[str, Any], request: web.Request) -> Call:
        call = Call(method, args, CIMultiDict(request.headers), time.monotonic())
        self._calls.append(call)
        return call

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        call = self._record(method, args, request)
        status, body, headers = self._answer(method, args, request)
        call.status, call.response = status, body
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, args: dict[str, Any], request: web.Request
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        if not token:
            return 200, _error("not_authed"), {}
        # apps.connections.open takes the app-level token and only it; everything else the bot's.
        if token != (self.app_token if method == "apps.connections.open" else self.token):
            return 200, _error("invalid_auth"), {}
        scripted = self._next_scripted(method)
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        handler = self._handlers.get(method)
        body = handler(args) if handler else {"ok": True}
        return 200, body, {"x-oauth-scopes": SCOPES}

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL: no token (it is pre-signed), raw bytes in, "OK - <length>" out."""
        file_id = request.match_info["file_id"]
        if request.content_type == "multipart/form-data":
            parts = [v for v in (await request.post()).values() if isinstance(v, web.FileField)]
            content = parts[0].file.read() if parts else b""
        else:
            content = await request.read()
        call = self._record(UPLOAD, {"file_id": file_id, "size": len(content)}, request)
        fake_file = self.files.get(file_id)
        if fake_file is None:
            call.status, call.response = 404, "Not Found"
            return web.Response(status=404, text="Not Found")
        fake_file.content = content
        call.response = f"OK - {len(content)}"
        return web.Response(text=call.response)

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        call = self._record(RESPONSE_URL, {"key": request.match_info["key"], **body}, request)
        call.response = "ok"
        return web.Response(text="ok")

    # ---- Socket Mode -----------------------------------------------------------------------

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """A websocket URL on this server, with a ticket as Slack's (wss://.../link/?ticket=)."""
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        ws_root = "ws" + self.root_url.removeprefix("http")
        return {"ok": True, "url": f"{ws_root}{SOCKET_PATH[1:]}?ticket={ticket}&app_id={APP_ID}"}

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self._tickets:
            return web.Response(status=401, text="invalid ticket: call apps.connections.open")
        ws = web.WebSocketResponse(timeout=2.0)  # autoping: answers the client's pings
        await ws.prepare(request)
        connection = SocketConnection(ws, request.query["ticket"], time.monotonic())
        self.socket_connections.append(connection)
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": sum(not c.closed for c in self.socket_connections),
                    "debug_info": {
                        "host": "applink-fake-uplift",
                        "build_number": 1,
                        "approximate_connection_time": 18060,
                    },
                    "connection_info": {"app_id": APP_ID},
                }
            )
            async for message in ws:  # ends on the client's close frame or a dropped connection
                if message.type == WSMsgType.TEXT:
                    connection.received.append(message.data)
                    self._record_ack(message.data)
        finally:
            connection.closed = True
            connection.close_code = ws.close_code
            connection._closed_event.set()
        return ws

    def _record_ack(self, text: str) -> None:
        with contextlib.suppress(ValueError):
            message = json.loads(text)
            if isinstance(message, dict) and "envelope_id" in message:
                self.socket_acks.append(
                    SocketAck(
                        str(message["envelope_id"]),
                        message.get("payload"),
                        message,
                        time.monotonic(),
                    )
                )

    def socket_connection(self) -> SocketConnection:
        """The most recent open Socket Mode connection."""
        for connection in reversed(self.socket_connections):
            if not connection.closed:
                return connection
        raise AssertionError(
            f"no open Socket Mode connection ({len(self.socket_connections)} opened and closed)"
        )

    async def wait_for_socket(self, timeout: float = 5.0) -> SocketConnection:
        """Wait until a client holds an open Socket Mode connection (it was sent hello)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not any(not c.closed for c in self.socket_connections):
            if loop.time() >= deadline:
                raise AssertionError(
                    f"no Socket Mode connection within {timeout}s; received: {self._summary()}"
                )
            await asyncio.sleep(0.01)
        return self.socket_connection()

    async def wait_for_socket_close(
        self, connection: SocketConnection | None = None, timeout: float = 5.0
    ) -> SocketConnection:
        """Wait until `connection` (default: the current one) is closed, by either side."""
        connection = connection or self.socket_connection()
        try:
            await asyncio.wait_for(connection._closed_event.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"the Socket Mode connection stayed open {timeout}s") from None
        return connection

    async def socket_send(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Push an envelope down the current connection, as Slack does; return its envelope_id.

        `payload` is what the HTTP body would carry: `slash_command_payload(...)` for
        "slash_commands", `block_action_payload(...)` / `view_submission_payload(...)` for
        "interactive", `event_callback_payload(...)` for "events_api" (whose envelopes also say
        `retry_attempt` / `retry_reason`, as redeliveries do).
        """
        envelope = socket_envelope(
            envelope_type,
            payload,
            envelope_id=envelope_id,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        await self.socket_connection().ws.send_json(envelope)
        return str(envelope["envelope_id"])

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> SocketAck:
        """Wait for the client's ack of an envelope (Slack redelivers unacked ones after 3 s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for ack in self.socket_acks:
                if ack.envelope_id == envelope_id:
                    return ack
            if loop.time() >= deadline:
                acked = [a.envelope_id for a in self.socket_acks]
                raise AssertionError(
                    f"no ack of envelope {envelope_id} within {timeout}s; acked: {acked}; "
                    f"received: {self._summary()}"
                )
            await asyncio.sleep(0.01)

    # ---- methods ---------------------------------------------------------------------------

    def dm_channel_id(self, user_id: str) -> str:
        """The DM channel conversations.open answers for a user (also where posts to U… go)."""
        return "D" + user_id[1:]

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(_SEQ):010d}"

    def _next_ts(self) -> str:
        # Seconds then a strictly increasing sequence: unique and increasing, as Slack's ts.
        return f"{int(time.time())}.{next(_SEQ):06d}"

    def _channel(self, channel: str) -> str:
        return self.dm_channel_id(channel) if channel[:1] in ("U", "W") else channel

    def _message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        message = {
            "type": "message",
            "text": args.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in args:
                message[key] = args[key]
        return message

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _check_message_args(self, args: dict[str, Any]) -> dict[str, Any] | None:
        if not args.get("channel"):
            return _error("channel_not_found")
        if not any(args.get(key) for key in ("text", "blocks", "attachments")):
            return _error("no_text")
        return None

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        if problem := self._check_message_args(args):
            return problem
        ts = self._next_ts()
        channel = self._channel(args["channel"])
        return {"ok": True, "channel": channel, "ts": ts, "message": self._message(args, ts)}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if problem := self._check_message_args(args):
            return problem
        if not args.get("user"):
            return _error("user_not_in_channel")
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return _error("channel_not_found")
        if not args.get("ts"):
            return _error("message_not_found")
        message = self._message(args, args["ts"])
        del message["ts"]
        return {
            "ok": True,
            "channel": args["channel"],
            "ts": args["ts"],
            "text": args.get("text", ""),
            "message": message,
        }

    def _view(self, given: Any, view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or self._new_id("V")
        return {
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "clear_on_close": False,
            "notify_on_close": False,
            **given,
            "id": view_id,
            "team_id": self.team_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id") or not isinstance(args.get("view"), dict):
            return _error("invalid_arguments")
        return {"ok": True, "view": self._view(args["view"])}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(args.get("view"), dict):
            return _error("invalid_arguments")
        return {"ok": True, "view": self._view(args["view"], args.get("view_id"))}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user_id") or not isinstance(args.get("view"), dict):
            return _error("invalid_arguments")
        return {"ok": True, "view": self._view({"type": "home", **args["view"]})}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """Any U…/W… id exists; like Slack, `locale` only comes with include_locale=true."""
        user_id = args.get("user", "")
        if user_id not in self.users and user_id[:1] not in ("U", "W"):
            return _error("user_not_found")
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": user_id.lower(),
            "deleted": False,
            "real_name": f"User {user_id}",
            "tz": "Asia/Shanghai",
            "tz_label": "China Standard Time",
            "tz_offset": 28800,
            "is_admin": False,
            "is_owner": False,
            "is_bot": False,
            "is_app_user": False,
            "updated": 1700000000,
            "locale": "en-US",
            **self.users.get(user_id, {}),
        }
        user.setdefault(
            "profile",
            {
                "real_name": user["real_name"],
                "display_name": user["name"],
                "real_name_normalized": user["real_name"],
                "display_name_normalized": user["name"],
                "team": self.team_id,
            },
        )
        if not _truthy(args.get("include_locale")):
            user.pop("locale", None)
        return {"ok": True, "user": user}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel_id = args.get("channel", "")
        if not channel_id:
            return _error("channel_not_found")
        if channel_id.startswith("D"):
            channel: dict[str, Any] = {
                "id": channel_id,
                "created": 1700000000,
                "is_im": True,
                "is_org_shared": False,
                "user": "U" + channel_id[1:],
                "is_user_deleted": False,
            }
        else:
            name = f"channel-{channel_id.lower()}"
            channel = {
                "id": channel_id,
                "name": name,
                "name_normalized": name,
                "is_channel": True,
                "is_group": False,
                "is_im": False,
                "is_mpim": False,
                "is_private": False,
                "is_archived": False,
                "is_general": False,
                "is_shared": False,
                "is_org_shared": False,
                "is_member": True,
                "created": 1700000000,
                "creator": "U0CREATOR",
            }
        return {"ok": True, "channel": {**channel, **self.channels.get(channel_id, {})}}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            return {
                "ok": True,
                "no_op": True,
                "already_open": True,
                "channel": {"id": args["channel"]},
            }
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if not users:
            return _error("users_list_not_supplied")
        channel_id = self.dm_channel_id(users[0]) if len(users) == 1 else self._new_id("G")
        return {"ok": True, "channel": {"id": channel_id}}

    def _get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return _error("invalid_arguments")
        file_id = self._new_id("F")
        self.files[file_id] = FakeFile(file_id, args["filename"], int(args["length"]))
        return {"ok": True, "upload_url": f"{self.root_url}upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        """Shares uploaded files; a file whose bytes never arrived answers file_not_found."""
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            return _error("invalid_arguments")
        fake_files = [self.files.get(entry.get("id", "")) for entry in entries]
        if any(f is None or f.content is None for f in fake_files):
            return _error("file_not_found")
        channels = [args["channel_id"]] if args.get("channel_id") else []
        channels += [c for c in str(args.get("channels") or "").split(",") if c]
        shared = []
        for entry, fake_file in zip(entries, fake_files, strict=True):
            assert fake_file is not None and fake_file.content is not None
            fake_file.title = entry.get("title") or fake_file.filename
            fake_file.channels = channels
            fake_file.initial_comment = args.get("initial_comment")
            fake_file.thread_ts = args.get("thread_ts")
            fake_file.completed = True
            shared.append(
                {
                    "id": fake_file.id,
                    "created": int(time.time()),
                    "timestamp": int(time.time()),
                    "name": fake_file.filename,
                    "title": fake_file.title,
                    "user": self.bot_user_id,
                    "size": len(fake_file.content),
                    "is_public": bool(channels),
                    "url_private": (
                        f"https://files.slack.com/files-pri/{self.team_id}-{fake_file.id}/"
                        f"{fake_file.filename}"
                    ),
                    "channels": channels,
                    "file_access": "visible",
                }
            )
        return {"ok": True, "files": shared}


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Query string plus body, whichever encoding slack_sdk chose for the method."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json" and request.can_read_body:
        args.update(await request.json())
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in (await request.post()).items():
            args[key] = value.file.read() if isinstance(value, web.FileField) else value
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):  # plain text stays as it came
                args[key] = json.loads(args[key])
    return args


# ---- what Slack sends to the app ---------------------------------------------------------------


def signed_request(
    body: bytes,
    secret: str,
    timestamp: int | None = None,
    *,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    """Headers Slack puts on a request to the app: HMAC-SHA256 of "v0:{ts}:{body}".

    Also the Content-Type Slack uses for that body, and, for a redelivered event, the
    X-Slack-Retry-Num / X-Slack-Retry-Reason headers. Pass an old `timestamp` for a stale request.
    """
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    is_json = body.lstrip().startswith(b"{")
    headers = {
        "Content-Type": "application/json" if is_json else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def socket_envelope(
    envelope_type: str,
    payload: dict[str, Any],
    *,
    envelope_id: str | None = None,
    retry_attempt: int = 0,
    retry_reason: str = "",
) -> dict[str, Any]:
    """A Socket Mode envelope, shaped as slack-sdk's mock socket mode server sends them.

    `accepts_response_payload` is true for slash commands, view submissions and block
    suggestions (their ack may carry an answer); events_api envelopes also carry the retry fields.
    """
    if envelope_type not in ENVELOPE_TYPES:
        raise ValueError(f"envelope type {envelope_type!r} is not one of {ENVELOPE_TYPES}")
    accepts = envelope_type == "slash_commands" or (
        envelope_type == "interactive" and payload.get("type") in _RESPONSE_PAYLOAD_INTERACTIONS
    )
    envelope: dict[str, Any] = {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "payload": payload,
        "type": envelope_type,
        "accepts_response_payload": accepts,
    }
    if envelope_type == "events_api":
        envelope["retry_attempt"] = retry_attempt
        envelope["retry_reason"] = retry_reason
    return envelope


def _trigger_id() -> str:
    return f"{next(_SEQ)}.{int(time.time())}.{secrets.token_hex(16)}"


def _default_response_url(kind: str, team_id: str) -> str:
    return f"https://hooks.slack.com/{kind}/{team_id}/{next(_SEQ)}/{secrets.token_hex(12)}"


def slash_command_payload(
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    *,
    user_name: str | None = None,
    channel_name: str = "general",
    response_url: str | None = None,
) -> dict[str, str]:
    """A slash command invocation's fields, in Slack's order, all strings as in the form body.

    This dict is what a Socket Mode `slash_commands` envelope carries as its payload;
    `slash_command` form-encodes it for HTTP. Pass `response_url=slack.response_url()` if the
    app may call `respond()`; the default points at hooks.slack.com like the real thing.
    """
    return {
        "token": "verification-token",
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url or _default_response_url("commands", team_id),
        "trigger_id": trigger_id or _trigger_id(),
    }


def slash_command(
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    *,
    user_name: str | None = None,
    channel_name: str = "general",
    response_url: str | None = None,
) -> bytes:
    """A slash command invocation over HTTP: `slash_command_payload` as a form-encoded body."""
    payload = slash_command_payload(
        command,
        text,
        user_id,
        channel_id,
        team_id,
        trigger_id,
        user_name=user_name,
        channel_name=channel_name,
        response_url=response_url,
    )
    return urlencode(payload).encode()


def _user(user_id: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def _payload_form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def block_action_payload(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    *,
    block_id: str = "actions",
    message: dict[str, Any] | None = None,
    response_url: str | None = None,
) -> dict[str, Any]:
    """A button press on a message: the block_actions payload (a Socket Mode `interactive`
    envelope's payload; `block_action` wraps it in a form body for HTTP).

    `message` is the message the button sits on (blocks and all), as Slack echoes it back.
    """
    return {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "message": message
        or {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": "",
            "ts": message_ts,
            "blocks": [],
        },
        "state": {"values": {}},
        "response_url": response_url or _default_response_url("actions", team_id),
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": value, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def block_action(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    *,
    block_id: str = "actions",
    message: dict[str, Any] | None = None,
    response_url: str | None = None,
) -> bytes:
    """A button press over HTTP: form body `payload=<JSON>` of `block_action_payload`."""
    payload = block_action_payload(
        action_id,
        value,
        user_id,
        channel_id,
        message_ts,
        team_id,
        trigger_id,
        block_id=block_id,
        message=message,
        response_url=response_url,
    )
    return _payload_form(payload)


def view_submission_payload(
    callback_id: str,
    values: dict[str, dict[str, dict[str, Any]]],
    private_metadata: str = "",
    user_id: str = "U0SUBMITTER",
    team_id: str = TEAM_ID,
    *,
    view_id: str = "V0FAKEVIEW",
    trigger_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A modal's Submit: the view_submission payload (a Socket Mode `interactive` envelope's
    payload; `view_submission` wraps it in a form body for HTTP).

    `values` is view.state.values: {block_id: {action_id: {"type": "plain_text_input",
    "value": "..."}}} (a static_select gives {"type": "static_select", "selected_option":
    {"text": {...}, "value": "..."}}).
    """
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": trigger_id or _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": blocks or [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "Uplift"},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel"},
            "submit": {"type": "plain_text", "text": "Submit"},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission(
    callback_id: str,
    values: dict[str, dict[str, dict[str, Any]]],
    private_metadata: str = "",
    user_id: str = "U0SUBMITTER",
    team_id: str = TEAM_ID,
    *,
    view_id: str = "V0FAKEVIEW",
    trigger_id: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
) -> bytes:
    """A modal's Submit over HTTP: form body `payload=<JSON>` of `view_submission_payload`."""
    payload = view_submission_payload(
        callback_id,
        values,
        private_metadata,
        user_id,
        team_id,
        view_id=view_id,
        trigger_id=trigger_id,
        blocks=blocks,
    )
    return _payload_form(payload)


def event_callback_payload(
    event: dict[str, Any],
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    *,
    event_time: int | None = None,
) -> dict[str, Any]:
    """An Events API delivery wrapping `event`. Same `event_id` = same event.

    This dict is what a Socket Mode `events_api` envelope carries as its payload;
    `event_callback` serialises it as the JSON body of an HTTP delivery.

    app_mention:     {"type": "app_mention", "user": "U1", "text": "<@U0FAKEBOT> score",
                      "ts": "1515449522.000016", "channel": "C1",
                      "event_ts": "1515449522.000016"}
    message.im:      {"type": "message", "channel": "D1", "user": "U1", "text": "score",
                      "ts": "1355517523.000005", "event_ts": "1355517523.000005",
                      "channel_type": "im"}
    app_home_opened: {"type": "app_home_opened", "user": "U1", "channel": "D1",
                      "tab": "home", "event_ts": "1515449522000016"}
    """
    now = int(time.time())
    return {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_SEQ):010d}",
        "event_time": event_time or now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{secrets.token_hex(16)}",
    }


def event_callback(
    event: dict[str, Any],
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    *,
    event_time: int | None = None,
) -> bytes:
    """An Events API delivery over HTTP: `event_callback_payload` as a JSON body."""
    payload = event_callback_payload(event, event_id, team_id, event_time=event_time)
    return json.dumps(payload, ensure_ascii=False).encode()
