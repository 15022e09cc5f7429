"""``uplift demo`` shows the whole product: colleagues in three outlets answer their drills, some
report good deeds and observations through the dispatcher as people do, a supervisor trying the
demo approves a colleague's deed, and ``/clock`` jumps from one push to the next, each sent at the
moment it falls due.

The demo is started as ``uplift demo`` starts it (``lively``: the plan's whole cast), on SQLite and
on PostgreSQL; what colleagues do on which day follows from a hash, the same on every run.
"""

from __future__ import annotations

import io
from pathlib import Path

from bot.demo import DemoOptions, DemoSession, demo_session
from campaigns.schema import Plan
from kernel import Role
from storage.models import Deed, Member, Observation, OutboxMessage, PointEntry
from tests.harness import at, rows, said

MOST_DAYS = 12  # days within which colleagues surely report a deed and an observation


def lively(plan: Plan, db_url: str, role: Role, files: Path) -> DemoOptions:
    return DemoOptions(
        role=role, plan=plan, db_path=None, locale="en", db_url=db_url, lively=True, files_dir=files
    )


async def seated(bot: DemoSession) -> dict[str, list[str]]:
    """Who sits in which unit, by unit key."""
    async with bot.database.store() as store:
        home = await store.units.get(bot.people.unit_id)
        assert home is not None
        units = {u.id: u.key for u in await store.units.of_organisation(home.organisation_id)}
    found: dict[str, list[str]] = {}
    for member in await rows(bot, Member):
        found.setdefault(units[member.unit_id], []).append(member.display_name)
    return found


async def deeds_to_approve(bot: DemoSession) -> list[Deed]:
    return await rows(bot, Deed, Deed.unit_id == bot.people.unit_id, Deed.status == "pending")


async def observed(bot: DemoSession) -> list[Observation]:
    """Observations colleagues made about your unit."""
    return await rows(bot, Observation, Observation.unit_id == bot.people.unit_id)


async def test_a_supervisor_approves_a_colleagues_deed(
    db_url: str, plan: Plan, tmp_path: Path
) -> None:
    options = lively(plan, db_url, Role.SUPERVISOR, tmp_path / "files")
    async with demo_session(options, io.StringIO()) as bot:
        assert str(tmp_path / "files") in bot.welcome(Role.SUPERVISOR)
        # Colleagues in three outlets, each bound to its group chat.
        assert await seated(bot) == {
            "renmin-road": ["Alex Li", "Wang Fang", "Li Qiang", "Zhao Min", "Chen Jing"],
            "dongguan": ["Liu Yang", "Sun Yue"],
            "west-street": ["Zhou Tao"],
        }
        walked = [await bot.say("/clock 2027-01-04 08:00")]
        for _ in range(MOST_DAYS):
            if await deeds_to_approve(bot) and await observed(bot):
                break
            walked.append(await bot.say("/clock +1d"))
        [deed, *_] = await deeds_to_approve(bot)
        wang = (await rows(bot, Member, Member.display_name == "Wang Fang"))[0]
        assert deed.reporter_member_id == wang.id
        # Told in private, as a supervisor of the unit; nothing of the other outlets' chats or
        # of the colleagues' own messages is printed.
        printed = "\n".join(walked)
        told = said("deeds/to_approve", number=deed.id, reporter="Wang Fang")
        assert told in printed
        assert "group:dongguan" not in printed and "colleague-" not in printed

        queue = await bot.say("/approve")
        assert queue.startswith(said("deeds/queue", count=len(await deeds_to_approve(bot))))
        assert deed.description in queue
        approve = next(
            line.split("]")[0].strip(" [")
            for line in queue.splitlines()[queue.splitlines().index(deed.description) :]
            if "Approve" in line
        )
        approved = await bot.say(approve)
        assert approved.startswith(f"Approved #{deed.id}:")
        points = await rows(
            bot, PointEntry, PointEntry.member_id == wang.id, PointEntry.rule == "deed_approved"
        )
        assert [p.points for p in points] == [plan.scoring.points.deed_approved]

        # A colleague's observation about the outlet waits to be claimed (首问负责).
        [observation, *_] = await observed(bot)
        assert observation.observer_member_id is not None
        listed = await bot.say("/observations")
        assert observation.text in listed and "Claim it" in listed

        # The other outlets' colleagues answer their own drills: the outlets can be ranked.
        ranked = await bot.say("/leaderboard")
        for outlet in ("Renmin Road Outlet", "Dongguan Outlet", "West Street Outlet"):
            assert outlet in ranked.split("🏢")[1]

    # /clock jumped from push to push: each drill went out at the very moment it fell due, the
    # morning meeting (a walk in two-hour steps sent them up to two hours late).
    drills = await rows(bot, OutboxMessage, OutboxMessage.idempotency_key.startswith("drill:"))
    assert {m.chat_id for m in drills} == {
        "group:renmin-road",
        "group:dongguan",
        "group:west-street",
    }
    assert all(m.status == "sent" and m.sent_at == m.next_attempt_at for m in drills)
    assert drills[0].next_attempt_at == at("2027-01-04 08:30")


async def test_with_no_supervisor_trying_it_the_simulated_one_decides(
    db_url: str, plan: Plan, tmp_path: Path
) -> None:
    """A staff member's demo: Chen Jing, the outlet's supervisor, approves the deeds reported in
    it the day after, through the dispatcher like anyone; the reporter earns the points."""
    options = lively(plan, db_url, Role.STAFF, tmp_path / "files")
    async with demo_session(options, io.StringIO()) as bot:
        walked = [await bot.say("/clock 2027-01-04 08:00")]
        for _ in range(MOST_DAYS):
            reported = await rows(bot, Deed, Deed.unit_id == bot.people.unit_id)
            if reported and reported[0].status != "pending":
                break
            walked.append(await bot.say("/clock +1d"))
        [first, *_] = await rows(bot, Deed, Deed.unit_id == bot.people.unit_id)
        [chen] = await rows(bot, Member, Member.display_name == "Chen Jing")
        assert (first.status, first.decided_by_member_id) == ("approved", chen.id)
        assert first.decided_at is not None and first.decided_at > first.created_at
        points = await rows(bot, PointEntry, PointEntry.source == "deed")
        assert [(p.member_id, p.rule, p.ref_id) for p in points] == [
            (first.reporter_member_id, "deed_approved", first.id)
        ]
        # Others' messages are not yours to read: the notices went to Chen and the reporter.
        assert "colleague-" not in "\n".join(walked)
        assert await bot.say("/approve") == said("errors/not_allowed", command="approve")
