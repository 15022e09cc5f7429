"""The report's ledger spreadsheet (台账, XLSX): the headline numbers, the points ledger with its
total, members, units, the weakest items, and one sheet per kind of record.

Each sheet reads its rows by field name: its columns are names of the row's fields (or
properties), and each column's header is the line ``<name>: <header>`` of
``messages/<locale>/reports/headers/<sheet>.j2``; sheet names come from
``reports/sheet_<sheet>.j2``. Every record row keeps its database id in column A and its date in
column B, so each number can be traced back.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from kernel import Text
from messages.render import Renderer, Target
from messages.reports.model import (
    DeedRow,
    DrillRow,
    InspectionRow,
    LedgerRow,
    ObservationRow,
    RectificationRow,
    Report,
    SelfCheckRow,
)

Cell = str | int | float | dt.date | dt.datetime | None

MEMBER_COLUMNS = (
    "member_id",
    "name",
    "unit",
    "points",
    "drills_answered",
    "drills_correct",
    "drill_accuracy",
    "selfchecks",
)
UNIT_COLUMNS = (
    "rank",
    "unit_id",
    "name",
    "members",
    "points",
    "per_member",
    "selfcheck_average",
    "official_score",
    "inspected_on",
    "inspection_kind",
    "official_reached",
)
ITEM_COLUMNS = ("rank", "item_id", "text", "kind", "failures")
SUMMARY_COLUMNS = ("item", "value")
# The record sheets, in the order they appear, each with the type of its rows.
RECORD_SHEETS: dict[str, type] = {
    "selfchecks": SelfCheckRow,
    "rectifications": RectificationRow,
    "deeds": DeedRow,
    "observations": ObservationRow,
    "inspections": InspectionRow,
    "drills": DrillRow,
}
SUMMARY_FIELDS = (
    "organisation",
    "unit",
    "period_first",
    "period_last",
    "stage",
    "target",
    "official_score",
    "official_date",
    "official_kind",
    "official_reached",
    "units_inspected",
    "units_on_target",
    "stage_selfcheck_average",
    "stage_selfchecks",
    "members",
    "silent_members",
    "drill_answers",
    "drill_correct",
    "drill_accuracy",
    "selfcheck_runs",
    "selfcheck_average",
    "rectifications_open",
    "rectifications_overdue",
    "rectifications_closed_late",
    "deeds_approved",
    "deeds_pending",
    "observations_open",
    "observations_overdue",
    "observations_closed_late",
    "observation_hours_to_close",
    "satisfaction",
    "inspections",
    "penalties",
    "rewards",
    "ledger_points",
)
# Cells holding a code people do not read (a status, a kind, a rule), by sheet and column (the
# summary sheet by row), with the name of the template holding its words, the code put in {}.
WORDS: dict[tuple[str, str], str] = {
    ("ledger", "source"): "sources/{}",
    ("ledger", "rule"): "rules/{}",
    ("units", "inspection_kind"): "inspections/kind_{}",
    ("units", "official_reached"): "reports/reached_{}",
    ("weakest_items", "kind"): "selfchecks/kind_{}",
    ("rectifications", "status"): "reports/status/rectification_{}",
    ("deeds", "category"): "deeds/category_{}",  # the plan's own names are words already
    ("deeds", "status"): "reports/status/deed_{}",
    ("observations", "kind"): "observations/kind_{}",
    ("observations", "status"): "observations/status_{}",
    ("inspections", "kind"): "inspections/kind_{}",
    ("inspections", "reached"): "reports/reached_{}",
    ("drills", "kind"): "reports/drill_kind_{}",
    ("summary", "official_kind"): "inspections/kind_{}",
    ("summary", "official_reached"): "reports/reached_{}",
}
MAX_SHEET_NAME = 31  # Excel's limit
MIN_WIDTH = 6
MAX_WIDTH = 60
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"

_FORBIDDEN_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")


def columns_of(sheet: str) -> tuple[str, ...]:
    """The field names a sheet shows, in order."""
    fixed = {
        "summary": SUMMARY_COLUMNS,
        "ledger": tuple(f.name for f in fields(LedgerRow)),
        "members": MEMBER_COLUMNS,
        "units": UNIT_COLUMNS,
        "weakest_items": ITEM_COLUMNS,
    }
    if sheet in fixed:
        return fixed[sheet]
    return tuple(f.name for f in fields(RECORD_SHEETS[sheet]))


SHEETS = ("summary", "ledger", "members", "units", "weakest_items", *RECORD_SHEETS)


def render_report_workbook(report: Report, locale: str, renderer: Renderer) -> bytes:
    """The report's ledger as XLSX bytes."""
    book = _Book(renderer, locale)
    book.sheet(
        "summary",
        [
            {
                "item": book.say(f"summary_rows/{field}"),
                "value": book.words("summary", field, value),
            }.__getitem__
            for field, value in summary_rows(report)
        ],
    )
    book.sheet(
        "ledger",
        [_by_name(row) for row in report.ledger],
        total={"entry_id": book.say("total"), "points": report.ledger_points},
    )
    book.sheet("members", [_by_name(m) for m in report.members])
    standing = report.standing
    book.sheet(
        "units",
        [
            _by_name(
                u,
                {
                    "per_member": round(u.per_member, 2),
                    "official_reached": standing.reached(u.official)
                    if standing and u.official
                    else None,
                },
            )
            for u in report.units
        ],
    )
    book.sheet("weakest_items", [_by_name(i) for i in report.weakest_items])
    for sheet in RECORD_SHEETS:
        book.sheet(sheet, [_by_name(row) for row in getattr(report.records, sheet)])
    return book.save()


