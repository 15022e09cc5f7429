"""Every drill, form and list of every shipped plan, at large sizes, through both adapters.

Per shipped plan, one database holds two units of 300 people each, one speaking Chinese and one
English (names of realistic length in that language), with 200 open rectifications each (one
person owns 120 of them), a dozen open observations and pending deeds, 30 reminders and a ledger.
The clock then moves over the plan's busiest week (a stage's ending notice, the next stage's
start, a weekly summary, rectification reminders gathered per owner, /remind's reminders,
escalations), and the scheduler queues what falls due.

Then, for each plan and language, what people would see is sent through the real adapters to the
strict fakes (tests/fakes): every drill, the supervisor's and a colleague's commands, the week's
pushes from the outbox, the self-check, and every form, as a Slack modal and as Telegram's
field-by-field questions. A message goes to a joined Slack channel and to a person, and to a
Telegram group and to a private chat. The fakes must refuse nothing (no error answer, no 429),
and nothing may be silently lost on the way: a message shows its whole text, every choice in
full (on a button, in the poll or listed in the message), every button, every attachment; a long
choice is searched or paged, never cut; no message names more than a handful of the 300.

The Telegram adapter and its fake share a moving clock of their own (the adapter's pacing moves
it, nothing sleeps); the database has its own clock, which only the scheduler's week moves.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from sqlalchemy import select, update

from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.blocks import matching_options, modal_view, needs_search
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.telegram.formatting import visible
from bot.delivery import DeliveryFailed, Destination, RateLimited, SentUnreadable
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import Scheduler
from campaigns.schema import Plan
from handlers import JOBS, build_router
from handlers.deeds.deeds import categories
from handlers.drills.drills import drill_reply
from handlers.framework.forms import PAGE
from handlers.shared.calendar import (
    first_working_day_from,
    is_working_day,
    last_working_day_until,
    local_time,
)
from handlers.shared.ledger import award_points
from handlers.shared.plan import deadlines_of
from kernel import (
    MAX_BUTTONS,
    ChatRef,
    Event,
    EventKind,
    Form,
    MovableClock,
    Reply,
    Role,
    SenderRef,
)
from messages import Renderer, Target, escape_for
from storage.database import Database
from storage.models import Drill, DrillItem, Member, OutboxMessage, Unit
from storage.store import Store
from tests.fakes.slack_api import TEAM_ID, TOKEN, FakeSlack, Limits, view_problems
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import PLANS, read_plan

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLAN_NAMES = tuple(sorted(path.stem for path in PLANS.glob("*.yaml")))
LOCALES = ("zh", "en")
UNIT_SIZE = 300
OPEN_FIXES = 200
OWNED_BY_ONE = 120  # of the open rectifications, owned by the unit's head
DUE_TOGETHER = 25  # of those, due at the same moment: one gathered reminder
CLOSED_FIXES = 16  # more than /fix closed lists
OBSERVATIONS = 12
DEEDS = 12
DEED_DOERS = 8
REMINDERS = 30
REACHABLE = 10  # people with a private chat: the head, the admin, a colleague, owners
SCORED = 20  # people with points in the ledger (the rest are the silent ones of a report)
NAMES_IN_ONE_MESSAGE = 25  # a message may name a leaderboard's or a summary's few, not the 300
PROBE = "probe"  # the platform the people are seated on: the outbox queues for it

# Where the adapters send (the fakes): a joined Slack channel and a person, a Telegram group and
# a private chat.
SLACK_CHANNEL = "C0LARGE"
SLACK_PERSON = "U0LARGE"
TELEGRAM_GROUP = -1_001_000_000_300
TELEGRAM_PRIVATE = 300_300
TELEGRAM_TOKEN = "300:LARGE"

# --- people with names of realistic length ----------------------------------------------------

_ZH_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏"
    "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
)
_ZH_COMPOUND = ("欧阳", "司马", "上官", "诸葛", "慕容", "东方")
_ZH_GIVEN = (
    *("秀英", "丽华", "建国", "晓梅", "志刚", "海燕", "玉兰", "浩然", "子涵", "欣怡", "梓轩"),
    *("雨萱", "思远", "嘉怡", "文博", "俊杰", "婉婷", "国栋", "春燕", "立新", "佳琪", "明轩"),
    *("伟", "芳", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "涛", "超", "霞", "刚"),
)
_EN_FIRST = (
    *("Alexandra", "Benjamin", "Catherine", "Daniel", "Eleanor", "Francisco", "Gabriella"),
    *("Harrison", "Isabella", "Jonathan", "Katherine", "Margaret", "Nathaniel", "Olivia"),
    *("Patrick", "Quentin", "Rebecca", "Sebastian", "Theodora", "Victoria", "William", "Yusuf"),
    *("Anne-Marie", "Siobhan", "Jean-Pierre", "Priya", "Mohammed", "Chloe", "Aleksandr"),
)
_EN_LAST = (
    *("Anderson", "O'Connor", "Fitzgerald", "Montgomery", "Nakamura", "Raghunathan"),
    *("Van der Berg", "Okafor", "Fernández", "Kowalski", "Lindqvist", "MacDonald"),
    *("Papadopoulos", "Thompson-Hughes", "Nguyen", "Abernathy", "Wojciechowski", "Castellanos"),
)


def people_names(locale: str, count: int = UNIT_SIZE) -> list[str]:
    """``count`` different names in ``locale``, none inside another (so a name found in a
    message is that person)."""
    if locale == "zh":
        surnames = [*_ZH_SURNAMES, *_ZH_COMPOUND]
        pairs = itertools.product(_ZH_GIVEN, surnames)
        candidates = [surname + given for given, surname in pairs]
    else:
        pairs = itertools.product(_EN_LAST, _EN_FIRST)
        candidates = [f"{first} {last}" for last, first in pairs]
    step = 7  # mixes lengths and surnames instead of listing one surname after another
    mixed = [candidates[(i * step) % len(candidates)] for i in range(len(candidates))]
    names: list[str] = []
    for name in dict.fromkeys(mixed):
        if not any(name in other or other in name for other in names):
            names.append(name)
        if len(names) == count:
            return names
    raise AssertionError(f"only {len(names)} names in {locale}")


def squeezed(text: str) -> str:
    """A text without its white space: where a long text was split is no loss."""
    return re.sub(r"\s+", "", text)


RENDER = Renderer()


def _plain(reply: Reply, locale: str) -> str:
    return RENDER.render(reply.text, locale) if reply.text is not None else ""


# --- the world: a plan with two large units, after a busy week ---------------------------------


@dataclass
class Side:
    """One language's unit of 300, its group chat and the people the tests act as."""

    locale: str
    unit_id: int
    names: list[str]
    head: str  # the unit head (a supervisor): owns 120 rectifications
    admin: str
    staff: str  # a colleague: observer of the praise, reports deeds
    praise: dict[str, int]  # claimed praise observations by the head: for Slack, for Telegram
    drill_items: list[DrillItem] = field(default_factory=list)


