"""Issue 11's Slack points as real Slack behaves, through the real slack-bolt code path: signed
requests go into the adapter over HTTP, the adapter calls the strict fake Slack over loopback
(tests/fakes/slack_api.py), and each test fails if its point breaks.

- files for one person (a report typed in a channel, a push to a person) go to their DM, opened
  with conversations.open, never to a user id;
- a slash command anywhere (a channel the app is not in, a DM between two people, a group DM) is
  answered through its response_url, and in the person's DM when that URL refuses or is used up;
- a drill option longer than a button label is listed in full, the buttons say A, B, C, D;
- a choice among more than 100 (crediting praise in a unit of 160) is an external select whose
  options Slack asks for as the person types;
- a long text is split into sections between whole escapes;
- a wrong bot token stops ``uplift run`` with one line naming Slack's reason;
- a push Slack took but whose answer could not be read is marked sent and never posted again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from bot.adapters.slack.blocks import message_blocks, modal_view
from bot.scheduler import Scheduler
from handlers.reports.summaries import monthly_reports
from kernel import Choice, Form, FormField, Reply, Role, Text
from messages import Renderer, Target
from storage.models import DrillAnswer, DrillItem, Member, Observation, OutboxMessage, Unit
from storage.store import Store
from tests.bot.adapters.slack.bolt_bot import (
    ADMIN,
    CHANNEL,
    PEOPLE,
    PRESSED_TS,
    SECRET,
    STAFF,
    SUPERVISOR,
    Bot,
    buttons_of,
    refused,
    slack_bot,
    text_of,
)
from tests.fakes.slack_api import (
    RESPONSE_URL,
    UPLOAD,
    Call,
    FakeSlack,
    block_action,
    block_suggestion,
    dm_id,
    options_problems,
    signed_request,
    view_problems,
    view_submission,
)
from tests.harness.cli import cli_env, free_port, run_until_it_stops

SHANGHAI = ZoneInfo("Asia/Shanghai")
ELSEWHERE = {
    "a channel the app has not joined": "C0ELSEWHERE",
    "a DM between two people": "D0TWOPEOPLE",
    "a group DM": "G0GROUPDM",
}
ESCAPE = re.compile(r"&(?:amp|lt|gt);")
PARTIAL_ESCAPE_AT_END = re.compile(r"&(?:a|am|amp|l|lt|g|gt)?$")
PARTIAL_ESCAPE_AT_START = re.compile(r"^(?:amp|mp|p|lt|gt|t);")


@pytest_asyncio.fixture
async def bot(sqlite_url: str) -> AsyncIterator[Bot]:
    async with slack_bot(sqlite_url) as running:
        for channel in ELSEWHERE.values():
            running.slack.add_channel(channel)  # they exist; the app is in none of them
        yield running


def key_of(url: str) -> str:
    """The fake's key of one of its response_urls (recorded as RESPONSE_URL calls' "key")."""
    return url.rsplit("/", 1)[1]


def posts_to(bot: Bot, url: str) -> list[Call]:
    return [c for c in bot.slack.calls(RESPONSE_URL) if c.args["key"] == key_of(url)]


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` (or what it awaits) is true: bolt runs listeners after the
    ack, so what a request does happens a little later."""
    deadline = time.monotonic() + timeout
    while True:
        met = condition()
        if inspect.isawaitable(met):
            met = await met
        if met:
            return
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def press_exactly(
    bot: Bot, message: dict[str, Any], label: str, user: str, channel: str = CHANNEL
) -> str:
    """Press the button labelled exactly ``label``; return the press's response_url."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("type") == "button" and element["text"]["text"] == label:
                url = bot.response_url()
                body = block_action(
                    element["action_id"],
                    element["value"],
                    user,
                    channel,
                    message_ts=PRESSED_TS,
                    response_url=url,
                )
                assert await bot.post(body) == 200
                return url
    raise AssertionError(f"no button {label!r} in {buttons_of(message)}")


# --- 1. files for one person go to their DM ---------------------------------------------------


async def test_a_report_uploads_its_chart_and_spreadsheet(bot: Bot) -> None:
    """/report typed in the unit's channel: the summary answers the supervisor there, the chart
    and the spreadsheet go to their DM (conversations.open), never to their user id."""
    await bot.command("/report", "this week", user=SUPERVISOR)
    completes = await bot.slack.wait_for("files.completeUploadExternal", count=2, timeout=30)
    names = sorted(f["title"] for c in completes for f in c.args["files"])
    assert names[0].endswith(".png") and names[1].endswith(".xlsx")
    assert all(bot.slack.files[f["id"]].content for c in completes for f in c.args["files"])
    assert all(bot.slack.files[f["id"]].completed for c in completes for f in c.args["files"])

    [opened] = bot.slack.calls("conversations.open")
    assert opened.args["users"] == SUPERVISOR and opened.response["ok"] is True
    direct = opened.response["channel"]["id"]
    assert direct.startswith("D")
    assert [c.args["channel_id"] for c in completes] == [direct, direct]
    assert all(c.response["ok"] is True for c in completes)
    # Each file in Slack's three steps: an upload URL, the bytes, then the share.
    methods = [
        c.method for c in bot.slack.calls() if c.method.startswith("files.") or c.method == UPLOAD
    ]
    assert methods == ["files.getUploadURLExternal", UPLOAD, "files.completeUploadExternal"] * 2
    [summary] = await bot.answers()
    assert summary.args["response_type"] == "ephemeral"
    assert refused(bot.slack) == []


async def test_a_report_pushed_to_a_supervisor_brings_its_files_to_their_dm(bot: Bot) -> None:
    """The monthly report is queued for each supervisor's private chat (their user id): its
    message is posted there, its files shared in the DM conversations.open gives."""
    scheduler = Scheduler(bot.database, bot.clock, (monthly_reports,))
    bot.clock.set(dt.datetime(2027, 2, 1, 9, 1, tzinfo=SHANGHAI))
    await scheduler.tick()
    async with bot.database.transaction() as session:
        chats = set(await session.scalars(select(OutboxMessage.chat_id)))
    assert SUPERVISOR in chats and all(chat.startswith("U") for chat in chats)
    for _ in range(4):  # one message a second per chat: the files row waits for the text's
        await bot.sender.flush()
        bot.clock.advance(dt.timedelta(seconds=2))

    messages = bot.slack.calls("chat.postMessage")
    assert {c.args["channel"] for c in messages} == chats  # a message may go to a user id
    assert {c.response["channel"] for c in messages} == set(map(dm_id, chats))
    completes = bot.slack.calls("files.completeUploadExternal")
    assert completes and all(c.response["ok"] is True for c in completes)
    assert sorted({c.args["channel_id"] for c in completes}) == sorted(map(dm_id, chats))
    assert len(completes) == 2 * len(chats)  # a chart and a spreadsheet each, once
    assert {c.args["users"] for c in bot.slack.calls("conversations.open")} == chats
    async with bot.database.transaction() as session:
        statuses = set(await session.scalars(select(OutboxMessage.status)))
    assert statuses == {"sent"}
    assert refused(bot.slack) == []


# --- 2. a slash command is answered wherever it is typed ---------------------------------------


@pytest.mark.parametrize("where", list(ELSEWHERE))
async def test_a_command_where_the_app_is_not_is_answered_through_its_response_url(
    bot: Bot, where: str
) -> None:
    channel = ELSEWHERE[where]
    await bot.command("/score", user=STAFF, channel=channel)
    [answer] = await bot.answers()
    assert answer.status == 200 and answer.args["response_type"] == "ephemeral"
    assert "My points" in text_of(answer.args)

    # An answer for the whole chat is posted in the channel, still through the response_url.
    await bot.command("/uplift", "bind dongguan", user=ADMIN, channel=channel)
    bound = (await bot.answers(count=2))[1]
    assert bound.status == 200 and bound.args["response_type"] == "in_channel"
    assert "this chat is bound to" in text_of(bound.args)

    assert not [c for c in bot.slack.calls() if c.args.get("channel") == channel]
    assert refused(bot.slack) == []


async def spend(bot: Bot, url: str) -> None:
    """Use up a response_url on the fake (its 5 posts), as earlier answers would have."""
    for _ in range(5):
        async with bot.http.session.post(url, json={"text": "earlier"}) as answer:
            assert answer.status == 200


@pytest.mark.parametrize("where", list(ELSEWHERE))
@pytest.mark.parametrize("refusal", ["used_url", "expired_url"])
@pytest.mark.parametrize(
    ("command", "user", "shown"),
    [("/score", STAFF, "My points"), ("/uplift bind dongguan", ADMIN, "this chat is bound")],
)
async def test_when_the_response_url_refuses_the_answer_goes_to_the_dm(
    bot: Bot, where: str, refusal: str, command: str, user: str, shown: str
) -> None:
    channel = ELSEWHERE[where]
    url = bot.response_url()
    if refusal == "used_url":
        await spend(bot, url)
    else:
        bot.slack.expire_response_url(key_of(url))
    name, _, text = command.partition(" ")
    await bot.command(name, text, user=user, channel=channel, response_url=url)

    [answer] = await bot.slack.wait_for("chat.postMessage")
    assert answer.response["ok"] is True and answer.response["channel"] == dm_id(user)
    assert shown in text_of(answer.args)
    assert [(c.status, c.response) for c in posts_to(bot, url)][-1] == (404, refusal)
    assert not [c for c in bot.slack.calls() if c.args.get("channel") == channel]


async def test_a_response_url_is_posted_to_five_times_then_the_dm_takes_over(bot: Bot) -> None:
    """Slack takes 5 posts per response_url: the app counts them and never tries a sixth."""
    url = bot.response_url()
    channel = ELSEWHERE["a group DM"]
    for n in range(1, 6):
        await bot.command("/score", user=STAFF, channel=channel, response_url=url)
        await bot.answers(count=n)
    await bot.command("/score", user=STAFF, channel=channel, response_url=url)
    [answer] = await bot.slack.wait_for("chat.postMessage")
    assert answer.response["channel"] == dm_id(STAFF) and "My points" in text_of(answer.args)
    assert [c.status for c in posts_to(bot, url)] == [200] * 5
    assert refused(bot.slack) == []


# --- 3. long drill options (point 6) -----------------------------------------------------------


async def todays_drill_is(bot: Bot, item_key: str) -> DrillItem:
    """Make ``item_key`` the unit's drill today (as the morning push would have chosen it)."""
    now = bot.clock.now()
    async with bot.database.transaction() as session:
        item = await session.scalar(select(DrillItem).where(DrillItem.key == item_key))
        unit = await session.scalar(select(Unit).where(Unit.key == "renmin-road"))
        assert item is not None and unit is not None
        await Store(session).drills.create_once(
            campaign_id=item.campaign_id,
            unit_id=unit.id,
            item_id=item.id,
            local_date=now.astimezone(SHANGHAI).date(),
            opens_at=now,
            closes_at=now + dt.timedelta(hours=12),
        )
        return item


