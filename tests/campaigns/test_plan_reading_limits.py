"""Reading a hostile plan file (security issue #10): every problem is a located problem, in both
languages, never a traceback, a hang or gigabytes of memory.

The attacks reproduced: a billion-laughs file (nested aliases), a ``!!python/...`` tag, nesting
10,000 deep, keys given twice, a month 13, a file of any size. Then hypothesis throws random
YAML-ish text, random unicode and random edits of a shipped plan at the loader.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigns.loader import (
    MAX_PLAN_BYTES,
    MAX_PLAN_DEPTH,
    MAX_PLAN_NODES,
    LocatedProblem,
    PlanReading,
    read_plan_file,
    read_plan_text,
)
from campaigns.schema import MAX_POINTS
from kernel import Text
from messages import Renderer
from tests.harness import PLANS

RENDER = Renderer()
POSTAL_BANK = (PLANS / "postal-bank.yaml").read_text(encoding="utf-8")
BUS = (PLANS / "bus-operator.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str, start: int = 1) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in the text after line {start}")


def replace_line(text: str, needle: str, new: str) -> tuple[str, int]:
    """``text`` with the first line containing ``needle`` replaced by ``new``; and its number."""
    number = line_of(text, needle)
    lines = text.splitlines(keepends=True)
    lines[number - 1] = new + "\n"
    return "".join(lines), number


def shown(problem: LocatedProblem, locale: str) -> str:
    """The problem's sentence as ``uplift campaign validate`` prints it (``bot/cli.py:_read``)."""
    detail = Text(f"plan_error/{problem.code}", problem.data)
    if not RENDER.has(detail.template, locale):
        fallback = {"code": problem.code, "field": "", "detail": "", **problem.data}
        detail = Text("plan_error/other", fallback)
    return RENDER.render(detail, locale)


def only(reading: PlanReading, code: str) -> LocatedProblem:
    assert reading.plan is None
    found = [p for p in reading.problems if p.code == code]
    assert len(found) == 1, reading.problems
    return found[0]


def assert_in_words(problem: LocatedProblem, *, en: str, zh: str) -> None:
    """The problem has its own template in both languages, and says what it should."""
    for locale, words in (("en", en), ("zh", zh)):
        assert RENDER.has(f"plan_error/{problem.code}", locale)
        assert words in shown(problem, locale), shown(problem, locale)


# --- aliases: billion laughs ---------------------------------------------------------------------


def laughs(levels: int) -> str:
    """The classic: each level is nine aliases of the one before, so ``levels`` levels expand to
    9**levels values; 9 levels are 387 million "lol"s (8.4 GB once built by PyYAML and pydantic).
    """
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, levels + 1):
        text += f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]\n"
    return text


def test_billion_laughs_is_refused_in_well_under_a_second() -> None:
    text = laughs(9)
    assert len(text) < 1000
    started = time.perf_counter()
    reading = read_plan_text(text)
    elapsed = time.perf_counter() - started

    assert elapsed < 0.25, f"took {elapsed:.3f} s"
    problem = only(reading, "too_many_values")
    assert reading.problems == [problem], "reading stops there"
    # the line of the alias that crosses the limit: a4 expands to 66,430 values
    assert problem.line == line_of(text, "a4: &a4")
    assert problem.data == {"limit": MAX_PLAN_NODES}
    assert_in_words(problem, en="50,000 values", zh="50,000 个")


def test_a_single_alias_of_a_huge_node_counts_all_of_it() -> None:
    big = "[" + ", ".join(["x"] * 30_000) + "]"
    text = f"a: &big {big}\nb: *big\n"  # 30,000 written, 60,000 once expanded
    problem = only(read_plan_text(text), "too_many_values")
    assert problem.line == 2


