"""Benchmark: the resident memory of ``uplift run``, idle and while it sends a broadcast to
50,000 members, with Telegram pointed at the local fake (tests/fakes/telegram_api.py, which keeps
Telegram's flood limits, so the broadcast is measured over a window, not to its end).

A temp SQLite database with the postal bank's plan and 50,000 members with private Telegram chats.
``uplift run`` starts as a subprocess; its VmRSS is read from /proc/<pid>/status: once it answers
/healthz and has settled (idle), then every 0.2 s after 50,000 pending outbox rows are queued
(the broadcast), with the messages the fake received in that window. Beside them, for
reference in the same run: the RSS of a bare Python that imports the app (bot.service, bot.cli).

    .venv/bin/python bench/memory.py            # a 60 s broadcast window
    .venv/bin/python bench/memory.py --small    # a 10 s window (under a minute in all)

Goal: < 150 MB idle and during the broadcast. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLAN = ROOT / "campaigns" / "plans" / "postal-bank.yaml"
MEMBERS = 50_000
GOAL_MB = 150.0
NOW = dt.datetime.now(dt.UTC)


def vm_rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def seed(url: str) -> list[tuple[int, str]]:
    """The plan and the members, each with a private Telegram chat: (member id, chat id)."""
    from sqlalchemy import insert, select

    from campaigns.loader import read_plan_file
    from kernel import Role
    from storage.database import Database
    from storage.models import Member, PlatformIdentity
    from storage.plans import load_plan
    from storage.store import Store

    plan = read_plan_file(PLAN).plan
    assert plan is not None
    database = Database(url)
    try:
        async with database.transaction() as session:
            summary = await load_plan(session, plan, NOW)
            outlets = [
                u
                for u in await Store(session).units.of_organisation(summary.organisation_id)
                if u.depth == 2
            ]
            await session.execute(
                insert(Member),
                [
                    {
                        "organisation_id": summary.organisation_id,
                        "unit_id": outlets[n % len(outlets)].id,
                        "display_name": f"Member {n}",
                        "role": Role.STAFF,
                        "created_at": NOW,
                    }
                    for n in range(MEMBERS)
                ],
            )
            ids = list(await session.scalars(select(Member.id).order_by(Member.id)))[-MEMBERS:]
            await session.execute(
                insert(PlatformIdentity),
                [
                    {
                        "member_id": member_id,
                        "platform": "telegram",
                        "external_id": str(10_000 + n),
                        "private_chat_id": str(10_000 + n),
                        "created_at": NOW,
                    }
                    for n, member_id in enumerate(ids)
                ],
            )
    finally:
        await database.dispose()
    return [(member_id, str(10_000 + n)) for n, member_id in enumerate(ids)]


async def queue_broadcast(url: str, people: list[tuple[int, str]]) -> None:
    """One pending private message to every member, due now."""
    from sqlalchemy import insert

    from kernel import Reply, Text
    from storage.database import Database
    from storage.models import OutboxMessage

    reply = Reply(text=Text("reports/total")).to_json()
    due = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    database = Database(url)
    try:
        async with database.transaction() as session:
            await session.execute(
                insert(OutboxMessage),
                [
                    {
                        "idempotency_key": f"bench-memory:{member_id}",
                        "platform": "telegram",
                        "workspace": "",
                        "chat_id": chat_id,
                        "member_id": member_id,
                        "private": True,
                        "locale": "en",
                        "reply": reply,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": due,
                        "created_at": due,
                    }
                    for member_id, chat_id in people
                ],
            )
    finally:
        await database.dispose()


def bare_import_rss() -> float:
    probe = (
        "import pathlib, bot.service, bot.cli; "
        "print(next(int(l.split()[1]) / 1024 for l in "
        "pathlib.Path('/proc/self/status').read_text().splitlines() if l.startswith('VmRSS:')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip())


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except Exception:  # not up yet
        return False


async def started(env: dict[str, str], folder: str, port: int) -> subprocess.Popen[bytes]:
    """``uplift run`` once it answers /healthz."""
    from tests.harness.cli import uplift_command

    log = Path(folder) / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*uplift_command(), "run"], cwd=folder, env=env, stdout=out, stderr=out
        )
    deadline = time.monotonic() + 60
    while not healthy(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(log.read_text(encoding="utf-8", errors="replace"))
        await asyncio.sleep(0.2)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


async def measure(window: float) -> dict[str, object]:
    """Idle: a first run on the members alone. The broadcast: the 50,000 rows queued, then a
    second run (rows queued by another process wake the sender only at its next idle check)."""
    from storage.migrate import upgrade
    from tests.fakes.telegram_api import FakeTelegram
    from tests.harness.cli import cli_env, free_port

    with tempfile.TemporaryDirectory(prefix="uplift-bench-memory-") as folder:
        url = f"sqlite:///{Path(folder) / 'uplift.db'}"
        await asyncio.to_thread(upgrade, url)
        people = await seed(url)
        async with FakeTelegram() as telegram:
            port = free_port()
            env = cli_env(
                url,
                "en",
                TELEGRAM_BOT_TOKEN=telegram.token,
                TELEGRAM_API_URL=telegram.base_url,
                UPLIFT_HTTP_HOST="127.0.0.1",
                UPLIFT_HTTP_PORT=str(port),
            )
            process = await started(env, folder, port)
            try:
                await asyncio.sleep(3)  # settled
                idle = vm_rss_mb(process.pid)
            finally:
                stop(process)
            await queue_broadcast(url, people)
            process = await started(env, folder, port)
            try:
                begun, peak, samples = time.monotonic(), 0.0, []
                while time.monotonic() - begun < window:
                    rss = vm_rss_mb(process.pid)
                    samples.append(rss)
                    peak = max(peak, rss)
                    await asyncio.sleep(0.2)
                sent = len(telegram.messages_sent())
                high_water = vm_rss_mb(process.pid, "VmHWM")
            finally:
                stop(process)
    return {
        "idle_rss_mb": round(idle, 1),
        "broadcast_peak_rss_mb": round(peak, 1),
        "broadcast_last_rss_mb": round(samples[-1], 1) if samples else None,
        "vm_hwm_mb": round(high_water, 1),
        "broadcast_members": MEMBERS,
        "window_s": window,
        "messages_sent_in_window": sent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a 10 s broadcast window")
    args = parser.parse_args()
    os.chdir(ROOT)
    figures = asyncio.run(measure(10.0 if args.small else 60.0))
    reference = bare_import_rss()
    worst = max(float(figures["idle_rss_mb"]), float(figures["broadcast_peak_rss_mb"]))  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "bench": "memory",
                **figures,
                "import_only_rss_mb": round(reference, 1),
                "goal_mb": GOAL_MB,
                "ratio_to_goal": round(worst / GOAL_MB, 2),
                "idle_over_import_only": round(float(figures["idle_rss_mb"]) / reference, 2),  # type: ignore[arg-type]
            }
        )
    )


if __name__ == "__main__":
    main()
