"""``uplift run`` as the real Slack and Telegram servers see it (issue 11, end to end).

The process runs as a subprocess against the strict local fakes, which refuse what the real
servers refuse (a file shared to a user id, a post in a channel the app has not joined, a message
into a chat still under a 429's ban). Through the real bolt and python-telegram-bot paths it:

- answers a Slack ``/report`` typed in a channel the app was never invited to through the
  command's response_url, and puts the chart and the sheet in the person's DM, opened with
  conversations.open;
- answers a slash command typed in a DM between two people the same way;
- registers a Telegram command menu without a language code, for clients in any language;
- gathers ten people typing /help in a Telegram group into one pointer naming them all, each
  answered privately;
- holds every reply to a chat for as long as a 429 banned it, and loses none of them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp

from kernel import Role
from storage.database import Database
from tests.bot.test_secrets import Run, sent_to, wait_until_serving
from tests.fakes.slack_api import RESPONSE_URL, TEAM_ID, FakeSlack, signed_request, slash_command
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import seat_people
from tests.harness.cli import cli_env, free_port

TOKEN = "7700112233:AAtg-run-platforms"
SIGNING_SECRET = "run-platforms-signing-secret"
GROUP = -4_000_000_002
PEOPLE = [(2001 + i, f"Colleague {i + 1}") for i in range(10)]
SUPERVISOR = "U0HEAD"
CHANNEL = "C0NOTJOINED"  # the app was never invited here
TWO_PEOPLE_DM = "D0TWOPEOPLE"  # a DM between two people, where a slash command works too
NOW = dt.datetime.now(dt.UTC)


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
            people=[(SUPERVISOR, "Zhou Min", Role.SUPERVISOR)],
            now=NOW,
        )
    finally:
        await database.dispose()


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
        env = cli_env(
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
        run = Run(tmp_path, env)
        try:
            await wait_until_serving(run, http, base)
            await run.until(lambda: tg.count("deleteWebhook") > 0)

            # Slack: /report in a channel the app is not in, /help in someone else's DM.
            await slash(http, base, slack, "/report", CHANNEL, "report")
            await slash(http, base, slack, "/help", TWO_PEOPLE_DM, "help")
            await run.until(lambda: slack.count("files.completeUploadExternal") >= 2, 30)
            await run.until(lambda: slack.count(RESPONSE_URL) >= 2)

            # Telegram: ten people ask for /help in the group at once.
            for uid, name in PEOPLE:
                person = tg.user(uid, name, language_code="en")
                tg.queue_update(tg.command("help", "", GROUP, person, "group"))
            await run.until(lambda: all(sent_to(tg, uid) for uid, _ in PEOPLE), 30)
            await run.until(lambda: len(sent_to(tg, GROUP)) >= 1, 15)

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
    # The 429: nothing was sent into the ban, and all three answers arrived after it.
    assert tg.ignored_retry_after == []
    (limited,) = [c for c in tg.rate_limited if c["chat_id"] == first]
    later = [c for c in tg.calls("sendMessage", ok=True) if c["chat_id"] == first][-3:]
    assert all(c.at >= limited.at + 2 for c in later)
    assert "Traceback" not in run.stderr, run.stderr
