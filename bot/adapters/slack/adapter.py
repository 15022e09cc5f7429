"""The Slack adapter: slack-bolt's AsyncApp turned into neutral events, and replies into Block Kit.

Every request is acknowledged first (Slack's 3-second rule) and handled after; slash commands,
button presses, modal submissions, mentions, direct messages and the App Home all become neutral
events for the dispatcher. No feature logic lives here: this module only translates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters import PlatformStartFailed
from bot.adapters.slack.blocks import message_blocks, modal_view, neutral_action, submitted_values
from bot.delivery import DeliveryFailed, Destination, RateLimited
from bot.dispatcher import Dispatcher
from kernel import Attachment, Audience, ChatRef, Clock, Event, EventKind, Reply, SenderRef, Text
from messages import Renderer, Target

log = logging.getLogger(__name__)

PLATFORM = "slack"
EVENTS_PATH = "/slack/events"
UMBRELLA_COMMAND = "uplift"  # /uplift score, for workspaces where /score is taken
FINAL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "user_not_found",
        "invalid_auth",
    }
)
_MENTION = re.compile(r"<@[A-Z0-9]+>")
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_REQUEST_AGE_SECONDS = 5 * 60  # Slack's guide: refuse older requests (replays)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
EVENT_ID_LIMIT = 128  # processed_event.event_id


@dataclass(frozen=True)
class Where:
    """Where an event came from and how to answer it in Slack."""

    team: str
    channel: str
    user: str
    trigger_id: str | None = None
    response_url: str | None = None

    @property
    def in_group(self) -> bool:
        return not self.channel.startswith("D")


class SlackAdapter:
    platform = PLATFORM

    def __init__(
        self,
        dispatcher: Dispatcher,
        renderer: Renderer,
        clock: Clock,
        *,
        token: str,
        signing_secret: str,
        api_url: str,
        app_token: str | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._app_token = app_token  # Socket Mode instead of HTTP when given
        self._socket: AsyncSocketModeHandler | None = None
        self._renderer = renderer
        self._clock = clock
        self.client = AsyncWebClient(token=token, base_url=api_url)
        self._signing_secret = signing_secret.encode()
        self.app = AsyncApp(
            client=self.client, signing_secret=signing_secret, process_before_response=False
        )
        self._people: dict[tuple[str, str], SenderRef] = {}
        self.app.command(re.compile(r"^/.+"))(self._on_command)
        self.app.action(re.compile(r".+"))(self._on_action)
        self.app.view(re.compile(r".+"))(self._on_view)
        self.app.event("app_mention")(self._on_message)
        self.app.event("message")(self._on_message)
        self.app.event("app_home_opened")(self._on_home)

    def mount(self, web_app: web.Application) -> None:
        """Slack's events over HTTP at ``/slack/events`` (not in Socket Mode)."""
        if self._app_token is None:
            web_app.router.add_post(EVENTS_PATH, self.handle_http)

    async def start(self) -> None:
        """In Socket Mode, connect; the app token is checked first, so a wrong one stops the
        process with its reason instead of retrying for ever."""
        if self._app_token is None:
            return
        try:
            await self.client.apps_connections_open(app_token=self._app_token)
        except SlackApiError as error:
            reason = str(error.response.get("error", "unknown"))
            raise PlatformStartFailed(PLATFORM, reason) from None
        self._socket = AsyncSocketModeHandler(self.app, self._app_token)
        await self._socket.connect_async()
        log.info("slack.socket_mode connected")

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()

    async def handle_http(self, request: web.Request) -> web.Response:
        """Slack's HTTP endpoint: verify, then hand the request to bolt.

        The signature and the timestamp are checked before anything reads the body (bolt parses
        it first, so garbage from anyone was a 500 and a traceback): a missing or wrong signature
        or a request older than five minutes answers 401, a timestamp that is no number or a
        signed body that is not what Slack sends answers 400, each with one short log line and
        never the body. Bolt checks the signature again, harmlessly."""
        body = await request.read()
        refusal = self._refusal(request, body)
        if refusal is not None:
            status, reason = refusal
            log.warning("slack.request_refused status=%s reason=%s", status, reason)
            return web.Response(status=status)
        return await to_aiohttp_response(
            await self.app.async_dispatch(await to_bolt_request(request))
        )

    def _signature(self, timestamp: str, body: bytes) -> bytes:
        """Slack's v0 signature of the raw bytes (slack_sdk's SignatureVerifier decodes the body
        as UTF-8 first, and fails on bytes that are not)."""
        digest = hmac.new(
            self._signing_secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
        )
        return b"v0=" + digest.hexdigest().encode()

    def _refusal(self, request: web.Request, body: bytes) -> tuple[int, str] | None:
        """(status, reason) for a request that must not reach bolt, else None."""
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            return 401, "unsigned"
        if not _TIMESTAMP.fullmatch(timestamp):
            return 400, "bad_timestamp"
        if abs(time.time() - int(timestamp)) > MAX_REQUEST_AGE_SECONDS:
            return 401, "stale"
        if not hmac.compare_digest(self._signature(timestamp, body), signature.encode()):
            return 401, "bad_signature"
        if not _well_formed(body, request.content_type):
            return 400, "malformed_body"
        return None

    # --- from Slack ------------------------------------------------------------------------

    async def _on_command(self, args: AsyncArgs) -> None:
        await args.ack()
        command = args.command or {}
        name = str(command.get("command", "")).lstrip("/").casefold()
        text = str(command.get("text", "")).strip()
        if name == UMBRELLA_COMMAND:
            first, _, text = text.partition(" ")
            name = first.lstrip("/").casefold() or "help"
        where = Where(
            team=str(command.get("team_id", "")),
            channel=str(command.get("channel_id", "")),
            user=str(command.get("user_id", "")),
            trigger_id=command.get("trigger_id"),
            response_url=command.get("response_url"),
        )
        sender = await self._sender(where, str(command.get("user_name", "")))
        event = self._event(
            EventKind.COMMAND,
            sender,
            where,
            command=name,
            args=text.strip(),
            event_id=_event_id("command", where.trigger_id),
        )
        await self._dispatch(event, where)

    async def _on_action(self, args: AsyncArgs) -> None:
        await args.ack()
        body, action = args.body, args.action or {}
        user = body.get("user", {})
        channel = (body.get("channel") or {}).get("id") or body.get("container", {}).get(
            "channel_id"
        )
        where = Where(
            team=str(user.get("team_id") or body.get("team", {}).get("id", "")),
            channel=str(channel or user.get("id", "")),
            user=str(user.get("id", "")),
            trigger_id=body.get("trigger_id"),
            response_url=body.get("response_url"),
        )
        value = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
        sender = await self._sender(where, str(user.get("username") or user.get("name") or ""))
        container = body.get("container") or {}
        event = self._event(
            EventKind.ACTION,
            sender,
            where,
            action=neutral_action(str(action.get("action_id", ""))),
            value=str(value),
            message_ref=container.get("message_ts"),
            # A press is its moment (action_ts) on its message (or modal): a replay is the same.
            event_id=_event_id(
                "action",
                where.user,
                action.get("action_ts"),
                container.get("message_ts") or container.get("view_id"),
            ),
        )
        await self._dispatch(event, where)

    async def _on_view(self, args: AsyncArgs) -> None:
        await args.ack()
        body, view = args.body, args.view or {}
        user = body.get("user", {})
        metadata = json.loads(view.get("private_metadata") or "{}")
        where = Where(
            team=str(user.get("team_id") or body.get("team", {}).get("id", "")),
            channel=str(metadata.get("channel") or user.get("id", "")),
            user=str(user.get("id", "")),
        )
        sender = await self._sender(where, str(user.get("username") or user.get("name") or ""))
        event = self._event(
            EventKind.FORM,
            sender,
            where,
            action=str(view.get("callback_id", "")),
            value=str(metadata.get("state", "")),
            form=submitted_values(view),
            # A submission is its view in one state (the hash changes with every update of the
            # view): a replayed request or a second click on Submit is the same event.
            event_id=_event_id("view", view.get("id"), view.get("hash")),
        )
        await self._dispatch(event, where)

    async def _on_message(self, args: AsyncArgs) -> None:
        """A mention, a direct message, or channel talk (keywords such as 排行榜 / my score)."""
        event = args.event or {}
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return
        text = _MENTION.sub("", str(event.get("text", ""))).strip()
        if (
            event.get("type") == "message"
            and event.get("channel_type") != "im"
            and _MENTION.search(str(event.get("text", "")))
        ):
            return  # the app_mention event carries it
        where = Where(
            team=str(args.body.get("team_id", "")),
            channel=str(event.get("channel", "")),
            user=str(event.get("user", "")),
        )
        sender = await self._sender(where, "")
        first, _, rest = text.partition(" ")
        photo = next(
            (
                f.get("url_private")
                for f in event.get("files", [])
                if f.get("mimetype", "").startswith("image/")
            ),
            None,
        )
        event_id = str(args.body.get("event_id") or "") or None
        if first and self._dispatcher.router.command_route(first.lstrip("/")) is not None:
            neutral = self._event(
                EventKind.COMMAND,
                sender,
                where,
                command=first.lstrip("/").casefold(),
                args=rest,
                event_id=event_id,
            )
        else:
            neutral = self._event(
                EventKind.TEXT, sender, where, text=text, photo_ref=photo, event_id=event_id
            )
        await self._dispatch(neutral, where)

    async def _on_home(self, args: AsyncArgs) -> None:
        """The App Home tab: my score, streak, open rectifications and today's drill."""
        event = args.event or {}
        if event.get("tab") != "home":
            return
        where = Where(
            team=str(args.body.get("team_id", "")),
            channel=str(event.get("channel", "")),
            user=str(event.get("user", "")),
        )
        sender = await self._sender(where, "")
        outcome = await self._dispatcher.handle(
            self._event(EventKind.COMMAND, sender, where, command="home")
        )
        blocks: list[dict[str, Any]] = []
        for reply in outcome.replies:
            blocks += message_blocks(reply, outcome.locale, self._renderer)[0]
        await self._call(
            self.client.views_publish,
            user_id=where.user,
            view={"type": "home", "blocks": blocks[:100]},
        )

    def _event(self, kind: EventKind, sender: SenderRef, where: Where, **fields: Any) -> Event:
        chat = ChatRef(PLATFORM, where.channel, is_group=where.in_group, workspace=where.team)
        return Event(kind=kind, sender=sender, chat=chat, received_at=self._clock.now(), **fields)

    async def _sender(self, where: Where, fallback_name: str) -> SenderRef:
        """Who pressed or typed: their name and Slack language, looked up once per person."""
        known = self._people.get((where.team, where.user))
        if known is not None:
            return known
        name, locale = fallback_name, None
        try:
            answer = await self.client.users_info(user=where.user, include_locale=True)
            profile = answer.get("user") or {}
            name = profile.get("real_name") or profile.get("name") or fallback_name
            locale = profile.get("locale")
        except SlackApiError as error:
            log.warning("slack.users_info_failed error=%s", error.response.get("error"))
        sender = SenderRef(
            PLATFORM, where.user, name or where.user, workspace=where.team, locale=locale
        )
        self._people[(where.team, where.user)] = sender
        return sender

    # --- to Slack ----------------------------------------------------------------------------

    async def _dispatch(self, event: Event, where: Where) -> None:
        outcome = await self._dispatcher.handle(event)
        for index, reply in enumerate(outcome.replies):
            try:
                await self._answer(reply, outcome.locale, where)
            except RateLimited as limited:
                await self._dispatcher.defer(
                    reply,
                    platform=PLATFORM,
                    workspace=where.team,
                    chat_id=where.channel if reply.to is Audience.CHAT else where.user,
                    locale=outcome.locale,
                    key=f"slack-deferred:{where.team}:{where.user}:{self._clock.now().isoformat()}:{index}",
                    not_before=self._clock.now() + dt.timedelta(seconds=limited.retry_after),
                )
            except DeliveryFailed as failure:
                log.warning("slack.reply_failed reason=%s", failure.reason)

    async def _answer(self, reply: Reply, locale: str, where: Where) -> None:
        """Show a reply where the event happened, in the way its audience asks for."""
        if reply.form is not None:
            await self._open_form(reply, locale, where)
            return
        blocks, text = message_blocks(reply, locale, self._renderer)
        if blocks:
            if reply.replace_pressed and where.response_url:
                await AsyncWebhookClient(where.response_url).send(
                    replace_original=True, text=text, blocks=blocks
                )
            elif reply.to is Audience.EPHEMERAL and where.in_group:
                await self._call(
                    self.client.chat_postEphemeral,
                    channel=where.channel,
                    user=where.user,
                    text=text,
                    blocks=blocks,
                )
            else:
                channel = where.user if reply.to is Audience.PRIVATE else where.channel
                await self._call(
                    self.client.chat_postMessage, channel=channel, text=text, blocks=blocks
                )
        files_to = where.user if reply.to is not Audience.CHAT else where.channel
        for attachment in (reply.image, reply.file):
            if attachment is not None:
                await self._upload(files_to, attachment, locale)

    async def _open_form(self, reply: Reply, locale: str, where: Where) -> None:
        assert reply.form is not None
        if not where.trigger_id:
            # Only slash commands and buttons can open a modal: point the person to the command.
            text = self._renderer.render(Text("slack/use_command"), locale, Target.SLACK)
            await self._call(self.client.chat_postMessage, channel=where.user, text=text)
            return
        view = modal_view(
            reply.form,
            locale,
            self._renderer,
            {"state": reply.form.state, "channel": where.channel},
        )
        await self._call(self.client.views_open, trigger_id=where.trigger_id, view=view)

    def pace(self, destination: Destination) -> dt.timedelta:
        """About one message a second per channel (Slack's chat.postMessage limit)."""
        return dt.timedelta(seconds=1)

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        """Deliver an outbox message: to a channel, or to a person's DM (their user id)."""
        blocks, text = message_blocks(reply, locale, self._renderer)
        message_id = None
        if blocks:
            answer = await self._call(
                self.client.chat_postMessage, channel=destination.chat_id, text=text, blocks=blocks
            )
            message_id = str(answer.get("ts") or "") or None
        for attachment in (reply.image, reply.file):
            if attachment is not None:
                await self._upload(destination.chat_id, attachment, locale)
        return message_id

    async def _upload(self, channel: str, attachment: Attachment, locale: str) -> None:
        """Files go through Slack's current upload API (getUploadURLExternal, then complete)."""
        caption = (
            self._renderer.render(attachment.caption, locale, Target.SLACK)
            if attachment.caption
            else None
        )
        await self._call(
            self.client.files_upload_v2,
            channel=channel,
            content=attachment.content,
            filename=attachment.filename,
            title=attachment.filename,
            initial_comment=caption,
        )

    async def _call(self, method: Any, **arguments: Any) -> Any:
        """Call the Web API; a 429 becomes RateLimited, a refusal DeliveryFailed."""
        try:
            return await method(**arguments)
        except SlackApiError as error:
            response = error.response
            if response.status_code == 429:
                raise RateLimited(float(response.headers.get("Retry-After", 1))) from None
            code = str(response.get("error", "unknown"))
            raise DeliveryFailed(code, final=code in FINAL_ERRORS) from None


def _well_formed(body: bytes, content_type: str) -> bool:
    """A body as Slack sends it, which bolt can parse: a JSON object, or a form whose
    ``payload``, if it has one, is a JSON object."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json" or text.startswith("{"):
            return isinstance(json.loads(text), dict)
        form = dict(parse_qsl(text, keep_blank_values=True))
        return "payload" not in form or isinstance(json.loads(form["payload"]), dict)
    except ValueError:  # not UTF-8, not JSON
        return False


def _event_id(kind: str, *parts: object) -> str | None:
    """An id for a request that Slack sends without one, made of what a replay repeats, so the
    dispatcher drops the repeat; None when a part is missing (then nothing is dropped)."""
    if not all(parts):
        return None
    event_id = ":".join([kind, *map(str, parts)])
    if len(event_id) > EVENT_ID_LIMIT:
        event_id = f"{kind}:{hashlib.sha256(event_id.encode()).hexdigest()}"
    return event_id
