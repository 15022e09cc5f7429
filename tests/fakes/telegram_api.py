"""A local fake of the Telegram Bot API, for tests that drive the real python-telegram-bot.

Why: the Telegram adapter must be tested over real HTTP, through PTB's own requests, parsing and
error mapping, without the network or a real bot token. This fake:

- speaks PTB's URL shape: methods at ``{base_url}{token}/{method}`` (``base_url`` is
  ``http://127.0.0.1:PORT/bot``) and files at ``{base_file_url}{token}/{file_path}``;
- reads JSON, form and multipart bodies (PTB sends form fields with JSON-encoded values, and
  multipart when it uploads files) and records every call with its decoded parameters and files;
- answers in the Bot API's JSON shapes as PTB 22.8 parses them (Bot API 9.6+: a poll has
  ``correct_option_ids``, ``allows_revoting`` and ``members_only``, its options a ``persistent_id``;
  a poll answer has ``option_persistent_ids``);
- keeps the state the adapter relies on: sent messages (edits, "message is not modified"), polls,
  files, commands per scope and language, the webhook, chat member statuses;
- serves queued updates to getUpdates (long polling) or to a webhook, and answers flood control
  (429 with ``retry_after``), 403 for chats the bot may not write to, or any error on demand.

It also refuses what the real API refuses and a careless bot would send: text over 4096
characters (captions over 1024), HTML with unsupported or unclosed tags, callback data over 64
bytes, invalid command names.

Usage::

    async with FakeTelegram(token="123:ABC") as tg:
        app = (ApplicationBuilder().token(tg.token).base_url(tg.base_url)
               .base_file_url(tg.base_file_url).build())
        tg.queue_update(tg.command("start", user=tg.user(42, "Li Lei")))
        ...
        (reply,) = await tg.wait_for("sendMessage")
        assert reply["chat_id"] == 42
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import count
from pathlib import PurePosixPath
from typing import Any

import aiohttp
from aiohttp import web

BOT_USERNAME = "uplift_test_bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


# PTB sends every non-string parameter JSON-encoded in a form field; the real server knows each
# field's type, so the fake decodes by name (a text that happens to read "123" stays a string).
_JSON_FIELDS = _names(
    "reply_markup options scope commands allowed_updates entities caption_entities "
    "explanation_entities question_entities correct_option_ids link_preview_options "
    "reply_parameters media permissions"
)
_INT_FIELDS = _names(
    "chat_id message_id user_id from_chat_id message_thread_id reply_to_message_id offset "
    "limit timeout correct_option_id open_period close_date cache_time max_connections "
    "until_date"
)
_BOOL_FIELDS = _names(
    "is_anonymous allows_multiple_answers allows_revoting is_closed members_only "
    "disable_notification protect_content show_alert drop_pending_updates "
    "allow_sending_without_reply has_spoiler disable_content_type_detection"
)
# Methods that post into a chat: a chat the bot may not write to answers 403 to these.
_SENDING = _names("sendmessage sendphoto senddocument sendpoll sendchataction")
# Update types sent when the bot asks for none in particular (allowed_updates empty or unset).
_NOT_BY_DEFAULT = _names("chat_member message_reaction message_reaction_count")
# The HTML tags Telegram accepts, and the entity each becomes.
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
# What PTB 22.8 requires of a ChatMemberAdministrator (all granted here).
_ADMIN_RIGHTS = _names(
    "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
    "can_promote_members can_change_info can_invite_users can_post_stories can_edit_stories "
    "can_delete_stories can_pin_messages"
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


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
    """One request the bot made. ``call["text"]`` reads a parameter."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile] = field(default_factory=dict)
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return self.response.get("result")

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass
class StoredFile:
    """A file the fake can serve: uploaded by the bot, or "sent by a user" in a built update."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None

    def as_file(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


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
    API sends an update again when the bot's confirmation did not reach it (a crash before the next
    getUpdates, a webhook answer that was not 2xx); queueing an update that was already queued or
    delivered models that: the copy is delivered once more, whatever the offset, so a test can
    check that the bot ignores the repeat.
    """

    def __init__(self, token: str = "123:ABC", *, bot_username: str = BOT_USERNAME):
        self.token = token
        bot_id = token.split(":", 1)[0]
        self.bot_id = int(bot_id) if bot_id.isdigit() else 1
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Uplift",
            "username": bot_username,
        }
        self.url = ""  # http://127.0.0.1:PORT once started
        self.recorded: list[Call] = []
        self.files: dict[str, StoredFile] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # the bot's, by (chat, id)
        self.polls: dict[str, dict[str, Any]] = {}  # poll id -> {"poll", "chat_id", "message_id"}
        self.chats: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.member_status: dict[tuple[int, int], str] = {}  # (chat_id, user_id) -> status
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.allowed_updates: list[str] = []  # the last getUpdates/setWebhook choice; [] = default
        self.forbidden: dict[int, str] = {}  # chat_id -> 403 description
        self._faults: defaultdict[str, deque[ApiError]] = defaultdict(deque)
        self._pending: list[_Pending] = []
        self._confirmed_below = 0
        self._answered_queries: set[str] = set()
        self._update_ids = count(700_000_001)
        self._message_ids = count(1)
        self._ids = count(1)
        self._wake = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token and the method."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``: PTB appends the token and file_path."""
        return f"{self.url}/file/bot"

    async def __aenter__(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll the client gave up on stops instead of taking updates.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._closing = True
        self._notify()  # long polls return at once instead of holding up the shutdown
        if self._session is not None:
            await self._session.close()
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

    def last(self, method: str, *, ok: bool | None = None) -> Call:
        found = self.calls(method, ok=ok)
        assert found, f"no {method} call recorded; calls: {self._summary()}"
        return found[-1]

    def count(self, method: str, *, ok: bool | None = None) -> int:
        return len(self.calls(method, ok=ok))

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0, *, ok: bool | None = None
    ) -> list[Call]:
        """Wait (bounded) until ``count`` calls of ``method`` are recorded; return them all."""
        found = await self._wait_until(lambda: len(self.calls(method, ok=ok)) >= count, timeout)
        assert found, (
            f"expected {count} {method} call(s) within {timeout}s, "
            f"got {self.count(method, ok=ok)}; calls: {self._summary()}"
        )
        return self.calls(method, ok=ok)

    def reset(self) -> None:
        """Forget the recorded calls (e.g. after setup); the server's state stays."""
        self.recorded.clear()

    def _summary(self) -> str:
        return ", ".join(f"{c.method}:{c.status}" for c in self.recorded[-30:]) or "none"

    # --- faults ------------------------------------------------------------------------------

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 3) -> None:
        """The next ``times`` calls of ``method`` answer 429 flood control with retry_after."""
        for _ in range(times):
            self._faults[method.lower()].append(
                ApiError(
                    429,
                    f"Too Many Requests: retry after {retry_after}",
                    {"retry_after": retry_after},
                )
            )

    def fail(
        self,
        method: str,
        description: str = "Bad Request: failed by the test",
        error_code: int = 400,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` answer this error."""
        for _ in range(times):
            self._faults[method.lower()].append(ApiError(error_code, description))

    def forbid(
        self,
        chat_id: int,
        description: str = "Forbidden: bot can't initiate conversation with a user",
    ) -> None:
        """Sends to this chat answer 403, as for a person who never pressed Start or blocked us."""
        self.forbidden[chat_id] = description

    def allow(self, chat_id: int) -> None:
        self.forbidden.pop(chat_id, None)

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers: creator, administrator, member, left or kicked."""
        self.member_status[(chat_id, user_id)] = status

    # --- state helpers -----------------------------------------------------------------------

    def my_commands(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        """The commands set for this scope (default ``{"type": "default"}``) and language."""
        return copy.deepcopy(self.commands.get(_commands_key(scope, language_code), []))

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data

    def sent_message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The bot's message as it stands now (after edits)."""
        return copy.deepcopy(self.messages[(chat_id, message_id)])

    # --- updates -----------------------------------------------------------------------------

    def queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (or push_updates); queueing it twice repeats it."""
        self._pending.append(_Pending(copy.deepcopy(update)))
        self._notify()
        return update

    async def post_update_to(
        self, url: str, update: dict[str, Any], secret_token: str | None = None
    ) -> int:
        """POST an update to a webhook as Telegram does; return the HTTP status."""
        assert self._session is not None, "use FakeTelegram as an async context manager"
        headers = {} if secret_token is None else {SECRET_HEADER: secret_token}
        async with self._session.post(url, json=update, headers=headers) as response:
            await response.read()
            return response.status

    async def push_updates(self) -> list[int]:
        """Deliver the pending updates to the webhook set by setWebhook, with its secret.

        Updates answered 2xx are confirmed; the others stay pending, to be sent again, as
        Telegram retries a webhook that failed. Returns the statuses in delivery order.
        """
        url = self.webhook.get("url")
        assert url, "no webhook set (setWebhook was not called)"
        statuses = []
        for pending in self._deliverable(limit=100):
            status = await self.post_update_to(
                url, pending.update, self.webhook.get("secret_token")
            )
            if 200 <= status < 300:
                self._pending = [p for p in self._pending if p is not pending]
            statuses.append(status)
        return statuses

    # --- update builders (Bot API JSON; not queued, so they serve webhooks too) --------------

    def user(
        self,
        id: int,
        first_name: str = "Test User",
        language_code: str = "zh-hans",
        *,
        username: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """A person (Bot API User); remembered so getChatMember can answer about them."""
        user: dict[str, Any] = {"id": id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[id] = user
        return dict(user)

    def chat(
        self,
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        user: dict | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """A Chat: private (id = the person's id) or a group/supergroup with a title.

        A chat built before is reused as it was unless a new title is given."""
        if chat_type == "private" and chat_id is None:
            chat_id = (user or self._default_user())["id"]
        if chat_id in self.chats and title is None:
            return dict(self.chats[chat_id])
        if chat_type == "private":
            user = user or self._default_user()
            chat: dict[str, Any] = {
                "id": chat_id,
                "type": "private",
                "first_name": user["first_name"],
            }
            if "username" in user:
                chat["username"] = user["username"]
        else:
            if chat_id is None:
                chat_id = -1_001_000_000_001 if chat_type == "supergroup" else -4_000_000_001
            chat = {"id": chat_id, "type": chat_type, "title": title or "Test group"}
        self.chats[chat["id"]] = chat
        return dict(chat)

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
        title: str | None = None,
    ) -> dict[str, Any]:
        """An update with a person's message: text (a leading /command gets its bot_command
        entity) or, with ``photo`` bytes, a photo the bot can getFile and download."""
        user = user or self._default_user()
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": self.chat(chat_id, chat_type, user=user, title=title),
            "date": _now(),
        }
        if photo is not None:
            msg["photo"] = self._photo_sizes(self._store(photo, "photos", ".jpg", "image/jpeg"))
            if caption:
                msg["caption"] = caption
        else:
            msg["text"] = text
            entities = _command_entities(text) if entities is None else entities
            if entities:
                msg["entities"] = entities
        return self._update("message", msg)

    def command(
        self,
        command: str,
        args: str = "",
        chat_id: int | None = None,
        user: dict | None = None,
        chat_type: str = "private",
        *,
        mention: bool = False,
        title: str | None = None,
    ) -> dict[str, Any]:
        """``/command args`` (``/command@bot args`` with mention, as group clients send it)."""
        head = "/" + command.lstrip("/") + (f"@{self.bot_user['username']}" if mention else "")
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": _utf16_len(head)}
        return self.message(text, chat_id, user, chat_type, entities=[entity], title=title)

    def callback_query(
        self,
        data: str,
        chat_id: int | None = None,
        user: dict | None = None,
        message_id: int | None = None,
        *,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """A button press on the bot's message (by default its last one in the chat); the
        message is the one the fake stored, keyboard included."""
        user = user or self._default_user()
        chat = self.chat(chat_id, chat_type, user=user)
        if message_id is None:
            ids = [mid for (cid, mid) in self.messages if cid == chat["id"]]
            message_id = max(ids) if ids else next(self._message_ids)
        message = self.messages.get((chat["id"], message_id)) or {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": chat,
            "date": _now(),
            "text": "…",
        }
        query = {
            "id": str(4_000_000_000_000 + next(self._ids)),
            "from": user,
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(chat["id"]) * 7 + 1),
            "data": data,
        }
        return self._update("callback_query", query)

    def poll_answer(
        self, poll_id: str, user: dict | None = None, option_ids: list[int] | tuple = (0,)
    ) -> dict[str, Any]:
        """A person's vote in a non-anonymous poll (empty option_ids = vote retracted)."""
        options = self.polls.get(poll_id, {}).get("poll", {}).get("options")
        persistent = [options[i]["persistent_id"] if options else str(i) for i in option_ids]
        answer = {
            "poll_id": poll_id,
            "user": user or self._default_user(),
            "option_ids": list(option_ids),
            "option_persistent_ids": persistent,
        }
        return self._update("poll_answer", answer)

    def my_chat_member(
        self,
        chat_id: int | None = None,
        user: dict | None = None,
        chat_type: str = "group",
        *,
        title: str | None = None,
        old_status: str = "left",
        new_status: str = "member",
    ) -> dict[str, Any]:
        """The bot's own membership changed; by default ``user`` added it to a group."""
        user = user or self._default_user()
        chat = self.chat(chat_id, chat_type, user=user, title=title)
        self.member_status[(chat["id"], self.bot_id)] = new_status
        change = {
            "chat": chat,
            "from": user,
            "date": _now(),
            "old_chat_member": _chat_member(self.bot_user, old_status),
            "new_chat_member": _chat_member(self.bot_user, new_status),
        }
        return self._update("my_chat_member", change)

    def _update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), kind: payload}

    def _default_user(self) -> dict[str, Any]:
        return dict(self.users.get(1001) or self.user(1001, "Li Lei"))

    # --- HTTP --------------------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            faults = self._faults.get(method.lower())
            if faults:
                raise faults.popleft()
            handler = getattr(self, f"_api_{method.lower()}", None)
            result = True if handler is None else await handler(params, files)
            call.response = {"ok": True, "result": result}
        except ApiError as error:
            call.status, call.response = error.error_code, error.body()
        except Exception as error:  # a request the fake cannot read: visible, not a hang
            call.status, call.response = 500, ApiError(500, f"fake Bot API: {error!r}").body()
        self.recorded.append(call)
        self._notify()
        return web.json_response(call.response, status=call.status)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        path = request.match_info["path"]
        for stored in self.files.values():
            if stored.file_path == path:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

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
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self.allowed_updates = params["allowed_updates"] or []
        self._confirm(params.get("offset"))
        limit = params.get("limit") or 100
        batch = await self._wait_until(
            lambda: self._deliverable(limit), float(params.get("timeout") or 0)
        )
        for pending in batch:
            pending.served = True
        return [copy.deepcopy(p.update) for p in batch]

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in _NOT_BY_DEFAULT

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:  # the real API keeps only the last -offset updates
            keep = {id(p) for p in sorted(self._pending, key=lambda p: p.update_id)[offset:]}
            self._pending = [p for p in self._pending if id(p) in keep]
            return
        self._confirmed_below = max(self._confirmed_below, offset)
        self._pending = [
            p for p in self._pending if not (p.served and p.update_id < self._confirmed_below)
        ]

    def _deliverable(self, limit: int) -> list[_Pending]:
        # Telegram drops the updates of types the bot did not ask for.
        self._pending = [p for p in self._pending if self._wanted(p.update)]
        ready = [p for p in self._pending if not p.served or p.update_id >= self._confirmed_below]
        return sorted(ready, key=lambda p: p.update_id)[:limit]

    async def _api_sendmessage(self, params: dict, files: dict) -> dict:
        chat = self._chat_for_sending("sendMessage", params)
        content = _formatted(
            params.get("text") or "", params.get("parse_mode"), MESSAGE_LIMIT, "message is too long"
        )
        return self._new_message(chat, content, params)

    async def _api_editmessagetext(self, params: dict, files: dict) -> Any:
        content = _formatted(
            params.get("text") or "", params.get("parse_mode"), MESSAGE_LIMIT, "message is too long"
        )
        markup = _check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        message = self._message_to_edit(params)
        before = (message.get("text"), message.get("entities"), message.get("reply_markup"))
        if before == (content["text"], content.get("entities"), markup):
            raise _not_modified()
        message.pop("entities", None)
        message.update(content)
        _set_markup(message, markup)  # no reply_markup in an edit removes the keyboard
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    async def _api_editmessagereplymarkup(self, params: dict, files: dict) -> Any:
        markup = _check_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        message = self._message_to_edit(params)
        if message.get("reply_markup") == markup:
            raise _not_modified()
        _set_markup(message, markup)
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
        texts = [o if isinstance(o, str) else o["text"] for o in params.get("options") or []]
        if len(texts) < 2:
            raise ApiError(400, "Bad Request: poll must have at least 2 option")
        kind = params.get("type") or "regular"
        correct = params.get("correct_option_ids")
        if correct is None and params.get("correct_option_id") is not None:
            correct = [params["correct_option_id"]]
        if kind == "quiz" and not correct:
            raise ApiError(400, "Bad Request: wrong correct option ID specified")
        poll: dict[str, Any] = {
            "id": str(5_000_000_000_000_000_000 + next(self._ids)),
            "question": params.get("question", ""),
            "options": [
                {"persistent_id": str(i), "text": t, "voter_count": 0} for i, t in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": bool(params.get("is_closed", False)),
            "is_anonymous": bool(params.get("is_anonymous", True)),
            "type": kind,
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", kind != "quiz")),
            "members_only": bool(params.get("members_only", False)),
        }
        if kind == "quiz":
            poll["correct_option_ids"] = list(correct)
        for key in ("explanation", "open_period", "close_date"):
            if params.get(key) is not None:
                poll[key] = params[key]
        message = self._new_message(chat, {"poll": poll}, params)
        self.polls[poll["id"]] = {
            "poll": poll,
            "chat_id": chat["id"],
            "message_id": message["message_id"],
        }
        return message

    async def _api_stoppoll(self, params: dict, files: dict) -> dict:
        where = (params.get("chat_id"), params.get("message_id"))
        for entry in self.polls.values():
            if (entry["chat_id"], entry["message_id"]) == where:
                entry["poll"]["is_closed"] = True  # the stored message shares this dict
                return copy.deepcopy(entry["poll"])
        raise ApiError(400, "Bad Request: message with poll to stop not found")

    async def _api_sendphoto(self, params: dict, files: dict) -> dict:
        chat = self._chat_for_sending("sendPhoto", params)
        stored = self._media(params, files, "photo", "photos", ".jpg", "image/jpeg")
        content: dict[str, Any] = {"photo": self._photo_sizes(stored)}
        return self._new_message(chat, self._with_caption(content, params), params)

    async def _api_senddocument(self, params: dict, files: dict) -> dict:
        chat = self._chat_for_sending("sendDocument", params)
        stored = self._media(params, files, "document", "documents", "", None)
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

    async def _api_getfile(self, params: dict, files: dict) -> dict:
        stored = self.files.get(str(params.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return stored.as_file()

    async def _api_setmycommands(self, params: dict, files: dict) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not _COMMAND_NAME.fullmatch(command.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: command description is empty")
        key = _commands_key(params.get("scope"), params.get("language_code") or "")
        self.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _api_getmycommands(self, params: dict, files: dict) -> list:
        return self.my_commands(params.get("scope"), params.get("language_code") or "")

    async def _api_deletemycommands(self, params: dict, files: dict) -> bool:
        self.commands.pop(_commands_key(params.get("scope"), params.get("language_code") or ""), 0)
        return True

    async def _api_setwebhook(self, params: dict, files: dict) -> bool:
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {k: v for k, v in params.items() if k != "drop_pending_updates"}
        if "allowed_updates" in params:
            self.allowed_updates = params["allowed_updates"] or []
        self.webhook.setdefault("url", "")
        return True

    async def _api_deletewebhook(self, params: dict, files: dict) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {"url": ""}
        return True

    async def _api_getwebhookinfo(self, params: dict, files: dict) -> dict:
        info = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        for key in ("max_connections", "allowed_updates", "ip_address"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        return info

    async def _api_getchatmember(self, params: dict, files: dict) -> dict:
        user_id = params.get("user_id")
        if user_id == self.bot_id:
            user = self.bot_user
        else:
            user = self.users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "?"}
        status = self.member_status.get((params.get("chat_id"), user_id), "member")
        return _chat_member(user, status)

    async def _api_sendchataction(self, params: dict, files: dict) -> bool:
        self._chat_for_sending("sendChatAction", params)
        return True

    # --- helpers for the API methods ---------------------------------------------------------

    def _chat_for_sending(self, method: str, params: dict) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.forbidden and method.lower() in _SENDING:
            raise ApiError(403, self.forbidden[chat_id])
        if chat_id in self.chats:
            return dict(self.chats[chat_id])
        if isinstance(chat_id, int) and chat_id > 0:
            name = self.users.get(chat_id, {}).get("first_name", "User")
            return {"id": chat_id, "type": "private", "first_name": name}
        if isinstance(chat_id, int) and str(chat_id).startswith("-100"):
            return {"id": chat_id, "type": "supergroup", "title": "Group"}
        return {"id": chat_id, "type": "group", "title": "Group"}

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

    def _message_to_edit(self, params: dict) -> dict[str, Any]:
        message = self.messages.get((params.get("chat_id"), params.get("message_id")))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return message

    def _with_caption(self, content: dict, params: dict) -> dict:
        caption = params.get("caption")
        if caption:
            limit, too_long = CAPTION_LIMIT, "message caption is too long"
            content.update(
                _formatted(caption, params.get("parse_mode"), limit, too_long, "caption")
            )
        return content

    def _media(
        self, params: dict, files: dict, name: str, folder: str, suffix: str, mime: str | None
    ) -> StoredFile:
        """The file of sendPhoto/sendDocument: an upload, or a file_id the fake knows."""
        if name in files:
            upload: UploadedFile = files[name]
            suffix = PurePosixPath(upload.filename or "").suffix or suffix
            mime = upload.content_type or mime
            return self._store(upload.data, folder, suffix, mime, upload.filename)
        value = params.get(name)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self._store(b"", folder, suffix, mime, value.rsplit("/", 1)[-1])
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _store(
        self,
        data: bytes,
        folder: str,
        suffix: str,
        mime: str | None,
        file_name: str | None = None,
    ) -> StoredFile:
        n = next(self._ids)
        stored = StoredFile(
            file_id=f"FAKEFILE{n:06d}{folder[:3].upper()}",
            file_unique_id=f"U{n:06d}",
            file_path=f"{folder}/file_{n}{suffix}",
            data=bytes(data),
            file_name=file_name,
            mime_type=mime,
        )
        self.files[stored.file_id] = stored
        return stored

    def _photo_sizes(self, stored: StoredFile) -> list[dict[str, Any]]:
        """A thumbnail and the full size, as Telegram returns a photo (the same bytes here)."""
        thumb = self._store(stored.data, "photos", PurePosixPath(stored.file_path).suffix, None)
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
    raw: dict[str, Any] = dict(request.query)
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
    elif request.content_type == "application/json":
        body = await request.text()
        raw.update(json.loads(body) if body.strip() else {})
    elif request.can_read_body:
        raw.update(await request.post())
    return {key: _decode(key, value) for key, value in raw.items()}, files


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value
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
    """The message content Telegram makes of a text: tags become entities, limits checked."""
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
    if len(visible) > limit:
        raise ApiError(400, f"Bad Request: {too_long}")
    content: dict[str, Any] = {field: visible}
    if entities:
        content["entities" if field == "text" else f"{field}_entities"] = entities
    return content


def _check_markup(markup: Any) -> dict | None:
    """The markup a message keeps: inline keyboards only (the real API returns no other)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
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


def _not_modified() -> ApiError:
    return ApiError(
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
    )


def _chat_member(user: dict, status: str) -> dict[str, Any]:
    member: dict[str, Any] = {"user": user, "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(dict.fromkeys(_ADMIN_RIGHTS, True), can_be_edited=False, is_anonymous=False)
    elif status == "kicked":
        member["until_date"] = 0
    elif status not in ("member", "left"):
        raise ValueError(f"unsupported chat member status: {status}")
    return member


def _commands_key(scope: dict | None, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    head = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(head)}]


def _utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, not Python characters."""
    return len(text.encode("utf-16-le")) // 2


def _now() -> int:
    return int(time.time())
