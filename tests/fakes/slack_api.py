"""A local fake of the Slack Web API and Socket Mode, and builders for what Slack sends to the app.

Why a real HTTP server rather than mocks: the Slack adapter must run through the same code paths
as in production — slack_sdk's request building (JSON bodies for chat.* and views.*, query strings
for users.info and the files.* calls, a raw POST of the bytes to the upload URL) and bolt's
auth.test on the first request. The design follows the mock servers in slack-sdk's and
slack-bolt's own test suites, but it is async (aiohttp, on the test's own event loop), listens on
an ephemeral port, records every call and can be told to answer 429. Response shapes follow the
examples in Slack's method reference (docs.slack.dev/reference/methods/...).

It serves only what bot/adapters/slack/adapter.py reaches through slack-bolt and slack_sdk:

- auth.test: the adapter's token check at start, and bolt's authorization of the first request
  (it reads the x-oauth-scopes header);
- chat.postMessage: answers in a channel, pushes (posting to a user id lands in their DM);
- chat.postEphemeral: an ephemeral answer to a mention in a channel;
- conversations.open: the app's DM with a person (for files);
- views.open: forms; views.publish: the App Home;
- users.info with include_locale: who typed;
- files.getUploadURLExternal, the upload URL, files.completeUploadExternal: uploads;
- apps.connections.open and the Socket Mode websocket: `start()` and AsyncSocketModeHandler;
- a response_url (`FakeSlack.response_url()`): answers to commands and button presses.

It is as strict as Slack's documented limits, so what passes here passes there (each number is
sourced where it is checked, in `Limits` and `block_kit_problems`):

- conversations: the app posts only where it is a member (`join`, or a DM it opened or was
  written in, `dm`); an unknown channel is `channel_not_found`, one the app is not in
  `not_in_channel`; files go to a conversation id (C…, G…, D…), never a user id
  (`invalid_arguments`);
- Block Kit: blocks a message or a modal, section text, buttons and their labels, select options
  and their texts, block and action ids (their length, and no repeats), modal titles and
  metadata, message text (`invalid_blocks`, `invalid_arguments`, `msg_too_long`); the app's
  answer to an options request, checked by `options_problems`;
- a response_url takes 5 posts within 30 minutes, then answers 404 (`expire_response_url` ages
  one past its 30 minutes);
- a wrong token is `invalid_auth`; `rate_limit` scripts 429s with Retry-After; `unreadable`
  scripts an answer that is no JSON (or a dropped connection) after the call took effect;
- chat.postMessage's own rate limit (`Limits.CHANNEL_PER_SECOND`): about one message a second per
  channel, a short burst allowed; over it, HTTP 429 `ratelimited` with Retry-After (whole seconds)
  and the channel held until then (`flood_limited` lists those calls, `ignored_retry_after` the
  posts sent into a hold: a well-behaved app keeps both at zero). Its time is the fake's `clock`
  (real time unless a test passes its own, so the app's moving clock and the fake agree);
- `delay`: seconds every Web API answer waits before it leaves (a round trip, for benchmarks).

Any other method answers `unknown_method`, so a new call in the adapter fails here first.

    async with FakeSlack(joined=["C1"]) as slack:
        client = AsyncWebClient(token=slack.token, base_url=slack.base_url)
        await client.chat_postMessage(channel="C1", text="hi")
        assert slack.last("chat.postMessage").args["text"] == "hi"

Socket Mode follows slack-sdk's tests/slack_sdk/socket_mode/mock_socket_mode_server.py:
`apps.connections.open`, called with the app-level token (`xapp-...`) and only it, answers a ws://
URL with a ticket on this server; a client connecting there gets `{"type": "hello", ...}`, then
the envelopes the test pushes, and acks each with `{"envelope_id": ...}`:

    envelope_id = await slack.socket_send("slash_commands", slash_command_payload(...))
    ack = await slack.wait_for_ack(envelope_id)

The second half of the module builds what Slack SENDS to the app: `signed_request` headers and
slash command, block action, view submission and Events API bodies, shaped like Slack's documented
examples, ready to POST to the adapter's /slack/events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSCloseCode, WSMsgType, web
from multidict import CIMultiDict

TOKEN = "xoxb-fake-uplift-token"
APP_TOKEN = "xapp-fake-uplift-token"
TEAM_ID = "T0FAKETEAM"
TEAM_DOMAIN = "uplift-test"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
APP_ID = "A0FAKEAPP"
SCOPES = "chat:write,commands,users:read,im:write,files:write,app_mentions:read,im:history"

UPLOAD = "upload"
"""Pseudo-method name under which POSTs to an upload URL are recorded."""
RESPONSE_URL = "response_url"
"""Pseudo-method name under which POSTs to a `FakeSlack.response_url()` are recorded."""
SOCKET_PATH = "/socket-mode"
ENVELOPE_TYPES = ("slash_commands", "events_api", "interactive")
"""The Socket Mode envelope types the tests push; "interactive" carries button presses, modal
submissions and options requests (block_suggestion), whose ack may carry a response."""
_SEQ = itertools.count(1)
UNREADABLE = {
    # A proxy's error page: slack_sdk reads no JSON (ContentTypeError) and sees an empty answer.
    "html": ("text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    # JSON declared, garbage sent: slack_sdk raises SlackApiError with aiohttp's raw response.
    "json": ("application/json", '{"ok": true, "ts": "17'),
    # Plain text: slack_sdk keeps the string and fails on it.
    "text": ("text/plain", "ok"),
}
"""How `FakeSlack.unreadable` answers; "disconnect" drops the connection without answering."""


class Limits:
    """Slack's documented limits the fake enforces, each with where Slack says so."""

    # "Blocks" in the Block Kit reference (api.slack.com/reference/block-kit/blocks): up to 50
    # blocks in a message, 100 in a modal or the Home tab (views.open, views.publish).
    MESSAGE_BLOCKS = 50
    VIEW_BLOCKS = 100
    # Section block (…/blocks#section): "text … Maximum length for the text in this field is
    # 3000 characters."
    SECTION_TEXT = 3000
    # Actions block (…/blocks#actions): "elements … There is a maximum of 25 elements in each
    # action block."
    ACTIONS_ELEMENTS = 25
    # Button element (api.slack.com/reference/block-kit/block-elements#button): text "Maximum
    # length for the text in this field is 75 characters"; value at most 2000.
    BUTTON_TEXT = 75
    BUTTON_VALUE = 2000
    # Every block_id and action_id (…/blocks, …/block-elements): at most 255 characters; a
    # block_id "should be unique for each message", an action_id "unique among all other
    # action_ids in the containing block" (the fake refuses repeats, so buttons never collide).
    BLOCK_ID = 255
    ACTION_ID = 255
    # Static select (…/block-elements#static_select, #static_multi_select): "options … Maximum
    # number of options is 100." An external select's options load response
    # (…/block-elements#external_select, "Setup"): at most 100 options too (`options_problems`).
    SELECT_OPTIONS = 100
    # Option object (api.slack.com/reference/block-kit/composition-objects#option): text
    # "Maximum length for the text in this field is 75 characters"; value at most 150.
    OPTION_TEXT = 75
    OPTION_VALUE = 150
    # Modal view object (api.slack.com/reference/surfaces/views, taken by views.open): title,
    # submit and close "max length of 24 characters"; private_metadata "Max length of 3000".
    VIEW_TITLE = 24
    PRIVATE_METADATA = 3000
    # chat.postMessage (api.slack.com/methods/chat.postMessage, "Truncating content", and the
    # 2018-04 changelog "truncating really long messages"): text beyond 40,000 characters is
    # cut; the method lists msg_too_long. The fake refuses, so nothing relies on the cut.
    MESSAGE_TEXT = 40_000
    # Slash commands (api.slack.com/interactivity/slash-commands, "Sending delayed responses"):
    # a response_url takes "up to 5 times within 30 minutes" of the command; the same holds for
    # a button press's response_url (api.slack.com/interactivity/handling#message_responses).
    RESPONSE_URL_POSTS = 5
    RESPONSE_URL_SECONDS = 30 * 60
    # chat.postMessage's "special" rate limit (docs.slack.dev/apis/web-api/rate-limits, "Posting
    # messages"): "generally allows an app to post 1 message per second to a specific channel,
    # with short bursts over 1 allowed"; over it, HTTP 429 with a Retry-After header in seconds.
    # Slack gives the burst no size: 3 is the fake's choice (as the Telegram fake's). The
    # workspace-wide limit beside it is not numbered by Slack: the fake keeps none.
    CHANNEL_PER_SECOND = 1.0
    CHANNEL_BURST = 3


