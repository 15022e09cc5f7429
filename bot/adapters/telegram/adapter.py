"""The Telegram adapter: python-telegram-bot updates turned into neutral events, replies into
messages, inline keyboards and quiz polls.

Groups get the drills, notices and summaries; personal answers go to the private chat (with a
short pointer in the group, or a request to press Start first). Telegram has no forms, so the
dispatcher walks a form one field at a time. Long polling by default; a webhook on our HTTP server
when TELEGRAM_WEBHOOK_URL is set, its secret header checked. No feature logic lives here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import time
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Poll,
    Update,
)
from telegram.constants import ChatType, MessageEntityType, ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.warnings import PTBDeprecationWarning

from bot.adapters import PlatformStartFailed
from bot.delivery import DeliveryFailed, Destination, RateLimited
from bot.dispatcher import Dispatcher
from handlers.framework.router import Menu
from kernel import (
    Attachment,
    Audience,
    Button,
    ChatRef,
    Clock,
    Event,
    EventKind,
    Quiz,
    Reply,
    SenderRef,
    Text,
)
from messages import LOCALES, Renderer, Target

log = logging.getLogger(__name__)

PLATFORM = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_LIMIT = 64  # bytes of callback_data
QUIZ_QUESTION_LIMIT = 300
QUIZ_OPTION_LIMIT = 100
QUIZ_EXPLANATION_LIMIT = 200
OVERALL_PER_SECOND = 30


@dataclass(frozen=True)
class Where:
    """Where an update came from and how to answer it."""

    chat_id: int
    user_id: int
    is_group: bool
    typed_command: bool = (
        False  # a command typed in the chat (gets a pointer when answered privately)
    )
    message_id: int | None = None  # the message a pressed button sits on


class TelegramAdapter:
    platform = PLATFORM

    def __init__(
        self,
        dispatcher: Dispatcher,
        renderer: Renderer,
        clock: Clock,
        *,
        token: str,
        api_url: str,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        if webhook_url and not webhook_secret:
            # `uplift run` refuses this with a sentence first; a webhook open to anyone is no mode
            raise ValueError("a Telegram webhook needs its secret (TELEGRAM_WEBHOOK_SECRET)")
        self._dispatcher = dispatcher
        self._renderer = renderer
        self._clock = clock
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        builder = (
            ApplicationBuilder().token(token).base_url(api_url).base_file_url(_file_url(api_url))
        )
        if webhook_url:
            builder = builder.updater(None)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self._overall = Pacer(OVERALL_PER_SECOND)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (getMe), register the commands, then poll or set the webhook; a refused
        token stops the process with Telegram's reason."""
        try:
            await self.application.initialize()
            await self._register_commands()
            await self.application.start()
            if self._webhook_url:
                await self.application.bot.set_webhook(
                    self._webhook_url,
                    secret_token=self._webhook_secret,
                    allowed_updates=Update.ALL_TYPES,
                )
            else:
                assert self.application.updater is not None
                await self.application.updater.start_polling(
                    allowed_updates=Update.ALL_TYPES, poll_interval=0.0
                )
        except TelegramError as error:
            raise PlatformStartFailed(PLATFORM, _reason(error)) from None
        log.info("telegram.started mode=%s", "webhook" if self._webhook_url else "polling")

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def mount(self, web_app: web.Application) -> None:
        """The webhook on our HTTP server (not when long polling)."""
        if self._webhook_url:
            web_app.router.add_post(WEBHOOK_PATH, self.handle_webhook)

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """Telegram's webhook: the secret header must match; the update is queued, then 200."""
        given = request.headers.get(SECRET_HEADER, "")
        if not self._webhook_secret or not hmac.compare_digest(given, self._webhook_secret):
            return web.Response(status=403)
        try:
            data = await request.json()
            if not isinstance(data, dict):
                raise ValueError("an update is a JSON object")
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            log.warning("telegram.webhook_refused status=400 error=%s", type(error).__name__)
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response(status=200)

    async def _register_commands(self) -> None:
        """The command menus, per language and per kind of chat, as the features declare them."""
        for locale in LOCALES:
            for scope, menu in (
                (BotCommandScopeAllPrivateChats(), Menu.PRIVATE),
                (BotCommandScopeAllGroupChats(), Menu.GROUP),
            ):
                commands = [
                    BotCommand(
                        route.name,
                        self._renderer.render(Text(route.menu_template), locale)[:256],
                    )
                    for route in self._dispatcher.router.in_menu(menu)
                ]
                await self.application.bot.set_my_commands(
                    commands, scope=scope, language_code=locale
                )

    # --- from Telegram -------------------------------------------------------------------------

    async def _on_update(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            if update.callback_query is not None:
                await self._on_press(update)
            elif update.poll_answer is not None:
                await self._on_poll_answer(update)
            elif update.message is not None:
                await self._on_message(update, update.message)
        except Exception:
            log.exception("telegram.update_failed update_id=%s", update.update_id)

    async def _on_message(self, update: Update, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot:
            return
        text = message.text or message.caption or ""
        photo = message.photo[-1].file_id if message.photo else None
        where = Where(
            message.chat_id, user.id, message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        )
        command = _command_of(message, self.application.bot.username)
        if command is not None:
            name, args = command
            if name is None:
                return  # a command for another bot in the group
            where = Where(where.chat_id, where.user_id, where.is_group, typed_command=True)
            event = self._event(update, EventKind.COMMAND, where, command=name, args=args)
        else:
            event = self._event(update, EventKind.TEXT, where, text=text, photo_ref=photo)
        await self._dispatch(event, where)

    async def _on_press(self, update: Update) -> None:
        query = update.callback_query
        assert query is not None
        await _quietly(query.answer())  # every callback query is answered, whatever follows
        message = query.message
        chat_id = message.chat.id if message is not None else query.from_user.id
        is_group = message is not None and message.chat.type in (
            ChatType.GROUP,
            ChatType.SUPERGROUP,
        )
        where = Where(
            chat_id,
            query.from_user.id,
            is_group,
            message_id=message.message_id if message else None,
        )
        action, _, value = (query.data or "").partition("|")
        event = self._event(
            update,
            EventKind.ACTION,
            where,
            action=action,
            value=value,
            message_ref=str(where.message_id),
        )
        await self._dispatch(event, where)

    async def _on_poll_answer(self, update: Update) -> None:
        """A quiz answered in a group: the poll's id tells which drill; results go privately."""
        answer = update.poll_answer
        assert answer is not None
        if answer.user is None or not answer.option_ids:
            return  # a retracted vote: the first answer stands
        found = await self._dispatcher.poll(PLATFORM, answer.poll_id)
        if found is None:
            return
        action, ref = found
        where = Where(answer.user.id, answer.user.id, is_group=False)
        event = self._event(
            update, EventKind.ACTION, where, action=action, value=f"{ref}:{answer.option_ids[0]}"
        )
        await self._dispatch(event, where, quiet_when_unreachable=True)

    def _event(self, update: Update, kind: EventKind, where: Where, **fields: Any) -> Event:
        user = update.effective_user
        assert user is not None
        sender = SenderRef(PLATFORM, str(user.id), user.full_name, locale=user.language_code)
        chat = ChatRef(PLATFORM, str(where.chat_id), is_group=where.is_group)
        return Event(
            kind=kind,
            sender=sender,
            chat=chat,
            received_at=self._clock.now(),
            event_id=f"update:{update.update_id}",
            **fields,
        )

    # --- to Telegram ---------------------------------------------------------------------------

    async def _dispatch(
        self, event: Event, where: Where, *, quiet_when_unreachable: bool = False
    ) -> None:
        outcome = await self._dispatcher.handle(event, native_forms=False)
        pointed = False
        for reply in outcome.replies:
            try:
                personal = reply.to is not Audience.CHAT and where.is_group
                if reply.replace_pressed and where.message_id is not None and not personal:
                    await self._edit(where.chat_id, where.message_id, reply, outcome.locale)
                    continue
                target = (
                    where.user_id if personal or reply.to is Audience.PRIVATE else where.chat_id
                )
                await self._send(
                    target, reply, outcome.locale, group=target == where.chat_id and where.is_group
                )
                if personal and where.typed_command and not pointed:
                    pointed = True
                    await self._send(
                        where.chat_id,
                        Reply(text=Text("telegram/answered_privately")),
                        outcome.locale,
                    )
            except DeliveryFailed as failure:
                if failure.reason == "forbidden" and where.is_group and not quiet_when_unreachable:
                    await self._ask_to_start(where.chat_id, outcome.locale)
                else:
                    log.warning("telegram.reply_failed reason=%s", failure.reason)
                return
            except RateLimited as limited:
                await self._dispatcher.defer(
                    reply,
                    platform=PLATFORM,
                    workspace="",
                    chat_id=str(where.user_id if reply.to is not Audience.CHAT else where.chat_id),
                    locale=outcome.locale,
                    key=f"telegram-deferred:{event.event_id}:{outcome.replies.index(reply)}",
                    not_before=self._clock.now() + dt.timedelta(seconds=limited.retry_after),
                )

    async def _ask_to_start(self, chat_id: int, locale: str) -> None:
        """The bot cannot write to someone who never pressed Start: say so, with a link."""
        username = self.application.bot.username
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        self._plain(Text("telegram/button_start"), locale),
                        url=f"https://t.me/{username}?start=hi",
                    )
                ]
            ]
        )
        text = self._renderer.render(Text("telegram/press_start"), locale, Target.TELEGRAM)
        await self._call(
            self.application.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        )

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        """Deliver an outbox message to a group or a person's private chat, at most about 30
        messages a second in all (Telegram's bulk limit)."""
        await self._overall.wait_turn()
        chat_id = int(destination.chat_id)
        return await self._send(chat_id, reply, locale, group=chat_id < 0)

    def pace(self, destination: Destination) -> dt.timedelta:
        """One message a second per chat, and no more than 20 a minute in a group."""
        return dt.timedelta(seconds=3 if destination.chat_id.startswith("-") else 1)

    async def _send(
        self, chat_id: int, reply: Reply, locale: str, *, group: bool = False
    ) -> str | None:
        bot = self.application.bot
        sent: Message | None = None
        if reply.quiz is not None:
            if reply.text is not None:
                await self._send_text(chat_id, reply.text, (), locale)
            sent = await self._send_quiz(chat_id, reply.quiz, locale, group=group)
        elif reply.text is not None or reply.buttons:
            sent = await self._send_text(
                chat_id, reply.text or Text("telegram/choose"), reply.buttons, locale
            )
        caption = None
        for attachment, send in ((reply.image, bot.send_photo), (reply.file, bot.send_document)):
            if attachment is None:
                continue
            caption = self._caption(attachment, locale)
            field = "photo" if send == bot.send_photo else "document"
            sent = await self._call(
                send(
                    chat_id,
                    **{field: attachment.content},
                    filename=attachment.filename,
                    caption=caption,
                    parse_mode=ParseMode.HTML,
                )
            )
        return str(sent.message_id) if sent is not None else None

    async def _send_text(
        self, chat_id: int, text: Text, buttons: tuple[Button, ...], locale: str
    ) -> Message:
        """HTML with every user value escaped, split under 4,096 characters at line ends; the
        buttons go with the last part."""
        parts = split_message(self._renderer.render(text, locale, Target.TELEGRAM))
        sent: Message | None = None
        for index, part in enumerate(parts):
            markup = self._keyboard(buttons, locale) if index == len(parts) - 1 else None
            sent = await self._call(
                self.application.bot.send_message(
                    chat_id, part, parse_mode=ParseMode.HTML, reply_markup=markup
                )
            )
        assert sent is not None
        return sent

    async def _send_quiz(self, chat_id: int, quiz: Quiz, locale: str, *, group: bool) -> Message:
        """A native quiz poll in groups (graded from poll answers); inline buttons elsewhere or
        when the texts are too long for a poll."""
        fits = (
            len(quiz.question) <= QUIZ_QUESTION_LIMIT
            and all(len(option) <= QUIZ_OPTION_LIMIT for option in quiz.options)
            and 2 <= len(quiz.options) <= 10
        )
        if not (group and fits):
            buttons = tuple(
                Button(Text("telegram/option", {"text": o}), quiz.action, f"{quiz.ref}:{i}")
                for i, o in enumerate(quiz.options)
            )
            question = Text("telegram/question", {"text": quiz.question})
            return await self._send_text(chat_id, question, buttons, locale)
        sent = await self._call(
            self.application.bot.send_poll(
                chat_id,
                quiz.question,
                list(quiz.options),
                type=Poll.QUIZ,
                is_anonymous=False,
                correct_option_id=quiz.correct_option,
                explanation=quiz.explanation[:QUIZ_EXPLANATION_LIMIT] or None,
            )
        )
        if sent.poll is not None:
            await self._dispatcher.remember_poll(
                platform=PLATFORM,
                poll_id=sent.poll.id,
                chat_id=str(chat_id),
                action=quiz.action,
                ref=quiz.ref,
            )
        return sent

    async def _edit(self, chat_id: int, message_id: int, reply: Reply, locale: str) -> None:
        """A pressed button's message is edited in place, so the chat is not flooded."""
        if reply.text is None:
            return
        text = split_message(self._renderer.render(reply.text, locale, Target.TELEGRAM))[0]
        try:
            await self._call(
                self.application.bot.edit_message_text(
                    text,
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=self._keyboard(reply.buttons, locale),
                )
            )
        except DeliveryFailed:
            await self._send_text(chat_id, reply.text, reply.buttons, locale)

    def _keyboard(self, buttons: tuple[Button, ...], locale: str) -> InlineKeyboardMarkup | None:
        if not buttons:
            return None
        keys = []
        for button in buttons:
            data = f"{button.action}|{button.value}"
            if len(data.encode()) > CALLBACK_LIMIT:
                log.error("telegram.callback_too_long action=%s", button.action)
                continue
            keys.append(InlineKeyboardButton(self._plain(button.label, locale), callback_data=data))
        per_row = 1 if any(len(k.text) > 16 for k in keys) else 3
        return InlineKeyboardMarkup([keys[i : i + per_row] for i in range(0, len(keys), per_row)])

    def _plain(self, text: Text, locale: str) -> str:
        return self._renderer.render(text, locale, Target.PLAIN)[:64] or " "

    def _caption(self, attachment: Attachment, locale: str) -> str | None:
        if attachment.caption is None:
            return None
        return self._renderer.render(attachment.caption, locale, Target.TELEGRAM)[:CAPTION_LIMIT]

    async def _call(self, request: Any) -> Any:
        """Await a Bot API call; flood control becomes RateLimited, a refusal DeliveryFailed."""
        try:
            return await request
        except RetryAfter as error:
            with (
                warnings.catch_warnings()
            ):  # PTB warns that this becomes a timedelta: both are read
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                wait = error.retry_after
            seconds = wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)
            raise RateLimited(seconds) from None
        except Forbidden:
            raise DeliveryFailed("forbidden", final=True) from None
        except BadRequest as error:
            raise DeliveryFailed(f"bad request: {error.message}", final=True) from None
        except (NetworkError, TelegramError) as error:
            raise DeliveryFailed(f"telegram: {error}", final=False) from None


