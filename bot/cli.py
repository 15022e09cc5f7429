"""The ``uplift`` command: demo, run, campaign validate|load, db upgrade.

Every sentence it prints (help texts included) comes from ``messages/<locale>/cli/``, in the
language set by ``UPLIFT_LOCALE``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.cli_parser import parser_class, role_argument
from bot.config import Settings, load_settings
from kernel import Role, Text
from messages import Renderer, normalise_locale

# Each command imports what it needs when it runs: `uplift --help` and `campaign validate` then
# start in a fraction of the second the database, the features and the platforms take to load.
if TYPE_CHECKING:
    from campaigns.loader import PlanReading
    from storage.models import Unit

DEFAULT_PLAN = Path(str(resources.files("campaigns") / "plans" / "postal-bank.yaml"))


class _Printer:
    """Renders CLI sentences in one language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._renderer = Renderer()

    def __call__(self, template: str, **data: object) -> str:
        return self._renderer.render(Text(f"cli/{template}", data), self.locale)

    def out(self, template: str, **data: object) -> None:
        print(self(template, **data), flush=True)

    def err(self, template: str, **data: object) -> None:
        print(self(template, **data), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    say = _Printer(normalise_locale(os.environ.get("UPLIFT_LOCALE")) or "zh")
    try:
        settings = load_settings()
    except ValidationError as exc:
        for error in exc.errors():
            say.err(
                "bad_setting",
                name=".".join(str(p) for p in error["loc"]).upper(),
                detail=error["msg"],
            )
        return 2
    say = _Printer(settings.locale)
    _set_up_logging(settings)
    parser = _parser(say)
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args, settings, say))
    except Exception as error:
        if _said_database_problem(error, _database_url(args, settings), settings, say):
            return 1
        # through the log, so the traceback is masked too
        logging.getLogger("uplift").critical("uplift.failed", exc_info=True)
        return 1


def _said_database_problem(error: Exception, url: str, settings: Settings, say: _Printer) -> bool:
    """A database that cannot be reached (or has no schema, or a URL that is not one) is the
    operator's to fix, not a bug: one line saying which database and why, password hidden."""
    from storage.database import database_problem

    problem = database_problem(error, url)
    if problem is None:
        return False
    line = say(f"db_{problem.kind}", url=problem.url, reason=problem.reason)
    print(SecretMask(settings.secrets()).mask(line), file=sys.stderr, flush=True)
    return True


def _database_url(args: argparse.Namespace, settings: Settings) -> str:
    """The database the command uses: DATABASE_URL, or the demo's own ``--db``."""
    given = getattr(args, "db", None)
    if not given:
        return settings.database_url
    return given if "://" in given else f"sqlite:///{given}"


# --- logs --------------------------------------------------------------------------------------

