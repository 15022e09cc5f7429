"""The report's ledger spreadsheet (台账): localized sheets and headers from the templates, the
ledger summed per member per day with a total that matches the ledger, every ledger row when
asked for (in a sheet, or in a compressed CSV beside it that the sheet names when there are more
than a sheet holds), one row per record with its id, people's words for every code (no internal
keys), the official score beside the self-check average, and an empty report that still opens."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import gzip
import io
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook

from kernel import Text
from messages import LOCALES, Renderer
from messages.reports.model import (
    Activity,
    DeedRow,
    DrillRow,
    FollowUps,
    Headline,
    InspectionRow,
    ItemLine,
    LedgerRow,
    ListedLedger,
    MemberLine,
    ObservationRow,
    OfficialScore,
    Records,
    RectificationRow,
    Report,
    SelfCheckRow,
    Standing,
    UnitLine,
)
from messages.reports.sheet import (
    MAX_WIDTH,
    MIN_WIDTH,
    RECORD_SHEETS,
    SHEETS,
    SHEETS_WITH_ENTRIES,
    WORDS,
    columns_of,
    render_report_workbook,
)
from tests.harness import ROOT

MESSAGES = ROOT / "messages"
KINDS = SHEETS
DAY = dt.date(2026, 5, 11)

SOUTH = OfficialScore(12, "城南网点", 90.0, DAY, "mystery")
# ISO dates given as text (as a plan or a person may type them) must become dates too.
RECORDS = Records(
    selfchecks=(
        SelfCheckRow(101, DAY, "张三", "城北网点", "营业厅服务规范", 92.5, 2, None),
        SelfCheckRow(
            102, DAY + dt.timedelta(days=1), "李四", "城南网点", "安保规范", 0, 1, "消防通道"
        ),
    ),
    rectifications=(
        RectificationRow(
            201, DAY, "城北网点", "更换破损座椅", "张三", "2026-05-15", "open", None, "=1+1"
        ),
    ),
    deeds=(
        DeedRow(301, DAY, "城北网点", "李四", 2, "拾金不昧", 5000, "approved", 10),
        DeedRow(302, DAY, "城南网点", "赵六", 1, "general", 2, "pending", 0),
        DeedRow(303, DAY, "城南网点", "赵六", 1, "表扬信", 3, "rejected", 5),
    ),
    observations=(
        ObservationRow(
            401, DAY, "城北网点", "complaint", "closed", "张三", "2026-05-12", "2026-05-12 10:30",
            20.5, 5,
        ),
    ),
    inspections=(InspectionRow(501, DAY, "城南网点", "mystery", 90, 95, False, 2, 2000, 0),),
    drills=(
        DrillRow(601, DAY, "城北网点", "客户要求取大额现金怎么办?", "choice", 12, 9),
        DrillRow(602, DAY, "城南网点", "如何引导客户?", "scenario", 8, 8),
    ),
)  # fmt: skip


def full_report() -> Report:
    return Report(
        headline=Headline(
            organisation="某市邮政储蓄银行",
            unit="某县支行",
            first=dt.date(2026, 5, 4),
            last=dt.date(2026, 6, 7),
            stage="第二阶段",
            target=95.0,
        ),
        activity=Activity(
            drill_answers=20, drill_correct=17, selfcheck_average=92.5, selfcheck_runs=2
        ),
        follow_ups=FollowUps(rectifications_open=1, inspections=1, penalties=2000.0),
        standing=Standing(95.0, (SOUTH,), ("城北网点",), 92.5, 2),
        members=(
            MemberLine(1, "张三", "城北网点", 12, 5, 4, 2),
            MemberLine(2, "李四", "城南网点", -3, 0, 0, 0),
        ),
        units=(
            UnitLine(1, 11, "城北网点", 3, 30, 93.0, None),
            UnitLine(2, 12, "城南网点", 4, 20, None, SOUTH),
        ),
        weakest_items=(
            ItemLine(1, 7, "唱收唱付", "software", 5),
            ItemLine(2, 8, "座椅破损", "hardware", 2),
        ),
        ledger=ListedLedger(
            (
                LedgerRow(1, DAY, "张三", "城北网点", "drill", "drill_correct", 2),
                LedgerRow(2, DAY, "张三", "城北网点", "deed", "deed_approved", 10),
                LedgerRow(3, DAY, "李四", "城南网点", "inspection", "inspection", -3),
                LedgerRow(4, DAY, "王五", "城北网点", "streak", "streak_bonus", 1),
                LedgerRow(
                    5,
                    DAY + dt.timedelta(days=1),
                    "张三",
                    "城北网点",
                    "check",
                    "selfcheck_completed",
                    4,
                ),
            )
        ),
        records=RECORDS,
    )


def empty_report() -> Report:
    headline = Headline(
        "某市邮政储蓄银行", "空网点", dt.date(2026, 5, 4), dt.date(2026, 5, 10), None, None
    )
    return Report(headline=headline, activity=Activity(), follow_ups=FollowUps())


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def workbook(report: Report, locale: str, renderer: Renderer, **options: object) -> Workbook:
    data = render_report_workbook(report, locale, renderer, **options)  # type: ignore[arg-type]
    return load_workbook(io.BytesIO(data))


def say(renderer: Renderer, name: str, locale: str) -> str:
    return renderer.render(Text(f"reports/{name}"), locale)


def headers(renderer: Renderer, kind: str, locale: str) -> dict[str, str]:
    """The headers template: ``column: header`` per line."""
    lines = say(renderer, f"headers/{kind}", locale).splitlines()
    pairs = (line.partition(":") for line in lines if line.strip())
    return {name.strip(): header.strip() for name, _, header in pairs}


def rows(book: Workbook, renderer: Renderer, kind: str, locale: str) -> list[tuple[object, ...]]:
    sheet = book[say(renderer, f"sheet_{kind}", locale)]
    return list(sheet.iter_rows(min_row=2, values_only=True))


@pytest.mark.parametrize("locale", LOCALES)
def test_the_sheets_have_their_localized_names_in_order(locale: str, renderer: Renderer) -> None:
    book = workbook(full_report(), locale, renderer)
    assert book.sheetnames == [say(renderer, f"sheet_{kind}", locale) for kind in KINDS]
    assert len(set(book.sheetnames)) == len(KINDS)
    assert all(len(name) <= 31 for name in book.sheetnames)


def test_chinese_and_english_sheet_names_differ(renderer: Renderer) -> None:
    zh = workbook(full_report(), "zh", renderer).sheetnames
    en = workbook(full_report(), "en", renderer).sheetnames
    assert set(zh).isdisjoint(en)
    assert "积分台账" in zh


@pytest.mark.parametrize("locale", LOCALES)
def test_header_rows_match_the_templates(locale: str, renderer: Renderer) -> None:
    book = workbook(full_report(), locale, renderer)
    for kind in KINDS:
        sheet = book[say(renderer, f"sheet_{kind}", locale)]
        named = headers(renderer, kind, locale)
        assert [cell.value for cell in sheet[1]] == [named[c] for c in columns_of(kind)], kind
        assert all(cell.font.bold for cell in sheet[1]), kind
        assert sheet.freeze_panes == "A2", kind


@pytest.mark.parametrize("locale", LOCALES)
def test_every_column_has_a_header_by_name_and_no_header_is_left_over(
    locale: str, renderer: Renderer
) -> None:
    for kind in KINDS:
        assert set(headers(renderer, kind, locale)) == set(columns_of(kind)), kind
    for kind, row_type in RECORD_SHEETS.items():
        assert columns_of(kind)[:1] == (dataclasses.fields(row_type)[0].name,), kind
        assert columns_of(kind)[1] == "day", kind


@pytest.mark.parametrize("locale", LOCALES)
def test_the_ledger_has_one_row_per_member_per_day_and_a_total(
    locale: str, renderer: Renderer
) -> None:
    report = full_report()
    *days, total = rows(workbook(report, locale, renderer), renderer, "ledger", locale)
    assert columns_of("ledger") == (
        "day", "member", "unit", "drill", "streak", "check", "deed", "observation", "inspection",
        "points",
    )  # fmt: skip
    assert [(row[0].date(), row[1], row[2], row[9]) for row in days] == [
        (DAY, "张三", "城北网点", 12),  # a drill and a deed the same day: one row
        (DAY, "王五", "城北网点", 1),
        (DAY, "李四", "城南网点", -3),
        (DAY + dt.timedelta(days=1), "张三", "城北网点", 4),
    ]
    assert days[0][3:9] == (2, 0, 0, 10, 0, 0)  # by source
    assert all(sum(row[3:9]) == row[9] for row in days)
    assert total[0] == say(renderer, "total", locale)
    assert total[9] == sum(row[9] for row in days) == sum(r.points for r in report.ledger.rows())
    assert total[3:9] == (2, 1, 4, 10, 0, -3)
    assert len(total) == 10  # no idempotency keys, no rule codes: nothing people do not read


def test_ledger_rows_have_real_dates_and_no_codes(renderer: Renderer) -> None:
    book = workbook(full_report(), "zh", renderer)
    sheet = book[say(renderer, "sheet_ledger", "zh")]
    assert sheet["A2"].is_date
    assert sheet["A2"].value.date() == DAY
    assert (sheet["B2"].value, sheet["C2"].value) == ("张三", "城北网点")
    named = headers(renderer, "ledger", "zh")
    assert [cell.value for cell in sheet[1]][3:9] == [named[s] for s in columns_of("ledger")[3:9]]


@pytest.mark.parametrize("locale", LOCALES)
def test_every_ledger_row_when_asked_for_in_a_sheet_with_its_words(
    locale: str, renderer: Renderer, tmp_path: Path
) -> None:
    report = full_report()
    beside = tmp_path / "report-ledger.csv.gz"
    book = workbook(report, locale, renderer, full_ledger=beside)
    assert book.sheetnames == [say(renderer, f"sheet_{k}", locale) for k in SHEETS_WITH_ENTRIES]
    *entries, total = rows(book, renderer, "entries", locale)
    assert [row[0] for row in entries] == [row.entry_id for row in report.ledger.rows()]
    assert total[0] == say(renderer, "total", locale)
    assert total[6] == sum(row[6] for row in entries) == report.ledger_points == 14
    assert len(total) == 7
    assert not beside.exists()  # they fit: no CSV


@pytest.mark.parametrize("locale", LOCALES)
def test_a_ledger_longer_than_a_sheet_goes_to_a_compressed_csv_the_sheet_names(
    locale: str, renderer: Renderer, tmp_path: Path
) -> None:
    report = full_report()
    beside = tmp_path / "report-x-2026-05-04-2026-06-07-ledger.csv.gz"
    book = workbook(report, locale, renderer, full_ledger=beside, max_rows=6)
    note = book[say(renderer, "sheet_entries", locale)]["A1"].value
    assert beside.name in note and "5" in note
    with gzip.open(beside, "rt", encoding="utf-8-sig", newline="") as file:
        header, *lines = list(csv.reader(file))
    named = headers(renderer, "entries", locale)
    assert header == [named[column] for column in columns_of("entries")]
    assert [int(line[0]) for line in lines] == [row.entry_id for row in report.ledger.rows()]
    assert sum(int(line[6]) for line in lines) == report.ledger_points
    word = lambda name: renderer.render(Text(name), locale)  # noqa: E731
    assert lines[0][1:6] == [
        DAY.isoformat(), "张三", "城北网点", word("sources/drill"), word("rules/drill_correct")
    ]  # fmt: skip
    # the days' sheet is cut to what the sheet holds too, and its total still counts every row
    *days, total, cut = rows(book, renderer, "ledger", locale)
    assert len(days) == 3 and total[9] == report.ledger_points
    assert cut[0] == say_with(renderer, "ledger_cut", locale, shown=3, count=4)


def say_with(renderer: Renderer, name: str, locale: str, **data: object) -> str:
    return renderer.render(Text(f"reports/{name}", data), locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_record_sheets_have_one_row_per_record_with_its_id(locale: str, renderer: Renderer) -> None:
    book = workbook(full_report(), locale, renderer)
    for kind in RECORD_SHEETS:
        records = getattr(RECORDS, kind)
        found = rows(book, renderer, kind, locale)
        assert [row[0] for row in found] == [dataclasses.astuple(r)[0] for r in records], kind
        assert [row[1].date() for row in found] == [record.day for record in records], kind
        assert all(len(row) == len(columns_of(kind)) for row in found), kind
    deeds = rows(book, renderer, "deeds", locale)
    assert deeds[0][2:7] == dataclasses.astuple(RECORDS.deeds[0])[2:7]
    assert deeds[0][7] == renderer.render(Text("reports/status/deed_approved"), locale)


def test_iso_dates_in_cells_become_dates_and_text_never_becomes_a_formula(
    renderer: Renderer,
) -> None:
    data = render_report_workbook(full_report(), "zh", renderer)
    book = load_workbook(io.BytesIO(data))
    rectifications = book[say(renderer, "sheet_rectifications", "zh")]
    assert rectifications["F2"].is_date
    assert rectifications["F2"].value == dt.datetime(2026, 5, 15)
    assert rectifications["I2"].value == "=1+1"
    assert rectifications["I2"].data_type == "s"
    observations = book[say(renderer, "sheet_observations", "zh")]
    assert observations["H2"].value == dt.datetime(2026, 5, 12, 10, 30)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert all(b"<f>" not in archive.read(name) for name in sheets)


def test_summary_members_units_and_weakest_items(renderer: Renderer) -> None:
    report = full_report()
    book = workbook(report, "zh", renderer)
    summary = dict(rows(book, renderer, "summary", "zh"))
    label = lambda field: renderer.render(Text(f"reports/summary_rows/{field}"), "zh")  # noqa: E731
    assert summary[label("unit")] == "某县支行"
    assert summary[label("period_first")].date() == report.headline.first
    assert summary[label("target")] == 95
    assert summary[label("drill_accuracy")] == 85.0
    assert summary[label("penalties")] == 2000
    assert summary[label("ledger_points")] == 14
    assert summary[label("inspections")] == 1
    assert summary[label("satisfaction")] is None
    assert summary[label("silent_members")] == 1

    members = rows(book, renderer, "members", "zh")
    assert [row[0] for row in members] == [1, 2]
    assert members[0][6] == 80.0 and members[1][6] is None
    units = rows(book, renderer, "units", "zh")
    assert [(row[0], row[2], row[5]) for row in units] == [(1, "城北网点", 10), (2, "城南网点", 5)]
    items = rows(book, renderer, "weakest_items", "zh")
    assert items[0] == (
        1,
        7,
        "唱收唱付",
        renderer.render(Text("selfchecks/kind_software"), "zh"),
        5,
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_an_empty_report_gives_headers_and_a_zero_total(locale: str, renderer: Renderer) -> None:
    book = workbook(empty_report(), locale, renderer)
    assert book.sheetnames == [say(renderer, f"sheet_{kind}", locale) for kind in KINDS]
    assert rows(book, renderer, "ledger", locale) == [
        (say(renderer, "total", locale), None, None, 0, 0, 0, 0, 0, 0, 0)
    ]
    for kind in ("members", "units", "weakest_items", *RECORD_SHEETS):
        assert rows(book, renderer, kind, locale) == [], kind
    summary = dict(rows(book, renderer, "summary", locale))
    assert len(summary) > 20


def test_column_widths_are_sensible(renderer: Renderer) -> None:
    book = workbook(full_report(), "zh", renderer)
    for sheet in book.worksheets:
        for column in range(1, sheet.max_column + 1):
            letter = sheet.cell(row=1, column=column).column_letter
            width = sheet.column_dimensions[letter].width
            # XlsxWriter stores Excel's padding (5/7 of a character) with each width
            assert MIN_WIDTH <= width <= MAX_WIDTH + 1, (sheet.title, letter)
    drills = book[say(renderer, "sheet_drills", "zh")]
    assert drills.column_dimensions["D"].width >= 2 * len("客户要求取大额现金怎么办?")


def test_a_headers_template_that_misses_a_column_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "messages"
    shutil.copytree(MESSAGES, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (root / "zh" / "reports" / "headers" / "drills.j2").write_text(
        "drill_id: 编号\nday: 日期\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="headers/drills"):
        render_report_workbook(full_report(), "zh", Renderer(root))


def test_long_or_clashing_sheet_names_are_cut_and_made_unique(tmp_path: Path) -> None:
    root = tmp_path / "messages"
    shutil.copytree(MESSAGES, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    long_name = "一个非常非常长的工作表名称:超过了三十一个字符的限制/还有斜杠[和括号]"
    for kind in ("selfchecks", "drills", "deeds"):
        (root / "en" / "reports" / f"sheet_{kind}.j2").write_text(long_name, encoding="utf-8")
    book = workbook(full_report(), "en", Renderer(root))
    names = book.sheetnames
    assert len(names) == len(set(names)) == len(KINDS)
    assert all(len(name) <= 31 for name in names)
    assert not any(ch in name for name in names for ch in "[]:*?/\\")


# Every code a cell may hold, by sheet and column: each has words in both languages.
CODES: dict[tuple[str, str], tuple[object, ...]] = {
    ("entries", "source"): ("drill", "streak", "check", "deed", "observation", "inspection"),
    ("entries", "rule"): (
        "drill_answered",
        "drill_correct",
        "scenario_rated",
        "streak_bonus",
        "selfcheck_completed",
        "deed_reported",
        "deed_approved",
        "praise_received",
        "observation_submitted",
        "rectification_closed",
        "inspection",
        "inspection_target_reached",
    ),
    ("units", "inspection_kind"): ("mystery", "video", "cross"),
    ("units", "official_reached"): (True, False),
    ("weakest_items", "kind"): ("hardware", "software"),
    ("rectifications", "status"): ("open", "closed"),
    ("deeds", "category"): ("general",),
    ("deeds", "status"): ("pending", "approved", "rejected"),
    ("observations", "kind"): ("praise", "complaint", "suggestion", "hazard"),
    ("observations", "status"): ("open", "claimed", "closed"),
    ("inspections", "kind"): ("mystery", "video", "cross"),
    ("inspections", "reached"): (True, False),
    ("drills", "kind"): ("choice", "scenario"),
    ("summary", "official_kind"): ("mystery", "video", "cross"),
    ("summary", "official_reached"): (True, False),
}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_code_has_words_in_both_languages(locale: str, renderer: Renderer) -> None:
    assert set(CODES) == set(WORDS)
    for (sheet, column), codes in CODES.items():
        for code in codes:
            name = WORDS[(sheet, column)].format(str(code).lower())
            assert renderer.has(name, locale), (sheet, column, code)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_cell_shows_an_internal_code(locale: str, renderer: Renderer, tmp_path: Path) -> None:
    book = workbook(full_report(), locale, renderer, full_ledger=tmp_path / "ledger.csv.gz")
    codes = {str(code) for values in CODES.values() for code in values if isinstance(code, str)}
    shown = [
        cell
        for sheet in book.worksheets
        for row in sheet.iter_rows(min_row=2, values_only=True)
        for cell in row
        if isinstance(cell, str)
    ]
    word = lambda name: renderer.render(Text(name), locale)  # noqa: E731
    words = {  # some English words are spelled as their codes ("closed"): those may show
        word(WORDS[key].format(str(code).lower()))
        for key, values in CODES.items()
        for code in values
    }
    assert (codes - words).isdisjoint(shown)
    assert not {"None", "True", "False"} & set(shown)
    assert rows(book, renderer, "entries", locale)[0][4:6] == (
        word("sources/drill"),
        word("rules/drill_correct"),
    )
    inspection = rows(book, renderer, "inspections", locale)[0]
    assert inspection[3:6] == (word("inspections/kind_mystery"), 90, 95)
    assert inspection[6] == word("reports/reached_false")
    assert rows(book, renderer, "observations", locale)[0][3:5] == (
        word("observations/kind_complaint"),
        word("observations/status_closed"),
    )
    assert rows(book, renderer, "rectifications", locale)[0][6] == word(
        "reports/status/rectification_open"
    )
    assert [row[5] for row in rows(book, renderer, "deeds", locale)] == [
        "拾金不昧",  # the plan's own name
        word("deeds/category_general"),
        "表扬信",
    ]
    assert [row[4] for row in rows(book, renderer, "drills", locale)] == [
        word("reports/drill_kind_choice"),
        word("reports/drill_kind_scenario"),
    ]
    south = rows(book, renderer, "units", locale)[1]
    assert south[7:] == (
        90,
        dt.datetime(2026, 5, 11),
        word("inspections/kind_mystery"),
        word("reports/reached_false"),
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_the_summary_names_the_official_score_apart_from_the_self_checks(
    locale: str, renderer: Renderer
) -> None:
    one_unit = Standing(95.0, (SOUTH,), (), 99.0, 3)
    report = dataclasses.replace(full_report(), standing=one_unit)
    summary = dict(rows(workbook(report, locale, renderer), renderer, "summary", locale))
    label = lambda field: renderer.render(Text(f"reports/summary_rows/{field}"), locale)  # noqa: E731
    word = lambda name: renderer.render(Text(name), locale)  # noqa: E731
    assert summary[label("official_score")] == 90
    assert summary[label("official_date")].date() == DAY
    assert summary[label("official_kind")] == word("inspections/kind_mystery")
    assert summary[label("official_reached")] == word("reports/reached_false")
    assert summary[label("stage_selfcheck_average")] == 99
    assert summary[label("stage_selfchecks")] == 3
    assert summary[label("units_inspected")] == 1 and summary[label("units_on_target")] == 0