def block_kit_problems(blocks: Any, max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """What Slack would refuse in ``blocks``, worded as Slack's ``response_metadata`` is."""
    problems: list[str] = []

    def too_long(value: Any, limit: int, where: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            problems.append(
                f"[ERROR] must be less than {limit + 1} characters [json-pointer:{where}]"
            )

    def too_many(items: list[Any], limit: int, where: str) -> None:
        if len(items) > limit:
            problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{where}]")

    def repeated(value: Any, seen: set[str], what: str, where: str) -> None:
        if isinstance(value, str):
            if value in seen:
                problems.append(f"[ERROR] {what} '{value}' already exists [json-pointer:{where}]")
            seen.add(value)

    def element(item: dict[str, Any], where: str) -> None:
        too_long(item.get("action_id"), Limits.ACTION_ID, f"{where}/action_id")
        kind = item.get("type")
        if kind == "button":
            too_long((item.get("text") or {}).get("text"), Limits.BUTTON_TEXT, f"{where}/text/text")
            too_long(item.get("value"), Limits.BUTTON_VALUE, f"{where}/value")
        elif kind in ("static_select", "multi_static_select"):
            options = item.get("options") or []
            too_many(options, Limits.SELECT_OPTIONS, f"{where}/options")
            for k, option in enumerate(options):
                text = (option.get("text") or {}).get("text")
                too_long(text, Limits.OPTION_TEXT, f"{where}/options/{k}/text/text")
                too_long(option.get("value"), Limits.OPTION_VALUE, f"{where}/options/{k}/value")

    if not isinstance(blocks, list):
        return [f"[ERROR] expected an array [json-pointer:{pointer}]"]
    too_many(blocks, max_blocks, pointer)
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        here = f"{pointer}/{i}"
        too_long(block.get("block_id"), Limits.BLOCK_ID, f"{here}/block_id")
        repeated(block.get("block_id"), block_ids, "block_id", f"{here}/block_id")
        if block.get("type") == "section":
            too_long(
                (block.get("text") or {}).get("text"), Limits.SECTION_TEXT, f"{here}/text/text"
            )
        elements = block.get("elements") or []
        if block.get("type") == "actions":
            too_many(elements, Limits.ACTIONS_ELEMENTS, f"{here}/elements")
            action_ids: set[str] = set()
            for j, item in enumerate(elements):
                element(item, f"{here}/elements/{j}")
                repeated(item.get("action_id"), action_ids, "action_id", f"{here}/elements/{j}")
        for key in ("element", "accessory"):
            if isinstance(block.get(key), dict):
                element(block[key], f"{here}/{key}")
    return problems


def options_problems(answer: Any) -> list[str]:
    """What Slack would refuse in the app's answer to a block_suggestion (an external select's
    options, `{"options": [...]}`): more than 100 options, or an option's text or value too
    long (Limits). Slack shows nothing for such an answer; the fake's tests call this on it."""
    if not isinstance(answer, dict) or not isinstance(answer.get("options"), list):
        return ["[ERROR] expected an object with an options array [json-pointer:/options]"]
    problems: list[str] = []
    options = answer["options"]
    if len(options) > Limits.SELECT_OPTIONS:
        problems.append(
            f"[ERROR] no more than {Limits.SELECT_OPTIONS} items allowed [json-pointer:/options]"
        )
    for k, option in enumerate(options):
        text = (option.get("text") or {}).get("text")
        for value, limit, where in (
            (text, Limits.OPTION_TEXT, f"/options/{k}/text/text"),
            (option.get("value"), Limits.OPTION_VALUE, f"/options/{k}/value"),
        ):
            if not isinstance(value, str) or not value or len(value) > limit:
                problems.append(f"[ERROR] must be 1 to {limit} characters [json-pointer:{where}]")
    return problems


def view_problems(view: dict[str, Any]) -> list[str]:
    """What views.open (a modal) or views.publish (a Home tab) would refuse in ``view``."""
    problems: list[str] = []
    if view.get("type") == "modal":
        for key in ("title", "submit", "close"):
            text = (view.get(key) or {}).get("text")
            if isinstance(text, str) and len(text) > Limits.VIEW_TITLE:
                problems.append(
                    f"[ERROR] must be less than {Limits.VIEW_TITLE + 1} characters "
                    f"[json-pointer:/view/{key}/text]"
                )
    metadata = view.get("private_metadata")
    if isinstance(metadata, str) and len(metadata) > Limits.PRIVATE_METADATA:
        problems.append(
            f"[ERROR] must be less than {Limits.PRIVATE_METADATA + 1} characters "
            "[json-pointer:/view/private_metadata]"
        )
    return problems + block_kit_problems(view.get("blocks", []), Limits.VIEW_BLOCKS, "/view/blocks")


def dm_id(user_id: str) -> str:
    """The fake's id for the app's DM with a person: D and the rest of their user id."""
    return "D" + user_id[1:]


@dataclass
class Call:
    """One request the fake received, as the app sent it, and what the fake answered."""

    method: str
    args: dict[str, Any]
    headers: CIMultiDict[str]
    status: int = 200
    response: Any = None
    at: float = 0.0  # when it arrived, on the fake's clock


@dataclass
class FakeFile:
    """A file going through the three-step upload: URL issued, bytes uploaded, then shared."""

    id: str
    filename: str
    length: int  # as declared to files.getUploadURLExternal
    content: bytes | None = None  # None until the upload URL has received the bytes
    title: str | None = None
    completed: bool = False


@dataclass
class SocketAck:
    """An acknowledgement the client sent over the Socket Mode websocket."""

    envelope_id: str
    message: dict[str, Any]  # the whole message as received: {"envelope_id": ..., ["payload"]}


@dataclass
class SocketConnection:
    """One Socket Mode websocket a client opened on the fake."""

    ws: web.WebSocketResponse
    closed: bool = False
    close_code: int | None = None
    _closed_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


class FakeSlack:
    """The fake Web API server; script `rate_limit` / `unreadable`, say which channels the app is
    in (`joined`, `join`, `add_channel`, `dm`), read `calls` / `last` / `wait_for`.

    Also Slack's Socket Mode side: `socket_send` envelopes, read `socket_acks` / `wait_for_ack`.
    """

    def __init__(
        self,
        *,
        joined: Iterable[str] = (),
        clock: Callable[[], float] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.token = TOKEN
        self.clock = clock or time.monotonic  # seconds; the per-channel limit's time
        self.delay = delay
        self.flood_limited: list[Call] = []  # posts answered 429 over a channel's limit
        self.ignored_retry_after: list[Call] = []  # posts sent while their channel was held
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (burst left, at)
        self._held_until: dict[str, float] = {}  # channel -> end of its 429
        self.app_token = APP_TOKEN
        self.files: dict[str, FakeFile] = {}
        self.root_url = ""
        self.socket_connections: list[SocketConnection] = []
        """Every Socket Mode websocket opened, in order; the last open one gets `socket_send`."""
        self.socket_acks: list[SocketAck] = []
        self._tickets: set[str] = set()
        self._calls: list[Call] = []
        self._rate_limits: defaultdict[str, deque[int | None]] = defaultdict(deque)
        self._unreadable: defaultdict[str, deque[str]] = defaultdict(deque)
        self.channels: dict[str, bool] = dict.fromkeys(joined, True)
        """Conversations that exist, and whether the app is a member of each."""
        self._response_urls: dict[str, list[float]] = {}  # key -> [issued at, posts…]
        self._runner: web.AppRunner | None = None
        self._handlers = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "conversations.open": self._conversations_open,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "apps.connections.open": self._apps_connections_open,
        }

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        # Report charts and spreadsheets travel through the upload URL: above aiohttp's 1 MB.
        app = web.Application(client_max_size=64 * 1024 * 1024)
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
        """What AsyncWebClient(base_url=...) / SLACK_API_URL take."""
        return self.root_url + "api/"

    def response_url(self, key: str = "r1") -> str:
        """A response_url on this server, for payload builders: `respond()` posts land here.
        Its 30 minutes start now (a key given again keeps its first start and its posts)."""
        self._response_urls.setdefault(key, [time.monotonic()])
        return f"{self.root_url}response/{key}"

    def expire_response_url(self, key: str) -> None:
        """Age the response_url ``key`` past its 30 minutes (Limits): its next post answers 404
        expired_url, as Slack's does for a command answered too late."""
        self._response_urls.setdefault(key, [time.monotonic()])
        self._response_urls[key][0] = time.monotonic() - Limits.RESPONSE_URL_SECONDS - 1

    # ---- conversations -----------------------------------------------------------------------

    def join(self, *channels: str) -> None:
        """The app is a member of these conversations (it was invited: /invite @Uplift)."""
        self.channels.update(dict.fromkeys(channels, True))

    def add_channel(self, channel: str, *, joined: bool = False) -> None:
        """A conversation that exists, by default without the app: a channel nobody invited it
        to, a DM between two people (D…), a group DM (G…)."""
        self.channels[channel] = joined

    def dm(self, user_id: str) -> str:
        """The app's DM with ``user_id``, open (the person wrote to the app); its id."""
        channel = dm_id(user_id)
        self.channels[channel] = True
        return channel

    # ---- inspection and scripting ------------------------------------------------------------

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

    def _summary(self) -> list[str]:
        return [c.method for c in self._calls]

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1, after: int = 0) -> None:
        """After `after` calls that pass, the next `times` calls of `method` answer HTTP 429
        {"ok": false, "error": "ratelimited"} with a Retry-After header in seconds, as Slack's
        rate limiter does (docs.slack.dev/apis/web-api/rate-limits)."""
        self._rate_limits[method].extend([None] * after + [retry_after] * times)

    def unreadable(self, method: str, times: int = 1, how: str = "html") -> None:
        """The next `times` calls of `method` (or RESPONSE_URL) take effect (a message is posted,
        a file shared) but are answered 200 with a body that is no JSON (`how`: "html", "json",
        "text"), or not at all ("disconnect": the connection drops after the request)."""
        if how not in (*UNREADABLE, "disconnect"):
            raise ValueError(f"how={how!r}: one of {[*UNREADABLE, 'disconnect']}")
        self._unreadable[method].extend([how] * times)

    # ---- HTTP ------------------------------------------------------------------------------

    def _record(self, method: str, args: dict[str, Any], request: web.Request) -> Call:
        call = Call(method, args, CIMultiDict(request.headers))
        self._calls.append(call)
        return call

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        call = self._record(method, args, request)
        call.at = at = self.clock()
        status, body, headers = self._answer(method, args, request)
        if method == "chat.postMessage" and status == 200 and body.get("ok"):
            status, body, headers = self._flood_control(call, at, (status, body, headers))
        call.status, call.response = status, body
        if self.delay:
            await asyncio.sleep(self.delay)
        if status == 200 and body.get("ok") and self._unreadable[method]:
            return self._unreadable_answer(request, call, self._unreadable[method].popleft())
        return web.json_response(body, status=status, headers=headers)

    def _flood_control(
        self, call: Call, now: float, answer: tuple[int, dict[str, Any], dict[str, str]]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A post over its channel's limit (Limits.CHANNEL_PER_SECOND) is refused with 429 and
        holds the channel for its Retry-After; one sent into a hold is counted too."""
        channel = str(call.args.get("channel", ""))
        held = self._held_until.get(channel, float("-inf"))
        if now < held:
            self.ignored_retry_after.append(call)
            return 429, _error("ratelimited"), {"Retry-After": str(math.ceil(held - now))}
        left, at = self._buckets.get(channel, (float(Limits.CHANNEL_BURST), now))
        left = min(float(Limits.CHANNEL_BURST), left + (now - at) * Limits.CHANNEL_PER_SECOND)
        if left < 1.0:
            retry_after = max(1, math.ceil((1.0 - left) / Limits.CHANNEL_PER_SECOND))
            self._held_until[channel] = now + retry_after
            self.flood_limited.append(call)
            return 429, _error("ratelimited"), {"Retry-After": str(retry_after)}
        self._buckets[channel] = (left - 1.0, now)
        return answer

    @staticmethod
    def _unreadable_answer(request: web.Request, call: Call, how: str) -> web.Response:
        """The call took effect; its answer cannot be read. `call.response` says how."""
        call.response = how
        if how == "disconnect":
            assert request.transport is not None
            request.transport.close()  # the client sees the connection drop, no answer
            return web.Response(status=200)
        content_type, text = UNREADABLE[how]
        return web.Response(status=200, text=text, content_type=content_type)

    def _answer(
        self, method: str, args: dict[str, Any], request: web.Request
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return 200, _error("not_authed"), {}
        # apps.connections.open takes the app-level token and only it; everything else the bot's.
        expected = self.app_token if method == "apps.connections.open" else self.token
        if auth.removeprefix("Bearer ") != expected:
            return 200, _error("invalid_auth"), {}
        retry_after = self._rate_limits[method].popleft() if self._rate_limits[method] else None
        if retry_after is not None:
            return 429, _error("ratelimited"), {"Retry-After": str(retry_after)}
        handler = self._handlers.get(method)
        if handler is None:
            return 200, _error("unknown_method"), {}
        return 200, handler(args), {"x-oauth-scopes": SCOPES}

    async def _upload(self, request: web.Request) -> web.Response:
        """The upload URL: no token (it is pre-signed), raw bytes in, "OK - <length>" out."""
        file_id = request.match_info["file_id"]
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
        """A response_url: 5 posts within 30 minutes of the command (Limits), then 404; a body
        Slack would refuse (blocks, text) is a 400 with the error, as incoming webhooks answer."""
        key = request.match_info["key"]
        body = await request.json() if request.can_read_body else {}
        call = self._record(RESPONSE_URL, {"key": key, **body}, request)
        posts = self._response_urls.setdefault(key, [time.monotonic()])
        posts.append(time.monotonic())
        if time.monotonic() - posts[0] > Limits.RESPONSE_URL_SECONDS:
            call.status, call.response = 404, "expired_url"
        elif len(posts) - 1 > Limits.RESPONSE_URL_POSTS:
            call.status, call.response = 404, "used_url"
        elif problem := self._content_problem(body):
            call.status, call.response = 400, problem["error"]
        else:
            call.response = "ok"
            if self._unreadable[RESPONSE_URL]:
                return self._unreadable_answer(
                    request, call, self._unreadable[RESPONSE_URL].popleft()
                )
        return web.Response(status=call.status, text=call.response)

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
        connection = SocketConnection(ws)
        self.socket_connections.append(connection)
        try:
            await ws.send_json(
                {
                    "type": "hello",
                    "num_connections": sum(not c.closed for c in self.socket_connections),
                    "debug_info": {"host": "applink-fake-uplift", "build_number": 1},
                    "connection_info": {"app_id": APP_ID},
                }
            )
            async for message in ws:  # ends on the client's close frame or a dropped connection
                if message.type == WSMsgType.TEXT:
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
                self.socket_acks.append(SocketAck(str(message["envelope_id"]), message))

    def socket_connection(self) -> SocketConnection:
        """The most recent open Socket Mode connection."""
        for connection in reversed(self.socket_connections):
            if not connection.closed:
                return connection
        raise AssertionError(
            f"no open Socket Mode connection ({len(self.socket_connections)} opened and closed)"
        )

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

    async def socket_send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Push an envelope down the current connection, as Slack does; return its envelope_id.

        `payload` is what the HTTP body would carry: `slash_command_payload(...)` for
        "slash_commands" (whose ack may carry a response), `event_callback_payload(...)` for
        "events_api" (whose envelopes also say `retry_attempt` / `retry_reason`).
        """
        if envelope_type not in ENVELOPE_TYPES:
            raise ValueError(f"envelope type {envelope_type!r} is not one of {ENVELOPE_TYPES}")
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": envelope_type != "events_api",
        }
        if envelope_type == "events_api":
            envelope |= {"retry_attempt": 0, "retry_reason": ""}
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

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(_SEQ):010d}"

    def _next_ts(self) -> str:
        # Seconds then a strictly increasing sequence: unique and increasing, as Slack's ts.
        return f"{int(time.time())}.{next(_SEQ):06d}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Uplift Test Workspace",
            "user": "uplift",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _conversation_problem(self, channel: str, *, user_ids: bool = False) -> str | None:
        """Why the app cannot post in ``channel``: chat.postMessage's errors channel_not_found
        ("Value passed for channel was invalid") and not_in_channel (api.slack.com/methods/
        chat.postMessage). A user id, where allowed, is the app's DM with them, opened."""
        if user_ids and channel[:1] in ("U", "W"):
            self.channels[dm_id(channel)] = True
            return None
        if channel not in self.channels:
            return "channel_not_found"
        return None if self.channels[channel] else "not_in_channel"

    def _content_problem(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """A message's text and blocks against Slack's limits (Limits)."""
        blocks = args.get("blocks")
        if isinstance(blocks, str):  # form-encoded callers send the blocks as JSON text
            blocks = json.loads(blocks)
        if not any((args.get("text"), blocks, args.get("attachments"))):
            return _error("no_text")
        text = args.get("text")
        if isinstance(text, str) and len(text) > Limits.MESSAGE_TEXT:
            return _error("msg_too_long")
        if blocks is not None and (problems := block_kit_problems(blocks, Limits.MESSAGE_BLOCKS)):
            return {**_error("invalid_blocks"), "response_metadata": {"messages": problems}}
        return None

    def _check_message_args(
        self, args: dict[str, Any], *, user_ids: bool = False
    ) -> dict[str, Any] | None:
        if problem := self._conversation_problem(str(args.get("channel") or ""), user_ids=user_ids):
            return _error(problem)
        return self._content_problem(args)

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        if problem := self._check_message_args(args, user_ids=True):
            return problem
        ts = self._next_ts()
        channel = args["channel"]
        if channel[:1] in ("U", "W"):  # a user id: Slack posts to the app's DM with them
            channel = dm_id(channel)
        message = {
            "type": "message",
            "text": args.get("text", ""),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "ts": ts,
        }
        if "blocks" in args:
            message["blocks"] = args["blocks"]
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if problem := self._check_message_args(args):
            return problem
        if not args.get("user"):
            return _error("user_not_in_channel")
        return {"ok": True, "message_ts": self._next_ts()}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """The app's DM with one person (api.slack.com/methods/conversations.open: "users …
        If only one user is included, this creates a 1:1 DM"); the same id every time."""
        users = [u for u in str(args.get("users", "")).split(",") if u]
        if len(users) != 1:
            return _error("invalid_arguments")  # group DMs are not what the app opens
        if users[0][:1] not in ("U", "W"):
            return _error("user_not_found")
        channel = dm_id(users[0])
        already = self.channels.get(channel, False)
        self.channels[channel] = True
        return {"ok": True, "no_op": already, "already_open": already, "channel": {"id": channel}}

    def _view(self, given: dict[str, Any]) -> dict[str, Any]:
        view_id = self._new_id("V")
        return {
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            **given,
            "id": view_id,
            "team_id": TEAM_ID,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id") or not isinstance(args.get("view"), dict):
            return _error("invalid_arguments")
        if problems := view_problems(args["view"]):
            return {**_error("invalid_arguments"), "response_metadata": {"messages": problems}}
        return {"ok": True, "view": self._view(args["view"])}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("user_id") or not isinstance(args.get("view"), dict):
            return _error("invalid_arguments")
        if problems := view_problems(args["view"]):
            return {**_error("invalid_arguments"), "response_metadata": {"messages": problems}}
        return {"ok": True, "view": self._view(args["view"])}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """Any U…/W… id exists, speaking en-US; like Slack, `locale` only with include_locale."""
        user_id = args.get("user", "")
        if user_id[:1] not in ("U", "W"):
            return _error("user_not_found")
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": user_id.lower(),
            "deleted": False,
            "real_name": f"User {user_id}",
            "tz": "Asia/Shanghai",
            "is_bot": False,
            "profile": {"real_name": f"User {user_id}", "display_name": user_id.lower()},
        }
        if str(args.get("include_locale")).lower() in ("1", "true"):
            user["locale"] = "en-US"
        return {"ok": True, "user": user}

    def _get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        """filename and length are required (api.slack.com/methods/files.getUploadURLExternal)."""
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return _error("invalid_arguments")
        file_id = self._new_id("F")
        self.files[file_id] = FakeFile(file_id, args["filename"], int(args["length"]))
        return {"ok": True, "upload_url": f"{self.root_url}upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        """Shares uploaded files; a file whose bytes never arrived answers file_not_found.

        channel_id is "Channel ID where the file will be shared" (api.slack.com/methods/
        files.completeUploadExternal): a conversation, C…, G… or D…. Slack answers
        invalid_arguments for a user id (python-slack-sdk issue #1426: open the DM first), and
        the app must be in the conversation, as for a message."""
        entries = args.get("files")
        if not isinstance(entries, list) or not entries:
            return _error("invalid_arguments")
        channels = [args["channel_id"]] if args.get("channel_id") else []
        for channel in channels:
            if channel[:1] not in ("C", "G", "D"):
                return _error("invalid_arguments")
            if problem := self._conversation_problem(channel):
                return _error(problem)
        fake_files = [self.files.get(entry.get("id", "")) for entry in entries]
        if any(f is None or f.content is None for f in fake_files):
            return _error("file_not_found")
        shared = []
        for entry, fake_file in zip(entries, fake_files, strict=True):
            assert fake_file is not None and fake_file.content is not None
            fake_file.title = entry.get("title") or fake_file.filename
            fake_file.completed = True
            shared.append(
                {
                    "id": fake_file.id,
                    "created": int(time.time()),
                    "name": fake_file.filename,
                    "title": fake_file.title,
                    "user": BOT_USER_ID,
                    "size": len(fake_file.content),
                    "channels": channels,
                }
            )
        return {"ok": True, "files": shared}


async def _read_args(request: web.Request) -> dict[str, Any]:
    """Query string plus JSON body: slack_sdk sends chat.* and views.* as JSON, users.info and
    files.* as query strings (the `files` list of files.completeUploadExternal as JSON text)."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json" and request.can_read_body:
        args.update(await request.json())
    if isinstance(args.get("files"), str):
        args["files"] = json.loads(args["files"])
    return args


# ---- what Slack sends to the app ---------------------------------------------------------------


def signed_request(
    body: bytes, secret: str, timestamp: int | None = None, *, retry_num: int | None = None
) -> dict[str, str]:
    """Headers Slack puts on a request to the app: HMAC-SHA256 of "v0:{ts}:{body}".

    Also the Content-Type Slack uses for that body, and, for a redelivered event, the
    X-Slack-Retry-Num / X-Slack-Retry-Reason headers. Pass an old `timestamp` for a stale request
    (bolt refuses those older than 5 minutes, as Slack's "verifying requests" guide asks).
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
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def _trigger_id() -> str:
    return f"{next(_SEQ)}.{int(time.time())}.{secrets.token_hex(16)}"


def _default_response_url(kind: str) -> str:
    return f"https://hooks.slack.com/{kind}/{TEAM_ID}/{next(_SEQ)}/{secrets.token_hex(12)}"


def _user(user_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID}


def _payload_form(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def slash_command_payload(
    command: str, text: str, user_id: str, channel_id: str, *, response_url: str | None = None
) -> dict[str, str]:
    """A slash command invocation's fields, in Slack's order, all strings as in the form body.

    This dict is what a Socket Mode `slash_commands` envelope carries as its payload;
    `slash_command` form-encodes it for HTTP. Pass `response_url=slack.response_url()` if the
    app may call `respond()`; the default points at hooks.slack.com like the real thing.
    """
    return {
        "token": "verification-token",
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": "directmessage" if channel_id.startswith("D") else "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url or _default_response_url("commands"),
        "trigger_id": _trigger_id(),
    }


def slash_command(
    command: str, text: str, user_id: str, channel_id: str, *, response_url: str | None = None
) -> bytes:
    """A slash command invocation over HTTP: `slash_command_payload` as a form-encoded body."""
    payload = slash_command_payload(command, text, user_id, channel_id, response_url=response_url)
    return urlencode(payload).encode()


def block_action(
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    *,
    response_url: str | None = None,
) -> bytes:
    """A button press on a message over HTTP: form body `payload=<JSON>` of block_actions."""
    payload = {
        "type": "block_actions",
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": _trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": message_ts},
        "state": {"values": {}},
        "response_url": response_url or _default_response_url("actions"),
        "actions": [
            {
                "action_id": action_id,
                "block_id": "actions",
                "text": {"type": "plain_text", "text": value, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return _payload_form(payload)


def block_suggestion_payload(
    action_id: str, block_id: str, value: str, user_id: str, private_metadata: str
) -> dict[str, Any]:
    """Slack asking for an external select's options as the person types ``value`` in a modal
    (type block_suggestion): what a Socket Mode "interactive" envelope carries, and what
    `block_suggestion` form-encodes for HTTP. The ack's body is {"options": [...]}, at most
    100 (api.slack.com/reference/block-kit/block-elements#external_select)."""
    view_id = "V0FAKEVIEW"
    return {
        "type": "block_suggestion",
        "user": _user(user_id),
        "container": {"type": "view", "view_id": view_id},
        "api_app_id": APP_ID,
        "token": "verification-token",
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "private_metadata": private_metadata,
            "callback_id": "",
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        },
    }


def block_suggestion(
    action_id: str, block_id: str, value: str, user_id: str, private_metadata: str
) -> bytes:
    """An options request over HTTP: form body `payload=<JSON>` of block_suggestion."""
    return _payload_form(
        block_suggestion_payload(action_id, block_id, value, user_id, private_metadata)
    )


def view_submission(
    callback_id: str,
    values: dict[str, dict[str, dict[str, Any]]],
    private_metadata: str,
    user_id: str,
) -> bytes:
    """A modal's Submit over HTTP: form body `payload=<JSON>` of view_submission.

    `values` is view.state.values: {block_id: {action_id: {"type": "plain_text_input",
    "value": "..."}}} (a static_select gives {"type": "static_select", "selected_option":
    {"value": "..."}}).
    """
    view_id = "V0FAKEVIEW"
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "Uplift"},
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _payload_form(payload)


def event_callback_payload(
    event: dict[str, Any], event_id: str | None = None, team_id: str = TEAM_ID
) -> dict[str, Any]:
    """An Events API delivery wrapping `event`. Same `event_id` = same event.

    This dict is what a Socket Mode `events_api` envelope carries as its payload;
    `event_callback` serialises it as the JSON body of an HTTP delivery.

    app_mention:     {"type": "app_mention", "user": "U1", "text": "<@U0FAKEBOT> score",
                      "ts": "1515449522.000016", "channel": "C1"}
    message.im:      {"type": "message", "channel": "D1", "user": "U1", "text": "score",
                      "ts": "1355517523.000005", "channel_type": "im"}
    app_home_opened: {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home"}
    """
    return {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_SEQ):010d}",
        "event_time": int(time.time()),
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
    event: dict[str, Any], event_id: str | None = None, team_id: str = TEAM_ID
) -> bytes:
    """An Events API delivery over HTTP: `event_callback_payload` as a JSON body."""
    return json.dumps(event_callback_payload(event, event_id, team_id), ensure_ascii=False).encode()
