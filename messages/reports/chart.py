"""The report's picture (PNG): the trend over the period against the stage target (a line), with
the official (inspection) scores marked against it, and the ranking of units by points per member,
each inspected unit's official score on its bar.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state). Every word in
the picture comes from ``messages/<locale>/report/chart_*.j2``, and every text uses Noto Sans CJK
SC, shipped by the ``mplfonts`` package, so Chinese shows as real glyphs rather than boxes.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from matplotlib import dates as mdates
from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from kernel import Text
from messages.render import Renderer, Target
from messages.reports.model import InspectionRow, Report, TrendPoint, UnitLine, reaches

WIDTH_INCHES = 12.0
HEIGHT_INCHES = 5.0
DPI = 100
MAX_BARS = 15  # more units than this: the first ones and the last ones, with a gap row between
LABEL_WIDTH = 18  # columns of a line of a unit's name on a bar label (a wide character is two)
LABEL_LINES = 2  # a longer name is wrapped onto this many lines, and only then cut
MAX_DATE_TICKS = 8

_FONT_PACKAGE = "mplfonts"
_FONT_FILE = ("fonts", "NotoSansCJKsc-Regular.otf")

_SELFCHECK_COLOUR = "#1f77b4"
_DRILL_COLOUR = "#ff7f0e"
_TARGET_COLOUR = "#d62728"
_OFFICIAL_COLOUR = "#9467bd"
_REACHED_COLOUR = "#2ca02c"
_TOP_COLOUR = "#2ca02c"
_BOTTOM_COLOUR = "#d62728"
_OTHER_COLOUR = "#7f9fbf"


@functools.cache
def cjk_font_path() -> Path:
    """Noto Sans CJK SC as shipped by ``mplfonts`` (a dependency), registered with matplotlib."""
    resource = files(_FONT_PACKAGE).joinpath(*_FONT_FILE)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(
            f"the CJK font {path} is missing: reinstall the package with "
            f"`pip install --force-reinstall {_FONT_PACKAGE}`"
        )
    font_manager.fontManager.addfont(str(path))
    return path


@functools.cache
def _font_name() -> str:
    return FontProperties(fname=str(cjk_font_path())).get_name()


def _font(size: float) -> FontProperties:
    return FontProperties(fname=str(cjk_font_path()), size=size)


@contextmanager
def chart_style() -> Iterator[None]:
    """The settings a report figure is built and drawn under: the texts matplotlib makes itself
    while drawing (numeric tick labels) use the CJK font too."""
    settings: dict[str, Any] = {
        "font.family": "sans-serif",
        "font.sans-serif": [_font_name()],
        "axes.unicode_minus": False,
    }
    with rc_context(settings):
        yield


def build_report_figure(report: Report, locale: str, renderer: Renderer) -> Figure:
    """The report's figure, not yet drawn: the trend on the left, the ranking on the right.

    Draw it (``FigureCanvasAgg(figure).draw()``) inside ``chart_style()`` so the texts
    matplotlib adds while drawing use the CJK font as well; ``render_report_chart`` does both.
    """

    def say(template: str, **data: Any) -> str:
        return renderer.render(Text(f"reports/{template}", data), locale, Target.PLAIN)

    with chart_style():
        figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
        trend_axes, ranking_axes = figure.subplots(1, 2, width_ratios=(3, 2))
        figure.suptitle(
            say(
                "chart_title",
                unit=report.headline.unit,
                stage=report.headline.stage,
                first=report.headline.first,
                last=report.headline.last,
            ),
            fontproperties=_font(14),
        )
        _draw_trend(trend_axes, report, say)
        _draw_ranking(ranking_axes, report, say)
    return figure


def render_report_chart(report: Report, locale: str, renderer: Renderer) -> bytes:
    """The report's chart as PNG bytes, always ``WIDTH_INCHES × HEIGHT_INCHES`` at ``DPI``."""
    figure = build_report_figure(report, locale, renderer)
    buffer = io.BytesIO()
    with chart_style():
        FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


# --- the trend ------------------------------------------------------------------------------


