"""What a handler gets: the event, who sent it, the clock, the store, and a way to reply."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.types import Audience, Button, Event, Form, Quiz, Reply, Text
from handlers.router import Router
from storage.models import Member, Role, Unit
from storage.store import Store


@dataclass
class Context:
    event: Event
    store: Store
    clock: Clock
    router: Router
    locale: str
    member: Member | None = None
    unit: Unit | None = None  # the member's unit, or the unit bound to the chat
    replies: list[Reply] = field(default_factory=list)

    @property
    def role(self) -> Role | None:
        return Role(self.member.role) if self.member else None

    @property
    def personal(self) -> Audience:
        """Where an answer meant only for the sender goes: ephemeral in a group, else the chat."""
        return Audience.EPHEMERAL if self.event.chat.is_group else Audience.CHAT

    def now(self) -> dt.datetime:
        return self.clock.now()

    def reply(
        self,
        template: str,
        /,
        *,
        to: Audience = Audience.CHAT,
        buttons: tuple[Button, ...] = (),
        replace_pressed: bool = False,
        **data: Any,
    ) -> None:
        """Answer the person in this conversation with a template."""
        self.replies.append(
            Reply(
                text=Text(template, data), buttons=buttons, to=to, replace_pressed=replace_pressed
            )
        )

    def private(self, template: str, /, **data: Any) -> None:
        """Answer only the sender: ephemeral in a group, plain in a private chat."""
        self.reply(template, to=self.personal, **data)

    def form(self, form: Form) -> None:
        self.replies.append(
            Reply(form=form, to=Audience.PRIVATE if self.event.chat.is_group else Audience.CHAT)
        )

    def quiz(self, quiz: Quiz, *, intro: Text | None = None) -> None:
        self.replies.append(Reply(text=intro, quiz=quiz))

    def notify(self, member_id: int, template: str, /, **data: Any) -> None:
        """Tell someone else, privately; it goes through the outbox."""
        self.replies.append(
            Reply(text=Text(template, data), to=Audience.PRIVATE, member_id=member_id)
        )
