"""The ``uplift`` command: help and a bad setting as a real subprocess (the installed script);
plan validation and loading, db upgrade, member add and report in this process through ``main``.

Every expected sentence is rendered from the templates in ``messages/<locale>/cli`` and
``messages/<locale>/plan_error`` by ``messages.Renderer`` (plain text, includes resolved), and every
expected line number is found by searching the plan text the test wrote, so the assertions hold
whatever the shipped plans say.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bot.report_files import ReportError, write_report
from campaigns.schema import ASSESSMENT_NAMES, Plan
from kernel import Text
from messages import Renderer, Target
from storage.database import Database
from storage.models import Base
from storage.urls import sync_url
from tests.harness import PLANS as PLANS_DIR
from tests.harness import ROOT, at, newest_revision
from tests.harness.cli import Cli, cli_env, free_port, uplift_command

MESSAGES = ROOT / "messages"
PLANS = sorted(PLANS_DIR.glob("*.yaml"))
POSTAL_BANK = PLANS_DIR / "postal-bank.yaml"
LOCALES = ("zh", "en")

# --- running the command -----------------------------------------------------------------------


Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def uplift_here(cli: Cli) -> Runner:
    """``uplift`` run as ``tests.harness.cli.uplift`` runs it, but in this process: each start of
    a new process costs about a second, and the help test already runs the installed script."""

    def run(
        cwd: Path, *args: str | Path, locale: str = "en", database_url: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        url = database_url or f"sqlite:///{cwd / 'unused.db'}"
        code, out, err = cli(*args, database_url=url, locale=locale)
        return subprocess.CompletedProcess(["uplift", *map(str, args)], code, out, err)

    return run


# --- expected sentences ------------------------------------------------------------------------


def render(locale: str, template_name: str, /, **data: Any) -> str:
    """The sentence as the template says it, rendered as plain text."""
    return Renderer().render(Text(template_name, data), locale, Target.PLAIN)


def counts(**numbers: int) -> list[Text]:
    """What the load summary lists: each kind of record with its number."""
    return [
        Text("cli/count", {"kind": Text(f"kinds/{kind}"), "number": n})
        for kind, n in sorted(numbers.items())
    ]


def around(locale: str, template_name: str, variable: str, /, **data: Any) -> tuple[str, str]:
    """The fixed text of a template before and after where ``variable`` is inserted."""
    # printable, and no "@" mention: the renderer strips control characters and breaks mentions
    marker = "@@MARK@@"
    rendered = render(locale, template_name, **{**data, variable: marker})
    assert rendered.count(marker) == 1, (template_name, variable, rendered)
    head, tail = rendered.split(marker)
    return head, tail


def before(locale: str, template_name: str, variable: str, /, **data: Any) -> str:
    """The fixed text of a template up to where ``variable`` is inserted."""
    return around(locale, template_name, variable, **data)[0]


def squeeze(value: str) -> str:
    """Text without whitespace: argparse re-wraps help text to the terminal width."""
    return "".join(value.split())


def line_of(text: str, needle: str, start: int = 1) -> int:
    """The 1-based number of the first line at or after ``start`` that contains ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in the plan text after line {start}")


