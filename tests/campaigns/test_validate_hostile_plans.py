"""``uplift campaign validate`` on the attacker's plan files (security issue #10), as a real
subprocess, in both languages: every problem is printed as ``FILE:LINE: where: message`` from the
templates, the command exits 1, and there is no traceback, hang or runaway memory."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from campaigns.loader import MAX_PLAN_BYTES, MAX_PLAN_DEPTH, MAX_PLAN_NODES
from campaigns.schema import AWARD_NAMES, DEED_NAMES, EDGE_TOTAL
from kernel import Text
from messages import Renderer
from tests.harness import PLANS
from tests.harness.cli import uplift

LOCALES = ("zh", "en")
BUS = (PLANS / "bus-operator.yaml").read_text(encoding="utf-8")


def render(locale: str, template: str, **data: Any) -> str:
    return Renderer().render(Text(template, data), locale)


def problem_lines(stderr: str, name: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(rf"{re.escape(name)}:\d+: ", line)]


def set_line(text: str, needle: str, new: str) -> str:
    """``text`` with the first line holding ``needle`` replaced by ``new`` (same indent)."""
    number = text[: text.index(needle)].count("\n")
    lines = text.splitlines(keepends=True)
    old = lines[number]
    lines[number] = old[: len(old) - len(old.lstrip())] + new + "\n"
    return "".join(lines)


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def assert_refused(result: Any, name: str, locale: str, expected: list[tuple[int, str, str]]):
    """Exit 1, nothing on stdout, no traceback, and exactly these lines, in order."""
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert problem_lines(result.stderr, name) == [
        f"{name}:{line}: {where + ': ' if where else ''}{sentence}"
        for line, where, sentence in expected
    ]
    assert result.stderr.splitlines()[-1] == render(
        locale, "cli/plan_invalid", path=name, count=len(expected)
    )


def hostile_plan(marker: Path) -> tuple[str, list[tuple[int, str, str, dict[str, Any]]]]:
    """The bus operator's plan with every attack that still lets the rest be checked."""
    deeds, awards = ", ".join(DEED_NAMES), ", ".join(AWARD_NAMES)
    text = BUS
    text = set_line(text, "points: 10 if amount < 500", "points: amount / days")
    text = set_line(text, "points: 60 if level >= 3", "points: max()")
    text = set_line(text, "points: min(60, 5 + days × 2)", "points: 1e309")
    text = set_line(text, "rank_by: points + deeds × 10", "rank_by: inf - inf")
    text = set_line(text, "where: complaints <= 2", "where: complaints * 1e308 * 10 > 0")
    text = set_line(
        text,
        "morning_meeting:",
        f'morning_meeting: !!python/object/apply:os.system ["touch {marker}"]',
    )
    text = set_line(text, "starts_on: 2027-", "starts_on: 2027-13-01")
    text += "timezone: Asia/Tokyo\n"  # given twice: PyYAML kept the last one, silently
    first_zone = line_of(text, "timezone:")

    formula = {"limit": 0}
    expected = [
        (
            "starts_on: 2027-13-01",
            "starts_on",
            "plan_error/date_invalid",
            {"value": "2027-13-01"},
        ),
        (
            "morning_meeting: !!python",
            "morning_meeting",
            "plan_error/yaml_tag",
            {"tag": "!!python/object/apply:os.system"},
        ),
        (
            "points: amount / days",
            "scoring.deed_categories[0].points",
            "plan_error/formula_edge",
            {**formula, "reason": "division_by_zero", "detail": "", "values": "amount=0, days=0"},
        ),
        (
            "points: max()",
            "scoring.deed_categories[1].points",
            "plan_error/formula",
            {**formula, "reason": "arguments", "detail": "max()", "names": deeds},
        ),
        (
            "points: 1e309",
            "scoring.deed_categories[2].points",
            "plan_error/formula",
            {**formula, "reason": "too_large", "detail": "1e309", "names": deeds},
        ),
        (
            "rank_by: inf - inf",
            "scoring.awards[0].rank_by",
            "plan_error/formula",
            {**formula, "reason": "unknown_name", "detail": "inf", "names": awards},
        ),
        (
            "where: complaints * 1e308",
            "scoring.awards[1].where",
            "plan_error/formula_edge",
            {**formula, "reason": "overflow", "detail": "", "values": f"complaints={EDGE_TOTAL}"},
        ),
        (
            "timezone: Asia/Tokyo",
            "timezone",
            "plan_error/yaml_duplicate_key",
            {"key": "timezone", "first": first_zone},
        ),
    ]
    return text, [(line_of(text, needle), *rest) for needle, *rest in expected]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_attack_in_one_plan_is_reported_on_its_line(tmp_path: Path, locale: str) -> None:
    marker = tmp_path / "pwned"
    text, expected = hostile_plan(marker)
    (tmp_path / "hostile.yaml").write_text(text, encoding="utf-8")

    result = uplift(tmp_path, "campaign", "validate", "hostile.yaml", locale=locale)

    assert not marker.exists(), "the tag built nothing"
    assert_refused(
        result,
        "hostile.yaml",
        locale,
        [
            (line, where, render(locale, template, **data))
            for line, where, template, data in sorted(expected, key=lambda e: e[0])
        ],
    )


def laughs() -> str:
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, 10):
        text += f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]\n"
    return text


STOPPERS = {
    # 9**9 "lol"s: 8.4 GB and more than 300 s before; the alias on line 5 crosses the limit
    "laughs": (laughs, 5, "plan_error/too_many_values", {"limit": MAX_PLAN_NODES}),
    "deep": (
        lambda: f"key: x\ndeep: {'[' * 10_000}{']' * 10_000}\n",
        2,
        "plan_error/too_deep",
        {"limit": MAX_PLAN_DEPTH},
    ),
    "huge": (
        lambda: BUS + ("#" * 99 + "\n") * (MAX_PLAN_BYTES // 100),
        1,
        "plan_error/file_too_large",
        {"limit": MAX_PLAN_BYTES},
    ),
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("attack", list(STOPPERS))
def test_files_that_stop_reading_are_refused_quickly(
    tmp_path: Path, attack: str, locale: str
) -> None:
    make, line, template, data = STOPPERS[attack]
    path = tmp_path / f"{attack}.yaml"
    path.write_text(make(), encoding="utf-8")
    if attack == "huge":
        data = {**data, "size": path.stat().st_size}

    started = time.perf_counter()
    result = uplift(tmp_path, "campaign", "validate", path.name, locale=locale)
    elapsed = time.perf_counter() - started

    assert elapsed < 30, f"{elapsed:.1f} s (the process starts in about a second)"
    assert_refused(result, path.name, locale, [(line, "", render(locale, template, **data))])
