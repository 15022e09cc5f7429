"""``uplift run`` with SLACK_APP_TOKEN, as a real subprocess, connected by Socket Mode to the fake.

The fake Slack (on this test's event loop) hands out a websocket URL from apps.connections.open;
the process connects, receives envelopes, acks them over the websocket and answers through the
Web API, exactly as it would against Slack. So every wait here is async: the fake must keep
serving while the process talks to it (a blocking wait would stall both).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.slack_api import (
    BOT_USER_ID,
    RESPONSE_URL,
    TEAM_ID,
    FakeSlack,
    event_callback_payload,
    slash_command_payload,
)
from tests.harness import ROOT
from tests.harness.cli import cli_env, free_port, run_until_it_stops, uplift_command

PLAN = ROOT / "campaigns" / "plans" / "postal-bank.yaml"
STAFF = "U0STAFF"
CHANNEL = "C0RENMIN"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A SQLite database prepared as an operator would: load the plan, add the first member."""
    url = f"sqlite:///{tmp_path / 'uplift.db'}"
    steps = (
        ["campaign", "load", str(PLAN)],
        [
            "member",
            "add",
            "--platform",
            "slack",
            "--workspace",
            TEAM_ID,
            "--user",
            STAFF,
            "--name",
            "Wang Fang",
            "--unit",
            "renmin-road",
        ],
    )
    for step in steps:
        result = subprocess.run(
            [*uplift_command(), *step],
            cwd=tmp_path,
            env=cli_env(url, "en"),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=30,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    return url


async def until(
    condition: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Poll `condition` without blocking the loop; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"uplift run exited early:\n{log.read_text('utf-8')}"
        assert time.monotonic() < deadline, f"timed out after {timeout}s:\n{log.read_text('utf-8')}"
        await asyncio.sleep(0.05)


async def exit_status(process: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        assert time.monotonic() < deadline, f"still running {timeout}s after SIGTERM"
        await asyncio.sleep(0.05)
    return process.returncode


async def get_health(http: aiohttp.ClientSession, url: str, timeout: float) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status, await response.json()
        except aiohttp.ClientConnectionError:  # not listening yet
            assert time.monotonic() < deadline, "the HTTP server never answered"
            await asyncio.sleep(0.05)


async def test_run_answers_slack_over_socket_mode_and_stops_on_sigterm(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "output.txt"
    async with FakeSlack(joined=[CHANNEL]) as slack, aiohttp.ClientSession() as http:
        env = cli_env(
            database_url,
            "en",
            SLACK_BOT_TOKEN=slack.token,
            SLACK_SIGNING_SECRET="x",
            SLACK_APP_TOKEN=slack.app_token,
            SLACK_API_URL=slack.base_url,
            UPLIFT_HTTP_HOST="127.0.0.1",
            UPLIFT_HTTP_PORT=str(port),
        )
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*uplift_command(), "run"],
                cwd=tmp_path,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            # It connects by Socket Mode: the app token opens a connection, then the websocket.
            await until(
                lambda: any(not c.closed for c in slack.socket_connections), process, log, 15
            )
            connection = slack.socket_connection()
            opened = slack.calls("apps.connections.open")[-1]  # the first checks the token
            assert opened.headers["Authorization"] == f"Bearer {slack.app_token}"

            # The bot token was checked first (auth.test), then the app token.
            assert [c.method for c in slack.calls()][:2] == ["auth.test", "apps.connections.open"]

            # A slash command envelope: acked bare, answered privately through its response_url
            # (users.info says en-US).
            command = slash_command_payload(
                "/score", "", STAFF, CHANNEL, response_url=slack.response_url()
            )
            envelope_id = await slack.socket_send("slash_commands", command)
            ack = await slack.wait_for_ack(envelope_id, timeout=5)
            assert ack.message == {"envelope_id": envelope_id}
            [answer] = await slack.wait_for(RESPONSE_URL, timeout=5)
            assert answer.args["response_type"] == "ephemeral"
            assert "My points" in answer.args["text"]

            # An app_mention over the Events API: acked, and answered the same way.
            mention = {
                "type": "app_mention",
                "user": STAFF,
                "text": f"<@{BOT_USER_ID}> score",
                "channel": CHANNEL,
                "ts": "1700000000.000200",
                "event_ts": "1700000000.000200",
            }
            envelope_id = await slack.socket_send("events_api", event_callback_payload(mention))
            ack = await slack.wait_for_ack(envelope_id, timeout=5)
            assert ack.message == {"envelope_id": envelope_id}
            [mentioned] = await slack.wait_for("chat.postEphemeral", timeout=5)
            assert (mentioned.args["channel"], mentioned.args["user"]) == (CHANNEL, STAFF)
            assert "My points" in mentioned.args["text"]

            # The HTTP server still serves health; Slack's HTTP endpoint is not mounted.
            status, health = await get_health(http, f"{base}/healthz", 5)
            assert (status, health["status"]) == (200, "ok")
            async with http.post(f"{base}/slack/events", data=b"{}") as refused:
                assert refused.status == 404

            # SIGTERM: the process closes its websocket (normal closure) and exits 0.
            process.send_signal(signal.SIGTERM)
            assert await exit_status(process, 10) == 0, log.read_text("utf-8")
            closed = await slack.wait_for_socket_close(connection, timeout=5)
            assert closed.close_code == 1000
            assert (
                slack.count("apps.connections.open") == 2
            )  # the token check, one connection: no reconnect
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    output = log.read_text("utf-8")
    assert "Traceback" not in output
    assert slack.token not in output and slack.app_token not in output


async def test_a_wrong_app_token_stops_run_with_its_reason(tmp_path: Path) -> None:
    """A refused token is said plainly and ends the process, instead of retrying for ever."""
    async with FakeSlack() as slack:
        env = cli_env(
            f"sqlite:///{tmp_path / 'uplift.db'}",
            "en",
            SLACK_BOT_TOKEN=slack.token,
            SLACK_SIGNING_SECRET="x",
            SLACK_APP_TOKEN="xapp-not-the-right-one",
            SLACK_API_URL=slack.base_url,
            UPLIFT_HTTP_HOST="127.0.0.1",
            UPLIFT_HTTP_PORT=str(free_port()),
        )
        status, said = await run_until_it_stops(tmp_path, env, 20)
    assert status == 1
    assert "Could not connect to slack: invalid_auth" in said
    assert "xapp-not-the-right-one" not in said and "Traceback" not in said
