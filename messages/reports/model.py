"""What a report (报告 / 月报) is made of: typed sections, each built by one small function in
``handlers/reports/sections.py`` and read here by the summary text, the chart (PNG) and the ledger
spreadsheet (台账, XLSX).

Every row can be traced to a database row (its id is kept), so every number in the spreadsheet
can be explained. The spreadsheet reads each row by its field names: a column is a field, and its
header is found under that name in ``messages/<locale>/reports/headers/<sheet>.j2``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

Cell = str | int | float | dt.date | None


@dataclass(frozen=True)
class Headline:
    """Whose report, for which dates, in which stage and against which target."""

    organisation: str
    unit: str
    first: dt.date
    last: dt.date
    stage: str | None
    target: float | None


def reaches(score: float, target: float | None) -> bool | None:
    """Whether an official score meets the target; None when the stage names no target."""
    return None if target is None else score >= target


@dataclass(frozen=True)
class OfficialScore:
    """A unit's official score in the stage (检查得分): its latest inspection there."""

    unit_id: int
    unit: str
    score: float
    day: dt.date
    kind: str  # mystery | video | cross; its words are inspections/kind_<kind>


@dataclass(frozen=True)
class Standing:
    """Where the units stand against the stage target (达标情况). Only an official score (an
    inspection) reaches a target or falls short of it; the self-check average is the units' own
    check, shown beside it and never instead of it."""

    target: float | None
    officials: tuple[OfficialScore, ...] = ()  # the inspected units, lowest score first
    uninspected: tuple[str, ...] = ()  # the units not inspected in the stage yet
    selfcheck_average: float | None = None  # over the stage so far
    selfchecks: int = 0

    @property
    def single(self) -> bool:
        """One unit: its own score, rather than a count of units."""
        return len(self.officials) + len(self.uninspected) == 1

    @property
    def official(self) -> OfficialScore | None:
        """The one unit's official score; None before its first inspection in the stage."""
        return self.officials[0] if self.single and self.officials else None

    def reached(self, official: OfficialScore) -> bool | None:
        return reaches(official.score, self.target)

    def shortfall(self, official: OfficialScore) -> float:
        return 0.0 if self.target is None else max(0.0, round(self.target - official.score, 1))

    @property
    def below_target(self) -> tuple[OfficialScore, ...]:
        return tuple(o for o in self.officials if self.reached(o) is False)

    def of_unit(self, unit_id: int) -> OfficialScore | None:
        return next((o for o in self.officials if o.unit_id == unit_id), None)


@dataclass(frozen=True)
class Activity:
    """What people did: drills answered and self-checks run in the period."""

    drill_answers: int = 0
    drill_correct: int = 0
    selfcheck_runs: int = 0
    selfcheck_average: float | None = None

    @property
    def drill_accuracy(self) -> float | None:
        if not self.drill_answers:
            return None
        return round(100 * self.drill_correct / self.drill_answers, 1)


@dataclass(frozen=True)
class FollowUps:
    """What is still open or was settled: rectifications, deeds, observations, inspections."""

    rectifications_open: int = 0
    rectifications_overdue: int = 0  # still open past the deadline, or closed after it
    deeds_approved: int = 0
    deeds_pending: int = 0
    rectifications_closed_late: int = 0  # counted in rectifications_overdue too
    observations_open: int = 0
    observations_overdue: int = 0  # still open past the deadline, or closed after it
    observations_closed_late: int = 0  # counted in observations_overdue too
    observation_hours_to_close: float | None = None
    satisfaction: float | None = None
    inspections: int = 0
    penalties: float = 0.0
    rewards: float = 0.0


@dataclass(frozen=True)
class MemberLine:
    member_id: int
    name: str
    unit: str
    points: int
    drills_answered: int
    drills_correct: int
    selfchecks: int
    name_hidden: bool = False  # they hide their name from leaderboards: never shown in a group

    @property
    def drill_accuracy(self) -> float | None:
        if not self.drills_answered:
            return None
        return round(100 * self.drills_correct / self.drills_answered, 1)


@dataclass(frozen=True)
class UnitLine:
    rank: int  # by points per member, 1 the best
    unit_id: int
    name: str
    members: int
    points: int
    selfcheck_average: float | None
    official: OfficialScore | None = None  # the latest inspection in the stage

    @property
    def per_member(self) -> float:
        return self.points / self.members if self.members else 0.0

    @property
    def official_score(self) -> float | None:
        return None if self.official is None else self.official.score

    @property
    def inspected_on(self) -> dt.date | None:
        return None if self.official is None else self.official.day

    @property
    def inspection_kind(self) -> str | None:
        return None if self.official is None else self.official.kind


