"""The report's chart: a real PNG of a fixed size, every Chinese label drawn with a font that has
its glyphs (no tofu boxes), the stage target as a line with the official (inspection) scores
against it, and long unit names wrapped rather than cut."""

from __future__ import annotations

import datetime as dt
import io
import warnings
from pathlib import Path

import matplotlib
import matplotlib.image
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import findfont
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.text import Text as MplText

from kernel import Text
from messages import Renderer
from messages.reports.chart import (
    DPI,
    HEIGHT_INCHES,
    WIDTH_INCHES,
    build_report_figure,
    chart_style,
    cjk_font_path,
    fit_name,
    render_report_chart,
)
from messages.reports.model import (
    Activity,
    FollowUps,
    Headline,
    InspectionRow,
    OfficialScore,
    Records,
    Report,
    Standing,
    TrendPoint,
    UnitLine,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIZE = (round(HEIGHT_INCHES * DPI), round(WIDTH_INCHES * DPI))  # rows, columns
UNIT_NAMES = ("城南支行营业部", "城北网点", "开发区支行", "新区网点", "江滨路营业所", "火车站网点")
DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def chinese_report(units: int = len(UNIT_NAMES)) -> Report:
    names = [
        UNIT_NAMES[i % len(UNIT_NAMES)] + ("" if i < len(UNIT_NAMES) else f"{i}")
        for i in range(units)
    ]
    return Report(
        headline=Headline(
            organisation="某市邮政储蓄银行",
            unit="某县支行",
            first=dt.date(2026, 5, 4),
            last=dt.date(2026, 6, 7),
            stage="第二阶段:全面提升",
            target=95.0,
        ),
        activity=Activity(),
        follow_ups=FollowUps(),
        units=tuple(
            UnitLine(i, i, name, 5, 300 - 7 * i, 90.0 + i % 5, None)
            for i, name in enumerate(names, start=1)
        ),
        trend=(
            TrendPoint(dt.date(2026, 5, 4), 88.5, 72.0),
            TrendPoint(dt.date(2026, 5, 11), 91.0, 80.5),
            TrendPoint(dt.date(2026, 5, 18), None, 85.0),
            TrendPoint(dt.date(2026, 5, 25), 94.2, None),
            TrendPoint(dt.date(2026, 6, 1), 96.0, 90.0),
        ),
    )


def empty_report() -> Report:
    headline = Headline(
        "某市邮政储蓄银行", "空网点", dt.date(2026, 5, 4), dt.date(2026, 5, 10), None, None
    )
    return Report(headline=headline, activity=Activity(), follow_ups=FollowUps())


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def drawn(report: Report, locale: str, renderer: Renderer) -> Figure:
    figure = build_report_figure(report, locale, renderer)
    with chart_style():
        FigureCanvasAgg(figure).draw()
    return figure


def texts(figure: Figure) -> list[MplText]:
    """Every visible, non-empty text in the drawn figure (titles, axes, ticks, legend, bars)."""
    found = figure.findobj(lambda artist: isinstance(artist, MplText))
    return [text for text in found if text.get_visible() and text.get_text().strip()]


def font_file(text: MplText) -> Path:
    properties = text.get_fontproperties()
    return Path(properties.get_file() or findfont(properties, fallback_to_default=False))


def missing_glyphs(strings: list[str], font: Path) -> set[str]:
    """The non-ASCII characters of ``strings`` that ``font`` has no glyph for."""
    face = FT2Font(str(font))
    return {ch for s in strings for ch in s if ord(ch) > 127 and face.get_char_index(ord(ch)) == 0}


def png_shape(data: bytes) -> tuple[int, ...]:
    return matplotlib.image.imread(io.BytesIO(data), format="png").shape


def test_the_chart_is_a_png_of_the_fixed_size(renderer: Renderer) -> None:
    data = render_report_chart(chinese_report(), "zh", renderer)
    assert data.startswith(PNG_SIGNATURE)
    assert png_shape(data)[:2] == SIZE


def test_every_text_in_the_chinese_chart_uses_the_cjk_font_and_has_real_glyphs(
    renderer: Renderer,
) -> None:
    report = chinese_report()
    shown = texts(drawn(report, "zh", renderer))
    strings = [text.get_text() for text in shown]

    def say(template: str, **data: object) -> str:
        return renderer.render(Text(f"reports/{template}", data), "zh")

    # the labels checked below really are in the figure: title, axes, legend, dates, unit names
    expected = {
        say(
            "chart_title",
            unit=report.headline.unit,
            stage=report.headline.stage,
            first=report.headline.first,
            last=report.headline.last,
        ),
        say("chart_trend_title"),
        say("chart_trend_axis"),
        say("chart_date_axis"),
        say("chart_selfcheck"),
        say("chart_drill"),
        say("chart_target", target=report.headline.target),
        say("chart_ranking_title"),
        say("chart_ranking_axis"),
        say("chart_tick_date", day=dt.date(2026, 5, 11)),
        *(
            say("chart_ranking_bar", rank=rank, name=name)
            for rank, name in enumerate(UNIT_NAMES, 1)
        ),
    }
    assert expected <= set(strings)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in expected)

    cjk = cjk_font_path()
    assert {font_file(text) for text in shown} == {cjk}
    assert missing_glyphs(strings, cjk) == set()


