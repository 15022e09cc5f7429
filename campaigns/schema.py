"""The campaign plan format (活动方案): what a plan file may say, checked on load.

A plan is one YAML file describing a whole campaign: the organisation and its unit tree, the
calendar, the stages with dates and targets, the checklists, the drill bank, the scoring rules
and the deadlines. Pydantic checks the shape; ``semantic_errors`` checks what shape alone cannot
(unique keys, references, dates in order, formulas). Every error carries its path in the file so
the loader can name the line.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from campaigns.formula import Formula, FormulaError, parse_formula

Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

ASSESSMENT_NAMES = (
    "score",  # inspection score out of 100
    "target",  # the stage's target score
    "shortfall",  # max(0, target - score)
    "rank",  # 1 = best among the inspected units under the same parent this stage
    "rank_from_bottom",  # 1 = worst
    "unit_count",  # how many units were ranked
    "repeated_items",  # deducted items that were also deducted at the unit's previous inspection
    "stage_number",  # 1 for the first stage
)
DEED_NAMES = ("amount", "days", "level", "people")
AWARD_NAMES = (
    "points",
    "points_per_member",
    "drill_accuracy",
    "selfcheck_average",
    "deeds",
    "complaints",
    "praise",
    "inspection_score",
)

# --- the values formulas are checked with -------------------------------------------------------
# A formula that parses can still fail on a value it meets later (``amount / days`` with no days,
# a product that overflows), leaving a deed pending or an inspection unsaved. So when a plan is
# read, every formula is also evaluated over the edge values of its names: zero, the ends of the
# score range (0 and 100) and the largest amounts and counts the service gives it.

MAX_DEED_AMOUNT = 1_000_000_000  # yuan: the largest amount the deed form accepts
MAX_DEED_DAYS = 3650  # days: the longest duration the deed form accepts (ten years)
MAX_DEED_LEVEL = 3  # social impact levels 1-3
EDGE_PEOPLE = 1000  # people named in one deed (at least 1): a large unit, all of it
# Points one person may earn from one deed. The shipped plans give at most 100; the ledger stores
# points as a 32-bit integer, so a formula must stay far below 2,147,483,647.
MAX_DEED_POINTS = 1_000_000
# Points per action in ``scoring.points``, either way: the same reason.
MAX_POINTS = 1_000_000
EDGE_TOTAL = 1_000_000  # award figures that are sums (points) or counts (deeds, complaints)

# 0 stands for a value the deed has not got (a category that does not ask it): the handler passes 0.
DEED_EDGES: dict[str, tuple[float, ...]] = {
    "amount": (0, 1, MAX_DEED_AMOUNT),
    "days": (0, 1, MAX_DEED_DAYS),
    "level": (0, 1, MAX_DEED_LEVEL),
    "people": (1, EDGE_PEOPLE),
}
AWARD_EDGES: dict[str, tuple[float, ...]] = {
    "points": (0, EDGE_TOTAL),
    "points_per_member": (0, EDGE_TOTAL),
    "drill_accuracy": (0, 100),
    "selfcheck_average": (0, 100),
    "deeds": (0, EDGE_TOTAL),
    "complaints": (0, EDGE_TOTAL),
    "praise": (0, EDGE_TOTAL),
    "inspection_score": (0, 100),
}


def edge_cases(edges: Mapping[str, Iterable[float]]) -> list[dict[str, float]]:
    """Every combination of the given edge values."""
    names = list(edges)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*edges.values())]


def assessment_edge_cases(
    *, units: int, items: int, stage_numbers: Iterable[int]
) -> list[dict[str, float]]:
    """Edge values for assessment formulas: scores and targets 0 and 100, one unit alone or the
    best, the worst or all tied among ``units``, no repeated item or all ``items``, and the
    stage numbers the rule can meet (0: inspected outside any stage)."""
    most = max(units, 1)
    ranks = sorted({(1, 1, 1), (1, most, most), (most, 1, most), (1, 1, most)})
    cases = []
    for score, target, (rank, bottom, count), repeated, stage in itertools.product(
        (0, 100), (0, 100), ranks, sorted({0, max(items, 0)}), sorted(set(stage_numbers))
    ):
        cases.append(
            {
                "score": score,
                "target": target,
                "shortfall": max(0, target - score),
                "rank": rank,
                "rank_from_bottom": bottom,
                "unit_count": count,
                "repeated_items": repeated,
                "stage_number": stage,
            }
        )
    return cases


def deed_points(formula: Formula, values: Mapping[str, float]) -> int:
    """The points each doer of a deed earns by its category's formula: rounded, never below 0;
    FormulaError when the formula fails or gives more than MAX_DEED_POINTS."""
    points = max(0, round(formula.evaluate(values)))
    if points > MAX_DEED_POINTS:
        raise FormulaError("points_too_large", str(points), limit=MAX_DEED_POINTS)
    return points


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalText(_Strict):
    """Text in both campaign languages."""

    zh: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]

    def in_locale(self, locale: str) -> str:
        return self.zh if locale == "zh" else self.en


def _check_time(value: str) -> str:
    """Accept H:MM or HH:MM and return HH:MM."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
    if not match:
        raise ValueError("time_format")
    return f"{int(match[1]):02d}:{match[2]}"


