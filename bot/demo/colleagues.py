"""Simulated colleagues for the demo: they answer the unit's drills through the same dispatcher and
handlers as a real person, so scores and leaderboards have something to show from the start."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.dispatcher import Dispatcher
from kernel import ChatRef, Clock, Event, EventKind, SenderRef
from storage.database import Database
from storage.models import DrillItem

ACCURACY_PERCENT = 70  # how often a simulated colleague gets a drill right


@dataclass(frozen=True)
class Colleague:
    member_id: int
    sender: SenderRef


class Colleagues:
    def __init__(
        self,
        dispatcher: Dispatcher,
        database: Database,
        clock: Clock,
        unit_id: int,
        chat: ChatRef,
        people: list[Colleague],
    ) -> None:
        self._dispatcher = dispatcher
        self._database = database
        self._clock = clock
        self._unit_id = unit_id
        self._chat = chat
        self._people = people

    async def answer_open_drills(self) -> int:
        """Each colleague answers every open drill of the unit they have not answered yet."""
        async with self._database.store() as store:
            open_drills = await store.drills.open_at(self._unit_id, self._clock.now())
        answered = 0
        for drill, item, done in open_drills:
            for person in self._people:
                if person.member_id in done:
                    continue
                for event in self._answer_events(person, drill.id, item):
                    await self._dispatcher.handle(event)
                answered += 1
        return answered

    def _answer_events(self, person: Colleague, drill_id: int, item: DrillItem) -> list[Event]:
        good = _roll(person.member_id, drill_id) < ACCURACY_PERCENT
        if item.kind == "choice":
            right = (item.answer or 1) - 1
            choice = right if good else (right + 1) % len(item.options)
            return [
                self._event(
                    person, EventKind.ACTION, action="drill.answer", value=f"{drill_id}:{choice}"
                )
            ]
        rating = 5 if good else 3
        return [
            self._event(person, EventKind.ACTION, action="drill.scenario", value=str(drill_id)),
            self._event(person, EventKind.TEXT, text="…"),
            self._event(
                person, EventKind.ACTION, action="drill.rate", value=f"{drill_id}:{rating}"
            ),
        ]

    def _event(self, person: Colleague, kind: EventKind, **fields: str) -> Event:
        return Event(
            kind=kind,
            sender=person.sender,
            chat=self._chat,
            received_at=self._clock.now(),
            **fields,
        )


def _roll(member_id: int, drill_id: int) -> int:
    """A stable pseudo-random number 0–99, so a demo run can be repeated exactly."""
    digest = hashlib.sha256(f"{member_id}:{drill_id}".encode()).digest()
    return digest[0] * 100 // 256
