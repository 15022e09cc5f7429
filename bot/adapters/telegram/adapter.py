"""The Telegram adapter: python-telegram-bot updates turned into neutral events, replies into
messages, inline keyboards and quiz polls.

Groups get the drills, notices and summaries; personal answers go to the private chat (with one
coalesced pointer in the group, or a request to press Start first). Telegram has no forms, so the
dispatcher walks a form one field at a time. Long polling by default; a webhook on our HTTP server
when TELEGRAM_WEBHOOK_URL is set, its secret header checked. No feature logic lives here.

Telegram's limits are kept here (``limits.py``): every send and edit takes a turn first, a 429
bans its chat (or the bot) until its retry_after ends, and a reply that cannot go now is handed
to the outbox, never dropped and never sent into a ban. A reply sent in parts (a split text, an
intro before a poll, files) that stops half way is resumed where it stopped, never repeated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
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
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest

from bot.adapters import PlatformStartFailed, letter
from bot.adapters.telegram.formatting import CAPTION_LIMIT, shortened, split_message, units
from bot.adapters.telegram.limits import OVERALL_PER_SECOND, Limits, chat_pace
from bot.adapters.telegram.notices import GATHER, WINDOW, GroupNotices, Notice
from bot.adapters.telegram.poll_limits import (
    EXPLANATION_LIMIT,
    EXPLANATION_LINE_FEEDS,
    QUESTION_LIMIT,
    why_not_a_poll,
)
from bot.delivery import DeliveryFailed, Destination, RateLimited, SentUnreadable
from bot.dispatcher import Dispatcher
from handlers.framework.router import Menu
from handlers.shared.names import some_names
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

# python-telegram-bot 22 reads RetryAfter.retry_after as a timedelta when this is set and warns
# otherwise (the int form is deprecated); _seconds() reads both, in case it is set to false.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)

PLATFORM = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MENU_DEFAULT_LOCALE = "en"  # the command list for clients in any other language
# Bot API (core.telegram.org/bots/api), InlineKeyboardButton: callback_data of 1-64 bytes. What
# a quiz poll takes (sendPoll) is in poll_limits.py, which `uplift campaign validate` reads too.
CALLBACK_LIMIT = 64
# 100 buttons on a keyboard, 8 in a row: undocumented by Telegram, recorded by PTB 22
# (telegram.constants.InlineKeyboardMarkupLimit). Handlers send at most kernel.MAX_BUTTONS.
KEYBOARD_LIMIT = 100
# Ours: a label longer than this is shortened with an ellipsis; a quiz whose options are longer
# than OPTION_ON_BUTTON lists them in the message and puts A, B, C… on the buttons.
BUTTON_LABEL_LIMIT = 64
OPTION_ON_BUTTON = 40
# A reply waits this long at most for its chat's pace; longer, it goes to the outbox.
PATIENCE = 2.0
REST = "telegram/rest"  # wraps a reply whose first parts went out already (see _rest)


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
    name: str = ""  # the person's name, for a group notice


@dataclass(frozen=True)
class _Step:
    """One API call of a reply: a message part, a poll, a file; ``after`` runs once it is sent."""

    call: Callable[[], Awaitable[Message]]
    after: Callable[[Message], Awaitable[None]] | None = None


class _TooManyButtons(Exception):
    pass


@dataclass
class _Answer:
    accepted: bool = False  # Telegram answered 2xx: whatever follows, the message went out

    def accept(self) -> None:
        self.accepted = True


_ANSWER: ContextVar[_Answer | None] = ContextVar("telegram_answer", default=None)


class _Request(HTTPXRequest):
    """PTB's HTTP client, noting a 2xx answer: an answer that then cannot be read means "sent,
    answer unreadable", not "not sent". An unreadable body is not logged (it may hold a text)."""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        answer = _ANSWER.get()
        if answer is not None and 200 <= code <= 299:
            answer.accept()
        return code, payload

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        try:
            return json.loads(payload.decode("utf-8", "replace"))  # type: ignore[no-any-return]
        except ValueError:
            raise TelegramError("Invalid server response") from None


