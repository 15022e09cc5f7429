"""Several ``uplift run`` on one PostgreSQL database (issue 13), as real processes.

- exactly one runs the scheduler (a PostgreSQL advisory lock) and ``/healthz`` says which; after
  ``kill -9`` of the leader the other takes over within its retry interval (a setting, made
  short here);
- a broadcast queued and announced (as the leader's tick announces what it queued) wakes both
  senders; ``kill -9`` of one during it: afterwards every message was delivered at least once,
  and only messages in flight at the kill (delivered but not yet recorded as sent) twice.

PostgreSQL only (SQLite serves one process): they skip without ``TEST_DATABASE_URL``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import insert, select

from kernel import Reply, Text
from storage.database import Database
from storage.models import OutboxMessage
from storage.wakeups import tell_instances
from tests.bot.test_secrets import Run, get
from tests.fakes.slack_api import FakeSlack
from tests.harness.cli import cli_env, free_port

SIGNING_SECRET = "instances-signing-secret"
RETRY_SECONDS = "0.2"  # how often a follower asks for the leadership (15 s by default)
LEASE_SECONDS = "2"  # how long a claim on a message lasts (60 s by default)
# messages, one per channel (Slack paces each channel at one a second); ``bench/crash.py`` runs
# this test with 10,000
BROADCAST = int(os.environ.get("UPLIFT_TEST_BROADCAST", "600"))
FIGURES = os.environ.get("UPLIFT_TEST_FIGURES")  # where to write what the test counted (JSON)
ROUND_TRIP = 0.02  # seconds the fake takes to answer a post: messages are in flight a while


@pytest.fixture
def pg_url(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        pytest.skip("several instances need PostgreSQL")
    return db_url


class SlowSlack(FakeSlack):
    """The fake Slack answering posts after a round trip; the post counts from its arrival."""

    async def _api(self, request: web.Request) -> web.Response:
        answer = await super()._api(request)
        if request.match_info["method"] == "chat.postMessage":
            await asyncio.sleep(ROUND_TRIP)
        return answer


class Instance:
    def __init__(self, tmp_path: Path, name: str, db_url: str, slack: FakeSlack) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        folder = tmp_path / name
        folder.mkdir()
        env = cli_env(
            db_url,
            "en",
            SLACK_BOT_TOKEN=slack.token,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.base_url,
            UPLIFT_HTTP_HOST="127.0.0.1",
            UPLIFT_HTTP_PORT=str(self.port),
            UPLIFT_LEADER_RETRY_SECONDS=RETRY_SECONDS,
            UPLIFT_SENDER_LEASE_SECONDS=LEASE_SECONDS,
        )
        self.run = Run(folder, env)

    async def role(self, http: aiohttp.ClientSession) -> str | None:
        """``leader`` or ``follower`` as its /healthz says; None while it does not answer."""
        try:
            status, body = await get(http, f"{self.base}/healthz")
        except aiohttp.ClientConnectionError:
            return None
        return json.loads(body)["scheduler"] if status == 200 else None


async def wait_for(condition, run_check, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await condition():
        run_check()
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def alive(*instances: Instance) -> None:
    for instance in instances:
        assert instance.run.process.poll() is None, instance.run.stderr


async def test_two_instances_one_leader_and_a_kill_during_a_broadcast(
    tmp_path: Path, pg_url: str
) -> None:
    """One pair of processes for both checks: starting ``uplift run`` is most of the cost."""
    channels = [f"C{i:07d}" for i in range(BROADCAST)]
    database = Database(pg_url)
    async with SlowSlack() as slack, aiohttp.ClientSession() as http:
        for channel in channels:
            slack.add_channel(channel, joined=True)
        a, b = Instance(tmp_path, "a", pg_url, slack), Instance(tmp_path, "b", pg_url, slack)
        try:

            async def one_leader() -> bool:
                roles = sorted([str(await a.role(http)), str(await b.role(http))])
                return roles == ["follower", "leader"]

            def posted() -> Counter[str]:
                return Counter(
                    call.args["channel"]
                    for call in slack.calls("chat.postMessage")
                    if call.args.get("channel") in slack.channels
                )

            async def a_quarter_out() -> bool:
                return len(posted()) >= BROADCAST // 4

            await wait_for(one_leader, lambda: alive(a, b))
            leader, follower = (a, b) if await a.role(http) == "leader" else (b, a)
            # Queued behind both senders' backs and announced, as the leader's tick does: both
            # senders wake and send at once.
            await queue_a_broadcast(database, channels)
            await tell_instances(database)
            await wait_for(a_quarter_out, lambda: alive(a, b))

            leader.run.kill()  # kill -9: no chance to let go of the lock or record a send
            await asyncio.sleep(0.2)  # let the fake take what the dead process had written
            in_flight = set(posted()) - await sent(database)  # posted, not yet recorded

            async def took_over() -> bool:
                return await follower.role(http) == "leader"

            async def all_sent() -> bool:
                return len(await sent(database)) == BROADCAST

            await wait_for(took_over, lambda: alive(follower))
            await wait_for(all_sent, lambda: alive(follower), timeout=max(60, BROADCAST / 20))
        finally:
            a.run.kill()
            b.run.kill()
            await database.dispose()
        counts = posted()
    repeated = {channel for channel, count in counts.items() if count > 1}
    if FIGURES:
        figures = {
            "messages": BROADCAST,
            "delivered": len(counts),
            "lost": len(set(channels) - set(counts)),
            "posts": sum(counts.values()),
            "repeated": len(repeated),
            "in_flight_at_kill": len(in_flight),
            "repeated_not_in_flight": len(repeated - in_flight),
        }
        Path(FIGURES).write_text(json.dumps(figures))
    assert set(counts) == set(channels)  # nothing lost
    assert repeated <= in_flight, (len(repeated), len(in_flight))
    assert "Traceback" not in follower.run.stderr, follower.run.stderr


async def queue_a_broadcast(database: Database, channels: list[str]) -> None:
    now = dt.datetime.now(dt.UTC)
    reply = Reply(text=Text("errors/internal")).to_json()
    async with database.transaction() as session:
        await session.execute(
            insert(OutboxMessage),
            [
                {
                    "idempotency_key": f"broadcast:{channel}",
                    "platform": "slack",
                    "workspace": "",
                    "chat_id": channel,
                    "locale": "en",
                    "reply": reply,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for channel in channels
            ],
        )


async def sent(database: Database) -> set[str]:
    """The channels whose message is recorded as sent."""
    async with database.transaction() as session:
        found = await session.scalars(
            select(OutboxMessage.chat_id).where(OutboxMessage.status == "sent")
        )
        return set(found)