async def test_a_long_drill_option_is_listed_in_full_and_pressed_by_its_letter(bot: Bot) -> None:
    item = await todays_drill_is(bot, "first-question")  # option B is 104 characters
    options = [option["en"] for option in item.options]
    assert max(len(option) for option in options) > 75  # longer than a Slack button label

    await bot.command("/drill", user=STAFF)
    [drill] = await bot.answers()
    assert buttons_of(drill.args) == ["A", "B", "C", "D"]
    sections = [b["text"]["text"] for b in drill.args["blocks"] if b["type"] == "section"]
    for letter, option in zip("ABCD", options, strict=True):
        line = f"*{letter}.* {option}"
        assert any(line in section for section in sections), line

    await press_exactly(bot, drill.args, "B", STAFF)
    graded = (await bot.answers(count=2))[1]
    assert "Correct" in text_of(graded.args)
    async with bot.database.transaction() as session:
        [answer] = list(await session.scalars(select(DrillAnswer)))
    assert (answer.choice, answer.correct) == (1, True)
    assert refused(bot.slack) == []


# --- 4. a choice among more than 100 (point 7) -------------------------------------------------

COLLEAGUES = [(f"U1C{n:03d}", f"Colleague {n}", Role.STAFF) for n in range(1, 161)]


@pytest_asyncio.fixture
async def big_unit(sqlite_url: str) -> AsyncIterator[Bot]:
    async with slack_bot(sqlite_url, people=[*PEOPLE, *COLLEAGUES]) as running:
        yield running


