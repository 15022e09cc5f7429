"""Observations (监督意见) from a volunteer observer (义务监督员), handled under first-question
responsibility (首问负责制): the unit's supervisors are told (without the observer's name when it is
anonymous), the first to claim owns it, an overdue one escalates up the unit tree once per level as
the clock moves, closing needs a resolution, the observer is told and rates it once, and verified
praise earns the person praised. Volunteers see only their own observations and never scores.
"""

from __future__ import annotations

import datetime as dt
import re
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.adapters.console import ConsoleChat
from bot.demo import YOU
from campaigns.schema import Plan
from kernel import EventKind, Reply, Role, Text
from messages import Renderer
from storage.models import Conversation, Observation, OutboxMessage, PointEntry
from tests.harness import Office, at, open_office, private, rows, said

ZONE_NAME = "Asia/Shanghai"
ZONE = ZoneInfo(ZONE_NAME)
RENDER = Renderer()
START = "2027-01-11 07:00"  # a Monday in stage 1, before the morning drill
HOUR = dt.timedelta(hours=1)
COMPLAINT, PRAISE = "2", "1"
SIGNED, ANONYMOUS = "1", "2"


def number_of(out: str, label: str) -> str:
    """The number typed to pick ``label`` among the choices just printed."""
    found = re.search(rf"^  \[(\d+)\] {re.escape(label)}$", out, re.MULTILINE)
    assert found is not None, f"{label!r} is not offered in:\n{out}"
    return found[1]


def office(plan: Plan, demo_db: Path, *, locale: str = "en") -> AbstractAsyncContextManager[Office]:
    return open_office(plan, demo_db, role=Role.SUPERVISOR, locale=locale, start=START)


async def sent(here: Office, template: str) -> list[OutboxMessage]:
    messages = await rows(here, OutboxMessage, OutboxMessage.member_id.is_not(None))
    return [m for m in messages if Reply.from_json(m.reply).text.template == template]


def rendered(message: OutboxMessage) -> str:
    text = Reply.from_json(message.reply).text
    assert text is not None
    return RENDER.render(text, message.locale)


async def observe(here: Office, chat: ConsoleChat, kind: str, text: str, signed: str) -> str:
    """Fill in /observe about the demo unit (Renmin Road Outlet) and submit it."""
    out = await here.say(chat, "/observe")
    await here.say(chat, number_of(out, "Renmin Road Outlet"), kind, text)
    return await here.say(chat, signed)


# --- an anonymous complaint: claimed, overdue, escalated, closed, rated ----------------------


