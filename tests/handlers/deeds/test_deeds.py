"""Good deeds (好人好事): reported with the form, missing values asked for by text, approved or
rejected by a supervisor of the unit, and scored by the plan's category formula.

The bus-operator plan has three categories: money recovered (asks the amount), social impact (asks
the level) and a sustained deed (asks the days); the postal-bank plan has none, so its deeds use
the general category and ``points.deed_approved``. Several people share one demo: each has a
console chat on the same dispatcher, and every push lands in its addressee's chat.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.demo import YOU
from campaigns.formula import parse_formula
from campaigns.schema import DEED_NAMES, Plan
from kernel import EventKind, Reply, Role, Text
from messages import Renderer
from storage.models import Deed, DeedMember, OutboxMessage, PointEntry
from tests.harness import Office, open_office, private, read_plan, rows, said

RENDER = Renderer()
MONEY, SOCIAL, SUSTAINED = "1", "2", "3"  # the category choices, in the plan's order


@pytest.fixture(scope="module")
def bus() -> Plan:
    return read_plan("bus-operator")


def formula_points(plan: Plan, category: str, **values: float) -> int:
    """The points the plan's formula gives, worked out with campaigns.formula directly."""
    assert plan.scoring.deed_categories
    [found] = [c for c in plan.scoring.deed_categories if c.key == category]
    filled = {"amount": 0.0, "days": 0.0, "level": 0.0, "people": 1.0, **values}
    return round(parse_formula(found.points, DEED_NAMES).evaluate(filled))


def office(
    plan: Plan, demo_db: Path, *, role: Role = Role.STAFF, locale: str = "en"
) -> AbstractAsyncContextManager[Office]:
    start = dt.datetime.combine(plan.starts_on, dt.time(7), ZoneInfo(plan.timezone))
    return open_office(plan, demo_db, role=role, locale=locale, start=start)


async def pushes(here: Office, template: str) -> list[int | None]:
    """Who was sent a message made from ``template``."""
    sent = await rows(here, OutboxMessage, OutboxMessage.member_id.is_not(None))
    return [m.member_id for m in sent if Reply.from_json(m.reply).text.template == template]


async def ledger(here: Office) -> list[tuple[int | None, str, int]]:
    entries = await rows(here, PointEntry, PointEntry.source == "deed")
    return [(e.member_id, e.rule, e.points) for e in entries]


def deed_form(who: str, category: str, **values: str) -> dict[str, Any]:
    """The submitted form as a platform delivers it (a Slack modal, say)."""
    form = {"what": "Helped a lost child find her mother", "who": who, "category": category}
    form.update({"amount": "", "days": "", "level": "", **values})
    return {"kind": EventKind.FORM, "action": "deed.submit", "form": form}


# --- money recovered: the form, a missing amount asked by text, approval ----------------------


async def test_money_recovered_reported_asked_approved_and_scored(bus: Plan, demo_db: Path) -> None:
    async with office(bus, demo_db) as here:
        zhou, liu = here.chat("colleague-3"), here.chat("colleague-1")
        me, liu_member = await here.member(YOU), await here.member("colleague-1")
        zhou_member = await here.member("colleague-3")

        out = await here.you("/deed")
        assert out.endswith("» What happened? (when, where, what was done)"), (
            "the form starts with what happened"
        )
        out = await here.you("Returned a lost wallet on the 6:40 run")
        assert out.splitlines()[1:] == [
            "  [1] me",
            "  [2] Liu Jianguo",
            "  [3] Huang Li",
            "  [4] Zhou Hai",
        ], "volunteers are not offered as doers"
        await here.you("1,2", MONEY)
        out = await here.you("-", "-", "-")  # no amount, days or level given
        name = bus.scoring.deed_categories[0].name
        category = Text("deeds/category", {"zh": name.zh, "en": name.en})
        assert out.endswith(said("deeds/ask_amount", given="", category=category))
        assert await rows(here, Deed) == []
        assert await here.you("lots") == said("deeds/ask_amount", given="lots", category=category)
        await here.you("/help")  # wandering off does not lose the report
        assert await here.you("3,000") == said("deeds/reported", number=1, own=True)

        [deed] = await rows(here, Deed)
        assert (deed.description, deed.category_key, deed.amount, deed.status) == (
            "Returned a lost wallet on the 6:40 run",
            "money-recovered",
            3000,
            "pending",
        )
        doers = [d.member_id for d in await rows(here, DeedMember)]
        assert doers == [me.id, liu_member.id]
        # The unit's supervisors are told; nothing is earned before approval.
        assert await pushes(here, "deeds/to_approve") == [zhou_member.id]
        assert zhou.take_transcript() == "\n".join(
            [private("colleague-3"), said("deeds/to_approve", number=1, reporter="Alex Li")]
        )
        assert await ledger(here) == []

        out = await here.say(zhou, "/approve")
        assert out.startswith(said("deeds/queue", count=1))
        assert "Recovered 3,000 yuan; reported by Alex Li" in out
        assert out.endswith("  [1] ✅ Approve\n  [2] ❌ Reject")
        points = formula_points(bus, "money-recovered", amount=3000, people=2)
        assert points == 40
        assert await here.say(zhou, "1") == said("deeds/approved", number=1, points=40, people=2)
        assert await here.say(zhou, "1") == said("deeds/already_decided", number=1)
        assert await here.say(zhou, "/approve") == said("deeds/queue_empty")

        assert await ledger(here) == [
            (me.id, "deed_approved", 40),
            (liu_member.id, "deed_approved", 40),
        ]
        notice = "\n".join(
            [private("colleague-1"), said("deeds/approved_notice", number=1, points=40)]
        )
        assert liu.take_transcript() == notice
        assert said("deeds/approved_notice", number=1, points=40) in await here.you("/help")
        # You were named, so no separate word for the reporter.
        assert await pushes(here, "deeds/approved_reporter") == []