def test_the_glyph_check_fails_for_a_font_without_chinese(renderer: Renderer) -> None:
    """The check above has teeth: DejaVu Sans (matplotlib's default) has no Chinese glyphs."""
    assert FT2Font(str(DEJAVU)).get_char_index(ord("网")) == 0
    assert FT2Font(str(cjk_font_path())).get_char_index(ord("网")) != 0
    strings = [text.get_text() for text in texts(drawn(chinese_report(), "zh", renderer))]
    assert {"网", "支", "行", "势"} <= missing_glyphs(strings, DEJAVU)


def test_drawing_warns_of_no_missing_glyph(renderer: Renderer) -> None:
    """matplotlib warns "Glyph … missing from font(s)" when it draws a box: no such warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        render_report_chart(chinese_report(), "zh", renderer)
        render_report_chart(chinese_report(40), "zh", renderer)


def test_an_empty_report_renders_with_no_data_placeholders(renderer: Renderer) -> None:
    for locale in ("zh", "en"):
        figure = drawn(empty_report(), locale, renderer)
        strings = [text.get_text() for text in texts(figure)]
        no_data = renderer.render(Text("reports/chart_no_data"), locale)
        assert strings.count(no_data) == 2
        assert missing_glyphs(strings, cjk_font_path()) == set()
        data = render_report_chart(empty_report(), locale, renderer)
        assert data.startswith(PNG_SIGNATURE)
        assert png_shape(data)[:2] == SIZE


def test_many_units_show_the_first_and_the_last_around_a_gap(renderer: Renderer) -> None:
    report = chinese_report(40)
    strings = [text.get_text() for text in texts(drawn(report, "zh", renderer))]
    assert renderer.render(Text("reports/chart_ranking_more", {"count": 26}), "zh") in strings
    first = renderer.render(
        Text("reports/chart_ranking_bar", {"rank": 1, "name": UNIT_NAMES[0]}), "zh"
    )
    last = renderer.render(
        Text("reports/chart_ranking_bar", {"rank": 40, "name": report.units[-1].name}), "zh"
    )
    assert {first, last} <= set(strings)
    assert png_shape(render_report_chart(report, "zh", renderer))[:2] == SIZE


def test_the_output_is_deterministic_in_size_and_content(renderer: Renderer) -> None:
    shapes = {
        png_shape(render_report_chart(report, locale, renderer))[:2]
        for report in (chinese_report(), chinese_report(1), chinese_report(40), empty_report())
        for locale in ("zh", "en")
    }
    assert shapes == {SIZE}
    once = render_report_chart(chinese_report(), "zh", renderer)
    again = render_report_chart(chinese_report(), "zh", renderer)
    assert once == again


def test_the_english_chart_uses_english_labels(renderer: Renderer) -> None:
    strings = [text.get_text() for text in texts(drawn(chinese_report(), "en", renderer))]
    assert renderer.render(Text("reports/chart_selfcheck"), "en") in strings
    assert renderer.render(Text("reports/chart_selfcheck"), "zh") not in strings
    assert missing_glyphs(strings, cjk_font_path()) == set()


def test_the_font_is_the_one_mplfonts_ships() -> None:
    path = cjk_font_path()
    assert path.name == "NotoSansCJKsc-Regular.otf"
    assert path.parent.parent.name == "mplfonts"
    assert path.is_file()


# English names as long as the shipped plans have (university-facilities, postal-bank).
LONG_NAMES = ("Property Management Centre", "Student Residences Centre", "Development Zone Outlet")


def inspected_report() -> Report:
    """Three units against a target of 92, two of them inspected (91 and 95) in the period."""
    day = dt.date(2027, 1, 4)
    low = OfficialScore(1, LONG_NAMES[0], 91.0, day, "mystery")
    high = OfficialScore(2, LONG_NAMES[1], 95.0, day + dt.timedelta(days=2), "video")
    headline = Headline("Bank", "Branch", day, dt.date(2027, 1, 10), "Stage 1", 92.0)
    return Report(
        headline=headline,
        activity=Activity(),
        follow_ups=FollowUps(),
        standing=Standing(92.0, (low, high), (LONG_NAMES[2],), 100.0, 1),
        units=(
            UnitLine(1, 1, LONG_NAMES[0], 4, 40, 100.0, low),
            UnitLine(2, 2, LONG_NAMES[1], 4, 30, None, high),
            UnitLine(3, 3, LONG_NAMES[2], 4, 20, None, None),
        ),
        trend=(TrendPoint(day, None, 80.0), TrendPoint(day + dt.timedelta(days=1), 100.0, 90.0)),
        records=Records(
            inspections=(
                InspectionRow(7, low.day, low.unit, "mystery", 91.0, 92.0, False, 2, 1200, 0),
                InspectionRow(8, high.day, high.unit, "video", 95.0, 92.0, True, 0, 0, 0),
            )
        ),
    )


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_the_target_is_a_line_with_the_official_scores_against_it(
    locale: str, renderer: Renderer
) -> None:
    figure = drawn(inspected_report(), locale, renderer)
    trend = figure.axes[0]
    say = lambda name, **data: renderer.render(Text(f"reports/{name}", data), locale)  # noqa: E731
    target = [
        line
        for line in trend.get_lines()
        if isinstance(line, Line2D) and line.get_label() == say("chart_target", target=92.0)
    ]
    assert len(target) == 1 and set(target[0].get_ydata()) == {92.0}
    (official,) = [c for c in trend.collections if c.get_label() == say("chart_official")]
    assert [tuple(p) for p in official.get_offsets()][1][1] == 95.0
    assert [tuple(p)[1] for p in official.get_offsets()] == [91.0, 95.0]
    legend = [text.get_text() for text in trend.get_legend().get_texts()]
    assert say("chart_official") in legend and say("chart_target", target=92.0) in legend
    shown = {text.get_text() for text in texts(figure)}
    assert {"91", "95"} <= shown  # each official score is written by its marker
    # Each inspected unit's official score on its bar; the unit not inspected has none.
    on_bars = [say("chart_ranking_official", score=score) for score in (91.0, 95.0)]
    assert set(on_bars) <= shown
    assert sum(1 for text in texts(figure) if text.get_text() in on_bars) == 2


def test_long_english_unit_names_are_wrapped_not_cut(renderer: Renderer) -> None:
    figure = drawn(inspected_report(), "en", renderer)
    labels = [label.get_text() for label in figure.axes[1].get_yticklabels()]
    assert [label.replace("\n", " ") for label in labels] == [
        f"{rank}. {name}" for rank, name in enumerate(LONG_NAMES, start=1)
    ]
    assert all("…" not in label for label in labels)
    assert any("\n" in label for label in labels)
    # Only a name longer than two lines is cut; a Chinese name breaks between characters.
    assert fit_name("Linhe County Branch Chengdong Sub-branch Renmin Road Outlet") == (
        "Linhe County\nBranch Chengdong…"
    )
    assert fit_name("临河县支行城东支行人民路网点") == "临河县支行城东支行\n人民路网点"