def key_line(text: str, key: str, start: int = 1) -> int:
    """The line of the list entry ``- key: KEY`` at or after ``start``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and line.strip() == f"- key: {key}":
            return number
    raise AssertionError(f"no entry with key {key!r} after line {start}")


def set_line(text: str, number: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[number - 1] = new + "\n"
    return "".join(lines)


def insert_after(text: str, number: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines.insert(number, new + "\n")
    return "".join(lines)


def problem_lines(stderr: str, name: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(rf"{re.escape(name)}:\d+: ", line)]


def count_units(units: list[dict[str, Any]]) -> int:
    return sum(1 + count_units(unit.get("children", [])) for unit in units)


# --- help ---------------------------------------------------------------------------------------

HELP = {
    "uplift": ([], ["help_uplift", "help_demo", "help_run", "help_campaign", "help_db"]),
    "demo": (
        ["demo"],
        [
            "help_demo",
            "help_demo_as",
            "help_demo_plan",
            "help_demo_db",
            "help_demo_lang",
            "help_demo_script",
        ],
    ),
    "run": (["run"], ["help_run"]),
    "campaign validate": (["campaign", "validate"], ["help_validate"]),
    "campaign load": (["campaign", "load"], ["help_load"]),
    "db upgrade": (["db", "upgrade"], ["help_db_upgrade"]),
}


@pytest.mark.parametrize("locale", LOCALES)
def test_help_is_in_the_chosen_language(
    cli: Cli, capsys: pytest.CaptureFixture[str], tmp_path: Path, locale: str
) -> None:
    """In this process (``bot.cli.main``, as the ``uplift`` script calls it): twelve processes
    spent most of their time importing. Other tests run ``uplift`` itself."""
    other = "en" if locale == "zh" else "zh"
    results = {}
    returncodes = {}
    for command, (args, _) in HELP.items():
        with pytest.raises(SystemExit) as stopped:
            cli(*args, "--help", database_url=f"sqlite:///{tmp_path / 'unused.db'}", locale=locale)
        printed = capsys.readouterr()
        results[command] = (printed.out, printed.err)
        returncodes[command] = stopped.value.code or 0

    for command, (stdout, stderr) in results.items():
        args, templates = HELP[command]
        assert returncodes[command] == 0, (command, stderr)
        assert stderr == "", command
        usage = render(locale, "cli/argparse/usage")  # argparse's own words too
        assert stdout.startswith(" ".join([usage, "uplift", *args])), command
        shown = squeeze(stdout)
        for name in templates:
            assert squeeze(render(locale, f"cli/{name}")) in shown, (command, name)
            assert squeeze(render(other, f"cli/{name}")) not in shown, (command, name)


# --- campaign validate ---------------------------------------------------------------------------


@pytest.mark.parametrize("plan", PLANS, ids=[p.name for p in PLANS])
def test_every_shipped_plan_is_valid(uplift_here: Runner, tmp_path: Path, plan: Path) -> None:
    data = yaml.safe_load(plan.read_text(encoding="utf-8"))

    result = uplift_here(tmp_path, "campaign", "validate", plan)

    assert result.returncode == 0, result.stderr
    # only warnings: drills Telegram cannot send as a quiz poll go out with lettered buttons
    for line in result.stderr.splitlines():
        assert f"{plan}:" in line and ": warning: " in line, line
    assert result.stdout.strip() == render(
        "en",
        "cli/plan_valid",
        path=str(plan),
        title=data["title"]["en"],
        units=count_units(data["units"]),
        stages=len(data["stages"]),
        items=sum(len(c["items"]) for c in data["checklists"]),
        drills=len(data["drills"]),
    )


def test_shipped_plans_are_there() -> None:
    assert len(PLANS) >= 4
    assert POSTAL_BANK in PLANS


# A broken plan: each edit leaves a marker (a unique text) on the line it breaks, and the expected
# line numbers are found by searching the final text for those markers.
Expected = list[tuple[str, str, str, dict[str, Any]]]  # marker, path, template, data


def break_the_shape(text: str) -> tuple[str, Expected]:
    """Problems the shape check finds: unknown fields at the top and deep down, a 25:00 meeting."""
    meeting = line_of(text, "morning_meeting:")
    assert text.splitlines()[meeting - 1].startswith("morning_meeting:")
    text = set_line(text, meeting, 'morning_meeting: "25:00"')

    zone = line_of(text, "timezone:")
    assert text.splitlines()[zone - 1].startswith("timezone:")
    text = insert_after(text, zone, "favourite_colour: blue")

    # the first checklist's first item: its kind is the first "kind:" after "checklists:"
    kind = line_of(text, "kind: ", start=line_of(text, "checklists:"))
    assert text.splitlines()[kind - 1].startswith("        kind: ")
    text = insert_after(text, kind, "        colour: red")
    return text, [
        ('morning_meeting: "25:00"', "morning_meeting", "plan_error/time_format", {}),
        (
            "favourite_colour: blue",
            "favourite_colour",
            "plan_error/extra_forbidden",
            {"field": "favourite_colour"},
        ),
        (
            "colour: red",
            "checklists[0].items[0].colour",
            "plan_error/extra_forbidden",
            {"field": "colour"},
        ),
    ]


def break_the_meaning(text: str) -> tuple[str, Expected]:
    """Problems only the semantic checks find: a date, an answer, two formulas."""
    data = yaml.safe_load(text)

    # the second stage ends the day before it starts
    stage = data["stages"][1]
    ends = line_of(text, "ends_on:", start=key_line(text, stage["key"]))
    starts_on: dt.date = stage["starts_on"]
    text = set_line(text, ends, f"    ends_on: {starts_on - dt.timedelta(days=1)}  # broken end")

    # the first multiple-choice drill's answer points past its options
    index, drill = next((i, d) for i, d in enumerate(data["drills"]) if d["kind"] == "choice")
    answer = line_of(text, "answer:", start=key_line(text, drill["key"]))
    text = set_line(text, answer, f"    answer: {len(drill['options']) + 5}  # broken answer")

    # an assessment formula that tries to call Python, another with a name nobody defined
    rules = data["scoring"]["assessment"]
    scoring = line_of(text, "scoring:")
    amount = line_of(text, "amount:", start=key_line(text, rules[0]["key"], scoring))
    text = set_line(text, amount, "      amount: __import__('os').system('true')")
    when = line_of(text, "when:", start=key_line(text, rules[1]["key"], scoring))
    text = set_line(text, when, "      when: bonus > 0")
    names = ", ".join(ASSESSMENT_NAMES)  # what an assessment formula may use, listed in the message
    return text, [
        ("# broken end", "stages[1].ends_on", "plan_error/date_order", {"first": starts_on}),
        (
            "# broken answer",
            f"drills[{index}].answer",
            "plan_error/answer_out_of_range",
            {"count": len(drill["options"])},
        ),
        (
            "__import__",
            "scoring.assessment[0].amount",
            "plan_error/formula",
            {"reason": "not_allowed", "detail": "call", "names": names},
        ),
        (
            "when: bonus > 0",
            "scoring.assessment[1].when",
            "plan_error/formula",
            {"reason": "unknown_name", "detail": "bonus", "names": names},
        ),
    ]


def assert_problems(
    result: subprocess.CompletedProcess[str], name: str, locale: str, text: str, expected: Expected
) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    located = sorted((line_of(text, marker), *rest) for marker, *rest in expected)
    shown = problem_lines(result.stderr, name)
    assert len(shown) == len(located), result.stderr
    for line, (number, where, code, data) in zip(shown, located, strict=True):
        prefix = f"{name}:{number}: {where}: "
        assert line.startswith(prefix), (line, prefix)
        assert line[len(prefix) :] == render(locale, code, **data), line
    assert result.stderr.splitlines()[-1] == render(
        locale, "cli/plan_invalid", path=name, count=len(expected)
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_shape_problems_are_reported_with_their_lines(
    uplift_here: Runner, tmp_path: Path, locale: str
) -> None:
    text, expected = break_the_shape(POSTAL_BANK.read_text(encoding="utf-8"))
    (tmp_path / "shape.yaml").write_text(text, encoding="utf-8")

    result = uplift_here(tmp_path, "campaign", "validate", "shape.yaml", locale=locale)

    assert_problems(result, "shape.yaml", locale, text, expected)


@pytest.mark.parametrize("locale", LOCALES)
def test_meaning_problems_are_reported_with_their_lines(
    uplift_here: Runner, tmp_path: Path, locale: str
) -> None:
    text, expected = break_the_meaning(POSTAL_BANK.read_text(encoding="utf-8"))
    (tmp_path / "meaning.yaml").write_text(text, encoding="utf-8")

    result = uplift_here(tmp_path, "campaign", "validate", "meaning.yaml", locale=locale)

    assert_problems(result, "meaning.yaml", locale, text, expected)
    assert "bonus" in problem_lines(result.stderr, "meaning.yaml")[-1]


@pytest.mark.parametrize("locale", LOCALES)
def test_shape_and_meaning_problems_are_reported_together(
    uplift_here: Runner, tmp_path: Path, locale: str
) -> None:
    text, meaning = break_the_meaning(POSTAL_BANK.read_text(encoding="utf-8"))
    text, shape = break_the_shape(text)
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")

    result = uplift_here(tmp_path, "campaign", "validate", "broken.yaml", locale=locale)

    # every problem of both kinds, each once, in line order, and nothing else
    assert_problems(result, "broken.yaml", locale, text, shape + meaning)


@pytest.mark.parametrize("locale", LOCALES)
def test_bad_indentation_is_a_yaml_error_on_its_line(
    uplift_here: Runner, tmp_path: Path, locale: str
) -> None:
    text = POSTAL_BANK.read_text(encoding="utf-8")
    organisation_en = line_of(text, "en: ", start=line_of(text, "organisation:"))
    text = set_line(text, organisation_en, " " + text.splitlines()[organisation_en - 1])
    (tmp_path / "indent.yaml").write_text(text, encoding="utf-8")

    result = uplift_here(tmp_path, "campaign", "validate", "indent.yaml", locale=locale)

    with pytest.raises(yaml.MarkedYAMLError) as error:
        yaml.safe_load(text)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = problem_lines(result.stderr, "indent.yaml")
    # no "where: " part: a syntax error has no path into the plan
    assert line == f"indent.yaml:{organisation_en}: " + render(
        locale, "plan_error/yaml_syntax", detail=error.value.problem
    )
    assert result.stderr.splitlines()[-1] == render(
        locale, "cli/plan_invalid", path="indent.yaml", count=1
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_a_plan_that_is_not_utf8_is_reported_not_a_crash(
    uplift_here: Runner, tmp_path: Path, locale: str
) -> None:
    # a plan saved as GBK, as Windows editors in Chinese offices often do
    content = "key: x\ntitle:\n  zh: 服务\n".encode("gbk")
    (tmp_path / "gbk.yaml").write_bytes(content)
    with pytest.raises(UnicodeDecodeError) as error:
        content.decode("utf-8")

    result = uplift_here(tmp_path, "campaign", "validate", "gbk.yaml", locale=locale)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = problem_lines(result.stderr, "gbk.yaml")
    # its own sentence (not the catch-all one), and no "where: " part
    assert line == "gbk.yaml:3: " + render(locale, "plan_error/not_utf8", detail=error.value.reason)
    assert result.stderr.splitlines()[-1] == render(
        locale, "cli/plan_invalid", path="gbk.yaml", count=1
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_a_missing_plan_file_is_named(uplift_here: Runner, tmp_path: Path, locale: str) -> None:
    result = uplift_here(tmp_path, "campaign", "validate", "no-such-plan.yaml", locale=locale)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == render(locale, "cli/file_missing", path="no-such-plan.yaml")


# --- campaign load -------------------------------------------------------------------------------

PLAN_TABLES = (
    "organisation",
    "unit",
    "campaign",
    "stage",
    "checklist",
    "checklist_item",
    "drill_item",
)


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return {
                table: connection.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in PLAN_TABLES
            }
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql), params))
    finally:
        engine.dispose()


def edit_plan(text: str) -> tuple[str, str, str, str]:
    """Remove the last drill and reword the first checklist item; return the text, the removed
    drill's key, the item's key and its new English text."""
    data = yaml.safe_load(text)
    last = data["drills"][-1]["key"]
    lines = text.splitlines(keepends=True)
    start = key_line(text, last, line_of(text, "drills:")) - 1
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    text = "".join(lines[:start] + lines[end:])

    item = data["checklists"][0]["items"][0]
    item_line = key_line(text, item["key"], line_of(text, "checklists:"))
    english = line_of(text, "en: ", start=item_line)
    reworded = f"{item['text']['en']} (reworded)"
    text = set_line(text, english, f"          en: {json.dumps(reworded, ensure_ascii=False)}")

    edited = yaml.safe_load(text)
    assert [d["key"] for d in edited["drills"]] == [d["key"] for d in data["drills"][:-1]]
    assert edited["checklists"][0]["items"][0]["text"]["en"] == reworded
    return text, last, item["key"], reworded


def test_load_is_idempotent_and_applies_edits(
    uplift_here: Runner, tmp_path: Path, db_url: str
) -> None:
    original = POSTAL_BANK.read_text(encoding="utf-8")
    data = yaml.safe_load(original)
    (tmp_path / "plan.yaml").write_text(original, encoding="utf-8")
    url = db_url.replace("postgresql+psycopg://", "postgresql://")  # as a person would write it

    first = uplift_here(tmp_path, "campaign", "load", "plan.yaml", locale="en", database_url=url)

    assert first.returncode == 0, first.stderr
    created = {
        "campaign": 1,
        "checklist": len(data["checklists"]),
        "checklist_item": sum(len(c["items"]) for c in data["checklists"]),
        "drill_item": len(data["drills"]),
        "organisation": 1,
        "stage": len(data["stages"]),
        "unit": count_units(data["units"]),
    }
    assert first.stdout.strip() == render(
        "en",
        "cli/plan_loaded",
        title=data["title"]["en"],
        created=counts(**created),
        updated=[],
        deactivated=[],
    )
    rows = row_counts(db_url)
    assert rows == {table: created[table] for table in PLAN_TABLES}

    again = uplift_here(tmp_path, "campaign", "load", "plan.yaml", locale="zh", database_url=url)

    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == render("zh", "cli/plan_unchanged", title=data["title"]["zh"])
    assert row_counts(db_url) == rows

    edited, removed, item_key, reworded = edit_plan(original)
    (tmp_path / "edited.yaml").write_text(edited, encoding="utf-8")

    third = uplift_here(tmp_path, "campaign", "load", "edited.yaml", locale="zh", database_url=url)

    assert third.returncode == 0, third.stderr
    assert third.stdout.strip() == render(
        "zh",
        "cli/plan_loaded",
        title=data["title"]["zh"],
        created=[],
        updated=counts(campaign=1, checklist_item=1),
        deactivated=counts(drill_item=1),
    )
    assert row_counts(db_url) == rows  # deactivated, never deleted
    drills = dict(query(db_url, "SELECT key, active FROM drill_item"))
    assert len(drills) == created["drill_item"]
    assert [key for key, active in drills.items() if not active] == [removed]
    assert query(db_url, "SELECT text_en FROM checklist_item WHERE key = :key", key=item_key) == [
        (reworded,)
    ]


# --- db upgrade ----------------------------------------------------------------------------------


def _admin_dsn() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: an empty SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "empty.db"
        path.touch()
        yield f"sqlite:///{path}"
        return
    dsn = _admin_dsn()
    if dsn is None:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests need it (.ci/run sets it)")
    name = f"uplift_cli_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(dsn).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def schema_state(url: str) -> tuple[set[str], list[str]]:
    engine = create_engine(sync_url(url))
    try:
        tables = set(inspect(engine).get_table_names())
        versions = []
        if "alembic_version" in tables:
            with engine.connect() as connection:
                versions = list(connection.scalars(text("SELECT version_num FROM alembic_version")))
        return tables, versions
    finally:
        engine.dispose()


def test_db_upgrade_creates_the_schema_and_is_idempotent(cli: Cli, empty_db_url: str) -> None:
    head = newest_revision()
    assert schema_state(empty_db_url) == (set(), [])

    # Said as it is: the schema was created; then, run again, that it was already up to date.
    for locale, said_template, data in (
        ("zh", "cli/db_created", {"revision": head}),
        ("en", "cli/db_upgraded", {}),
    ):
        code, out, err = cli("db", "upgrade", locale=locale, database_url=empty_db_url)

        assert code == 0, err
        assert out.strip() == render(locale, said_template, **data)
        tables, versions = schema_state(empty_db_url)
        assert tables == {*Base.metadata.tables, "alembic_version"}
        assert versions == [head]


# --- errors of the database: one line, in the CLI's language, the password hidden ---------------


def unreachable(kind: str, tmp_path: Path) -> tuple[str, str]:
    """A database URL that cannot be used, and the URL as it may be shown."""
    if kind == "closed port":  # nothing listens there
        port = free_port()
        url = f"postgresql://uplift:s3cret-word@127.0.0.1:{port}/uplift"
        return url, f"postgresql://uplift:***@127.0.0.1:{port}/uplift"
    if kind == "no such database":
        dsn = _admin_dsn()
        if dsn is None:
            pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests need it (.ci/run sets it)")
        url = make_url(dsn).set(database=f"uplift_none_{uuid.uuid4().hex[:8]}", password="pw")
        return url.render_as_string(hide_password=False), url.render_as_string()
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'uplift.db'}"
    return url, url


@pytest.mark.parametrize(
    ("kind", "command", "locale"),
    [
        ("closed port", ("db", "upgrade"), "en"),
        ("closed port", ("campaign", "load", str(POSTAL_BANK)), "zh"),
        ("no such database", ("db", "upgrade"), "zh"),
        ("missing folder", ("campaign", "load", str(POSTAL_BANK)), "en"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_line(
    cli: Cli, tmp_path: Path, kind: str, command: tuple[str, ...], locale: str
) -> None:
    url, shown = unreachable(kind, tmp_path)

    code, out, err = cli(*command, locale=locale, database_url=url)

    assert code == 1
    assert out == ""
    [line] = err.splitlines()
    head, tail = around(locale, "cli/db_unreachable", "reason", url=shown)
    assert line.startswith(head) and line.endswith(tail), line
    assert line[len(head) : len(line) - len(tail)].strip(), line  # the driver's reason is said
    assert "s3cret" not in err and "Traceback" not in err


# --- member add ----------------------------------------------------------------------------------


def test_member_add_lists_the_units_and_takes_a_units_chinese_name(
    cli: Cli, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'members.db'}"
    assert cli("campaign", "load", POSTAL_BANK, database_url=url)[0] == 0
    add = ("member", "add", "--platform", "slack", "--user", "U0123", "--name", "Li Ming")

    code, out, err = cli(*add, "--unit", "nope", database_url=url)

    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith(before("en", "cli/unknown_unit", "units", given="nope"))
    data = yaml.safe_load(POSTAL_BANK.read_text(encoding="utf-8"))
    for unit in walk_units(data["units"]):
        assert f"{unit['key']} ({unit['name']['en']})" in line

    code, out, err = cli(*add, "--unit", "东关网点", locale="zh", database_url=url)

    assert code == 0, err
    added = render(
        "zh", "cli/member_added", name="Li Ming", unit="东关网点", role=Text("roles/staff")
    )
    assert out.strip() == added
    assert query(url, "SELECT u.key FROM member m JOIN unit u ON u.id = m.unit_id") == [
        ("dongguan",)
    ]


def walk_units(units: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for unit in units:
        yield unit
        yield from walk_units(unit.get("children", []))


# --- report: with no stage running, the stages to choose from -------------------------------------


async def test_a_report_with_no_stage_running_offers_the_stages(
    plan: Plan, sqlite_url: str, tmp_path: Path
) -> None:
    database = Database(sqlite_url)
    before_it = at("2026-12-03 12:00")  # a month before the campaign: no stage runs
    try:
        async with database.store() as store:
            await store.plans.load(plan, before_it)
        with pytest.raises(ReportError) as refused:
            await write_report(
                database, unit_name=None, period="", out=tmp_path, locale="en", now=before_it
            )
        assert refused.value.template == "report_no_stage"
        said = render("en", "cli/report_no_stage", **refused.value.data)
        for stage in plan.stages:
            assert f"{stage.key}  {stage.name.en}" in said

        # A stage is picked by its key, and reported whole whatever today is.
        files = await write_report(
            database,
            unit_name="renmin-road",
            period="stage2-software",
            out=tmp_path,
            locale="en",
            now=before_it,
        )
    finally:
        await database.dispose()
    assert [p.name for p in files.paths] == [
        f"report-renmin-road-2027-05-01-2027-08-31{suffix}" for suffix in (".txt", ".png", ".xlsx")
    ]
    assert files.summary.splitlines()[0].startswith(
        "📊 Renmin Road Outlet report: Sat 1 May 2027 to Tue 31 Aug 2027"
    )


# --- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "locale"),
    [
        ("UPLIFT_LOCALE", "fr", "zh"),  # the locale itself is wrong: Chinese, the default
        ("UPLIFT_HTTP_PORT", "abc", "en"),
        ("UPLIFT_HTTP_PORT", "abc", "zh"),
    ],
)
def test_a_bad_setting_exits_2_naming_the_variable(
    tmp_path: Path, name: str, value: str, locale: str
) -> None:
    database = tmp_path / "never.db"
    extra = {"UPLIFT_LOCALE": locale, name: value}

    result = subprocess.run(
        [*uplift_command(), "db", "upgrade"],
        cwd=tmp_path,
        env={**cli_env(f"sqlite:///{database}", locale), **extra},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    head, tail = around(locale, "cli/bad_setting", "detail", name=name)
    assert line.startswith(head), line
    assert line.endswith(tail), line
    assert line[len(head) : len(line) - len(tail)].strip(), line  # pydantic's reason is shown
    assert not database.exists()
