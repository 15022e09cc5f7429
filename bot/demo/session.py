"""``uplift demo``: the whole bot in the terminal, on a local SQLite file, with a movable clock.

The newcomer is a member of the plan's demo unit (in the role they chose) beside a few simulated
colleagues (in ``uplift demo``, colleagues in other units too, who now and then report a deed or an
observation); the unit's group chat is printed inline. ``/clock`` moves demo time forward and the
scheduler fires whatever fell due in between, exactly as ``uplift run`` would: the clock jumps from
one push to the next, so a simulated month takes seconds.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.adapters.console import PLATFORM, ConsoleChat
from bot.delivery import Destination
from bot.delivery import Sender as OutboxSender
from bot.demo.colleagues import Colleague, Colleagues, Workplace
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import MARK as SCHEDULER_MARK
from bot.scheduler import Scheduler
from campaigns.schema import DemoColleague, Plan
from handlers import JOBS, build_router
from handlers.framework.context import Context
from handlers.framework.router import Router
from kernel import (
    EVERYONE,
    SUPERVISORS,
    ChatRef,
    MovableClock,
    Refusal,
    Reply,
    Role,
    SenderRef,
    Text,
)
from messages import Renderer
from messages.vocabulary import shipped_vocabulary
from storage.database import Database
from storage.migrate import upgrade_async
from storage.models import Unit
from storage.store import Store

YOU = "you"


@dataclass(frozen=True)
class DemoOptions:
    role: Role
    plan: Plan
    db_path: Path | None
    locale: str
    db_url: str | None = None  # any database (PostgreSQL too); wins over db_path
    # The whole cast, as ``uplift demo`` shows it: the plan's colleagues in other units too, and
    # colleagues who now and then report a deed or an observation. Off, only the demo unit's
    # colleagues are seated and they only answer drills: what a test of one feature expects.
    lively: bool = False
    files_dir: Path | None = None  # where charts and sheets go (see _files_dir)


@dataclass(frozen=True)
class DemoPeople:
    unit_id: int
    unit_key: str
    unit_name: str
    your_name: str
    unit_chat: str
    timezone: str
    colleagues: tuple[Colleague, ...]
    # each unit with people: its group chat (the demo unit's first)
    chats: dict[int, ChatRef] = field(default_factory=dict)
    # chats the newcomer is not in (other units' chats, colleagues' own messages, in a lively
    # demo): delivered to, not printed
    quiet_chats: frozenset[str] = frozenset()


def group_chat_id(unit_key: str) -> str:
    return f"group:{unit_key}"


class DemoSession:
    """A running demo: the console chat, the scheduler and the sender on one movable clock.

    ``say`` is what a person typing does, and what tests call: it returns every line printed in
    answer, including pushes that fell due."""

    def __init__(
        self,
        database: Database,
        options: DemoOptions,
        people: DemoPeople,
        clock: MovableClock,
        output: TextIO,
        files_dir: Path,
    ) -> None:
        self.database = database
        self.clock = clock
        self.renderer = Renderer()
        self.locale = options.locale
        self.people = people
        self.clock_control = ClockControl(clock)
        self.files_dir = files_dir
        router = build_router(lambda r: register_clock(r, self.clock_control, people.timezone))
        dispatcher = Dispatcher(
            database, router, clock, DispatcherSettings(default_locale=options.locale)
        )
        workplace = Workplace(
            chats=people.chats or {people.unit_id: ChatRef(PLATFORM, people.unit_chat, True)},
            observed_unit_id=people.unit_id,
            deed_asks={c.key: tuple(c.asks) for c in options.plan.scoring.deed_categories},
            locale=options.locale,
        )
        self.colleagues = Colleagues(
            dispatcher, database, clock, list(people.colleagues), workplace
        )
        self.scheduler = Scheduler(database, clock, JOBS)
        self.console = ConsoleChat(
            dispatcher,
            self.renderer,
            clock,
            SenderRef(PLATFORM, YOU, locale=options.locale),
            ChatRef(PLATFORM, YOU, is_group=False),
            output,
            attachments_dir=files_dir,
        )
        desk = DemoDesk(self.console, people.quiet_chats)
        self.sender = OutboxSender(database, clock, {PLATFORM: desk})

    async def fire_due(self) -> None:
        """What ``uplift run`` does on its timers: push what fell due, then let colleagues act,
        and deliver what they set off (a deed to approve) at once, not at the next push."""
        await self.scheduler.tick()
        await self.deliver()
        if await self.colleagues.act():
            await self.deliver()

    async def deliver(self) -> None:
        """Send everything due now: the clock may jump a day before the sender runs again, and
        a push that waits longer than the sender's staleness limit is dropped."""
        while await self.sender.flush(SENDER_BATCH) >= SENDER_BATCH:
            pass

    async def say(self, line: str) -> str:
        await self.console.say(line)
        target = self.clock_control.take_target()
        if target is not None:
            await self.live_until(target)
        await self.fire_due()
        return self.console.take_transcript()

    async def live_until(self, target: dt.datetime) -> None:
        """Live through time up to ``target`` as a running process would, so every push goes
        out at its moment and colleagues answer each day's drill, without ticking through the
        empty hours: the jobs say when their next push is due and the clock jumps there."""
        while self.clock.now() < target:
            now = self.clock.now()
            horizon = min(target, now + LOOK_AHEAD)
            due = await self.scheduler.next_due(horizon)
            step = horizon if due is None else due
            if step <= now:  # a job failed or left something due: walk, as a process would
                step = min(target, now + DEMO_STEP)
            self.clock.set(step)
            await self.fire_due()

    def welcome(self, role: Role) -> str:
        text = Text(
            "demo/welcome",
            {
                "role": Text(f"roles/{role}"),
                "name": self.people.your_name,
                "unit": self.people.unit_name,
                "moment": self.clock.now(),
                "zone": self.people.timezone,
                "files": str(self.files_dir),
            },
        )
        return self.renderer.render(text, self.locale)