async def test_each_category_follows_its_formula_and_repeats_do_nothing(
    bus: Plan, demo_db: Path
) -> None:
    async with office(bus, demo_db, locale="zh") as here:
        here.chat("colleague-3")  # Zhou Hai's own chat, where his notices go
        me = await here.member(YOU)
        huang, zhou = await here.member("colleague-2"), await here.member("colleague-3")

        # Social impact, level 2, for Huang Li; the platform delivers the submission twice.
        form = deed_form(str(huang.id), "social-impact", level="2")
        assert await here.handle(YOU, "form-1", **form) == said(
            "deeds/reported", "zh", number=1, own=False
        )
        assert await here.handle(YOU, "form-1", **form) == ""
        assert len(await rows(here, Deed)) == 1

        # A sustained deed with the days missing, then given in Chinese chat.
        out = await here.you("/deed", "每天早班提前到站帮老人上车", "1", SUSTAINED, "-", "-", "-")
        assert out.endswith(
            said(
                "deeds/ask_days",
                "zh",
                given="",
                category=Text(
                    "deeds/category",
                    {
                        "zh": bus.scoring.deed_categories[2].name.zh,
                        "en": bus.scoring.deed_categories[2].name.en,
                    },
                ),
            )
        )
        assert await here.you("20") == said("deeds/reported", "zh", number=2, own=True)

        social = formula_points(bus, "social-impact", level=2)
        sustained = formula_points(bus, "sustained-deed", days=20)
        assert (social, sustained) == (30, 45)
        approve = {"kind": EventKind.ACTION, "action": "deed.approve"}
        first = await here.handle("colleague-3", "ok-1", value="1", **approve)
        assert first == said("deeds/approved", "zh", number=1, points=30, people=1)
        assert await here.handle("colleague-3", "ok-1", value="1", **approve) == ""
        second = await here.handle("colleague-3", "ok-2", value="2", **approve)
        assert second == said("deeds/approved", "zh", number=2, points=45, people=1)

    reporter = bus.scoring.points.deed_reported
    assert await ledger(here) == [
        (huang.id, "deed_approved", 30),
        (me.id, "deed_reported", reporter),
        (me.id, "deed_approved", 45),
    ]
    assert await pushes(here, "deeds/approved_notice") == [huang.id, me.id]
    assert await pushes(here, "deeds/approved_reporter") == [me.id]
    assert await pushes(here, "deeds/to_approve") == [zhou.id, zhou.id]
    [first_deed, second_deed] = await rows(here, Deed)
    assert (first_deed.level, second_deed.days) == (2, 20)
    assert first_deed.decided_by_member_id == zhou.id


# --- rejection -------------------------------------------------------------------------------


async def test_rejection_asks_a_reason_and_tells_the_reporter(bus: Plan, demo_db: Path) -> None:
    async with office(bus, demo_db) as here:
        zhou = here.chat("colleague-3")
        liu = await here.member("colleague-1")
        await here.handle(YOU, **deed_form(str(liu.id), "social-impact", level="3"))
        out = await here.say(zhou, "/approve")
        assert "impact level 3; reported by Alex Li" in out
        assert await here.say(zhou, "2") == said("deeds/ask_reason", number=1)
        blank = await here.handle("colleague-3", kind=EventKind.TEXT, text="  ")
        assert blank == said("deeds/reason_needed")
        reason = {"kind": EventKind.TEXT, "text": "No media report found; add the link"}
        assert await here.handle("colleague-3", "why-1", **reason) == said(
            "deeds/rejected", number=1
        )
        assert await here.handle("colleague-3", "why-1", **reason) == ""
        assert await here.say(zhou, "2") == said("deeds/already_decided", number=1)
        assert await here.say(zhou, "1") == said("deeds/already_decided", number=1)
        told = await here.you("/help")
        assert told.startswith(
            "\n".join(
                [
                    private(YOU),
                    said(
                        "deeds/rejected_notice",
                        number=1,
                        reason="No media report found; add the link",
                    ),
                ]
            )
        )
        [deed] = await rows(here, Deed)
        assert (deed.status, deed.decision_reason) == (
            "rejected",
            "No media report found; add the link",
        )
        assert await ledger(here) == []
        assert await pushes(here, "deeds/rejected_notice") == [(await here.member(YOU)).id]