QUIET_LOGGERS = (
    "alembic",
    # APScheduler logs every run of every job at INFO: the sender runs each second
    "apscheduler",
    # httpx logs every request URL at INFO, and a Telegram Bot API URL holds the bot token
    "httpx",
    "httpcore",
    # aiosqlite logs every call into sqlite3 at DEBUG, a thousand lines a minute, parameters too
    "aiosqlite",
)
MASK = "***"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class SecretMask(logging.Formatter):
    """The log format, with every configured secret (the tokens, the signing secret, the webhook
    secret, the database password) replaced by ``***`` in what is written: the message, the
    exception and the stack alike, whichever library logged it.

    It masks the formatted line rather than filtering each record's fields: the line is all
    that leaves the process, and nothing outside storage/ writes to another object's
    attributes (tests/test_architecture.py)."""

    def __init__(self, secrets: Mapping[str, str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        forms = sorted(secrets, key=len, reverse=True)  # the longest first: no half-masked value
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    def mask(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self.mask(super().format(record))
        except Exception:  # arguments that do not fit the message: say so, masked, not raw
            return self.mask(f"{record.levelname} {record.name} {record.msg!r} {record.args!r}")


def _set_up_logging(settings: Settings) -> SecretMask:
    """Logs to stderr at UPLIFT_LOG_LEVEL, chatty libraries at WARNING, no secret anywhere
    (warnings go through the same handler). Like ``logging.basicConfig``, it leaves a logging
    set-up it finds in place (a host process, a test runner) as it is."""
    secret_mask = SecretMask(settings.secrets(), LOG_FORMAT)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    root = logging.getLogger()
    if root.handlers:
        return secret_mask
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(secret_mask)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.captureWarnings(True)
    return secret_mask


# --- the command line -------------------------------------------------------------------------


def _parser(say: _Printer) -> argparse.ArgumentParser:
    parser = parser_class(say.locale)(prog="uplift", description=say("help_uplift"))
    role = role_argument(lambda given: say("bad_role", given=given))
    commands = parser.add_subparsers(title=say("help_commands"), metavar="COMMAND")

    demo = commands.add_parser("demo", help=say("help_demo"), description=say("help_demo"))
    demo.add_argument(
        "--as",
        dest="role",
        type=role,
        default=Role.STAFF,
        metavar="ROLE",
        help=say("help_demo_as"),
    )
    demo.add_argument("--plan", type=Path, default=DEFAULT_PLAN, help=say("help_demo_plan"))
    demo.add_argument("--db", default=None, help=say("help_demo_db"))
    demo.add_argument("--lang", choices=["zh", "en"], default=None, help=say("help_demo_lang"))
    demo.add_argument("--script", default=None, help=say("help_demo_script"))
    demo.add_argument("--files", type=Path, default=None, help=say("help_demo_files"))
    demo.set_defaults(run=_demo)

    run = commands.add_parser("run", help=say("help_run"), description=say("help_run"))
    run.set_defaults(run=_run)

    campaign = commands.add_parser(
        "campaign", help=say("help_campaign"), description=say("help_campaign")
    )
    campaign_commands = campaign.add_subparsers(
        title=say("help_commands"), metavar="COMMAND", required=True
    )
    validate = campaign_commands.add_parser(
        "validate", help=say("help_validate"), description=say("help_validate")
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    validate.set_defaults(run=_validate)
    load = campaign_commands.add_parser("load", help=say("help_load"), description=say("help_load"))
    load.add_argument("file", type=Path, metavar="FILE")
    load.set_defaults(run=_load)

    member = commands.add_parser("member", help=say("help_member"), description=say("help_member"))
    member_commands = member.add_subparsers(
        title=say("help_commands"), metavar="COMMAND", required=True
    )
    member_add = member_commands.add_parser(
        "add", help=say("help_member_add"), description=say("help_member_add")
    )
    member_add.add_argument(
        "--platform",
        choices=["slack", "telegram"],
        required=True,
        help=say("help_member_platform"),
    )
    member_add.add_argument("--user", required=True, help=say("help_member_user"))
    member_add.add_argument("--workspace", default="", help=say("help_member_workspace"))
    member_add.add_argument("--name", required=True, help=say("help_member_name"))
    member_add.add_argument("--unit", required=True, help=say("help_member_unit"))
    member_add.add_argument(
        "--role", type=role, default=Role.STAFF, metavar="ROLE", help=say("help_member_role")
    )
    member_add.set_defaults(run=_member_add)

    report = commands.add_parser("report", help=say("help_report"), description=say("help_report"))
    report.add_argument("--unit", default=None, help=say("help_report_unit"))
    report.add_argument("--period", default="", help=say("help_report_period"))
    report.add_argument("--out", type=Path, default=Path("."), help=say("help_report_out"))
    report.add_argument("--lang", choices=["zh", "en"], default=None, help=say("help_demo_lang"))
    report.add_argument("--ledger", action="store_true", help=say("help_report_ledger"))
    report.set_defaults(run=_report)

    slack = commands.add_parser("slack", help=say("help_slack"), description=say("help_slack"))
    slack_commands = slack.add_subparsers(
        title=say("help_commands"), metavar="COMMAND", required=True
    )
    manifest = slack_commands.add_parser(
        "manifest", help=say("help_slack_manifest"), description=say("help_slack_manifest")
    )
    manifest.set_defaults(run=_slack_manifest)

    db = commands.add_parser("db", help=say("help_db"), description=say("help_db"))
    db_commands = db.add_subparsers(title=say("help_commands"), metavar="COMMAND", required=True)
    db_upgrade = db_commands.add_parser(
        "upgrade", help=say("help_db_upgrade"), description=say("help_db_upgrade")
    )
    db_upgrade.set_defaults(run=_db_upgrade)
    rebuild = db_commands.add_parser(
        "rebuild-totals", help=say("help_db_rebuild"), description=say("help_db_rebuild")
    )
    rebuild.add_argument("--check", action="store_true", help=say("help_db_rebuild_check"))
    rebuild.set_defaults(run=_db_rebuild_totals)
    return parser


# --- campaign validate / load -----------------------------------------------------------------


def _read(path: Path, say: _Printer) -> PlanReading | None:
    """Read a plan, printing every problem with its line; None if it cannot be used."""
    from campaigns.loader import read_plan_file

    if not path.is_file():
        say.err("file_missing", path=str(path))
        return None
    # Never raises: a file too large, not UTF-8 or unreadable is a located problem too.
    reading = read_plan_file(path)
    for problem in reading.problems:
        detail = Text(f"plan_error/{problem.code}", problem.data)
        if not Renderer().has(detail.template, say.locale):
            fallback = {"code": problem.code, "field": "", "detail": "", **problem.data}
            detail = Text("plan_error/other", fallback)
        say.err(
            "plan_problem",
            path=str(path),
            line=problem.line,
            where=_where(problem.path),
            detail=detail,
        )
    if reading.problems:
        say.err("plan_invalid", path=str(path), count=len(reading.problems))
        return None
    return reading


def _where(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(
        "."
    )


def _validate(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    reading = _read(args.file, say)
    if reading is None or reading.plan is None:
        return 1
    plan = reading.plan
    say.out(
        "plan_valid",
        path=str(args.file),
        title=plan.title.in_locale(say.locale),
        stages=len(plan.stages),
        units=sum(1 for _ in plan.all_units()),
        items=sum(len(c.items) for c in plan.checklists),
        drills=len(plan.drills),
    )
    if settings.telegram_configured or not settings.slack_configured:
        _warn_about_quiz_polls(args.file, reading, say)
    return 0


_PART_FIELDS = {
    "question": "question",
    "option": "options",
    "options": "options",
    "explanation": "explanation",
    "explanation_lines": "explanation",
}


def _warn_about_quiz_polls(path: Path, reading: PlanReading, say: _Printer) -> None:
    """Every drill, in every language, that Telegram cannot send as a quiz poll: it goes out with
    its options in the message and lettered buttons instead (a warning: the plan is valid).
    Checked when Telegram is configured, or when no platform is (the plan is being written)."""
    from bot.adapters.telegram.poll_limits import why_not_a_poll

    assert reading.plan is not None
    for index, drill in enumerate(reading.plan.drills):
        if drill.kind != "choice":
            continue
        for locale in ("zh", "en"):
            misfits = why_not_a_poll(
                drill.question.in_locale(locale),
                [option.in_locale(locale) for option in drill.options],
                drill.explanation.in_locale(locale),
            )
            for misfit in misfits:
                where: tuple[str | int, ...] = ("drills", index, _PART_FIELDS[misfit.part])
                if misfit.option is not None:
                    where = (*where, misfit.option)
                if misfit.part != "options":
                    where = (*where, locale)
                say.err(
                    "plan_warning",
                    path=str(path),
                    line=reading.line_of(where),
                    where=_where(where),
                    detail=Text(
                        f"plan_warning/quiz_{misfit.part}",
                        {
                            "key": drill.key,
                            "language": Text(f"language/name_{locale}"),
                            "length": misfit.length,
                            "limit": misfit.limit,
                        },
                    ),
                )


def _load(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    from storage.database import Database
    from storage.migrate import upgrade

    reading = _read(args.file, say)
    if reading is None or reading.plan is None:
        return 1
    plan = reading.plan

    async def load() -> int:
        upgrade(settings.database_url)
        database = Database(settings.database_url)
        try:
            async with database.store() as store:
                summary = await store.plans.load(plan, dt.datetime.now(dt.UTC))
        finally:
            await database.dispose()
        if not summary.changed:
            say.out("plan_unchanged", title=plan.title.in_locale(say.locale))
        else:
            say.out(
                "plan_loaded",
                title=plan.title.in_locale(say.locale),
                created=_counts(summary.created),
                updated=_counts(summary.updated),
                deactivated=_counts(summary.deactivated),
            )
        return 0

    return asyncio.run(load())


def _counts(counts: dict[str, int]) -> list[Text]:
    """What a load changed, by kind of record, named in the reader's language."""
    return [
        Text("cli/count", {"kind": Text(f"kinds/{kind}"), "number": number})
        for kind, number in sorted(counts.items())
    ]


# --- db upgrade, demo, run --------------------------------------------------------------------


def _report(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    from bot.report_files import ReportError, write_report
    from storage.database import Database
    from storage.migrate import upgrade
    from storage.urls import is_sqlite

    locale = args.lang or settings.locale
    say = _Printer(locale)  # what it prints, as well as the report, in the language asked for

    async def report() -> int:
        if is_sqlite(settings.database_url):
            upgrade(settings.database_url)
        database = Database(settings.database_url)
        try:
            files = await write_report(
                database,
                unit_name=args.unit,
                period=args.period,
                out=args.out,
                locale=locale,
                now=dt.datetime.now(dt.UTC),
                ledger=args.ledger,
            )
        except ReportError as error:
            say.err(error.template, **error.data)
            return 1
        finally:
            await database.dispose()
        print(files.summary)
        for path in files.paths:
            say.out("report_written", path=str(path))
        return 0

    return asyncio.run(report())


def _member_add(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    """Add a person by their platform id: how the first admin gets in (then /role, /join)."""
    from handlers.shared.units import unit_name, unit_named
    from storage.database import Database
    from storage.migrate import upgrade
    from storage.urls import is_sqlite

    async def add() -> int:
        if is_sqlite(settings.database_url):
            upgrade(settings.database_url)
        database = Database(settings.database_url)
        now = dt.datetime.now(dt.UTC)
        try:
            async with database.store() as store:
                every = [
                    u
                    for organisation in await store.units.organisations()
                    for u in await store.units.of_organisation(organisation.id)
                ]
                unit = unit_named(every, args.unit)  # its key, or its Chinese or English name
                if unit is None:
                    if not every:
                        say.err("report_no_campaign")
                    else:
                        like = _units_like(every, args.unit, say)
                        say.err("unknown_unit", given=args.unit, units=like)
                    return 1
                if await store.members.by_identity(args.platform, args.workspace, args.user):
                    say.err("member_exists", user=args.user)
                    return 1
                member = await store.members.add(
                    organisation_id=unit.organisation_id,
                    unit_id=unit.id,
                    display_name=args.name,
                    role=Role(args.role),
                    is_unit_head=args.role == "supervisor",
                    now=now,
                )
                await store.members.add_identity(
                    member,
                    platform=args.platform,
                    workspace=args.workspace,
                    external_id=args.user,
                    private_chat_id=args.user,
                    now=now,
                )
        finally:
            await database.dispose()
        say.out(
            "member_added",
            name=args.name,
            unit=unit_name(unit, say.locale),
            role=Text(f"roles/{args.role}"),
        )
        return 0

    return asyncio.run(add())


def _units_like(units: list[Unit], given: str, say: _Printer) -> Text:
    """The units like what was typed (else all of them), each by its key and its name: a
    handful named and the rest counted."""
    from handlers.shared.names import some_names
    from handlers.shared.units import unit_name, units_like

    like = units_like(units, given) or units
    return some_names([f"{u.key} ({unit_name(u, say.locale)})" for u in like])


def _slack_manifest(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    """The Slack app manifest, generated from the features' commands."""
    from bot.adapters.slack.manifest import slack_manifest
    from handlers import build_router

    print(slack_manifest(build_router(), Renderer()), end="")
    return 0


def _db_upgrade(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    from storage.migrate import upgrade

    upgraded = upgrade(settings.database_url)
    if upgraded.created:
        say.out("db_created", revision=upgraded.after)
    elif upgraded.changed:
        say.out("db_migrated", before=upgraded.before, after=upgraded.after)
    else:
        say.out("db_upgraded")
    return 0


def _db_rebuild_totals(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    """Recompute the points totals from the ledger (or, with --check, only say where they
    differ): the ledger is the source, the totals only a faster way to read it."""
    from storage.database import Database

    async def rebuild() -> int:
        database = Database(settings.database_url)
        try:
            async with database.store() as store:
                if args.check:
                    wrong = await store.ledger.totals.disagreements()
                    for one in wrong[:20]:
                        say.out(
                            "totals_wrong",
                            kind=one.kind,
                            owner=one.owner_id,
                            stored=one.stored,
                            ledger=one.ledger,
                        )
                    say.out("totals_checked", wrong=len(wrong))
                    return 1 if wrong else 0
                rebuilt = await store.ledger.totals.rebuild()
        finally:
            await database.dispose()
        say.out(
            "totals_rebuilt",
            members=rebuilt.members,
            units=rebuilt.units,
            corrected=rebuilt.corrected,
        )
        return 0

    return asyncio.run(rebuild())


def _demo(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    from bot.demo import DemoOptions, run_demo

    logging.getLogger().setLevel(logging.WARNING)  # the terminal is the chat: keep it clean
    reading = _read(args.plan, say)
    if reading is None or reading.plan is None:
        return 1
    if reading.plan.demo is None:
        say.err("plan_has_no_demo", path=str(args.plan))
        return 1
    locale = args.lang or settings.locale
    url = args.db if args.db and "://" in args.db else None  # a database URL, or a SQLite file
    options = DemoOptions(
        role=Role(args.role),
        plan=reading.plan,
        db_path=Path(args.db) if args.db and url is None else None,
        locale=locale,
        db_url=url,
        lively=True,  # the whole cast: colleagues in other units, deeds and observations
        files_dir=args.files,
    )
    if args.script is None:
        lines = _interactive_lines(_Printer(locale)("prompt"))
        return asyncio.run(run_demo(options, lines, sys.stdout, echo=False))
    if args.script == "-":
        if isinstance(sys.stdin, io.TextIOWrapper):  # UTF-8 whatever the terminal's locale
            sys.stdin.reconfigure(encoding="utf-8", errors="strict")
        try:
            return asyncio.run(run_demo(options, sys.stdin, sys.stdout, echo=True))
        except UnicodeDecodeError:  # the lines read so far were answered; say why it stops
            say.err("script_not_utf8", path="-")
            return 1
    script = Path(args.script)
    if not script.is_file():
        say.err("file_missing", path=str(script))
        return 1
    try:
        lines = script.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:  # e.g. a script saved as GBK: say so, do not crash
        say.err("script_not_utf8", path=str(script))
        return 1
    return asyncio.run(run_demo(options, lines, sys.stdout, echo=True))


def _interactive_lines(prompt: str) -> Iterator[str]:
    while True:
        try:
            yield input(prompt)
        except EOFError:
            return


def _run(args: argparse.Namespace, settings: Settings, say: _Printer) -> int:
    """The service. A Telegram webhook without TELEGRAM_WEBHOOK_SECRET is refused, not given a
    secret generated at start: a generated secret changes at every restart and differs between
    processes sharing one bot (PostgreSQL allows several), so the last process to register its
    webhook would leave every other one answering 403 to each update, deaf without a word; and
    an operator could not check or rotate a secret nobody knows. The person setting up the
    webhook chooses the secret once, as the README and .env.example ask."""
    from bot.adapters import PlatformStartFailed
    from bot.service import serve

    if not (settings.slack_configured or settings.telegram_configured):
        say.err("no_platform")
        return 1
    if settings.telegram_configured and settings.telegram_webhook_without_secret:
        say.err("webhook_needs_secret")
        return 1
    try:
        return asyncio.run(serve(settings))
    except PlatformStartFailed as failure:
        # The adapters keep tokens out of their reasons; the mask is the second lock.
        reason = SecretMask(settings.secrets()).mask(failure.reason)
        say.err("platform_failed", platform=failure.platform, reason=reason)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
