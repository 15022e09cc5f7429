"""Getting in: nobody enrols themselves. Invitation-only by default (/invite, then /start
<code>); an organisation whose plan says so lets strangers ask to join a unit, and a supervisor
of that unit approves or declines. Everything through the demo office's console chats."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select, update

from campaigns.schema import Plan
from kernel import MAX_BUTTONS, EventKind, Role, Text
from storage.models import JoinCode, JoinRequest, Member, Organisation, PlatformIdentity, Unit
from tests.harness import Office, open_office, private, rows, said

START = "2027-01-04 09:00"
CODE = re.compile(r"/start (\S+)")


@asynccontextmanager
async def office(
    plan: Plan, demo_db: Path, *, joining: str = "invitation"
) -> AsyncIterator[Office]:
    async with open_office(plan, demo_db, role=Role.SUPERVISOR, start=START) as here:
        async with here.bot.database.transaction() as session:
            await session.execute(update(Organisation).values(joining=joining))
        yield here


async def test_by_default_a_stranger_needs_an_invitation(plan: Plan, demo_db: Path) -> None:
    async with office(plan, demo_db) as here:
        stranger = here.chat("stranger")
        for asked in ("/join", "/start"):
            assert await here.say(stranger, asked) == said("shared/way_in_invitation")
        assert await here.say(stranger, "/start made-up") == said("members/bad_code")
        # Nothing a stranger sends makes them a member, and a forged press asks nobody.
        press = {"kind": EventKind.ACTION, "action": "join.unit", "value": "3"}
        assert await here.handle("stranger", **press) == said("shared/way_in_invitation")
        assert await rows(here, PlatformIdentity, PlatformIdentity.external_id == "stranger") == []
        assert await rows(here, JoinRequest) == []

        # You, the outlet's supervisor, invite them; the code lets them in as staff.
        invitation = await here.you("/invite renmin-road")
        code = CODE.search(invitation)
        assert code is not None, invitation
        joined = await here.say(stranger, f"/start {code[1]}")
        assert joined == said("members/joined", unit="Renmin Road Outlet")
        [newcomer] = await rows(here, Member, Member.display_name == "stranger")
        assert newcomer.role == Role.STAFF


async def test_a_supervisor_invites_only_staff_and_volunteers_to_units_they_cover(
    plan: Plan, demo_db: Path
) -> None:
    async with office(plan, demo_db) as here:
        assert await here.you("/invite renmin-road supervisor") == said("members/invite_role")
        refused = await here.you("/invite dongguan")
        assert refused == said("members/unknown_unit", given="dongguan", units="renmin-road")
        assert "/start " in await here.you("/invite renmin-road volunteer")
        staff = here.chat("colleague-1")
        assert await here.say(staff, "/invite renmin-road") == said(
            "errors/not_allowed", command="invite"
        )


async def test_with_approval_a_stranger_asks_and_a_supervisor_decides(
    plan: Plan, demo_db: Path
) -> None:
    async with office(plan, demo_db, joining="approval") as here:
        await here.add("boss", "Dong Boss", Role.SUPERVISOR, "dongguan")
        boss, chen = here.chat("boss"), here.chat("colleague-4")
        asker, other = here.chat("asker"), here.chat("other")

        offered = await here.say(asker, "/join")
        renmin = re.search(r"\[(\d+)\] Renmin Road Outlet", offered)
        assert offered.startswith(said("members/pick", more=0)) and renmin is not None
        sent = await here.say(asker, renmin[1])
        assert sent == said("members/request_sent", unit="Renmin Road Outlet")
        # Asking again does not ask twice.
        assert await here.say(asker, "/join", renmin[1]) == f"{offered}\n{sent}"
        [request] = await rows(here, JoinRequest)
        assert (request.status, request.display_name) == ("pending", "asker")

        # The outlet's supervisors are asked, you and Chen Jing, once; not the other outlet's.
        asks = "🙋 asker asks to join Renmin Road Outlet."
        assert (await here.you()).count(asks) == 1
        assert chen.take_transcript().count(asks) == 1
        assert boss.take_transcript() == ""

        approve = {"kind": EventKind.ACTION, "action": "join.approve", "value": str(request.id)}
        # Another outlet's supervisor cannot decide it.
        assert await here.handle("boss", **approve) == said("errors/stale_button")
        approved = await here.handle("you", **approve)
        assert approved == said("members/request_approved", name="asker")
        assert await here.handle("colleague-4", **approve) == said("members/request_decided")
        assert said("members/joined", unit="Renmin Road Outlet") in asker.take_transcript()
        [newcomer] = await rows(here, Member, Member.display_name == "asker")
        assert (newcomer.role, newcomer.unit_id) == (Role.STAFF, request.unit_id)

        # A second stranger is declined and told so in their own chat.
        await here.say(other, "/join", renmin[1])
        [_, second] = await rows(here, JoinRequest)
        decline = {"kind": EventKind.ACTION, "action": "join.decline", "value": str(second.id)}
        assert await here.handle("you", **decline) == said("members/request_declined", name="other")
        told = said("members/declined_notice", unit="Renmin Road Outlet")
        assert other.take_transcript() == f"{private('other')}\n{told}"
        assert await rows(here, Member, Member.display_name == "other") == []


async def test_a_stranger_is_told_the_same_way_in_everywhere_and_may_choose_a_language(
    plan: Plan, demo_db: Path
) -> None:
    async with office(plan, demo_db, joining="approval") as here:
        stranger = here.chat("stranger")
        way_in = said("shared/way_in_approval")
        assert way_in in await here.say(stranger, "/help")
        assert await here.say(stranger, "/home") == way_in
        # /lang works before joining, and the choice is kept when they join.
        assert await here.say(stranger, "/lang zh") == said("language/set", "zh")
        assert said("shared/way_in_approval", "zh") in await here.say(stranger, "/help")
        offered = await here.say(stranger, "/join")
        renmin = re.search(r"\[(\d+)\] 人民路网点", offered)
        assert renmin is not None, offered
        await here.say(stranger, renmin[1])
        [request] = await rows(here, JoinRequest)
        approve = {"kind": EventKind.ACTION, "action": "join.approve", "value": str(request.id)}
        await here.handle("you", **approve)
        [newcomer] = await rows(here, Member, Member.display_name == "stranger")
        assert newcomer.locale == "zh"
        assert said("members/joined", "zh", unit="人民路网点") in stranger.take_transcript()


async def test_an_organisation_of_many_outlets_offers_a_few_and_finds_the_rest(
    plan: Plan, demo_db: Path
) -> None:
    async with office(plan, demo_db, joining="approval") as here:
        async with here.bot.database.transaction() as session:
            [renmin] = await session.scalars(select(Unit).where(Unit.key == "renmin-road"))
            for n in range(1, 61):
                session.add(
                    Unit(
                        organisation_id=renmin.organisation_id,
                        parent_id=renmin.parent_id,
                        key=f"outlet-{n}",
                        name_zh=f"第{n}网点",
                        name_en=f"Outlet No. {n}",
                        timezone=renmin.timezone,
                        locale=renmin.locale,
                        morning_meeting=renmin.morning_meeting,
                        calendar=renmin.calendar,
                        depth=renmin.depth,
                    )
                )
        asker = here.chat("asker")
        offered = await here.say(asker, "/join")
        assert len(re.findall(r"\[\d+\]", offered)) == MAX_BUTTONS
        assert "more are not shown: type /join and part of your unit's name" in offered
        found = await here.say(asker, "/join no. 4")
        assert re.findall(r"\] (Outlet No\. \d+)", found) == ["Outlet No. 4"] + [
            f"Outlet No. {n}" for n in range(40, 50)
        ]
        assert "more are not shown" not in found
        picked = re.search(r"\[(\d+)\] Outlet No\. 47", found)
        assert picked is not None
        sent = await here.say(asker, picked[1])
        assert sent == said("members/request_sent", unit="Outlet No. 47")
        nothing = await here.say(asker, "/join Atlantis")
        assert nothing == said("members/no_unit_found", text="Atlantis")


# --- roles, in the words of either language ----------------------------------------------------


async def test_an_admin_types_a_role_in_either_language(plan: Plan, db_url: str) -> None:
    """One word per role per language (主管 is the supervisor, nowhere 负责人), and every
    language's word is read: /role and /invite take 主管 as well as supervisor."""
    async with open_office(plan, db_url, role=Role.ADMIN, locale="zh", start=START) as here:
        wang = here.chat("colleague-1")
        supervisor = Text("roles/supervisor")
        assert said("roles/supervisor", "zh") == "主管"
        assert await here.you("/role 王芳 主管") == said(
            "members/role_set", "zh", name="王芳", role=supervisor
        )
        assert (await here.member("colleague-1")).role == Role.SUPERVISOR
        assert wang.take_transcript() == "\n".join(
            [private("colleague-1", "zh"), said("members/role_notice", "zh", role=supervisor)]
        )
        # An English word in a Chinese chat, and the role is said back in Chinese.
        assert await here.you("/role 王芳 volunteer") == said(
            "members/role_set", "zh", name="王芳", role=Text("roles/volunteer")
        )
        assert (await here.member("colleague-1")).role == Role.VOLUNTEER
        assert await here.you("/role 王芳 老板") == said("members/role_usage", "zh")
        invitation = await here.you("/invite renmin-road 监督员")
        assert "(监督员)" in invitation, invitation
        [code] = await rows(here, JoinCode)
        assert code.role == Role.VOLUNTEER

    # The same office in English: a Chinese word is understood, the answer says the English one.
    async with open_office(plan, db_url, role=Role.ADMIN, locale="en") as here:
        here.chat("colleague-1")  # where the notice goes
        assert await here.you("/role 王芳 主管") == said(
            "members/role_set", name="王芳", role=Text("roles/supervisor")
        )
        assert (await here.member("colleague-1")).role == Role.SUPERVISOR
        assert await here.you("/role 王芳 boss") == said("members/role_usage")