def filled_observation(view: dict[str, Any], text: str, kind: str) -> dict[str, Any]:
    """The observe.submit modal filled in: the first unit (the person's own), ``kind``, not
    anonymous."""
    options = {
        b["block_id"]: [o["value"] for o in b["element"].get("options", [])] for b in view["blocks"]
    }
    assert kind in options["kind"]

    def selected(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value}}

    return {
        "unit": {"unit": selected(options["unit"][0])},
        "kind": {"kind": selected(kind)},
        "text": {"text": {"type": "plain_text_input", "value": text}},
        "anonymous": {"anonymous": selected("no")},
    }


async def observe(bot: Bot, text: str, kind: str) -> None:
    """Staff report an observation through the /observe modal."""
    await bot.command("/observe", user=STAFF)
    opened = (await bot.slack.wait_for("views.open"))[-1]
    view = opened.args["view"]
    values = filled_observation(view, text, kind)
    body = view_submission("observe.submit", values, view["private_metadata"], STAFF)
    assert await bot.post(body) == 200

    async def saved() -> bool:
        async with bot.database.transaction() as session:
            return await session.scalar(select(Observation.id)) is not None

    await until(saved)


async def open_observations(bot: Bot) -> list[Call]:
    """The supervisor's /observations: what its response_url received."""
    url = bot.response_url()
    await bot.command("/observations", user=SUPERVISOR, response_url=url)
    await until(lambda: len(posts_to(bot, url)) >= 2)
    return posts_to(bot, url)


