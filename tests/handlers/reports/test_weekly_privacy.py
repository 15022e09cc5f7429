"""The weekly summary goes to the unit's group chat, where volunteers and visitors may be: it
names a few of the week's leaders (as many as the plan allows), never whoever hides their name,
and never the whole list."""

from __future__ import annotations

from pathlib import Path

from campaigns.schema import Plan
from kernel import EventKind
from tests.harness import Office, open_demo

MONDAY, FRIDAY_EVENING = "2027-01-04 07:00", "2027-01-08 17:30"


async def week_summary(plan: Plan, demo_db: Path, *, hide: str | None = None) -> str:
    """The weekly summary the unit's chat got on Friday, after a week of drills."""
    async with open_demo(plan, demo_db, start=MONDAY) as bot:
        if hide is not None:
            office = Office(bot)
            press = {"kind": EventKind.ACTION, "action": "leaderboard.name", "value": "hide"}
            await office.handle(hide, **press)
        out = await bot.say(f"/clock {FRIDAY_EVENING}")
    # The unit's chat speaks the demo's language, English; the names are as people gave them.
    summaries = [part for part in out.split("── ") if ": the week of " in part]
    assert len(summaries) == 1, out
    return summaries[0]


async def test_the_week_names_its_leaders(plan: Plan, demo_db: Path) -> None:
    summary = await week_summary(plan, demo_db)
    assert "this week:" in summary and "Wang Fang" in summary


async def test_whoever_hides_their_name_is_never_named(plan: Plan, demo_db: Path) -> None:
    summary = await week_summary(plan, demo_db, hide="colleague-1")
    assert "Wang Fang" not in summary
    assert "Li Qiang" in summary  # the others still are, at their own places


async def test_a_plan_may_name_nobody_in_groups(plan: Plan, demo_db: Path) -> None:
    quiet = plan.model_copy(
        update={"scoring": plan.scoring.model_copy(update={"group_leaders": 0})}
    )
    summary = await week_summary(quiet, demo_db)
    for name in ("Wang Fang", "Li Qiang", "Zhao Min", "Chen Jing", "Alex Li"):
        assert name not in summary
    assert "Nobody scored" not in summary  # the week's figures, without names
    assert "Drill answers: " in summary
