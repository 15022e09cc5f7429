"""Simulated colleagues for the demo: they answer their units' drills through the same dispatcher
and handlers as a real person, so scores and leaderboards have something to show from the start.

In ``uplift demo`` some of them also report a good deed or an observation now and then, and a
simulated supervisor decides the deeds of their unit when the newcomer is no supervisor, so
/approve, /observations and the deed and observation lines of every report have something to
show. All of it goes through the dispatcher as a person's events would, and the same on every run:
who does what on which day follows from a hash, not from chance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from bot.dispatcher import Dispatcher
from kernel import ChatRef, Clock, Event, EventKind, Role, SenderRef, Text
from messages import Renderer
from storage.database import Database
from storage.models import DrillItem

ACCURACY_PERCENT = 70  # how often a simulated colleague gets a drill right
DEED_EVERY = 8  # days: a colleague who reports deeds reports one on every eighth day at work
OBSERVATION_EVERY = 10  # days, likewise for observations
DEED_STORIES = 4  # demo/colleague_deed tells this many different deeds
OBSERVATION_STORIES = 2  # and demo/colleague_observation this many of each kind
OBSERVATION_KINDS = ("praise", "suggestion", "complaint", "hazard")
DECIDE_AFTER = dt.timedelta(hours=20)  # a simulated supervisor decides a deed the next day


@dataclass(frozen=True)
class Colleague:
    member_id: int
    sender: SenderRef
    unit_id: int = 0
    role: Role = Role.STAFF
    reports: tuple[str, ...] = ()  # "deeds", "observations": what they report now and then
    decides: bool = False  # a supervisor who approves the deeds of their unit

    @property
    def private(self) -> ChatRef:
        return ChatRef(self.sender.platform, self.sender.user_id, is_group=False)


@dataclass(frozen=True)
class Workplace:
    """What colleagues need to know about the demo to act in it."""

    chats: dict[int, ChatRef]  # each unit with colleagues: its group chat
    observed_unit_id: int  # the unit observations are about: the newcomer's own
    deed_asks: dict[str, tuple[str, ...]]  # the plan's deed categories: what each asks
    locale: str  # the language colleagues write in


class Colleagues:
    def __init__(
        self,
        dispatcher: Dispatcher,
        database: Database,
        clock: Clock,
        people: list[Colleague],
        workplace: Workplace,
    ) -> None:
        self._dispatcher = dispatcher
        self._database = database
        self._clock = clock
        self._people = people
        self._workplace = workplace
        self._renderer = Renderer()
        self._acted: set[tuple[int, int]] = set()  # (member, drill): done for that day

    async def act(self) -> int:
        """Each colleague answers every open drill of their unit they have not answered yet, and
        now and then reports something that day; supervisors decide yesterday's deeds. Returns
        how many events they sent (what they sent may have queued messages for others)."""
        sent = 0
        for unit_id, chat in self._workplace.chats.items():
            people = [p for p in self._people if p.unit_id == unit_id]
            async with self._database.store() as store:
                open_drills = await store.drills.open_at(unit_id, self._clock.now())
            for drill, item, done in open_drills:
                for person in people:
                    if (person.member_id, drill.id) in self._acted:
                        continue
                    self._acted.add((person.member_id, drill.id))
                    if person.role is not Role.VOLUNTEER:  # volunteers do no drills
                        if person.member_id in done:
                            continue  # answered before the demo was started again
                        for event in self._answer_events(person, chat, drill.id, item):
                            await self._dispatcher.handle(event)
                            sent += 1
                    sent += await self._now_and_then(person, drill.id, drill.local_date)
        return sent

    async def _now_and_then(self, person: Colleague, drill_id: int, day: dt.date) -> int:
        """What a colleague does besides the drill on a working day: now and then a deed or an
        observation, each on its own days (so a newcomer meets one in the first week or two);
        how many events that took."""
        events = []
        if "deeds" in person.reports and _every(DEED_EVERY, person, day):
            events.append(self._deed_event(person, drill_id))
        if "observations" in person.reports and _every(OBSERVATION_EVERY, person, day):
            events.append(self._observation_event(person, drill_id))
            # "If you have a photo, send it now; otherwise reply anything": no photo.
            events.append(self._event(person, EventKind.TEXT, text="-"))
        if person.decides:
            events += await self._decisions(person)
        for event in events:
            await self._dispatcher.handle(event)
        return len(events)

    async def _decisions(self, person: Colleague) -> list[Event]:
        """A simulated supervisor approves the deeds reported in their unit by the day before
        (never their own: the handler would refuse them)."""
        before = self._clock.now() - DECIDE_AFTER
        async with self._database.store() as store:
            pending = [
                deed
                for deed in await store.deeds.pending_in([person.unit_id])
                if deed.created_at <= before and deed.reporter_member_id != person.member_id
            ]
        return [
            self._event(person, EventKind.ACTION, action="deed.approve", value=str(deed.id))
            for deed in pending
        ]

    def _answer_events(
        self, person: Colleague, chat: ChatRef, drill_id: int, item: DrillItem
    ) -> list[Event]:
        good = _roll(person.member_id, drill_id) < ACCURACY_PERCENT
        if item.kind == "choice":
            right = (item.answer or 1) - 1
            choice = right if good else (right + 1) % len(item.options)
            return [
                self._event(
                    person,
                    EventKind.ACTION,
                    chat=chat,
                    action="drill.answer",
                    value=f"{drill_id}:{choice}",
                )
            ]
        rating = 5 if good else 3
        return [
            self._event(
                person, EventKind.ACTION, chat=chat, action="drill.scenario", value=str(drill_id)
            ),
            self._event(person, EventKind.TEXT, chat=chat, text="…"),
            self._event(
                person,
                EventKind.ACTION,
                chat=chat,
                action="drill.rate",
                value=f"{drill_id}:{rating}",
            ),
        ]

    def _deed_event(self, person: Colleague, drill_id: int) -> Event:
        """A good deed of their own, in a category of the plan, with what that category asks."""
        roll = _roll(person.member_id, drill_id, "deed-story")
        categories = list(self._workplace.deed_asks) or ["general"]
        category = categories[roll % len(categories)]
        form = {
            "what": self._words("demo/colleague_deed", story=roll // 4 % DEED_STORIES),
            "who": "me",
            "category": category,
        }
        asked = {"amount": str(200 + 50 * (roll % 40)), "days": str(1 + roll % 20)}
        asked["level"] = str(1 + roll % 3)
        for name in self._workplace.deed_asks.get(category, ()):
            form[name] = asked[name]
        return self._event(person, EventKind.FORM, action="deed.submit", form=form)

    def _observation_event(self, person: Colleague, drill_id: int) -> Event:
        """An observation about the newcomer's unit, signed, of one kind or another."""
        roll = _roll(person.member_id, drill_id, "observation-story")
        kind = OBSERVATION_KINDS[roll % len(OBSERVATION_KINDS)]
        text = self._words(
            "demo/colleague_observation", kind=kind, story=roll // 4 % OBSERVATION_STORIES
        )
        form = {
            "unit": str(self._workplace.observed_unit_id),
            "kind": kind,
            "text": text,
            "anonymous": "no",
        }
        return self._event(person, EventKind.FORM, action="observe.submit", form=form)

    def _words(self, template: str, **data: object) -> str:
        return self._renderer.render(Text(template, data), self._workplace.locale)

    def _event(
        self, person: Colleague, kind: EventKind, *, chat: ChatRef | None = None, **fields: object
    ) -> Event:
        return Event(
            kind=kind,
            sender=person.sender,
            chat=chat or person.private,
            received_at=self._clock.now(),
            **fields,  # type: ignore[arg-type]
        )


def _every(days: int, person: Colleague, day: dt.date) -> bool:
    """Whether ``day`` is one of the person's days for something done every ``days`` days;
    people start on different days."""
    return (day.toordinal() + 3 * person.member_id) % days == 0


def _roll(member_id: int, drill_id: int, what: str = "answer") -> int:
    """A stable pseudo-random number 0–99, so a demo run can be repeated exactly."""
    seed = f"{member_id}:{drill_id}" if what == "answer" else f"{member_id}:{drill_id}:{what}"
    digest = hashlib.sha256(seed.encode()).digest()
    return digest[0] * 100 // 256