@dataclass(frozen=True)
class ItemLine:
    """A checklist item and how often it failed (the shortest plank, 木桶理论)."""

    rank: int
    item_id: int
    text: str
    kind: str  # hardware | software; its words are selfchecks/kind_<kind>
    failures: int


@dataclass(frozen=True)
class TrendPoint:
    first: dt.date  # the bucket (a week, or a day for short periods)
    selfcheck_average: float | None
    drill_accuracy: float | None


@dataclass(frozen=True)
class LedgerRow:
    """One points-ledger row."""

    entry_id: int
    day: dt.date
    member: str
    unit: str
    source: str  # drill | check | deed | …; its words are sources/<source>
    rule: str  # its words are rules/<rule>
    points: int


@dataclass(frozen=True)
class SelfCheckRow:
    run_id: int
    day: dt.date
    member: str
    unit: str
    checklist: str
    score: float | None
    failed_items: int
    zeroed_by: str | None


@dataclass(frozen=True)
class RectificationRow:
    rectification_id: int
    day: dt.date
    unit: str
    what: str
    owner: str
    due: dt.date
    status: str  # open | closed; its words are reports/status/rectification_<status>
    closed_on: dt.date | None
    note: str | None


@dataclass(frozen=True)
class DeedRow:
    deed_id: int
    day: dt.date
    unit: str
    reported_by: str
    people: int
    category: str  # the plan's name for it, in the report's language
    value: float | int | None  # the amount, days or level its category asks for
    status: str  # pending | approved | rejected; its words are reports/status/deed_<status>
    points: int


@dataclass(frozen=True)
class ObservationRow:
    observation_id: int
    day: dt.date
    unit: str
    kind: str  # praise | complaint | …; its words are observations/kind_<kind>
    status: str  # open | claimed | closed; its words are observations/status_<status>
    owner: str
    due: dt.date
    closed_on: dt.date | None
    hours_to_close: float | None
    rating: int | None


@dataclass(frozen=True)
class InspectionRow:
    inspection_id: int
    day: dt.date
    unit: str
    kind: str  # mystery | video | cross; its words are inspections/kind_<kind>
    score: float
    target: float | None  # the target of the inspection's stage
    reached: bool | None  # None when that stage names no target
    deducted_items: int
    penalties: float
    rewards: float


@dataclass(frozen=True)
class DrillRow:
    drill_id: int
    day: dt.date
    unit: str
    question: str
    kind: str  # choice | scenario; its words are reports/drill_kind_<kind>
    answers: int
    correct: int


@dataclass(frozen=True)
class Records:
    """One sheet per kind of record, in the order the spreadsheet shows them."""

    selfchecks: tuple[SelfCheckRow, ...] = ()
    rectifications: tuple[RectificationRow, ...] = ()
    deeds: tuple[DeedRow, ...] = ()
    observations: tuple[ObservationRow, ...] = ()
    inspections: tuple[InspectionRow, ...] = ()
    drills: tuple[DrillRow, ...] = ()


@dataclass(frozen=True)
class Report:
    """Everything a report shows for a unit (and the units under it) over a period."""

    headline: Headline
    activity: Activity
    follow_ups: FollowUps
    standing: Standing | None = None  # against the stage's target; None outside any stage
    members: tuple[MemberLine, ...] = ()
    units: tuple[UnitLine, ...] = ()
    weakest_items: tuple[ItemLine, ...] = ()
    trend: tuple[TrendPoint, ...] = ()
    ledger: tuple[LedgerRow, ...] = ()
    records: Records = Records()

    @property
    def silent_members(self) -> list[MemberLine]:
        """Who neither answered a drill nor ran a self-check in the period."""
        return [m for m in self.members if m.drills_answered == 0 and m.selfchecks == 0]

    @property
    def top_units(self) -> tuple[UnitLine, ...]:
        return self.units[:3]

    @property
    def bottom_units(self) -> tuple[UnitLine, ...]:
        return self.units[-3:][::-1] if len(self.units) > 3 else ()

    @property
    def ledger_points(self) -> int:
        return sum(row.points for row in self.ledger)