def summary_rows(report: Report) -> list[tuple[str, Cell]]:
    """The headline numbers, by the name of their label (``reports/summary_rows/<name>``)."""
    h, a, f, s = report.headline, report.activity, report.follow_ups, report.standing
    official = s.official if s else None
    values: dict[str, Cell] = {
        "organisation": h.organisation,
        "unit": h.unit,
        "period_first": h.first,
        "period_last": h.last,
        "stage": h.stage,
        "target": h.target,
        "official_score": official.score if official else None,
        "official_date": official.day if official else None,
        "official_kind": official.kind if official else None,
        "official_reached": s.reached(official) if s and official else None,
        "units_inspected": len(s.officials) if s else None,
        "units_on_target": sum(1 for o in s.officials if s.reached(o)) if s else None,
        "stage_selfcheck_average": s.selfcheck_average if s else None,
        "stage_selfchecks": s.selfchecks if s else None,
        "members": len(report.members),
        "silent_members": len(report.silent_members),
        "drill_answers": a.drill_answers,
        "drill_correct": a.drill_correct,
        "drill_accuracy": a.drill_accuracy,
        "selfcheck_runs": a.selfcheck_runs,
        "selfcheck_average": a.selfcheck_average,
        "rectifications_open": f.rectifications_open,
        "rectifications_overdue": f.rectifications_overdue,
        "rectifications_closed_late": f.rectifications_closed_late,
        "deeds_approved": f.deeds_approved,
        "deeds_pending": f.deeds_pending,
        "observations_open": f.observations_open,
        "observations_overdue": f.observations_overdue,
        "observations_closed_late": f.observations_closed_late,
        "observation_hours_to_close": f.observation_hours_to_close,
        "satisfaction": f.satisfaction,
        "inspections": f.inspections,
        "penalties": f.penalties,
        "rewards": f.rewards,
        "ledger_points": report.ledger_points,
    }
    return [(field, values[field]) for field in SUMMARY_FIELDS]


def _by_name(row: object, shown: dict[str, Cell] | None = None) -> Callable[[str], Cell]:
    """A row's value for a column name: what ``shown`` says (a rounded or worked-out value),
    else the row's field or property of that name."""
    overrides = shown or {}

    def value(column: str) -> Cell:
        return overrides[column] if column in overrides else getattr(row, column)

    return value


