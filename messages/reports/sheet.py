"""The report's ledger spreadsheet (台账, XLSX): the headline numbers, the points ledger with its
total, members, units, the weakest items, and one sheet per kind of record.

Sheet names come from ``messages/<locale>/report/sheet_<kind>.j2`` and column headers from
``messages/<locale>/report/headers/<kind>.j2``, one header per line. Every record row keeps its
database id in column A and its date in column B, so each number can be traced back.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from kernel import Text
from messages.render import Renderer, Target
from messages.reports.model import RecordRow, Report

Cell = str | int | float | dt.date | dt.datetime | None

# The record sheets, in the order they appear, with the number of cells each RecordRow carries
# (the headers have two more: the record's id and its date).
RECORD_KINDS: dict[str, int] = {
    "selfchecks": 6,
    "rectifications": 7,
    "deeds": 7,
    "observations": 8,
    "inspections": 7,
    "drills": 5,
}
SUMMARY_FIELDS = (
    "organisation",
    "unit",
    "period_first",
    "period_last",
    "stage",
    "target",
    "members",
    "silent_members",
    "drill_answers",
    "drill_correct",
    "drill_accuracy",
    "selfcheck_runs",
    "selfcheck_average",
    "rectifications_open",
    "rectifications_overdue",
    "deeds_approved",
    "deeds_pending",
    "observations_open",
    "observations_overdue",
    "observation_hours_to_close",
    "satisfaction",
    "inspections",
    "penalties",
    "rewards",
    "ledger_points",
)
LEDGER_POINTS_COLUMN = 6  # 0-based: entry, date, member, unit, source, rule, points, key
MAX_SHEET_NAME = 31  # Excel's limit
MIN_WIDTH = 6
MAX_WIDTH = 60
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"

_FORBIDDEN_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")


def render_report_workbook(report: Report, locale: str, renderer: Renderer) -> bytes:
    """The report's ledger as XLSX bytes."""
    book = _Book(renderer, locale)
    book.sheet(
        "summary",
        [(book.say(f"summary_rows/{field}"), value) for field, value in _summary_rows(report)],
    )
    ledger_rows: list[Sequence[Cell]] = [
        (
            row.entry_id,
            row.day,
            row.member,
            row.unit,
            book.source(row.source),
            row.rule,
            row.points,
            row.key,
        )
        for row in report.ledger
    ]
    total: list[Cell] = [None] * len(book.headers("ledger"))
    total[0] = book.say("total")
    total[LEDGER_POINTS_COLUMN] = sum(row.points for row in report.ledger)
    book.sheet("ledger", ledger_rows, total=total)
    book.sheet(
        "members",
        [
            (
                m.member_id,
                m.name,
                m.unit,
                m.points,
                m.drills_answered,
                m.drills_correct,
                round(100 * m.drills_correct / m.drills_answered, 1) if m.drills_answered else None,
                m.selfchecks,
            )
            for m in report.members
        ],
    )
    book.sheet(
        "units",
        [
            (
                rank,
                u.unit_id,
                u.name,
                u.members,
                u.points,
                round(u.per_member, 2),
                u.selfcheck_average,
                u.inspection_score,
            )
            for rank, u in enumerate(report.units, start=1)
        ],
    )
    book.sheet(
        "weakest_items",
        [
            (rank, item.item_id, item.text, book.item_kind(item.kind), item.failures)
            for rank, item in enumerate(report.weakest_items, start=1)
        ],
    )
    unknown = sorted(set(report.sheets) - set(RECORD_KINDS))
    if unknown:
        raise ValueError(f"no sheet template for record kinds {unknown}; known: {[*RECORD_KINDS]}")
    for kind, cells in RECORD_KINDS.items():
        records = report.sheets.get(kind)
        if records is None and kind == "inspections":
            records = report.inspections
        book.sheet(kind, [_record(kind, cells, record) for record in records or []])
    return book.save()


def _summary_rows(report: Report) -> list[tuple[str, Cell]]:
    values: dict[str, Cell] = {
        "organisation": report.organisation,
        "unit": report.unit,
        "period_first": report.first,
        "period_last": report.last,
        "stage": report.stage,
        "target": report.target,
        "members": len(report.members),
        "silent_members": len(report.silent_members),
        "drill_answers": report.drill_answers,
        "drill_correct": report.drill_correct,
        "drill_accuracy": report.drill_accuracy,
        "selfcheck_runs": report.selfcheck_runs,
        "selfcheck_average": report.selfcheck_average,
        "rectifications_open": report.rectifications_open,
        "rectifications_overdue": report.rectifications_overdue,
        "deeds_approved": report.deeds_approved,
        "deeds_pending": report.deeds_pending,
        "observations_open": report.observations_open,
        "observations_overdue": report.observations_overdue,
        "observation_hours_to_close": report.observation_hours_to_close,
        "satisfaction": report.satisfaction,
        "inspections": len(report.sheets.get("inspections", report.inspections)),
        "penalties": report.penalties,
        "rewards": report.rewards,
        "ledger_points": sum(row.points for row in report.ledger),
    }
    return [(field, values[field]) for field in SUMMARY_FIELDS]


def _record(kind: str, cells: int, record: RecordRow) -> tuple[Cell, ...]:
    if len(record.cells) != cells:
        raise ValueError(
            f"{kind} record {record.record_id} has {len(record.cells)} cells, the sheet has {cells}"
        )
    return (record.record_id, record.day, *record.cells)


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
        lines = self.say(f"headers/{kind}").splitlines()
        return [line.strip() for line in lines if line.strip()]

    def source(self, source: str) -> str:
        """A ledger source (drill, check, …) in the reader's language, if there is a name for it."""
        template = f"sources/{source}"
        if not self._renderer.has(template, self._locale):
            return source
        return self._renderer.render(Text(template), self._locale, Target.PLAIN)

    def item_kind(self, kind: str) -> str:
        template = f"selfchecks/kind_{kind}"
        if not self._renderer.has(template, self._locale):
            return kind
        return self._renderer.render(Text(template), self._locale, Target.PLAIN)

    def sheet(
        self,
        kind: str,
        rows: Iterable[Sequence[Cell]],
        total: Sequence[Cell] | None = None,
    ) -> Worksheet:
        headers = self.headers(kind)
        sheet = self._workbook.create_sheet(self._sheet_name(self.say(f"sheet_{kind}")))
        bold = Font(bold=True)
        sheet.append(headers)
        for cell in sheet[1]:
            cell.font = bold
        widths = [_width(header) for header in headers]
        count = 0
        for row in [*rows, *([total] if total is not None else [])]:
            if len(row) != len(headers):
                raise ValueError(f"a {kind} row has {len(row)} values for {len(headers)} headers")
            count += 1
            for column, value in enumerate(row, start=1):
                cell = sheet.cell(row=count + 1, column=column)
                _put(cell, value)
                widths[column - 1] = max(widths[column - 1], _width(cell.value))
        if total is not None:
            for cell in sheet[count + 1]:
                cell.font = bold
        sheet.freeze_panes = "A2"
        last_data_row = count + (0 if total is not None else 1)
        if count:
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
