"""What a report (报告 / 月报) is made of: plain data gathered from the ledger and the records,
turned into a text summary, a chart (PNG) and a ledger spreadsheet (台账, XLSX) by messages/.

Every row here can be traced to a database row (its id is kept), so every number in the
spreadsheet can be explained."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MemberLine:
    member_id: int
    name: str
    unit: str
    points: int
    drills_answered: int
    drills_correct: int
    selfchecks: int


@dataclass(frozen=True)
class UnitLine:
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
    """One points-ledger row, as the spreadsheet lists it."""

    entry_id: int
    day: dt.date
    member: str
    unit: str
    source: str
    rule: str
    points: int
    key: str


@dataclass(frozen=True)
class RecordRow:
    """One row of another record sheet (self-checks, rectifications, deeds, observations,
    inspections, drills): its id, date and the columns shown."""

    record_id: int
    day: dt.date
    cells: tuple[str | int | float | None, ...]


@dataclass
class Report:
    """Everything a report shows for a unit (and the units under it) over a period."""

    organisation: str
    unit: str
    first: dt.date
    last: dt.date
    stage: str | None
    target: float | None
    members: list[MemberLine] = field(default_factory=list)
    units: list[UnitLine] = field(default_factory=list)
    weakest_items: list[ItemLine] = field(default_factory=list)
    trend: list[TrendPoint] = field(default_factory=list)
    drill_answers: int = 0
    drill_correct: int = 0
    selfcheck_average: float | None = None
    selfcheck_runs: int = 0
    rectifications_open: int = 0
    rectifications_overdue: int = 0
    deeds_approved: int = 0
    deeds_pending: int = 0
    observations_open: int = 0
    observations_overdue: int = 0
    observation_hours_to_close: float | None = None
    satisfaction: float | None = None
    inspections: list[RecordRow] = field(default_factory=list)
    penalties: float = 0.0
    rewards: float = 0.0
    ledger: list[LedgerRow] = field(default_factory=list)
    sheets: dict[str, list[RecordRow]] = field(default_factory=dict)

    @property
    def drill_accuracy(self) -> float | None:
        return (
            round(100 * self.drill_correct / self.drill_answers, 1) if self.drill_answers else None
        )

    @property
    def silent_members(self) -> list[MemberLine]:
        """Who neither answered a drill nor ran a self-check in the period."""
        return [m for m in self.members if m.drills_answered == 0 and m.selfchecks == 0]

    @property
    def top_units(self) -> list[UnitLine]:
        return self.units[:3]

    @property
    def bottom_units(self) -> list[UnitLine]:
        return self.units[-3:][::-1] if len(self.units) > 3 else []