async def test_a_complaint_claimed_escalated_closed_and_rated(plan: Plan, demo_db: Path) -> None:
    async with office(plan, demo_db) as here:
        vera_id = await here.add("vera", "Vera Volunteer", Role.VOLUNTEER, None)
        paul_id = await here.add("paul", "Paul Parent", Role.SUPERVISOR, "chengdong")
        kim_id = await here.add("kim", "Kim County", Role.SUPERVISOR, "linhe-county")
        vera, chen = here.chat("vera"), here.chat("colleague-4")
        paul, kim = here.chat("paul"), here.chat("kim")
        me, chen_id = (await here.member(YOU)).id, (await here.member("colleague-4")).id
        hours = plan.deadlines.observation_close_hours
        created = here.bot.clock.now()
        due = created + dt.timedelta(hours=hours)

        out = await observe(here, vera, COMPLAINT, "Teller at window 2 was rude", SIGNED)
        assert out == said("observations/saved", number=1, hours=48, anonymous=False, points=0)
        assert await here.say(vera, "no photo") == said("observations/no_photo")

        # Both supervisors of the unit are told who observed it.
        notices = await sent(here, "observations/new_notice")
        assert sorted(m.member_id for m in notices) == sorted([me, chen_id])
        for message in notices:
            assert Reply.from_json(message.reply).text.data["observer"] == "Vera Volunteer"
        notice = said(
            "observations/new_notice",
            number=1,
            kind=Text("observations/kind_complaint"),
            unit_zh="人民路网点",
            unit_en="Renmin Road Outlet",
            text="Teller at window 2 was rude",
            observer="Vera Volunteer",
            due=due,
            zone=ZONE_NAME,
        )
        assert chen.take_transcript() == f"{private('colleague-4')}\n{notice}\n  [1] 🙋 Claim it"

        # First come, first owner; the second gets "already claimed".
        # Chen Jing presses Claim; her platform delivers the press twice.
        claimed = said("observations/claimed", number=1, due=due, zone=ZONE_NAME, overdue=False)
        press = {"kind": EventKind.ACTION, "action": "observe.claim", "value": "1"}
        assert await here.handle("colleague-4", "claim-1", **press) == claimed
        assert await here.handle("colleague-4", "claim-1", **press) == ""
        late = await here.you("1")
        assert late.endswith(said("observations/already_claimed", number=1, owner="Chen Jing"))

        # Not closed in time: one level up at the deadline, the next level a period later.
        await here.jump(due - 2 * HOUR)
        await here.walk(due - dt.timedelta(minutes=30))
        assert await sent(here, "observations/escalated_notice") == []
        await here.walk(due + HOUR)
        [to_paul] = await sent(here, "observations/escalated_notice")
        assert to_paul.member_id == paul_id
        assert to_paul.idempotency_key.startswith(f"obs-escalate:1:1:{paul_id}@")
        notice = {
            "number": 1,
            "unit_zh": "人民路网点",
            "unit_en": "Renmin Road Outlet",
            "text": "Teller at window 2 was rude",
            "due": due,
            "zone": ZONE_NAME,
            "owner": "Chen Jing",  # claimed: the level it reached presses the owner
        }
        escalated = said(
            "observations/escalated_notice",
            **notice,
            next_at=due + dt.timedelta(hours=hours),
            higher="Linhe County Branch",
        )
        assert "Chen Jing claimed it but has not closed it" in escalated
        assert "goes up to Linhe County Branch" in escalated
        assert paul.take_transcript() == f"{private('paul')}\n{escalated}"
        # The observer is told what happened, level by level.
        told = {"number": 1, "due": due, "zone": ZONE_NAME}
        up = said("observations/escalated_observer", **told, level="Chengdong Sub-branch")
        assert vera.take_transcript() == f"{private('vera')}\n{up}"
        await here.jump(due + dt.timedelta(hours=hours - 1))
        assert len(await sent(here, "observations/escalated_notice")) == 1
        await here.walk(due + dt.timedelta(hours=hours + 1))
        to_paul_again, to_kim = await sent(here, "observations/escalated_notice")
        assert (to_paul_again.id, to_kim.member_id) == (to_paul.id, kim_id)
        at_the_top = said("observations/escalated_notice", **notice, next_at=None, higher=None)
        assert "There is no higher level" in at_the_top
        assert kim.take_transcript() == f"{private('kim')}\n{at_the_top}"
        up = said("observations/escalated_observer", **told, level="Linhe County Branch")
        assert vera.take_transcript() == f"{private('vera')}\n{up}"
        # The top of the tree: nowhere further to go, nobody told again.
        await here.jump(due + dt.timedelta(hours=3 * hours + 2))
        assert len(await sent(here, "observations/escalated_notice")) == 2
        assert paul.take_transcript() == "" and kim.take_transcript() == ""
        [observation] = await rows(here, Observation)
        assert (observation.escalation_count, observation.status) == (2, "claimed")

        # Closing needs a resolution; the observer is told and asked to rate it.
        out = await here.say(chen, "/observations")
        assert "escalated 2 levels" in out and "(overdue); owner Chen Jing" in out
        assert out.endswith("  [1] ✅ Close it")
        assert await here.say(chen, "1") == said("observations/ask_resolution", number=1)
        blank = await here.handle("colleague-4", kind=EventKind.TEXT, text=" ")
        assert blank == said("observations/resolution_needed")
        resolution = {"kind": EventKind.TEXT, "text": "Apologised; the teller was retrained"}
        closed = await here.handle("colleague-4", "close-1", **resolution)
        assert closed == said("observations/closed", number=1, late=True)
        assert await here.handle("colleague-4", "close-1", **resolution) == ""
        told = said("observations/closed_notice", number=1, resolution=resolution["text"])
        ratings = "\n".join(f"  [{n}] {n}" for n in range(1, 6))
        assert vera.take_transcript() == f"{private('vera')}\n{told}\n{ratings}"
        assert len(await sent(here, "observations/closed_notice")) == 1

        # The observer rates it once.
        rate = {"kind": EventKind.ACTION, "action": "observe.rate", "value": "1:4"}
        assert await here.handle("vera", "rate-1", **rate) == said("observations/rated", rating=4)
        assert await here.handle("vera", "rate-1", **rate) == ""
        assert await here.say(vera, "5") == said("observations/already_rated")
        [observation] = await rows(here, Observation)
        assert (observation.status, observation.rating) == ("closed", 4)
        assert observation.closed_by_member_id == chen_id
        assert observation.resolution == "Apologised; the teller was retrained"

        # A volunteer sees their own observations and never scores.
        mine = await here.say(vera, "/observe mine")
        assert mine == said(
            "observations/mine",
            lines=[
                Text(
                    "observations/mine_line",
                    {
                        "number": 1,
                        "kind": Text("observations/kind_complaint"),
                        "status": Text("observations/status_closed"),
                        "text": "Teller at window 2 was rude",
                        "resolution": "Apologised; the teller was retrained",
                        "rating": 4,
                    },
                )
            ],
        )
        for command in ("score", "leaderboard", "observations"):
            refused = said("errors/not_allowed", command=command)
            assert await here.say(vera, f"/{command}") == refused
    assert vera_id not in [e.member_id for e in await rows(here, PointEntry)]


