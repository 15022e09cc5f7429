"""The permission matrix: every command, button action and form, for every kind of person, with
ids from their own unit, another unit and another organisation.

Two organisations share one database: the postal bank (A) and the bus company (B). The people:
a stranger, and in A a volunteer, a staff member and a supervisor of Renmin Road (unit X), a
supervisor of Dongguan (unit Y) and an admin at the county branch; in B an admin. Records of
every kind exist in X, in Y and in B. Each case runs on its own copy of that database; when the
sender may not act, the answer is a refusal and nothing in the database changed, and when they
may, the answer is not a refusal of that kind.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.dispatcher import Dispatcher, DispatcherSettings
from handlers import build_router
from kernel import ChatRef, Event, EventKind, MovableClock, Role, SenderRef
from storage.database import Database
from tests.harness import at, read_plan

NOW = at("2027-06-10 10:00")  # a Thursday, in both campaigns
PLATFORM = "console"
X, Y, B = "X", "Y", "B"  # Renmin Road, Dongguan (both A), and a bus line of B

# Who sends, where they sit (organisation, unit) and their role; the stranger is nobody.
PEOPLE: dict[str, tuple[str, str, Role] | None] = {
    "stranger": None,
    "volunteer": ("psbc", "renmin-road", Role.VOLUNTEER),
    "staff": ("psbc", "renmin-road", Role.STAFF),
    "supervisor": ("psbc", "renmin-road", Role.SUPERVISOR),
    "supervisor_elsewhere": ("psbc", "dongguan", Role.SUPERVISOR),
    "admin": ("psbc", "linhe-county", Role.ADMIN),
    "admin_of_b": ("nanchuan-bus", "company", Role.ADMIN),
}
# The people whose records sit in Y and B (the records of X belong to "staff").
OWNERS = {
    "staff_y": ("psbc", "dongguan", Role.STAFF),
    "staff_b": ("nanchuan-bus", "line-1", Role.STAFF),
}
UNITS = {X: ("psbc", "renmin-road"), Y: ("psbc", "dongguan"), B: ("nanchuan-bus", "line-1")}
OWNER_OF = {X: "staff", Y: "staff_y", B: "staff_b"}
COVERS = {  # the scopes whose records each sender's role covers
    "stranger": set(),
    "volunteer": {X},
    "staff": {X},
    "supervisor": {X},
    "supervisor_elsewhere": {Y},
    "admin": {X, Y},
    "admin_of_b": {B},
}
ORGANISATION = {
    "volunteer": {X, Y},
    "staff": {X, Y},
    "supervisor": {X, Y},
    "supervisor_elsewhere": {X, Y},
    "admin": {X, Y},
    "admin_of_b": {B},
}
# Answers that mean "you may not": the sender is refused, whatever the reason's wording.
REFUSALS = frozenset(
    {
        "errors/stale_button",
        "errors/not_allowed_button",
        "errors/not_a_member_button",
        "errors/not_allowed",
        "errors/not_a_member",
        "errors/no_unit",
        "rectifications/not_yours",
        "inspections/own_unit",
        "observations/already_rated",
        "drills/answer_first",
        "errors/no_campaign",
        "shared/way_in_invitation",
        "members/already",
        "shared/way_in_ask_in_group",
    }
)


@dataclass(frozen=True)
class Case:
    """One button, form or poll answer, and who may use it with a record of which scope."""

    action: str
    kind: EventKind
    payload: Any  # (scope, ids) -> the event's value, its form, or both (value, form)
    may: Any  # (sender, scope) -> bool

    def event(self, sender: str, scope: str, ids: dict[str, Any]) -> dict[str, Any]:
        payload = self.payload(scope, ids)
        if self.kind is EventKind.FORM:
            value, form = payload if isinstance(payload, tuple) else ("", payload)
            return {"kind": EventKind.FORM, "action": self.action, "value": value, "form": form}
        return {"kind": EventKind.ACTION, "action": self.action, "value": payload}


def member_of(sender: str, scope: str) -> bool:
    """Whether the sender sits in the scope's unit (people answer their own unit's drills)."""
    person = PEOPLE[sender]
    return person is not None and (person[0], person[1]) == UNITS[scope]


def owner(sender: str, scope: str) -> bool:
    return OWNER_OF[scope] == sender


def covered(roles: set[Role]) -> Any:
    return lambda sender, scope: _role(sender) in roles and scope in COVERS[sender]


def in_organisation(roles: set[Role]) -> Any:
    return lambda sender, scope: _role(sender) in roles and scope in ORGANISATION.get(sender, ())


def _role(sender: str) -> Role | None:
    person = PEOPLE[sender]
    return person[2] if person else None


STAFF_UP = {Role.STAFF, Role.SUPERVISOR, Role.ADMIN}
SUPERVISING = {Role.SUPERVISOR, Role.ADMIN}

CASES = {
    "drill.answer": Case(
        "drill.answer",
        EventKind.ACTION,
        lambda s, ids: f"{ids['drill'][s]}:0",
        lambda sender, scope: member_of(sender, scope) and _role(sender) in STAFF_UP,
    ),
    "drill.scenario": Case(
        "drill.scenario",
        EventKind.ACTION,
        lambda s, ids: str(ids["drill"][s]),
        lambda sender, scope: member_of(sender, scope) and _role(sender) in STAFF_UP,
    ),
    "check.answer": Case(
        "check.answer",
        EventKind.ACTION,
        lambda s, ids: f"{ids['run'][s]}:{ids['item'][s]}:pass",
        owner,
    ),
    "fix.close": Case(
        "fix.close", EventKind.ACTION, lambda s, ids: str(ids["rectification"][s]), owner
    ),
    "fix.reopen": Case(
        "fix.reopen",
        EventKind.ACTION,
        lambda s, ids: str(ids["rectification"][s]),
        covered(SUPERVISING),
    ),
    "deed.approve": Case(
        "deed.approve", EventKind.ACTION, lambda s, ids: str(ids["deed"][s]), covered(SUPERVISING)
    ),
    "deed.reject": Case(
        "deed.reject", EventKind.ACTION, lambda s, ids: str(ids["deed"][s]), covered(SUPERVISING)
    ),
    "deed.submit": Case(
        "deed.submit",
        EventKind.FORM,
        lambda s, ids: {
            "what": "Found a wallet",
            "who": str(ids["owner"][s]),
            "category": ids["category"][s],
        },
        in_organisation(STAFF_UP),
    ),
    "observe.submit": Case(
        "observe.submit",
        EventKind.FORM,
        lambda s, ids: {"unit": str(ids["unit"][s]), "kind": "hazard", "text": "Wet floor"},
        in_organisation(set(Role)),
    ),
    "observe.claim": Case(
        "observe.claim",
        EventKind.ACTION,
        lambda s, ids: str(ids["observation"][s]),
        covered(SUPERVISING),
    ),
    "observe.close": Case(
        "observe.close",
        EventKind.ACTION,
        lambda s, ids: str(ids["observation"][s]),
        covered(SUPERVISING),  # and then told to claim it first: nobody has
    ),
    "observe.rate": Case(
        "observe.rate",
        EventKind.ACTION,
        lambda s, ids: f"{ids['observation'][s]}:5",
        lambda sender, scope: False,  # only a closed observation's observer rates it
    ),
    "inspect.submit": Case(
        "inspect.submit",
        EventKind.FORM,
        lambda s, ids: {"unit": str(ids["unit"][s]), "kind": "mystery", "score": "97"},
        lambda sender, scope: (
            covered(SUPERVISING)(sender, scope) and UNITS[scope][1] != PEOPLE[sender][1]
        ),  # type: ignore[index]
    ),
    "awards.confirm": Case(
        "awards.confirm",
        EventKind.ACTION,
        lambda s, ids: f"stage:{ids['unit'][s]}",
        covered(SUPERVISING),
    ),
    "join.approve": Case(
        "join.approve",
        EventKind.ACTION,
        lambda s, ids: str(ids["request"][s]),
        covered(SUPERVISING),
    ),
    "join.decline": Case(
        "join.decline",
        EventKind.ACTION,
        lambda s, ids: str(ids["request"][s]),
        covered(SUPERVISING),
    ),
    "remind.cancel": Case(
        "remind.cancel",
        EventKind.ACTION,
        lambda s, ids: str(ids["reminder"][s]),
        lambda sender, scope: scope == X and sender == "supervisor",
    ),
    "check.pick": Case(
        "check.pick",
        EventKind.ACTION,
        lambda s, ids: str(ids["checklist"][s]),
        # A checklist of the sender's own campaign; "staff" has a run open, which resumes
        # whatever was pressed (their own run, nothing of the pressed id's).
        lambda sender, scope: sender == "staff" or in_organisation(STAFF_UP)(sender, scope),
    ),
    "drill.rate": Case(
        "drill.rate",
        EventKind.ACTION,
        lambda s, ids: f"{ids['drill'][s]}:5",
        lambda sender, scope: False,  # a rating follows a scenario answer: none was given
    ),
    "observe.resolve": Case(
        "observe.resolve",
        EventKind.FORM,
        lambda s, ids: (
            str(ids["observation"][s]),
            {"resolution": "Verified", "credit": str(ids["owner"][s])},
        ),
        covered(SUPERVISING),  # and then told to claim it first: nobody has
    ),
    "join.unit": Case(
        "join.unit",
        EventKind.ACTION,
        lambda s, ids: str(ids["unit"][s]),
        lambda sender, scope: False,  # invitation-only: nobody joins by pressing a unit
    ),
}
SCOPES = (X, Y, B)
# Actions that act only on the sender's own state (their own flow, language or name), with no
# id from outside to authorise; each is tested with its feature.
OWN_STATE_ONLY = {
    "check.pause": "ends the sender's own self-check flow",
    "check.keep_due": "keeps the deadline echoed in the sender's own self-check flow",
    "lang.set": "the sender's own language; in a group, the bound chat's (checked for cover)",
    "leaderboard.name": "whether the sender's own name shows",
    "remind.save": "saves the sender's own draft, kept in the database",
    "remind.drop": "drops the sender's own draft",
    "_form.pick": "the next field of the sender's own form",
    "_form.skip": "skips a field of the sender's own form",
    "_form.cancel": "cancels the sender's own form",
    "_form.page": "pages through a choice of the sender's own form",
    "_form.all": "shows every choice of the sender's own form again",
}


# --- the database, made once ------------------------------------------------------------------


async def _prepare(url: str) -> dict[str, Any]:
    database = Database(url)
    ids: dict[str, Any] = {}
    try:
        async with database.store() as store:
            organisations = {}
            for name in ("postal-bank", "bus-operator"):
                summary = await store.plans.load(read_plan(name), NOW)
                organisations[read_plan(name).organisation.key] = summary.organisation_id
            people = {}
            for user, seat in {**PEOPLE, **OWNERS}.items():
                if seat is None:
                    continue
                organisation, unit_key, role = seat
                unit = await store.units.by_key(organisations[organisation], unit_key)
                assert unit is not None
                member = await store.members.add(
                    organisation_id=organisations[organisation],
                    unit_id=unit.id,
                    display_name=user,
                    role=role,
                    is_unit_head=role is Role.SUPERVISOR,
                    now=NOW,
                )
                await store.members.add_identity(
                    member, platform=PLATFORM, external_id=user, private_chat_id=user, now=NOW
                )
                people[user] = member
            ids["owner"] = {s: people[OWNER_OF[s]].id for s in SCOPES}
            ids["checklist"] = {}
            ids["volunteer"] = people["volunteer"].id
            ids["unit"], ids["drill"], ids["run"], ids["item"] = {}, {}, {}, {}
            ids["rectification"], ids["deed"], ids["observation"] = {}, {}, {}
            ids["request"], ids["reminder"], ids["category"] = {}, {}, {}
            for scope, (organisation, unit_key) in UNITS.items():
                unit = await store.units.by_key(organisations[organisation], unit_key)
                assert unit is not None
                campaign = await store.campaigns.current(unit.organisation_id, NOW.date())
                assert campaign is not None
                owner_member = people[OWNER_OF[scope]]
                ids["unit"][scope] = unit.id
                categories = campaign.plan["scoring"].get("deed_categories") or [{"key": "general"}]
                ids["category"][scope] = categories[0]["key"]
                items = await store.drills.items(campaign.id)
                drill = await store.drills.create_once(
                    campaign_id=campaign.id,
                    unit_id=unit.id,
                    item_id=items[0].id,
                    local_date=NOW.date(),
                    opens_at=NOW - dt.timedelta(hours=2),
                    closes_at=NOW + dt.timedelta(hours=8),
                )
                ids["drill"][scope] = drill.id
                [checklist, *_] = await store.selfchecks.checklists_for(campaign.id, None, None)
                ids["checklist"][scope] = checklist.id
                stage = await store.campaigns.stage_on(campaign.id, NOW.date())
                run = await store.selfchecks.start(
                    member_id=owner_member.id,
                    unit_id=unit.id,
                    checklist_id=checklist.id,
                    stage_id=stage.id if stage else None,  # a run counts for its stage
                    now=NOW,
                )
                ids["run"][scope] = run.id
                ids["item"][scope] = (await store.selfchecks.items(checklist.id))[0].id
                ids["rectification"][scope] = (
                    await store.rectifications.create(
                        unit_id=unit.id,
                        owner_member_id=owner_member.id,
                        created_by_member_id=owner_member.id,
                        due_at=NOW + dt.timedelta(days=3),
                        now=NOW,
                        description="Fix the sign",
                    )
                ).id
                ids["deed"][scope] = (
                    await store.deeds.report(
                        campaign_id=campaign.id,
                        unit_id=unit.id,
                        reporter_member_id=owner_member.id,
                        description="Helped a customer",
                        category_key=ids["category"][scope],
                        doer_ids=[owner_member.id],
                        now=NOW,
                    )
                ).id
                ids["observation"][scope] = (
                    await store.observations.create(
                        campaign_id=campaign.id,
                        unit_id=unit.id,
                        observer_member_id=owner_member.id,
                        kind="hazard",
                        text="Loose tile",
                        anonymous=False,
                        due_at=NOW + dt.timedelta(hours=48),
                        now=NOW,
                    )
                ).id
                request, _ = await store.members.request_to_join(
                    organisation_id=unit.organisation_id,
                    unit_id=unit.id,
                    platform=PLATFORM,
                    workspace="",
                    external_id=f"asker-{scope}",
                    display_name=f"Asker {scope}",
                    platform_locale="en",
                    now=NOW,
                )
                ids["request"][scope] = request.id
                creator = people["supervisor"] if scope == X else owner_member
                ids["reminder"][scope] = (
                    await store.reminders.add(
                        organisation_id=unit.organisation_id,
                        created_by_member_id=creator.id,
                        target_kind="me",
                        target_member_id=creator.id,
                        target_unit_id=None,
                        text="Check the machines",
                        next_at=NOW + dt.timedelta(days=1),
                        every_seconds=None,
                        timezone="Asia/Shanghai",
                        now=NOW,
                    )
                ).id
    finally:
        await database.dispose()
    return ids


@pytest.fixture(scope="module")
def world(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("matrix") / "world.db"
    shutil.copy(sqlite_template, path)
    ids = asyncio.run(_prepare(f"sqlite:///{path}"))
    return path, ids


def _snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the record of processed event ids (read with the standard
    library: through the ORM this took most of each case's time)."""
    with closing(sqlite3.connect(path)) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'processed_event'"
            )
        ]
        return {
            table: connection.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
            for table in tables
        }


