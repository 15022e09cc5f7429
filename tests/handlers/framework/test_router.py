"""The router (commands, aliases, actions, flows, keywords, roles) and the dispatcher's checks
around it:
role refusals, strangers, and repeated platform events handled once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from bot.dispatcher import Dispatcher, DispatcherSettings
from handlers.framework.context import Context
from handlers.framework.router import Handler, Router
from kernel import (
    ADMINS,
    EVERYONE,
    STAFF_AND_ABOVE,
    SUPERVISORS,
    Audience,
    ChatRef,
    Event,
    EventKind,
    MovableClock,
    Refusal,
    Reply,
    Role,
    SenderRef,
    Text,
)
from messages import Renderer
from storage.database import Database
from storage.models import Organisation
from storage.store import Store

NOW = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)


async def nothing(ctx: Context) -> None:
    return None


def handler_named(name: str) -> Handler:
    async def handler(ctx: Context) -> None:
        ctx.reply("errors/unknown_command", command=name)

    handler.__name__ = name
    return handler


def event(
    kind: EventKind = EventKind.COMMAND,
    *,
    user: str = "u1",
    group: bool = False,
    event_id: str | None = None,
    locale: str | None = "en",
    **fields: str,
) -> Event:
    return Event(
        kind=kind,
        sender=SenderRef("console", user, locale=locale),
        chat=ChatRef("console", "group-1" if group else user, is_group=group),
        received_at=NOW,
        event_id=event_id,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def router() -> Router:
    router = Router()
    router.command(
        "help",
        handler_named("help"),
        roles=EVERYONE,
        aliases=("帮助",),
        help_template="guide/help_help",
        open_to_strangers=True,
    )
    router.command(
        "score",
        handler_named("score"),
        roles=STAFF_AND_ABOVE,
        aliases=("积分", "MyScore"),
        help_template="points/help_score",
    )
    router.command("report", handler_named("report"), roles=SUPERVISORS, help_template="x/report")
    router.command("admin", handler_named("admin"), roles=ADMINS, help_template="x/admin")
    router.command("observe", handler_named("observe"), roles={Role.VOLUNTEER}, help_template="x")
    router.command("secret", handler_named("secret"), roles=EVERYONE)  # not listed in /help
    router.action("drill.answer", handler_named("drill.answer"), roles=STAFF_AND_ABOVE)
    router.flow("selfcheck", handler_named("selfcheck"), roles=STAFF_AND_ABOVE)
    router.keyword(("我的积分", "My Score", "score"), "score")
    router.keyword(("帮助", "Help"), "help")
    return router


# --- declaring and resolving ------------------------------------------------------------------


def test_commands_and_aliases_resolve_to_the_same_route(router: Router) -> None:
    score = router.command_route("score")
    assert score is not None
    assert score.name == "score"
    assert score.roles == STAFF_AND_ABOVE
    assert score.help_template == "points/help_score"
    assert score.open_to_strangers is False
    assert router.command_route("积分") is score
    assert router.command_route("myscore") is score
    assert router.command_route("SCORE") is score
    assert router.command_route("MYSCORE") is score
    assert router.command_route("帮助") is router.command_route("help")
    assert router.command_route("nope") is None


def test_actions_and_flows_resolve(router: Router) -> None:
    answer = router.action_route("drill.answer")
    assert answer is not None and answer.name == "drill.answer"
    assert answer.roles == STAFF_AND_ABOVE
    assert router.action_route("drill.other") is None
    flow = router.flow_route("selfcheck")
    assert flow is not None and flow.name == "selfcheck"
    assert router.flow_route("deed") is None


@pytest.mark.parametrize(
    "declare",
    [
        lambda r: r.command("score", nothing, roles=EVERYONE),
        lambda r: r.command("Score", nothing, roles=EVERYONE),
        lambda r: r.command("points", nothing, roles=EVERYONE, aliases=("积分",)),
        lambda r: r.command("points", nothing, roles=EVERYONE, aliases=("help",)),
        lambda r: r.command("积分", nothing, roles=EVERYONE),  # a name that is already an alias
        lambda r: r.command("points", nothing, roles=EVERYONE, aliases=("pts", "PTS")),
        lambda r: r.command("points", nothing, roles=EVERYONE, aliases=("points",)),
        lambda r: r.action("drill.answer", nothing, roles=EVERYONE),
        lambda r: r.flow("selfcheck", nothing, roles=EVERYONE),
        lambda r: r.keyword(("我的积分",), "help"),
        lambda r: r.keyword(("my score",), "help"),
        lambda r: r.keyword(("new", "NEW"), "help"),
    ],
    ids=[
        "command",
        "command-other-case",
        "alias-of-another-command",
        "alias-shadowing-a-command",
        "command-shadowing-an-alias",
        "alias-twice",
        "alias-equal-to-name",
        "action",
        "flow",
        "keyword",
        "keyword-other-case",
        "keyword-twice-in-one-call",
    ],
)
def test_a_duplicate_declaration_raises(router: Router, declare: Callable[[Router], None]) -> None:
    help_route = router.command_route("help")
    with pytest.raises(ValueError, match="declared twice"):
        declare(router)
    # What was there before is untouched.
    assert router.command_route("help") is help_route
    assert router.command_route("积分") is router.command_route("score")


def test_the_same_action_id_may_also_be_a_command_name(router: Router) -> None:
    """Commands, actions and flows are separate tables: ``score`` may also be a button id."""
    router.action("score", handler_named("score-button"), roles=EVERYONE)
    router.flow("score", handler_named("score-flow"), roles=EVERYONE)
    assert router.action_route("score") is not router.command_route("score")


# --- routing events ---------------------------------------------------------------------------


def test_commands_route_by_name_whatever_flow_is_open(router: Router) -> None:
    route = router.route_for(event(command="score"), active_flow="selfcheck")
    assert route is router.command_route("score")
    assert router.route_for(event(command="missing"), active_flow=None) is None


def test_actions_and_forms_route_by_action_id(router: Router) -> None:
    action = event(EventKind.ACTION, action="drill.answer", value="3:1")
    assert router.route_for(action, None) is router.action_route("drill.answer")
    form = event(EventKind.FORM, action="drill.answer")
    assert router.route_for(form, "selfcheck") is router.action_route("drill.answer")
    assert router.route_for(event(EventKind.ACTION, action="gone"), None) is None


def test_free_text_goes_to_the_open_flow_before_keywords(router: Router) -> None:
    text = event(EventKind.TEXT, text="我的积分")
    assert router.route_for(text, active_flow="selfcheck") is router.flow_route("selfcheck")
    assert router.route_for(text, active_flow=None) is router.command_route("score")


def test_a_flow_nobody_declares_falls_back_to_keywords(router: Router) -> None:
    text = event(EventKind.TEXT, text="my score")
    assert router.route_for(text, active_flow="retired-flow") is router.command_route("score")
    assert router.route_for(event(EventKind.TEXT, text="hi"), "retired-flow") is None


@pytest.mark.parametrize("text", ["my score", "My Score", "MY SCORE", "  my score  ", "Score"])
def test_english_keywords_ignore_case_and_surrounding_space(router: Router, text: str) -> None:
    assert router.keyword_command(text) == "score"
    assert router.route_for(event(EventKind.TEXT, text=text), None) is router.command_route("score")


@pytest.mark.parametrize(
    ("text", "command"), [("我的积分", "score"), ("帮助", "help"), ("help", "help")]
)
def test_chinese_and_other_keywords(router: Router, text: str, command: str) -> None:
    assert router.keyword_command(text) == command


@pytest.mark.parametrize("text", ["my score please", "我的积分呢", "scores", "", "积分"])
def test_keywords_match_the_whole_message_only(router: Router, text: str) -> None:
    assert router.keyword_command(text) is None


# --- /help's list -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.STAFF, ["help", "score"]),
        (Role.SUPERVISOR, ["help", "score", "report"]),
        (Role.ADMIN, ["help", "score", "report", "admin"]),
        (Role.VOLUNTEER, ["help", "observe"]),
        (None, ["help"]),
    ],
)
def test_commands_for_lists_only_what_the_role_may_use(
    router: Router, role: Role | None, expected: list[str]
) -> None:
    assert [route.name for route in router.commands_for(role)] == expected


def test_unlisted_commands_never_show_in_help(router: Router) -> None:
    for role in (*Role, None):
        assert "secret" not in [route.name for route in router.commands_for(role)]
    assert router.command_route("secret") is not None


def test_strangers_see_only_commands_open_to_them() -> None:
    router = Router()
    router.command("help", nothing, roles=EVERYONE, help_template="h", open_to_strangers=True)
    router.command("lang", nothing, roles=EVERYONE, help_template="l")
    router.command("join", nothing, roles=(), help_template="j", open_to_strangers=True)
    assert [route.name for route in router.commands_for(None)] == ["help", "join"]
    assert [route.name for route in router.commands_for(Role.STAFF)] == ["help", "lang"]


# --- the dispatcher's checks, on SQLite and PostgreSQL ------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []


def core_router(calls: Calls) -> Router:
    router = Router()

    def recording(name: str) -> Handler:
        async def handler(ctx: Context) -> None:
            calls.names.append(name)
            ctx.reply("language/set")

        return handler

    async def fails_once(ctx: Context) -> None:
        calls.names.append("flaky")
        if calls.names.count("flaky") == 1:
            raise RuntimeError("a passing failure")
        ctx.reply("language/set")

    async def refuses(ctx: Context) -> None:
        calls.names.append("refuses")
        raise Refusal("language/unknown", given="<klingon>")

    router.command("boss", recording("boss"), roles=SUPERVISORS, help_template="x")
    router.command("work", recording("work"), roles=STAFF_AND_ABOVE)
    router.command("hello", recording("hello"), roles=EVERYONE, open_to_strangers=True)
    router.command("flaky", fails_once, roles=EVERYONE)
    router.command("refuses", refuses, roles=EVERYONE)
    return router


async def add_people(database: Database) -> None:
    async with database.transaction() as session:
        store = Store(session)
        organisation = Organisation(key="org", name_zh="机构", name_en="Org", created_at=NOW)
        session.add(organisation)
        await session.flush()
        for user, role in (("staff-1", Role.STAFF), ("boss-1", Role.SUPERVISOR)):
            member = await store.members.add(
                organisation_id=organisation.id,
                unit_id=None,
                display_name=user,
                role=role,
                now=NOW,
            )
            await store.members.add_identity(member, platform="console", external_id=user, now=NOW)


@pytest.fixture
async def setup(database: Database) -> tuple[Dispatcher, Calls]:
    await add_people(database)
    calls = Calls()
    dispatcher = Dispatcher(
        database, core_router(calls), MovableClock(NOW), DispatcherSettings(default_locale="zh")
    )
    return dispatcher, calls


def rendered(replies: list[Reply], locale: str) -> list[str]:
    renderer = Renderer()
    return [renderer.render(reply.text, locale) for reply in replies if reply.text is not None]


async def test_staff_calling_a_supervisor_command_is_refused(
    setup: tuple[Dispatcher, Calls],
) -> None:
    dispatcher, calls = setup
    outcome = await dispatcher.handle(event(command="boss", user="staff-1"))
    assert outcome.locale == "en"
    assert outcome.replies == [
        Reply(text=Text("errors/not_allowed", {"command": "boss"}), to=Audience.CHAT)
    ]
    assert rendered(outcome.replies, outcome.locale) == [
        "Sorry, /boss is not open to your role. Type /help to see what you can use."
    ]
    assert calls.names == []


async def test_the_refusal_is_ephemeral_in_a_group_and_in_the_persons_language(
    setup: tuple[Dispatcher, Calls],
) -> None:
    dispatcher, _ = setup
    outcome = await dispatcher.handle(
        event(command="boss", user="staff-1", group=True, locale="zh")
    )
    assert [reply.to for reply in outcome.replies] == [Audience.EPHEMERAL]
    assert rendered(outcome.replies, outcome.locale) == [
        "抱歉,/boss 只对有相应权限的人开放。输入 /help 查看你能用的命令。"
    ]


async def test_a_supervisor_may_use_it(setup: tuple[Dispatcher, Calls]) -> None:
    dispatcher, calls = setup
    outcome = await dispatcher.handle(event(command="boss", user="boss-1"))
    assert rendered(outcome.replies, outcome.locale) == [
        "Done: I will speak English with you from now on."
    ]
    assert calls.names == ["boss"]


async def test_a_stranger_is_told_they_are_not_a_member(setup: tuple[Dispatcher, Calls]) -> None:
    dispatcher, calls = setup
    outcome = await dispatcher.handle(event(command="work", user="stranger"))
    assert outcome.replies == [Reply(text=Text("errors/not_a_member", {"command": "work"}))]
    assert rendered(outcome.replies, outcome.locale) == [
        "You are not in this campaign yet, so /work is not available. "
        "Ask an admin to add you to your unit."
    ]
    stranger_zh = await dispatcher.handle(event(command="boss", user="stranger", locale=None))
    assert rendered(stranger_zh.replies, stranger_zh.locale) == [
        "你还不是本活动的成员,不能使用 /boss。请联系管理员把你加入所在单位。"
    ]
    # A command open to strangers runs for them.
    await dispatcher.handle(event(command="hello", user="stranger"))
    assert calls.names == ["hello"]


async def test_a_repeated_event_is_handled_once(setup: tuple[Dispatcher, Calls]) -> None:
    dispatcher, calls = setup
    first = await dispatcher.handle(event(command="work", user="staff-1", event_id="evt-1"))
    assert len(first.replies) == 1
    again = await dispatcher.handle(event(command="work", user="staff-1", event_id="evt-1"))
    assert again.replies == []
    assert calls.names == ["work"]
    other = await dispatcher.handle(event(command="work", user="staff-1", event_id="evt-2"))
    assert len(other.replies) == 1
    # Without an id nothing can be recognised: each one is handled.
    await dispatcher.handle(event(command="work", user="staff-1"))
    await dispatcher.handle(event(command="work", user="staff-1"))
    assert calls.names == ["work", "work", "work", "work"]


async def test_a_failed_event_is_handled_again_when_retried(
    setup: tuple[Dispatcher, Calls],
) -> None:
    dispatcher, calls = setup
    failed = await dispatcher.handle(event(command="flaky", user="staff-1", event_id="evt-9"))
    assert rendered(failed.replies, failed.locale) == [
        "Sorry, something went wrong and this step was not saved. "
        "Please try again; everything saved before is still there."
    ]
    retried = await dispatcher.handle(event(command="flaky", user="staff-1", event_id="evt-9"))
    assert rendered(retried.replies, retried.locale) == [
        "Done: I will speak English with you from now on."
    ]
    assert calls.names == ["flaky", "flaky"]


async def test_a_refusal_answers_with_its_template(setup: tuple[Dispatcher, Calls]) -> None:
    dispatcher, _ = setup
    outcome = await dispatcher.handle(event(command="refuses", user="staff-1"))
    assert rendered(outcome.replies, outcome.locale) == [
        'I do not know the language "<klingon>". Choose zh (中文) or en (English).'
    ]