@dataclass
class World:
    plan: Plan
    database: Database
    clock: MovableClock
    dispatcher: Dispatcher
    sides: dict[str, Side]
    pushes: list[OutboxMessage]
    ticks: int
    start: dt.datetime  # when the people and their records were made

    def event(self, side: Side, user: str, kind: EventKind, **fields: Any) -> Event:
        return Event(
            kind=kind,
            sender=SenderRef(PROBE, user, locale=side.locale),
            chat=ChatRef(PROBE, user, is_group=False),
            received_at=self.clock.now(),
            **fields,
        )

    async def replies(
        self, side: Side, user: str, kind: EventKind, *, native_forms: bool = True, **fields: Any
    ) -> list[Reply]:
        outcome = await self.dispatcher.handle(
            self.event(side, user, kind, **fields), native_forms=native_forms
        )
        assert outcome.locale == side.locale
        return outcome.replies

    async def member(self, user: str) -> Member:
        async with self.database.store() as store:
            found = await store.members.by_identity(PROBE, "", user)
        assert found is not None
        return found[0]

    async def command(self, side: Side, user: str, line: str) -> list[Reply]:
        command, _, args = line.lstrip("/").partition(" ")
        return await self.replies(side, user, EventKind.COMMAND, command=command, args=args)


def _sibling(plan: Plan, unit_key: str) -> str:
    """The unit the English side sits in: a sibling of the demo unit (the same zone and meeting
    time, so the scheduler's week looks at the same moments for both)."""
    leaves: list[tuple[str, str | None]] = []

    def walk(units: Iterable[Any], parent: str | None) -> None:
        for unit in units:
            if unit.children:
                walk(unit.children, unit.key)
            else:
                leaves.append((unit.key, parent))

    walk(plan.units, None)
    parent = dict(leaves)[unit_key]
    return next(key for key, up in leaves if up == parent and key != unit_key)


@dataclass(frozen=True)
class Week:
    """The plan's busiest stretch, as local days: a stage's ending notice and the next stage's
    start, a weekly summary between or around them, from the day before to the day after."""

    first: dt.date
    ending: dt.date  # the morning of the stage's ending notice
    weekly: dt.date  # the last working day of a week: its summary
    starting: dt.date  # the morning the next stage starts
    last: dt.date


def busy_week(plan: Plan, unit: Unit) -> Week:
    """The shortest stretch from a stage's ending notice to the next stage's start."""
    stages = sorted(plan.stages, key=lambda stage: stage.starts_on)
    found = []
    for stage, following in itertools.pairwise(stages):
        ending = last_working_day_until(
            unit, stage.ends_on - dt.timedelta(days=stage.remind_days_before_end or 0)
        )
        starting = first_working_day_from(unit, following.starts_on)
        found.append(((starting - ending).days, ending, starting))
    _, ending, starting = min(found)
    first, last = ending - dt.timedelta(days=1), starting + dt.timedelta(days=1)
    day = ending
    while not _last_working_day_of_week(unit, day):
        day += dt.timedelta(days=1)
    return Week(first, ending, day, starting, max(last, day + dt.timedelta(days=1)))


def _last_working_day_of_week(unit: Unit, day: dt.date) -> bool:
    if not is_working_day(unit.calendar, day):
        return False
    rest = (day + dt.timedelta(days=n) for n in range(1, 7 - day.weekday()))
    return not any(is_working_day(unit.calendar, other) for other in rest)


async def _seat(
    store: Store, organisation_id: int, unit: Unit, locale: str, now: dt.datetime
) -> Side:
    """300 people in ``unit``: its head, an admin, 298 staff; the first few (those the tests act
    as, and the owners of rectifications falling due) with a private chat."""
    names = people_names(locale)
    ids: list[str] = []
    members: list[Member] = []
    for index, name in enumerate(names):
        role = Role.SUPERVISOR if index == 0 else Role.ADMIN if index == 1 else Role.STAFF
        member = await store.members.add(
            organisation_id=organisation_id,
            unit_id=unit.id,
            display_name=name,
            role=role,
            is_unit_head=index == 0,
            locale=locale,
            now=now,
        )
        user = f"{locale}-{index:03d}"
        if index < REACHABLE:
            await store.members.add_identity(
                member, platform=PROBE, external_id=user, private_chat_id=user, now=now
            )
        ids.append(user)
        members.append(member)
    await store.units.bind_chat(unit.id, PROBE, "", f"group-{locale}", now)
    return Side(locale, unit.id, names, head=ids[0], admin=ids[1], staff=ids[2], praise={})


_FIX_TEXT = {
    "zh": (
        "柜台{n}号窗口的排队叫号屏黑屏，更换显示屏并重新测试语音播报；"
        "顺带清理台面上过期的宣传折页。"
    ),
    "en": (
        "The queue-number display above counter {n} is dark: replace the screen, test the "
        "announcement again and clear the out-of-date leaflets from the counter."
    ),
}
_LONG = {
    "zh": "客户反映：{n}号窗口办理业务时等候时间过长，工作人员解释不够耐心，希望网点改进。",
    "en": (
        "A customer says the wait at window {n} was far too long and the explanation they got "
        "was impatient; they would like the outlet to do better. "
    ),
}