class Cases:
    """Where this module's cases run: one file, one engine, one router. Each case copies the
    world over the file first. A new engine compiles every statement again; SQLite runs on the
    loop's thread, as in the demo, so no statement waits for aiosqlite's thread."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "case.db"
        self.database = Database(f"sqlite:///{self.path}", in_loop=True)
        self.router = build_router()

    async def handle(
        self, world: Path, sender: str, fields: dict[str, Any]
    ) -> tuple[list[str], bool]:
        """The templates answered and whether the database changed."""
        await self.database.dispose()  # the last case's connections, before its file goes
        for leftover in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copy(world, self.path)
        before = _snapshot(self.path)
        dispatcher = Dispatcher(
            self.database, self.router, MovableClock(NOW), DispatcherSettings(default_locale="en")
        )
        try:
            outcome = await dispatcher.handle(
                Event(
                    sender=SenderRef(PLATFORM, sender, locale="en"),
                    chat=ChatRef(PLATFORM, sender, is_group=False),
                    received_at=NOW,
                    **fields,
                )
            )
        finally:
            await self.database.dispose()
        after = _snapshot(self.path)
        return [r.text.template for r in outcome.replies if r.text is not None], before != after


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Cases:
    return Cases(tmp_path_factory.mktemp("cases"))


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("sender", list(PEOPLE))
@pytest.mark.parametrize("action", list(CASES))
async def test_buttons_and_forms(
    world: tuple[Path, dict[str, Any]], cases: Cases, action: str, sender: str, scope: str
) -> None:
    source, ids = world
    case = CASES[action]
    answered, changed = await cases.handle(source, sender, case.event(sender, scope, ids))
    assert answered, "every press gets an answer"
    assert "errors/internal" not in answered
    if case.may(sender, scope):
        assert not set(answered) & REFUSALS, (answered, "should have been allowed")
    else:
        assert set(answered) & REFUSALS, (answered, "should have been refused")
        assert not changed, "a refusal changed the database"


@pytest.mark.parametrize("sender", list(PEOPLE))
async def test_every_command_refuses_exactly_the_roles_it_does_not_admit(
    world: tuple[Path, dict[str, Any]], cases: Cases, sender: str
) -> None:
    source, _ = world
    role = _role(sender)
    for route in cases.router.commands():
        answered, changed = await cases.handle(
            source, sender, {"kind": EventKind.COMMAND, "command": route.name}
        )
        assert "errors/internal" not in answered, route.name
        admitted = route.open_to_strangers if role is None else role in route.roles
        refused = {"errors/not_allowed", "errors/not_a_member"} & set(answered)
        assert bool(refused) != admitted, (route.name, answered)
        if refused:
            assert not changed, route.name


async def test_a_forged_deed_form_cannot_name_a_volunteer(
    world: tuple[Path, dict[str, Any]], cases: Cases
) -> None:
    """Volunteers observe; they never earn points, so no deed may name one."""
    source, ids = world
    form = {"what": "Found a wallet", "who": str(ids["volunteer"]), "category": "general"}
    answered, changed = await cases.handle(
        source, "staff", {"kind": EventKind.FORM, "action": "deed.submit", "form": form}
    )
    assert answered == ["errors/stale_button"]
    assert not changed


def test_every_button_and_form_is_in_the_matrix() -> None:
    """A new action must be added to the matrix (or shown to act on the sender's own state)."""
    declared = {route.name for route in build_router().actions()}
    assert declared == set(CASES) | set(OWN_STATE_ONLY)
