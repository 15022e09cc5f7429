"""No secret leaves ``uplift run``: not in a log line (at DEBUG, every library talking), not in
``/healthz`` or ``/metrics``, not in the reason printed when a platform refuses a token.

The process runs as a person runs it, a subprocess, with distinctive fake secrets: the Telegram
bot token and webhook secret, the Slack bot token, signing secret and app token, and a password in
the database URL (PostgreSQL; SQLite URLs take none). It talks to the local fake Telegram and
Slack servers on this test's event loop (so every wait here is async), answers a few commands on
both platforms and a few bad requests, then stops; the test reads everything it wrote.

Two runs cover both ways each platform receives: Telegram long polling with Slack over HTTP, and
a Telegram webhook (its secret sent to setWebhook, logged by python-telegram-bot at DEBUG) with
Slack over Socket Mode (its app token).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from kernel import Role, Text
from messages import Renderer, Target
from storage.database import Database
from tests.fakes.slack_api import (
    RESPONSE_URL,
    TEAM_ID,
    FakeSlack,
    signed_request,
    slash_command,
    slash_command_payload,
)
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import seat_people
from tests.harness.cli import cli_env, free_port, uplift_command

TELEGRAM_TOKEN = "7700112233:AAtg-Secret_token-DO-NOT-LEAK-4f9c"
TELEGRAM_WEBHOOK_SECRET = "tg-webhook-secret_DO-NOT-LEAK-8b1e"
SLACK_BOT_TOKEN = "xoxb-1111-2222-slack-bot-DO-NOT-LEAK-81d2"
SLACK_SIGNING_SECRET = "slack-signing-secret-DO-NOT-LEAK-0c7e"
SLACK_APP_TOKEN = "xapp-1-A0FAKE-slack-app-DO-NOT-LEAK-5a3d"
DB_PASSWORD = "db-pass@word/DO-NOT-LEAK-9e6f"
SECRETS = (
    TELEGRAM_TOKEN,
    TELEGRAM_WEBHOOK_SECRET,
    SLACK_BOT_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_APP_TOKEN,
    DB_PASSWORD,
)
STAFF_TG = 1001
STAFF_SLACK = "U0STAFF"
GROUP = -4_000_000_001
CHANNEL = "C0RENMIN"
NOW = dt.datetime.now(dt.UTC)


def forms(secret: str) -> set[str]:
    """A secret as it may be written: itself, URL-encoded, and its distinctive part alone."""
    return {secret, quote(secret, safe=""), quote_plus(secret), secret.split("DO-NOT-LEAK")[1]}


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        for form in forms(secret):
            assert form not in text, f"{where} shows a secret ({form!r})"


def with_password(db_url: str) -> str:
    """The test database's URL with a password (the test server trusts local connections, so
    it connects all the same); SQLite URLs take no password."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        return db_url
    return url.set(password=DB_PASSWORD).render_as_string(hide_password=False)


def one_run_is_enough(db_url: str) -> None:
    """A run costs seconds of a subprocess, and the PostgreSQL run holds every secret the SQLite
    one does and a password more: with PostgreSQL there, the SQLite run is skipped; without it,
    the SQLite run stands in."""
    if make_url(db_url).get_backend_name() == "sqlite" and os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the PostgreSQL run shows the same and more (a password to hide)")


async def prepare(db_url: str) -> None:
    """The plan, a staff member on each platform, the Telegram group and Slack channel bound."""
    database = Database(db_url)
    try:
        staff = Role.STAFF
        await seat_people(
            database,
            platform="telegram",
            chat=str(GROUP),
            people=[(str(STAFF_TG), "Wang Fang", staff)],
            now=NOW,
        )
        await seat_people(
            database,
            platform="slack",
            workspace=TEAM_ID,
            chat=CHANNEL,
            people=[(STAFF_SLACK, "Li Lei", staff)],
            now=NOW,
        )
    finally:
        await database.dispose()


