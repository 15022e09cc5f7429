"""The console chat end to end: the demo as a newcomer meets it; the adapter's forms and quizzes.

The demo tests talk to the real demo session (the real router, dispatcher, scheduler and a SQLite
file);
the adapter tests wire a router with test-only commands to the real dispatcher and console adapter.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.adapters.console import PLATFORM, ConsoleChat
from bot.delivery import Destination
from bot.demo import DemoSession
from bot.dispatcher import Dispatcher, DispatcherSettings
from campaigns.schema import Plan
from handlers import build_router
from handlers.framework.context import Context
from handlers.framework.router import Router
from kernel import (
    EVERYONE,
    MAX_COMMAND_ARGS,
    MAX_TEXT,
    Attachment,
    ChatRef,
    Choice,
    Event,
    Form,
    FormField,
    MovableClock,
    Quiz,
    Reply,
    Role,
    SenderRef,
    Text,
)
from messages import Renderer
from storage.database import Database
from storage.plans import load_plan
from storage.store import Store
from tests.harness import ROOT, open_demo

HELP_LINE = re.compile(r"^• /(\S+)", re.MULTILINE)


def demo(
    plan: Plan, db_path: Path, *, role: Role = Role.STAFF, locale: str = "en"
) -> AbstractAsyncContextManager[DemoSession]:
    return open_demo(plan, db_path, role=role, locale=locale)


def listed_commands(help_text: str) -> list[str]:
    return HELP_LINE.findall(help_text)


# --- /help ------------------------------------------------------------------------------------


async def test_help_in_english(plan: Plan, tmp_path: Path) -> None:
    async with demo(plan, tmp_path / "demo.db", locale="en") as chat:
        out = await chat.say("/help")
    assert "Hello Alex Li (staff)!" in out
    assert "Here is what you can do:" in out
    assert "• /help show this help" in out
    assert "• /lang choose your language (中文 / English)" in out
    assert "• /clock [time] demo only: show or move the clock" in out
    assert {"help", "lang", "clock"} <= set(listed_commands(out))


async def test_help_in_chinese(plan: Plan, tmp_path: Path) -> None:
    async with demo(plan, tmp_path / "demo.db", locale="zh") as chat:
        out = await chat.say("/help")
    assert "小李(员工),你好!" in out
    assert "你可以使用这些命令:" in out
    assert "• /help 查看帮助" in out
    assert "• /lang 切换语言(中文 / English)" in out
    assert "• /clock [时间] 演示用:查看或拨快时钟" in out
    assert "show this help" not in out


@pytest.mark.parametrize("role", list(Role))
async def test_help_lists_what_the_role_may_use(plan: Plan, tmp_path: Path, role: Role) -> None:
    async with demo(plan, tmp_path / "demo.db", role=role, locale="en") as chat:
        out = await chat.say("/help")
    assert f"Hello Alex Li ({role.value})!" in out
    # The demo's router is the shipped one plus its own /clock: /help shows exactly what the
    # shipped router lists for the role, in order.
    shipped = [route.name for route in build_router().commands_for(role)]
    assert listed_commands(out) == [*shipped, "clock"]
    assert {"help", "lang"} <= set(shipped)


async def test_help_keyword_and_chinese_alias(plan: Plan, tmp_path: Path) -> None:
    async with demo(plan, tmp_path / "demo.db", locale="zh") as chat:
        by_keyword = await chat.say("帮助")
        by_alias = await chat.say("/帮助")
        by_english_keyword = await chat.say("Menu")
    for out in (by_keyword, by_alias, by_english_keyword):
        assert "• /help 查看帮助" in out


# --- /lang ------------------------------------------------------------------------------------


async def test_lang_buttons_then_typing_a_number_switches_language(
    plan: Plan, tmp_path: Path
) -> None:
    async with demo(plan, tmp_path / "demo.db", locale="zh") as chat:
        offered = await chat.say("/lang")
        assert offered.splitlines() == ["请选择语言:", "  [1] 中文", "  [2] English"]
        switched = await chat.say("2")
        assert switched == "Done: I will speak English with you from now on."
        out = await chat.say("/help")
        assert "• /help show this help" in out
        assert "查看帮助" not in out
        back = await chat.say("/lang zh")
        assert back == "好的,以后用中文和你交流。"
        assert "• /help 查看帮助" in await chat.say("/help")


async def test_lang_with_an_unknown_language(plan: Plan, tmp_path: Path) -> None:
    async with demo(plan, tmp_path / "demo.db", locale="en") as chat:
        out = await chat.say("/lang klingon")
        assert out == 'I do not know the language "klingon". Choose zh (中文) or en (English).'
        assert "• /help show this help" in await chat.say("/help")


async def test_language_choice_is_kept_between_runs(plan: Plan, tmp_path: Path) -> None:
    db_path = tmp_path / "kept.db"
    async with demo(plan, db_path, locale="zh") as chat:
        assert "• /help 查看帮助" in await chat.say("/help")
        await chat.say("/lang")
        assert await chat.say("2") == "Done: I will speak English with you from now on."
        first_run_clock = chat.clock.now()
        await chat.say("/clock +2h")
        moved_to = chat.clock.now()
        assert moved_to == first_run_clock + dt.timedelta(hours=2)
    async with demo(plan, db_path, locale="zh") as chat:
        out = await chat.say("/help")
        assert "• /help show this help" in out  # the choice from the first run is still in force
        assert chat.clock.now() >= moved_to  # demo time never goes back to before a kept state


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "unknown", "not_understood"),
    [
        (
            "en",
            "There is no /frobnicate command. Type /help to see what you can use.",
            "I did not understand that. Type /help to see what you can do.",
        ),
        ("zh", "没有 /frobnicate 这个命令。输入 /help 查看可用命令。", "没看懂这句话。"),
    ],
)
async def test_bad_input_gets_a_clear_answer_and_the_chat_goes_on(
    plan: Plan, tmp_path: Path, locale: str, unknown: str, not_understood: str
) -> None:
    too_long = {"en": "That is too long: at most {limit} characters.", "zh": "最多 {limit} 个字"}
    help_line = {"en": "• /help show this help", "zh": "• /help 查看帮助"}[locale]
    async with demo(plan, tmp_path / "demo.db", locale=locale) as chat:
        assert await chat.say("/frobnicate now") == unknown
        assert not_understood in await chat.say("what is this thing")
        assert too_long[locale].format(limit=MAX_TEXT) in await chat.say("好" * (MAX_TEXT + 1))
        long_args = "/lang " + "x" * (MAX_COMMAND_ARGS + 1)
        assert too_long[locale].format(limit=MAX_COMMAND_ARGS) in await chat.say(long_args)
        assert await chat.say("   ") == ""
        hostile = await chat.say("/lang <script>@channel</script>")
        assert "<script>@\u2060channel</script>" in hostile  # plain text, mention broken
        assert help_line in await chat.say("/help")


async def test_exactly_the_limit_is_accepted(plan: Plan, tmp_path: Path) -> None:
    async with demo(plan, tmp_path / "demo.db", locale="en") as chat:
        out = await chat.say("x" * MAX_TEXT)
    assert "too long" not in out
    assert "I did not understand that." in out


# --- /clock -----------------------------------------------------------------------------------


async def test_clock_moves_forward_refuses_to_go_back_and_rejects_nonsense(
    plan: Plan, tmp_path: Path
) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    async with demo(plan, tmp_path / "demo.db", locale="en") as chat:
        start = chat.clock.now()
        shown = await chat.say("/clock")
        assert shown.startswith("It is now ")
        assert chat.clock.now() == start

        out = await chat.say("/clock +1d")
        after_a_day = start + dt.timedelta(days=1)
        assert chat.clock.now() == after_a_day
        local = after_a_day.astimezone(zone)
        assert f"It is now {local:%a} {local.day} {local:%b %Y %H:%M} (Asia/Shanghai)." in out

        out = await chat.say("/clock 09:00")
        assert chat.clock.now().astimezone(zone).time() == dt.time(9, 0)
        assert chat.clock.now() >= after_a_day
        assert " 09:00 (Asia/Shanghai)." in out

        before = chat.clock.now()
        out = await chat.say("/clock 2020-01-01 08:00")
        assert out.startswith("The clock only moves forward: it is already ")
        assert chat.clock.now() == before

        for nonsense in ("banana", "2027-13-45", "25:99", "+3y", "-1d"):
            out = await chat.say(f"/clock {nonsense}")
            assert out == (
                f'I cannot read the time "{nonsense}". Write it as 2027-05-11 08:30, 2027-05-11, '
                "09:00, +1d, +2h or +30m."
            )
            assert chat.clock.now() == before
        assert "• /help show this help" in await chat.say("/help")


async def test_clock_in_chinese(plan: Plan, tmp_path: Path) -> None:
    async with demo(plan, tmp_path / "demo.db", locale="zh") as chat:
        assert (await chat.say("/clock +30m")).startswith("现在是 ")
        assert (await chat.say("/clock 2001-01-01")).startswith("时钟只能往前拨")
        assert (await chat.say("/clock 明天")).startswith("看不懂时间“明天”")


# --- `uplift demo --script` as a newcomer runs it ---------------------------------------------


def run_cli(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "TELEGRAM_", "UPLIFT_", "DATABASE_URL"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", *args],
        cwd=tmp_path,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_script_prints_every_reply_and_exits_0(tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text(
        "/help\n# a comment line is skipped\n/lang\n1\n/lang en\n/frobnicate\n/clock +1h\n",
        encoding="utf-8",
    )
    result = run_cli(tmp_path, "--script", str(script), "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert out.startswith("Welcome to Uplift! You are Alex Li, staff at ")
    assert "> /help\n" in out
    assert "• /help show this help" in out
    assert "• /lang choose your language (中文 / English)" in out
    assert "a comment line" not in out
    assert "> /lang\nChoose your language:\n  [1] 中文\n  [2] English\n" in out
    assert "> 1\n好的,以后用中文和你交流。\n" in out
    assert "> /lang en\nDone: I will speak English with you from now on.\n" in out
    assert "There is no /frobnicate command." in out
    assert "> /clock +1h\nIt is now " in out
    assert list((tmp_path).iterdir()) == [script]  # no stray database in the working directory


def test_script_from_standard_input(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--script", "-", "--lang", "zh", stdin="/help\n/quit\n/help\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("欢迎试用 Uplift!")
    assert "> /help\n" in out
    assert out.count("• /help 查看帮助") == 1  # /quit ends the script


def test_as_supervisor_shows_the_role_in_the_welcome(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--as", "supervisor", "--script", "-", "--lang", "en", stdin="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Welcome to Uplift! You are Alex Li, supervisor at ")


def test_db_option_keeps_state_between_runs(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first = run_cli(tmp_path, "--db", str(db), "--script", "-", "--lang", "zh", stdin="/lang en\n")
    assert first.returncode == 0, first.stderr
    second = run_cli(tmp_path, "--db", str(db), "--script", "-", "--lang", "zh", stdin="/help\n")
    assert second.returncode == 0, second.stderr
    assert "• /help show this help" in second.stdout


def test_a_missing_script_is_reported(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--script", "nowhere.txt", "--lang", "en")
    assert result.returncode == 1
    assert "nowhere.txt" in result.stderr


# --- the console adapter: forms, quizzes, files --------------------------------------------------

TEST_TEMPLATES = {
    "test/form_title": "Report a good deed",
    "test/what": "What happened?",
    "test/note": "Anything to add?",
    "test/kind": "What kind of deed?",
    "test/kind_hint": "Pick the closest.",
    "test/kind_help": "Helping a guest",
    "test/kind_praise": "Praise from a guest",
    "test/desk": "Which desk?",
    "test/desk_front": "Front desk",
    "test/desk_back": "Back office",
    "test/thanks": "Thanks, saved.",
    "test/quiz_intro": "Today's drill:",
    "test/answered": "Answer {{ value }} recorded.",
    "test/caption": "Your chart <{{ name }}>",
}


@dataclass
class Seen:
    """What the test handlers received: the events as the dispatcher passed them on."""

    events: list[Event] = field(default_factory=list)


def router_with_test_commands(seen: Seen) -> Router:
    router = Router()

    async def ask(ctx: Context) -> None:
        ctx.form(
            Form(
                form_id="test.deed",
                title=Text("test/form_title"),
                fields=(
                    FormField("what", Text("test/what"), max_length=40),
                    FormField("note", Text("test/note"), kind="long_text", required=False),
                    FormField(
                        "kind",
                        Text("test/kind"),
                        kind="choice",
                        choices=(
                            Choice("help", Text("test/kind_help")),
                            Choice("praise", Text("test/kind_praise")),
                        ),
                        hint=Text("test/kind_hint"),
                    ),
                    FormField(
                        "desk",
                        Text("test/desk"),
                        kind="choice",
                        required=False,
                        choices=(
                            Choice("front", Text("test/desk_front")),
                            Choice("back", Text("test/desk_back")),
                        ),
                    ),
                ),
                submit=Text("test/thanks"),
                state="stage-1",
            )
        )

    async def submitted(ctx: Context) -> None:
        seen.events.append(ctx.event)
        ctx.reply("test/thanks")

    async def quiz(ctx: Context) -> None:
        ctx.quiz(
            Quiz(
                question="A guest waited 20 minutes. What do you say first?",
                options=("Next, please", "Sorry to keep you waiting", "It is not my fault"),
                correct_option=1,
                explanation="Apologise first.",
                action="test.answer",
                ref="drill-7",
            ),
            intro=Text("test/quiz_intro"),
        )

    async def answered(ctx: Context) -> None:
        seen.events.append(ctx.event)
        ctx.reply("test/answered", value=ctx.event.value)

    async def files(ctx: Context) -> None:
        ctx.replies.append(
            Reply(
                image=Attachment(
                    "chart.png", b"\x89PNG-bytes", "image/png", Text("test/caption", {"name": "Q2"})
                ),
                file=Attachment("../../outside.csv", "名字,分数\n王芳,98\n".encode(), "text/csv"),
            )
        )

    router.command("deed", ask, roles=EVERYONE)
    router.action("test.deed", submitted, roles=EVERYONE)
    router.command("quiz", quiz, roles=EVERYONE)
    router.action("test.answer", answered, roles=EVERYONE)
    router.command("files", files, roles=EVERYONE)
    return router


@dataclass
class Console:
    chat: ConsoleChat
    seen: Seen
    files: Path

    async def say(self, line: str) -> str:
        await self.chat.say(line)
        return self.chat.take_transcript()


@pytest.fixture
async def console(sqlite_url: str, tmp_path: Path, plan: Plan) -> AsyncIterator[Console]:
    templates = tmp_path / "templates"
    for locale in ("zh", "en"):
        shutil.copytree(ROOT / "messages" / locale, templates / locale)
    for name, source in TEST_TEMPLATES.items():
        (templates / "en" / f"{name}.j2").parent.mkdir(parents=True, exist_ok=True)
        (templates / "en" / f"{name}.j2").write_text(source, encoding="utf-8")
    database = Database(sqlite_url)
    now = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)
    async with database.transaction() as session:
        store = Store(session)
        summary = await load_plan(session, plan, now)
        assert plan.demo is not None
        unit = await store.units.by_key(summary.organisation_id, plan.demo.unit)
        assert unit is not None
        member = await store.members.add(
            organisation_id=summary.organisation_id,
            unit_id=unit.id,
            display_name="Tester",
            role=Role.STAFF,
            locale="en",
            now=now,
        )
        await store.members.add_identity(
            member, platform=PLATFORM, external_id="tester", private_chat_id="tester", now=now
        )
    seen = Seen()
    clock = MovableClock(now)
    dispatcher = Dispatcher(
        database, router_with_test_commands(seen), clock, DispatcherSettings(default_locale="zh")
    )
    chat = ConsoleChat(
        dispatcher,
        Renderer(root=templates),
        clock,
        SenderRef(PLATFORM, "tester"),
        ChatRef(PLATFORM, "tester", is_group=False),
        io.StringIO(),
        attachments_dir=tmp_path / "files",
    )
    try:
        yield Console(chat, seen, tmp_path / "files")
    finally:
        await database.dispose()


async def test_form_is_filled_field_by_field(console: Console) -> None:
    out = await console.say("/deed")
    assert out.splitlines() == [
        "Report a good deed",
        "Fill it in one line per field; type - to skip an optional one, /cancel to give up.",
        "» What happened?",
    ]
    assert await console.say("") == "This one is required."
    assert await console.say("-") == "This one is required."
    assert await console.say("x" * 41) == (
        "That is too long: at most 40 characters. Please shorten it and send it again.\n"
        "» What happened?"  # asked again, keeping what was entered before
    )
    assert await console.say("  Helped a guest fill in a form  ") == "» Anything to add? (optional)"
    assert await console.say("-") == (
        "» What kind of deed?\n"
        "  Pick the closest.\n"
        "  [1] Helping a guest\n"
        "  [2] Praise from a guest"
    )
    assert await console.say("3") == "Please type a number from 1 to 2."
    assert await console.say("praise") == "Please type a number from 1 to 2."
    assert await console.say("") == "This one is required."
    assert await console.say("2") == (
        "» Which desk? (optional)\n  [1] Front desk\n  [2] Back office"
    )
    assert console.seen.events == []
    assert await console.say("1") == "Thanks, saved."
    [event] = console.seen.events
    assert event.action == "test.deed"
    assert event.value == "stage-1"
    assert dict(event.form) == {
        "what": "Helped a guest fill in a form",
        "note": "",
        "kind": "praise",
        "desk": "front",
    }
    # The form is over: the next line is a command again, not a field.
    assert await console.say("/help") == (
        "There is no /help command. Type /help to see what you can use."
    )


async def test_optional_fields_can_be_skipped_with_an_empty_line_or_a_dash(
    console: Console,
) -> None:
    await console.say("/deed")
    await console.say("Found a lost card")
    assert await console.say("") == "» What kind of deed?\n  Pick the closest.\n" + (
        "  [1] Helping a guest\n  [2] Praise from a guest"
    )
    await console.say("1")
    assert await console.say("-") == "Thanks, saved."
    [event] = console.seen.events
    assert dict(event.form) == {"what": "Found a lost card", "note": "", "kind": "help", "desk": ""}


async def test_form_can_be_cancelled(console: Console) -> None:
    await console.say("/deed")
    await console.say("Something")
    assert await console.say("/cancel") == "Cancelled: the form was not submitted."
    assert console.seen.events == []
    # The chat is back to normal: the next line is a command again, not a field.
    assert (await console.say("/quiz")).startswith("Today's drill:")


async def test_quiz_options_are_numbered_and_a_number_answers(console: Console) -> None:
    out = await console.say("/quiz")
    assert out.splitlines() == [
        "Today's drill:",
        "A guest waited 20 minutes. What do you say first?",
        "  [1] Next, please",
        "  [2] Sorry to keep you waiting",
        "  [3] It is not my fault",
    ]
    assert await console.say("2") == "Answer drill-7:1 recorded."
    [event] = console.seen.events
    assert event.action == "test.answer"
    assert event.value == "drill-7:1"
    assert await console.say("3") == "Answer drill-7:2 recorded."
    assert console.seen.events[-1].value == "drill-7:2"
    # A number beyond the options is ordinary text.
    assert await console.say("4") == "I did not understand that. Type /help to see what you can do."


async def test_files_are_saved_and_their_paths_printed(console: Console, tmp_path: Path) -> None:
    out = await console.say("/files")
    chart = console.files / "chart.png"
    table = console.files / "outside.csv"
    assert out.splitlines() == [
        "Your chart <Q2>",
        f"[file saved: {chart}]",
        f"[file saved: {table}]",
    ]
    assert chart.read_bytes() == b"\x89PNG-bytes"
    assert table.read_text(encoding="utf-8") == "名字,分数\n王芳,98\n"
    assert not (tmp_path.parent / "outside.csv").exists()  # no writing outside the folder


async def test_pushes_are_printed_under_their_chat(console: Console) -> None:
    await console.chat.push(
        Destination(PLATFORM, "", "group:renmin-road", is_private=False),
        Reply(text=Text("test/thanks")),
        "en",
    )
    await console.chat.push(
        Destination(PLATFORM, "", "tester", is_private=True), Reply(text=Text("test/thanks")), "en"
    )
    assert console.chat.take_transcript().splitlines() == [
        "── group chat group:renmin-road ──",
        "Thanks, saved.",
        "── private message → tester ──",
        "Thanks, saved.",
    ]
