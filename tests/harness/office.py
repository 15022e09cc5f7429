"""Several people in one console demo: the harness's office of colleagues.

The demo session is one person's chat; an ``Office`` adds console chats for colleagues on the
same database, dispatcher and clock, and a console platform (``Desks``) that prints each push in the
chat of the person it is addressed to."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from bot.adapters.console import PLATFORM, ConsoleChat
from bot.delivery import Destination
from bot.delivery import Sender as OutboxSender
from bot.demo import YOU, DemoSession
from bot.dispatcher import Dispatcher, DispatcherSettings, Outcome
from handlers import build_router
from kernel import ChatRef, Event, Form, Reply, Role, SenderRef
from messages import Renderer
from storage.models import Member
from storage.store import Store
from tests.harness.words import said

RENDER = Renderer()


def private(chat: str, locale: str = "en") -> str:
    return said("console/private_header", locale, chat=chat)


def shown(outcome: Outcome) -> str:
    return "\n".join(RENDER.render(r.text, outcome.locale) for r in outcome.replies if r.text)


class Desks:
    """The console platform for several people: a push is printed in its addressee's chat."""

    platform = PLATFORM

    def __init__(self, yours: ConsoleChat) -> None:
        self.chats = {YOU: yours}

    def pace(self, destination: Destination) -> dt.timedelta:
        return dt.timedelta(0)

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        chat = self.chats.get(destination.chat_id, self.chats[YOU])
        return await chat.push(destination, reply, locale)


class Office:
    """The demo plus console chats for other people, on the same database, dispatcher and clock."""

    def __init__(self, bot: DemoSession, locale: str = "en") -> None:
        self.bot = bot
        self.locale = locale
        self.dispatcher = Dispatcher(
            bot.database, build_router(), bot.clock, DispatcherSettings(locale)
        )
        self.desks = Desks(bot.console)
        bot.sender = OutboxSender(bot.database, bot.clock, {PLATFORM: self.desks})

    def chat(self, user_id: str) -> ConsoleChat:
        chat = ConsoleChat(
            self.dispatcher,
            self.bot.renderer,
            self.bot.clock,
            SenderRef(PLATFORM, user_id, locale=self.locale),
            ChatRef(PLATFORM, user_id, is_group=False),
            io.StringIO(),
            attachments_dir=self.bot.files_dir,
        )
        self.desks.chats[user_id] = chat
        return chat

    async def say(self, chat: ConsoleChat, *lines: str) -> str:
        """Type lines and deliver what they queued for others (the clock stands still)."""
        for line in lines:
            await chat.say(line)
        await self.bot.sender.flush()
        return chat.take_transcript()

    async def you(self, *lines: str) -> str:
        return await self.say(self.bot.console, *lines)

    async def handle(self, user_id: str, event_id: str | None = None, **fields: Any) -> str:
        """One platform event (with the platform's id) straight into the dispatcher."""
        outcome = await self.dispatcher.handle(
            Event(
                sender=SenderRef(PLATFORM, user_id, locale=self.locale),
                chat=ChatRef(PLATFORM, user_id, is_group=False),
                received_at=self.bot.clock.now(),
                event_id=event_id,
                **fields,
            )
        )
        await self.bot.sender.flush()
        return shown(outcome)

    async def form(self, user_id: str, **fields: Any) -> Form:
        """The one form an event opens, as a platform with forms (a Slack modal) gets it."""
        outcome = await self.dispatcher.handle(
            Event(
                sender=SenderRef(PLATFORM, user_id, locale=self.locale),
                chat=ChatRef(PLATFORM, user_id, is_group=False),
                received_at=self.bot.clock.now(),
                **fields,
            )
        )
        [form] = [r.form for r in outcome.replies if r.form is not None]
        return form

    async def member(self, user_id: str) -> Member:
        async with self.bot.database.transaction() as session:
            found = await Store(session).members.by_identity(PLATFORM, "", user_id)
        assert found is not None
        return found[0]

    async def add(
        self,
        user_id: str,
        name: str,
        role: Role,
        unit_key: str | None,
        *,
        organisation: str = "psbc",
    ) -> int:
        """A new member with their own console identity; a volunteer may belong to no unit."""
        now = self.bot.clock.now()
        async with self.bot.database.transaction() as session:
            store = Store(session)
            found = await store.units.organisation_by_key(organisation)
            assert found is not None
            unit = await store.units.by_key(found.id, unit_key) if unit_key else None
            member = await store.members.add(
                organisation_id=found.id,
                unit_id=unit.id if unit else None,
                display_name=name,
                role=role,
                locale=self.locale,
                now=now,
            )
            await store.members.add_identity(
                member, platform=PLATFORM, external_id=user_id, private_chat_id=user_id, now=now
            )
            return member.id

    async def jump(self, moment: dt.datetime) -> None:
        """Move the clock in one step and fire what fell due."""
        self.bot.clock.set(moment)
        await self.bot.fire_due()

    async def walk(self, to: dt.datetime) -> None:
        """Move the clock with /clock: step by step, firing what falls due on the way."""
        local = to.astimezone(ZoneInfo(self.bot.people.timezone))
        await self.bot.say(f"/clock {local:%Y-%m-%d %H:%M}")
