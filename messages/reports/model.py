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
    rectifications_overdue: int = 0
    deeds_approved: int = 0
    deeds_pending: int = 0
    observations_open: int = 0
    observations_overdue: int = 0
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
    inspection_score: float | None

    @property
    def per_member(self) -> float:
        return self.points / self.members if self.members else 0.0


@dataclass(frozen=True)
class ItemLine:
    """A checklist item and how often it failed (the shortest plank, 木桶理论)."""

    rank: int
    item_id: int
    text: str
    kind: str
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
    source: str
    rule: str
    points: int
    key: str


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
    status: str
    closed_on: dt.date | None
    note: str | None


@dataclass(frozen=True)
class DeedRow:
    deed_id: int
    day: dt.date
    unit: str
    reported_by: str
    people: int
    category: str
    value: float | int | None  # the amount, days or level its category asks for
    status: str
    points: int


@dataclass(frozen=True)
class ObservationRow:
    observation_id: int
    day: dt.date
    unit: str
    kind: str
    status: str
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
    kind: str
    score: float
    target: float | None
    deducted_items: int
    penalties: float
    rewards: float


@dataclass(frozen=True)
class DrillRow:
    drill_id: int
    day: dt.date
    unit: str
    question: str
    kind: str
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
