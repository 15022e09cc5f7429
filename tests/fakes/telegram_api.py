"""A local fake of the Telegram Bot API, for tests that drive the real python-telegram-bot.

Why: the Telegram adapter must be tested over real HTTP, through PTB's own requests, parsing and
error mapping, without the network or a real bot token. The fake speaks PTB's URL shape (methods
at ``{base_url}{token}/{method}``, ``base_url`` being ``http://127.0.0.1:PORT/bot``), reads the
form and multipart bodies PTB sends, records every call with its decoded parameters and uploaded
files, and answers in the Bot API's JSON shapes as PTB 22.8 parses them (Bot API 9.6+: a poll has
``correct_option_ids``, ``allows_revoting`` and ``members_only``, its options a ``persistent_id``;
a poll answer has ``option_persistent_ids``).

It serves only the methods bot/adapters/telegram/adapter.py calls through PTB:

- getMe: ``Application.initialize()``;
- setMyCommands: ``_register_commands`` (per scope and language);
- deleteWebhook, getUpdates: ``updater.start_polling`` (long polling);
- setWebhook: ``start()`` in webhook mode;
- sendMessage: ``_text_steps`` and ``_send_notice``; editMessageText: ``_edit``;
- answerCallbackQuery: ``_on_press``;
- sendPoll: ``_poll_step``;
- sendPhoto, sendDocument: ``_steps`` (multipart uploads).

Any other method answers 404 Not Found, as the real server does, so a new call in the adapter
fails here first. The fake refuses what the real API refuses and a careless bot would send (the
numbers below, each with where it comes from): text over 4096 characters, captions over 1024,
HTML with unsupported or unclosed tags, callback data over 64 bytes, keyboards over 100 buttons
(or 8 in a row), invalid commands, an edit that changes nothing, a callback query answered twice,
a poll whose question, options or explanation Telegram would refuse, a bad webhook secret,
getUpdates while a webhook is set. Lengths count UTF-16 code units, as Telegram does.

Flood control, as the Bot FAQ states it (core.telegram.org/bots/faq, "My bot is hitting limits,
how do I avoid this?"): about 30 messages a second in all, one a second per chat with a short
burst, 20 a minute per group. Every HTTP message counts: each send* and editMessageText call the
fake accepts. Over a limit, it answers 429 with ``retry_after`` (whole seconds, as the Bot API's
ResponseParameters) and bans that chat, or the whole bot for the overall limit, until then. A
message sent to a banned chat anyway is refused again and counted in ``ignored_retry_after``: a
well-behaved bot keeps that at zero. Time is the fake's ``clock`` (real time unless a test passes
its own, so the bot's moving clock and the fake agree). It also answers 429 and 403 on demand
(``rate_limit``, ``forbid``), and, with ``answer_unreadably``, a 200 whose body is not JSON after
it took the message: "sent, but the answer cannot be read". ``delay`` holds every answer that many
seconds (a round trip to Telegram, for benchmarks); flood control counts a message when it arrives.

Usage::

    async with FakeTelegram(token="123:ABC") as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
        tg.queue_update(tg.command("start", "", 42, tg.user(42, "Li Lei")))
        ...
        (reply,) = await tg.wait_for("sendMessage")
        assert reply["chat_id"] == 42
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import count
from typing import Any

import aiohttp
from aiohttp import web

BOT_USERNAME = "uplift_test_bot"
# sendMessage / editMessageText: text of "1-4096 characters after entities parsing".
MESSAGE_LIMIT = 4096
# sendPhoto / sendDocument: caption of "0-1024 characters after entities parsing".
CAPTION_LIMIT = 1024
# InlineKeyboardButton.callback_data: "1-64 bytes".
CALLBACK_DATA_LIMIT = 64
# BotCommand.command: "1-32 characters. Can contain only lowercase English letters, digits and
# underscores"; BotCommand.description: "1-256 characters".
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
COMMAND_DESCRIPTION_LIMIT = 256
# setWebhook secret_token: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed".
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# getUpdates limit: "Values between 1-100 are accepted. Defaults to 100" (PTB sends none).
UPDATES_LIMIT = 100
# sendPoll (core.telegram.org/bots/api#sendpoll): question "1-300 characters"; each
# InputPollOption text "1-100 characters"; explanation "0-200 characters with at most 2 line
# feeds after entities parsing". The number of options was "2-10" until Bot API 9.1 raised the
# most to 12 and Bot API 10.0 lowered the least to 1: PTB 22.8 (telegram.constants.PollLimit,
# MIN_OPTION_NUMBER and MAX_OPTION_NUMBER, and Bot.send_poll) documents 1-12, so the fake takes
# 1-12 (the adapter sends 2-12: bot/adapters/telegram/poll_limits.py).
POLL_QUESTION_LIMIT = 300
MIN_POLL_OPTIONS = 1
MAX_POLL_OPTIONS = 12
POLL_OPTION_LIMIT = 100
POLL_EXPLANATION_LIMIT = 200
POLL_EXPLANATION_LINE_FEEDS = 2
# InlineKeyboardMarkup: at most 100 buttons, 8 in a row. Telegram does not document either (its
# server refuses more with "reply markup is too long"); PTB 22 records them as
# telegram.constants.InlineKeyboardMarkupLimit.
KEYBOARD_BUTTONS = 100
ROW_BUTTONS = 8
# Flood control (core.telegram.org/bots/faq, "My bot is hitting limits, how do I avoid this?"):
# "If you're sending bulk notifications to multiple users, the API will not allow more than 30
# messages per second or so."
OVERALL_PER_SECOND = 30
# "When sending messages inside a particular chat, avoid sending more than one message per second.
# We may allow short bursts that go over this limit": one a second, refilling a burst of 3 (the
# FAQ gives no size for the burst: 3 is the fake's choice).
CHAT_PER_SECOND = 1
CHAT_BURST = 3
# "Also note that your bot will not be able to send more than 20 messages per minute to the same
# group." (New messages: an edit does not add one.)
GROUP_PER_MINUTE = 20
UNREADABLE_BODY = "<html><body><h1>502 Bad Gateway</h1></body></html>"

# PTB sends every non-string parameter JSON-encoded in a form field; the real server knows each
# field's type, so the fake decodes by name (a text that happens to read "123" stays a string).
# These are the non-string parameters of the methods above, as the adapter sends them.
_JSON_FIELDS = frozenset(
    ("reply_markup", "options", "scope", "commands", "allowed_updates", "correct_option_ids")
)
_INT_FIELDS = frozenset(("chat_id", "message_id", "offset", "timeout"))
_BOOL_FIELDS = frozenset(("is_anonymous",))
# Methods that post into a chat: a chat the bot may not write to answers 403 to these.
_SENDING = frozenset(("sendmessage", "sendphoto", "senddocument", "sendpoll"))
# Every HTTP message, for flood control: the posts and the edits.
_MESSAGES = _SENDING | {"editmessagetext"}
# The HTML tags Telegram accepts (Bot API "HTML style" formatting), and the entity each becomes.
_ENTITY_TYPES = {
    **dict.fromkeys(("b", "strong"), "bold"),
    **dict.fromkeys(("i", "em"), "italic"),
    **dict.fromkeys(("u", "ins"), "underline"),
    **dict.fromkeys(("s", "strike", "del"), "strikethrough"),
    **dict.fromkeys(("span", "tg-spoiler"), "spoiler"),
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status = error_code, as the real server does."""

    def __init__(self, error_code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class UploadedFile:
    """A file the bot uploaded in a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One request the bot made. ``call["text"]`` reads a parameter. ``at`` is the fake's clock
    when it arrived; ``unreadable`` when the fake took it but answered a body that is not JSON."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    unreadable: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return self.response.get("result")

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


@dataclass
class StoredFile:
    """A file the fake holds: uploaded by the bot, or "sent by a user" in a built update."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class _Fault:
    """An answer given on demand to the next matching call instead of handling it."""

    error: ApiError
    chat_id: int | None = None  # only for calls to this chat
    whole_bot: bool = False  # a 429 that bans every chat, as the overall limit does


@dataclass
class _Pending:
    update: dict[str, Any]
    served: bool = False

    @property
    def update_id(self) -> int:
        return self.update["update_id"]


class FakeTelegram:
    """The fake Bot API server; an async context manager that runs it on 127.0.0.1.

    Updates: every queued update is delivered at least once. getUpdates answers the pending ones
    in update_id order, waiting up to ``timeout`` seconds when there are none (long polling), and
    an ``offset`` confirms (forgets) the delivered updates below it, as the real API does. The real
    API sends an update again when the bot's confirmation did not reach it; queueing an update
    that was already queued or delivered models that: the copy is delivered once more, whatever
    the offset, so a test can check that the bot ignores the repeat.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        clock: Callable[[], float] | None = None,
        delay: float = 0.0,
    ):
        self.token = token
        self.delay = delay  # seconds every answer waits before it leaves (a round trip)
        self.clock = clock or time.monotonic  # seconds; flood control's time
        bot_id = token.split(":", 1)[0]
        self.bot_id = int(bot_id) if bot_id.isdigit() else 1
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Uplift",
            "username": BOT_USERNAME,
        }
        self.url = ""  # http://127.0.0.1:PORT once started
        self.recorded: list[Call] = []
        self.files: dict[str, StoredFile] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # the bot's, by (chat, id)
        self.polls: dict[str, dict[str, Any]] = {}  # poll id -> the poll as sent
        self.users: dict[int, dict[str, Any]] = {}
        self.webhook_url = ""
        self.allowed_updates: list[str] = []  # the last getUpdates/setWebhook choice; [] = all
        self.forbidden: dict[int, str] = {}  # chat_id -> 403 description
        self.banned_until: dict[int, float] = {}  # chat_id -> end of its 429 (fake clock)
        self.banned_all_until = float("-inf")  # end of a bot-wide 429
        self.ignored_retry_after: list[Call] = []  # messages sent into a ban
        self._faults: defaultdict[str, list[_Fault]] = defaultdict(list)
        self._unreadable: defaultdict[str, int] = defaultdict(int)
        self._sent: deque[float] = deque()  # accepted messages of the last second
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (burst left, at)
        self._group_sent: dict[int, deque[float]] = {}  # group -> new messages, last minute
        self._pending: list[_Pending] = []
        self._confirmed_below = 0
        self._answered_queries: set[str] = set()
        self._update_ids = count(700_000_001)
        self._message_ids = count(1)
        self._ids = count(1)
        self._wake = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token and the method."""
        return f"{self.url}/bot"

    async def __aenter__(self) -> FakeTelegram:
        # Report charts and spreadsheets are uploaded here: above aiohttp's 1 MB default.
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        # handler_cancellation: a long poll the client gave up on stops instead of taking updates.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        self._notify()  # long polls return at once instead of holding up the shutdown
        if self._runner is not None:
            await self._runner.cleanup()

    # --- recorded calls ----------------------------------------------------------------------

    def calls(self, method: str | None = None, *, ok: bool | None = None) -> list[Call]:
        """Recorded calls, oldest first; method names match case-insensitively like Telegram's."""
        return [
            c
            for c in self.recorded
            if (method is None or c.method.lower() == method.lower()) and (ok is None or c.ok == ok)
        ]

    def last(self, method: str) -> Call:
        found = self.calls(method)
        assert found, f"no {method} call recorded; calls: {self._summary()}"
        return found[-1]

    def count(self, method: str, *, ok: bool | None = None) -> int:
        return len(self.calls(method, ok=ok))

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait (bounded) until ``count`` calls of ``method`` are recorded; return them all."""
        found = await self._wait_until(lambda: len(self.calls(method)) >= count, timeout)
        assert found, (
            f"expected {count} {method} call(s) within {timeout}s, "
            f"got {self.count(method)}; calls: {self._summary()}"
        )
        return self.calls(method)

    def _summary(self) -> str:
        return ", ".join(f"{c.method}:{c.status}" for c in self.recorded[-30:]) or "none"

    def messages_sent(self) -> list[Call]:
        """The accepted message calls (sends and edits), each an HTTP message Telegram counts."""
        return [c for c in self.recorded if c.ok and c.method.lower() in _MESSAGES]

    def busiest_second(self) -> int:
        """The most accepted messages in any one second of the fake's clock."""
        times = [c.at for c in self.messages_sent()]
        return max(
            (sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)),
            default=0,
        )

    @property
    def rate_limited(self) -> list[Call]:
        """Every call answered 429."""
        return [c for c in self.recorded if c.status == 429]

    # --- faults and state --------------------------------------------------------------------

    def rate_limit(
        self,
        method: str,
        times: int = 1,
        retry_after: int = 3,
        *,
        chat_id: int | None = None,
        whole_bot: bool = False,
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id``, if given) answer 429 flood
        control with retry_after (Bot API ResponseParameters.retry_after: seconds to wait before
        repeating), and ban that chat (or, ``whole_bot``, every chat) as long."""
        for _ in range(times):
            self._faults[method.lower()].append(
                _Fault(_too_many(retry_after), chat_id=chat_id, whole_bot=whole_bot)
            )

    def answer_unreadably(self, method: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` that succeed are taken (recorded, the message
        kept) but answered 200 with a body that is not JSON."""
        self._unreadable[method.lower()] += times

    def forbid(
        self,
        chat_id: int,
        description: str = "Forbidden: bot can't initiate conversation with a user",
    ) -> None:
        """Sends to this chat answer 403, as for a person who never pressed Start or blocked us."""
        self.forbidden[chat_id] = description

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    # --- updates -----------------------------------------------------------------------------

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; queueing it twice repeats it."""
        self._pending.append(_Pending(copy.deepcopy(update)))
        self._notify()
        return update

    # --- update builders (Bot API JSON; not queued, so they serve webhooks too) --------------

    def user(self, id: int, first_name: str = "Test User", language_code: str = "zh-hans") -> dict:
        """A person (Bot API User); remembered so private chats with them carry their name."""
        user: dict[str, Any] = {"id": id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        self.users[id] = user
        return dict(user)

    def message(
        self,
        text: str = "",
        chat_id: int | None = None,
        user: dict | None = None,
        chat_type: str = "private",
        *,
        entities: list[dict] | None = None,
        photo: bytes | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """An update with a person's message in ``chat_id``: text (use ``command`` for a
        /command) or, with ``photo`` bytes, a photo whose file_id ``file_bytes`` reads."""
        assert chat_id is not None and user is not None, "a message needs chat_id and user"
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": self._chat(chat_id, chat_type),
            "date": _now(),
        }
        if photo is not None:
            msg["photo"] = self._photo_sizes(self._store(photo, "PHO", mime="image/jpeg"))
            if caption:
                msg["caption"] = caption
        else:
            msg["text"] = text
            if entities:
                msg["entities"] = entities
        return self._update("message", msg)

    def command(
        self, command: str, args: str, chat_id: int, user: dict, chat_type: str = "private"
    ) -> dict[str, Any]:
        """``/command args`` with its bot_command entity, as clients send it."""
        head = "/" + command.lstrip("/")
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": _utf16_len(head)}
        return self.message(text, chat_id, user, chat_type, entities=[entity])

    def callback_query(self, data: str, chat_id: int, user: dict) -> dict[str, Any]:
        """A button press on the bot's last message in the chat; the message is the one the
        fake stored, keyboard included."""
        ids = [mid for (cid, mid) in self.messages if cid == chat_id]
        assert ids, f"the bot sent nothing to {chat_id} to press a button on"
        query = {
            "id": str(4_000_000_000_000 + next(self._ids)),
            "from": user,
            "message": copy.deepcopy(self.messages[(chat_id, max(ids))]),
            "chat_instance": str(abs(chat_id) * 7 + 1),
            "data": data,
        }
        return self._update("callback_query", query)

    def poll_answer(self, poll_id: str, user: dict, option_ids: list[int]) -> dict[str, Any]:
        """A person's vote in a non-anonymous poll the bot sent."""
        options = self.polls[poll_id]["options"]
        answer = {
            "poll_id": poll_id,
            "user": user,
            "option_ids": list(option_ids),
            "option_persistent_ids": [options[i]["persistent_id"] for i in option_ids],
        }
        return self._update("poll_answer", answer)

    def _update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), kind: payload}

    def _chat(self, chat_id: int, chat_type: str) -> dict[str, Any]:
        if chat_type == "private":
            name = self.users.get(chat_id, {}).get("first_name", "User")
            return {"id": chat_id, "type": "private", "first_name": name}
        return {"id": chat_id, "type": chat_type, "title": "Test group"}

    # --- HTTP --------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files, at=self.clock())
        name = method.lower()
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            handler = getattr(self, f"_api_{name}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            if name in _MESSAGES:
                self._flood_control(call)
            self._fault_for(call)
            call.response = {"ok": True, "result": await handler(params, files)}
            if name in _MESSAGES:
                self._count(call)
        except ApiError as error:
            call.status, call.response = error.error_code, error.body()
        except Exception as error:  # a request the fake cannot read: visible, not a hang
            call.status, call.response = 500, ApiError(500, f"fake Bot API: {error!r}").body()
        if call.ok and self._unreadable.get(name):
            self._unreadable[name] -= 1
            call.unreadable = True
        self.recorded.append(call)
        self._notify()
        if self.delay:
            await asyncio.sleep(self.delay)
        if call.unreadable:
            return web.Response(status=200, text=UNREADABLE_BODY, content_type="text/html")
        return web.json_response(call.response, status=call.status)

    # --- flood control -----------------------------------------------------------------------

    def _flood_control(self, call: Call) -> None:
        """Refuse a message sent into a ban (counted) or over a limit (which bans), with 429."""
        chat = call.params.get("chat_id")
        chat = chat if isinstance(chat, int) else 0
        now = call.at
        banned = max(self.banned_all_until, self.banned_until.get(chat, float("-inf")))
        if now < banned:
            self.ignored_retry_after.append(call)
            raise _too_many(math.ceil(banned - now))
        _forget_before(self._sent, now - 1.0)
        if len(self._sent) >= OVERALL_PER_SECOND:
            self._ban(None, now, self._sent[-OVERALL_PER_SECOND] + 1.0 - now)
        if self._burst_left(chat, now) < 1.0:
            self._ban(chat, now, (1.0 - self._burst_left(chat, now)) / CHAT_PER_SECOND)
        group = self._group_sent.get(chat)
        if call.method.lower() in _SENDING and chat < 0 and group is not None:
            _forget_before(group, now - 60.0)
            if len(group) >= GROUP_PER_MINUTE:
                self._ban(chat, now, group[-GROUP_PER_MINUTE] + 60.0 - now)

    def _ban(self, chat: int | None, now: float, wait: float) -> None:
        retry_after = max(1, math.ceil(wait))
        if chat is None:
            self.banned_all_until = max(self.banned_all_until, now + retry_after)
        else:
            self.banned_until[chat] = max(self.banned_until.get(chat, now), now + retry_after)
        raise _too_many(retry_after)

    def _burst_left(self, chat: int, now: float) -> float:
        left, at = self._buckets.get(chat, (float(CHAT_BURST), now))
        return min(float(CHAT_BURST), left + (now - at) * CHAT_PER_SECOND)

    def _count(self, call: Call) -> None:
        chat = call.params.get("chat_id")
        chat = chat if isinstance(chat, int) else 0
        self._sent.append(call.at)
        self._buckets[chat] = (self._burst_left(chat, call.at) - 1.0, call.at)
        if call.method.lower() in _SENDING and chat < 0:
            self._group_sent.setdefault(chat, deque()).append(call.at)

    def _fault_for(self, call: Call) -> None:
        """Raise the first fault asked for this call, if any (a 429 bans as it says)."""
        faults = self._faults.get(call.method.lower()) or []
        chat = call.params.get("chat_id")
        for index, fault in enumerate(faults):
            if fault.chat_id is None or fault.chat_id == chat:
                del faults[index]
                retry_after = (fault.error.parameters or {}).get("retry_after")
                if retry_after is not None:
                    until = call.at + retry_after
                    if fault.whole_bot:
                        self.banned_all_until = max(self.banned_all_until, until)
                    elif isinstance(chat, int):
                        self.banned_until[chat] = max(self.banned_until.get(chat, until), until)
                raise fault.error

    def _notify(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def _wait_until(self, predicate: Any, timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            wake = self._wake
            result = predicate()
            remaining = deadline - loop.time()
            if result or remaining <= 0 or self._closing:
                return result
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), remaining)

    # --- API methods: each gets (params, files) and returns the "result" --------------------

    async def _api_getme(self, params: dict, files: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _api_getupdates(self, params: dict, files: dict) -> list:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.allowed_updates = params["allowed_updates"] or []
        if params.get("offset") is not None:
            self._confirmed_below = max(self._confirmed_below, params["offset"])
            self._pending = [
                p for p in self._pending if not (p.served and p.update_id < self._confirmed_below)
            ]
        batch = await self._wait_until(self._deliverable, float(params.get("timeout") or 0))
        for pending in batch:
            pending.served = True
        return [copy.deepcopy(p.update) for p in batch]

    def _deliverable(self) -> list[_Pending]:
        # Telegram drops the updates of types the bot did not ask for.
        if self.allowed_updates:
            self._pending = [
                p for p in self._pending if set(p.update) - {"update_id"} <= {*self.allowed_updates}
            ]
        ready = [p for p in self._pending if not p.served or p.update_id >= self._confirmed_below]
        return sorted(ready, key=lambda p: p.update_id)[:UPDATES_LIMIT]

    async def _api_deletewebhook(self, params: dict, files: dict) -> bool:
        self.webhook_url = ""
        return True

    async def _api_setwebhook(self, params: dict, files: dict) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url = params.get("url", "")
        if "allowed_updates" in params:
            self.allowed_updates = params["allowed_updates"] or []
        return True

    async def _api_setmycommands(self, params: dict, files: dict) -> bool:
        for command in params.get("commands") or []:
            if not _COMMAND_NAME.fullmatch(command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= COMMAND_DESCRIPTION_LIMIT:
                raise ApiError(400, "Bad Request: command description is empty")
        return True

    async def _api_sendmessage(self, params: dict, files: dict) -> dict:
        chat = self._chat_for_sending("sendMessage", params)
        content = _formatted(
            params.get("text") or "", params.get("parse_mode"), MESSAGE_LIMIT, "message is too long"
        )
        return self._new_message(chat, content, params)

    async def _api_editmessagetext(self, params: dict, files: dict) -> dict:
        content = _formatted(
            params.get("text") or "", params.get("parse_mode"), MESSAGE_LIMIT, "message is too long"
        )
        markup = _check_markup(params.get("reply_markup"))
        message = self.messages.get((params.get("chat_id"), params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        before = (message.get("text"), message.get("entities"), message.get("reply_markup"))
        if before == (content["text"], content.get("entities"), markup):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message.pop("entities", None)
        message.update(content)
        _set_markup(message, markup)  # no reply_markup in an edit removes the keyboard
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    async def _api_answercallbackquery(self, params: dict, files: dict) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id in self._answered_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._answered_queries.add(query_id)
        return True

    async def _api_sendpoll(self, params: dict, files: dict) -> dict:
        chat = self._chat_for_sending("sendPoll", params)
        question = params.get("question") or ""
        if not question.strip():
            raise ApiError(400, "Bad Request: poll question must be non-empty")
        if _utf16_len(question) > POLL_QUESTION_LIMIT:
            raise ApiError(400, "Bad Request: poll question length must not exceed 300")
        texts = [o if isinstance(o, str) else o["text"] for o in params.get("options") or []]
        if len(texts) < MIN_POLL_OPTIONS:
            raise ApiError(400, "Bad Request: poll must have at least 1 option")
        if len(texts) > MAX_POLL_OPTIONS:
            raise ApiError(400, "Bad Request: poll can't have more than 12 options")
        if any(not t.strip() or _utf16_len(t) > POLL_OPTION_LIMIT for t in texts):
            raise ApiError(400, "Bad Request: poll options length must not exceed 100")
        explanation = params.get("explanation") or ""
        if _utf16_len(explanation) > POLL_EXPLANATION_LIMIT:
            raise ApiError(400, "Bad Request: explanation is too long")
        if explanation.count("\n") > POLL_EXPLANATION_LINE_FEEDS:
            raise ApiError(400, "Bad Request: explanation can't contain more than 2 line feeds")
        kind = params.get("type") or "regular"
        correct = params.get("correct_option_ids")
        if kind == "quiz" and (not correct or not all(0 <= i < len(texts) for i in correct)):
            raise ApiError(400, "Bad Request: wrong correct option ID specified")
        poll: dict[str, Any] = {
            "id": str(5_000_000_000_000_000_000 + next(self._ids)),
            "question": params.get("question", ""),
            "options": [
                {"persistent_id": str(i), "text": t, "voter_count": 0} for i, t in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": bool(params.get("is_anonymous", True)),
            "type": kind,
            "allows_multiple_answers": False,
            "allows_revoting": kind != "quiz",
            "members_only": False,
        }
        if kind == "quiz":
            poll["correct_option_ids"] = list(correct)
        if params.get("explanation") is not None:
            poll["explanation"] = params["explanation"]
        self.polls[poll["id"]] = poll
        return self._new_message(chat, {"poll": poll}, params)

    async def _api_sendphoto(self, params: dict, files: dict) -> dict:
        chat = self._chat_for_sending("sendPhoto", params)
        stored = self._upload(files, "photo", "image/jpeg")
        content: dict[str, Any] = {"photo": self._photo_sizes(stored)}
        return self._new_message(chat, self._with_caption(content, params), params)

    async def _api_senddocument(self, params: dict, files: dict) -> dict:
        chat = self._chat_for_sending("sendDocument", params)
        stored = self._upload(files, "document", None)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        content = self._with_caption({"document": document}, params)
        return self._new_message(chat, content, params)

    # --- helpers for the API methods ---------------------------------------------------------

    def _chat_for_sending(self, method: str, params: dict) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.forbidden and method.lower() in _SENDING:
            raise ApiError(403, self.forbidden[chat_id])
        if chat_id > 0:
            return self._chat(chat_id, "private")
        return self._chat(chat_id, "supergroup" if str(chat_id).startswith("-100") else "group")

    def _new_message(self, chat: dict, content: dict, params: dict) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": self.bot_user,
            "chat": chat,
            "date": _now(),
            **content,
        }
        _set_markup(message, _check_markup(params.get("reply_markup")))
        self.messages[(chat["id"], message["message_id"])] = message
        return copy.deepcopy(message)

    def _with_caption(self, content: dict, params: dict) -> dict:
        caption = params.get("caption")
        if caption:
            content.update(
                _formatted(
                    caption,
                    params.get("parse_mode"),
                    CAPTION_LIMIT,
                    "message caption is too long",
                    "caption",
                )
            )
        return content

    def _upload(self, files: dict[str, UploadedFile], name: str, mime: str | None) -> StoredFile:
        """The file of sendPhoto/sendDocument: the adapter always uploads the bytes."""
        upload = files.get(name)
        if upload is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return self._store(
            upload.data, name[:3].upper(), upload.filename, upload.content_type or mime
        )

    def _store(
        self, data: bytes, kind: str, file_name: str | None = None, mime: str | None = None
    ) -> StoredFile:
        n = next(self._ids)
        stored = StoredFile(f"FAKEFILE{n:06d}{kind}", f"U{n:06d}", bytes(data), file_name, mime)
        self.files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, stored: StoredFile) -> list[dict[str, Any]]:
        """A thumbnail and the full size, as Telegram returns a photo (the same bytes here)."""
        thumb = self._store(stored.data, "PHO")
        return [
            {
                "file_id": f.file_id,
                "file_unique_id": f.file_unique_id,
                "file_size": len(f.data),
                "width": w,
                "height": h,
            }
            for f, w, h in ((thumb, 90, 68), (stored, 1280, 960))
        ]


# --- request parsing and checks ---------------------------------------------------------------


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """PTB posts form fields, or multipart when it uploads a file."""
    raw: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    if request.content_type == "multipart/form-data":
        async for part in await request.multipart():
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                content_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
                files[part.name] = UploadedFile(part.filename, content_type, await part.read())
            else:
                raw[part.name] = await part.text()
    elif request.can_read_body:
        raw.update(await request.post())
    return {key: _decode(key, value) for key, value in raw.items()}, files


def _decode(key: str, value: str) -> Any:
    if key in _JSON_FIELDS:
        return json.loads(value)
    if key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in _BOOL_FIELDS and value in ("true", "false"):
        return value == "true"
    return value


class _HtmlText(HTMLParser):
    """Telegram's HTML parse mode: known tags only, each closed; yields text and entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.entities: list[dict[str, Any]] = []
        self.open: list[tuple[str, int, dict]] = []
        # UTF-16 code units so far, as entity offsets count them (HTMLParser owns .offset).
        self.units = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in _ENTITY_TYPES:
            raise ApiError(
                400, f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"'
            )
        self.open.append((tag, self.units, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unmatched end tag "{tag}"')
        _, start, attrs = self.open.pop()
        entity = {"type": _ENTITY_TYPES[tag], "offset": start, "length": self.units - start}
        if tag == "a":
            entity["url"] = attrs.get("href", "")
        if tag == "tg-emoji":
            entity["custom_emoji_id"] = attrs.get("emoji-id", "")
        if entity["length"]:
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        self.units += _utf16_len(data)


def _formatted(
    text: str, parse_mode: str | None, limit: int, too_long: str, field: str = "text"
) -> dict[str, Any]:
    """The message content Telegram makes of a text: tags become entities, limits checked on
    the text shown (after entities parsing, as the Bot API counts)."""
    visible, entities = text, []
    if (parse_mode or "").upper() == "HTML":
        parser = _HtmlText()
        parser.feed(text)
        parser.close()
        if parser.open:
            raise ApiError(
                400,
                "Bad Request: can't parse entities: Can't find end tag corresponding to start "
                f'tag "{parser.open[-1][0]}"',
            )
        visible = "".join(parser.text)
        entities = sorted(parser.entities, key=lambda e: e["offset"])
    if not visible.strip():
        raise ApiError(400, f"Bad Request: message {field} is empty")
    if _utf16_len(visible) > limit:
        raise ApiError(400, f"Bad Request: {too_long}")
    content: dict[str, Any] = {field: visible}
    if entities:
        content["entities" if field == "text" else f"{field}_entities"] = entities
    return content


def _check_markup(markup: Any) -> dict | None:
    """The markup a message keeps: inline keyboards only (the real API returns no other)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if sum(len(row) for row in rows) > KEYBOARD_BUTTONS:
        raise ApiError(400, "Bad Request: reply markup is too long")
    if any(len(row) > ROW_BUTTONS for row in rows):
        raise ApiError(400, "Bad Request: too many buttons in a row")
    for row in rows:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _set_markup(message: dict, markup: dict | None) -> None:
    if markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _too_many(retry_after: int) -> ApiError:
    """Flood control's answer (Bot API, "Making requests": an unsuccessful request may carry
    ``parameters``, a ResponseParameters whose ``retry_after`` is "in case of exceeding flood
    control, the number of seconds left to wait before the request can be repeated")."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def _forget_before(times: deque[float], since: float) -> None:
    while times and times[0] <= since:
        times.popleft()


def _utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, not Python characters."""
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())
