"""``uplift report``: the very replies /report gives, written to files from the command line."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from handlers.reports import unit_report
from handlers.shared.calendar import local_date, local_time
from kernel import Audience, Refusal, Text
from messages import Renderer
from messages.reports.model import Report
from storage.database import Database
from storage.models import Stage, Unit
from storage.store import Store


class ReportError(Exception):
    """Why the report cannot be made: a template name under cli/ and its data."""

    def __init__(self, template: str, **data: object) -> None:
        super().__init__(template)
        self.template = template
        self.data = data


@dataclass(frozen=True)
class ReportFiles:
    summary: str
    paths: list[Path]


async def write_report(
    database: Database,
    *,
    unit_name: str | None,
    period: str,
    out: Path,
    locale: str,
    now: dt.datetime,
    ledger: bool = False,
    max_rows: int | None = None,
) -> ReportFiles:
    """The summary, chart and workbook of the report, and with ``ledger`` every ledger row too:
    in a sheet of the workbook, or beside it as ``<stem>-ledger.csv.gz`` when there are more
    than a sheet holds (``max_rows``: Excel's limit unless a test says otherwise)."""
    renderer = Renderer()
    async with database.store() as store:
        unit = await _find_unit(store, unit_name)
        period, now = await _chosen_period(store, unit, period, now, locale)

        def ledger_csv(report: Report) -> Path:
            path = _ledger_path(_stem(out, unit, report.headline.first, report.headline.last))
            out.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # an earlier run's: listed only if written again
            return path

        try:
            text, files = await unit_report(
                store,
                unit,
                period,
                locale,
                now,
                Audience.CHAT,
                full_ledger=ledger_csv if ledger else None,
                max_rows=max_rows,
            )
        except Refusal as refusal:
            if refusal.template == "reports/bad_period":
                raise ReportError("report_bad_period", given=period) from None
            raise ReportError("report_no_campaign") from None
    # The very replies /report gives in a chat: the summary, then the chart and the ledger.
    assert text.text is not None and files.image is not None and files.file is not None
    summary = renderer.render(text.text, locale)
    out.mkdir(parents=True, exist_ok=True)
    period_dates = Path(files.image.filename).stem.removeprefix("report-")
    stem = out / f"report-{unit.key}-{period_dates}"
    contents = {
        ".txt": summary.encode("utf-8"),
        ".png": files.image.content,
        ".xlsx": files.file.content,
    }
    paths = []
    for suffix, content in contents.items():
        path = stem.with_suffix(suffix)
        path.write_bytes(content)
        paths.append(path)
    beside = _ledger_path(stem)
    if ledger and beside.exists():
        paths.append(beside)
    return ReportFiles(summary, paths)


def _stem(out: Path, unit: Unit, first: dt.date, last: dt.date) -> Path:
    return out / f"report-{unit.key}-{first.isoformat()}-{last.isoformat()}"


def _ledger_path(stem: Path) -> Path:
    return stem.with_name(f"{stem.name}-ledger.csv.gz")


async def _chosen_period(
    store: Store, unit: Unit, period: str, now: dt.datetime, locale: str
) -> tuple[str, dt.datetime]:
    """The period to report and the moment to report it at.

    A stage named by its key or name is its whole stretch, as of its last day (or now, while it
    runs). With no period: the stage running today; when none runs today (before the campaign,
    between stages, or a demo's data in another year), which stages there are to choose from,
    rather than a month of zeros."""
    today = local_date(unit, now)
    campaign = await store.campaigns.current(unit.organisation_id, today)
    if campaign is None:
        return period, now  # the report itself says there is no campaign
    stages = await store.campaigns.stages(campaign.id)
    if period.strip():
        stage = _stage_named(stages, period)
        return ("", _during(unit, stage, now)) if stage else (period, now)
    if any(s.starts_on <= today <= s.ends_on for s in stages):
        return period, now
    raise ReportError(
        "report_no_stage",
        campaign=campaign.title_zh if locale == "zh" else campaign.title_en,
        today=today,
        stages=[
            Text(
                "cli/report_stage",
                {
                    "key": s.key,
                    "name": s.name_zh if locale == "zh" else s.name_en,
                    "first": s.starts_on,
                    "last": s.ends_on,
                },
            )
            for s in stages
        ],
    )


def _stage_named(stages: list[Stage], text: str) -> Stage | None:
    wanted = text.strip().casefold()
    return next(
        (
            s
            for s in stages
            if wanted in (s.key.casefold(), s.name_zh.casefold(), s.name_en.casefold())
        ),
        None,
    )


def _during(unit: Unit, stage: Stage, now: dt.datetime) -> dt.datetime:
    """Now while the stage runs; else the end of its last day, the moment its figures stand."""
    first = local_time(unit, stage.starts_on, "00:00")
    last = local_time(unit, stage.ends_on, "23:59")
    return now if first <= now <= last else last


async def _find_unit(store: Store, name: str | None) -> Unit:
    """The unit named (key or name), or the whole organisation when there is only one root."""
    organisations = await store.units.organisations()
    units = [
        u
        for organisation in organisations
        for u in await store.units.of_organisation(organisation.id)
    ]
    if not units:
        raise ReportError("report_no_campaign")
    if name is None:
        roots = [u for u in units if u.parent_id is None]
        if len(roots) != 1:
            raise ReportError("report_which_unit", units=", ".join(u.key for u in roots))
        return roots[0]
    folded = name.casefold()
    found = [
        u for u in units if folded in (u.key.casefold(), u.name_zh.casefold(), u.name_en.casefold())
    ]
    if len(found) != 1:
        raise ReportError("report_unknown_unit", given=name, units=", ".join(u.key for u in units))
    return found[0]
