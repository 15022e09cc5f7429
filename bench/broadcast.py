"""Benchmark: a drill broadcast to 10,000 Telegram groups and 2,000 Slack channels through the
strict local fakes (tests/fakes/), every answer held 80 ms (a round trip to the platform).

One outbox row per chat is queued through the repository (as the 08:30 tick queues the drills),
then the real sender (bot/delivery.py) runs as ``uplift run`` runs it — ``run()`` woken once —
through the real adapters (python-telegram-bot, slack_sdk) until every row is sent. Measured on
the fakes' own records, in the same run:

- messages a second on each platform against its limit: Telegram about 30 a second for the bot
  (core.telegram.org/bots/faq); Slack about one a second per channel (docs.slack.dev/apis/web-api/
  rate-limits), so one message to each of N channels may all go within a second: N a second;
- for Slack, beside that limit, the reference measured in the same run: the same drill pushed
  straight through the adapter to as many other channels at once, with no outbox and no pacing
  (``bare_per_second``): with one message per channel Slack's limit allows them all at once, so
  what bounds a Slack broadcast is how fast this machine posts at all;
- 429s (goal 0), duplicates (a chat that got the drill twice, goal 0) and lost (a chat that got
  nothing, or a row not sent, goal 0); Telegram's busiest second (the fake refuses a 31st).

Goal: at least 0.95 of each limit, with no 429, no duplicate, nothing lost.

    .venv/bin/python bench/broadcast.py            # 10,000 Telegram groups, 2,000 Slack channels
    .venv/bin/python bench/broadcast.py --small    # 1,000 and 200 (under a minute)

PostgreSQL (BENCH_DATABASE_URL, a fresh database dropped at the end) when it answers, else a temp
SQLite file; ``--backend`` picks one. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench.population import backends, fresh_database
from bot.adapters.slack import SlackAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.delivery import CONCURRENCY, Destination, Sender
from bot.dispatcher import Dispatcher, DispatcherSettings
from bot.metrics import Metrics
from handlers import build_router
from kernel import Quiz, Reply, SystemClock, Text
from messages import Renderer
from storage.database import Database
from storage.models import OutboxMessage
from tests.fakes.slack_api import TEAM_ID, FakeSlack
from tests.fakes.slack_api import TOKEN as SLACK_TOKEN
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123:ABC"
ROUND_TRIP = 0.08  # seconds
TELEGRAM_PER_SECOND = 30.0  # the bot's overall limit (Bot FAQ)
SLACK_PER_CHANNEL = 1.0  # chat.postMessage per channel (Slack's rate-limit page)
GOAL = 0.95
SIZES = {"full": (10_000, 2_000), "small": (1_000, 200)}


def drill(ref: str) -> Reply:
    """A choice drill whose intro folds into the poll's question: one message on Telegram."""
    return Reply(
        text=Text("telegram/choose"),
        quiz=Quiz(
            question="A customer's card is swallowed by the ATM. What do you do first?",
            options=("Call the card centre", "Open the ATM", "Ask them to come back tomorrow"),
            correct_option=0,
            explanation="The card centre blocks the card at once.",
            action="drill.answer",
            ref=ref,
        ),
    )


async def queue(database: Database, groups: list[int], channels: list[str]) -> float:
    started = time.perf_counter()
    now = SystemClock().now()
    async with database.store() as store:
        for group in groups:
            await store.outbox.enqueue(
                key=f"drill:telegram:{group}",
                platform="telegram",
                chat_id=str(group),
                reply=drill(str(-group)).to_json(),
                locale="en",
                due_at=now,
                now=now,
            )
        for channel in channels:
            await store.outbox.enqueue(
                key=f"drill:slack:{channel}",
                platform="slack",
                workspace=TEAM_ID,
                chat_id=channel,
                reply=drill(channel).to_json(),
                locale="en",
                due_at=now,
                now=now,
            )
    return time.perf_counter() - started


async def pending(database: Database) -> int:
    async with database.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
    return int(count or 0)


def busiest_second(times: list[float]) -> int:
    ordered, most, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def figures(
    chats: list[Any], delivered: list[Any], times: list[float], refused: int, started: float
) -> dict[str, Any]:
    """What one platform's fake saw: ``delivered`` the chat of every accepted message."""
    seen = Counter(delivered)
    span = (max(times) - started) if times else float("nan")
    return {
        "chats": len(chats),
        "messages": len(delivered),
        "seconds": round(span, 2),
        "per_second": round(len(delivered) / span, 1) if times else 0.0,
        "rate_limited": refused,
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "lost": sum(1 for chat in chats if chat not in seen),
    }


async def watch_the_loop(stop: asyncio.Event, lags: list[float]) -> None:
    """How late the sender's event loop wakes a 10 ms sleep: a stall delays every message due
    in it (a busy machine, or work that holds the loop)."""
    while not stop.is_set():
        before = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - before - 0.01)


async def bare_slack(adapter: SlackAdapter, channels: list[str]) -> float:
    """The reference measured in the same run: the same drill pushed straight through the
    adapter to as many other channels, as many at once as the sender has in flight, with no
    outbox, no database and no pacing: how fast this machine posts to Slack at all."""
    in_flight = asyncio.Semaphore(CONCURRENCY)
    reply = drill("bare")

    async def post(channel: str) -> None:
        async with in_flight:
            await adapter.push(Destination("slack", TEAM_ID, channel, False), reply, "en")

    started = time.monotonic()
    await asyncio.gather(*(post("R" + channel[1:]) for channel in channels))
    return started