async def test_crediting_praise_in_a_unit_of_160_searches_an_external_select(
    big_unit: Bot,
) -> None:
    bot = big_unit
    await observe(bot, "Colleague 157 helped an old man with the ATM", "praise")
    [card] = [c for c in await open_observations(bot) if buttons_of(c.args)]
    claim_url = await press_exactly(bot, card.args, "🙋 Claim it", SUPERVISOR)
    await until(lambda: posts_to(bot, claim_url))
    [claimed] = posts_to(bot, claim_url)
    await press_exactly(bot, claimed.args, "✅ Close it", SUPERVISOR)

    opened = (await bot.slack.wait_for("views.open", count=2))[-1]
    assert opened.response["ok"] is True
    view = opened.args["view"]
    assert view["callback_id"] == "observe.resolve"
    [credit] = [b for b in view["blocks"] if b["block_id"] == "credit"]
    assert credit["element"]["type"] == "external_select"
    assert "options" not in credit["element"]

    async def suggestions(typed: str) -> dict[str, Any]:
        body = block_suggestion("credit", "credit", typed, SUPERVISOR, view["private_metadata"])
        response = await bot.http.post(
            "/slack/events", data=body, headers=signed_request(body, SECRET)
        )
        assert response.status == 200
        return await response.json()

    everyone = await suggestions("")
    assert options_problems(everyone) == [] and len(everyone["options"]) == 100
    found = await suggestions("colleague 15")
    assert options_problems(found) == []
    labels = [o["text"]["text"] for o in found["options"]]
    assert labels == ["Colleague 15", *(f"Colleague {n}" for n in range(150, 160))]
    [chosen] = [o for o in (await suggestions("Colleague 157"))["options"]]

    values = {
        "resolution": {
            "resolution": {"type": "plain_text_input", "value": "Thanked at the meeting"}
        },
        "credit": {"credit": {"type": "external_select", "selected_option": chosen}},
    }
    body = view_submission("observe.resolve", values, view["private_metadata"], SUPERVISOR)
    assert await bot.post(body) == 200

    async def closed() -> bool:
        async with bot.database.transaction() as session:
            return (await session.scalar(select(Observation.status))) == "closed"

    await until(closed)
    async with bot.database.transaction() as session:
        observation = await session.scalar(select(Observation))
        credited = await session.get(Member, observation.praised_member_id)
    assert credited is not None and credited.display_name == "Colleague 157"
    assert refused(bot.slack) == []


# --- 5. long text split between whole escapes (point 8) -----------------------------------------


