"""``uplift run`` as the real Slack and Telegram servers see it (issue 11, end to end).

The process runs as a subprocess against the strict local fakes, which refuse what the real
servers refuse (a file shared to a user id, a post in a channel the app has not joined, a message
into a chat still under a 429's ban). Through the real bolt and python-telegram-bot paths it:

- answers a Slack ``/report`` typed in a channel the app was never invited to through the
  command's response_url, and puts the chart and the sheet in the person's DM, opened with
  conversations.open;
- answers a slash command typed in a DM between two people the same way;
- names a handful of the 150 people who have not drilled in /report and counts the rest;
- opens /deed's doers among 151 people as an external select that finds people by name;
- registers a Telegram command menu without a language code, for clients in any language;
- lets a stranger choose a language with /lang and tells them the way in with /help;
- gathers ten people typing /help in a Telegram group into one pointer naming them all, each
  answered privately;
- holds every reply to a chat for as long as a 429 banned it, and loses none of them;
- sends queued drills to 70 groups within Telegram's 30 messages a second, a drill whose
  option is too long for a poll or a button as listed options with lettered buttons (on both
  platforms), and never posts again a push Slack took but answered unreadably.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from html import escape
from pathlib import Path

import aiohttp

from kernel import Quiz, Reply, Role, Text
from messages import Renderer, Target
from storage.database import Database
from storage.models import OutboxMessage
from tests.bot.test_secrets import Run, sent_to, wait_until_serving
from tests.fakes.slack_api import (
    RESPONSE_URL,
    TEAM_ID,
    FakeSlack,
    block_suggestion,
    signed_request,
    slash_command,
)
from tests.fakes.telegram_api import POLL_OPTION_LIMIT, FakeTelegram
from tests.harness import read_plan, rows, seat_people
from tests.harness.cli import cli_env, free_port

TOKEN = "7700112233:AAtg-run-platforms"
SIGNING_SECRET = "run-platforms-signing-secret"
GROUP = -4_000_000_002
PEOPLE = [(2001 + i, f"Colleague {i + 1}") for i in range(10)]
SUPERVISOR = "U0HEAD"
CHANNEL = "C0NOTJOINED"  # the app was never invited here
TWO_PEOPLE_DM = "D0TWOPEOPLE"  # a DM between two people, where a slash command works too
STRANGER = 9999  # nobody added them yet
TELLERS = [(f"U0TELLER{i:03d}", f"Teller {i}", Role.STAFF) for i in range(150)]
NOW = dt.datetime.now(dt.UTC)
RENDER = Renderer()


async def prepare(db_url: str) -> None:
    database = Database(db_url)
    try:
        people = [(str(uid), name, Role.STAFF) for uid, name in PEOPLE]
        await seat_people(database, platform="telegram", chat=str(GROUP), people=people, now=NOW)
        await seat_people(
            database,
            platform="slack",
            workspace=TEAM_ID,
            chat="C0BOUND",
            people=[(SUPERVISOR, "Zhou Min", Role.SUPERVISOR), *TELLERS],
            now=NOW,
        )
    finally:
        await database.dispose()


def run_env(db_url: str, port: int, tg: FakeTelegram, slack: FakeSlack) -> dict[str, str]:
    """``uplift run`` with both platforms, each at its fake."""
    return cli_env(
        db_url,
        "en",
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=tg.base_url,
        SLACK_BOT_TOKEN=slack.token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        UPLIFT_HTTP_HOST="127.0.0.1",
        UPLIFT_HTTP_PORT=str(port),
    )


async def slash(
    http: aiohttp.ClientSession, base: str, slack: FakeSlack, command: str, channel: str, key: str
) -> None:
    body = slash_command(command, "", SUPERVISOR, channel, response_url=slack.response_url(key))
    headers = signed_request(body, SIGNING_SECRET)
    async with http.post(f"{base}/slack/events", data=body, headers=headers) as answer:
        assert answer.status == 200


async def test_uplift_run_behaves_as_the_real_servers_require(
    tmp_path: Path, sqlite_url: str
) -> None:
    db_url = sqlite_url
    await prepare(db_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeTelegram(TOKEN) as tg, FakeSlack() as slack, aiohttp.ClientSession() as http:
        slack.add_channel(CHANNEL)
        slack.add_channel(TWO_PEOPLE_DM)
        env = run_env(db_url, port, tg, slack)
        run = Run(tmp_path, env)
        try:
            await wait_until_serving(run, http, base)
            await run.until(lambda: tg.count("deleteWebhook") > 0)

            # Slack: /report in a channel the app is not in, /help in someone else's DM.
            await slash(http, base, slack, "/report", CHANNEL, "report")
            await slash(http, base, slack, "/help", TWO_PEOPLE_DM, "help")
            await run.until(lambda: slack.count("files.completeUploadExternal") >= 2, 30)
            await run.until(lambda: slack.count(RESPONSE_URL) >= 2)

            # Slack: /deed names doers among 151 people: an external select, searched by name.
            await slash(http, base, slack, "/deed", "C0BOUND", "deed")
            (opened,) = await slack.wait_for("views.open", timeout=15)
            metadata = opened.args["view"]["private_metadata"]
            body = block_suggestion("who", "who", "Teller 14", SUPERVISOR, metadata)
            headers = signed_request(body, SIGNING_SECRET)
            async with http.post(f"{base}/slack/events", data=body, headers=headers) as answer:
                assert answer.status == 200
                suggested = await answer.json()

            # Telegram: ten people ask for /help in the group at once.
            for uid, name in PEOPLE:
                person = tg.user(uid, name, language_code="en")
                tg.queue_update(tg.command("help", "", GROUP, person, "group"))
            await run.until(lambda: all(sent_to(tg, uid) for uid, _ in PEOPLE), 30)
            await run.until(lambda: len(sent_to(tg, GROUP)) >= 1, 15)

            # Telegram: a stranger chooses a language and is told the way in, in it.
            stranger = tg.user(STRANGER, "Passer-by", language_code="en")
            tg.queue_update(tg.command("lang", "zh", STRANGER, stranger))
            tg.queue_update(tg.command("help", "", STRANGER, stranger))
            await run.until(lambda: len(sent_to(tg, STRANGER)) >= 2, 15)

            # Telegram: a 429 on one person's chat holds the next answers to that chat.
            first, name = PEOPLE[0]
            before = len(sent_to(tg, first))
            tg.rate_limit("sendMessage", retry_after=2, chat_id=first)
            person = tg.user(first, name, language_code="en")
            for command in ("score", "help", "score"):
                tg.queue_update(tg.command(command, "", first, person))
            await run.until(lambda: len(sent_to(tg, first)) >= before + 3, 30)
            assert await run.stop() == 0
        finally:
            run.kill()

    # Slack: both commands answered through their response_url, as ephemeral answers.
    answers = slack.calls(RESPONSE_URL)
    assert {a.args["key"] for a in answers if a.status == 200} >= {"report", "help"}
    assert all(a.args.get("response_type") == "ephemeral" for a in answers)
    # /report names a handful of the 150 who have not drilled yet, and counts the rest.
    report = next(a.args["text"] for a in answers if a.args["key"] == "report")
    members = int(re.search(r"0 of (\d+) answered", report).group(1))  # type: ignore[union-attr]
    assert members > len(TELLERS) and f"and {members - 10} more" in report
    # /deed's doers: an external select (151 > 100 options), whose search finds the 11.
    (who,) = [b for b in opened.args["view"]["blocks"] if b.get("block_id") == "who"]
    assert who["element"]["type"] == "multi_external_select"
    found = sorted(option["text"]["text"] for option in suggested["options"])
    assert found == sorted(["Teller 14", *(f"Teller {i}" for i in range(140, 150))])
    # Nothing was posted into the channel the app is not in, or into the two people's DM.
    posted = {c.args.get("channel") for c in slack.calls("chat.postMessage")}
    assert not posted & {CHANNEL, TWO_PEOPLE_DM}
    # The chart and the sheet went to the supervisor's DM, opened with conversations.open.
    assert slack.count("conversations.open") >= 1
    shared = slack.calls("files.completeUploadExternal")
    assert [c.status for c in shared] == [200, 200]
    assert {c.args.get("channel_id", "")[:1] for c in shared} == {"D"}

    # Telegram: a default menu (no language code) besides the zh and en ones.
    languages = {c.params.get("language_code") for c in tg.calls("setMyCommands")}
    assert {None, "zh", "en"} <= languages
    # One pointer in the group, naming all ten; each answered privately.
    (pointer,) = sent_to(tg, GROUP)
    assert all(name in pointer for _, name in PEOPLE)
    # The stranger: Chinese from /lang on, and the organisation's way in (an invitation).
    chose, helped = sent_to(tg, STRANGER)[:2]
    assert chose == RENDER.render(Text("language/set"), "zh", Target.TELEGRAM)
    assert RENDER.render(Text("shared/way_in_invitation"), "zh", Target.TELEGRAM) in helped
    # The 429: nothing was sent into the ban, and all three answers arrived after it.
    assert tg.ignored_retry_after == []
    (limited,) = [c for c in tg.rate_limited if c["chat_id"] == first]
    later = [c for c in tg.calls("sendMessage", ok=True) if c["chat_id"] == first][-3:]
    assert all(c.at >= limited.at + 2 for c in later)
    assert "Traceback" not in run.stderr, run.stderr


# --- pushes from the outbox --------------------------------------------------------------------

DRILL_GROUPS = [-4_100_000_000 - i for i in range(70)]
LONG_OPTION_GROUP = -4_200_000_000
BOUND_CHANNEL = "C0BOUND"


def drill(locale: str, *, long_option: bool) -> Reply:
    """A postal-bank drill as the morning push shows it: its intro, then the quiz; with
    ``long_option``, one whose English option is too long for a button or a poll."""
    plan = read_plan("postal-bank")
    for item in plan.drills:
        if item.kind != "choice":
            continue
        options = tuple(option.in_locale(locale) for option in item.options)
        too_long = max(len(option) for option in options) > POLL_OPTION_LIMIT
        if too_long == long_option:
            return Reply(
                text=Text("drills/intro", {"day": NOW.date(), "kind": "choice"}),
                quiz=Quiz(
                    question=item.question.in_locale(locale),
                    options=options,
                    correct_option=item.answer - 1,
                    explanation=item.explanation.in_locale(locale),
                    action="drill.answer",
                    ref="1",
                ),
            )
    raise AssertionError("the postal bank's plan has no such drill")


async def queue(db_url: str, *pushes: tuple[str, str, str, Reply]) -> None:
    """Put (platform, workspace, chat, reply) in the outbox, due now."""
    database = Database(db_url)
    try:
        async with database.store() as store:
            for index, (platform, workspace, chat, reply) in enumerate(pushes):
                await store.outbox.enqueue(
                    key=f"test-push:{index}",
                    platform=platform,
                    workspace=workspace,
                    chat_id=chat,
                    reply=reply.to_json(),
                    locale="en",
                    due_at=NOW - dt.timedelta(minutes=1),
                    now=NOW - dt.timedelta(minutes=1),
                )
    finally:
        await database.dispose()


async def test_uplift_run_sends_queued_pushes_within_the_limits(
    tmp_path: Path, sqlite_url: str
) -> None:
    await prepare(sqlite_url)
    short, long = drill("en", long_option=False), drill("en", long_option=True)
    await queue(
        sqlite_url,
        *[("telegram", "", str(group), short) for group in DRILL_GROUPS],
        ("telegram", "", str(LONG_OPTION_GROUP), long),
        ("slack", TEAM_ID, BOUND_CHANNEL, long),
    )
    port = free_port()
    async with FakeTelegram(TOKEN) as tg, FakeSlack() as slack, aiohttp.ClientSession() as http:
        slack.join(BOUND_CHANNEL)
        slack.unreadable("chat.postMessage")  # Slack takes the drill but its answer is garbled
        env = run_env(sqlite_url, port, tg, slack)
        run = Run(tmp_path, env)
        try:
            await wait_until_serving(run, http, f"http://127.0.0.1:{port}")
            await run.until(lambda: tg.count("sendPoll", ok=True) >= len(DRILL_GROUPS), 30)
            await run.until(lambda: bool(sent_to(tg, LONG_OPTION_GROUP)), 15)
            await run.until(lambda: slack.count("chat.postMessage") >= 1, 15)
            await asyncio.sleep(2)  # two more flushes: nothing may be sent again
            assert await run.stop() == 0
        finally:
            run.kill()

    # Telegram counted HTTP messages (an intro that fits goes in the poll's question, else it is
    # a message of its own): never over 30 in a second, whatever the drills are made of.
    assert len(tg.messages_sent()) >= len(DRILL_GROUPS) + 1
    assert tg.busiest_second() <= 30
    assert tg.rate_limited == [] and tg.ignored_retry_after == []
    # The long option could not be a poll: the options are listed in full, the buttons lettered.
    assert not [c for c in tg.calls("sendPoll") if c["chat_id"] == LONG_OPTION_GROUP]
    quiz = long.quiz
    assert quiz is not None
    listed = "\n".join(sent_to(tg, LONG_OPTION_GROUP))
    assert all(escape(option) in listed for option in quiz.options)
    keyboards = [
        c["reply_markup"] for c in tg.calls("sendMessage") if c["chat_id"] == LONG_OPTION_GROUP
    ]
    labels = [b["text"] for k in keyboards if k for row in k["inline_keyboard"] for b in row]
    assert labels == ["A", "B", "C", "D"][: len(quiz.options)]
    # Slack: the same drill with lettered buttons, posted once although its answer was garbled.
    (posted,) = slack.calls("chat.postMessage")
    buttons = [
        element["text"]["text"]
        for block in posted.args["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert buttons == ["A", "B", "C", "D"][: len(quiz.options)]
    (row,) = [r for r in await rows(Database(sqlite_url), OutboxMessage) if r.platform == "slack"]
    assert row.status == "sent" and row.sent_at is not None
    assert "Traceback" not in run.stderr, run.stderr
