"""The dispatcher: one neutral event in, one transaction, the replies out.

Every adapter calls ``Dispatcher.handle``. It strips control characters from what people typed,
drops repeated platform events, finds the member, picks the language, routes, checks the role,
runs the handler inside one transaction and turns messages for other people into outbox rows in
that same transaction, so nothing is sent for work that was rolled back and nothing is lost for
work that was kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bot.metrics import Metrics
from handlers.framework.context import Context
from handlers.framework.forms import (
    cancels_a_form,
    check_field,
    put_aside,
    start_form,
    tell_put_aside,
)
from handlers.framework.router import Route, Router
from handlers.shared.locale import normalise_locale, pick_locale
from handlers.shared.outbox import queue_private
from kernel import (
    MAX_COMMAND_ARGS,
    MAX_TEXT,
    Audience,
    Choice,
    Clock,
    Event,
    EventKind,
    Form,
    Refusal,
    Reply,
    Role,
    Text,
)
from storage.database import Database, is_contention
from storage.models import Member
from storage.store import Store

log = logging.getLogger(__name__)

# How many times an event's unit of work is run when PostgreSQL undoes it for colliding with
# another (a deadlock, a serialization failure); the last failure is reported as any other.
CONTENTION_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome:
    """The replies to show in the conversation, and the languages to render them in: the
    person's, and for a bound group chat the chat's, for what is answered to the whole chat."""

    replies: list[Reply]
    locale: str
    chat_locale: str | None = None

    def locale_for(self, reply: Reply) -> str:
        """The language ``reply`` is shown in where the event happened."""
        if self.chat_locale is not None and reply.to is Audience.CHAT:
            return self.chat_locale
        return self.locale


@dataclass(frozen=True)
class DispatcherSettings:
    default_locale: str = "zh"
    # Events handled at once (None: no limit). Handling is mostly Python, on one event loop: a
    # hundred at once do not finish sooner than a few at a time, but they starve the loop, and a
    # Slack request waiting behind them is acknowledged late (Slack allows 3 seconds).
    events_at_once: int | None = None


class Dispatcher:
    def __init__(
        self,
        database: Database,
        router: Router,
        clock: Clock,
        settings: DispatcherSettings,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.database = database
        self.router = router
        self.clock = clock
        self.settings = settings
        self.metrics = metrics
        self._on_queued: Callable[[], None] = _nothing
        at_once = settings.events_at_once
        self._turns = asyncio.Semaphore(at_once) if at_once else contextlib.nullcontext()

    def when_queued(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` after each event's transaction commits and after a deferral, as either
        may have queued messages: the process points it at its sender's ``wake``."""
        self._on_queued = wake

    async def handle(self, event: Event, *, native_forms: bool = True) -> Outcome:
        """Handle one event; never raises for a person's input or a handler's failure.

        An adapter whose platform has no forms (Telegram) passes ``native_forms=False``: a form
        is then asked one field at a time, its progress kept in the database."""
        if self.metrics is None:
            return await self._handled(event, native_forms)
        started = time.perf_counter()
        try:
            return await self._handled(event, native_forms)
        finally:
            kind = event.kind.value
            self.metrics.events.labels(event.sender.platform, kind).inc()
            self.metrics.handler_seconds.labels(kind).observe(time.perf_counter() - started)

    async def _handled(self, event: Event, native_forms: bool) -> Outcome:
        async with self._turns:
            outcome = await self._handle(event, native_forms)
        self._on_queued()  # cheap: the sender looks once for however many events woke it
        return outcome

    async def _handle(self, event: Event, native_forms: bool) -> Outcome:
        event = clean_event(event)
        locale = pick_locale(event.sender.locale, fallback=self.settings.default_locale)
        try:
            for attempt in range(1, CONTENTION_ATTEMPTS + 1):
                try:
                    async with self.database.store() as store:
                        if event.event_id and not await store.events.first_time(
                            event.sender.platform, event.event_id, self.clock.now()
                        ):
                            log.info(
                                "event.repeat platform=%s id=%s",
                                event.sender.platform,
                                event.event_id,
                            )
                            return Outcome([], locale)
                        context = await self._context(store, event)
                        locale = context.locale
                        left_a_form = await self._dispatch(context)
                        if not native_forms:
                            await _forms_as_conversations(context)
                        if left_a_form:
                            await tell_put_aside(context)
                        locale = context.locale  # a handler may have changed it (/lang)
                        here = await self._deliver_others(store, context)
                        return Outcome(here, locale, context.chat_locale)
                except Exception as error:
                    if attempt == CONTENTION_ATTEMPTS or not is_contention(error):
                        raise
                    # PostgreSQL undid the whole unit of work (two awards took the same totals
                    # rows in opposite orders, say): run the event again from the start.
                    log.warning("event.contention attempt=%s kind=%s", attempt, event.kind)
            raise AssertionError("unreachable: the last attempt returns or raises")
        except Refusal as refusal:
            return Outcome([_personal(event, Text(refusal.template, refusal.data))], locale)
        except Exception as error:
            log.exception(
                "event.failed kind=%s command=%s action=%s", event.kind, event.command, event.action
            )
            if self.metrics is not None:
                self.metrics.failures.labels("event", type(error).__name__).inc()
            return Outcome([_personal(event, Text("errors/internal"))], locale)

    def field_problem(self, form: Form, name: str, value: str) -> Text | None:
        """What is wrong with one value typed into a form the platform fills itself (the
        console), checked as it is typed by the form's own rules; None when it is fine."""
        field = next((f for f in form.fields if f.name == name), None)
        if field is None:
            return None
        try:
            check_field(self.router, form, field, value)
        except Refusal as refusal:
            return Text(refusal.template, refusal.data)
        return None

    async def defer(
        self,
        reply: Reply,
        *,
        platform: str,
        workspace: str,
        chat_id: str,
        locale: str,
        key: str,
        not_before: dt.datetime,
    ) -> None:
        """Hand a reply the platform would not take now (rate limited) to the outbox, so the
        sender delivers it later instead of it being dropped."""
        async with self.database.store() as store:
            await store.outbox.enqueue(
                key=key,
                platform=platform,
                workspace=workspace,
                chat_id=chat_id,
                reply=reply.to_json(),
                locale=locale,
                due_at=not_before,
                now=self.clock.now(),
            )
        self._on_queued()

    async def remember_poll(
        self, *, platform: str, poll_id: str, chat_id: str, action: str, ref: str
    ) -> None:
        """A quiz sent as a native poll: keep what its answers mean (they carry only its id)."""
        async with self.database.store() as store:
            await store.polls.remember(
                platform=platform,
                poll_id=poll_id,
                chat_id=chat_id,
                action=action,
                ref=ref,
                now=self.clock.now(),
            )

    async def poll(self, platform: str, poll_id: str) -> tuple[str, str] | None:
        """The (action, ref) a poll answer stands for, or None for a poll we did not send."""
        async with self.database.reading() as store:
            found = await store.polls.find(platform, poll_id)
        return None if found is None else (found.action, found.ref)

    async def keep_choices(self, choices: tuple[Choice, ...]) -> str:
        """Keep a long form field's choices for the platform to search as a person types; the
        token finds them again (Slack's external select)."""
        async with self.database.store() as store:
            return await store.choice_lists.keep(
                [choice.to_json() for choice in choices], self.clock.now()
            )

    async def kept_choices(self, token: str) -> tuple[Choice, ...]:
        """The choices kept under ``token`` (none once they are forgotten)."""
        async with self.database.reading() as store:
            found = await store.choice_lists.find(token)
        return tuple(Choice.from_json(item) for item in found or ())

    async def _context(self, store: Store, event: Event) -> Context:
        found = await store.members.by_identity(
            event.sender.platform, event.sender.workspace, event.sender.user_id
        )
        member, identity = found if found else (None, None)
        unit = None
        if member is not None and member.unit_id is not None:
            unit = await store.units.get(member.unit_id)
        if unit is None:
            unit = await store.units.for_chat(
                event.chat.platform, event.chat.workspace, event.chat.chat_id
            )
        visitor_locale = (
            None
            if member is not None
            else await store.visitors.locale(
                event.sender.platform, event.sender.workspace, event.sender.user_id
            )
        )
        locale = pick_locale(
            member.locale if member else visitor_locale,
            identity.platform_locale if identity else None,
            event.sender.locale,
            unit.locale if unit else None,
            fallback=self.settings.default_locale,
        )
        return Context(
            event=event,
            store=store,
            clock=self.clock,
            router=self.router,
            locale=locale,
            member=member,
            unit=unit,
            chat_locale=await _chat_locale(store, event),
        )

    async def _dispatch(self, context: Context) -> bool:
        """Route and run the event; True when a command left a form half-filled (kept)."""
        event = context.event
        if too_long := _too_long(event):
            context.private("errors/too_long", limit=too_long)
            return False
        if event.kind is EventKind.COMMAND and await cancels_a_form(context):
            return False
        left_a_form = event.kind is EventKind.COMMAND and await put_aside(context)
        conversation = (
            await context.store.conversations.current(context.member.id) if context.member else None
        )
        route = self.router.route_for(event, conversation.flow if conversation else None)
        if route is None:
            _unrouted(context)
            return left_a_form
        if refusal := _refusal(route, context.member):
            if event.kind in (EventKind.ACTION, EventKind.FORM):
                refusal = f"{refusal}_button"  # a button or a form: no command to name
            context.private(refusal, command=route.name)
            return left_a_form
        await route.handler(context)
        return left_a_form

    async def _deliver_others(self, store: Store, context: Context) -> list[Reply]:
        """Keep the replies for this conversation; queue the ones for other people."""
        here: list[Reply] = []
        base = context.event.event_id or uuid.uuid4().hex
        for index, reply in enumerate(context.replies):
            if reply.member_id is None or (context.member and reply.member_id == context.member.id):
                here.append(reply)
                continue
            now = self.clock.now()
            await queue_private(
                store,
                member_id=reply.member_id,
                reply=reply,
                key=f"event:{context.event.sender.platform}:{base}:{index}",
                due_at=now,
                now=now,
                fallback_locale=self.settings.default_locale,
            )
        return here