async def test_a_long_text_is_split_between_whole_escapes(bot: Bot) -> None:
    # Escaped for mrkdwn: "&amp;" then "&lt;" 999 times on a line of its own (4,000 characters):
    # a cut at 3,000 characters would fall inside the 749th "&lt;".
    typed = "&" + "<" * 999
    await observe(bot, typed, "complaint")
    cards = [c for c in await open_observations(bot) if "&lt;" in text_of(c.args)]
    [card] = cards
    sections = [b["text"]["text"] for b in card.args["blocks"] if b["type"] == "section"]
    shown = "".join(sections)
    [line] = [line for line in shown.splitlines() if "&lt;" in line]
    assert any(m.start() < 3000 < m.end() for m in ESCAPE.finditer(line))  # the case at stake

    assert len(sections) >= 3 and all(len(section) <= 3000 for section in sections)
    assert not [s for s in sections if PARTIAL_ESCAPE_AT_END.search(s)]
    assert not [s for s in sections if PARTIAL_ESCAPE_AT_START.search(s)]
    assert shown.count("&lt;") == 999 and shown.count("&amp;") == 1
    assert card.status == 200
    assert refused(bot.slack) == []


class _LinkWriter:
    """A renderer whose every text is ``line``: a link as a template could write one."""

    def __init__(self, line: str) -> None:
        self.line = line

    def render(self, text: Text, locale: str, target: Target = Target.PLAIN) -> str:
        return self.line


def test_a_long_line_of_links_is_split_between_whole_links() -> None:
    """No template writes a link today, so this one is checked where the cut is made: a cut
    inside ``<https://…|label>`` would show raw markup."""
    link = "<https://example.com/outlets/renmin-road|Renmin Road>"
    line = "x" * 7 + link * 80
    assert any(m.start() < 3000 < m.end() for m in re.finditer(re.escape(link), line))
    blocks, _ = message_blocks(Reply(text=Text("any")), "en", cast(Renderer, _LinkWriter(line)))
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) == 2 and all(len(section) <= 3000 for section in sections)
    assert "".join(sections) == line
    assert all(re.fullmatch(f"x*(?:{re.escape(link)})*", section) for section in sections)


# --- 6. a wrong bot token stops `uplift run` (point 11) -----------------------------------------


async def test_a_wrong_bot_token_stops_run_with_its_reason(tmp_path: Path) -> None:
    """auth.test at start: a token Slack refuses is one plain line and a non-zero exit."""
    async with FakeSlack() as slack:
        env = cli_env(
            f"sqlite:///{tmp_path / 'uplift.db'}",
            "en",
            SLACK_BOT_TOKEN="xoxb-not-the-right-one",
            SLACK_SIGNING_SECRET="x",
            SLACK_API_URL=slack.base_url,
            UPLIFT_HTTP_HOST="127.0.0.1",
            UPLIFT_HTTP_PORT=str(free_port()),
        )
        status, said = await run_until_it_stops(tmp_path, env, 20)
        [checked] = slack.calls("auth.test")
    assert status != 0
    assert checked.response == {"ok": False, "error": "invalid_auth"}
    lines = [line for line in said.splitlines() if "invalid_auth" in line]
    assert lines == [
        "Could not connect to slack: invalid_auth. Check the tokens and network settings "
        "(see .env.example), then start again."
    ], said
    assert "Traceback" not in said and "xoxb-not-the-right-one" not in said


# --- 7. a push Slack took but whose answer was unreadable (point 12) -----------------------------


@pytest.mark.parametrize("how", ["html", "json", "text", "disconnect"])
async def test_a_push_slack_took_but_could_not_answer_is_never_posted_again(
    bot: Bot, how: str
) -> None:
    bot.slack.unreadable("chat.postMessage", how=how)
    bot.clock.set(dt.datetime(2027, 1, 4, 8, 31, tzinfo=SHANGHAI))
    await bot.scheduler.tick()  # the morning drill and the stage's news for the channel
    for _ in range(6):
        await bot.sender.flush()
        bot.clock.advance(dt.timedelta(seconds=31))

    posts = bot.slack.calls("chat.postMessage")
    assert posts[0].response == how  # Slack posted it; the app could not read the answer
    texts = [c.args["text"] for c in posts]
    assert len(texts) == len(set(texts)) == 2  # each push posted once, the drill not again
    async with bot.database.transaction() as session:
        rows = list(await session.execute(select(OutboxMessage.status, OutboxMessage.last_error)))
    assert {status for status, _ in rows} == {"sent"}
    unread = [note for _, note in rows if note and note.startswith("sent, answer unread")]
    assert len(unread) == 1


