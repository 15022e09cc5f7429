"""The report's ledger spreadsheet (台账, XLSX): the headline numbers, the points ledger summed
per member per day with its total, members, units, the weakest items, one sheet per kind of
record and, when asked for, every ledger row (in a sheet when they fit, else in a compressed CSV
beside the workbook that the sheet names).

Written in XlsxWriter's ``constant_memory`` mode, row by row from iterators: the ledger is read
from the database as the sheet is written, so memory stays flat however long the ledger is.

Each sheet reads its rows by field name: its columns are names of the row's fields (or
properties), and each column's header is the line ``<name>: <header>`` of
``messages/<locale>/reports/headers/<sheet>.j2``; sheet names come from
``reports/sheet_<sheet>.j2``. Every record row keeps its database id in column A and its date in
column B, so each number can be traced back.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from kernel import Text
from messages.render import Renderer, Target
from messages.reports.model import (
    SOURCES,
    DailyPoints,
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

SHEET_ROWS = 1_048_576  # Excel's limit on rows in a sheet, the header row included
WIDTH_SAMPLE = 2_000  # column widths are fitted to the first rows of a sheet only
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
    ("entries", "source"): "sources/{}",
    ("entries", "rule"): "rules/{}",
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


# Characters XML 1.0 cannot hold (as openpyxl's ILLEGAL_CHARACTERS_RE).
_ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def columns_of(sheet: str) -> tuple[str, ...]:
    """The field names a sheet shows, in order."""
    fixed = {
        "summary": SUMMARY_COLUMNS,
        "ledger": tuple(f.name for f in fields(DailyPoints)),
        "entries": tuple(f.name for f in fields(LedgerRow)),
        "members": MEMBER_COLUMNS,
        "units": UNIT_COLUMNS,
        "weakest_items": ITEM_COLUMNS,
    }
    if sheet in fixed:
        return fixed[sheet]
    return tuple(f.name for f in fields(RECORD_SHEETS[sheet]))


SHEETS = ("summary", "ledger", "members", "units", "weakest_items", *RECORD_SHEETS)
# With the full ledger asked for, its rows follow the per-day ledger.
SHEETS_WITH_ENTRIES = ("summary", "ledger", "entries", *SHEETS[2:])


def render_report_workbook(
    report: Report,
    locale: str,
    renderer: Renderer,
    *,
    full_ledger: Path | None = None,
    max_rows: int = SHEET_ROWS,
) -> bytes:
    """The report's ledger as XLSX bytes (see ``write_report_workbook``)."""
    buffer = io.BytesIO()
    write_report_workbook(
        report, locale, renderer, buffer, full_ledger=full_ledger, max_rows=max_rows
    )
    return buffer.getvalue()


def write_report_workbook(
    report: Report,
    locale: str,
    renderer: Renderer,
    out: IO[bytes] | Path,
    *,
    full_ledger: Path | None = None,
    max_rows: int = SHEET_ROWS,
) -> None:
    """Write the report's workbook to ``out``, a sheet at a time, streaming the ledger.

    ``full_ledger``: every ledger row is asked for as well; they go in a sheet of their own
    when they fit in ``max_rows`` (Excel's limit; a test passes a small one), else to this path
    as a gzip-compressed CSV, which that sheet then names."""
    book = _Book(renderer, locale, out, max_rows)
    try:
        book.sheet(
            "summary",
            (
                (book.say(f"summary_rows/{field}"), book.words("summary", field, value))
                for field, value in summary_rows(report)
            ),
        )
        _ledger_sheet(book, report)
        if full_ledger is not None:
            _entries_sheet(book, report, full_ledger)
        book.sheet("members", _by_name("members", book, report.members))
        standing = report.standing
        book.sheet(
            "units",
            _by_name(
                "units",
                book,
                report.units,
                lambda u: {
                    "per_member": round(u.per_member, 2),
                    "official_reached": standing.reached(u.official)
                    if standing and u.official
                    else None,
                },
            ),
        )
        book.sheet("weakest_items", _by_name("weakest_items", book, report.weakest_items))
        for sheet in RECORD_SHEETS:
            book.sheet(sheet, _by_name(sheet, book, getattr(report.records, sheet)))
    finally:
        book.close()


def _ledger_sheet(book: _Book, report: Report) -> None:
    """The ledger per member per day, each source a column, and the totals of every row (the
    rows a full sheet could not show included)."""
    columns = columns_of("ledger")
    sums = dict.fromkeys((*SOURCES, "points"), 0)

    def lines() -> Iterator[tuple[Cell, ...]]:
        for day in report.ledger.days():
            for name in sums:
                sums[name] += getattr(day, name)
            yield tuple(getattr(day, column) for column in columns)

    book.sheet(
        "ledger",
        lines(),
        total=lambda: {"day": book.say("total"), **sums},
        cut="ledger_cut",
    )


def _entries_sheet(book: _Book, report: Report, path: Path) -> None:
    """Every ledger row: in the sheet when they fit (with their total), else in the CSV."""
    count = report.ledger.entries
    if count + 3 <= book.max_rows:  # the header, the total and room for a note
        columns = columns_of("entries")
        book.sheet(
            "entries",
            (
                tuple(book.words("entries", c, getattr(row, c)) for c in columns)
                for row in report.ledger.rows()
            ),
            total=lambda: {"entry_id": book.say("total"), "points": report.ledger.points},
        )
        return
    write_ledger_csv(book, report, path)
    book.note("entries", book.say("entries_in_csv", count=count, file=path.name))


