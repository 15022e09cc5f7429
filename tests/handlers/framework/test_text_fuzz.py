"""Whatever anyone types, in any script or none, the bot answers calmly: never an internal error,
never markup or a mass mention echoed back raw, and nothing stuck in a half-finished flow."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.dispatcher import Dispatcher, DispatcherSettings
from handlers import build_router
from kernel import ChatRef, Event, EventKind, MovableClock, Role, SenderRef
from messages import Renderer, Target
from storage.database import Database
from tests.harness import at, read_plan

NOW = at("2027-01-04 10:00")
WORDS = st.sampled_from(
    ["/score", "/drill", "/check", "/fix", "/observe", "/report", "/remind", "/inspect", "/lang",
     "/join", "/start", "/help", "/leaderboard", "/stage", "/approve", "/deed", "/积分", "明细",
     "@channel", "<@U123>", "<b>", "&amp;", "\x00", "\u202e", "🙂", "-", "1", "99999999999999999"]
)  # fmt: skip
TEXT = st.lists(st.one_of(WORDS, st.text(max_size=40)), max_size=6).map(" ".join)


@pytest.fixture(scope="module")
def database_file(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copy(sqlite_template, path)

    async def seat() -> None:
        database = Database(f"sqlite:///{path}")
        try:
            async with database.store() as store:
                summary = await store.plans.load(read_plan("postal-bank"), NOW)
                unit = await store.units.by_key(summary.organisation_id, "renmin-road")
                assert unit is not None
                for user, role in (("staff", Role.STAFF), ("boss", Role.SUPERVISOR)):
                    member = await store.members.add(
                        organisation_id=summary.organisation_id,
                        unit_id=unit.id,
                        display_name=user,
                        role=role,
                        now=NOW,
                    )
                    await store.members.add_identity(
                        member, platform="console", external_id=user, private_chat_id=user, now=NOW
                    )
        finally:
            await database.dispose()

    asyncio.run(seat())
    return path


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(TEXT, min_size=1, max_size=4), who=st.sampled_from(["staff", "boss", "x"]))
def test_random_text_never_breaks_the_bot(database_file: Path, lines: list[str], who: str) -> None:
    asyncio.run(_say(database_file, lines, who))


async def _say(path: Path, lines: list[str], who: str) -> None:
    database = Database(f"sqlite:///{path}")
    renderer = Renderer()
    try:
        dispatcher = Dispatcher(
            database, build_router(), MovableClock(NOW), DispatcherSettings(default_locale="zh")
        )
        for line in lines:
            command, _, args = line.partition(" ")
            fields = (
                {"kind": EventKind.COMMAND, "command": command[1:], "args": args}
                if command.startswith("/") and len(command) > 1
                else {"kind": EventKind.TEXT, "text": line}
            )
            outcome = await dispatcher.handle(
                Event(
                    sender=SenderRef("console", who),
                    chat=ChatRef("console", who, is_group=False),
                    received_at=NOW,
                    **fields,
                )
            )
            templates = [r.text.template for r in outcome.replies if r.text]
            assert "errors/internal" not in templates, (line, templates)
            for reply in outcome.replies:
                if reply.text is None:
                    continue
                shown = renderer.render(reply.text, outcome.locale, Target.SLACK)
                assert "<!channel>" not in shown and "<@U123>" not in shown
                assert "@channel" not in shown
    finally:
        await database.dispose()