def check_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("unknown_timezone") from None
    return value


class Roster(_Strict):
    """A shift roster (排班): a repeating pattern of work and rest days from a start date."""

    starts_on: dt.date
    pattern: Annotated[list[Literal["work", "off"]], Field(min_length=1, max_length=366)]


class Calendar(_Strict):
    """Which local dates are working days: weekdays or a roster, the country's official
    calendar (with China's make-up weekends 调休), then the plan's own holidays and make-up days,
    which win over everything else."""

    country: str | None = "CN"  # ISO code for the official calendar; None: weekdays only
    subdivision: str | None = None  # e.g. NSW for Australia
    working_days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    roster: Roster | None = None
    holidays: list[dt.date] = Field(default_factory=list)
    make_up_days: list[dt.date] = Field(default_factory=list)


class Unit(_Strict):
    """A unit (单位) of the organisation: an outlet, a line, a section, a department."""

    key: Key
    name: LocalText
    timezone: str | None = None  # default: the plan's
    locale: Literal["zh", "en"] | None = None  # default: the plan's
    morning_meeting: str | None = None  # default: the plan's
    calendar: Calendar | None = None  # default: the plan's
    children: list[Unit] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str | None) -> str | None:
        return value if value is None else check_zone(value)

    @field_validator("morning_meeting")
    @classmethod
    def _valid_time(cls, value: str | None) -> str | None:
        return value if value is None else _check_time(value)


class Organisation(_Strict):
    key: Key
    name: LocalText
    # How strangers get in: with an invitation (/invite, then /start <code>), or by asking to
    # join a unit and being approved by its supervisor. Invitation-only unless the plan says so.
    joining: Literal["invitation", "approval"] = "invitation"


class Stage(_Strict):
    """A stage (阶段) of the campaign with its dates, focus and target score."""

    key: Key
    name: LocalText
    starts_on: dt.date
    ends_on: dt.date
    focus: LocalText
    target_score: Annotated[float, Field(ge=0, le=100)] | None = None
    remind_days_before_end: Annotated[int, Field(ge=0, le=60)] = 3
    summary: bool = False  # the summary and awards stage (总结表彰)


class ChecklistItem(_Strict):
    """One line of the standard (标准); ``critical`` marks "100−1=0" items."""

    key: Key
    text: LocalText
    kind: Literal["hardware", "software"]
    weight: Annotated[float, Field(gt=0, le=100)] = 1
    critical: bool = False


class Checklist(_Strict):
    key: Key
    title: LocalText
    stages: list[Key] = Field(default_factory=list)  # empty: every stage
    units: list[Key] = Field(default_factory=list)  # these units and those below; empty: all
    items: Annotated[list[ChecklistItem], Field(min_length=1)]


class ChoiceDrill(_Strict):
    """A multiple-choice drill question with the explanation shown after answering."""

    key: Key
    kind: Literal["choice"]
    question: LocalText
    options: Annotated[list[LocalText], Field(min_length=2, max_length=6)]
    answer: Annotated[int, Field(ge=1)]  # 1-based position of the right option
    explanation: LocalText


class ScenarioDrill(_Strict):
    """A scenario (情景演练) answered in the person's own words and compared with a model answer."""

    key: Key
    kind: Literal["scenario"]
    question: LocalText
    model_answer: LocalText