class DemoDesk:
    """The console as the demo's platform for the sender: a push to you, to your unit's chat or
    to any other chat is printed under its chat's name; one to the colleagues seated in other
    units (their group chats, their own messages) is delivered without a word, as to people you
    do not sit with."""

    platform = PLATFORM

    def __init__(self, console: ConsoleChat, quiet_chats: frozenset[str]) -> None:
        self._console = console
        self._quiet = quiet_chats

    def pace(self, destination: Destination) -> dt.timedelta:
        return self._console.pace(destination)

    async def push(self, destination: Destination, reply: Reply, locale: str) -> str | None:
        if destination.chat_id in self._quiet:
            return None
        return await self._console.push(destination, reply, locale)


@asynccontextmanager
async def demo_session(options: DemoOptions, output: TextIO) -> AsyncIterator[DemoSession]:
    """Set up the demo database (fresh unless ``--db``), load the plan, seat the people."""
    scratch = tempfile.TemporaryDirectory(prefix="uplift-demo-")
    url = options.db_url or f"sqlite:///{options.db_path or Path(scratch.name) / 'demo.db'}"
    await upgrade_async(url)
    database = Database(url, in_loop=True)
    try:
        people = await _prepare(database, options)
        clock = MovableClock(await _start_time(database, options.plan, people.timezone))
        files = _files_dir(options)
        session = DemoSession(database, options, people, clock, output, files)
        await session.fire_due()
        session.console.take_transcript()
        yield session
    finally:
        await database.dispose()
        scratch.cleanup()