def test_aliases_and_merges_within_the_limit_still_work() -> None:
    """Anchors are ordinary YAML: a plan may share a text with an alias and merge a mapping."""
    text, _ = replace_line(
        POSTAL_BANK, "organisation:", "organisation: &org"
    )  # the mapping below it gets an anchor
    text += "demo_org: *org\n"
    reading = read_plan_text(text)
    assert [p.code for p in reading.problems] == ["extra_forbidden"]  # demo_org is no field

    title_line = line_of(POSTAL_BANK, "title:")
    lines = POSTAL_BANK.splitlines()
    assert lines[title_line].startswith("  zh: ") and lines[title_line + 1].startswith("  en: ")
    lines[title_line - 1 : title_line + 2] = [
        "title:",
        "  <<: {zh: 合并的标题, en: Merged title}",
        "  en: Own title",
    ]
    reading = read_plan_text("\n".join(lines) + "\n")
    assert reading.problems == []
    assert reading.plan is not None
    assert (reading.plan.title.zh, reading.plan.title.en) == ("合并的标题", "Own title")


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("a: &a [1, *a]\n", "yaml_recursive_alias", 1),
        ("a: 1\nb: *nowhere\n", "yaml_unknown_alias", 2),
        ("a: {<<: 1}\n", "yaml_merge", 1),
        ("a: 1\n---\nb: 2\n", "yaml_documents", 2),
        ("? [a, b]\n: c\n", "yaml_key", 1),
    ],
)
def test_alias_and_document_tricks_are_located_problems(text: str, code: str, line: int) -> None:
    problem = only(read_plan_text(text), code)
    assert problem.line == line
    assert_in_words(problem, en="", zh="")


# --- tags --------------------------------------------------------------------------------------


def test_a_python_tag_is_refused_on_its_line_and_builds_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    attack = f'!!python/object/apply:os.system ["touch {marker}"]'
    text, number = replace_line(POSTAL_BANK, "morning_meeting:", f"morning_meeting: {attack}")
    reading = read_plan_text(text)

    assert not marker.exists()
    problem = only(reading, "yaml_tag")
    assert (problem.line, problem.path) == (number, ("morning_meeting",))
    assert problem.data == {"tag": "!!python/object/apply:os.system"}
    assert_in_words(problem, en="!!python/object/apply:os.system is not allowed", zh="不允许")
    # the value is not also reported as a wrong shape: the tag is the problem
    assert [p.code for p in reading.problems] == ["yaml_tag"]


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/name:os.system",
        "!!python/object:builtins.dict {}",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!omap [a: 1]",
        "!!timestamp 2027-01-04",
        "!custom text",
        "!<tag:example.com,2000:thing> text",
        "!!map [1, 2]",
    ],
)
def test_every_tag_but_the_plain_types_is_refused(tagged: str) -> None:
    problem = only(read_plan_text(f"key: x\nextra: {tagged}\n"), "yaml_tag")
    assert (problem.line, problem.path) == (2, ("extra",))


def test_plain_type_tags_are_fine() -> None:
    text, _ = replace_line(POSTAL_BANK, "morning_meeting:", 'morning_meeting: !!str "08:30"')
    assert read_plan_text(text).problems == []


# --- nesting -----------------------------------------------------------------------------------


def test_ten_thousand_deep_nesting_is_refused_on_its_line() -> None:
    text = f"key: x\ndeep: {'[' * 10_000}{']' * 10_000}\n"
    started = time.perf_counter()
    problem = only(read_plan_text(text), "too_deep")
    assert time.perf_counter() - started < 2
    assert problem.line == 2
    assert problem.data == {"limit": MAX_PLAN_DEPTH}
    assert_in_words(
        problem, en=f"more than {MAX_PLAN_DEPTH} levels", zh=f"超过 {MAX_PLAN_DEPTH} 层"
    )


def test_deep_block_nesting_is_refused_at_the_line_that_crosses_the_limit() -> None:
    text = "".join(" " * depth + f"k{depth}:\n" for depth in range(200))
    problem = only(read_plan_text(text), "too_deep")
    assert problem.line == MAX_PLAN_DEPTH + 1  # the root mapping opens on line 1, line n the n+1st


def test_aliases_cannot_stack_depth() -> None:
    """Each alias is shallow where it is used, but expands to the whole anchored depth."""
    inner = "[" * 30 + "]" * 30
    text = f"a: &a {inner}\nb: {'[' * 30}*a{']' * 30}\n"
    assert only(read_plan_text(text), "too_deep").line == 2


def test_the_deepest_allowed_nesting_is_read() -> None:
    depth = MAX_PLAN_DEPTH - 1  # the root mapping is a level too
    reading = read_plan_text(f"deep: {'[' * depth}{']' * depth}\n")
    assert "too_deep" not in [p.code for p in reading.problems]


# --- keys given twice ----------------------------------------------------------------------------


