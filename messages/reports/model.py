"""What a report (报告 / 月报) is made of: typed sections, each built by one small function in
``handlers/reports/sections.py`` and read here by the summary text, the chart (PNG) and the ledger
spreadsheet (台账, XLSX).

Every row can be traced to a database row (its id is kept), so every number in the spreadsheet
can be explained. The spreadsheet reads each row by its field names: a column is a field, and its
header is found under that name in ``messages/<locale>/reports/headers/<sheet>.j2``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

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


# The ledger's sources, each a column of the ledger sheet (its words are sources/<source>).
SOURCES = ("drill", "streak", "check", "deed", "observation", "inspection")


@dataclass(frozen=True)
class DailyPoints:
    """One member's points on one day, by source, and the day's total: a row of the ledger
    sheet (积分台账), which sums the ledger per member per day so it stays readable (and within
    what a sheet holds) however many rows the ledger has."""

    day: dt.date
    member: str
    unit: str
    drill: int = 0
    streak: int = 0
    check: int = 0
    deed: int = 0
    observation: int = 0
    inspection: int = 0
    points: int = 0  # the day's total, every source (a source not above counts here only)


class LedgerFeed(Protocol):
    """The points ledger of a report, read as the sheet is written rather than held: the
    per-member-per-day sums and, when the full ledger is asked for, every row.

    Each iterator may be read once, from a worker thread (the database feed reads the rows on
    the event loop while the sheet is written in a thread)."""

    @property
    def points(self) -> int:
        """The sum of every row."""
        ...

    @property
    def entries(self) -> int:
        """How many ledger rows there are."""
        ...

    def days(self) -> Iterator[DailyPoints]:
        """The per-member-per-day sums, by day, unit and member."""
        ...

    def rows(self) -> Iterator[LedgerRow]:
        """Every ledger row, by day and id."""
        ...


@dataclass(frozen=True)
class ListedLedger:
    """A ledger held in memory (tests, small reports): its daily sums are worked out here the
    way the database groups them."""

    listed: tuple[LedgerRow, ...] = ()

    @property
    def points(self) -> int:
        return sum(row.points for row in self.listed)

    @property
    def entries(self) -> int:
        return len(self.listed)

    def rows(self) -> Iterator[LedgerRow]:
        return iter(self.listed)

    def days(self) -> Iterator[DailyPoints]:
        sums: dict[tuple[dt.date, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in self.listed:
            day = sums[(row.day, row.unit, row.member)]
            day[row.source] += row.points
            day["points"] += row.points
        for (day, unit, member), by_source in sorted(sums.items()):
            known = {source: by_source.get(source, 0) for source in SOURCES}
            yield DailyPoints(day, member, unit, **known, points=by_source["points"])


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
    ledger: LedgerFeed = field(default_factory=ListedLedger)
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
        return self.ledger.points