Drill = Annotated[ChoiceDrill | ScenarioDrill, Field(discriminator="kind")]


PointsValue = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]


class Points(_Strict):
    """Points per action, written to the ledger by the rule of the same name."""

    drill_answered: PointsValue = 2
    drill_correct: PointsValue = 8
    scenario_rated: PointsValue = 6
    selfcheck_completed: PointsValue = 20
    rectification_closed: PointsValue = 10
    deed_reported: PointsValue = 2  # to the reporter of someone else's deed, on approval
    deed_approved: PointsValue = 20  # to each doer, when the plan has no deed categories
    observation_submitted: PointsValue = 3
    praise_received: PointsValue = 10
    inspection_target_reached: PointsValue = 10  # to each member of a unit meeting its target
    streak_bonus_every: Annotated[int, Field(ge=0, le=MAX_POINTS)] = 5
    streak_bonus: PointsValue = 10


class DeedCategory(_Strict):
    """A good-deed category (好人好事) and the formula that turns it into points on approval."""

    key: Key
    name: LocalText
    asks: list[Literal["amount", "days", "level"]] = Field(default_factory=list)
    points: str


class AssessmentRule(_Strict):
    """An inspection reward or penalty (奖惩) applied when ``when`` holds."""

    key: Key
    name: LocalText
    kind: Literal["penalty", "reward"]
    stages: list[Key] = Field(default_factory=list)  # empty: every stage
    when: str = "1"
    amount: str


class Award(_Strict):
    """A summary-stage award suggestion (评选表彰), e.g. service star or advanced unit."""

    key: Key
    name: LocalText
    scope: Literal["member", "unit"]
    where: str = "1"
    rank_by: str
    top: Annotated[int, Field(ge=1, le=100)] = 3


class Scoring(_Strict):
    points: Points = Field(default_factory=Points)
    deed_categories: list[DeedCategory] = Field(default_factory=list)
    assessment: list[AssessmentRule] = Field(default_factory=list)
    awards: list[Award] = Field(default_factory=list)
    # The day award suggestions go to supervisors (评选), when the plan names one inside its
    # summary stage (e.g. "12月全面总结，评选…" in a stage running from September); by default the
    # summary stage's first day. It must lie within the campaign.
    awards_on: dt.date | None = None
    # How many of the week's leaders a unit's group chat may see by name (0: none); whoever
    # hides their name is never named, and the whole list never goes to a group.
    group_leaders: Annotated[int, Field(ge=0, le=10)] = 5


class Deadlines(_Strict):
    """Time limits (限期): rectifications, observations (限期办结), drills, missed pushes."""

    rectification_days: Annotated[int, Field(ge=1, le=365)] = 7
    rectification_remind_hours_before: Annotated[int, Field(ge=0, le=720)] = 24
    observation_close_hours: Annotated[int, Field(ge=1, le=2160)] = 48
    drill_close_hours: Annotated[int, Field(ge=1, le=72)] = 12
    push_grace_minutes: Annotated[int, Field(ge=0, le=10080)] = 120
    weekly_summary_time: str = "17:00"  # on the week's last working day, in each unit's zone
    monthly_report_time: str = "09:00"  # on the month's first working day, to supervisors

    @field_validator("weekly_summary_time", "monthly_report_time")
    @classmethod
    def _valid_time(cls, value: str) -> str:
        return _check_time(value)


class DemoColleague(_Strict):
    name: LocalText
    role: Literal["staff", "supervisor", "admin", "volunteer"] = "staff"
    # The unit they work in (its key); the demo's own unit when not given. Colleagues in other
    # units give the rankings between units something to show.
    unit: Key | None = None
    # What they report now and then besides answering the drills, as real people do, so a
    # supervisor trying the demo has deeds to /approve and observations to claim.
    reports: list[Literal["deeds", "observations"]] = Field(default_factory=list)


class Demo(_Strict):
    """Who the console demo puts beside the newcomer, so scores have something to show."""

    unit: Key
    colleagues: list[DemoColleague] = Field(default_factory=list)