# --- anonymous: nothing links the observation to the person -------------------------------------


async def test_an_anonymous_observation_leaves_no_trace_of_its_observer(
    plan: Plan, demo_db: Path
) -> None:
    async with office(plan, demo_db) as here:
        wang_id = (await here.member("colleague-1")).id
        wang, chen = here.chat("colleague-1"), here.chat("colleague-4")
        out = await observe(here, wang, COMPLAINT, "The queue machine is broken", ANONYMOUS)
        assert out == said("observations/saved", number=1, hours=48, anonymous=True, points=0)
        # No photo step: a conversation about it would link it to Wang Fang.
        assert await here.say(wang, "a photo") == said("errors/not_understood")
        notices = await sent(here, "observations/new_notice")
        assert notices and all(
            Reply.from_json(m.reply).text.data["observer"] is None for m in notices
        )
        # Claimed and closed: the observer is not told, and cannot be.
        await here.say(chen, "/observations", "1")
        await here.say(chen, "/observations", "1", "Repaired the same day")
        assert wang.take_transcript() == ""
        assert await sent(here, "observations/closed_notice") == []
        assert await here.say(wang, "/observe mine") == said("observations/none_mine")

    [observation] = await rows(here, Observation)
    assert (observation.anonymous, observation.observer_member_id) == (True, None)
    assert observation.status == "closed"
    # Not a point, a key, a queued message or a conversation that names Wang Fang for it.
    assert [e for e in await rows(here, PointEntry) if e.member_id == wang_id] == []
    for message in await rows(here, OutboxMessage):
        assert message.member_id != wang_id
    assert await rows(here, Conversation, Conversation.member_id == wang_id) == []


# --- signed praise, credited to a colleague; "mine" is only mine (in Chinese) -----------------