async def serve_fakes(channels: int) -> None:
    """The child process: both fakes on loopback, apart from the sender's event loop (so the
    time a message arrives is the fake's, not the sender's, as with a real server). Prints the
    URLs; on a line on stdin, prints what each fake took and exits."""
    joined = [f"{prefix}{n:08d}" for prefix in ("C", "R") for n in range(channels)]
    async with (
        FakeTelegram(TOKEN, delay=ROUND_TRIP) as telegram,
        FakeSlack(joined=joined, delay=ROUND_TRIP) as slack,
    ):
        print(json.dumps({"telegram": telegram.base_url, "slack": slack.base_url}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        told = telegram.messages_sent()
        posted = [c for c in slack.calls("chat.postMessage") if c.status == 200]
        report = {
            "telegram": [[int(c["chat_id"]), c.at] for c in told],
            "telegram_429": len(telegram.rate_limited),
            "slack": [[c.args["channel"], c.at] for c in posted if c.args["channel"][0] == "C"],
            "bare": [[c.args["channel"], c.at] for c in posted if c.args["channel"][0] == "R"],
            "slack_429": sum(1 for c in slack.calls() if c.status == 429),
        }
        print(json.dumps(report), flush=True)


async def broadcast(url: str, telegram_chats: int, slack_channels: int) -> dict[str, Any]:
    groups = [-5_000_000_000 - n for n in range(telegram_chats)]
    channels = [f"C{n:08d}" for n in range(slack_channels)]
    fakes = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve-fakes",
        str(slack_channels),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=64 * 1024 * 1024,
    )
    assert fakes.stdin is not None and fakes.stdout is not None
    urls = json.loads(await fakes.stdout.readline())
    database = Database(url)
    clock = SystemClock()
    dispatcher = Dispatcher(
        database, build_router(), clock, DispatcherSettings(default_locale="en")
    )
    telegram_adapter = TelegramAdapter(
        dispatcher, Renderer(), clock, token=TOKEN, api_url=urls["telegram"]
    )
    await telegram_adapter.application.initialize()
    slack_adapter = SlackAdapter(
        dispatcher,
        Renderer(),
        clock,
        token=SLACK_TOKEN,
        signing_secret="bench",
        api_url=urls["slack"],
    )
    sender = Sender(
        database, clock, {"telegram": telegram_adapter, "slack": slack_adapter}, metrics=Metrics()
    )
    queued = await queue(database, groups, channels)
    print(f"queued {len(groups)} + {len(channels)} rows in {queued:.1f} s", flush=True)
    stop = asyncio.Event()
    lags: list[float] = []
    watching = asyncio.create_task(watch_the_loop(stop, lags))
    started = time.monotonic()
    running = asyncio.create_task(sender.run(stop))
    sender.wake()
    deadline = started + telegram_chats / TELEGRAM_PER_SECOND * 3 + 60
    left = len(groups) + len(channels)
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        left = await pending(database)
        if left == 0:
            break
    stop.set()
    await running
    await watching
    bare_started = await bare_slack(slack_adapter, channels)
    await telegram_adapter.application.shutdown()
    await database.dispose()
    fakes.stdin.write(b"report\n")
    await fakes.stdin.drain()
    report = json.loads(await fakes.stdout.readline())
    await fakes.wait()
    told = report["telegram"]
    tg = figures(
        groups, [c for c, _ in told], [t for _, t in told], report["telegram_429"], started
    )
    tg["busiest_second"] = busiest_second([t for _, t in told])
    tg["limit_per_second"] = TELEGRAM_PER_SECOND
    posted = report["slack"]
    sl = figures(
        channels, [c for c, _ in posted], [t for _, t in posted], report["slack_429"], started
    )
    sl["limit_per_second"] = slack_channels * SLACK_PER_CHANNEL
    bare = [t for _, t in report["bare"]]
    sl["bare_per_second"] = round(len(bare) / (max(bare) - bare_started), 1) if bare else 0.0
    sl["ratio_to_bare"] = round(sl["per_second"] / sl["bare_per_second"], 3) if bare else None
    for platform in (tg, sl):
        platform["ratio"] = round(platform["per_second"] / platform["limit_per_second"], 3)
    lags.sort()
    loop = {
        "lag_p50_ms": round(lags[len(lags) // 2] * 1000, 1) if lags else None,
        "lag_p99_ms": round(lags[int(len(lags) * 0.99)] * 1000, 1) if lags else None,
        "stalls_over_100ms": sum(1 for lag in lags if lag > 0.1),
    }
    return {
        "queue_seconds": round(queued, 2),
        "rows_not_sent": left,
        "event_loop": loop,
        "telegram": tg,
        "slack": sl,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="1,000 groups and 200 channels")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"))
    parser.add_argument("--serve-fakes", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve_fakes is not None:
        await serve_fakes(options.serve_fakes)
        return
    logging.basicConfig(level=logging.ERROR)
    telegram_chats, slack_channels = SIZES["small" if options.small else "full"]
    backend = options.backend or backends()[-1]
    with fresh_database(backend, "broadcast") as url:
        result = await broadcast(url, telegram_chats, slack_channels)
    for name in ("telegram", "slack"):
        print(f"{name}: " + json.dumps(result[name]), flush=True)
    met = all(
        result[name]["ratio"] >= GOAL
        and result[name]["rate_limited"] == 0
        and result[name]["duplicates"] == 0
        and result[name]["lost"] == 0
        for name in ("telegram", "slack")
    )
    print(
        json.dumps(
            {
                "benchmark": "broadcast",
                "size": "small" if options.small else "full",
                "backend": backend,
                "round_trip_ms": int(ROUND_TRIP * 1000),
                "goal_ratio": GOAL,
                **result,
                "goal_met": met,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