async def test_a_command_answer_slack_took_but_could_not_answer_is_not_shown_again(
    bot: Bot,
) -> None:
    """The same for an answer through a response_url: no second copy in the DM."""
    bot.slack.unreadable(RESPONSE_URL, how="disconnect")
    url = bot.response_url()
    await bot.command("/score", user=STAFF, channel=ELSEWHERE["a group DM"], response_url=url)
    [answer] = await bot.answers()
    assert answer.response == "disconnect" and "My points" in text_of(answer.args)
    await asyncio.sleep(0.3)
    assert len(posts_to(bot, url)) == 1 and bot.slack.count("chat.postMessage") == 0


# --- the fake refuses what Slack refuses ---------------------------------------------------------


async def test_the_fake_refuses_files_to_a_user_and_posts_where_the_app_is_not(bot: Bot) -> None:
    """What the tests above rely on: without the DM, the uploads and answers would fail here."""
    client = bot.adapter.client
    refusals: dict[tuple[str, str], str] = {}
    ticket = await client.files_getUploadURLExternal(filename="a.png", length=3)
    async with bot.http.session.post(ticket["upload_url"], data=b"PNG") as uploaded:
        assert uploaded.status == 200
    for channel in (STAFF, "W0ENTERPRISE", *ELSEWHERE.values(), "C0NOSUCH"):
        with pytest.raises(SlackApiError) as refusal:
            await client.files_completeUploadExternal(
                files=[{"id": ticket["file_id"]}], channel_id=channel
            )
        refusals[("file", channel)] = refusal.value.response["error"]
    for channel in (*ELSEWHERE.values(), "C0NOSUCH"):
        with pytest.raises(SlackApiError) as refusal:
            await client.chat_postMessage(channel=channel, text="hello")
        refusals[("message", channel)] = refusal.value.response["error"]
    assert refusals == {
        ("file", STAFF): "invalid_arguments",
        ("file", "W0ENTERPRISE"): "invalid_arguments",
        ("file", "C0ELSEWHERE"): "not_in_channel",
        ("file", "D0TWOPEOPLE"): "not_in_channel",
        ("file", "G0GROUPDM"): "not_in_channel",
        ("file", "C0NOSUCH"): "channel_not_found",
        ("message", "C0ELSEWHERE"): "not_in_channel",
        ("message", "D0TWOPEOPLE"): "not_in_channel",
        ("message", "G0GROUPDM"): "not_in_channel",
        ("message", "C0NOSUCH"): "channel_not_found",
    }


def test_a_choice_too_long_for_an_option_is_listed_above_its_field_and_lettered() -> None:
    """A select's option shows 75 characters: a longer choice (a checklist item in English) is
    listed whole above the field, and its option starts with the same letter (#6, #7)."""
    whole = "Greets each customer within three seconds, stands up & makes eye contact at the desk"
    assert len(whole) > 75
    choices = (
        Choice("1", Text("telegram/option", {"text": whole})),
        Choice("2", Text("telegram/option", {"text": "Keeps the queue tidy"})),
    )
    field = FormField(
        "items", Text("form/none_found", {"text": "?"}), "multi_choice", True, choices
    )
    form = Form("inspect.submit", Text("slack/cancel"), (field,), Text("slack/cancel"))
    view = modal_view(form, "en", Renderer(), {"state": ""})
    assert view_problems(view) == []
    listing, item = view["blocks"]
    assert listing["type"] == "section" and "A.* Greets" in listing["text"]["text"]
    assert whole.replace("&", "&amp;") in listing["text"]["text"]
    options = [option["text"]["text"] for option in item["element"]["options"]]
    assert options[0].startswith("A. Greets") and len(options[0]) == 75
    assert options[1] == "B. Keeps the queue tidy"
    assert [option["value"] for option in item["element"]["options"]] == ["1", "2"]
