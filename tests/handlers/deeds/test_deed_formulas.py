"""A plan formula that fails at run time (security issue #10): the supervisor is told clearly, one
line is logged with the plan's formula, and nothing is stuck: the deed stays pending, can still be
rejected, and is approved once the plan is corrected. The same holds where inspections and awards
evaluate the plan's formulas.

Validation now evaluates every formula over the edge values of its names, so a failing formula
must have a blind spot those values cannot see: here it divides by zero for a deed of exactly 7
days (the edges are 0, 1 and 3,650 days). For awards no such blind spot exists with a fresh demo
(every figure is 0, an edge value), so that test edits the stored plan JSON in the database,
bypassing validation, as a plan loaded before this check existed would be.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.demo import YOU
from campaigns.loader import read_plan_text
from campaigns.schema import AssessmentRule, Plan
from handlers.awards.awards import suggest_awards
from handlers.inspections.assessment import assess
from kernel import EventKind, Refusal, Role, Text
from storage.models import Campaign, Deed, PointEntry
from tests.harness import PLANS, Office, open_office, rows, said

BUS_TEXT = (PLANS / "bus-operator.yaml").read_text(encoding="utf-8")
SUSTAINED = "points: min(60, 5 + days × 2)"
BLIND_SPOT = "min(60, 5 + days × 2) + 10 / (days - 7)"  # passes the edge check; 7 days fails
FIXED = "min(60, 5 + days × 2)"


@functools.cache
def bus_plan(points: str) -> Plan:
    """The bus operator's plan with the sustained-deed formula set to ``points``, validated
    (once per formula: reading a plan takes a good part of a second)."""
    assert BUS_TEXT.count(SUSTAINED) == 1
    reading = read_plan_text(BUS_TEXT.replace(SUSTAINED, f"points: {points}"))
    assert reading.problems == [], reading.problems
    assert reading.plan is not None
    return reading.plan


@pytest.fixture
async def here(db_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Office]:
    """The bus operator's demo office with the blind-spot formula, on SQLite and PostgreSQL,
    speaking the test's ``locale`` parameter."""
    plan = bus_plan(BLIND_SPOT)
    start = dt.datetime.combine(plan.starts_on, dt.time(7), ZoneInfo(plan.timezone))
    locale = getattr(request, "param", "en")
    async with open_office(plan, db_url, locale=locale, start=start) as office:
        yield office


def sustained_deed(who: int, days: str) -> dict[str, Any]:
    form = {"what": "Helped elderly riders board every morning", "who": str(who)}
    form.update({"category": "sustained-deed", "amount": "", "days": days, "level": ""})
    return {"kind": EventKind.FORM, "action": "deed.submit", "form": form}


def press(action: str, deed: int) -> dict[str, Any]:
    return {"kind": EventKind.ACTION, "action": action, "value": str(deed)}


def formula_failed(here: Office, number: int) -> str:
    plan = bus_plan(FIXED)
    [category] = [c for c in plan.scoring.deed_categories if c.key == "sustained-deed"]
    label = Text("deeds/category", {"zh": category.name.zh, "en": category.name.en})
    return said(
        "deeds/formula_failed",
        here.locale,
        number=number,
        category=label,
        reason="division_by_zero",
        detail="",
        limit=0,
    )