class Run:
    """``uplift run`` as a subprocess; stdout and stderr kept apart in files."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.stdout_path = tmp_path / "stdout.txt"
        self.stderr_path = tmp_path / "stderr.txt"
        with self.stdout_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*uplift_command(), "run"], cwd=tmp_path, env=env, stdout=stdout, stderr=stderr
            )

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text("utf-8")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text("utf-8")

    async def until(self, condition: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"uplift run exited early:\n{self.stderr}"
            assert time.monotonic() < deadline, f"timed out after {timeout}s:\n{self.stderr}"
            await asyncio.sleep(0.05)

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        while self.process.poll() is None:
            assert time.monotonic() < deadline, "still running 15s after SIGTERM"
            await asyncio.sleep(0.05)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
        return response.status, await response.text()


async def wait_until_serving(run: Run, http: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        assert run.process.poll() is None, f"uplift run exited early:\n{run.stderr}"
        try:
            if (await get(http, f"{base}/healthz"))[0] == 200:
                return
        except aiohttp.ClientConnectionError:
            pass
        assert time.monotonic() < deadline, f"the HTTP server never answered:\n{run.stderr}"
        await asyncio.sleep(0.05)


def sent_to(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [c["text"] for c in tg.calls("sendMessage") if c.ok and c["chat_id"] == chat_id]


def base_env(db_url: str, port: int, tg: FakeTelegram, slack: FakeSlack, **extra: str) -> dict:
    return cli_env(
        db_url,
        "en",
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_API_URL=tg.base_url,
        SLACK_BOT_TOKEN=SLACK_BOT_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        UPLIFT_HTTP_HOST="127.0.0.1",
        UPLIFT_HTTP_PORT=str(port),
        UPLIFT_LOG_LEVEL="DEBUG",
        **extra,
    )


async def test_a_run_with_long_polling_and_slack_over_http_shows_no_secret(
    tmp_path: Path, db_url: str
) -> None:
    one_run_is_enough(db_url)
    url = with_password(db_url)
    await prepare(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeSlack() as slack,
        aiohttp.ClientSession() as http,
    ):
        slack.token = SLACK_BOT_TOKEN
        run = Run(tmp_path, base_env(url, port, tg, slack))
        try:
            await wait_until_serving(run, http, base)
            await run.until(lambda: tg.count("deleteWebhook") > 0)  # then it polls

            # Telegram: a few commands in the private chat and the group.
            person = tg.user(STAFF_TG, "Wang Fang", language_code="en")
            for command in ("start", "score", "help"):
                tg.queue_update(tg.command(command, "", STAFF_TG, person))
            tg.queue_update(tg.command("leaderboard", "", GROUP, person, "group"))
            await run.until(lambda: len(sent_to(tg, STAFF_TG)) >= 3)
            await run.until(lambda: len(sent_to(tg, GROUP)) >= 1)

            # Slack over HTTP: signed commands answered; bad requests refused.
            for command in ("/score", "/help"):
                body = slash_command(
                    command, "", STAFF_SLACK, CHANNEL, response_url=slack.response_url(command[1:])
                )
                headers = signed_request(body, SLACK_SIGNING_SECRET)
                async with http.post(f"{base}/slack/events", data=body, headers=headers) as ok:
                    assert ok.status == 200
            await run.until(lambda: slack.count(RESPONSE_URL) >= 2)
            garbage = b'{"not": json'
            async with http.post(f"{base}/slack/events", data=garbage) as refused:
                assert refused.status == 401
            body = slash_command("/score", "", STAFF_SLACK, CHANNEL)
            headers = {**signed_request(body, SLACK_SIGNING_SECRET)}
            headers["X-Slack-Request-Timestamp"] = "not-a-number"
            async with http.post(f"{base}/slack/events", data=body, headers=headers) as refused:
                assert refused.status == 400

            health = await get(http, f"{base}/healthz")
            metrics = await get(http, f"{base}/metrics")
            assert health[0] == 200 and metrics[0] == 200
            assert await run.stop() == 0
        finally:
            run.kill()

    # The secrets were in use: the fakes saw them.
    assert tg.count("getMe") >= 1 and slack.count("auth.test") >= 1
    assert run.stdout == ""
    stderr = run.stderr
    assert " DEBUG " in stderr, "the scan is only worth it when everything is logged"
    assert "Traceback" not in stderr
    assert "***" in stderr  # python-telegram-bot logs its API URL, token included, at DEBUG
    for where, text in (
        ("stdout", run.stdout),
        ("stderr", stderr),
        ("/healthz", health[1]),
        ("/metrics", metrics[1]),
    ):
        assert_no_secret(where, text)


async def test_a_run_with_a_webhook_and_socket_mode_shows_no_secret(
    tmp_path: Path, db_url: str
) -> None:
    one_run_is_enough(db_url)
    url = with_password(db_url)
    await prepare(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        FakeTelegram(TELEGRAM_TOKEN) as tg,
        FakeSlack() as slack,
        aiohttp.ClientSession() as http,
    ):
        slack.token, slack.app_token = SLACK_BOT_TOKEN, SLACK_APP_TOKEN
        env = base_env(
            url,
            port,
            tg,
            slack,
            TELEGRAM_WEBHOOK_URL=f"{base}/telegram/webhook",
            TELEGRAM_WEBHOOK_SECRET=TELEGRAM_WEBHOOK_SECRET,
            SLACK_APP_TOKEN=SLACK_APP_TOKEN,
        )
        run = Run(tmp_path, env)
        try:
            await wait_until_serving(run, http, base)
            await run.until(lambda: tg.count("setWebhook") > 0)
            assert tg.last("setWebhook")["secret_token"] == TELEGRAM_WEBHOOK_SECRET

            # Telegram: an update through the webhook, with and without the secret.
            person = tg.user(STAFF_TG, "Wang Fang", language_code="en")
            update = tg.command("score", "", STAFF_TG, person)
            hook = f"{base}/telegram/webhook"
            secret_header = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_WEBHOOK_SECRET}
            async with http.post(hook, json=update, headers=secret_header) as accepted:
                assert accepted.status == 200
            async with http.post(hook, json=update) as refused:
                assert refused.status == 403
            await run.until(lambda: len(sent_to(tg, STAFF_TG)) >= 1)

            # Slack: a command over the Socket Mode websocket.
            await run.until(lambda: any(not c.closed for c in slack.socket_connections))
            payload = slash_command_payload(
                "/score", "", STAFF_SLACK, CHANNEL, response_url=slack.response_url()
            )
            envelope_id = await slack.socket_send("slash_commands", payload)
            await slack.wait_for_ack(envelope_id, timeout=10)
            await slack.wait_for(RESPONSE_URL, timeout=10)

            health = await get(http, f"{base}/healthz")
            metrics = await get(http, f"{base}/metrics")
            assert await run.stop() == 0
        finally:
            run.kill()

    stderr = run.stderr
    assert " DEBUG " in stderr
    assert "'secret_token': '***'" in stderr  # PTB logs setWebhook's parameters at DEBUG
    assert "Traceback" not in stderr
    for where, text in (
        ("stdout", run.stdout),
        ("stderr", stderr),
        ("/healthz", health[1]),
        ("/metrics", metrics[1]),
    ):
        assert_no_secret(where, text)


@pytest.mark.parametrize("locale", ["en", "zh"])
async def test_a_refused_telegram_token_is_reported_without_the_token(
    tmp_path: Path, locale: str
) -> None:
    wrong = "7700112233:AAwrong-token_DO-NOT-LEAK-3c2b"
    async with FakeTelegram(TELEGRAM_TOKEN) as tg:
        env = cli_env(
            f"sqlite:///{tmp_path / 'uplift.db'}",
            locale,
            TELEGRAM_BOT_TOKEN=wrong,
            TELEGRAM_API_URL=tg.base_url,
            UPLIFT_HTTP_HOST="127.0.0.1",
            UPLIFT_HTTP_PORT=str(free_port()),
            UPLIFT_LOG_LEVEL="DEBUG",
        )
        run = Run(tmp_path, env)
        try:
            deadline = time.monotonic() + 30
            while run.process.poll() is None:
                assert time.monotonic() < deadline, "uplift run kept running with a wrong token"
                await asyncio.sleep(0.05)
        finally:
            run.kill()
    assert run.process.returncode == 1
    assert tg.last("getMe").status == 401  # Telegram did refuse it
    said = Renderer().render(
        Text("cli/platform_failed", {"platform": "telegram", "reason": "Unauthorized"}),
        locale,
        Target.PLAIN,
    )
    assert said in run.stderr
    for text in (run.stdout, run.stderr):
        for form in forms(wrong):
            assert form not in text
    assert "Traceback" not in run.stderr