def test_a_key_given_twice_is_reported_with_both_lines() -> None:
    first = line_of(POSTAL_BANK, "morning_meeting:")
    text = POSTAL_BANK + 'morning_meeting: "09:00"\n'  # the last wins, silently, in PyYAML
    reading = read_plan_text(text)

    problem = only(reading, "yaml_duplicate_key")
    assert (problem.line, problem.path) == (text.count("\n"), ("morning_meeting",))
    assert problem.data == {"key": "morning_meeting", "first": first}
    assert_in_words(problem, en=f"first on line {first}", zh=f"第 {first} 行")
    assert [p.code for p in reading.problems] == ["yaml_duplicate_key"]


def test_a_key_given_twice_deep_down_is_reported_there() -> None:
    stage = line_of(POSTAL_BANK, "target_score:")
    lines = POSTAL_BANK.splitlines()
    indent = lines[stage - 1][: len(lines[stage - 1]) - len(lines[stage - 1].lstrip())]
    lines.insert(stage, f"{indent}target_score: 10")
    problem = only(read_plan_text("\n".join(lines) + "\n"), "yaml_duplicate_key")
    assert (problem.line, problem.path[-1], problem.data["first"]) == (
        stage + 1,
        "target_score",
        stage,
    )
    assert problem.path[0] == "stages"


# --- dates and times ---------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["2027-13-01", "2027-02-30", "2027-00-10"])
def test_a_date_that_does_not_exist_is_reported_on_its_line(date: str) -> None:
    text, number = replace_line(POSTAL_BANK, "starts_on:", f"starts_on: {date}")
    reading = read_plan_text(text)
    problem = only(reading, "date_invalid")
    assert (problem.line, problem.path, problem.data) == (number, ("starts_on",), {"value": date})
    assert_in_words(problem, en=f'"{date}" is not a real date', zh=f"“{date}”不是有效的日期")
    # once: the schema does not report the same value again
    assert [p for p in reading.problems if p.line == number] == [problem]


def test_a_time_past_midnight_is_reported_on_its_line() -> None:
    text, number = replace_line(POSTAL_BANK, "morning_meeting:", "morning_meeting: 25:00")
    problem = only(read_plan_text(text), "time_format")
    assert problem.line == number
    assert_in_words(problem, en="00:00 to 23:59", zh="00:00 到 23:59")

    text, number = replace_line(POSTAL_BANK, "starts_on:", "starts_on: 2027-01-01 25:00:00")
    assert only(read_plan_text(text), "date_invalid").line == number