class Pacer:
    """At most ``per_second`` turns in any second, in real time (the platform's clock)."""

    def __init__(self, per_second: int) -> None:
        self._per_second = per_second
        self._recent: deque[float] = deque()

    async def wait_turn(self) -> None:
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self._per_second:
            await asyncio.sleep(1.0 - (now - self._recent[0]))
            self._recent.popleft()
        self._recent.append(time.monotonic())


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split at line ends so every part stays under Telegram's limit (a line longer than the
    limit is cut, never dropped)."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = ""
        current += line
    if current.strip() or not parts:
        parts.append(current or " ")
    return [part.rstrip("\n") or " " for part in parts]


def _command_of(message: Message, bot_username: str | None) -> tuple[str | None, str] | None:
    """("score", args) for "/score args" or "/score@uplift_bot args"; (None, "") for a command
    addressed to another bot; None when the message is no command."""
    text = message.text or ""
    entity = next(
        (e for e in message.entities if e.type == MessageEntityType.BOT_COMMAND and e.offset == 0),
        None,
    )
    if entity is None:
        return None
    name, _, to_bot = text[1 : entity.length].partition("@")
    if to_bot and bot_username and to_bot.casefold() != bot_username.casefold():
        return None, ""
    return name.casefold(), text[entity.length :].strip()


def _reason(error: TelegramError) -> str:
    """Why Telegram refused us, without the token: python-telegram-bot puts the whole token in
    the message of a refused one ("The token `…` was rejected by the server."), so a refused
    token is told by Telegram's own answer (Unauthorized, or Not Found for a malformed one)."""
    if isinstance(error, InvalidToken):
        cause = error.__cause__
        return cause.message if isinstance(cause, TelegramError) else "Unauthorized"
    return error.message


def _file_url(api_url: str) -> str:
    """python-telegram-bot's file URL beside its API URL: …/bot → …/file/bot."""
    return api_url[: -len("/bot")] + "/file/bot" if api_url.endswith("/bot") else api_url


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except TelegramError as error:
        log.info("telegram.callback_answer_failed %s", error)
