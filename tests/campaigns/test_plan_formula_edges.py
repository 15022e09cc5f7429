"""Formulas are checked over the edge values of their names when a plan is read (security issue
#10): a formula that parses but fails on a value it will meet (``amount / days`` with no days, a
product that overflows, a deed worth more points than the ledger can hold) rejects the plan,
on the formula's line, instead of leaving a deed pending or an inspection unsaved later."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from campaigns.formula import parse_formula
from campaigns.loader import LocatedProblem, read_plan_text
from campaigns.schema import (
    ASSESSMENT_NAMES,
    AWARD_EDGES,
    AWARD_NAMES,
    DEED_EDGES,
    DEED_NAMES,
    MAX_DEED_AMOUNT,
    MAX_DEED_DAYS,
    MAX_DEED_POINTS,
    assessment_edge_cases,
    deed_points,
    edge_cases,
)
from kernel import Text
from messages import Renderer
from tests.harness import PLANS

RENDER = Renderer()
BUS = (PLANS / "bus-operator.yaml").read_text(encoding="utf-8")
POSTAL_BANK = (PLANS / "postal-bank.yaml").read_text(encoding="utf-8")
MONEY = "points: 10 if amount < 500"  # the bus operator's first deed category's formula
SUSTAINED = "points: min(60, 5 + days × 2)"
BELOW_TARGET_WHEN = "when: score < target"
BELOW_TARGET_AMOUNT = "amount: (1000 + (target − score) × 200)"
STAR_WHERE = "where: complaints == 0"
STAR_RANK = "rank_by: points + deeds × 10 + praise × 5"


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def with_line(text: str, needle: str, key: str, formula: str) -> tuple[str, int]:
    """``text`` with the line holding ``needle`` set to ``key: formula`` (same indent)."""
    number = line_of(text, needle)
    lines = text.splitlines(keepends=True)
    old = lines[number - 1]
    indent = old[: len(old) - len(old.lstrip())]
    lines[number - 1] = f"{indent}{key}: {formula}\n"
    return "".join(lines), number


def problems_of(text: str) -> list[LocatedProblem]:
    reading = read_plan_text(text)
    assert (reading.plan is None) == bool(reading.problems)
    return reading.problems


def rendered(problem: LocatedProblem, locale: str) -> str:
    return RENDER.render(Text(f"plan_error/{problem.code}", problem.data), locale)


# --- deeds ---------------------------------------------------------------------------------------


def test_amount_over_days_is_rejected_at_validation_on_its_line() -> None:
    text, number = with_line(BUS, MONEY, "points", "amount / days")
    [problem] = problems_of(text)

    assert problem.line == number
    assert problem.path == ("scoring", "deed_categories", 0, "points")
    assert problem.code == "formula_edge"
    assert problem.data["reason"] == "division_by_zero"
    assert problem.data["values"] == "amount=0, days=0"
    assert rendered(problem, "en").startswith(
        "the formula fails when amount=0, days=0: it divides by zero."
    )
    assert rendered(problem, "zh").startswith("公式在 amount=0, days=0 时无法计算:除数为零。")


def test_a_guarded_division_is_accepted() -> None:
    text, _ = with_line(BUS, MONEY, "points", "min(100, amount / days) if days > 0 else 0")
    assert problems_of(text) == []


@pytest.mark.parametrize(
    ("formula", "reason", "detail"),
    [
        ("max()", "arguments", "max()"),
        ("min(days)", "arguments", "min()"),
        ("1e309", "too_large", "1e309"),
        ("1e309 - 1e309", "too_large", "1e309"),
        ("inf - inf", "unknown_name", "inf"),
        (" + ".join(["days"] * 200), "too_long", str(len(" + ".join(["days"] * 200)))),
        ("-" * 100 + "days", "too_deep", ""),
    ],
)
def test_formulas_that_cannot_be_parsed_are_rejected_on_their_line(
    formula: str, reason: str, detail: str
) -> None:
    text, number = with_line(BUS, SUSTAINED, "points", formula)
    [problem] = problems_of(text)
    assert (problem.line, problem.code) == (number, "formula")
    assert (problem.data["reason"], problem.data["detail"]) == (reason, detail)
    for locale in ("zh", "en"):
        assert rendered(problem, locale)


@pytest.mark.parametrize(
    ("formula", "reason", "values"),
    [
        ("min(100, amount * 1e300)", "overflow", f"amount={MAX_DEED_AMOUNT}"),
        ("min(60, days * 1e306)", "overflow", f"days={MAX_DEED_DAYS}"),
        ("amount / 100", "points_too_large", f"amount={MAX_DEED_AMOUNT}"),
        ("amount / days if days > 0 else 0", "points_too_large", "amount=1000000000, days=1"),
        ("100 / level", "division_by_zero", "level=0"),
        ("10 + amount % days", "division_by_zero", "amount=0, days=0"),
        ("round(amount, days)", "round_digits", "amount=0, days=3650"),
    ],
)
def test_deed_formulas_that_fail_at_an_edge_are_rejected(
    formula: str, reason: str, values: str
) -> None:
    text, number = with_line(BUS, SUSTAINED, "points", formula)
    [problem] = problems_of(text)
    assert (problem.line, problem.code) == (number, "formula_edge")
    assert (problem.data["reason"], problem.data["values"]) == (reason, values)
    for locale in ("zh", "en"):
        assert values in rendered(problem, locale)


def test_people_is_never_zero_so_sharing_points_is_fine() -> None:
    """Approval always names somebody: dividing by people is not refused."""
    text, _ = with_line(BUS, SUSTAINED, "points", "min(60, 5 + days × 2) / people")
    assert problems_of(text) == []


def test_deed_points_are_rounded_clamped_at_zero_and_capped() -> None:
    values = {"amount": 0, "days": 0, "level": 0, "people": 1}
    assert deed_points(parse_formula("12.6", DEED_NAMES), values) == 13
    assert deed_points(parse_formula("-50", DEED_NAMES), values) == 0
    assert deed_points(parse_formula(str(MAX_DEED_POINTS), DEED_NAMES), values) == MAX_DEED_POINTS
    with pytest.raises(ValueError, match="points_too_large"):
        deed_points(parse_formula(str(MAX_DEED_POINTS + 1), DEED_NAMES), values)


# --- assessment ----------------------------------------------------------------------------------


def test_an_amount_is_only_checked_where_its_condition_holds() -> None:
    """Shortfall is 0 when the score meets the target, but then ``score < target`` is false:
    the amount is never worked out there, so dividing by the shortfall is fine."""
    text, _ = with_line(POSTAL_BANK, BELOW_TARGET_AMOUNT, "amount", "20000 / shortfall")
    assert problems_of(text) == []

    text, number = with_line(text, BELOW_TARGET_WHEN, "when", "score <= target")
    [problem] = problems_of(text)
    assert (problem.line, problem.code) == (number + 1, "formula_edge")
    assert problem.data["reason"] == "division_by_zero"
    assert problem.data["values"] == "shortfall=0"


def test_a_condition_that_fails_is_rejected_on_its_own_line() -> None:
    text, number = with_line(POSTAL_BANK, BELOW_TARGET_WHEN, "when", "100 / repeated_items > 1")
    [problem] = problems_of(text)
    assert (problem.line, problem.path[-1], problem.data["values"]) == (
        number,
        "when",
        "repeated_items=0",
    )


@pytest.mark.parametrize(
    ("formula", "values"),
    [
        ("100 / (unit_count - 1)", "unit_count=1"),
        ("1000 / score", "score=0"),
        ("1000 / (rank_from_bottom - rank)", "rank=1, rank_from_bottom=1"),
        ("1e305 * score * score", "score=100"),
    ],
)
def test_assessment_formulas_meet_scores_ranks_and_counts_at_their_ends(
    formula: str, values: str
) -> None:
    text, number = with_line(POSTAL_BANK, BELOW_TARGET_WHEN, "when", '"1"')
    text, number = with_line(text, BELOW_TARGET_AMOUNT, "amount", formula)
    [problem] = problems_of(text)
    assert (problem.line, problem.data["values"]) == (number, values)


def test_a_rule_limited_to_stages_only_meets_their_stage_numbers() -> None:
    """below-target applies in stages 1 and 2: stage_number is never 0 or 3 there."""
    text, _ = with_line(POSTAL_BANK, BELOW_TARGET_WHEN, "when", '"1"')
    text, number = with_line(text, BELOW_TARGET_AMOUNT, "amount", "100 / (stage_number - 3)")
    assert problems_of(text) == []
    text, number = with_line(text, "100 / (stage_number - 3)", "amount", "100 / (stage_number - 2)")
    [problem] = problems_of(text)
    assert (problem.line, problem.data["values"]) == (number, "stage_number=2")


def test_assessment_edge_cases_are_consistent() -> None:
    cases = assessment_edge_cases(units=7, items=20, stage_numbers=[0, 1, 3])
    assert {case["score"] for case in cases} == {0, 100}
    assert {case["repeated_items"] for case in cases} == {0, 20}
    assert {case["stage_number"] for case in cases} == {0, 1, 3}
    for case in cases:
        assert set(case) == set(ASSESSMENT_NAMES)
        assert case["shortfall"] == max(0, case["target"] - case["score"])
        assert 1 <= case["rank"] <= case["unit_count"] <= 7
        assert 1 <= case["rank_from_bottom"] <= case["unit_count"]


# --- awards --------------------------------------------------------------------------------------


def test_rank_by_is_only_checked_for_candidates_its_condition_lets_through() -> None:
    text, _ = with_line(BUS, STAR_WHERE, "where", "deeds > 0")
    text, number = with_line(text, STAR_RANK, "rank_by", "points / deeds")
    assert problems_of(text) == []

    text, _ = with_line(text, "where: deeds > 0", "where", "complaints == 0")
    [problem] = problems_of(text)
    assert (problem.line, problem.data["values"]) == (number, "points=0, deeds=0")


def test_award_formulas_are_checked_for_overflow_at_the_largest_counts() -> None:
    text, number = with_line(BUS, STAR_RANK, "rank_by", "points * praise * deeds * 1e295")
    [problem] = problems_of(text)
    assert (problem.line, problem.data["reason"]) == (number, "overflow")


def test_edge_values_cover_every_name() -> None:
    assert set(DEED_EDGES) == set(DEED_NAMES)
    assert set(AWARD_EDGES) == set(AWARD_NAMES)
    assert all(0 in values for values in AWARD_EDGES.values())
    assert len(edge_cases(DEED_EDGES)) == 3 * 3 * 3 * 2


# --- the shipped plans ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_plans_pass_the_edge_check_quickly(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    started = time.perf_counter()
    assert problems_of(text) == []
    assert time.perf_counter() - started < 1