# --- size --------------------------------------------------------------------------------------


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    padding = "#" * 79 + "\n"
    path.write_text(POSTAL_BANK + padding * (MAX_PLAN_BYTES // 80 + 1), encoding="utf-8")
    size = path.stat().st_size
    assert size > MAX_PLAN_BYTES

    started = time.perf_counter()
    reading = read_plan_file(path)
    assert time.perf_counter() - started < 0.5
    problem = only(reading, "file_too_large")
    assert (problem.line, problem.data) == (1, {"size": size, "limit": MAX_PLAN_BYTES})
    assert_in_words(problem, en="at most 1,000,000 bytes", zh="最多 1,000,000 字节")
    assert read_plan_text(path.read_text(encoding="utf-8")).problems == [problem]


def test_a_plan_just_under_the_size_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "padded.yaml"
    padding = "#" * 79 + "\n"
    text = POSTAL_BANK + padding * ((MAX_PLAN_BYTES - len(POSTAL_BANK.encode())) // 80)
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size <= MAX_PLAN_BYTES
    assert read_plan_file(path).problems == []


def test_an_unreadable_or_non_utf8_file_is_a_located_problem(tmp_path: Path) -> None:
    assert only(read_plan_file(tmp_path), "unreadable").line == 1  # a directory
    path = tmp_path / "gbk.yaml"
    path.write_bytes("key: x\ntitle:\n  zh: 邮储银行\n".encode("gbk"))
    problem = only(read_plan_file(path), "not_utf8")
    assert problem.line == 3


# --- values the service cannot store -------------------------------------------------------------


def test_points_per_action_are_bounded_for_the_ledger() -> None:
    text, number = replace_line(POSTAL_BANK, "drill_correct:", "    drill_correct: 99999999999")
    problem = only(read_plan_text(text), "less_than_equal")
    assert problem.line == number
    assert problem.data["le"] == str(MAX_POINTS)


def test_special_characters_are_a_syntax_problem_on_their_line() -> None:
    problem = only(read_plan_text("key: x\ntitle: \x07\n"), "yaml_syntax")
    assert problem.line == 2
    assert "#x0007" in problem.data["detail"]


def test_lines_are_counted_as_an_editor_counts_them() -> None:
    """YAML also breaks lines at U+2028 and U+0085; a pasted text holding one must not shift
    the line of every problem after it."""
    title_en = line_of(POSTAL_BANK, "  en: ", start=line_of(POSTAL_BANK, "title:"))
    lines = POSTAL_BANK.splitlines(keepends=True)
    lines[title_en - 1] = '  en: "Pasted\u2028from a\x85web page"\n'
    text, _ = replace_line("".join(lines), "morning_meeting:", "morning_meeting: 25:00")
    number = text[: text.index("morning_meeting: 25:00")].count("\n") + 1
    assert number > title_en
    assert only(read_plan_text(text), "time_format").line == number


# --- hostile input, generated ------------------------------------------------------------------

YAMLISH = st.sampled_from(
    [
        "key: ",
        "title: ",
        "units:",
        "starts_on: ",
        "scoring:",
        "  ",
        "    ",
        "\n",
        "\n  ",
        "- ",
        "? ",
        ": ",
        ":",
        "&a ",
        "&b ",
        "*a",
        "*b",
        "<<: *a",
        "<<",
        "!!python/object/apply:os.system ",
        "!!python/name:os.system",
        "!!binary ",
        "!!str ",
        "!!int ",
        "!!bool ",
        "!custom ",
        "!",
        "[",
        "]",
        "{",
        "}",
        ",",
        "'",
        '"',
        "# ",
        "|\n",
        ">-\n",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "%TAG ! tag:x,2000:\n",
        "\t",
        "2027-13-01",
        "2027-02-30",
        "2027-05-18 25:00:00",
        "25:00",
        "8:30",
        "0x_",
        "0b_",
        "._",
        "1e999",
        ".inf",
        ".nan",
        "~",
        "null",
        "yes",
        "=",
        "9" * 5000,
        "\x07",
        "\ufeff",
        "\x85",
        "\u2028",
        "中文",
        "a",
        "1",
    ]
)
HOSTILE_YAML = st.one_of(
    st.lists(YAMLISH, max_size=60).map("".join),
    st.text(st.characters(exclude_categories=()), max_size=400),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.text(max_size=8), children, max_size=4),
        ),
        max_leaves=30,
    ).map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
)
FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)


def assert_read_safely(text: str) -> PlanReading:
    """Reading never raises, and every problem has a line in the file and words in zh and en."""
    started = time.perf_counter()
    reading = read_plan_text(text)
    assert time.perf_counter() - started < 2
    assert isinstance(reading, PlanReading)
    assert (reading.plan is None) == bool(reading.problems)
    last = text.count("\n") + 2  # PyYAML may point just past the last line
    for problem in reading.problems:
        assert 1 <= problem.line <= last, problem
        for locale in ("zh", "en"):
            assert shown(problem, locale)
    return reading


@FUZZ
@given(text=HOSTILE_YAML)
def test_random_yamlish_text_gives_located_problems_only(text: str) -> None:
    assert_read_safely(text)


@st.composite
def edited_plans(draw: st.DrawFn) -> str:
    """A shipped plan with a few random edits: a token inserted, a line dropped or repeated."""
    text = draw(st.sampled_from([POSTAL_BANK, BUS]))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        lines = text.splitlines(keepends=True)
        where = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        edit = draw(st.sampled_from(["insert", "drop", "repeat", "replace_value"]))
        if edit == "insert":
            column = draw(st.integers(min_value=0, max_value=len(lines[where])))
            token = draw(st.one_of(YAMLISH, st.text(max_size=5)))
            lines[where] = lines[where][:column] + token + lines[where][column:]
        elif edit == "drop":
            del lines[where]
        elif edit == "repeat":
            lines.insert(where, lines[where])
        elif ":" in lines[where]:
            key = lines[where].split(":", 1)[0]
            lines[where] = f"{key}: {draw(YAMLISH)}\n"
        text = "".join(lines)
    return text


@settings(FUZZ, max_examples=40)  # each reads a whole plan, a tenth of a second or more
@given(text=edited_plans())
def test_randomly_edited_plans_give_located_problems_only(text: str) -> None:
    assert_read_safely(text)
