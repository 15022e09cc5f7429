"""What a handler gets: the event, who sent it, the clock, the store, and a way to reply."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from handlers.framework.access import Access
from handlers.framework.router import Router
from handlers.shared.calendar import local_date
from kernel import Audience, Button, Clock, Event, Form, Quiz, Refusal, Reply, Role, Text
from storage.models import Campaign, Member, Unit
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
    # A bound group chat's own language: what is answered to the whole chat is said in it.
    chat_locale: str | None = None

    @property
    def role(self) -> Role | None:
        return Role(self.member.role) if self.member else None

    @property
    def personal(self) -> Audience:
        """Where an answer meant only for the sender goes: ephemeral in a group, else the chat."""
        return Audience.EPHEMERAL if self.event.chat.is_group else Audience.CHAT

    def seated(self) -> tuple[Member, Unit]:
        """The sender as a member of a unit: most features need both."""
        if self.member is None or self.unit is None or self.member.unit_id is None:
            raise Refusal("errors/no_unit")
        return self.member, self.unit

    @property
    def records(self) -> Access:
        """Records by ids that came from outside, authorised against the sender."""
        return Access(self)

    async def covered_unit_ids(self) -> list[int]:
        """The units the sender's role covers (see ``Access.covered_unit_ids``)."""
        return await self.records.covered_unit_ids()

    async def current_campaign(self, unit: Unit | None = None) -> Campaign:
        """The campaign running on the unit's local date (the sender's unit by default)."""
        assert self.member is not None
        unit = unit or self.unit
        today = local_date(unit, self.now()) if unit else self.now().date()
        campaign = await self.store.campaigns.current(self.member.organisation_id, today)
        if campaign is None:
            raise Refusal("errors/no_campaign")
        return campaign

    def means(self, text: str, key: str) -> bool:
        """Whether ``text`` is one of the words for ``key`` (``"points/detail"``) in any language:
        the words live in ``messages/<locale>/<feature>/words.yaml``."""
        return self.router.vocabulary.means(text, key)

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