class Plan(_Strict):
    """A whole campaign plan (活动方案)."""

    key: Key
    title: LocalText
    organisation: Organisation
    timezone: str = "Asia/Shanghai"
    locale: Literal["zh", "en"] = "zh"
    starts_on: dt.date
    ends_on: dt.date
    morning_meeting: str = "08:30"
    calendar: Calendar = Field(default_factory=Calendar)
    units: Annotated[list[Unit], Field(min_length=1)]
    stages: Annotated[list[Stage], Field(min_length=1)]
    checklists: Annotated[list[Checklist], Field(min_length=1)]
    drills: Annotated[list[Drill], Field(min_length=1)]
    scoring: Scoring = Field(default_factory=Scoring)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    demo: Demo | None = None

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("morning_meeting")
    @classmethod
    def _valid_time(cls, value: str) -> str:
        return _check_time(value)

    def all_units(self) -> Iterator[tuple[Unit, Unit | None]]:
        """Every unit with its parent, parents first."""
        pending: list[tuple[Unit, Unit | None]] = [(u, None) for u in self.units]
        while pending:
            unit, parent = pending.pop(0)
            yield unit, parent
            pending.extend((child, unit) for child in unit.children)


Path = tuple[str | int, ...]


@dataclass(frozen=True)
class PlanProblem:
    """One thing wrong with a plan: where (path into the YAML), what (a template code) and data."""

    path: Path
    code: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanParts:
    """The parts of a plan the meaning checks look at, each list entry with its position in the
    file. Built from a valid plan, or leniently from a file with shape errors (keeping the
    entries that are valid on their own), so every kind of error is reported in one pass."""

    starts_on: dt.date | None
    ends_on: dt.date | None
    stages: list[tuple[int, Stage]]
    checklists: list[tuple[int, Checklist]]
    drills: list[tuple[int, ChoiceDrill | ScenarioDrill]]
    assessment: list[tuple[int, AssessmentRule]]
    deed_categories: list[tuple[int, DeedCategory]]
    awards: list[tuple[int, Award]]
    awards_on: dt.date | None
    units: list[tuple[Path, Unit]]
    calendar: Calendar | None
    demo: Demo | None

    @classmethod
    def of(cls, plan: Plan) -> PlanParts:
        return cls(
            starts_on=plan.starts_on,
            ends_on=plan.ends_on,
            stages=list(enumerate(plan.stages)),
            checklists=list(enumerate(plan.checklists)),
            drills=list(enumerate(plan.drills)),
            assessment=list(enumerate(plan.scoring.assessment)),
            deed_categories=list(enumerate(plan.scoring.deed_categories)),
            awards=list(enumerate(plan.scoring.awards)),
            awards_on=plan.scoring.awards_on,
            units=list(_unit_paths(plan.units, ("units",))),
            calendar=plan.calendar,
            demo=plan.demo,
        )

    @classmethod
    def lenient(cls, data: Any) -> PlanParts:
        data = data if isinstance(data, dict) else {}
        scoring = data.get("scoring") if isinstance(data.get("scoring"), dict) else {}
        units: list[tuple[Path, Unit]] = []
        for i, unit in _valid_entries(data.get("units"), Unit):
            units += _unit_paths([unit], ("units",), start=i)
        return cls(
            starts_on=_valid(data.get("starts_on"), dt.date),
            ends_on=_valid(data.get("ends_on"), dt.date),
            stages=_valid_entries(data.get("stages"), Stage),
            checklists=_valid_entries(data.get("checklists"), Checklist),
            drills=_valid_entries(data.get("drills"), Drill),
            assessment=_valid_entries(scoring.get("assessment"), AssessmentRule),
            deed_categories=_valid_entries(scoring.get("deed_categories"), DeedCategory),
            awards=_valid_entries(scoring.get("awards"), Award),
            awards_on=_valid(scoring.get("awards_on"), dt.date),
            units=units,
            calendar=_valid(data.get("calendar", {}), Calendar),
            demo=_valid(data.get("demo"), Demo),
        )


def _valid(raw: Any, kind: Any) -> Any:
    if raw is None:
        return None
    try:
        return TypeAdapter(kind).validate_python(raw)
    except ValidationError:
        return None


def _valid_entries(raw: Any, kind: Any) -> list[tuple[int, Any]]:
    if not isinstance(raw, list):
        return []
    adapter = TypeAdapter(kind)
    entries = []
    for index, entry in enumerate(raw):
        try:
            entries.append((index, adapter.validate_python(entry)))
        except ValidationError:
            continue
    return entries