def _percent(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _draw_trend(axes: Axes, report: Report, say: Any) -> None:
    axes.set_title(say("chart_trend_title"), fontproperties=_font(12))
    axes.set_ylabel(say("chart_trend_axis"), fontproperties=_font(10))
    axes.set_xlabel(say("chart_date_axis"), fontproperties=_font(10))
    points = sorted(report.trend, key=lambda point: point.first)
    days = [mdates.date2num(point.first) for point in points]
    selfchecks = [_percent(point.selfcheck_average) for point in points]
    drills = [_percent(point.drill_accuracy) for point in points]
    shown = [v for v in (*selfchecks, *drills) if not math.isnan(v)]
    target = report.headline.target

    if shown:
        axes.plot(
            days, selfchecks, marker="o", color=_SELFCHECK_COLOUR, label=say("chart_selfcheck")
        )
        axes.plot(days, drills, marker="s", color=_DRILL_COLOUR, label=say("chart_drill"))
    official = _draw_official_scores(axes, report.records.inspections, say)
    if not shown and not official:
        _no_data(axes, say)
    if target is not None:
        axes.axhline(
            target,
            linestyle="--",
            linewidth=1.5,
            color=_TARGET_COLOUR,
            label=say("chart_target", target=target),
        )

    shown += official
    if shown:
        low = min([*shown, *([target] if target is not None else []), 100.0])
        axes.set_ylim(max(0.0, math.floor((low - 5) / 10) * 10), 102)
    else:
        axes.set_ylim(0, 102)
    start, end = _period_span(report, points)
    axes.set_xlim(mdates.date2num(start) - 0.5, mdates.date2num(end) + 0.5)
    ticks = _tick_days(points, start, end)
    axes.set_xticks(
        [mdates.date2num(day) for day in ticks],
        [say("chart_tick_date", day=day) for day in ticks],
        fontproperties=_font(9),
    )
    for label in axes.get_yticklabels():
        label.set_fontproperties(_font(9))
    axes.grid(True, axis="y", alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", prop=_font(9))


def _draw_official_scores(
    axes: Axes, inspections: Sequence[InspectionRow], say: Any
) -> list[float]:
    """Each inspection of the period at its day and score: the official scores, which alone
    reach the target or fall short of it; each is labelled with its score."""
    if not inspections:
        return []
    days = [mdates.date2num(row.day) for row in inspections]
    scores = [float(row.score) for row in inspections]
    axes.scatter(
        days,
        scores,
        marker="D",
        s=60,
        zorder=3,
        color=[_official_colour(row.score, row.target) for row in inspections],
        label=say("chart_official"),
    )
    for day, score in zip(days, scores, strict=True):
        axes.annotate(
            _number(score),
            (day, score),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontproperties=_font(9),
        )
    return scores


def _official_colour(score: float, target: float | None) -> str:
    reached = reaches(score, target)
    return _OFFICIAL_COLOUR if reached is None else _REACHED_COLOUR if reached else _TARGET_COLOUR


def _period_span(report: Report, points: list[TrendPoint]) -> tuple[dt.date, dt.date]:
    days = [point.first for point in points]
    start = min([report.headline.first, *days])
    end = max([report.headline.last, *days])
    return start, end


def _tick_days(points: list[TrendPoint], start: dt.date, end: dt.date) -> list[dt.date]:
    """The bucket dates, thinned to at most ``MAX_DATE_TICKS``; the period's ends if none."""
    days = sorted({point.first for point in points}) or sorted({start, end})
    step = max(1, math.ceil(len(days) / MAX_DATE_TICKS))
    return days[::step]


# --- the ranking ----------------------------------------------------------------------------


def _draw_ranking(axes: Axes, report: Report, say: Any) -> None:
    axes.set_title(say("chart_ranking_title"), fontproperties=_font(12))
    axes.set_xlabel(say("chart_ranking_axis"), fontproperties=_font(10))
    if not report.units:
        _no_data(axes, say)
        axes.set_yticks([])
        axes.set_xticks([])
        return

    rows = _ranking_rows(report.units)
    top = {unit.unit_id for unit in report.top_units}
    bottom = {unit.unit_id for unit in report.bottom_units}
    positions = list(range(len(rows)))
    labels: list[str] = []
    values: list[float] = []
    colours: list[str] = []
    for row in rows:
        if isinstance(row, int):
            labels.append(say("chart_ranking_more", count=row))
            values.append(0.0)
            colours.append("none")
            continue
        rank, unit = row
        labels.append(say("chart_ranking_bar", rank=rank, name=fit_name(unit.name)))
        values.append(unit.per_member)
        colours.append(
            _TOP_COLOUR
            if unit.unit_id in top
            else _BOTTOM_COLOUR
            if unit.unit_id in bottom
            else _OTHER_COLOUR
        )
    bars = axes.barh(positions, values, color=colours, height=0.7)
    axes.set_yticks(positions, labels, fontproperties=_font(_label_size(len(rows))))
    axes.invert_yaxis()  # the best unit at the top
    axes.set_ylim(len(rows) - 0.5, -0.5)
    highest = max(values)
    axes.set_xlim(min(0.0, min(values)) * 1.15, (highest if highest > 0 else 1.0) * 1.18)
    target = report.standing.target if report.standing else report.headline.target
    for bar, row, value in zip(bars, rows, values, strict=True):
        if isinstance(row, int):
            continue
        _, unit = row
        axes.annotate(
            _number(value),
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3 if value >= 0 else -3, 0),
            textcoords="offset points",
            ha="left" if value >= 0 else "right",
            va="center",
            fontproperties=_font(8),
        )
        if unit.official is not None:  # the unit's official score, coloured by the target
            axes.annotate(
                say("chart_ranking_official", score=unit.official.score),
                (0, bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                color=_official_colour(unit.official.score, target),
                fontproperties=_font(8),
                bbox={
                    "boxstyle": "round,pad=0.2",
                    "linewidth": 1,
                    "facecolor": "white",
                    "edgecolor": _official_colour(unit.official.score, target),
                },
            )
    for label in axes.get_xticklabels():
        label.set_fontproperties(_font(9))
    axes.grid(True, axis="x", alpha=0.3)


def _ranking_rows(units: Sequence[UnitLine]) -> list[tuple[int, UnitLine] | int]:
    """Ranked units; past ``MAX_BARS`` the first and last ones around a row counting the rest."""
    ranked: list[tuple[int, UnitLine]] = list(enumerate(units, start=1))
    if len(ranked) <= MAX_BARS:
        return list(ranked)
    head = (MAX_BARS - 1) // 2 + (MAX_BARS - 1) % 2
    tail = MAX_BARS - 1 - head
    return [*ranked[:head], len(ranked) - head - tail, *ranked[-tail:]]


def _label_size(rows: int) -> float:
    return 10.0 if rows <= 8 else 8.0 if rows <= 12 else 7.0


def fit_name(name: str) -> str:
    """A unit's name on at most ``LABEL_LINES`` lines of ``LABEL_WIDTH`` columns, broken between
    words (a Chinese name between characters); only a name longer than that is cut, with "…"."""
    pieces: list[str] = []
    for word in re.findall(r"\S+\s*", name.strip()):
        pieces += list(word) if _columns(word.rstrip()) > LABEL_WIDTH else [word]
    lines = [""]
    for piece in pieces:
        if lines[-1] and _columns((lines[-1] + piece).rstrip()) > LABEL_WIDTH:
            lines.append("")
        lines[-1] += piece
    lines = [line.rstrip() for line in lines]
    if len(lines) > LABEL_LINES:
        last = lines[LABEL_LINES - 1]
        while last and _columns(last) + 1 > LABEL_WIDTH:
            last = last[:-1]
        lines = [*lines[: LABEL_LINES - 1], last.rstrip() + "…"]
    return "\n".join(lines)


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _no_data(axes: Axes, say: Any) -> None:
    axes.text(
        0.5,
        0.5,
        say("chart_no_data"),
        transform=axes.transAxes,
        ha="center",
        va="center",
        color="#888888",
        fontproperties=_font(14),
    )