async def test_signed_praise_credits_the_person_praised(plan: Plan, demo_db: Path) -> None:
    async with office(plan, demo_db, locale="zh") as here:
        await here.add("vera", "志愿者小维", Role.VOLUNTEER, "renmin-road")
        vera, wang = here.chat("vera"), here.chat("colleague-1")
        wang_id = (await here.member("colleague-1")).id

        # Over-long text is refused with the limit, whatever the platform's form let through.
        form = {"unit": str(here.bot.people.unit_id), "kind": "praise", "anonymous": "no"}
        rambling = {"kind": EventKind.FORM, "action": "observe.submit"}
        refused = await here.handle("vera", **rambling, form={**form, "text": "好" * 1001})
        assert refused == said("errors/too_long", "zh", limit=1000)

        out = await here.say(vera, "/observe")
        out = await here.say(vera, number_of(out, "人民路网点"), PRAISE, "王芳耐心帮老人办业务")
        out = await here.say(vera, SIGNED)
        assert out == said(
            "observations/saved", "zh", number=1, hours=48, anonymous=False, points=0
        )
        # Signed: the notice names the observer.
        [first, second] = await sent(here, "observations/new_notice")
        assert Reply.from_json(first.reply).text.data["observer"] == "志愿者小维"
        assert "来自 志愿者小维" in rendered(first) and "来自 志愿者小维" in rendered(second)

        # A staff member's own observation (about the same unit) earns the submitter points.
        await here.say(wang, "/observe")
        out = await here.say(wang, "1", "3", "叫号机声音太小", SIGNED)
        assert out.endswith(
            said("observations/saved", "zh", number=2, hours=48, anonymous=False, points=3)
        )

        # You claim the praise, close it, and credit Wang Fang.
        out = await here.you("/observations")
        assert said("observations/open_count", "zh", count=2) in out
        press = {"kind": EventKind.ACTION, "action": "observe.claim", "value": "1"}
        assert await here.handle(YOU, **press) == said(
            "observations/claimed",
            "zh",
            number=1,
            due=at(START) + dt.timedelta(hours=48),
            zone=ZONE_NAME,
            overdue=False,
        )
        # Praise closes with a form: the resolution, then whom it credits.
        close = {"kind": EventKind.ACTION, "action": "observe.close", "value": "1"}
        form = await here.form(YOU, **close)
        assert (form.form_id, form.state) == ("observe.resolve", "1")
        [_, credit] = form.fields
        names = {RENDER.render(c.label, "zh"): c.value for c in credit.choices}
        assert "志愿者小维" not in names  # volunteers are not credited
        assert (
            names["王芳"] == str(wang_id) and names[said("observations/credit_nobody", "zh")] == "0"
        )
        # Only the person who claimed it may close it, and only with someone of its unit.
        answer = {"resolution": "核实属实,予以表扬", "credit": str(wang_id)}
        submit = {"kind": EventKind.FORM, "action": "observe.resolve", "value": "1"}
        assert await here.handle("colleague-1", **submit, form=answer) == said(
            "errors/not_allowed_button", "zh"
        )
        out = await here.handle(YOU, **submit, form=answer)
        assert out == said("observations/closed", "zh", number=1, late=False)

        assert wang.take_transcript().endswith(
            said("observations/praised_notice", "zh", number=1, text="王芳耐心帮老人办业务")
        )
        told = said("observations/closed_notice", "zh", number=1, resolution="核实属实,予以表扬")
        assert told in vera.take_transcript()

        # "/observe mine" shows only the volunteer's own.
        mine = await here.say(vera, "/observe mine")
        assert "#1 表扬 [已办结] 王芳耐心帮老人办业务 → 核实属实,予以表扬" in mine
        assert "叫号机" not in mine and "#2" not in mine

    entries = [(e.member_id, e.rule, e.points) for e in await rows(here, PointEntry)]
    observation_points = [
        e for e in entries if e[1] in ("praise_received", "observation_submitted")
    ]
    assert observation_points == [
        (wang_id, "observation_submitted", plan.scoring.points.observation_submitted),
        (wang_id, "praise_received", plan.scoring.points.praise_received),
    ]
    [praise, _] = await rows(here, Observation)
    assert (praise.praised_member_id, praise.status) == (wang_id, "closed")
