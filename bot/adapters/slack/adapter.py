"""The Slack adapter: slack-bolt's AsyncApp turned into neutral events, and replies into Block Kit.

Every request is acknowledged first (Slack's 3-second rule) and handled after; slash commands,
button presses, modal submissions, mentions, direct messages and the App Home all become neutral
events for the dispatcher. No feature logic lives here: this module only translates.

Where an answer goes, as Slack allows it:

- a slash command or a button press is answered through its ``response_url`` (ephemeral, or in
  the channel when the answer is for the chat), which works in any conversation, joined or not, a
  DM between two people or a group DM included; a response_url takes 5 posts within 30 minutes,
  and beyond that, or when it refuses, the answer goes to the person's DM with the app;
- a mention or channel talk is answered in the channel (ephemerally when personal), else in the DM;
- files for one person go to their DM, opened with ``conversations.open`` (a user id is no channel
  for an upload), and the DM's id is kept per person.

Nothing is shown twice: an answer Slack took but whose reply could not be read (a body that is
not JSON, a connection cut after the request went out) is ``SentUnreadable``, never retried; when
one part of an answer went out and a later one (an upload after the message) was refused for now,
only the parts not yet sent are handed to the outbox.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters import PlatformStartFailed
from bot.adapters.slack.blocks import (
    matching_options,
    message_blocks,
    modal_view,
    needs_search,
    neutral_action,
    submitted_values,
    view_metadata,
)
from bot.delivery import DeliveryFailed, Destination, RateLimited, SentUnreadable
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
        "not_authed",
        "token_revoked",
        "missing_scope",
        "invalid_arguments",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "cannot_dm_bot",
    }
)
"""Refusals that trying again cannot cure."""
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
"""Failures before a request went out (no connection): nothing was sent, trying again is safe."""
_MENTION = re.compile(r"<@[A-Z0-9]+>")
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
AFTER_ACK_GRACE_SECONDS = 10.0  # a stop waits this long for acknowledged commands to finish
AFTER_ACK_AT_ONCE = 4  # acknowledged commands handled at once (the rest wait, costing nothing)
MAX_REQUEST_AGE_SECONDS = 5 * 60  # Slack's guide: refuse older requests (replays)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
EVENT_ID_LIMIT = 128  # processed_event.event_id
# A response_url takes "up to 5 times within 30 minutes" of the command (Slack's slash command
# guide, "Sending delayed responses"); a minute is kept in hand for the clocks' difference.
RESPONSE_URL_POSTS = 5
RESPONSE_URL_LIFETIME = dt.timedelta(minutes=29)
AUTH_CHECK_SECONDS = 15.0
RETRY_REST_AFTER = 30.0  # seconds before the unsent parts of an answer are tried again


@dataclass(frozen=True)
class Where:
    """Where an event came from and how to answer it in Slack."""

    team: str
    channel: str
    user: str
    trigger_id: str | None = None
    response_url: str | None = None
    group: bool | None = None  # None: a DM is private, anything else a group

    @property
    def in_group(self) -> bool:
        """Whether others see this conversation: any channel, a group DM, and a DM between two
        people (only the app's own DM with the person is private)."""
        return self.group if self.group is not None else not self.channel.startswith("D")


@dataclass
class _ResponseUrl:
    expires_at: dt.datetime
    posts: int = 0

    def usable(self, now: dt.datetime) -> bool:
        return self.posts < RESPONSE_URL_POSTS and now < self.expires_at

    def spend(self) -> None:
        self.posts += 1


@dataclass(frozen=True)
class _Part:
    """One thing an answer shows (its message, its image, its file) and how to send it."""

    name: str
    send: Callable[[], Awaitable[str | None]]


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
        # slack_sdk retries a request once when the connection drops, even after the request
        # went out: a message Slack took would be posted twice. Retry only when no connection
        # was made at all.
        self._retries = [AsyncConnectionErrorRetryHandler(error_types=list(NOT_SENT))]
        self.client = AsyncWebClient(token=token, base_url=api_url, retry_handlers=self._retries)
        self._signing_secret = signing_secret.encode()
        self.app = AsyncApp(
            client=self.client, signing_secret=signing_secret, process_before_response=False
        )
        self._people: dict[tuple[str, str], SenderRef] = {}
        self._dms: dict[tuple[str, str], str] = {}  # (team, user) -> the app's DM with them
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._after_ack: set[asyncio.Task[None]] = set()  # commands acknowledged, still handled
        self._after_ack_turns = asyncio.Semaphore(AFTER_ACK_AT_ONCE)
        self.app.command(re.compile(r"^/.+"))(self._on_command)
        self.app.action(re.compile(r".+"))(self._on_action)
        self.app.options(re.compile(r".+"))(self._on_options)
        self.app.view(re.compile(r".+"))(self._on_view)
        self.app.event("app_mention")(self._on_message)
        self.app.event("message")(self._on_message)
        self.app.event("app_home_opened")(self._on_home)

    def mount(self, web_app: web.Application) -> None:
        """Slack's events over HTTP at ``/slack/events`` (not in Socket Mode)."""
        if self._app_token is None:
            web_app.router.add_post(EVENTS_PATH, self.handle_http)

    async def start(self) -> None:
        """Check the bot token (auth.test) and, in Socket Mode, connect; a token Slack refuses
        stops the process with Slack's reason instead of running deaf or retrying for ever."""
        await self._check_token()
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

    async def _check_token(self) -> None:
        """A refusal (invalid_auth, token_revoked, …) is fatal; Slack out of reach or busy is
        not (it may come back: the first request checks the token again)."""
        try:
            answer = await asyncio.wait_for(self.client.auth_test(), AUTH_CHECK_SECONDS)
        except SlackApiError as error:
            data = getattr(error.response, "data", None)
            if _status(error.response) != 429 and isinstance(data, dict) and data.get("error"):
                raise PlatformStartFailed(PLATFORM, str(data["error"])) from None
            log.warning("slack.token_unchecked status=%s", _status(error.response))
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as error:
            log.warning("slack.token_unchecked error=%s", type(error).__name__)
        else:
            log.info("slack.authorized team=%s", answer.get("team_id"))

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        if self._after_ack:  # commands acknowledged at once: let them finish (a grace period)
            await asyncio.wait(set(self._after_ack), timeout=AFTER_ACK_GRACE_SECONDS)

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
        if _slash_command(body):
            # A slash command's ack is an empty 200 (its answer goes to the response_url): give
            # it now, before bolt's middleware runs, so a hundred commands at once are each
            # acknowledged in about a millisecond instead of after bolt's work for all of them.
            task = asyncio.create_task(self._handle_acknowledged(await to_bolt_request(request)))
            self._after_ack.add(task)
            task.add_done_callback(self._after_ack.discard)
            return web.Response(status=200)
        return await to_aiohttp_response(
            await self.app.async_dispatch(await to_bolt_request(request))
        )

    async def _handle_acknowledged(self, request: AsyncBoltRequest) -> None:
        """Bolt's dispatch of a request Slack already has its ack for (bolt's is dropped), a
        few at a time: what waits costs the event loop nothing, so acks are not kept waiting."""
        try:
            async with self._after_ack_turns:
                await self.app.async_dispatch(request)
        except Exception:
            log.exception("slack.command_failed")

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
        team, user = str(command.get("team_id", "")), str(command.get("user_id", ""))
        channel = str(command.get("channel_id", ""))
        where = Where(
            team=team,
            channel=channel,
            user=user,
            trigger_id=command.get("trigger_id"),
            response_url=self._note_response_url(command.get("response_url")),
            group=await self._group(team, user, channel),
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
        team = str(user.get("team_id") or body.get("team", {}).get("id", ""))
        user_id = str(user.get("id", ""))
        where = Where(
            team=team,
            channel=str(channel or user_id),
            user=user_id,
            trigger_id=body.get("trigger_id"),
            response_url=self._note_response_url(body.get("response_url")),
            group=await self._group(team, user_id, str(channel or "")),
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

    async def _on_options(self, args: AsyncArgs) -> None:
        """Slack asks for the options of an external select as the person types: the field's
        choices, kept when the modal opened, that match, in the language the modal was shown
        in. Always acknowledged, with no options when the list is gone."""
        body = args.body
        metadata = view_metadata(body.get("view") or {})
        token = (metadata.get("choices") or {}).get(str(body.get("block_id", "")))
        locale = str(metadata.get("locale") or self._dispatcher.settings.default_locale)
        options: list[dict[str, Any]] = []
        if isinstance(token, str):
            try:
                choices = await self._dispatcher.kept_choices(token)
                typed = str(body.get("value") or "")
                options = matching_options(choices, typed, locale, self._renderer)
            except Exception:
                log.exception("slack.options_failed")
        await args.ack(options=options)

    async def _on_view(self, args: AsyncArgs) -> None:
        await args.ack()
        body, view = args.body, args.view or {}
        user = body.get("user", {})
        metadata = view_metadata(view)
        group = metadata.get("group")
        response_url = metadata.get("response_url")
        where = Where(
            team=str(user.get("team_id") or body.get("team", {}).get("id", "")),
            channel=str(metadata.get("channel") or user.get("id", "")),
            user=str(user.get("id", "")),
            response_url=self._note_response_url(response_url),
            group=group if isinstance(group, bool) else None,
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
        if event.get("channel_type") == "im":  # the app only hears its own DMs
            self._dms[(where.team, where.user)] = where.channel
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
        try:
            await self._call(
                self.client.views_publish,
                user_id=where.user,
                view={"type": "home", "blocks": blocks[:100]},
            )
        except (RateLimited, DeliveryFailed) as failure:
            log.warning("slack.home_failed reason=%s", failure)

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
            log.warning("slack.users_info_failed error=%s", _error_code(error.response))
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as error:
            log.warning("slack.users_info_failed error=%s", type(error).__name__)
        sender = SenderRef(
            PLATFORM, where.user, name or where.user, workspace=where.team, locale=locale
        )
        self._people[(where.team, where.user)] = sender
        return sender

    async def _group(self, team: str, user: str, channel: str) -> bool | None:
        """For a DM: whether it is someone else's (a DM between two people, where a slash
        command works too) rather than the app's own with the person. None for the rest."""
        if not channel.startswith("D"):
            return None
        try:
            return channel != await self._dm(team, user)
        except (RateLimited, DeliveryFailed) as failure:
            log.warning("slack.dm_unknown reason=%s", failure)
            return True  # unsure: answer as in a group, only to the person

    async def _dm(self, team: str, user: str) -> str:
        """The app's DM with ``user``, opened once and remembered (its id does not change)."""
        known = self._dms.get((team, user))
        if known is None:
            answer = await self._call(self.client.conversations_open, users=user)
            known = str((answer.get("channel") or {}).get("id") or "")
            if not known:
                raise DeliveryFailed("conversations.open: no channel", final=False)
            self._dms[(team, user)] = known
        return known

    def _note_response_url(self, url: object) -> str | None:
        """Start counting a response_url's posts from the moment it is first seen."""
        if not isinstance(url, str) or not url:
            return None
        now = self._clock.now()
        for old in [k for k, v in self._response_urls.items() if v.expires_at <= now]:
            del self._response_urls[old]
        self._response_urls.setdefault(url, _ResponseUrl(now + RESPONSE_URL_LIFETIME))
        return url

    # --- to Slack ----------------------------------------------------------------------------

    async def _dispatch(self, event: Event, where: Where) -> None:
        outcome = await self._dispatcher.handle(event)
        for reply in outcome.replies:
            await self._answer(reply, outcome.locale_for(reply), where)

    async def _answer(self, reply: Reply, locale: str, where: Where) -> None:
        """Show a reply to an event where its audience sees it; what Slack will not take now is
        handed to the outbox (only the parts not yet shown), a refusal is logged."""
        if reply.form is not None:
            await self._open_form(reply, locale, where)
            return
        blocks, text = message_blocks(reply, locale, self._renderer)
        parts: list[_Part] = []
        if blocks:
            parts.append(_Part("message", partial(self._show, reply, blocks, text, where)))
        for name, attachment in (("image", reply.image), ("file", reply.file)):
            if attachment is not None:
                send = partial(self._upload_here, reply, attachment, locale, where)
                parts.append(_Part(name, send))

        async def defer(rest: Reply, delay: float) -> None:
            in_channel = rest.to is Audience.CHAT and where.in_group and not where.response_url
            await self._dispatcher.defer(
                rest,
                platform=PLATFORM,
                workspace=where.team,
                chat_id=where.channel if in_channel else where.user,
                locale=locale,
                key=f"slack-deferred:{where.team}:{where.user}:{uuid.uuid4().hex}",
                not_before=self._clock.now() + dt.timedelta(seconds=delay),
            )

        try:
            await self._send_parts(reply, parts, defer)
        except RateLimited as limited:
            await defer(reply, limited.retry_after)
        except DeliveryFailed as failure:
            log.warning("slack.reply_failed reason=%s", failure.reason)
        except SentUnreadable as unread:
            log.warning("slack.reply_unread reason=%s", unread.reason)

    async def _send_parts(
        self,
        reply: Reply,
        parts: list[_Part],
        defer: Callable[[Reply, float], Awaitable[None]],
    ) -> str | None:
        """Send the parts in order; return the first message's id. A failure before anything
        went out is raised (the caller may try the whole again); after that, the parts not yet
        sent are deferred, never the ones out. SentUnreadable when Slack took the answer but its
        reply could not be read and no message id is known."""
        message_id: str | None = None
        unread: str | None = None
        sent: list[str] = []
        for index, part in enumerate(parts):
            try:
                ref = await part.send()
            except SentUnreadable as error:
                unread = unread or error.reason
                sent.append(part.name)
                continue
            except (RateLimited, DeliveryFailed) as error:
                if not sent:
                    raise
                rest = _without(reply, sent)
                names = ",".join(p.name for p in parts[index:])
                if isinstance(error, RateLimited):
                    log.warning("slack.rest_deferred parts=%s retry_after=%s", names, error)
                    await defer(rest, error.retry_after)
                elif not error.final:
                    log.warning("slack.rest_deferred parts=%s reason=%s", names, error.reason)
                    await defer(rest, RETRY_REST_AFTER)
                else:
                    log.warning("slack.rest_failed parts=%s reason=%s", names, error.reason)
                break
            sent.append(part.name)
            message_id = message_id or ref
        if unread is not None and message_id is None:
            raise SentUnreadable(unread)
        return message_id

    async def _show(
        self, reply: Reply, blocks: list[dict[str, Any]], text: str, where: Where
    ) -> str | None:
        """The message of an answer: through the response_url when there is one (commands,
        buttons, forms opened by either), else in the channel; the person's DM when neither
        takes it, so an answer is never lost."""
        if reply.to is Audience.PRIVATE:
            return await self._post(where.user, text, blocks)
        if where.response_url:
            if await self._respond(where.response_url, reply, text, blocks):
                return None
        else:
            try:
                if reply.to is Audience.EPHEMERAL and where.in_group:
                    await self._call(
                        self.client.chat_postEphemeral,
                        shows=True,
                        channel=where.channel,
                        user=where.user,
                        text=text,
                        blocks=blocks,
                    )
                    return None
                return await self._post(where.channel, text, blocks)
            except DeliveryFailed as failure:
                log.info("slack.answer_in_dm reason=%s", failure.reason)
        return await self._post(where.user, text, blocks)

    async def _respond(
        self, url: str, reply: Reply, text: str, blocks: list[dict[str, Any]]
    ) -> bool:
        """Post to a response_url if it has posts left; False when it cannot or will not."""
        budget = self._response_urls.get(url)
        now = self._clock.now()
        if budget is None or not budget.usable(now):
            return False
        budget.spend()
        body: dict[str, Any] = {"text": text, "blocks": blocks}
        if reply.replace_pressed:
            body["replace_original"] = True
        else:
            body["replace_original"] = False
            body["response_type"] = "in_channel" if reply.to is Audience.CHAT else "ephemeral"
        client = AsyncWebhookClient(url, retry_handlers=self._retries)
        try:
            response = await client.send_dict(body)
        except NOT_SENT as error:
            log.info("slack.response_url_unreachable error=%s", type(error).__name__)
            return False
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SentUnreadable(f"response_url: {type(error).__name__}") from None
        if response.status_code != 200:
            log.info("slack.response_url_refused status=%s", response.status_code)
            return False
        return True

    async def _post(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> str | None:
        """chat.postMessage to a channel, or to a user id: the app's DM with them."""
        answer = await self._call(
            self.client.chat_postMessage, shows=True, channel=channel, text=text, blocks=blocks
        )
        return str(answer.get("ts") or "") or None

    async def _open_form(self, reply: Reply, locale: str, where: Where) -> None:
        form = reply.form
        assert form is not None
        if not where.trigger_id:
            # Only slash commands and buttons can open a modal: point the person to the command.
            await self._tell(Text("slack/use_command"), locale, where)
            return
        kept = {
            field.name: await self._dispatcher.keep_choices(field.choices)
            for field in form.fields
            if needs_search(field)
        }
        metadata = {
            "state": form.state,
            "channel": where.channel,
            "group": where.in_group,
            "response_url": where.response_url,
        }
        view = modal_view(form, locale, self._renderer, metadata, kept)
        try:
            await self._call(
                self.client.views_open, shows=True, trigger_id=where.trigger_id, view=view
            )
        except (RateLimited, DeliveryFailed) as failure:
            log.warning("slack.form_failed reason=%s", failure)
            await self._tell(Text("slack/form_failed"), locale, where)
        except SentUnreadable as unread:
            log.warning("slack.form_unread reason=%s", unread.reason)

    async def _tell(self, text: Text, locale: str, where: Where) -> None:
        """A short word to the person alone, wherever they are."""
        to = Audience.EPHEMERAL if where.in_group else Audience.CHAT
        await self._answer(Reply(text=text, to=to), locale, where)

    def pace(self, destination: Destination) -> dt.timedelta:
        """About one message a second per channel: chat.postMessage's "special" rate limit
        (docs.slack.dev/apis/web-api/rate-limits: "1 message per second to a specific channel,
        with short bursts over 1 allowed"). Its workspace-wide limit is not numbered by Slack:
        no overall pace is kept, and a 429 with Retry-After holds the channel."""
        return dt.timedelta(seconds=1)

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        """Deliver an outbox message: to a channel, or to a person (their user id: the message
        goes to the app's DM with them, and so do its files, through conversations.open)."""
        blocks, text = message_blocks(reply, locale, self._renderer)
        parts: list[_Part] = []
        if blocks:
            parts.append(_Part("message", partial(self._post, destination.chat_id, text, blocks)))
        for name, attachment in (("image", reply.image), ("file", reply.file)):
            if attachment is not None:
                send = partial(self._upload_to, destination, attachment, locale)
                parts.append(_Part(name, send))

        async def defer(rest: Reply, delay: float) -> None:
            await self._dispatcher.defer(
                rest,
                platform=PLATFORM,
                workspace=destination.workspace,
                chat_id=destination.chat_id,
                locale=locale,
                key=f"slack-rest:{destination.workspace}:{destination.chat_id}:{uuid.uuid4().hex}",
                not_before=self._clock.now() + dt.timedelta(seconds=delay),
            )

        return await self._send_parts(reply, parts, defer)

    async def _upload_here(
        self, reply: Reply, attachment: Attachment, locale: str, where: Where
    ) -> None:
        """A file answering an event: in the channel when it is for the chat (the person's DM
        if the channel will not take it), else in the person's DM."""
        if reply.to is Audience.CHAT and where.in_group:
            try:
                await self._upload(where.channel, attachment, locale)
                return
            except DeliveryFailed as failure:
                log.info("slack.file_in_dm reason=%s", failure.reason)
        await self._upload(await self._dm(where.team, where.user), attachment, locale)

    async def _upload_to(
        self, destination: Destination, attachment: Attachment, locale: str
    ) -> None:
        channel = destination.chat_id
        if channel[:1] in ("U", "W"):  # a person: files need a conversation, their DM
            channel = await self._dm(destination.workspace, channel)
        await self._upload(channel, attachment, locale)

    async def _upload(self, channel: str, attachment: Attachment, locale: str) -> None:
        """Slack's upload in its three steps: an upload URL, the bytes, then sharing the file
        in ``channel`` (only this last step shows anything)."""
        caption = (
            self._renderer.render(attachment.caption, locale, Target.SLACK)
            if attachment.caption
            else None
        )
        ticket = await self._call(
            self.client.files_getUploadURLExternal,
            filename=attachment.filename,
            length=len(attachment.content),
        )
        await self._send_bytes(str(ticket["upload_url"]), attachment.content)
        await self._call(
            self.client.files_completeUploadExternal,
            shows=True,
            files=[{"id": str(ticket["file_id"]), "title": attachment.filename}],
            channel_id=channel,
            initial_comment=caption,
        )

    async def _send_bytes(self, url: str, content: bytes) -> None:
        timeout = aiohttp.ClientTimeout(total=self.client.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=content) as response,
            ):
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise DeliveryFailed(f"upload: {type(error).__name__}", final=False) from None
        if status != 200:
            raise DeliveryFailed(f"upload: HTTP {status}", final=False)

    async def _call(self, method: Any, *, shows: bool = False, **arguments: Any) -> Any:
        """Call the Web API. A 429 is RateLimited, a refusal DeliveryFailed; for a call that
        ``shows`` something (a post, a share, a modal), an answer that cannot be read after the
        request went out is SentUnreadable: Slack may well have shown it, so never again."""
        try:
            return await method(**arguments)
        except SlackApiError as error:
            raise _failure(error.response, shows) from None
        except NOT_SENT as error:
            raise DeliveryFailed(f"unreachable: {type(error).__name__}", final=False) from None
        # slack_sdk reads a 200 whose body is text, not JSON, as a string and then fails on it
        # with AttributeError: an answer that cannot be read, like a dropped connection.
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as error:
            reason = f"no readable answer: {type(error).__name__}"
            if shows:
                raise SentUnreadable(reason) from None
            raise DeliveryFailed(reason, final=False) from None


def _status(response: Any) -> int:
    """The HTTP status of slack_sdk's response, or of aiohttp's (body not JSON)."""
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(response, "status", 0)
    return int(status or 0)


def _error_code(response: Any) -> str | None:
    data = getattr(response, "data", None)
    return str(data["error"]) if isinstance(data, dict) and data.get("error") else None


def _failure(response: Any, shows: bool) -> Exception:
    """What a failed Web API answer means: wait, refused, or taken but unreadable."""
    status = _status(response)
    if status == 429:
        try:
            retry_after = float(response.headers.get("Retry-After", 1))
        except (TypeError, ValueError):
            retry_after = 1.0
        return RateLimited(retry_after)
    code = _error_code(response)
    if code is not None:
        return DeliveryFailed(code, final=code in FINAL_ERRORS)
    reason = f"unreadable answer: HTTP {status}"
    if shows and status == 200:
        return SentUnreadable(reason)
    return DeliveryFailed(reason, final=False)


def _without(reply: Reply, sent: list[str]) -> Reply:
    """The reply without the parts already sent."""
    changes: dict[str, Any] = {"replace_pressed": False}
    if "message" in sent:
        changes.update(text=None, buttons=(), quiz=None)
    if "image" in sent:
        changes["image"] = None
    if "file" in sent:
        changes["file"] = None
    return dataclasses.replace(reply, **changes)


def _slash_command(body: bytes) -> bool:
    """A slash command's form body (``command=/…``), not an interaction payload."""
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return form.get("command", "").startswith("/") and "payload" not in form


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