def semantic_errors(parts: PlanParts) -> list[PlanProblem]:
    """What the shape check cannot see: duplicates, references, date order, formulas."""
    problems: list[PlanProblem] = _duplicate_keys(parts)
    first, last = parts.starts_on, parts.ends_on
    if first and last and last < first:
        problems.append(PlanProblem(("ends_on",), "date_order", {"first": str(first)}))
    stage_keys = {stage.key for _, stage in parts.stages}
    unit_keys = {unit.key for _, unit in parts.units}
    previous_end: dt.date | None = None
    for i, stage in parts.stages:
        where = ("stages", i)
        if stage.ends_on < stage.starts_on:
            problems.append(
                PlanProblem((*where, "ends_on"), "date_order", {"first": str(stage.starts_on)})
            )
        if first and last and (stage.starts_on < first or stage.ends_on > last):
            problems.append(
                PlanProblem(
                    (*where, "starts_on"),
                    "stage_outside_campaign",
                    {"first": str(first), "last": str(last)},
                )
            )
        if previous_end is not None and stage.starts_on <= previous_end:
            problems.append(
                PlanProblem((*where, "starts_on"), "stage_overlap", {"previous": str(previous_end)})
            )
        previous_end = stage.ends_on
    problems += _awards_on_problems(parts)
    for i, checklist in parts.checklists:
        for j, stage_key in enumerate(checklist.stages):
            if stage_key not in stage_keys:
                problems.append(_unknown(("checklists", i, "stages", j), stage_key, stage_keys))
        for j, unit_key in enumerate(checklist.units):
            if unit_key not in unit_keys:
                problems.append(_unknown(("checklists", i, "units", j), unit_key, unit_keys))
    for i, drill in parts.drills:
        if isinstance(drill, ChoiceDrill) and drill.answer > len(drill.options):
            problems.append(
                PlanProblem(
                    ("drills", i, "answer"), "answer_out_of_range", {"count": len(drill.options)}
                )
            )
    for i, rule in parts.assessment:
        where = ("scoring", "assessment", i)
        for j, stage_key in enumerate(rule.stages):
            if stage_key not in stage_keys:
                problems.append(_unknown((*where, "stages", j), stage_key, stage_keys))
        problems += _assessment_formula_problems(where, rule, parts)
    deed_cases = edge_cases(DEED_EDGES)
    for i, category in parts.deed_categories:
        found, _ = _formula_problems(
            ("scoring", "deed_categories", i, "points"),
            category.points,
            DEED_NAMES,
            deed_cases,
            deed_points,
        )
        problems += found
    award_cases = edge_cases(AWARD_EDGES)
    for i, award in parts.awards:
        where = ("scoring", "awards", i)
        found, holding = _formula_problems((*where, "where"), award.where, AWARD_NAMES, award_cases)
        problems += found
        # rank_by is only worked out for the candidates the condition lets through
        problems += _formula_problems((*where, "rank_by"), award.rank_by, AWARD_NAMES, holding)[0]
    if parts.calendar is not None:
        problems += _calendar_problems(("calendar",), parts.calendar)
    for path, unit in parts.units:
        if unit.calendar is not None:
            problems += _calendar_problems((*path, "calendar"), unit.calendar)
    if parts.demo is not None and parts.demo.unit not in unit_keys:
        problems.append(_unknown(("demo", "unit"), parts.demo.unit, unit_keys))
    for i, colleague in enumerate(parts.demo.colleagues if parts.demo else []):
        if colleague.unit is not None and colleague.unit not in unit_keys:
            where = ("demo", "colleagues", i, "unit")
            problems.append(_unknown(where, colleague.unit, unit_keys))
    return problems


def _awards_on_problems(parts: PlanParts) -> list[PlanProblem]:
    """The awards day is a day of the campaign."""
    day, first, last = parts.awards_on, parts.starts_on, parts.ends_on
    if day is None or first is None or last is None or first <= day <= last:
        return []
    return [
        PlanProblem(
            ("scoring", "awards_on"),
            "date_outside_campaign",
            {"first": str(first), "last": str(last)},
        )
    ]