class _Book:
    """A workbook being filled, with the renderer for its names and headers."""

    def __init__(self, renderer: Renderer, locale: str) -> None:
        self._renderer = renderer
        self._locale = locale
        self._workbook = Workbook()
        self._workbook.remove(self._workbook.active)
        self._names: set[str] = set()

    def say(self, template: str, **data: Any) -> str:
        return self._renderer.render(Text(f"reports/{template}", data), self._locale, Target.PLAIN)

    def headers(self, kind: str) -> list[str]:
        """The sheet's column headers, found by column name in its headers template."""
        named: dict[str, str] = {}
        for line in self.say(f"headers/{kind}").splitlines():
            name, colon, header = line.partition(":")
            if colon:
                named[name.strip()] = header.strip()
        columns = columns_of(kind)
        if set(named) != set(columns):
            raise ValueError(
                f"reports/headers/{kind} names {sorted(named)}, the sheet has {sorted(columns)}"
            )
        return [named[column] for column in columns]

    def words(self, sheet: str, column: str, value: Cell) -> Cell:
        """A code (a status, a kind, a rule, yes or no) in the reader's words, found by
        ``WORDS``; any other value as it is (a plan's own name has no template: it is words)."""
        named = WORDS.get((sheet, column))
        if named is None or value is None:
            return value
        template = named.format(str(value).lower() if isinstance(value, bool) else value)
        if not self._renderer.has(template, self._locale):
            return str(value)
        return self._renderer.render(Text(template), self._locale, Target.PLAIN)

    def sheet(
        self,
        kind: str,
        rows: Iterable[Callable[[str], Cell]],
        total: Mapping[str, Cell] | None = None,
    ) -> Worksheet:
        """One sheet: a row gives its value for each column name."""
        columns = columns_of(kind)
        headers = self.headers(kind)
        sheet = self._workbook.create_sheet(self._sheet_name(self.say(f"sheet_{kind}")))
        bold = Font(bold=True)
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = bold
        widths = [_width(header) for header in headers]
        lines = [[self.words(kind, column, row(column)) for column in columns] for row in rows]
        if total is not None:
            lines.append([total.get(column) for column in columns])
        for count, values in enumerate(lines, start=1):
            for column, value in enumerate(values, start=1):
                cell = sheet.cell(row=count + 1, column=column)
                _put(cell, value)
                widths[column - 1] = max(widths[column - 1], _width(cell.value))
        if total is not None:
            for cell in sheet[len(lines) + 1]:
                cell.font = bold
        sheet.freeze_panes = "A2"
        last_data_row = len(lines) + (0 if total is not None else 1)
        if lines:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last_data_row}"
        for column, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(column)].width = width
        return sheet

    def _sheet_name(self, wanted: str) -> str:
        """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
        base = _FORBIDDEN_IN_SHEET_NAME.sub("_", wanted).strip("' ") or "Sheet"
        base = base[:MAX_SHEET_NAME]
        name, number = base, 1
        while name.casefold() in self._names:
            number += 1
            suffix = f" ({number})"
            name = base[: MAX_SHEET_NAME - len(suffix)] + suffix
        self._names.add(name.casefold())
        return name

    def save(self) -> bytes:
        buffer = io.BytesIO()
        self._workbook.save(buffer)
        return buffer.getvalue()


def _put(cell: Any, value: Cell) -> None:
    """Write one value: dates as dates, text as text (never a formula), numbers as numbers."""
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if _ISO_DATETIME.fullmatch(value):
            value = dt.datetime.fromisoformat(value)
        elif _ISO_DATE.fullmatch(value):
            value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        cell.value = value.replace(tzinfo=None)
        cell.number_format = DATETIME_FORMAT
    elif isinstance(value, dt.date):
        cell.value = value
        cell.number_format = DATE_FORMAT
    elif isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # user text such as "=HYPERLINK(…)" stays text, never a formula
    else:
        cell.value = value


def _width(value: Any) -> float:
    """A column width that fits ``value``: wide (CJK) characters count twice."""
    if value is None:
        return MIN_WIDTH
    if isinstance(value, dt.datetime):
        text = "2026-01-01 00:00"
    elif isinstance(value, dt.date):
        text = "2026-01-01"
    elif isinstance(value, float):
        text = f"{value:.2f}"
    else:
        text = str(value)
    longest = max((_display_length(line) for line in text.splitlines()), default=0)
    return float(min(MAX_WIDTH, max(MIN_WIDTH, longest + 2)))


def _display_length(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