def _long(locale: str, n: int, length: int) -> str:
    unit = _LONG[locale].format(n=n)
    return (unit * (length // len(unit) + 1))[:length].strip()


async def _fill(store: Store, side: Side, members: list[Member], unit: Unit, week: Week) -> None:
    """Open rectifications, observations, deeds, reminders and points for one side, with
    deadlines and reminders falling due at the moments the scheduler looks (``week_moments``)."""
    now = local_time(unit, week.first, "00:00")
    head, admin, staff = members[0], members[1], members[2]
    campaign = await store.campaigns.current(unit.organisation_id, week.last)
    assert campaign is not None
    deadlines = deadlines_of(campaign)
    checklists = await store.selfchecks.checklists_for(campaign.id, None, None)
    items = await store.selfchecks.items(checklists[0].id)
    meeting = unit.morning_meeting
    together = local_time(unit, week.ending, meeting)  # one gathered reminder for all of them
    alone = local_time(unit, week.starting, meeting)
    overdue = local_time(unit, week.first, meeting) - dt.timedelta(days=1)
    later = local_time(unit, week.last, meeting) + dt.timedelta(days=40)  # not reminded yet
    for n in range(OPEN_FIXES + CLOSED_FIXES):
        owner = head if n < OWNED_BY_ONE else members[3 + n - OWNED_BY_ONE]
        if n < DUE_TOGETHER:
            due = together
        elif n < DUE_TOGETHER + 2:
            due = overdue
        elif OWNED_BY_ONE <= n < OWNED_BY_ONE + 2:
            due = alone
        else:
            due = later + dt.timedelta(hours=n)
        with_item = n % 3 == 0
        rectification = await store.rectifications.create(
            unit_id=unit.id,
            owner_member_id=owner.id,
            created_by_member_id=admin.id,
            due_at=due,
            now=now,
            description="" if with_item else _FIX_TEXT[side.locale].format(n=n % 40 + 1),
            item_id=items[n % len(items)].id if with_item else None,
        )
        if n >= OPEN_FIXES:
            store.rectifications.close(rectification, _long(side.locale, n, 300), head.id, now)
    for n in range(OBSERVATIONS + 2):
        praise = n >= OBSERVATIONS
        observation = await store.observations.create(
            campaign_id=campaign.id,
            unit_id=unit.id,
            observer_member_id=staff.id,
            kind="praise" if praise else ("complaint", "suggestion", "hazard")[n % 3],
            text=_long(side.locale, n, 1000 if n % 2 else 200),
            anonymous=False,
            # Two past their limit by the week's end (they escalate), the rest still in time.
            due_at=now + dt.timedelta(hours=deadlines.observation_close_hours) if n < 2 else later,
            now=now,
        )
        if praise:
            assert await store.observations.claim(observation.id, head.id, now)
            side.praise["slack" if n == OBSERVATIONS else "telegram"] = observation.id
    kinds = categories(campaign)
    for n in range(DEEDS):
        await store.deeds.report(
            campaign_id=campaign.id,
            unit_id=unit.id,
            reporter_member_id=staff.id,
            description=_long(side.locale, n, 1000 if n % 2 else 150),
            category_key=kinds[n % len(kinds)].key,
            doer_ids=[m.id for m in members[10 + n * DEED_DOERS : 10 + (n + 1) * DEED_DOERS]],
            now=now,
            amount=12_500.0,
            days=3,
            level=2,
        )
    fire = local_time(unit, week.ending, meeting)
    for n in range(REMINDERS):
        await store.reminders.add(
            organisation_id=unit.organisation_id,
            created_by_member_id=head.id,
            target_kind="unit" if n % 2 else "me",
            target_member_id=None if n % 2 else head.id,
            target_unit_id=unit.id if n % 2 else None,
            text=_long(side.locale, n, 2000 if n < 3 else 120),
            next_at=fire if n < 2 else fire + dt.timedelta(days=30 + n),
            every_seconds=7 * 86400 if n % 3 == 0 else None,
            timezone=unit.timezone,
            now=now,
        )
    for index, member in enumerate(members[:SCORED]):
        await award_points(
            store,
            campaign=campaign,
            unit=unit,
            member_id=member.id,
            source="drill",
            rule="drill_correct",
            points=(index * 37) % 97 + 1,
            key=f"large:{member.id}",
            at=now,
        )


def week_moments(plan: Plan, units: Iterable[Unit], week: Week) -> list[dt.datetime]:
    """When the scheduler looks, as a process that wakes now and then would: the morning of
    the stage's ending notice (the gathered rectification reminders, /remind's reminders, that
    day's drill), the week's summary, the next stage's first morning (its announcement). In
    between the clock jumps: what fell due there is skipped as stale, as it would be. Not the
    month's report: /report makes the same replies (a chart and a workbook of 300 people), and
    each takes too long to make twice."""
    moments = []
    for unit in units:
        for day in (week.ending, week.starting):
            moments.append(local_time(unit, day, unit.morning_meeting))
        moments.append(local_time(unit, week.weekly, plan.deadlines.weekly_summary_time))
    return sorted({moment + dt.timedelta(minutes=1) for moment in moments})


async def build_world(plan_name: str, path: Path, template: Path) -> World:
    shutil.copy(template, path)
    # SQLite on the loop's thread, as the demo runs it: the thousands of statements here no
    # longer each wait for aiosqlite's thread (the statements and the driver are the same).
    database = Database(f"sqlite:///{path}", in_loop=True)
    plan = read_plan(plan_name)
    sides: dict[str, Side] = {}
    keys = {"zh": plan.demo.unit, "en": _sibling(plan, plan.demo.unit)}
    async with database.store() as store:
        summary = await store.plans.load(plan, dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        organisation = summary.organisation_id
    async with database.transaction() as session:  # each unit speaks its side's language
        for locale, key in keys.items():
            await session.execute(
                update(Unit)
                .where(Unit.organisation_id == organisation, Unit.key == key)
                .values(locale=locale)
            )
    async with database.store() as store:
        units: dict[str, Unit] = {}
        for locale, key in keys.items():
            found = await store.units.by_key(organisation, key)
            assert found is not None and found.locale == locale
            units[locale] = found
        week = busy_week(plan, units["zh"])
        start = local_time(units["zh"], week.first, "00:00")
        for locale, unit in units.items():
            side = await _seat(store, organisation, unit, locale, start)
            members = await store.members.of_unit(unit.id)
            await _fill(store, side, members, unit, week)
            campaign = await store.campaigns.current(organisation, week.last)
            assert campaign is not None
            side.drill_items = await store.drills.items(campaign.id)
            sides[locale] = side
    clock = MovableClock(start)
    scheduler = Scheduler(database, clock, JOBS)
    ticks = 0
    for moment in week_moments(plan, units.values(), week):
        clock.set(moment)
        await scheduler.tick()
        ticks += 1
    async with database.transaction() as session:
        pushes = list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    dispatcher = Dispatcher(database, build_router(), clock, DispatcherSettings("zh"))
    return World(plan, database, clock, dispatcher, sides, pushes, ticks, start)


# --- the platforms: both adapters against the strict fakes --------------------------------------


@dataclass
class Shown:
    """What one platform showed of one reply in one chat, as the fake took it."""

    texts: list[str]  # each message's visible text (a poll: its question)
    choices: list[str]  # button labels and poll options
    buttons: int  # buttons on keyboards / in actions blocks
    polls: int
    files: int


@dataclass
class Platforms:
    renderer: Renderer
    slack: FakeSlack
    slack_adapter: SlackAdapter
    tg: FakeTelegram
    telegram: TelegramAdapter
    clock: MovableClock  # the Telegram adapter's and its fake's time

    async def everywhere(self, reply: Reply, locale: str, what: str, names: list[str]) -> list[str]:
        """Send ``reply`` to a channel and a person on Slack, a group and a private chat on
        Telegram; every problem found, worded for the report."""
        problems = []
        for channel in (SLACK_CHANNEL, SLACK_PERSON):
            problems += await self.on_slack(
                reply, locale, f"{what} → Slack {channel}", names, channel
            )
        for chat in (TELEGRAM_GROUP, TELEGRAM_PRIVATE):
            problems += await self.on_telegram(
                reply, locale, f"{what} → Telegram {chat}", names, chat
            )
        return problems

    async def personally(self, reply: Reply, locale: str, what: str, names: list[str]) -> list[str]:
        """Send a personal reply to a person on Slack and a private chat on Telegram."""
        problems = await self.on_slack(reply, locale, f"{what} → Slack person", names, SLACK_PERSON)
        problems += await self.on_telegram(
            reply, locale, f"{what} → Telegram private", names, TELEGRAM_PRIVATE
        )
        return problems

    async def on_slack(
        self, reply: Reply, locale: str, what: str, names: list[str], channel: str
    ) -> list[str]:
        """Push to a Slack channel or person (a user id: their DM), as the sender would: a 429
        (Slack's one message a second per channel) is waited out on the moving clock and the
        rest sent; what the fake took."""
        problems = []
        before = len(self.slack.calls())
        destination = Destination("slack", TEAM_ID, channel, channel.startswith("U"))
        self.clock.advance(dt.timedelta(seconds=10))  # the channel's earlier posts are long past
        pending = reply
        for _ in range(100):
            try:
                await self.slack_adapter.push(destination, pending, locale)
                break
            except RateLimited as limited:
                pending = limited.rest or pending
                self.clock.advance(dt.timedelta(seconds=limited.retry_after))
            except (DeliveryFailed, SentUnreadable) as error:
                problems.append(f"{what}: push failed: {error!r}")
                break
        calls = self.slack.calls()[before:]
        for call in calls:
            answer = call.response if isinstance(call.response, dict) else {}
            if call.status == 429:
                continue  # waited out above, as the sender does
            if call.status != 200 or answer.get("ok") is False:
                problems.append(f"{what}: Slack refused {call.method}: {call.status} {answer}")
        posts = [
            call.args
            for call in calls
            if call.method == "chat.postMessage" and call.status == 200 and call.response["ok"]
        ]
        shared = [
            call
            for call in calls
            if call.method == "files.completeUploadExternal" and call.response.get("ok")
        ]
        sections = [
            block["text"]["text"]
            for post in posts
            for block in post.get("blocks", [])
            if block.get("type") == "section"
        ]
        labels = [
            element["text"]["text"]
            for post in posts
            for block in post.get("blocks", [])
            if block.get("type") == "actions"
            for element in block["elements"]
        ]
        shown = Shown(sections, labels, len(labels), 0, len(shared))
        return problems + self._compare(reply, locale, what, shown, Target.SLACK, names)

    async def on_telegram(
        self, reply: Reply, locale: str, what: str, names: list[str], chat: int
    ) -> list[str]:
        """Push to a Telegram group or private chat, as the sender would: when the adapter
        says the chat is free (moving its clock there, never sleeping); what the fake took."""
        problems = []
        destination = Destination("telegram", "", str(chat), chat > 0)
        before = len(self.tg.recorded)
        ignored = len(self.tg.ignored_retry_after)
        pending = reply
        for _ in range(100):
            free = self.telegram.free_at(destination)
            if free is not None and free > self.clock.now():
                self.clock.set(free)
            try:
                await self.telegram.push(destination, pending, locale)
                break
            except RateLimited as limited:  # its own pacing, beyond its patience: wait, go on
                pending = limited.rest or pending
                self.clock.advance(dt.timedelta(seconds=limited.retry_after))
            except (DeliveryFailed, SentUnreadable) as error:
                problems.append(f"{what}: push failed: {error!r}")
                break
        calls = [c for c in self.tg.recorded[before:] if c.method.lower() != "getupdates"]
        for call in calls:
            if not call.ok:
                problems.append(f"{what}: Telegram refused {call.method}: {call.response}")
        if len(self.tg.ignored_retry_after) > ignored:
            problems.append(f"{what}: sent into a 429's ban")
        sent = [c for c in calls if c.ok]
        texts, choices, buttons, polls = [], [], 0, 0
        for call in sent:
            method = call.method.lower()
            if method == "sendmessage":
                texts.append(call.result["text"])
            elif method == "sendpoll":
                polls += 1
                texts.append(call.result["poll"]["question"])
                choices += [option["text"] for option in call.result["poll"]["options"]]
            markup = call.params.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                buttons += len(row)
                choices += [button["text"] for button in row]
        files = sum(1 for c in sent if c.method.lower() in ("sendphoto", "senddocument"))
        shown = Shown(texts, choices, buttons, polls, files)
        return problems + self._compare(reply, locale, what, shown, Target.TELEGRAM, names)

    def _compare(
        self,
        reply: Reply,
        locale: str,
        what: str,
        shown: Shown,
        target: Target,
        names: list[str],
    ) -> list[str]:
        """What ``reply`` says against what the platform showed: nothing may be missing."""
        problems = []
        everything = squeezed("".join(shown.texts))
        if reply.text is not None:
            rendered = self.renderer.render(reply.text, locale, target)
            whole = squeezed(visible(rendered) if target is Target.TELEGRAM else rendered)
            if whole not in everything:
                problems.append(
                    f"{what}: text cut: {len(everything)} of {len(whole)} characters shown"
                )
        full = [self.renderer.render(b.label, locale) for b in reply.buttons]
        expected = len(reply.buttons)
        if reply.quiz is not None:
            full += list(reply.quiz.options)
            question = escape_for(target, reply.quiz.question)
            if target is Target.TELEGRAM:
                question = visible(question)
            if squeezed(question) not in everything:
                problems.append(f"{what}: the question is not shown in full")
            if not shown.polls:
                expected += len(reply.quiz.options)
        if shown.buttons != expected:
            problems.append(f"{what}: {shown.buttons} of {expected} buttons shown")
        for choice in dict.fromkeys(full):
            listed = escape_for(target, choice) if target is Target.SLACK else choice
            if choice.strip() not in shown.choices and squeezed(listed) not in everything:
                problems.append(f"{what}: choice not shown in full: {choice!r}")
        files = (reply.image is not None) + (reply.file is not None)
        if shown.files != files:
            problems.append(f"{what}: {shown.files} of {files} files shown")
        for text in shown.texts:
            named = [name for name in _as_shown(tuple(names), target) if name in text]
            if len(named) > NAMES_IN_ONE_MESSAGE:
                problems.append(f"{what}: one message names {len(named)} people")
        return problems


@functools.cache
def _as_shown(names: tuple[str, ...], target: Target) -> tuple[str, ...]:
    """Names as a platform's text has them: Slack's mrkdwn escaped, Telegram's visible text."""
    return tuple(escape_for(target, name) if target is Target.SLACK else name for name in names)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platforms(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> AsyncIterator[Platforms]:
    """Both adapters against their strict fakes, for the whole module (its own small database
    for what the Telegram adapter remembers of its polls)."""
    path = tmp_path_factory.mktemp("large-platforms") / "platforms.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    clock = MovableClock(dt.datetime(2027, 1, 4, tzinfo=dt.UTC))
    dispatcher = Dispatcher(database, build_router(), clock, DispatcherSettings("zh"))
    renderer = Renderer()

    async def sleep(seconds: float) -> None:
        clock.advance(dt.timedelta(seconds=seconds))

    async with (
        FakeSlack(joined=[SLACK_CHANNEL], clock=lambda: clock.now().timestamp()) as slack,
        FakeTelegram(TELEGRAM_TOKEN, clock=lambda: clock.now().timestamp()) as tg,
    ):
        slack_adapter = SlackAdapter(
            dispatcher,
            renderer,
            clock,
            token=TOKEN,
            signing_secret="large-payloads",
            api_url=slack.base_url,
        )
        telegram = TelegramAdapter(
            dispatcher, renderer, clock, token=TELEGRAM_TOKEN, api_url=tg.base_url, sleep=sleep
        )
        await telegram.start()
        try:
            yield Platforms(renderer, slack, slack_adapter, tg, telegram, clock)
        finally:
            await telegram.stop()
            await database.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> AsyncIterator[Callable[[str], Awaitable[World]]]:
    """Each plan's world, built once for the module when a test first needs it."""
    built: dict[str, World] = {}
    folder = tmp_path_factory.mktemp("large-worlds")

    async def world(plan_name: str) -> World:
        if plan_name not in built:
            built[plan_name] = await build_world(
                plan_name, folder / f"{plan_name}.db", sqlite_template
            )
        return built[plan_name]

    yield world
    for opened in built.values():
        await opened.database.dispose()


def cases(failing: dict[str, str] | None = None) -> list[Any]:
    """Every shipped plan in both languages; a case in ``failing`` is a known finding (issue
    11), expected to fail for the reason given until the adapter is fixed."""
    failing = failing or {}
    return [
        pytest.param(
            plan,
            locale,
            id=f"{plan}-{locale}",
            marks=[pytest.mark.xfail(strict=True, reason=failing[f"{plan}-{locale}"])]
            if f"{plan}-{locale}" in failing
            else [],
        )
        for plan in PLAN_NAMES
        for locale in LOCALES
    ]


CASES = cases()


def listed(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize(("plan_name", "locale"), CASES)
async def test_every_drill_goes_out_whole(
    plan_name: str, locale: str, worlds: Callable[[str], Awaitable[World]], platforms: Platforms
) -> None:
    world = await worlds(plan_name)
    side = world.sides[locale]
    today = world.clock.now().date()
    problems = []
    for position, item in enumerate(side.drill_items):
        drill = Drill(id=90_000 + position, local_date=today)
        reply = drill_reply(drill, item, locale)
        problems += await platforms.everywhere(reply, locale, f"drill {item.key}", side.names)
    assert len(side.drill_items) == len(world.plan.drills)
    assert not problems, listed(problems)


@pytest.mark.parametrize(("plan_name", "locale"), CASES)
async def test_every_list_and_command_answer_goes_out_whole(
    plan_name: str, locale: str, worlds: Callable[[str], Awaitable[World]], platforms: Platforms
) -> None:
    """The supervisor's, a colleague's and an admin's commands on the large unit: the lists are
    capped or paged (the 120 rectifications of one person, 30 reminders, a dozen observations
    and deeds, a report on 300 people), and all of it goes out whole."""
    world = await worlds(plan_name)
    side = world.sides[locale]
    asked = {
        side.head: (
            *("/help", "/score", "/leaderboard", "/report", "/fix", "/fix closed"),
            *("/reminders", "/observations", "/approve", "/stage", "/drill"),
        ),
        side.staff: ("/score", "/fix", "/observe mine", "/stage"),
        side.admin: ("/help",),
    }
    problems: list[str] = []
    answered: dict[str, list[Reply]] = {}
    for user, lines in asked.items():
        for line in lines:
            replies = await world.command(side, user, line)
            answered[f"{user} {line}"] = replies
            for index, reply in enumerate(replies):
                assert reply.form is None, line
                if len(reply.buttons) > MAX_BUTTONS:
                    problems.append(f"{line}: {len(reply.buttons)} buttons on one message")
                problems += await platforms.everywhere(
                    reply, locale, f"{line} [{index}]", side.names
                )
    problems += await _answer_todays_drill(world, side, platforms, answered[f"{side.head} /drill"])
    head = await world.member(side.head)
    async with world.database.store() as store:
        owned = len(await store.rectifications.open_owned_by(head.id))  # 120, and a self-check's
        active = len(await store.reminders.of_creator(head.id))
    [mine] = answered[f"{side.head} /fix"]
    assert mine.text is not None and mine.text.data["count"] == owned >= OWNED_BY_ONE
    assert 0 < len(mine.buttons) <= MAX_BUTTONS and len(mine.text.data["lines"]) <= MAX_BUTTONS
    [reminders] = answered[f"{side.head} /reminders"]
    assert len(reminders.buttons) == MAX_BUTTONS
    assert reminders.text is not None and reminders.text.data["more"] == active - MAX_BUTTONS
    observations = answered[f"{side.head} /observations"]
    assert 1 < len(observations) <= 11, "a count, then at most ten cards"
    assert any(r.image and r.file for r in answered[f"{side.head} /report"])
    assert not problems, listed(problems)


async def _answer_todays_drill(
    world: World, side: Side, platforms: Platforms, shown: list[Reply]
) -> list[str]:
    """Answer the drill /drill showed, as the head: the graded answer with its explanation (a
    quiz), or the model answer to rate (a scenario)."""
    problems: list[str] = []
    quiz = next((r.quiz for r in shown if r.quiz), None)
    scenario = next((b for r in shown for b in r.buttons if b.action == "drill.scenario"), None)
    if quiz is not None:
        value = f"{quiz.ref}:{quiz.correct_option}"
        replies = await world.replies(
            side, side.head, EventKind.ACTION, action=quiz.action, value=value
        )
    elif scenario is not None:
        replies = await world.replies(
            side, side.head, EventKind.ACTION, action=scenario.action, value=scenario.value
        )
        replies += await world.replies(
            side, side.head, EventKind.TEXT, text=_long(side.locale, 1, 600)
        )
    else:
        return problems
    for index, reply in enumerate(replies):
        problems += await platforms.everywhere(
            reply, side.locale, f"drill answered [{index}]", side.names
        )
    return problems


@pytest.mark.parametrize(("plan_name", "locale"), CASES)
async def test_a_deed_of_the_whole_unit_is_approved_from_a_short_card(
    plan_name: str, locale: str, worlds: Callable[[str], Awaitable[World]], platforms: Platforms
) -> None:
    """A deed the whole unit did (everyone but the head named, as the deed form allows): its
    card in the head's /approve names a handful and counts the rest, like every list of
    people. The deed is rejected afterwards, so the queue is as the other tests find it."""
    world = await worlds(plan_name)
    side = world.sides[locale]
    head, staff = await world.member(side.head), await world.member(side.staff)
    async with world.database.store() as store:
        campaign = await store.campaigns.current(head.organisation_id, world.clock.now().date())
        assert campaign is not None
        everyone = [m.id for m in await store.members.of_unit(side.unit_id) if m.id != head.id]
        deed = await store.deeds.report(
            campaign_id=campaign.id,
            unit_id=side.unit_id,
            reporter_member_id=staff.id,
            description=_long(locale, 7, 400),
            category_key=categories(campaign)[0].key,
            doer_ids=everyone,
            now=world.start - dt.timedelta(days=1),  # the oldest: the first card
        )
    try:
        replies = await world.command(side, side.head, "/approve")
        [card] = [r for r in replies if any(b.value == str(deed.id) for b in r.buttons)]
        problems = await platforms.everywhere(card, locale, "/approve: a deed of 299", side.names)
    finally:
        await world.replies(
            side, side.head, EventKind.ACTION, action="deed.reject", value=str(deed.id)
        )
        await world.replies(side, side.head, EventKind.TEXT, text=_long(locale, 8, 100))
    async with world.database.store() as store:
        assert not [d for d in await store.deeds.pending_in([side.unit_id]) if d.id == deed.id]
    assert not problems, listed(problems)


@pytest.mark.parametrize(("plan_name", "locale"), CASES)
async def test_the_weeks_pushes_go_out_whole(
    plan_name: str, locale: str, worlds: Callable[[str], Awaitable[World]], platforms: Platforms
) -> None:
    """What the scheduler queued over the week, each kind once (its largest): drills to the
    group, the stage's ending notice and the next one's start, the weekly summary, gathered
    rectification reminders, escalations, award suggestions, reminders."""
    world = await worlds(plan_name)
    side = world.sides[locale]
    largest: dict[str, OutboxMessage] = {}
    for push in world.pushes:
        if push.locale != locale:
            continue
        kind = push.idempotency_key.split(":", 1)[0]
        if kind not in largest or len(str(push.reply)) > len(str(largest[kind].reply)):
            largest[kind] = push
    assert {"drill", "stage-end", "stage-start", "weekly", "fix-remind", "remind"} <= set(largest)
    gathered = Reply.from_json(largest["fix-remind"].reply)
    assert gathered.text is not None
    assert len(gathered.text.data["numbers"]) == DUE_TOGETHER, "one reminder for all due then"
    problems: list[str] = []
    for kind, push in sorted(largest.items()):
        reply = Reply.from_json(push.reply)
        problems += await platforms.everywhere(reply, locale, f"push {kind}", side.names)
    assert not problems, listed(problems)


@pytest.mark.parametrize(("plan_name", "locale"), CASES)
async def test_the_self_check_goes_out_whole(
    plan_name: str, locale: str, worlds: Callable[[str], Awaitable[World]], platforms: Platforms
) -> None:
    """The plan's self-check item by item (one item failed, with a note and a deadline), each
    message to the person on both platforms."""
    world = await worlds(plan_name)
    side = world.sides[locale]
    user = side.staff
    problems: list[str] = []
    replies = await world.command(side, user, "/check")
    failed = False
    sent: set[str] = set()
    for step in range(200):
        for index, reply in enumerate(replies):
            assert reply.form is None
            if str(reply.to_json()) in sent:
                continue  # the same "recorded" again: it went out whole the first time
            sent.add(str(reply.to_json()))
            problems += await platforms.personally(
                reply, locale, f"self-check step {step} [{index}]", side.names
            )
        pressable = [
            b for r in replies for b in r.buttons if b.action in ("check.pick", "check.answer")
        ]
        texts = [r.text.template for r in replies if r.text is not None]
        if "selfchecks/ask_fail_comment" in texts:
            replies = await world.replies(side, user, EventKind.TEXT, text=_long(locale, step, 300))
        elif "selfchecks/ask_due" in texts:
            replies = await world.replies(side, user, EventKind.TEXT, text="-")  # the default
        elif pressable:
            answers = [b for b in pressable if b.action == "check.pick"] or [
                b for b in pressable if b.value.endswith(":fail" if not failed else ":pass")
            ]
            failed = failed or answers[0].value.endswith(":fail")
            replies = await world.replies(
                side, user, EventKind.ACTION, action=answers[0].action, value=answers[0].value
            )
        else:
            break
    assert failed
    assert "selfchecks/finished" in [r.text.template for r in replies if r.text is not None]
    assert not problems, listed(problems)


FORMS = ("deed.submit", "observe.submit", "inspect.submit", "observe.resolve")


async def open_form(
    world: World, side: Side, form_id: str, *, native: bool, praise: str
) -> tuple[str, list[Reply]]:
    """(who, the replies) of opening a form as its person would: a deed and an observation (a
    colleague), an inspection (the admin), closing a claimed praise (the head: its credit field
    lists the 300). ``native``: as Slack (the form itself) or as Telegram (its first field)."""
    if form_id == "observe.resolve":
        user, kind = side.head, EventKind.ACTION
        fields = {"action": "observe.close", "value": str(side.praise[praise])}
    else:
        user, kind = (side.admin if form_id == "inspect.submit" else side.staff), EventKind.COMMAND
        fields = {"command": form_id.split(".")[0]}
    return user, await world.replies(side, user, kind, native_forms=native, **fields)


@pytest.mark.parametrize(("plan_name", "locale"), CASES)
async def test_every_form_fits_a_slack_modal(
    plan_name: str, locale: str, worlds: Callable[[str], Awaitable[World]], platforms: Platforms
) -> None:
    """Each form as a modal: within Slack's limits (views.open takes it), every field there,
    every choice of a static select in full, and a field of more than 100 choices an external
    select in which every colleague can be found by name."""
    world = await worlds(plan_name)
    side = world.sides[locale]
    renderer = platforms.renderer
    problems: list[str] = []
    for form_id in FORMS:
        _, replies = await open_form(world, side, form_id, native=True, praise="slack")
        [form] = [r.form for r in replies if r.form is not None]
        assert form.form_id == form_id
        kept = {
            f.name: await world.dispatcher.keep_choices(f.choices)
            for f in form.fields
            if needs_search(f)
        }
        metadata = {"state": form.state, "channel": SLACK_CHANNEL, "group": False}
        view = modal_view(form, locale, renderer, metadata, kept)
        problems += [f"{form_id}: {problem}" for problem in view_problems(view)]
        try:
            await platforms.slack_adapter.client.views_open(trigger_id="1.2.large", view=view)
        except SlackApiError as error:
            problems.append(f"{form_id}: views.open refused: {error.response.data}")
        problems += _modal_shows(form, view, locale, renderer)
        problems += await _searchable(form, kept, locale, renderer, world)
        if form_id == "observe.resolve":
            [credit] = [f for f in form.fields if f.name == "credit"]
            assert len(credit.choices) >= UNIT_SIZE - 1, "everyone of the unit can be credited"
    assert not problems, listed(problems)


def _modal_shows(form: Form, view: dict[str, Any], locale: str, renderer: Renderer) -> list[str]:
    """Every field in the modal; a long choice an external select, a short one every choice
    offered in full (on its option, or listed in full above the field)."""
    problems = []
    listed_above = "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    blocks = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    for form_field in form.fields:
        where = f"{form.form_id}.{form_field.name}"
        block = blocks.get(form_field.name)
        if block is None:
            problems.append(f"{where}: the field is missing from the modal")
            continue
        element = block["element"]
        if not form_field.choices:
            continue
        if len(form_field.choices) > Limits.SELECT_OPTIONS:
            if not element["type"].endswith("external_select"):
                problems.append(
                    f"{where}: {len(form_field.choices)} choices in a {element['type']}"
                )
            continue
        labels = [renderer.render(c.label, locale).strip() for c in form_field.choices]
        options = [o["text"]["text"] for o in element.get("options", [])]
        if len(options) != len(labels):
            problems.append(f"{where}: {len(options)} of {len(labels)} choices offered")
        for label, option in zip(labels, options, strict=False):
            if option != label and escape_for(Target.SLACK, label) not in listed_above:
                problems.append(f"{where}: choice cut to {option!r} from {label!r}")
    return problems


async def _searchable(
    form: Form, kept: dict[str, str], locale: str, renderer: Renderer, world: World
) -> list[str]:
    """An external select's choices as Slack asks for them while the person types: at most
    100 at a time, and typing a colleague's name finds them (a sample of the 300)."""
    problems = []
    for name, token in kept.items():
        choices = await world.dispatcher.kept_choices(token)
        form_field = next(f for f in form.fields if f.name == name)
        if len(choices) != len(form_field.choices):
            problems.append(f"{form.form_id}.{name}: {len(choices)} choices kept")
        first = matching_options(choices, "", locale, renderer)
        if len(first) > Limits.SELECT_OPTIONS:
            problems.append(f"{form.form_id}.{name}: {len(first)} options at once")
        for choice in (*choices[1:4], *choices[-3:]):
            label = renderer.render(choice.label, locale)
            typed = label.split()[-1] if locale == "en" else label[-3:]
            found = matching_options(choices, typed, locale, renderer)
            if choice.value not in [option["value"] for option in found]:
                problems.append(f"{form.form_id}.{name}: typing {typed!r} does not find {label!r}")
            if any(len(option["text"]["text"]) > Limits.OPTION_TEXT for option in found):
                problems.append(f"{form.form_id}.{name}: an option over 75 characters")
    return problems


@pytest.mark.parametrize(("plan_name", "locale"), CASES)
async def test_every_form_walks_field_by_field_on_telegram(
    plan_name: str, locale: str, worlds: Callable[[str], Awaitable[World]], platforms: Platforms
) -> None:
    """Each form as Telegram gets it, one field at a time, to the end: each question to the
    person's private chat; a long choice (the 300 colleagues) page by page, every colleague
    reached, and found by typing a name; what the submission answers goes out too."""
    world = await worlds(plan_name)
    side = world.sides[locale]
    problems: list[str] = []
    for form_id in FORMS:
        user, replies = await open_form(world, side, form_id, native=False, praise="telegram")
        person = await world.member(user)
        async with world.database.store() as store:  # the form being walked, as kept
            talking = await store.conversations.current(person.id)
        assert talking is not None and talking.flow == "_form"
        form = Reply.from_json({"form": talking.data["form"]}).form
        assert form is not None and form.form_id == form_id
        problems += await _walk(world, side, platforms, form, user, replies)
    assert not problems, listed(problems)


async def _walk(
    world: World,
    side: Side,
    platforms: Platforms,
    form: Form,
    user: str,
    replies: list[Reply],
) -> list[str]:
    """Answer ``form`` field by field as a person on Telegram would, sending each question to
    the private chat. A long choice is paged through (every page checked, the first, second
    and last also sent) and searched by typing a name."""
    locale = side.locale
    problems: list[str] = []

    async def send(
        replies: list[Reply], what: str, *, everywhere: bool = False
    ) -> tuple[str, list[str]]:
        """Push to the private chat (what the form's handler answers at the end: to every
        chat on both platforms); what the private chat showed (its text, its button labels)."""
        before = len(platforms.tg.recorded)
        for index, reply in enumerate(replies):
            assert reply.form is None
            if len(reply.buttons) > MAX_BUTTONS:
                problems.append(f"{what}: {len(reply.buttons)} buttons on one message")
            if everywhere:
                problems.extend(
                    await platforms.everywhere(reply, locale, f"{what} [{index}]", side.names)
                )
                continue
            problems.extend(
                await platforms.on_telegram(
                    reply, locale, f"{what} [{index}] → Telegram", side.names, TELEGRAM_PRIVATE
                )
            )
        sent = [c for c in platforms.tg.recorded[before:] if c.ok and c.method == "sendMessage"]
        labels = [
            b["text"]
            for c in sent
            for row in (c.params.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        ]
        return "\n".join(c.result["text"] for c in sent), labels

    async def answer(kind: EventKind, **fields: Any) -> list[Reply]:
        return await world.replies(side, user, kind, native_forms=False, **fields)

    await send(replies, f"{form.form_id} opens, asks {form.fields[0].name}")
    for position, form_field in enumerate(form.fields):
        what = f"{form.form_id}.{form_field.name}"
        following = form.fields[position + 1].name if position + 1 < len(form.fields) else "end"
        after = f"{what} answered, asks {following}"
        several = form_field.kind in ("members", "multi_choice")
        if len(form_field.choices) > PAGE:
            labels = [RENDER.render(c.label, locale) for c in form_field.choices]
            seen: set[str] = set()
            pages = -(-len(labels) // PAGE)
            # Every page of the 300 colleagues to credit; of another long list (a deed's
            # doers: the same paging) the first, second and last.
            walked = range(pages) if form_field.name == "credit" else {0, 1, pages - 1}
            for page in sorted(walked):
                shown = await answer(EventKind.ACTION, action="_form.page", value=str(page))
                text = "".join(_plain(r, locale) for r in shown)
                buttons = [RENDER.render(b.label, locale) for r in shown for b in r.buttons]
                if page in (0, 1, pages - 1):
                    sent_text, sent_buttons = await send(shown, f"{what} page {page + 1}/{pages}")
                    text, buttons = text + sent_text, buttons + sent_buttons
                seen |= {label for label in labels if label in buttons or label in text}
            missing = [label for label in labels if label not in seen]
            if form_field.name != "credit":
                wanted_pages = [labels[p * PAGE : (p + 1) * PAGE] for p in walked]
                missing = [label for page in wanted_pages for label in page if label not in seen]
            if missing:
                problems.append(f"{what}: {len(missing)} of {len(labels)} choices never shown")
            wanted = len(labels) - 2
            typed = labels[wanted].split()[-1] if locale == "en" else labels[wanted][-3:]
            text, buttons = await send(
                await answer(EventKind.TEXT, text=typed), f"{what} searched for {typed!r}"
            )
            if labels[wanted] not in buttons and labels[wanted] not in text:
                problems.append(f"{what}: typing {typed!r} does not show {labels[wanted]!r}")
            if several:
                replies = await answer(EventKind.TEXT, text=f"1,{wanted + 1}")
            else:
                replies = await answer(EventKind.ACTION, action="_form.pick", value=str(wanted))
        elif form_field.choices:
            if several:
                numbers = ",".join(str(n + 1) for n in range(len(form_field.choices)))
                replies = await answer(EventKind.TEXT, text=numbers)
            else:
                replies = await answer(EventKind.ACTION, action="_form.pick", value="0")
        elif form_field.kind == "number":
            replies = await answer(EventKind.TEXT, text="88" if position else "3")
        else:
            text = _long(locale, position, form_field.max_length or 300)
            replies = await answer(EventKind.TEXT, text=text)
        await send(replies, after, everywhere=following == "end")
    for _ in range(5):  # what a deed's category still asks for (an amount, days, a level)
        person = await world.member(user)
        async with world.database.store() as store:
            talking = await store.conversations.current(person.id)
        if talking is None:
            break
        replies = await answer(EventKind.TEXT, text="3")
        await send(replies, f"{form.form_id} asks more", everywhere=True)
    else:
        problems.append(f"{form.form_id}: the form never ended")
    return problems