def _calendar_problems(path: Path, calendar: Calendar) -> list[PlanProblem]:
    if calendar.country is None:
        return []
    supported = holidays.list_supported_countries()
    if calendar.country not in supported:
        return [PlanProblem((*path, "country"), "unknown_country", {"value": calendar.country})]
    if calendar.subdivision is not None and calendar.subdivision not in supported[calendar.country]:
        known = ", ".join(supported[calendar.country])
        return [_unknown((*path, "subdivision"), calendar.subdivision, set(known.split(", ")))]
    return []


def _unknown(path: Path, value: str, known: set[str]) -> PlanProblem:
    return PlanProblem(
        path, "unknown_reference", {"value": value, "known": ", ".join(sorted(known))}
    )


def _assessment_formula_problems(
    where: Path, rule: AssessmentRule, parts: PlanParts
) -> list[PlanProblem]:
    """``when`` over the edge values of the stages the rule applies in; ``amount`` over those
    where ``when`` holds (the only ones it is worked out for)."""
    if rule.stages:
        numbers = [i + 1 for i, stage in parts.stages if stage.key in rule.stages] or [1]
    else:
        numbers = [0, 1, max(len(parts.stages), 1)]
    cases = assessment_edge_cases(
        units=len(parts.units),
        items=sum(len(checklist.items) for _, checklist in parts.checklists),
        stage_numbers=numbers,
    )
    problems, holding = _formula_problems((*where, "when"), rule.when, ASSESSMENT_NAMES, cases)
    return (
        problems + _formula_problems((*where, "amount"), rule.amount, ASSESSMENT_NAMES, holding)[0]
    )


def _formula_problems(
    path: Path,
    text: str,
    names: tuple[str, ...],
    cases: list[dict[str, float]],
    outcome: Callable[[Formula, Mapping[str, float]], float] = Formula.evaluate,
) -> tuple[list[PlanProblem], list[dict[str, float]]]:
    """Parse ``text`` and work it out (by ``outcome``) for every case; the first failure is the
    problem. Also returns the cases where it holds (is not 0), for the formula it guards."""
    try:
        formula = parse_formula(text, names)
    except FormulaError as exc:
        return [
            PlanProblem(path, "formula", {**exc.template_data(), "names": ", ".join(names)})
        ], []
    used = [name for name in names if name in formula.names]
    results: dict[tuple[float, ...], float] = {}
    holding = []
    for case in cases:
        key = tuple(case[name] for name in used)
        if key not in results:
            try:
                results[key] = outcome(formula, case)
            except FormulaError as exc:
                values = ", ".join(f"{name}={_shown(case[name])}" for name in used)
                return [
                    PlanProblem(path, "formula_edge", {**exc.template_data(), "values": values})
                ], []
        if results[key]:
            holding.append(case)
    return [], holding


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _duplicate_keys(parts: PlanParts) -> list[PlanProblem]:
    """A key used twice in one list; unit keys must be unique across the whole tree."""
    groups: list[list[tuple[Path, str]]] = [
        [(("stages", i, "key"), s.key) for i, s in parts.stages],
        [(("checklists", i, "key"), c.key) for i, c in parts.checklists],
        [(("drills", i, "key"), d.key) for i, d in parts.drills],
        [(("scoring", "deed_categories", i, "key"), c.key) for i, c in parts.deed_categories],
        [(("scoring", "assessment", i, "key"), r.key) for i, r in parts.assessment],
        [(("scoring", "awards", i, "key"), a.key) for i, a in parts.awards],
        [((*path, "key"), unit.key) for path, unit in parts.units],
    ]
    for i, checklist in parts.checklists:
        groups.append(
            [
                (("checklists", i, "items", j, "key"), item.key)
                for j, item in enumerate(checklist.items)
            ]
        )
    problems = []
    for group in groups:
        seen: set[str] = set()
        for path, key in group:
            if key in seen:
                problems.append(PlanProblem(path, "duplicate_key", {"key": key}))
            seen.add(key)
    return problems


def _unit_paths(units: list[Unit], prefix: Path, start: int = 0) -> Iterator[tuple[Path, Unit]]:
    for i, unit in enumerate(units, start=start):
        yield (*prefix, i), unit
        yield from _unit_paths(unit.children, (*prefix, i, "children"))