def _files_dir(options: DemoOptions) -> Path:
    """Where this demo saves the charts and sheets it is sent (the folder is made with the first
    one): the one asked for; beside a kept database file (``uplift-demo-files`` in its folder);
    else a new folder of this run's own, kept after it ends so they can be opened. Never one
    folder shared by every run on the machine."""
    if options.files_dir is not None:
        return options.files_dir
    if options.db_url is None and options.db_path is not None:
        return options.db_path.parent / "uplift-demo-files"
    return Path(tempfile.gettempdir()) / f"uplift-demo-files-{uuid.uuid4().hex[:8]}"


async def run_demo(
    options: DemoOptions, lines: Iterable[str], output: TextIO, *, echo: bool
) -> int:
    """Run the console chat over ``lines`` (a script, or the terminal); return the exit status."""
    async with demo_session(options, output) as session:
        print(session.welcome(options.role), file=output, flush=True)
        for line in lines:
            if shipped_vocabulary().means(line, "console/quit"):
                break
            if line.lstrip().startswith("#"):
                continue
            if echo:
                print(f"> {line.rstrip()}", file=output, flush=True)
            await session.say(line)
    return 0


async def _prepare(database: Database, options: DemoOptions) -> DemoPeople:
    """Load the plan and make sure the newcomer and the colleagues exist (idempotent)."""
    plan = options.plan
    assert plan.demo is not None, "validated plans used for the demo name a demo unit"
    async with database.store() as store:
        now = dt.datetime.now(dt.UTC)
        summary = await store.plans.load(plan, now)
        unit = await store.units.by_key(summary.organisation_id, plan.demo.unit)
        assert unit is not None
        chat_id = group_chat_id(unit.key)
        # The group chat speaks the demo's language, as if its binder did.
        await store.units.bind_chat(unit.id, PLATFORM, "", chat_id, now, locale=options.locale)
        found = await store.members.by_identity(PLATFORM, "", YOU)
        if found is None:
            you = await store.members.add(
                organisation_id=summary.organisation_id,
                unit_id=unit.id,
                display_name=Renderer().render(Text("demo/your_name"), options.locale),
                role=options.role,
                locale=options.locale,  # the demo's language; /lang changes it and it is kept
                now=now,
            )
            await store.members.add_identity(
                you, platform=PLATFORM, external_id=YOU, private_chat_id=YOU, now=now
            )
        else:
            you = found[0]
        await store.members.set_role(you, options.role)
        store.members.set_head(you, options.role is Role.SUPERVISOR)
        chats = {unit.id: ChatRef(PLATFORM, chat_id, is_group=True)}
        quiet: set[str] = set()
        colleagues = []
        for number, colleague in enumerate(plan.demo.colleagues, start=1):
            external_id = f"colleague-{number}"
            home = unit
            if colleague.unit not in (None, unit.key):
                if not options.lively:
                    continue  # the demo unit's colleagues only
                found_home = await store.units.by_key(summary.organisation_id, colleague.unit)
                assert found_home is not None, "validated plans name units of their own"
                home = found_home
                quiet.add(group_chat_id(home.key))
            if options.lively:
                quiet.add(external_id)  # you see your own messages, not your colleagues'
            if home.id not in chats:
                chats[home.id] = ChatRef(PLATFORM, group_chat_id(home.key), is_group=True)
                await store.units.bind_chat(
                    home.id, PLATFORM, "", group_chat_id(home.key), now, locale=options.locale
                )
            # a supervisor heads their unit, unless you lead it
            heads = colleague.role == "supervisor" and not (
                options.role is Role.SUPERVISOR and home.id == unit.id
            )
            member_id = await _seat(store, options, colleague, home, external_id, heads, now)
            colleagues.append(
                Colleague(
                    member_id,
                    SenderRef(PLATFORM, external_id),
                    home.id,
                    Role(colleague.role),
                    tuple(colleague.reports) if options.lively else (),
                    # approves the unit's deeds when the newcomer cannot
                    decides=options.lively
                    and colleague.role == "supervisor"
                    and options.role not in SUPERVISORS,
                )
            )
        unit_name = unit.name_zh if options.locale == "zh" else unit.name_en
        return DemoPeople(
            unit.id,
            unit.key,
            unit_name,
            you.display_name,
            chat_id,
            unit.timezone,
            tuple(colleagues),
            chats,
            frozenset(quiet),
        )