def write_ledger_csv(book: _Book, report: Report, path: Path) -> None:
    """Every ledger row as gzip-compressed CSV (UTF-8 with a BOM, so Excel reads the Chinese),
    under the headers and with the words of the entries sheet."""
    columns = columns_of("entries")
    with gzip.open(path, "wt", encoding="utf-8-sig", newline="", compresslevel=6) as file:
        writer = csv.writer(file)
        writer.writerow(book.headers("entries"))
        for row in report.ledger.rows():
            writer.writerow(
                [
                    _csv_cell(book.words("entries", column, getattr(row, column)))
                    for column in columns
                ]
            )


def _csv_cell(value: Cell) -> Cell:
    return "" if value is None else value.isoformat() if isinstance(value, dt.date) else value


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


def _by_name(
    kind: str,
    book: _Book,
    rows: Iterable[object],
    shown: Callable[[Any], dict[str, Cell]] | None = None,
) -> Iterator[tuple[Cell, ...]]:
    """Each row's values by column name, in people's words: what ``shown`` says (a rounded or
    worked-out value), else the row's field or property of that name."""
    columns = columns_of(kind)
    for row in rows:
        overrides = shown(row) if shown else {}
        yield tuple(
            book.words(
                kind, column, overrides[column] if column in overrides else getattr(row, column)
            )
            for column in columns
        )


@dataclass(frozen=True)
class _Formats:
    bold: Format
    date: Format
    datetime: Format


class _Book:
    """A workbook being written, a sheet at a time, with the renderer for its words."""

    def __init__(
        self, renderer: Renderer, locale: str, out: IO[bytes] | Path, max_rows: int
    ) -> None:
        self._renderer = renderer
        self._locale = locale
        self.max_rows = max_rows
        self._workbook = Workbook(
            str(out) if isinstance(out, Path) else out,
            {
                "constant_memory": True,  # each row goes to a temporary file as it is written
                "strings_to_formulas": False,  # user text such as "=1+1" stays text
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self._formats = _Formats(
            self._workbook.add_format({"bold": True}),
            self._workbook.add_format({"num_format": DATE_FORMAT}),
            self._workbook.add_format({"num_format": DATETIME_FORMAT}),
        )
        self._names: set[str] = set()
        self._words: dict[tuple[str, str, Cell], Cell] = {}

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
        ``WORDS``; any other value as it is (a plan's own name has no template: it is words).
        Each code is rendered once per workbook: a ledger repeats a few codes a million times."""
        named = WORDS.get((sheet, column))
        if named is None or value is None:
            return value
        key = (sheet, column, value)
        if key not in self._words:
            template = named.format(str(value).lower() if isinstance(value, bool) else value)
            self._words[key] = (
                self._renderer.render(Text(template), self._locale, Target.PLAIN)
                if self._renderer.has(template, self._locale)
                else str(value)
            )
        return self._words[key]

    def sheet(
        self,
        kind: str,
        lines: Iterable[tuple[Cell, ...]],
        total: Callable[[], Mapping[str, Cell]] | None = None,
        cut: str = "rows_cut",
    ) -> Worksheet:
        """One sheet: the header row, then each line's values in column order, then the total
        (asked for once every line is read). Lines past what a sheet holds are read (the total
        counts them) but not written, and a last line says how many there were."""
        columns = columns_of(kind)
        headers = self.headers(kind)
        sheet = self._new_sheet(kind)
        bold = self._formats.bold
        for column, header in enumerate(headers):
            sheet.write_string(0, column, header, bold)
        sheet.freeze_panes(1, 0)
        widths = [_width(header) for header in headers]
        room = self.max_rows - 1 - (1 if total is not None else 0) - 1  # header, total, a note
        written = count = 0
        for values in lines:
            count += 1
            if written >= room:
                continue
            written += 1
            for column, value in enumerate(values):
                self._put(sheet, written, column, value)
                if written <= WIDTH_SAMPLE:
                    widths[column] = max(widths[column], _width(value))
        row = written + 1
        if written:
            sheet.autofilter(0, 0, written, len(columns) - 1)
        if total is not None:
            sums = total()
            for column, name in enumerate(columns):
                self._put(sheet, row, column, sums.get(name), bold)
            row += 1
        if count > written:
            sheet.write_string(row, 0, self.say(cut, shown=written, count=count), bold)
        for column, width in enumerate(widths):
            sheet.set_column(column, column, width)
        return sheet

    def note(self, kind: str, text: str) -> Worksheet:
        """A sheet holding one sentence (where its rows went)."""
        sheet = self._new_sheet(kind)
        sheet.write_string(0, 0, text, self._formats.bold)
        return sheet

    def _new_sheet(self, kind: str) -> Worksheet:
        return self._workbook.add_worksheet(self._sheet_name(self.say(f"sheet_{kind}")))

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

    def _put(
        self, sheet: Worksheet, row: int, column: int, value: Cell, style: Format | None = None
    ) -> None:
        """Write one value: dates as dates, text as text (never a formula), numbers as
        numbers, nothing for None."""
        if isinstance(value, str):
            value = _ILLEGAL_CHARACTERS.sub("", value)
            if _ISO_DATETIME.fullmatch(value):
                value = dt.datetime.fromisoformat(value)
            elif _ISO_DATE.fullmatch(value):
                value = dt.date.fromisoformat(value)
        if isinstance(value, dt.datetime):
            sheet.write_datetime(row, column, value.replace(tzinfo=None), self._formats.datetime)
        elif isinstance(value, dt.date):
            sheet.write_datetime(row, column, value, self._formats.date)
        elif isinstance(value, str):
            sheet.write_string(row, column, value, style)
        elif isinstance(value, bool):
            sheet.write_boolean(row, column, value, style)
        elif isinstance(value, int | float):
            sheet.write_number(row, column, value, style)

    def close(self) -> None:
        self._workbook.close()


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