class TelegramAdapter:
    platform = PLATFORM
    per_second = float(OVERALL_PER_SECOND)  # the sender's overall pace (limits.py)

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
        sleep: Callable[[float], Awaitable[None]] | None = None,
        notice_gather: float = GATHER,
        notice_window: float = WINDOW,
    ) -> None:
        """``sleep`` waits out Telegram's pacing (``asyncio.sleep``; tests move their clock);
        ``notice_gather`` and ``notice_window`` time the group notices (real seconds)."""
        if webhook_url and not webhook_secret:
            # `uplift run` refuses this with a sentence first; a webhook open to anyone is no mode
            raise ValueError("a Telegram webhook needs its secret (TELEGRAM_WEBHOOK_SECRET)")
        self._dispatcher = dispatcher
        self._renderer = renderer
        self._clock = clock
        self._webhook_url = webhook_url
        self._webhook_secret = webhook_secret
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(api_url)
            .base_file_url(_file_url(api_url))
            .request(_Request(connection_pool_size=256))
        )
        if webhook_url:
            builder = builder.updater(None)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.limits = Limits(clock, sleep or asyncio.sleep)
        self._notices = GroupNotices(self._send_notice, gather=notice_gather, window=notice_window)

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
        await self._notices.close()
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
        """The command menus as the features declare them, per kind of chat: one list per
        language, and a default list (no language code, in English) for every other client."""
        for language in (*LOCALES, None):
            locale = language or MENU_DEFAULT_LOCALE
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
                    commands, scope=scope, language_code=language
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
            message.chat_id,
            user.id,
            message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP),
            name=user.full_name,
        )
        command = _command_of(message, self.application.bot.username)
        if command is not None:
            name, args = command
            if name is None:
                return  # a command for another bot in the group
            where = dataclasses.replace(where, typed_command=True)
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
            name=query.from_user.full_name,
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
        where = Where(answer.user.id, answer.user.id, is_group=False, name=answer.user.full_name)
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

    # --- answering an update -------------------------------------------------------------------

    async def _dispatch(
        self, event: Event, where: Where, *, quiet_when_unreachable: bool = False
    ) -> None:
        """Send the replies in order. One that cannot go now (its chat banned after a 429, or
        paced for longer than PATIENCE) goes to the outbox, from where it left off."""
        outcome = await self._dispatcher.handle(event, native_forms=False)
        for index, reply in enumerate(outcome.replies):
            personal = reply.to is not Audience.CHAT and where.is_group
            target = where.user_id if personal or reply.to is Audience.PRIVATE else where.chat_id
            locale = outcome.locale_for(reply)  # the group's own language for the whole group
            try:
                if reply.replace_pressed and where.message_id is not None and not personal:
                    await self._edit(where.chat_id, where.message_id, reply, locale)
                else:
                    group = target == where.chat_id and where.is_group
                    await self._deliver(target, reply, locale, group=group)
            except RateLimited as limited:
                await self._defer(
                    limited.rest or reply,
                    target,
                    locale,
                    key=f"telegram-deferred:{event.event_id}:{index}",
                    seconds=limited.retry_after,
                )
            except SentUnreadable as unread:
                log.warning("telegram.reply_sent_unreadable reason=%s", unread.reason)
            except DeliveryFailed as failure:
                if failure.reason == "forbidden" and personal and not quiet_when_unreachable:
                    self._notices.must_start(where.chat_id, where.name, outcome.locale)
                else:
                    log.warning("telegram.reply_failed reason=%s", failure.reason)
                return
            if personal and where.typed_command:
                self._notices.answered(where.chat_id, where.name, outcome.locale)

    async def _defer(
        self, reply: Reply, chat_id: int, locale: str, *, key: str, seconds: float
    ) -> None:
        """A reply the chat cannot take now: to the outbox, due when the ban or pace ends."""
        await self._dispatcher.defer(
            reply,
            platform=PLATFORM,
            workspace="",
            chat_id=str(chat_id),
            locale=locale,
            key=key,
            not_before=self._clock.now() + dt.timedelta(seconds=seconds),
        )
        log.info("telegram.reply_deferred chat=%s seconds=%.1f", chat_id, seconds)

    async def _send_notice(self, chat_id: int, notice: Notice) -> None:
        """One group notice naming everyone it answers; it waits out any ban on the group."""
        texts = []
        if notice.answered:
            names = some_names(notice.answered)  # a busy group: ten named, the rest counted
            texts.append(Text("telegram/answered_privately", {"names": names}))
        if notice.must_start:
            names = some_names(notice.must_start)
            texts.append(Text("telegram/press_start", {"names": names}))
        body = "\n\n".join(self._html(text, notice.locale) for text in texts)
        markup = None
        if notice.must_start:
            label = self._label(Text("telegram/button_start"), notice.locale)
            url = f"https://t.me/{self.application.bot.username}?start=hi"
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, url=url)]])
        parts = split_message(body)
        for index, part in enumerate(parts):
            keyboard = markup if index == len(parts) - 1 else None
            for _attempt in range(3):  # a new 429 while sending: wait it out, then again
                try:
                    await self._call(
                        chat_id,
                        lambda part=part, keyboard=keyboard: self.application.bot.send_message(
                            chat_id, part, parse_mode=ParseMode.HTML, reply_markup=keyboard
                        ),
                        through_bans=True,
                    )
                    break
                except RateLimited:
                    continue
                except SentUnreadable:
                    break

    # --- to Telegram ---------------------------------------------------------------------------

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        """Deliver an outbox message to a group or a person's private chat, within Telegram's
        limits (the sender asks ``free_at`` first)."""
        chat_id = int(destination.chat_id)
        return await self._deliver(chat_id, reply, locale, group=chat_id < 0)

    def pace(self, destination: Destination) -> dt.timedelta:
        """About one message a second per chat, and no more than 20 a minute in a group
        (limits.py says where each number comes from)."""
        return chat_pace(int(destination.chat_id))

    def cost(self, destination: Destination, reply: Reply, locale: str) -> int:
        """The HTTP messages a push takes, each counted by Telegram (an intro and a poll: two;
        a drill whose intro folds into the poll's question: one)."""
        chat_id = int(destination.chat_id)
        skip, reply = _unwrap(reply)
        return max(1, len(self._steps(chat_id, reply, locale, group=chat_id < 0)) - skip)

    def free_at(self, destination: Destination) -> dt.datetime | None:
        """When the chat takes a new message: after any 429's ban and within its pace."""
        return self.limits.free_at(int(destination.chat_id))

    async def _deliver(self, chat_id: int, reply: Reply, locale: str, *, group: bool) -> str | None:
        """Send a reply's parts in order; return the last message's id. Stopped half way, the
        exception carries what is left (``rest``), so a part never goes out twice."""
        skip, reply = _unwrap(reply)
        steps = self._steps(chat_id, reply, locale, group=group)
        done, last, unread = skip, None, None
        for step in steps[skip:]:
            try:
                sent = await self._call(chat_id, step.call)
            except SentUnreadable as error:
                unread, done = error, done + 1
                continue
            except (RateLimited, DeliveryFailed) as error:
                if done > skip:
                    error.leaving(_rest(reply, done))
                raise
            done += 1
            last = sent
            if step.after is not None:
                try:
                    await step.after(sent)
                except Exception:  # the message is out: never send it again for this
                    log.exception("telegram.after_send_failed chat=%s", chat_id)
        if unread is not None:
            raise SentUnreadable(unread.reason)
        return str(last.message_id) if last is not None else None

    def _steps(self, chat_id: int, reply: Reply, locale: str, *, group: bool) -> list[_Step]:
        """The API calls a reply takes, always the same for the same reply and chat."""
        steps: list[_Step] = []
        if reply.quiz is not None:
            steps += self._quiz_steps(chat_id, reply, locale, group=group)
        elif reply.text is not None or reply.buttons:
            text = reply.text or Text("telegram/choose")
            steps += self._text_steps(chat_id, text, reply.buttons, locale)
        bot = self.application.bot
        for attachment, send, field in (
            (reply.image, bot.send_photo, "photo"),
            (reply.file, bot.send_document, "document"),
        ):
            if attachment is None:
                continue
            caption = self._caption(attachment, locale)
            steps.append(
                _Step(
                    lambda send=send, field=field, attachment=attachment, caption=caption: send(
                        chat_id,
                        **{field: attachment.content},
                        filename=attachment.filename,
                        caption=caption,
                        parse_mode=ParseMode.HTML,
                    )
                )
            )
        return steps

    def _text_steps(
        self, chat_id: int, text: Text, buttons: tuple[Button, ...], locale: str
    ) -> list[_Step]:
        """HTML with every user value escaped, split under 4,096 characters on whole lines,
        escapes and tags; the keyboard goes with the last part."""
        buttons, listed = self._lettered(buttons, locale)
        if listed:
            text = Text("telegram/with_labels", {"text": text, "labels": listed})
        html = self._html(text, locale)
        markup = None
        try:
            markup = self._keyboard(buttons, locale)
        except _TooManyButtons:
            html += "\n\n" + self._html(Text("telegram/too_many_buttons"), locale)
        parts = split_message(html)
        keyboards = [None] * (len(parts) - 1) + [markup]
        return [
            _Step(
                lambda part=part, keyboard=keyboard: self.application.bot.send_message(
                    chat_id, part, parse_mode=ParseMode.HTML, reply_markup=keyboard
                )
            )
            for part, keyboard in zip(parts, keyboards, strict=True)
        ]

    def _quiz_steps(self, chat_id: int, reply: Reply, locale: str, *, group: bool) -> list[_Step]:
        """A native quiz poll in a group, its intro folded into the question when it fits (one
        message); elsewhere, or when a text is too long for a poll, one message with buttons. An
        option too long for a button is listed in full in the message, and its button is a
        letter: A, B, C…"""
        quiz = reply.quiz
        assert quiz is not None
        if group and _poll_fits(quiz):
            steps: list[_Step] = []
            question = quiz.question
            if reply.text is not None:
                intro = self._renderer.render(reply.text, locale, Target.PLAIN)
                folded = f"{intro}\n\n{question}"
                if units(folded) <= QUESTION_LIMIT:
                    question = folded
                else:
                    steps += self._text_steps(chat_id, reply.text, (), locale)
            steps.append(self._poll_step(chat_id, quiz, question))
            if reply.buttons:
                steps += self._text_steps(chat_id, Text("telegram/choose"), reply.buttons, locale)
            return steps
        lettered = any(units(option) > OPTION_ON_BUTTON for option in quiz.options)
        listed = [{"letter": letter(i), "text": option} for i, option in enumerate(quiz.options)]
        body = Text(
            "telegram/quiz",
            {"intro": reply.text, "question": quiz.question, "options": listed if lettered else []},
        )
        buttons = tuple(
            Button(
                Text("telegram/option", {"text": letter(i) if lettered else option}),
                quiz.action,
                f"{quiz.ref}:{i}",
            )
            for i, option in enumerate(quiz.options)
        )
        return self._text_steps(chat_id, body, buttons + reply.buttons, locale)

    def _poll_step(self, chat_id: int, quiz: Quiz, question: str) -> _Step:
        async def remember(sent: Message) -> None:
            if sent.poll is None:
                return
            await self._dispatcher.remember_poll(
                platform=PLATFORM,
                poll_id=sent.poll.id,
                chat_id=str(chat_id),
                action=quiz.action,
                ref=quiz.ref,
            )

        return _Step(
            lambda: self.application.bot.send_poll(
                chat_id,
                question,
                list(quiz.options),
                type=Poll.QUIZ,
                is_anonymous=False,
                correct_option_ids=[quiz.correct_option],
                explanation=_explanation(quiz.explanation) or None,
            ),
            after=remember,
        )

    async def _edit(self, chat_id: int, message_id: int, reply: Reply, locale: str) -> None:
        """A pressed button's message is edited in place, so the chat is not flooded."""
        if reply.text is None:
            return
        html = self._html(reply.text, locale)
        markup = None
        try:
            markup = self._keyboard(reply.buttons, locale)
        except _TooManyButtons:
            html += "\n\n" + self._html(Text("telegram/too_many_buttons"), locale)
        try:
            await self._call(
                chat_id,
                lambda: self.application.bot.edit_message_text(
                    split_message(html)[0],
                    chat_id=chat_id,
                    message_id=message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                ),
                new_message=False,
            )
        except DeliveryFailed as failure:
            if "message is not modified" in failure.reason:
                return  # pressed twice: it already says so
            fresh = dataclasses.replace(reply, replace_pressed=False)
            await self._deliver(chat_id, fresh, locale, group=chat_id < 0)

    def _keyboard(self, buttons: tuple[Button, ...], locale: str) -> InlineKeyboardMarkup | None:
        """The inline keyboard; more buttons than Telegram takes is a handler's bug: refused
        (logged), never cut to a keyboard that hides choices."""
        if not buttons:
            return None
        if len(buttons) > KEYBOARD_LIMIT:
            log.error(
                "telegram.too_many_buttons count=%s limit=%s action=%s",
                len(buttons),
                KEYBOARD_LIMIT,
                buttons[0].action,
            )
            raise _TooManyButtons
        keys = []
        for button in buttons:
            data = f"{button.action}|{button.value}"
            if len(data.encode()) > CALLBACK_LIMIT:
                log.error("telegram.callback_too_long action=%s", button.action)
                continue
            keys.append(InlineKeyboardButton(self._label(button.label, locale), callback_data=data))
        if not keys:
            return None
        longest = max(len(k.text) for k in keys)
        per_row = 5 if longest <= 3 else 3 if longest <= 16 else 1
        return InlineKeyboardMarkup([keys[i : i + per_row] for i in range(0, len(keys), per_row)])

    def _lettered(
        self, buttons: tuple[Button, ...], locale: str
    ) -> tuple[tuple[Button, ...], list[dict[str, str]]]:
        """A label too long for a button (a long form choice) would be cut and could not be read
        whole: it is listed in full in the message, and its button starts with its letter."""
        listed: list[dict[str, str]] = []
        lettered: list[Button] = []
        for button in buttons:
            plain = self._renderer.render(button.label, locale, Target.PLAIN)
            if units(plain) <= BUTTON_LABEL_LIMIT:
                lettered.append(button)
                continue
            mark = letter(len(listed))
            listed.append({"letter": mark, "text": plain})
            label = Text("telegram/option", {"text": f"{mark}. {plain}"})
            lettered.append(dataclasses.replace(button, label=label))
        return tuple(lettered), listed

    def _html(self, text: Text, locale: str) -> str:
        return self._renderer.render(text, locale, Target.TELEGRAM)

    def _label(self, text: Text, locale: str) -> str:
        plain = self._renderer.render(text, locale, Target.PLAIN)
        return shortened(plain, BUTTON_LABEL_LIMIT) or " "

    def _caption(self, attachment: Attachment, locale: str) -> str | None:
        if attachment.caption is None:
            return None
        return split_message(self._html(attachment.caption, locale), CAPTION_LIMIT)[0]

    async def _call(
        self,
        chat_id: int,
        request: Callable[[], Awaitable[Any]],
        *,
        new_message: bool = True,
        through_bans: bool = False,
    ) -> Any:
        """One API call that sends or edits a message in ``chat_id``, after its turn (see
        Limits.turn). Flood control becomes RateLimited (the chat, or the bot, banned as long);
        a refusal DeliveryFailed; a 2xx answer that cannot be read SentUnreadable."""
        await self.limits.turn(
            chat_id, new_message=new_message, patience=PATIENCE, through_bans=through_bans
        )
        answer = _Answer()
        token = _ANSWER.set(answer)
        try:
            return await request()
        except RetryAfter as error:
            seconds = _seconds(error)
            bot_wide = self.limits.limited(chat_id, seconds)
            log.warning(
                "telegram.rate_limited chat=%s retry_after=%s bot_wide=%s",
                chat_id,
                seconds,
                bot_wide,
            )
            raise RateLimited(seconds, whole_platform=bot_wide) from None
        except Forbidden:
            raise DeliveryFailed("forbidden", final=True) from None
        except BadRequest as error:
            raise DeliveryFailed(f"bad request: {error.message}", final=True) from None
        except TimedOut as error:
            if isinstance(error.__cause__, httpx.ReadTimeout):
                # The request went out whole; no answer came back. Telegram took it, as a rule.
                raise SentUnreadable("timed out waiting for the answer") from None
            raise DeliveryFailed(f"telegram: {error}", final=False) from None
        except TelegramError as error:
            if answer.accepted:
                raise SentUnreadable(f"unreadable answer: {error.message}") from None
            raise DeliveryFailed(f"telegram: {error}", final=False) from None
        except Exception as error:
            if answer.accepted:  # valid JSON, but not the message PTB expected
                raise SentUnreadable(f"unreadable answer: {type(error).__name__}") from None
            raise
        finally:
            _ANSWER.reset(token)