# --- who may decide --------------------------------------------------------------------------


async def test_nobody_decides_a_deed_they_reported_or_are_named_in(
    bus: Plan, demo_db: Path
) -> None:
    async with office(bus, demo_db, role=Role.SUPERVISOR) as here:
        liu, zhou_member = await here.member("colleague-1"), await here.member("colleague-3")
        # You (a supervisor) report a deed by Liu Jianguo: Zhou Hai is asked, not you.
        await here.handle(YOU, **deed_form(str(liu.id), "social-impact", level="1"))
        assert await pushes(here, "deeds/to_approve") == [zhou_member.id]
        assert "[1] ✅ Approve" in await here.you("/approve")
        assert await here.you("1") == said("deeds/not_own")
        assert await here.you("2") == said("deeds/not_own")
        # A deed naming Zhou Hai: Zhou may not decide it either.
        await here.handle(YOU, **deed_form(str(zhou_member.id), "social-impact", level="1"))
        approve = {"kind": EventKind.ACTION, "action": "deed.approve", "value": "2"}
        assert await here.handle("colleague-3", **approve) == said("deeds/not_own")
        # Zhou decides the first one.
        assert await here.handle("colleague-3", **{**approve, "value": "1"}) == said(
            "deeds/approved", number=1, points=10, people=1
        )
        assert [d.status for d in await rows(here, Deed)] == ["approved", "pending"]


async def test_staff_cannot_approve_volunteers_cannot_report_long_text_is_refused(
    bus: Plan, demo_db: Path
) -> None:
    async with office(bus, demo_db) as here:
        liu = await here.member("colleague-1")
        await here.handle("colleague-3", **deed_form(str(liu.id), "social-impact", level="1"))
        assert await here.you("/approve") == said("errors/not_allowed", command="approve")
        press = {"kind": EventKind.ACTION, "action": "deed.approve", "value": "1"}
        assert await here.handle(YOU, **press) == said("errors/not_allowed_button")
        # Over-long text is refused with the limit, whatever the platform's form let through.
        rambling = deed_form(str(liu.id), "social-impact", level="1", what="好" * 1001)
        assert await here.handle(YOU, **rambling) == said("errors/too_long", limit=1000)
        asked = await here.you("/deed")
        # Refused as it is typed, and the same field is asked again.
        again = await here.you("好" * 1001)
        assert again == f"{said('errors/too_long', limit=1000)}\n{asked.splitlines()[-1]}"
        assert await here.you("/cancel") == said("console/form_cancelled")
        assert await rows(here, Deed, Deed.reporter_member_id == (await here.member(YOU)).id) == []
        volunteer = here.chat("colleague-4")
        assert await here.say(volunteer, "/deed") == said("errors/not_allowed", command="deed")
        assert [d.status for d in await rows(here, Deed)] == ["pending"]


# --- a plan without categories -----------------------------------------------------------------


async def test_postal_bank_uses_the_general_category(plan: Plan, demo_db: Path) -> None:
    assert plan.scoring.deed_categories == []
    async with office(plan, demo_db) as here:
        chen = here.chat("colleague-4")
        me, wang = await here.member(YOU), await here.member("colleague-1")
        await here.you("/deed", "Stayed late to help an elderly customer")
        out = await here.you("2")  # Wang Fang: the only category is taken without asking
        assert out == said("deeds/reported", number=1, own=False), "nothing more is asked"
        assert said("deeds/to_approve", number=1, reporter="Alex Li") in await here.say(
            chen, "/approve"
        )
        approved = await here.say(chen, "1")
        points = plan.scoring.points.deed_approved
        assert approved == said("deeds/approved", number=1, points=points, people=1)
    assert await ledger(here) == [
        (wang.id, "deed_approved", points),
        (me.id, "deed_reported", plan.scoring.points.deed_reported),
    ]
    [deed] = await rows(here, Deed)
    assert (deed.category_key, deed.amount, deed.days, deed.level) == ("general", None, None, None)
