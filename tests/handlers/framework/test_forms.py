"""Forms one field at a time (the Telegram way): a choice among 300 colleagues is paged and
searchable, no keyboard holds more than MAX_BUTTONS buttons, and every colleague can be chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest_asyncio

from bot.dispatcher import Dispatcher, DispatcherSettings, Outcome
from handlers import build_router
from handlers.framework.forms import PAGE
from kernel import (
    MAX_BUTTONS,
    ChatRef,
    Event,
    EventKind,
    MovableClock,
    Reply,
    Role,
    SenderRef,
    Text,
)
from messages import Renderer
from storage.database import Database
from storage.models import Deed, Member, Observation, PointEntry
from tests.harness import at, rows, seat_people

NOW = at("2027-01-11 10:00")  # a Monday in stage 1 of the postal bank's campaign
PLATFORM = "console"
COLLEAGUES = 300
RENDER = Renderer()


def colleague(n: int) -> str:
    return f"Colleague {n:03d}"


@dataclass
class Chat:
    dispatcher: Dispatcher
    database: Database

    async def send(self, user: str, **fields: Any) -> list[Reply]:
        """One event from ``user`` in their private chat, forms asked a field at a time."""
        outcome: Outcome = await self.dispatcher.handle(
            Event(
                sender=SenderRef(PLATFORM, user, locale="en"),
                chat=ChatRef(PLATFORM, user, is_group=False),
                received_at=NOW,
                **fields,
            ),
            native_forms=False,
        )
        for reply in outcome.replies:
            assert len(reply.buttons) <= MAX_BUTTONS, reply.text
        return outcome.replies

    async def type(self, user: str, text: str) -> list[Reply]:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return await self.send(user, kind=EventKind.COMMAND, command=command, args=args)
        return await self.send(user, kind=EventKind.TEXT, text=text)

    async def press(self, user: str, action: str, value: str = "") -> list[Reply]:
        return await self.send(user, kind=EventKind.ACTION, action=action, value=value)


def shown(replies: list[Reply]) -> str:
    return "\n".join(RENDER.render(r.text, "en") for r in replies if r.text)


def labels(reply: Reply) -> dict[str, tuple[str, str]]:
    """A reply's buttons by their label: (action, value)."""
    return {RENDER.render(b.label, "en"): (b.action, b.value) for b in reply.buttons}


@pytest_asyncio.fixture
async def chat(sqlite_url: str) -> AsyncIterator[Chat]:
    database = Database(sqlite_url)
    people = [("wang", "Wang Fang", Role.STAFF), ("chen", "Chen Jing", Role.SUPERVISOR)]
    people += [(f"c{n}", colleague(n), Role.STAFF) for n in range(1, COLLEAGUES + 1)]
    await seat_people(database, platform=PLATFORM, chat="group", people=people, now=NOW)
    clock = MovableClock(NOW)
    settings = DispatcherSettings(default_locale="en")
    try:
        yield Chat(Dispatcher(database, build_router(), clock, settings), database)
    finally:
        await database.dispose()


async def praise_claimed_by_chen(chat: Chat) -> None:
    """Wang reports praise about his own unit; Chen, his supervisor, claims it."""
    await chat.type("wang", "/observe")
    await chat.press("wang", "_form.pick", "0")  # his own unit comes first
    await chat.press("wang", "_form.pick", "0")  # praise
    await chat.type("wang", "Colleague 257 stayed late to help an old man")
    await chat.press("wang", "_form.pick", "0")  # signed
    await chat.press("chen", "observe.claim", "1")


async def test_a_credit_among_300_colleagues_pages_and_searches(chat: Chat) -> None:
    await praise_claimed_by_chen(chat)
    await chat.press("chen", "observe.close", "1")
    [question] = await chat.type("chen", "Verified with the customer")
    everyone = COLLEAGUES + 2 + 1  # the colleagues, Wang and Chen, and "nobody in particular"
    assert f"{everyone} choices" in shown([question])
    first = labels(question)
    assert len([a for a, _ in first.values() if a == "_form.pick"]) == PAGE
    assert "nobody in particular" in first and "Next ▶" in first and "◀ Previous" not in first

    # Next pages replace the message pressed, until the last.
    pages = 1
    page = question
    while "Next ▶" in labels(page):
        [page] = await chat.press("chen", *labels(page)["Next ▶"])
        assert page.replace_pressed and "◀ Previous" in labels(page)
        pages += 1
    assert pages == -(-everyone // PAGE)
    assert colleague(COLLEAGUES) in labels(page)
    [back] = await chat.press("chen", *labels(page)["◀ Previous"])
    assert f"Showing {(pages - 2) * PAGE + 1}–{(pages - 1) * PAGE}." in shown([back])

    # Typing part of a name narrows the list; a page number out of range is stale.
    refused = await chat.press("chen", "_form.page", str(pages))
    assert shown(refused) == RENDER.render(Text("errors/stale_button"), "en")
    [nothing] = await chat.type("chen", "Nobody by this name")
    assert 'Nothing here matches "Nobody by this name"' in shown([nothing])
    [found] = await chat.type("chen", "colleague 25")
    assert 'Matching "colleague 25": 10 of' in shown([found])
    found_labels = labels(found)
    assert colleague(257) in found_labels and "Show all" in found_labels
    [again] = await chat.press("chen", *found_labels["Show all"])
    assert f"{everyone} choices" in shown([again])

    [found] = await chat.type("chen", "257")  # a number is a choice's number, not a search
    assert "closed" in shown([found]).lower()
    [observation] = await rows(chat, Observation)
    credited = await chat_member(chat, colleague(257 - 3))  # 1 nobody, 2 Wang, 3 Chen
    assert observation.status == "closed" and observation.praised_member_id == credited.id


async def chat_member(chat: Chat, name: str) -> Member:
    [member] = [m for m in await rows(chat, Member) if m.display_name == name]
    return member


async def test_the_person_found_by_name_is_the_one_credited(chat: Chat) -> None:
    await praise_claimed_by_chen(chat)
    await chat.press("chen", "observe.close", "1")
    await chat.type("chen", "Verified")
    [found] = await chat.type("chen", "Colleague 257")
    [(action, value)] = [v for k, v in labels(found).items() if k == colleague(257)]
    [closed] = await chat.press("chen", action, value)
    assert "closed" in shown([closed]).lower()
    praised = await chat_member(chat, colleague(257))
    entries = [e for e in await rows(chat, PointEntry) if e.rule == "praise_received"]
    assert [e.member_id for e in entries] == [praised.id]


async def test_a_choice_of_several_is_numbered_a_page_at_a_time(chat: Chat) -> None:
    await chat.type("wang", "/deed")
    [who] = await chat.type("wang", "Returned a lost wallet")
    text = shown([who])
    assert text.count("\n1. ") + text.startswith("1. ") == 1 and f"\n{PAGE}. " in text
    assert f"\n{PAGE + 1}. " not in text
    [page] = await chat.press("wang", *labels(who)["Next ▶"])
    assert f"\n{PAGE + 1}. " in shown([page])
    [found] = await chat.type("wang", "Colleague 300")
    assert "\n302. Colleague 300" in shown([found])  # its number in the whole list
    await chat.type("wang", "1,302")  # me and Colleague 300
    await chat.press("wang", "_form.pick", "0")  # the first category
    [deed] = await rows(chat, Deed)
    assert deed.description == "Returned a lost wallet"
