"""``uplift demo``: the whole bot in the terminal, on a local SQLite file, with a movable clock.

The newcomer is a member of the plan's demo unit (in the role they chose) beside a few simulated
colleagues; the unit's group chat is printed inline. ``/clock`` moves demo time forward and the
scheduler fires whatever fell due in between, exactly as ``uplift run`` would.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.adapters.console import PLATFORM, ConsoleChat
from bot.delivery import Sender as OutboxSender
from bot.demo.colleagues import Colleague, Colleagues
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.scheduler import MARK as SCHEDULER_MARK
from bot.scheduler import Scheduler
from campaigns.schema import Plan
from handlers import JOBS, build_router
from handlers.framework.context import Context
from handlers.framework.router import Router
from kernel import EVERYONE, ChatRef, MovableClock, Refusal, Role, SenderRef, Text
from messages import Renderer
from messages.vocabulary import shipped_vocabulary
from storage.database import Database
from storage.migrate import upgrade_async

YOU = "you"
DEMO_FILES = Path(tempfile.gettempdir()) / "uplift-demo-files"  # charts and sheets the demo saves


@dataclass(frozen=True)
class DemoOptions:
    role: Role
    plan: Plan
    db_path: Path | None
    locale: str
    db_url: str | None = None  # any database (PostgreSQL too); wins over db_path


@dataclass(frozen=True)
class DemoPeople:
    unit_id: int
    unit_key: str
    unit_name: str
    your_name: str
    unit_chat: str
    timezone: str
    colleagues: tuple[tuple[int, str], ...]  # (member id, console user id)


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
        router = build_router(lambda r: register_clock(r, self.clock_control, people.timezone))
        dispatcher = Dispatcher(
            database, router, clock, DispatcherSettings(default_locale=options.locale)
        )
        self.colleagues = Colleagues(
            dispatcher,
            database,
            clock,
            people.unit_id,
            ChatRef(PLATFORM, people.unit_chat, is_group=True),
            [
                Colleague(member_id, SenderRef(PLATFORM, user_id))
                for member_id, user_id in people.colleagues
            ],
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
        self.sender = OutboxSender(database, clock, {PLATFORM: self.console})

    async def fire_due(self) -> None:
        """What ``uplift run`` does on its timers: push what fell due, then let colleagues act."""
        await self.scheduler.tick()
        await self.sender.flush()
        await self.colleagues.answer_open_drills()

    async def say(self, line: str) -> str:
        await self.console.say(line)
        target = self.clock_control.take_target()
        while target is not None and self.clock.now() < target:
            # Walk time forward the way a running process lives through it, so every push falls
            # due on time and colleagues answer each day's drill.
            self.clock.set(min(target, self.clock.now() + DEMO_STEP))
            await self.fire_due()
        await self.fire_due()
        return self.console.take_transcript()

    def welcome(self, role: Role) -> str:
        text = Text(
            "demo/welcome",
            {
                "role": Text(f"roles/{role}"),
                "name": self.people.your_name,
                "unit": self.people.unit_name,
                "moment": self.clock.now(),
                "zone": self.people.timezone,
            },
        )
        return self.renderer.render(text, self.locale)


@asynccontextmanager
async def demo_session(options: DemoOptions, output: TextIO) -> AsyncIterator[DemoSession]:
    """Set up the demo database (fresh unless ``--db``), load the plan, seat the people."""
    scratch = tempfile.TemporaryDirectory(prefix="uplift-demo-")
    url = options.db_url or f"sqlite:///{options.db_path or Path(scratch.name) / 'demo.db'}"
    await upgrade_async(url)
    database = Database(url)
    try:
        people = await _prepare(database, options)
        clock = MovableClock(await _start_time(database, options.plan, people.timezone))
        session = DemoSession(database, options, people, clock, output, DEMO_FILES)
        await session.fire_due()
        session.console.take_transcript()
        yield session
    finally:
        await database.dispose()
        scratch.cleanup()


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
        await store.units.bind_chat(unit.id, PLATFORM, "", chat_id, now)
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
        store.members.set_role(you, options.role)
        store.members.set_head(you, options.role is Role.SUPERVISOR)
        colleagues = []
        for number, colleague in enumerate(plan.demo.colleagues, start=1):
            external_id = f"colleague-{number}"
            existing = await store.members.by_identity(PLATFORM, "", external_id)
            if existing is not None:
                colleagues.append((existing[0].id, external_id))
            else:
                member = await store.members.add(
                    organisation_id=summary.organisation_id,
                    unit_id=unit.id,
                    display_name=colleague.name.in_locale(options.locale),
                    role=Role(colleague.role),
                    is_unit_head=colleague.role == "supervisor"
                    and options.role is not Role.SUPERVISOR,
                    locale=options.locale,
                    now=now,
                )
                await store.members.add_identity(
                    member,
                    platform=PLATFORM,
                    external_id=external_id,
                    private_chat_id=external_id,
                    now=now,
                )
                colleagues.append((member.id, external_id))
        unit_name = unit.name_zh if options.locale == "zh" else unit.name_en
        return DemoPeople(
            unit.id,
            unit.key,
            unit_name,
            you.display_name,
            chat_id,
            unit.timezone,
            tuple(colleagues),
        )


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
