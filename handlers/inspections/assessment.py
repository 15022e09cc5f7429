"""The plan's inspection assessment (考核): rewards and penalties from its formulas.

Pure functions over named values, so the postal bank's rules (1000 + (target − score) × 200 below
target, doubled for a repeated problem, rank bands, early-target rewards) can be checked exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from campaigns.formula import FormulaError, parse_formula
from campaigns.schema import ASSESSMENT_NAMES, AssessmentRule
from kernel import Refusal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    rule: str
    name_zh: str
    name_en: str
    kind: str  # penalty | reward
    amount: float


def assessment_values(
    *,
    score: float,
    target: float,
    scores_of_peers: Mapping[int, float],
    unit_id: int,
    repeated_items: int,
    stage_number: int,
) -> dict[str, float]:
    """The named values formulas see. Ranks compare the unit with its peers (the units under the
    same parent inspected this stage), 1 being the best; equal scores share a rank."""
    scores = dict(scores_of_peers)
    scores[unit_id] = score
    rank = 1 + sum(1 for other in scores.values() if other > score)
    from_bottom = 1 + sum(1 for other in scores.values() if other < score)
    return {
        "score": score,
        "target": target,
        "shortfall": max(0.0, target - score),
        "rank": rank,
        "rank_from_bottom": from_bottom,
        "unit_count": len(scores),
        "repeated_items": repeated_items,
        "stage_number": stage_number,
    }


def assess(
    rules: Iterable[AssessmentRule], stage_key: str | None, values: Mapping[str, float]
) -> list[Outcome]:
    """Every rule for this stage whose condition holds, with its amount (rounded to the yuan).

    A rule whose formula cannot be worked out for these values refuses the whole inspection
    (Refusal ``inspections/formula_failed``): nothing is recorded until the plan is corrected."""
    outcomes = []
    for rule in rules:
        if rule.stages and stage_key not in rule.stages:
            continue
        try:
            if not parse_formula(rule.when, ASSESSMENT_NAMES).evaluate(values):
                continue
            amount = round(parse_formula(rule.amount, ASSESSMENT_NAMES).evaluate(values), 2)
        except FormulaError as exc:
            log.warning(
                "inspection.formula_failed rule=%s when=%r amount=%r values=%s reason=%s %s",
                rule.key,
                rule.when,
                rule.amount,
                dict(values),
                exc.reason,
                exc.detail,
            )
            raise Refusal(
                "inspections/formula_failed",
                zh=rule.name.zh,
                en=rule.name.en,
                **exc.template_data(),
            ) from None
        outcomes.append(Outcome(rule.key, rule.name.zh, rule.name.en, rule.kind, amount))
    return outcomes