def _nothing() -> None:
    pass


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")  # C0 control characters but \t and \n


def clean(value: str) -> str:
    """A person's text without NUL and the other C0 control characters (tab and line feed
    stay): PostgreSQL refuses NUL in text, and none of them means anything in a message."""
    return _CONTROL.sub("", value)


def clean_event(event: Event) -> Event:
    """The event with its typed text cleaned, at the edge, whatever the adapter."""
    return dataclasses.replace(
        event,
        sender=dataclasses.replace(event.sender, display_name=clean(event.sender.display_name)),
        command=clean(event.command),
        args=clean(event.args),
        text=clean(event.text),
        action=clean(event.action),
        value=clean(event.value),
        form={clean(name): clean(value) for name, value in event.form.items()},
    )


async def _forms_as_conversations(context: Context) -> None:
    forms = [reply.form for reply in context.replies if reply.form is not None]
    context.replies = [reply for reply in context.replies if reply.form is None]
    for form in forms[:1]:  # one form at a time
        await start_form(context, form)


def _too_long(event: Event) -> int | None:
    if len(event.text) > MAX_TEXT or any(len(v) > MAX_TEXT for v in event.form.values()):
        return MAX_TEXT
    if len(event.args) > MAX_COMMAND_ARGS:
        return MAX_COMMAND_ARGS
    return None


def _refusal(route: Route, member: Member | None) -> str | None:
    if member is None:
        return None if route.open_to_strangers else "errors/not_a_member"
    if Role(member.role) not in route.roles:
        return "errors/not_allowed"
    return None


def _unrouted(context: Context) -> None:
    event = context.event
    if event.kind is EventKind.COMMAND:
        context.private("errors/unknown_command", command=event.command)
    elif event.kind in (EventKind.ACTION, EventKind.FORM):
        context.private("errors/stale_button")
    elif not event.chat.is_group:
        context.private("errors/not_understood")
    # Free text in a group that is no keyword is people talking to each other: stay quiet.


async def _chat_locale(store: Store, event: Event) -> str | None:
    """A bound group chat's own language; None in a private or an unbound chat."""
    if not event.chat.is_group:
        return None
    chat = event.chat
    binding = await store.units.binding(chat.platform, chat.workspace, chat.chat_id)
    return normalise_locale(binding.locale) if binding else None


def _personal(event: Event, text: Text) -> Reply:
    return Reply(text=text, to=Audience.EPHEMERAL if event.chat.is_group else Audience.CHAT)