def _poll_fits(quiz: Quiz) -> bool:
    """Whether a quiz poll takes these texts as they are (the explanation is shortened): the
    rules `uplift campaign validate` warns by."""
    misfits = why_not_a_poll(quiz.question, quiz.options, "")
    return not misfits and 0 <= quiz.correct_option < len(quiz.options)


def _explanation(text: str) -> str:
    """A poll's explanation: at most two line feeds (later ones become spaces) and 200
    characters (cut with an ellipsis; the answer's private message carries all of it)."""
    lines = text.strip().split("\n")
    kept = EXPLANATION_LINE_FEEDS + 1
    text = "\n".join([*lines[: kept - 1], " ".join(lines[kept - 1 :])]) if lines else ""
    return shortened(text, EXPLANATION_LIMIT)


def _rest(reply: Reply, done: int) -> Reply:
    """The reply whose first ``done`` parts went out: the same reply, marked to skip them. It
    goes through the outbox as JSON, and the same reply always makes the same parts."""
    data: dict[str, Any] = {"skip": done}
    if reply.text is not None:
        data["text"] = reply.text
    return dataclasses.replace(reply, text=Text(REST, data))


def _unwrap(reply: Reply) -> tuple[int, Reply]:
    """(parts already sent, the reply itself) of a reply made by ``_rest``."""
    if reply.text is None or reply.text.template != REST:
        return 0, reply
    data = reply.text.data
    return int(data["skip"]), dataclasses.replace(reply, text=data.get("text"))


def _seconds(error: RetryAfter) -> float:
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


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
