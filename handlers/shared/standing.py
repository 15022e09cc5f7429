"""A unit's standing against its stage target (达标情况), read in one place and worded in one
place, so /score, /report, the weekly summary and the chart say the same thing: the official
score is the unit's latest inspection in the stage, and the self-check average is a line of its
own that never decides whether the target is reached."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from handlers.shared.units import unit_name
from kernel import Text
from messages.reports.model import OfficialScore, Standing
from storage.models import Stage, Unit
from storage.store import Store


async def stage_standing(
    store: Store, stage: Stage, units: Sequence[Unit], until: dt.datetime, locale: str
) -> Standing:
    """Where ``units`` stand in ``stage`` at ``until`` (days counted in the first unit's zone),
    with unit names in ``locale``."""
    found = await store.reports.standing(stage, [u.id for u in units], units[0].timezone, until)
    names = {u.id: unit_name(u, locale) for u in units}
    officials = sorted(
        (
            OfficialScore(o.unit_id, names[o.unit_id], o.score, o.inspected_on, o.kind)
            for o in found.officials.values()
        ),
        key=lambda o: (o.score, o.unit),
    )
    return Standing(
        target=stage.target_score,
        officials=tuple(officials),
        uninspected=tuple(names[u.id] for u in units if u.id not in found.officials),
        selfcheck_average=found.selfcheck_average,
        selfchecks=found.selfchecks,
    )


def standing_text(standing: Standing) -> Text:
    """The official score (or scores) against the target, then the self-check average."""
    return Text(
        "reports/standing",
        {
            "target": standing.target,
            "single": standing.single,
            "official": _official(standing, standing.official) if standing.official else None,
            "inspected": len(standing.officials),
            "on_target": sum(1 for o in standing.officials if standing.reached(o)),
            "below": [_official(standing, o) for o in standing.below_target],
            "uninspected": len(standing.uninspected),
            "selfcheck_average": standing.selfcheck_average,
            "selfchecks": standing.selfchecks,
        },
    )


def _official(standing: Standing, official: OfficialScore) -> dict[str, object]:
    return {
        "unit": official.unit,
        "score": official.score,
        "day": official.day,
        "kind": Text(f"inspections/kind_{official.kind}"),
        "reached": standing.reached(official),
        "short": standing.shortfall(official),
    }


def stage_label(stage: Stage) -> Text:
    """The stage's name and dates, in whatever language the message is read in."""
    return Text(
        "results/stage_name",
        {"zh": stage.name_zh, "en": stage.name_en, "first": stage.starts_on, "last": stage.ends_on},
    )


def official_text(score: float | None, target: float | None) -> Text:
    """The official standing: the latest inspection against the target, either may be absent."""
    return Text("results/official", {"score": score, "target": target})


async def stage_result_lines(store: Store, stages: Sequence[Stage], unit: Unit) -> list[Text]:
    """The unit's official score against the target, stage by stage: the closing summary's
    lines, and what /stage shows once every stage is over."""
    lines = []
    for stage in stages:
        scores = await store.inspections.latest_scores([unit.id], stage.id)
        official = official_text(scores.get(unit.id), stage.target_score)
        said = {"stage": stage_label(stage), "official": official}
        lines.append(Text("results/stage_line", said))
    return lines
