"""The campaign plans shipped in campaigns/plans (活动方案) load cleanly and are complete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from campaigns.formula import parse_formula
from campaigns.loader import read_plan_file
from campaigns.schema import (
    ASSESSMENT_NAMES,
    AWARD_NAMES,
    DEED_NAMES,
    LocalText,
    Plan,
    ScenarioDrill,
)
from tests.harness import PLANS as PLANS_DIR

PLAN_FILES = sorted(PLANS_DIR.glob("*.yaml"))


def load(path: Path) -> Plan:
    reading = read_plan_file(path)
    assert reading.problems == [], f"{path.name}: {reading.problems}"
    assert reading.plan is not None
    return reading.plan


def local_texts(node: object, where: str = "") -> Iterator[tuple[str, LocalText]]:
    """Every LocalText in a plan, with a readable path to it."""
    if isinstance(node, LocalText):
        yield where, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from local_texts(getattr(node, name), f"{where}.{name}")
    elif isinstance(node, list | tuple):
        for index, item in enumerate(node):
            yield from local_texts(item, f"{where}[{index}]")


def assessment_values(**overrides: float) -> dict[str, float]:
    values: dict[str, float] = {
        "score": 88,
        "target": 92,
        "shortfall": 4,
        "rank": 3,
        "rank_from_bottom": 1,
        "unit_count": 3,
        "repeated_items": 0,
        "stage_number": 1,
    }
    values.update(overrides)
    assert set(values) == set(ASSESSMENT_NAMES)
    return values


def test_plans_are_shipped() -> None:
    names = {path.stem for path in PLAN_FILES}
    assert {"postal-bank", "bus-operator", "university-facilities", "hotel"} <= names


@pytest.mark.parametrize("path", PLAN_FILES, ids=lambda p: p.stem)
def test_plan_validates_without_problems(path: Path) -> None:
    load(path)


@pytest.mark.parametrize("path", PLAN_FILES, ids=lambda p: p.stem)
def test_plan_has_enough_checklist_items_and_drills(path: Path) -> None:
    plan = load(path)
    items = [item for checklist in plan.checklists for item in checklist.items]
    scenarios = [drill for drill in plan.drills if isinstance(drill, ScenarioDrill)]
    assert len(items) >= 15
    assert len(plan.drills) >= 20
    assert len(scenarios) >= 5


@pytest.mark.parametrize("path", PLAN_FILES, ids=lambda p: p.stem)
def test_every_text_is_in_both_languages(path: Path) -> None:
    plan = load(path)
    texts = list(local_texts(plan))
    assert texts
    for where, text in texts:
        assert text.zh.strip(), f"{path.name}{where}: empty zh"
        assert text.en.strip(), f"{path.name}{where}: empty en"
        assert text.zh.strip() != text.en.strip(), f"{path.name}{where}: zh and en are the same"


@pytest.mark.parametrize("path", PLAN_FILES, ids=lambda p: p.stem)
def test_every_formula_evaluates(path: Path) -> None:
    plan = load(path)
    for rule in plan.scoring.assessment:
        for text in (rule.when, rule.amount):
            parse_formula(text, ASSESSMENT_NAMES).evaluate(assessment_values())
    for category in plan.scoring.deed_categories:
        points = parse_formula(category.points, DEED_NAMES).evaluate(
            {"amount": 20000, "days": 30, "level": 2, "people": 1}
        )
        assert points > 0
    award_values = {name: 1.0 for name in AWARD_NAMES} | {"complaints": 0}
    for award in plan.scoring.awards:
        parse_formula(award.where, AWARD_NAMES).evaluate(award_values)
        parse_formula(award.rank_by, AWARD_NAMES).evaluate(award_values)


def postal_bank() -> Plan:
    return load(PLANS_DIR / "postal-bank.yaml")


def test_postal_bank_stage_targets() -> None:
    assert [stage.target_score for stage in postal_bank().stages] == [92, 95, 98]


def test_postal_bank_below_target_rule() -> None:
    """考核 = 1000 + (目标分值 − 得分) × 200; a repeated problem counts double."""
    rule = next(r for r in postal_bank().scoring.assessment if r.key == "below-target")
    assert rule.kind == "penalty"
    when = parse_formula(rule.when, ASSESSMENT_NAMES)
    amount = parse_formula(rule.amount, ASSESSMENT_NAMES)

    assert when.evaluate(assessment_values())
    assert amount.evaluate(assessment_values()) == 1000 + (92 - 88) * 200 == 1800
    assert amount.evaluate(assessment_values(repeated_items=2)) == 3600
    assert not when.evaluate(assessment_values(score=92, shortfall=0))