async def _seat(
    store: Store,
    options: DemoOptions,
    colleague: DemoColleague,
    home: Unit,
    external_id: str,
    heads: bool,
    now: dt.datetime,
) -> int:
    """A simulated colleague's member id: seated in ``home`` the first time (idempotent)."""
    existing = await store.members.by_identity(PLATFORM, "", external_id)
    if existing is not None:
        return existing[0].id
    member = await store.members.add(
        organisation_id=home.organisation_id,
        unit_id=home.id,
        display_name=colleague.name.in_locale(options.locale),
        role=Role(colleague.role),
        is_unit_head=heads,
        locale=options.locale,
        now=now,
    )
    await store.members.add_identity(
        member, platform=PLATFORM, external_id=external_id, private_chat_id=external_id, now=now
    )
    return member.id


async def _start_time(database: Database, plan: Plan, zone: str) -> dt.datetime:
    """07:00 on the campaign's first day, whatever the real date: a demo shows a campaign from
    its beginning, the same way every time. A kept database (--db) goes on where it was."""
    start = dt.datetime.combine(plan.starts_on, dt.time(7, 0), ZoneInfo(zone)).astimezone(dt.UTC)
    async with database.store() as store:
        reached = await store.scheduler_marks.reached(SCHEDULER_MARK)
    return max(start, reached) if reached else start


# --- /clock: the demo's own command ----------------------------------------------------------


_RELATIVE = re.compile(r"^\+(\d+)\s*([dhm])$")
DEMO_STEP = dt.timedelta(hours=2)  # no longer than the plans' push grace window
LOOK_AHEAD = dt.timedelta(days=7)  # how far the jobs are asked for their next push at once
SENDER_BATCH = 100  # pushes the sender takes at a time


class ClockControl:
    """Where ``/clock`` asked demo time to go; the session walks there step by step."""

    def __init__(self, clock: MovableClock) -> None:
        self.clock = clock
        self._target: dt.datetime | None = None

    def aim(self, target: dt.datetime) -> None:
        self._target = target

    def take_target(self) -> dt.datetime | None:
        target, self._target = self._target, None
        return target


def register_clock(router: Router, control: ClockControl, zone: str) -> None:
    async def move_clock(ctx: Context) -> None:
        now = control.clock.now()
        given = ctx.event.args.strip()
        target = now
        if given:
            parsed = parse_clock(given, now, ZoneInfo(zone))
            if parsed is None:
                raise Refusal("clock/bad", given=given)
            if parsed < now:
                raise Refusal("clock/backwards", now=now, zone=zone)
            target = parsed
            control.aim(target)
        ctx.private("clock/now", now=target, zone=zone)

    router.command("clock", move_clock, roles=EVERYONE, help_template="demo/line_clock")


def parse_clock(text: str, now: dt.datetime, zone: ZoneInfo) -> dt.datetime | None:
    """``2026-05-11 08:30``, ``2026-05-11``, ``08:30`` (today, or tomorrow if passed), ``+2d``."""
    if match := _RELATIVE.match(text):
        amount, unit = int(match[1]), match[2]
        return (
            now
            + {
                "d": dt.timedelta(days=amount),
                "h": dt.timedelta(hours=amount),
                "m": dt.timedelta(minutes=amount),
            }[unit]
        )
    local_now = now.astimezone(zone)
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=zone).astimezone(dt.UTC)
        except ValueError:
            continue
    try:
        moment = dt.datetime.strptime(text, "%H:%M").time()
    except ValueError:
        return None
    candidate = dt.datetime.combine(local_now.date(), moment, zone)
    if candidate < local_now:
        candidate += dt.timedelta(days=1)
    return candidate.astimezone(dt.UTC)