@pytest.mark.parametrize("here", ["en", "zh"], indirect=True)
async def test_a_failing_points_formula_refuses_clearly_and_leaves_the_deed_pending(
    here: Office, caplog: pytest.LogCaptureFixture
) -> None:
    liu = await here.member("colleague-1")
    here.chat("colleague-3")  # Zhou Hai, the line's supervisor
    await here.handle(YOU, **sustained_deed(liu.id, "7"))
    await here.handle(YOU, **sustained_deed(liu.id, "7"))
    assert [d.status for d in await rows(here, Deed)] == ["pending", "pending"]

    with caplog.at_level(logging.WARNING, logger="handlers.deeds.deeds"):
        answer = await here.handle("colleague-3", **press("deed.approve", 1))

    assert answer == formula_failed(here, 1)
    assert "#1" in answer
    assert ("cannot be approved" if here.locale == "en" else "暂时无法审批") in answer
    [record] = [r for r in caplog.records if r.name == "handlers.deeds.deeds"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None, "one line, no traceback"
    message = record.getMessage()
    assert "deed.formula_failed deed=1 category=sustained-deed" in message
    assert repr(BLIND_SPOT) in message and "division_by_zero" in message
    assert "\n" not in message

    # Nothing was recorded: the deed is pending, nobody has points, and it is still in the queue.
    assert [d.status for d in await rows(here, Deed)] == ["pending", "pending"]
    assert await rows(here, PointEntry, PointEntry.source == "deed") == []
    queue = await here.say(here.chat("colleague-3"), "/approve")
    assert queue.startswith(said("deeds/queue", here.locale, count=2))

    # It can still be rejected.
    assert await here.handle("colleague-3", **press("deed.approve", 2)) == formula_failed(here, 2)
    assert await here.handle("colleague-3", **press("deed.reject", 2)) == said(
        "deeds/ask_reason", here.locale, number=2
    )
    reason = {"kind": EventKind.TEXT, "text": "Reported twice"}
    assert await here.handle("colleague-3", **reason) == said(
        "deeds/rejected", here.locale, number=2
    )

    # The campaign office corrects the plan (``uplift campaign load``): approval now works.
    async with here.bot.database.store() as store:
        await store.plans.load(bus_plan(FIXED), here.bot.clock.now())
    assert await here.handle("colleague-3", **press("deed.approve", 1)) == said(
        "deeds/approved", here.locale, number=1, points=19, people=1
    )
    assert [d.status for d in await rows(here, Deed)] == ["approved", "rejected"]
    entries = await rows(here, PointEntry, PointEntry.source == "deed")
    assert [(e.member_id, e.rule, e.points) for e in entries] == [
        (liu.id, "deed_approved", 19),
        (
            (await here.member(YOU)).id,
            "deed_reported",
            bus_plan(FIXED).scoring.points.deed_reported,
        ),
    ]


async def test_the_same_formula_works_on_the_other_days(here: Office) -> None:
    liu = await here.member("colleague-1")
    here.chat("colleague-3")
    await here.handle(YOU, **sustained_deed(liu.id, "8"))
    points = round(min(60, 5 + 8 * 2) + 10 / (8 - 7))
    assert await here.handle("colleague-3", **press("deed.approve", 1)) == said(
        "deeds/approved", number=1, points=points, people=1
    )


# --- the same refusal where inspections and awards evaluate formulas ----------------------------


def test_an_assessment_formula_that_fails_refuses_the_inspection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rule = AssessmentRule.model_validate(
        {
            "key": "rank-bonus",
            "name": {"zh": "排名奖励", "en": "Rank bonus"},
            "kind": "reward",
            "when": "score >= target",
            "amount": "1000 / (unit_count - 2)",  # three units: fine; two: division by zero
        }
    )
    values = {
        "score": 96.0,
        "target": 95.0,
        "shortfall": 0.0,
        "rank": 1,
        "rank_from_bottom": 2,
        "unit_count": 2,
        "repeated_items": 0,
        "stage_number": 1,
    }
    with (
        caplog.at_level(logging.WARNING, logger="handlers.inspections.assessment"),
        pytest.raises(Refusal) as refused,
    ):
        assess([rule], "stage-1", values)

    assert refused.value.template == "inspections/formula_failed"
    assert refused.value.data == {
        "zh": "排名奖励",
        "en": "Rank bonus",
        "reason": "division_by_zero",
        "detail": "",
        "limit": 0,
    }
    for locale, words in (("en", '"Rank bonus" cannot be worked out'), ("zh", "“排名奖励”")):
        assert words in said(refused.value.template, locale, **refused.value.data)
    [record] = caplog.records
    assert record.exc_info is None
    assert "rank-bonus" in record.getMessage() and "1000 / (unit_count - 2)" in record.getMessage()
    # with three units the same rule works
    [outcome] = assess([rule], "stage-1", {**values, "unit_count": 3})
    assert outcome.amount == 1000


async def test_an_award_formula_that_fails_is_refused_to_a_person_and_skipped_by_the_job(
    demo_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plan = bus_plan(FIXED)
    assert [a.key for a in plan.scoring.awards] == ["star-driver", "best-line"]
    start = dt.datetime.combine(plan.starts_on, dt.time(7), ZoneInfo(plan.timezone))
    async with open_office(plan, demo_db, role=Role.SUPERVISOR, start=start) as here:
        # Bypassing validation, which would refuse it: every figure is 0 in a fresh demo.
        async with here.bot.database.transaction() as session:
            campaign = (await session.scalars(select(Campaign))).one()
            awards = campaign.plan["scoring"]["awards"]
            broken = [{**awards[0], "rank_by": "points / deeds"}, *awards[1:]]
            stored = {**campaign.plan, "scoring": {**campaign.plan["scoring"], "awards": broken}}
            await session.execute(
                update(Campaign).where(Campaign.id == campaign.id).values(plan=stored)
            )
            campaign_id = campaign.id
        async with here.bot.database.store() as store:
            found = await store.campaigns.get(campaign_id)
            assert found is not None
            units = await store.units.of_organisation(found.organisation_id)
            [root] = [u for u in units if u.parent_id is None]
            now = here.bot.clock.now()
            with caplog.at_level(logging.WARNING, logger="handlers.awards.awards"):
                with pytest.raises(Refusal) as refused:
                    await suggest_awards(store, found, root, "en", now)
                skipped = await suggest_awards(store, found, root, "en", now, skip_failed=True)

    assert refused.value.template == "awards/formula_failed"
    assert refused.value.data["reason"] == "division_by_zero"
    for locale in ("en", "zh"):
        assert said("awards/formula_failed", locale, **refused.value.data)
    assert [s.award.key for s in skipped] == ["best-line"]
    records = [r for r in caplog.records if r.name == "handlers.awards.awards"]
    assert len(records) == 2 and all(r.exc_info is None for r in records)
    assert "'points / deeds'" in records[0].getMessage()
